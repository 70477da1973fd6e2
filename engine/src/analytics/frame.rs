//! Building output columns from plain vectors, in the types of [`crate::contracts::OutType`].

use polars::prelude::*;

use crate::contracts::{MONEY_PRECISION, MONEY_SCALE, TableContract};
use crate::error::{EngineError, Result};

/// `DECIMAL(18,2)` from cents.
pub fn money(name: &str, cents: impl IntoIterator<Item = i64>) -> Column {
    Int128Chunked::from_iter_values(name.into(), cents.into_iter().map(i128::from))
        .into_decimal_unchecked(MONEY_PRECISION, MONEY_SCALE)
        .into_column()
}

/// Nullable `DECIMAL(18,2)` from cents.
pub fn money_opt(name: &str, cents: impl IntoIterator<Item = Option<i64>>) -> Column {
    Int128Chunked::from_iter_options(name.into(), cents.into_iter().map(|v| v.map(i128::from)))
        .into_decimal_unchecked(MONEY_PRECISION, MONEY_SCALE)
        .into_column()
}

/// `DATE` from epoch days.
pub fn date(name: &str, days: impl IntoIterator<Item = i32>) -> Column {
    Int32Chunked::from_iter_values(name.into(), days.into_iter()).into_date().into_column()
}

/// Nullable `DATE` from epoch days.
pub fn date_opt(name: &str, days: impl IntoIterator<Item = Option<i32>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), days.into_iter()).into_date().into_column()
}

/// Text.
pub fn text<S: AsRef<str>>(name: &str, values: impl IntoIterator<Item = S>) -> Column {
    StringChunked::from_iter_values(name.into(), values.into_iter()).into_column()
}

/// Nullable text.
pub fn text_opt<'a>(name: &str, values: impl IntoIterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values.into_iter()).into_column()
}

/// Counts.
pub fn count(name: &str, values: impl IntoIterator<Item = u64>) -> Column {
    UInt64Chunked::from_iter_values(name.into(), values.into_iter()).into_column()
}

/// Nullable counts.
pub fn count_opt(name: &str, values: impl IntoIterator<Item = Option<u64>>) -> Column {
    UInt64Chunked::from_iter_options(name.into(), values.into_iter()).into_column()
}

/// Signed integers (days).
pub fn int(name: &str, values: impl IntoIterator<Item = i64>) -> Column {
    Int64Chunked::from_iter_values(name.into(), values.into_iter()).into_column()
}

/// Nullable signed integers.
pub fn int_opt(name: &str, values: impl IntoIterator<Item = Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter()).into_column()
}

/// Nullable floats.
pub fn float_opt(name: &str, values: impl IntoIterator<Item = Option<f64>>) -> Column {
    Float64Chunked::from_iter_options(name.into(), values.into_iter()).into_column()
}

/// Booleans.
pub fn boolean(name: &str, values: impl IntoIterator<Item = bool>) -> Column {
    BooleanChunked::from_iter_values(name.into(), values.into_iter()).into_column()
}

/// Nullable booleans.
pub fn boolean_opt(name: &str, values: impl IntoIterator<Item = Option<bool>>) -> Column {
    BooleanChunked::from_iter_options(name.into(), values.into_iter()).into_column()
}

/// A frame from columns, checked against the file columns of its contract.
pub fn frame(contract: &TableContract, columns: Vec<Column>) -> Result<DataFrame> {
    let height = columns.first().map_or(0, Column::len);
    let df = DataFrame::new(height, columns).map_err(EngineError::polars(format!("building `{}`", contract.name)))?;
    let expected: Vec<(&str, DataType)> = contract.file_columns().map(|c| (c.name.as_ref(), c.ty.dtype())).collect();
    let actual: Vec<(&str, DataType)> = df.columns().iter().map(|c| (c.name().as_str(), c.dtype().clone())).collect();
    if expected != actual {
        return Err(EngineError::Polars {
            context: format!("table `{}` does not match its contract", contract.name),
            error: PolarsError::SchemaMismatch(format!("expected {expected:?}, got {actual:?}").into()),
        });
    }
    Ok(df)
}

/// `numerator / denominator`, or null when the denominator is zero.
pub fn ratio(numerator: i128, denominator: i128) -> Option<f64> {
    (denominator != 0).then(|| numerator as f64 / denominator as f64)
}

/// Row ranges of the parts a table of `n` rows is handed out in (see
/// [`crate::sink::PART_ROWS`]); one empty range when `n` is 0, so an empty table still
/// arrives.
pub fn part_ranges(n: usize) -> Vec<std::ops::Range<usize>> {
    let size = crate::sink::PART_ROWS;
    (0..n.div_ceil(size).max(1)).map(|i| (i * size).min(n)..((i + 1) * size).min(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::part_ranges;
    use crate::sink::PART_ROWS;

    #[test]
    fn parts_cover_every_row_once_and_an_empty_table_still_has_one() {
        let single = |n: usize| {
            let parts = part_ranges(n);
            parts.len() == 1 && parts[0].start == 0 && parts[0].end == n
        };
        assert!(single(0) && single(5) && single(PART_ROWS));
        let n = 2 * PART_ROWS + 7;
        let parts = part_ranges(n);
        assert_eq!(parts, [0..PART_ROWS, PART_ROWS..2 * PART_ROWS, 2 * PART_ROWS..n]);
    }
}
