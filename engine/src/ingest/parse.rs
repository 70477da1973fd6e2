//! Value parsers for export text: dates in a configured format, exact decimals in a locale's
//! notation, true/false spellings. All of them are total: they return `None` (or an error
//! value) instead of panicking, so that a bad value becomes a quarantined row.

use chrono::NaiveDate;

use crate::calendar::epoch_days;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Field(Field),
    Literal(u8),
}

/// A date parser for one strftime-style format.
///
/// Formats made only of `%Y`, `%m`, `%d` and literal ASCII separators (the shapes ERPs export:
/// `%Y-%m-%d`, `%d/%m/%Y`, `%m/%d/%Y`, `%d.%m.%Y`, `%Y%m%d`) take a byte-level fast path;
/// anything else goes through chrono.
#[derive(Debug, Clone)]
pub struct DateParser {
    format: String,
    fast: Option<Vec<Token>>,
    /// `date_format = "excel"`: serial day numbers of spreadsheets.
    excel: bool,
}

/// The `date_format` of spreadsheet serial day numbers (`45292` is 2024-01-01; day 0 is
/// 1899-12-30, the convention of Excel's 1900 date system after its leap-year bug).
pub const EXCEL_SERIAL: &str = "excel";

/// Days between 1899-12-30 (serial day 0) and 1970-01-01.
const EXCEL_EPOCH_OFFSET: i64 = 25_569;

/// A spreadsheet serial day number (`45292`, `45292.0`, or with a time fraction
/// `45292.5`, whose date is the whole part) as days since 1970-01-01.
fn parse_excel_serial(s: &str) -> Option<i32> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let serial: i64 = whole.parse().ok()?;
    // 1 (1900-01-01) .. 2958465 (9999-12-31): Excel's own range.
    if !(1..=2_958_465).contains(&serial) {
        return None;
    }
    i32::try_from(serial - EXCEL_EPOCH_OFFSET).ok()
}

/// An OData v2 JSON date (`/Date(1743552000000)/`, milliseconds since 1970-01-01 UTC, with
/// an optional `+0000` offset that does not move the date SAP means) as days since the epoch.
fn parse_odata_date(s: &str) -> Option<i32> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let millis = match inner.get(1..).and_then(|rest| rest.find(['+', '-']).map(|i| i + 1)) {
        Some(cut) => &inner[..cut],
        None => inner,
    };
    let millis: i64 = millis.parse().ok()?;
    i32::try_from(millis.div_euclid(86_400_000)).ok()
}

/// The date part of an ISO-style timestamp: the text before a `T` or a space that is followed
/// by a time (`HH:MM`). `None` when `s` is not a timestamp.
fn date_part_of_timestamp(s: &str) -> Option<&str> {
    let cut = s.find(['T', ' '])?;
    let time = s.as_bytes().get(cut + 1..cut + 6)?;
    let looks_like_time =
        time[..2].iter().all(u8::is_ascii_digit) && time[2] == b':' && time[3..].iter().all(u8::is_ascii_digit);
    (cut > 0 && looks_like_time).then(|| &s[..cut])
}

/// The dates ardent reads: years 1000 to 9999 (four digits, as every format writes them); a
/// value outside them (an OData timestamp of year −2, say) is not a date of the books.
const FIRST_DAY: i32 = -354_285; // 1000-01-01
const LAST_DAY: i32 = 2_932_896; // 9999-12-31

impl DateParser {
    /// Build a parser; fails with a readable message when the format is not a date format.
    pub fn new(format: &str) -> Result<Self, String> {
        use chrono::format::{Item, StrftimeItems};
        if format == EXCEL_SERIAL {
            return Ok(DateParser { format: format.to_string(), fast: None, excel: true });
        }
        let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
        if items.iter().any(|i| matches!(i, Item::Error)) {
            return Err(format!("`{format}` is not a valid strftime format"));
        }
        // Prove that the format round-trips a date, so that a format without a day or year
        // is caught in config checking rather than as millions of quarantined rows.
        let probe = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        // A field a date does not have (`%H`, `%Z`) fails to format: not a date format.
        let mut text = String::new();
        if std::fmt::Write::write_fmt(&mut text, format_args!("{}", probe.format(format))).is_err() {
            return Err(format!(
                "`{format}` asks for a time or a zone, which a date does not have; use a date format (e.g. %Y-%m-%d)"
            ));
        }
        if NaiveDate::parse_from_str(&text, format).ok() != Some(probe) {
            return Err(format!(
                "`{format}` does not identify a calendar date (it needs a year, a month and a day, e.g. %Y-%m-%d)"
            ));
        }
        Ok(DateParser { format: format.to_string(), fast: compile_fast(format), excel: false })
    }

    /// The strftime format.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// Parse one value to days since the epoch, `None` if it is not a date in this format.
    pub fn parse(&self, s: &str) -> Option<i32> {
        let s = s.trim();
        if self.excel {
            return parse_excel_serial(s);
        }
        let parsed = match &self.fast {
            Some(tokens) => parse_fast(tokens, s.as_bytes()).map(epoch_days),
            None => NaiveDate::parse_from_str(s, &self.format).ok().map(epoch_days),
        };
        // A timestamp whose date part is in this format (`2025-04-02T00:00:00.000Z`,
        // `2025-04-02 13:05:00+02:00`): the date as written, in the timestamp's own offset.
        parsed
            .or_else(|| self.parse(date_part_of_timestamp(s)?))
            .or_else(|| parse_odata_date(s))
            .or_else(|| self.iso_fallback(s))
            .filter(|d| (FIRST_DAY..=LAST_DAY).contains(d))
    }

    /// An ISO date (`2025-01-31`) under another format: what spreadsheet date cells and APIs
    /// write. A four-digit year first cannot be read as a day or month, so accepting it never
    /// changes what a value in the configured format means.
    fn iso_fallback(&self, s: &str) -> Option<i32> {
        const ISO: [Token; 5] = [
            Token::Field(Field::Year),
            Token::Literal(b'-'),
            Token::Field(Field::Month),
            Token::Literal(b'-'),
            Token::Field(Field::Day),
        ];
        (self.format != "%Y-%m-%d" && s.len() == 10).then(|| parse_fast(&ISO, s.as_bytes()).map(epoch_days)).flatten()
    }
}

fn compile_fast(format: &str) -> Option<Vec<Token>> {
    let bytes = format.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let field = match bytes.get(i + 1)? {
                    b'Y' => Field::Year,
                    b'm' => Field::Month,
                    b'd' => Field::Day,
                    _ => return None,
                };
                tokens.push(Token::Field(field));
                i += 2;
            }
            b if b.is_ascii() && !b.is_ascii_alphanumeric() => {
                tokens.push(Token::Literal(b));
                i += 1;
            }
            _ => return None,
        }
    }
    Some(tokens)
}

fn parse_fast(tokens: &[Token], s: &[u8]) -> Option<NaiveDate> {
    let (mut y, mut m, mut d) = (None, None, None);
    let mut pos = 0;
    for (k, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(c) => {
                if s.get(pos) != Some(c) {
                    return None;
                }
                pos += 1;
            }
            Token::Field(field) => {
                // Fields next to each other (%Y%m%d) have fixed widths; separated ones may be
                // unpadded (1/2/2025).
                let glued = matches!(tokens.get(k + 1), Some(Token::Field(_)));
                let (min, max) = match (field, glued) {
                    (Field::Year, _) => (4, 4),
                    (_, true) => (2, 2),
                    (_, false) => (1, 2),
                };
                let mut value: u32 = 0;
                let mut n = 0;
                while n < max {
                    match s.get(pos) {
                        Some(b) if b.is_ascii_digit() => {
                            value = value * 10 + u32::from(b - b'0');
                            pos += 1;
                            n += 1;
                        }
                        _ => break,
                    }
                }
                if n < min {
                    return None;
                }
                match field {
                    Field::Year => y = Some(value as i32),
                    Field::Month => m = Some(value),
                    Field::Day => d = Some(value),
                }
            }
        }
    }
    if pos != s.len() {
        return None;
    }
    NaiveDate::from_ymd_opt(y?, m?, d?)
}

/// Date formats tried when a whole column fails, to suggest the right `date_format`.
pub const COMMON_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%m-%d-%Y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%b %d, %Y",
];

/// Why a decimal could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a number in the configured notation.
    Syntax,
    /// More decimal places than the scale keeps (and they are not zeros).
    Precision,
    /// Does not fit `DECIMAL(18, scale)`.
    Overflow,
}

/// How numbers are written in an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    /// `.` or `,`.
    pub decimal: u8,
    /// Thousands grouping character, if any (`,`, `.`, `'`, space).
    pub thousands: Option<u8>,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat { decimal: b'.', thousands: None }
    }
}

/// Currency symbols written around amounts.
const CURRENCY_SYMBOLS: &[&str] = &["$", "€", "£", "¥", "₹", "₩", "₪", "₺", "₽", "R$", "US$", "A$", "C$", "CHF", "kr"];

/// Take off what surrounds the digits of an amount: one sign (leading `-`/`+`, trailing `-`
/// as SAP writes it, or accounting parentheses) and a currency symbol or ISO code before or
/// after the number (`$1,234.56`, `-$1,234.56`, `($1,234.56)`, `1.234,56- EUR`, `EUR 12`).
/// Two signs (`-(5)`, `--5`) are a syntax error, never a guess.
fn strip_sign_and_currency(mut b: &[u8]) -> Result<(&[u8], bool), DecimalError> {
    // The common case, digits at both ends, needs none of this.
    if b.first().is_some_and(u8::is_ascii_digit) && b.last().is_some_and(u8::is_ascii_digit) {
        return Ok((b, false));
    }
    let mut signs = 0;
    let mut negative = false;
    let mut currency = false;
    loop {
        let before = b.len();
        b = b.trim_ascii();
        if b.len() >= 2 && b[0] == b'(' && b[b.len() - 1] == b')' {
            signs += 1;
            negative = true;
            b = &b[1..b.len() - 1];
        }
        match (b.first(), b.last()) {
            (Some(b'-'), _) => {
                signs += 1;
                negative = true;
                b = &b[1..];
            }
            (Some(b'+'), _) => {
                signs += 1;
                b = &b[1..];
            }
            (_, Some(b'-')) if b.len() > 1 => {
                signs += 1;
                negative = true;
                b = &b[..b.len() - 1];
            }
            _ => {}
        }
        if !currency && let Some(rest) = strip_currency(b) {
            currency = true;
            b = rest;
        }
        if b.len() == before {
            break;
        }
    }
    if signs > 1 { Err(DecimalError::Syntax) } else { Ok((b, negative)) }
}

/// `b` without a currency symbol or a three-letter ISO code at its start or end.
fn strip_currency(b: &[u8]) -> Option<&[u8]> {
    for symbol in CURRENCY_SYMBOLS {
        let sym = symbol.as_bytes();
        if let Some(rest) = b.strip_prefix(sym) {
            return Some(rest);
        }
        if let Some(rest) = b.strip_suffix(sym) {
            return Some(rest);
        }
    }
    let code = |c: &[u8]| c.len() == 3 && c.iter().all(u8::is_ascii_uppercase);
    if b.len() > 4 && code(&b[..3]) && b[3] == b' ' {
        return Some(&b[4..]);
    }
    if b.len() > 4 && code(&b[b.len() - 3..]) && b[b.len() - 4] == b' ' {
        return Some(&b[..b.len() - 4]);
    }
    None
}

/// Largest magnitude of a `DECIMAL(18, s)` value in units of its last digit.
pub const DECIMAL18_MAX: i128 = 999_999_999_999_999_999;

impl NumberFormat {
    /// Parse a decimal exactly into an integer of `10^-scale` units.
    ///
    /// Accepts an optional sign, accounting negatives in parentheses `(12.50)`, grouping
    /// characters in the integer part, and surrounding spaces. Extra decimal places are
    /// accepted only when they are zeros: rounding money silently is never right.
    pub fn parse_scaled(&self, s: &str, scale: u32) -> Result<i128, DecimalError> {
        let (b, negative) = strip_sign_and_currency(s.trim().as_bytes())?;
        let mut units: i128 = 0;
        let mut int_digits = 0usize;
        let mut frac_digits = 0u32;
        let mut in_frac = false;
        let mut last_was_group = false;
        for &c in b {
            if c.is_ascii_digit() {
                let digit = i128::from(c - b'0');
                if in_frac {
                    if frac_digits >= scale {
                        if digit != 0 {
                            return Err(DecimalError::Precision);
                        }
                        continue;
                    }
                    frac_digits += 1;
                } else {
                    int_digits += 1;
                }
                units = units * 10 + digit;
                if units > DECIMAL18_MAX * 10 {
                    return Err(DecimalError::Overflow);
                }
                last_was_group = false;
            } else if c == self.decimal && !in_frac {
                if last_was_group {
                    return Err(DecimalError::Syntax);
                }
                in_frac = true;
            } else if Some(c) == self.thousands && !in_frac && int_digits > 0 && !last_was_group {
                last_was_group = true;
            } else {
                return Err(DecimalError::Syntax);
            }
        }
        if int_digits == 0 && frac_digits == 0 || last_was_group {
            return Err(DecimalError::Syntax);
        }
        units *= 10i128.pow(scale - frac_digits);
        if units > DECIMAL18_MAX {
            return Err(DecimalError::Overflow);
        }
        Ok(if negative { -units } else { units })
    }

    /// Parse a plain number (scores) in this notation.
    pub fn parse_f64(&self, s: &str) -> Option<f64> {
        let cleaned: String = s
            .trim()
            .bytes()
            .filter(|&c| Some(c) != self.thousands)
            .map(|c| if c == self.decimal { '.' } else { c as char })
            .collect();
        cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
    }
}

/// True/false spellings of an export, compared case-insensitively.
#[derive(Debug, Clone)]
pub struct BoolSpellings {
    pub true_values: Vec<String>,
    pub false_values: Vec<String>,
}

impl BoolSpellings {
    /// Parse one value.
    pub fn parse(&self, s: &str) -> Option<bool> {
        let s = s.trim();
        if self.true_values.iter().any(|t| t.eq_ignore_ascii_case(s)) {
            Some(true)
        } else if self.false_values.iter().any(|f| f.eq_ignore_ascii_case(s)) {
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::from_epoch_days;

    fn ymd(y: i32, m: u32, d: u32) -> i32 {
        epoch_days(NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
    }

    #[test]
    fn fast_date_formats_match_chrono() {
        for (fmt, text, expected) in [
            ("%Y-%m-%d", "2024-02-29", Some(ymd(2024, 2, 29))),
            ("%Y-%m-%d", "2023-02-29", None),
            ("%d/%m/%Y", "31/12/2025", Some(ymd(2025, 12, 31))),
            ("%m/%d/%Y", "12/31/2025", Some(ymd(2025, 12, 31))),
            ("%m/%d/%Y", "1/2/2025", Some(ymd(2025, 1, 2))),
            ("%d.%m.%Y", "31.12.2025", Some(ymd(2025, 12, 31))),
            ("%Y%m%d", "20251231", Some(ymd(2025, 12, 31))),
            ("%Y-%m-%d", "31/12/2025", None),
            ("%Y-%m-%d", "2025-12-31x", None),
            ("%Y-%m-%d", "", None),
            ("%d %b %Y", "05 Mar 2025", Some(ymd(2025, 3, 5))),
        ] {
            let parser = DateParser::new(fmt).expect("valid format");
            assert_eq!(parser.parse(text), expected, "{fmt} on {text:?}");
        }
        assert_eq!(from_epoch_days(ymd(2024, 2, 29)), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default());
    }

    #[test]
    fn date_format_without_a_day_is_rejected() {
        assert!(DateParser::new("%Y-%m").is_err());
        assert!(DateParser::new("%Q").is_err());
    }

    /// Found by fuzzing (`pipelines/examples/fuzz.rs`): a format with a time field panicked
    /// while it was checked, and an OData timestamp of year −2 read as a date.
    #[test]
    fn time_formats_are_refused_and_dates_outside_four_digit_years_are_not_dates() {
        let err = DateParser::new("%d.%m.%HY").err().unwrap_or_default();
        assert!(err.contains("a time or a zone"), "{err}");
        assert!(DateParser::new("%Y-%m-%d %Z").is_err());
        let iso = DateParser::new("%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(iso.parse("/Date(-62200000000000)/"), None);
        assert_eq!(iso.parse("0999-12-31"), None);
        assert_eq!(iso.parse("1000-01-01"), Some(-354_285));
        assert_eq!(iso.parse("9999-12-31"), Some(2_932_896));
    }

    #[test]
    fn decimals_parse_exactly_in_every_notation() {
        let us = NumberFormat { decimal: b'.', thousands: Some(b',') };
        let de = NumberFormat { decimal: b',', thousands: Some(b'.') };
        assert_eq!(us.parse_scaled("1,234.56", 2), Ok(123_456));
        assert_eq!(us.parse_scaled(" 7 ", 2), Ok(700));
        assert_eq!(us.parse_scaled("0.1", 2), Ok(10));
        assert_eq!(us.parse_scaled("(12.50)", 2), Ok(-1250));
        assert_eq!(us.parse_scaled("-3", 2), Ok(-300));
        assert_eq!(us.parse_scaled("1.230", 2), Ok(123));
        assert_eq!(us.parse_scaled("1.234", 2), Err(DecimalError::Precision));
        assert_eq!(us.parse_scaled("12a", 2), Err(DecimalError::Syntax));
        assert_eq!(us.parse_scaled("", 2), Err(DecimalError::Syntax));
        assert_eq!(us.parse_scaled("1,", 2), Err(DecimalError::Syntax));
        assert_eq!(us.parse_scaled("1.2.3", 2), Err(DecimalError::Syntax));
        assert_eq!(de.parse_scaled("1.234,56", 2), Ok(123_456));
        assert_eq!(de.parse_scaled("1234,5", 2), Ok(123_450));
        assert_eq!(us.parse_scaled("99999999999999999999", 2), Err(DecimalError::Overflow));
        assert_eq!(us.parse_scaled("1.0850000000", 10), Ok(10_850_000_000));
    }

    #[test]
    fn report_and_erp_money_forms_parse_exactly() {
        let us = NumberFormat { decimal: b'.', thousands: Some(b',') };
        let de = NumberFormat { decimal: b',', thousands: Some(b'.') };
        for (fmt, text, expected) in [
            (us, "$1,234.56", Ok(123_456)),
            (us, "-$1,234.56", Ok(-123_456)),
            (us, "$-1,234.56", Ok(-123_456)),
            (us, "($1,234.56)", Ok(-123_456)),
            (us, "USD 12.00", Ok(1200)),
            (us, "12.00 USD", Ok(1200)),
            (us, "R$ 5", Ok(500)),
            (de, "1.234,56-", Ok(-123_456)),
            (de, "1.234,56 €", Ok(123_456)),
            (de, "1.234,56- EUR", Ok(-123_456)),
            (de, "€ -7,5", Ok(-750)),
            (us, "--5", Err(DecimalError::Syntax)),
            (us, "-(5)", Err(DecimalError::Syntax)),
            (us, "5--", Err(DecimalError::Syntax)),
            (us, "-", Err(DecimalError::Syntax)),
            (us, "$", Err(DecimalError::Syntax)),
            (us, "$$5", Err(DecimalError::Syntax)),
            (us, "usd 5", Err(DecimalError::Syntax)),
        ] {
            assert_eq!(fmt.parse_scaled(text, 2), expected, "{text:?}");
        }
    }

    #[test]
    fn timestamps_and_spreadsheet_serials_give_their_date() {
        let iso = DateParser::new("%Y-%m-%d").expect("valid");
        assert_eq!(iso.parse("2025-04-02T00:00:00.000Z"), Some(ymd(2025, 4, 2)));
        assert_eq!(iso.parse("2025-04-02T23:30:00+05:30"), Some(ymd(2025, 4, 2)));
        assert_eq!(iso.parse("2025-04-02 13:05:00"), Some(ymd(2025, 4, 2)));
        assert_eq!(iso.parse("2025-04-02Tnoon"), None);
        assert_eq!(iso.parse("2025-04-02 x"), None);
        let de = DateParser::new("%d.%m.%Y").expect("valid");
        assert_eq!(de.parse("02.04.2025 00:00:00"), Some(ymd(2025, 4, 2)));
        assert_eq!(de.parse("2025-04-02"), Some(ymd(2025, 4, 2)), "ISO dates (spreadsheet cells) under any format");
        assert_eq!(de.parse("2025-13-02"), None);
        let excel = DateParser::new(EXCEL_SERIAL).expect("valid");
        assert_eq!(excel.parse("45292"), Some(ymd(2024, 1, 1)));
        assert_eq!(excel.parse("45292.75"), Some(ymd(2024, 1, 1)));
        assert_eq!(iso.parse("/Date(1743552000000)/"), Some(ymd(2025, 4, 2)));
        assert_eq!(iso.parse("/Date(1743552000000+0000)/"), Some(ymd(2025, 4, 2)));
        assert_eq!(iso.parse("/Date(-86400000)/"), Some(ymd(1969, 12, 31)));
        assert_eq!(iso.parse("/Date(x)/"), None);
        // From 1900-03-01 on, Excel's serials and this convention agree.
        assert_eq!(excel.parse("61"), Some(ymd(1900, 3, 1)));
        assert_eq!(excel.parse("2024-01-01"), None);
        assert_eq!(excel.parse("-3"), None);
        assert_eq!(excel.parse(""), None);
    }

    fn group(digits: &str, sep: char) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn money_text_round_trips_exactly_in_every_locale(cents in -DECIMAL18_MAX as i64..DECIMAL18_MAX as i64, german in proptest::bool::ANY) {
            let (fmt, dec, thou) = if german {
                (NumberFormat { decimal: b',', thousands: Some(b'.') }, ',', '.')
            } else {
                (NumberFormat { decimal: b'.', thousands: Some(b',') }, '.', ',')
            };
            let units = (cents.unsigned_abs() / 100).to_string();
            let text = format!("{}{}{dec}{:02}", if cents < 0 { "-" } else { "" }, group(&units, thou), cents.unsigned_abs() % 100);
            proptest::prop_assert_eq!(fmt.parse_scaled(&text, 2), Ok(i128::from(cents)));
        }
    }
}
