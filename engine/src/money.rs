//! Exact money arithmetic in integer minor units: conversion at a rate and division, rounded
//! half to even, and cents as decimal text. Ingest, FX, cash application and analytics all
//! count money this way, never through floating point.

/// Cents as exact decimal text (`-1234.05`), for messages and JSON.
pub fn format_cents(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

/// Round `value × rate / 10^rate_scale` half to even, in integer arithmetic.
pub fn convert_half_even(value: i128, rate: i128, rate_scale: u32) -> i128 {
    div_half_even(value * rate, 10i128.pow(rate_scale))
}

/// `value × rate / 10^10` rounded half to even, for rates at [`RATE_SCALE`](crate::contracts::RATE_SCALE)
/// 10: the divisor is a constant, so the usual 64-bit case compiles to multiplications
/// instead of a division (aging converts every open amount at every as-of date).
pub fn at_rate_scale_10(value: i64, rate: i128) -> i64 {
    const D: i64 = 10_000_000_000;
    if let Some(p) = i64::try_from(rate).ok().and_then(|r| value.checked_mul(r)) {
        return half_even(p.div_euclid(D), p.rem_euclid(D), D);
    }
    div_half_even(i128::from(value) * rate, i128::from(D)) as i64
}

/// Round `numerator / divisor` half to even, in integer arithmetic; `divisor` > 0.
pub fn div_half_even(numerator: i128, divisor: i128) -> i128 {
    // Most conversions fit 64 bits, where division is one instruction; 128-bit division is a
    // library call (3% of CSV ingest on `m`, once per amount).
    if let (Ok(n), Ok(d)) = (i64::try_from(numerator), i64::try_from(divisor)) {
        return i128::from(half_even(n.div_euclid(d), n.rem_euclid(d), d));
    }
    half_even(numerator.div_euclid(divisor), numerator.rem_euclid(divisor), divisor)
}

/// The quotient rounded half to even, from the floor quotient and its remainder (0 ≤ r < d).
fn half_even<T>(quotient: T, remainder: T, divisor: T) -> T
where
    T: Copy + Ord + std::ops::Sub<Output = T> + std::ops::Add<Output = T> + std::ops::BitAnd<Output = T> + From<u8>,
{
    // `remainder` against `divisor - remainder` rather than `2 × remainder` against the
    // divisor, which could overflow.
    match remainder.cmp(&(divisor - remainder)) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + T::from(1),
        std::cmp::Ordering::Equal => quotient + (quotient & T::from(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_half_to_even() {
        // 1.05 × 0.5 = 0.525 → 0.52; 1.15 × 0.5 = 0.575 → 0.58; negative values mirror.
        assert_eq!(convert_half_even(105, 5_000_000_000, 10), 52);
        assert_eq!(convert_half_even(115, 5_000_000_000, 10), 58);
        assert_eq!(convert_half_even(-105, 5_000_000_000, 10), -52);
        assert_eq!(convert_half_even(10_000, 10_850_000_000, 10), 10_850);
    }

    #[test]
    fn cents_format_exactly() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(123_456_789_012_345_678), "1234567890123456.78");
    }

    proptest::proptest! {
        #[test]
        fn half_even_division_is_the_same_in_64_and_128_bits(n in proptest::num::i64::ANY, d in 1i64..=i64::MAX) {
            // The 128-bit path, written out, against `div_half_even` (64-bit path when both fit).
            let (n128, d128) = (i128::from(n), i128::from(d));
            let (q, r) = (n128.div_euclid(d128), n128.rem_euclid(d128));
            let expected = match (2 * r).cmp(&d128) {
                std::cmp::Ordering::Less => q,
                std::cmp::Ordering::Greater => q + 1,
                std::cmp::Ordering::Equal => q + (q & 1),
            };
            proptest::prop_assert_eq!(div_half_even(n128, d128), expected);
            proptest::prop_assert_eq!(div_half_even(2 * n128 + 1, 2), (2 * n128 + 1).div_euclid(2) + (n128 & 1));
        }

        #[test]
        fn conversion_is_within_half_a_cent_of_the_exact_product(cents in -1_000_000_000_000i64..1_000_000_000_000, rate in 1i64..100_000_000_000_000) {
            let got = convert_half_even(i128::from(cents), i128::from(rate), 10);
            // |got × 10^10 − cents × rate| ≤ 10^10 / 2
            let diff = (got * 10i128.pow(10) - i128::from(cents) * i128::from(rate)).abs();
            proptest::prop_assert!(diff <= 10i128.pow(10) / 2);
        }
    }
}
