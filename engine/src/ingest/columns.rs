//! One export file under validation: [`FileCheck`] reads the canonical columns of a file
//! (text, dates, money, flags) into row vectors, records the first rule each row fails, and
//! turns a column that fails as a whole (every date in the wrong format) into a structural
//! error instead of a quarantine full of rows.

use std::path::Path;

use polars::prelude::*;

use super::options::InputSpec;
use super::parse::{COMMON_DATE_FORMATS, DECIMAL18_MAX, DateParser, DecimalError};
use super::quarantine::{Entry, QuarantineBuilder, Rule};
use super::timestamp::{Stamp, StampError, Zone};
use crate::contracts::MONEY_PRECISION;
use crate::contracts::activity::{Code, Spellings};
use crate::error::{EngineError, Result};

/// A failure recorded on a row: the rule and the canonical column.
pub type Failure = (Rule, &'static str);

/// Names of the columns a source adds to the rows it routes (`__ardent.doc_id`, …); the
/// export's own columns keep their names and are what the quarantine's `raw` shows.
pub const DERIVED_PREFIX: &str = "__ardent.";
/// The 1-based row in the export file of each routed row (routed frames are not contiguous
/// slices of their file).
pub const ROW_COLUMN: &str = "__ardent.row";
/// The rule a routed row already failed in its source (`rule/column`), or null.
pub const FAIL_COLUMN: &str = "__ardent.fail";

/// The 1-based file row of each row of `frame`, when a source routed it.
fn routed_rows(frame: &DataFrame) -> Option<&UInt64Chunked> {
    frame.column(ROW_COLUMN).ok().and_then(|c| c.u64().ok())
}

/// Validation state of one file.
pub struct FileCheck<'a> {
    pub spec: &'a InputSpec,
    pub path: &'a Path,
    /// The file name as written to outputs.
    pub file: String,
    pub frame: &'a DataFrame,
    pub verdict: Vec<Option<Failure>>,
    /// Extra detail for a row's message (for example the rate date that was missing).
    pub detail: foldhash::HashMap<usize, String>,
    /// Row number in the file of the frame's first row, minus one (frames are slices of a
    /// file).
    pub first_row: usize,
    /// For rows a source routed: the export file as read, whose row (`__ardent.row`) the
    /// quarantine's `raw` shows.
    pub raw: Option<Raw<'a>>,
}

impl std::fmt::Debug for FileCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCheck").field("file", &self.file).field("rows", &self.frame.height()).finish()
    }
}

/// Trimmed text, `None` when empty.
#[inline]
pub fn clean(s: Option<&str>) -> Option<&str> {
    let s = s?;
    match (s.as_bytes().first(), s.as_bytes().last()) {
        // Most values need no trimming: skip the Unicode-aware trim when both ends are
        // visible ASCII.
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => Some(s),
        _ => Some(s.trim()).filter(|t| !t.is_empty()),
    }
}

impl<'a> FileCheck<'a> {
    /// Start checking `frame`, read from `path`; fails when a required column is missing.
    pub fn new(spec: &'a InputSpec, path: &'a Path, file: String, frame: &'a DataFrame) -> Result<Self> {
        for c in spec.kind.columns().iter().filter(|c| c.required) {
            let source = spec.source(c.name);
            if frame.column(source).is_err() {
                let names: Vec<String> = frame
                    .get_column_names()
                    .iter()
                    .filter(|n| !n.starts_with(DERIVED_PREFIX))
                    .map(|n| n.to_string())
                    .collect();
                if let Some(hint) = super::read::delimiter_hint(&names, spec.delimiter, &spec.key) {
                    return Err(EngineError::ColumnFormat {
                        input: spec.error_name(),
                        path: path.to_path_buf(),
                        column: "(header)".into(),
                        message: hint,
                    });
                }
                return Err(EngineError::MissingColumn {
                    input: spec.error_name(),
                    path: path.to_path_buf(),
                    column: c.name.to_string(),
                    source_column: source.to_string(),
                    available: super::read::column_list(&names),
                });
            }
        }
        let mut verdict = vec![None; frame.height()];
        // Rules a row already failed in its source (a sign, a terms code, a date only the
        // source parses) come first.
        if let Some(failed) = frame.column(FAIL_COLUMN).ok().and_then(|c| c.str().ok()) {
            for (i, f) in failed.iter().enumerate() {
                let Some((rule, column)) = f.and_then(|f| f.split_once('/')) else { continue };
                let column = spec.kind.columns().iter().find(|c| c.name == column).map(|c| c.name);
                if let (Some(rule), Some(column)) = (Rule::parse(rule), column) {
                    verdict[i] = Some((rule, column));
                }
            }
        }
        Ok(FileCheck { spec, path, file, frame, verdict, detail: Default::default(), first_row: 0, raw: None })
    }

    /// Number of rows in the file.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// Record that `row` fails `rule` on `column`, unless it already failed an earlier rule.
    pub fn fail(&mut self, row: usize, rule: Rule, column: &'static str) {
        if self.verdict[row].is_none() {
            self.verdict[row] = Some((rule, column));
        }
    }

    /// The row has not failed any rule so far.
    pub fn ok(&self, row: usize) -> bool {
        self.verdict[row].is_none()
    }

    /// Indices of rows that passed every rule.
    pub fn kept(&self) -> Vec<usize> {
        (0..self.height()).filter(|&i| self.ok(i)).collect()
    }

    fn source(&self, canonical: &str) -> Option<&'a Column> {
        self.frame.column(self.spec.source(canonical)).ok()
    }

    fn format_error(&self, column: &str, message: String) -> EngineError {
        EngineError::ColumnFormat {
            input: self.spec.error_name(),
            path: self.path.to_path_buf(),
            column: match self.spec.shown(column) {
                source if source == column => format!("`{column}`"),
                source => format!("`{column}` (export column `{source}`)"),
            },
            message,
        }
    }

    /// A column as text, `None` when the (optional) column is absent.
    pub fn text_column(&self, canonical: &str) -> Result<Option<StringChunked>> {
        let Some(col) = self.source(canonical) else { return Ok(None) };
        let as_text =
            col.cast(&DataType::String).map_err(EngineError::polars(format!("reading `{canonical}` as text")))?;
        let ca = as_text.str().map_err(EngineError::polars(format!("reading `{canonical}` as text")))?.clone();
        Ok(Some(ca))
    }

    /// Trimmed text values; empty values fail `missing_value` unless the column is nullable.
    pub fn text<'c>(&mut self, ca: Option<&'c StringChunked>, canonical: &'static str, nullable: bool) -> TextCol<'c> {
        let n = self.height();
        let Some(ca) = ca else { return TextCol { source: None, values: vec![None; n], altered: false } };
        let mut altered = false;
        let values: Vec<Option<&str>> = ca
            .iter()
            .map(|v| {
                let c = clean(v);
                altered |= c.map(str::len) != v.map(str::len);
                c
            })
            .collect();
        if !nullable {
            for (i, v) in values.iter().enumerate() {
                if v.is_none() {
                    self.fail(i, Rule::MissingValue, canonical);
                }
            }
        }
        TextCol { source: Some(ca), values, altered }
    }

    /// A text column that is only copied to the output (no row rule reads it): values are
    /// materialised only when cleaning changes one of them.
    pub fn text_output<'c>(&self, ca: Option<&'c StringChunked>) -> TextCol<'c> {
        let Some(ca) = ca else { return TextCol { source: None, values: vec![None; self.height()], altered: false } };
        let altered = ca.iter().any(|v| clean(v).map(str::len) != v.map(str::len));
        let values = if altered { ca.iter().map(clean).collect() } else { Vec::new() };
        TextCol { source: Some(ca), values, altered }
    }

    /// Dates as days since the epoch. Empty values fail `missing_value` unless nullable, bad
    /// ones `invalid_date`; a column where most values fail is a structural error.
    pub fn dates(&mut self, canonical: &'static str, nullable: bool) -> Result<Vec<Option<i32>>> {
        let n = self.height();
        let Some(col) = self.source(canonical) else { return Ok(vec![None; n]) };
        let ctx = || format!("reading dates of `{canonical}`");
        let values: Vec<Option<i32>> = match col.dtype() {
            DataType::Date => col.date().map_err(EngineError::polars(ctx()))?.phys.iter().collect(),
            DataType::Datetime(_, _) => {
                let d = col.cast(&DataType::Date).map_err(EngineError::polars(ctx()))?;
                d.date().map_err(EngineError::polars(ctx()))?.phys.iter().collect()
            }
            _ => {
                let text = self.text_column(canonical)?.unwrap_or_else(|| StringChunked::full_null("".into(), n));
                let parser = &self.spec.date;
                let mut out = Vec::with_capacity(n);
                let mut bad = Vec::new();
                let mut present = 0usize;
                for (i, v) in text.iter().enumerate() {
                    match clean(v) {
                        None => out.push(None),
                        Some(s) => {
                            present += 1;
                            let parsed = parser.parse(s);
                            if parsed.is_none() {
                                bad.push((i, s.to_string()));
                            }
                            out.push(parsed);
                        }
                    }
                }
                if !bad.is_empty() && bad.len() * 2 > present {
                    return Err(self.date_format_error(canonical, parser, &bad, present));
                }
                for (i, _) in bad {
                    self.fail(i, Rule::InvalidDate, canonical);
                }
                // Bad values were recorded first, so the missing-value pass does not re-label them.
                return Ok(self.finish_nulls(out, canonical, nullable));
            }
        };
        Ok(self.finish_nulls(values, canonical, nullable))
    }

    fn finish_nulls<T: Copy>(
        &mut self,
        values: Vec<Option<T>>,
        canonical: &'static str,
        nullable: bool,
    ) -> Vec<Option<T>> {
        if !nullable {
            for (i, v) in values.iter().enumerate() {
                if v.is_none() {
                    self.fail(i, Rule::MissingValue, canonical);
                }
            }
        }
        values
    }

    fn date_format_error(
        &self,
        canonical: &str,
        parser: &DateParser,
        bad: &[(usize, String)],
        present: usize,
    ) -> EngineError {
        let sample: Vec<&str> = bad.iter().take(200).map(|(_, s)| s.as_str()).collect();
        let fitting: Vec<&str> = COMMON_DATE_FORMATS
            .iter()
            .copied()
            .filter(|f| *f != parser.format())
            .filter(|f| DateParser::new(f).is_ok_and(|p| sample.iter().all(|s| p.parse(s).is_some())))
            .collect();
        let key = format!("{}.date_format", self.spec.key);
        let hint = match fitting.as_slice() {
            [] => format!("fix the export or set `{key}` to its strftime format"),
            [one] => format!("the values fit `{key} = \"{one}\"`"),
            many => format!(
                "the values fit any of {}; find a day after the 12th to tell which, and set `{key}`",
                many.join(", ")
            ),
        };
        let (row, value) = &bad[0];
        self.format_error(
            canonical,
            format!(
                "{} of {present} dates do not match `{key}` = \"{}\" (first: \"{value}\" at row {}); {hint}",
                bad.len(),
                parser.format(),
                self.first_row + row + 1,
            ),
        )
    }

    /// Exact decimals as integers of `10^-scale` units. Empty values fail `missing_value`
    /// unless nullable, bad ones `invalid`; a column where most values fail is structural.
    pub fn decimals(
        &mut self,
        canonical: &'static str,
        nullable: bool,
        scale: u32,
        invalid: Rule,
    ) -> Result<Vec<Option<i64>>> {
        let n = self.height();
        let Some(col) = self.source(canonical) else { return Ok(vec![None; n]) };
        let ctx = || format!("reading numbers of `{canonical}`");
        let pow = |k: u32| 10i128.pow(k);
        let mut bad: Vec<(usize, String, DecimalError)> = Vec::new();
        let mut present = 0usize;
        // Every accepted value fits DECIMAL(18, scale), hence i64; larger ones (typed inputs
        // such as Parquet DECIMAL(38,s) can hold them) fail as overflows.
        let narrow = |i: usize, x: i128, bad: &mut Vec<(usize, String, DecimalError)>| {
            if x.abs() <= DECIMAL18_MAX {
                Some(x as i64)
            } else {
                bad.push((i, x.to_string(), DecimalError::Overflow));
                None
            }
        };
        let values: Vec<Option<i64>> = match col.dtype() {
            DataType::Decimal(_, s) => {
                let s = *s as u32;
                let ca = col.decimal().map_err(EngineError::polars(ctx()))?;
                ca.phys
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let v = v?;
                        present += 1;
                        let scaled = if s <= scale {
                            v.checked_mul(pow(scale - s))
                        } else if v % pow(s - scale) == 0 {
                            Some(v / pow(s - scale))
                        } else {
                            bad.push((i, v.to_string(), DecimalError::Precision));
                            return None;
                        };
                        match scaled {
                            Some(x) => narrow(i, x, &mut bad),
                            None => {
                                bad.push((i, v.to_string(), DecimalError::Overflow));
                                None
                            }
                        }
                    })
                    .collect()
            }
            dt if dt.is_integer() => {
                let c = col.cast(&DataType::Int64).map_err(EngineError::polars(ctx()))?;
                let ca = c.i64().map_err(EngineError::polars(ctx()))?;
                ca.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let v = v?;
                        present += 1;
                        narrow(i, i128::from(v) * pow(scale), &mut bad)
                    })
                    .collect()
            }
            _ => {
                // Text, and floats through their shortest round-trip text, so 0.1 stays 0.1.
                let text = self.text_column(canonical)?.unwrap_or_else(|| StringChunked::full_null("".into(), n));
                let numbers = self.spec.numbers;
                text.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let s = clean(v)?;
                        present += 1;
                        match numbers.parse_scaled(s, scale) {
                            Ok(x) => narrow(i, x, &mut bad),
                            Err(e) => {
                                bad.push((i, s.to_string(), e));
                                None
                            }
                        }
                    })
                    .collect()
            }
        };
        let syntax = bad.iter().filter(|(_, _, e)| *e == DecimalError::Syntax).count();
        if syntax > 0 && syntax * 2 > present {
            let (row, value) = bad
                .iter()
                .find(|(_, _, e)| *e == DecimalError::Syntax)
                .map(|(r, v, _)| (*r, v.clone()))
                .unwrap_or_default();
            let other = if self.spec.numbers.decimal == b'.' { ',' } else { '.' };
            return Err(self.format_error(
                canonical,
                format!(
                    "{syntax} of {present} values are not numbers with decimal separator '{}' (first: \"{value}\" at row {}); if the export writes decimals with '{other}', set `{}.decimal_separator = \"{other}\"` (and `thousands_separator`)",
                    self.spec.numbers.decimal as char,
                    self.first_row + row + 1,
                    self.spec.key,
                ),
            ));
        }
        for (i, _, _) in &bad {
            self.fail(*i, invalid, canonical);
        }
        Ok(self.finish_nulls(values, canonical, nullable))
    }

    /// Flags; values outside the configured spellings fail `invalid_bool`.
    pub fn bools(&mut self, canonical: &'static str) -> Result<Vec<Option<bool>>> {
        if let Some(col) = self.source(canonical).filter(|c| c.dtype() == &DataType::Boolean) {
            return Ok(col.bool().map_err(EngineError::polars("reading flags"))?.iter().collect());
        }
        let bools = self.spec.bools.clone();
        self.parse_text(canonical, Rule::InvalidBool, |s| bools.parse(s))
    }

    /// Plain numbers (scores); bad ones fail `invalid_number`.
    pub fn numbers(&mut self, canonical: &'static str) -> Result<Vec<Option<f64>>> {
        if let Some(col) = self.source(canonical).filter(|c| c.dtype().is_primitive_numeric()) {
            let c = col.cast(&DataType::Float64).map_err(EngineError::polars("reading numbers"))?;
            return Ok(c.f64().map_err(EngineError::polars("reading numbers"))?.iter().collect());
        }
        let numbers = self.spec.numbers;
        self.parse_text(canonical, Rule::InvalidNumber, |s| numbers.parse_f64(s))
    }

    /// Parse a column as text with `parse`; non-empty values it rejects fail `rule`.
    fn parse_text<T>(
        &mut self,
        canonical: &'static str,
        rule: Rule,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<Option<T>>> {
        let n = self.height();
        let Some(text) = self.text_column(canonical)? else { return Ok((0..n).map(|_| None).collect()) };
        let mut out = Vec::with_capacity(n);
        for (i, v) in text.iter().enumerate() {
            let parsed = clean(v).map(|s| (parse(s), s));
            if let Some((None, _)) = parsed {
                self.fail(i, rule, canonical);
            }
            out.push(parsed.and_then(|(p, _)| p));
        }
        Ok(out)
    }

    /// Timestamps of `canonical` (required, non-null): text in the input's layout, or a typed
    /// Parquet timestamp (with a zone: that instant; without: local in the input's
    /// `time_zone`). Bad values fail `invalid_timestamp` with the reason; a column where most
    /// values fail is a structural error.
    pub fn timestamps(&mut self, canonical: &'static str) -> Result<Vec<Option<Stamp>>> {
        let n = self.height();
        let Some(col) = self.source(canonical) else { return Ok(vec![None; n]) };
        let parser = self.spec.timestamps.clone();
        let mut out: Vec<Option<Stamp>> = Vec::with_capacity(n);
        let mut bad: Vec<(usize, String, StampError)> = Vec::new();
        let mut present = 0usize;
        if let DataType::Datetime(unit, tz) = col.dtype() {
            let zone = tz.as_ref().map(|z| Zone::parse(z.as_str()));
            let per_micro = match unit {
                TimeUnit::Nanoseconds => -1000,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => 1000,
            };
            let phys = col.datetime().map_err(EngineError::polars("reading timestamps"))?.phys.clone();
            for (i, v) in phys.iter().enumerate() {
                let Some(v) = v else {
                    out.push(None);
                    continue;
                };
                present += 1;
                let micros = if per_micro < 0 { v.div_euclid(1000) } else { v.saturating_mul(per_micro) };
                let stamp = match zone {
                    Some(Some(z)) => {
                        Ok(Stamp { utc_micros: micros, offset_seconds: z.offset_at(micros.div_euclid(1_000_000)) })
                    }
                    Some(None) => Err(StampError::Invalid),
                    // A naive timestamp: its wall time read in the input's zone.
                    None => chrono::DateTime::from_timestamp_micros(micros)
                        .ok_or(StampError::Invalid)
                        .and_then(|t| parser.parse(&t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string())),
                };
                match stamp {
                    Ok(s) => out.push(Some(s)),
                    Err(e) => {
                        bad.push((i, v.to_string(), e));
                        out.push(None);
                    }
                }
            }
        } else {
            let text = self.text_column(canonical)?.unwrap_or_else(|| StringChunked::full_null("".into(), n));
            for (i, v) in text.iter().enumerate() {
                let Some(s) = clean(v) else {
                    out.push(None);
                    continue;
                };
                present += 1;
                match parser.parse(s) {
                    Ok(t) => out.push(Some(t)),
                    Err(e) => {
                        bad.push((i, s.to_string(), e));
                        out.push(None);
                    }
                }
            }
        }
        if !bad.is_empty() && bad.len() * 2 > present {
            let key = &self.spec.key;
            let (row, value, why) = &bad[0];
            let hint = match why {
                StampError::NoZone => format!(
                    "they have no UTC offset: set `{key}.time_zone` to the zone the export writes them in (an IANA name such as America/New_York, or UTC)"
                ),
                _ => format!("set `{key}.timestamp_format` to the export's strftime layout (e.g. %m/%d/%Y %I:%M %p)"),
            };
            return Err(self.format_error(
                canonical,
                format!(
                    "{} of {present} timestamps do not read as {} (first: \"{value}\" at row {}); {hint}",
                    bad.len(),
                    parser.layout(),
                    self.first_row + row + 1
                ),
            ));
        }
        for (i, _, why) in bad {
            self.fail(i, Rule::InvalidTimestamp, canonical);
            match why {
                StampError::NoZone => {
                    self.detail.insert(
                        i,
                        format!("has no UTC offset and `{}.time_zone` is not set; set it to the zone the export writes times in", self.spec.key),
                    );
                }
                StampError::InGap => {
                    self.detail.insert(i, "does not exist in the input's `time_zone` (the hour skipped when clocks went forward); fix the value".into());
                }
                StampError::Invalid => {}
            }
        }
        Ok(self.finish_nulls(out, canonical, false))
    }

    /// Canonical codes of `canonical` through the input's `spellings`; values it does not
    /// know fail `unknown`, empty ones `missing_value` unless nullable.
    pub fn codes<C: Code>(
        &mut self,
        canonical: &'static str,
        spellings: &Spellings<C>,
        unknown: Rule,
        nullable: bool,
    ) -> Result<Vec<Option<C>>> {
        let values = self.parse_text(canonical, unknown, |s| spellings.get(s))?;
        Ok(self.finish_nulls(values, canonical, nullable))
    }

    /// Fail rows whose currency is not an ISO 4217 code.
    pub fn check_currencies(&mut self, currencies: &TextCol<'_>, canonical: &'static str) {
        let mut known: foldhash::HashMap<&str, bool> = Default::default();
        for (i, c) in currencies.values.iter().enumerate() {
            if let Some(c) = c {
                let valid = *known.entry(c).or_insert_with(|| crate::contracts::is_currency(c));
                if !valid {
                    self.fail(i, Rule::UnknownCurrency, canonical);
                }
            }
        }
    }

    /// Move the failed rows into the quarantine; returns how many.
    pub fn quarantine(&self, q: &mut QuarantineBuilder, fx_configured: bool) -> u64 {
        let mut count = 0;
        for (i, v) in self.verdict.iter().enumerate() {
            let Some((rule, column)) = *v else { continue };
            let at = RowAt {
                spec: self.spec,
                file: &self.file,
                frame: self.frame,
                first_row: self.first_row,
                raw: self.raw,
            };
            q.push(at.entry(i, rule, column, self.detail.get(&i).map(String::as_str), fx_configured));
            count += 1;
        }
        count
    }

    /// The output `DATE` column of the kept rows: the source column itself when it is typed
    /// `DATE` and every row is kept (no copy), else built from `values`.
    pub fn date_output(&self, canonical: &str, values: &[Option<i32>], kept: &[usize]) -> Column {
        match self.source(canonical) {
            Some(col) if kept.len() == self.height() && col.dtype() == &DataType::Date => {
                col.clone().with_name(canonical.into())
            }
            _ => date_column(canonical, values, kept),
        }
    }

    /// The output `DECIMAL(18, scale)` column of the kept rows: the source column itself when
    /// it has that type and every row is kept (no copy), else built from `values`.
    pub fn decimal_output(&self, canonical: &str, values: &[Option<i64>], kept: &[usize], scale: usize) -> Column {
        match self.source(canonical) {
            Some(col) if kept.len() == self.height() && col.dtype() == &DataType::Decimal(MONEY_PRECISION, scale) => {
                col.clone().with_name(canonical.into())
            }
            _ => decimal_column(canonical, values, kept, scale),
        }
    }

    /// Lineage columns of the kept rows.
    pub fn lineage(&self, kept: &[usize]) -> [Column; 2] {
        let rows = match routed_rows(self.frame) {
            Some(rows) => UInt64Chunked::from_iter_values(
                "source_row".into(),
                kept.iter().map(|&i| rows.get(i).unwrap_or_default()),
            ),
            None => UInt64Chunked::from_iter_values(
                "source_row".into(),
                kept.iter().map(|&i| (self.first_row + i) as u64 + 1),
            ),
        };
        [StringChunked::full("source_file".into(), &self.file, kept.len()).into_column(), rows.into_column()]
    }
}

/// Rows of one frame of an export file, for quarantine entries.
#[derive(Debug, Clone, Copy)]
pub struct RowAt<'a> {
    pub spec: &'a InputSpec,
    /// The file name as written to outputs.
    pub file: &'a str,
    pub frame: &'a DataFrame,
    /// Row number in the file of the frame's first row, minus one.
    pub first_row: usize,
    /// The export file as read, when a source routed the frame's rows.
    pub raw: Option<Raw<'a>>,
}

/// The rows of an export file as read, for the quarantine's `raw` of rows a source routed
/// (row `k` is the file's data row `k + 1`).
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// The file read whole.
    Frame(&'a DataFrame),
    /// The file's bytes, read back a record at a time.
    Lines(&'a super::source::blocks::CsvBlocks),
}

impl Raw<'_> {
    /// The value of export column `name` in row `row`.
    fn value(&self, name: &str, row: usize) -> Option<String> {
        match self {
            Raw::Frame(frame) => frame.column(name).ok().and_then(|c| any_to_text(&c.get(row).ok()?)),
            Raw::Lines(lines) => lines.value(name, row),
        }
    }

    /// Row `row` as a JSON object of export column → value.
    fn json(&self, row: usize) -> String {
        match self {
            Raw::Frame(frame) => raw_json(frame, row),
            Raw::Lines(lines) => lines.raw_json(row),
        }
    }
}

impl RowAt<'_> {
    /// The 1-based row in the file of the frame's row `i`.
    pub fn row_number(&self, i: usize) -> u64 {
        match routed_rows(self.frame) {
            Some(rows) => rows.get(i).unwrap_or_default(),
            None => (self.first_row + i) as u64 + 1,
        }
    }

    /// The frame's row whose file row is `row` (see [`RowAt::row_number`]).
    pub fn index_of(&self, row: u64) -> usize {
        match routed_rows(self.frame) {
            Some(rows) => rows.iter().position(|r| r == Some(row)).unwrap_or_default(),
            None => (row as usize).saturating_sub(1 + self.first_row),
        }
    }

    /// The quarantine entry of the frame's row `i`, failing `rule` on the canonical `column`.
    pub fn entry(
        &self,
        i: usize,
        rule: Rule,
        column: &'static str,
        detail: Option<&str>,
        fx_configured: bool,
    ) -> Entry {
        let value_of = |frame: &DataFrame, name: &str, row: usize| {
            frame.column(name).ok().and_then(|c| any_to_text(&c.get(row).ok()?))
        };
        // A derived value that could not be derived shows the export's own (in the file as
        // read, for rows a source routed).
        let value = value_of(self.frame, self.spec.source(column), i).or_else(|| match &self.raw {
            Some(file) => file.value(self.spec.shown(column), self.row_number(i) as usize - 1),
            None => value_of(self.frame, self.spec.shown(column), i),
        });
        // Texts are held until their chunk reaches the temporary file: without their growth
        // slack a chunk of quarantined rows takes a third less memory.
        let mut message = message(self.spec, rule, column, value.as_deref(), detail, fx_configured);
        message.shrink_to_fit();
        let mut raw = match &self.raw {
            Some(file) => file.json(self.row_number(i) as usize - 1),
            None => raw_json(self.frame, i),
        };
        raw.shrink_to_fit();
        Entry {
            input: self.spec.kind,
            file: self.file.to_string(),
            row: self.row_number(i),
            column,
            message,
            value,
            rule,
            raw,
        }
    }
}

fn any_to_text(v: &AnyValue<'_>) -> Option<String> {
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some((*s).to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        other => Some(other.to_string()),
    }
}

/// The original row as a JSON object of export column → value (text or null).
pub fn raw_json(frame: &DataFrame, row: usize) -> String {
    let mut map = serde_json::Map::new();
    for col in frame.columns().iter().filter(|c| !c.name().starts_with(DERIVED_PREFIX)) {
        let v = col.get(row).ok().and_then(|v| any_to_text(&v));
        map.insert(col.name().to_string(), v.map_or(serde_json::Value::Null, serde_json::Value::String));
    }
    serde_json::Value::Object(map).to_string()
}

/// The message of a quarantine entry: what is wrong and what to do.
pub fn message(
    spec: &InputSpec,
    rule: Rule,
    column: &str,
    value: Option<&str>,
    detail: Option<&str>,
    fx_configured: bool,
) -> String {
    let input = spec.kind.name();
    let key = &spec.key;
    let v = value.unwrap_or("");
    match rule {
        Rule::WrongFieldCount => "the row has more or fewer fields than the header, so its values cannot be told apart; fix the row in the export (a delimiter inside an unquoted value?)".to_string(),
        Rule::InvalidEncoding => format!(
            "`{column}` holds bytes that are not {} text (shown as U+FFFD); re-export the file in that encoding, or set `{key}.encoding` to the one it was written in",
            spec.encoding.name()
        ),
        Rule::MissingValue => format!("`{column}` is empty; every {input} row needs it"),
        Rule::InvalidDate => {
            format!("\"{v}\" is not a date in the format \"{}\"; fix the value in the export", spec.date.format())
        }
        Rule::InvalidAmount => format!(
            "\"{v}\" is not an amount with decimal separator '{}' and at most 2 decimals that fits DECIMAL(18,2)",
            spec.numbers.decimal as char
        ),
        Rule::NonPositiveAmount if spec.kind == crate::contracts::InputKind::Payments => {
            format!(
                "amount {v} is not greater than 0; a payment receives money (export refunds and reversals separately)"
            )
        }
        Rule::NonPositiveAmount => format!(
            "amount {v} is not greater than 0; the sign of a document comes from doc_type (export reductions as credit memos)"
        ),
        Rule::NegativeAmount => format!("{column} {v} is negative"),
        Rule::InvalidRate => format!("\"{v}\" is not a rate with at most 10 decimals"),
        Rule::NonPositiveRate => format!("rate {v} is not greater than 0"),
        Rule::InvalidNumber => format!("\"{v}\" is not a number"),
        Rule::InvalidBool => format!(
            "\"{v}\" is neither true ({}) nor false ({}); add the spelling to `{key}.true_values` or `false_values`",
            spec.bools.true_values.join("/"),
            spec.bools.false_values.join("/")
        ),
        Rule::UnknownDocType => format!(
            "\"{v}\" is not a document type; map the ERP code with `{key}.doc_types.{v} = \"invoice\"` (or credit_memo, debit_memo, write_off)"
        ),
        Rule::UnmappedType => format!(
            "type \"{v}\" is not routed; add it to `{key}.route` (\"invoice\", \"credit_memo\", \"debit_memo\", \"write_off\", \"payment\" or \"ignore\")"
        ),
        Rule::InvalidSign => format!(
            "debit/credit indicator \"{v}\" is neither a debit nor a credit; add it to `{key}.indicator.debit` or `credit`"
        ),
        Rule::OppositeSign if spec.kind == crate::contracts::InputKind::Payments => format!(
            "payment amount {v} has a debit sign: a refund or a reversed payment, which ardent does not apply; export it as a separate adjustment"
        ),
        Rule::OppositeSign => format!(
            "amount {v} has the opposite sign of its document type; if negative invoices are reversals, set `{key}.negative_invoices = \"credit_memo\"`"
        ),
        Rule::UnknownTerms => {
            format!("payment terms \"{v}\" are not in `{key}.terms.days`; add the code with its number of days")
        }
        Rule::MissingDueDate => {
            format!("{} without a due date; invoices and debit memos need one", detail.unwrap_or("document"))
        }
        Rule::DueBeforeDocDate => format!("due date {v} is before the document date {}", detail.unwrap_or("?")),
        Rule::UnknownCurrency => format!("\"{v}\" is not an ISO 4217 currency code (three capital letters, e.g. EUR)"),
        Rule::UnknownCustomer => {
            format!("customer \"{v}\" is not in the validated customers; add it to the customer master export")
        }
        Rule::MissingFxRate if !fx_configured => {
            format!(
                "no FX rate for {v}: no fx_rates input is configured; add `[inputs.fx_rates]` or convert the export"
            )
        }
        Rule::MissingFxRate => format!("no FX rate for {v} {}; add it to the fx_rates export", detail.unwrap_or("")),
        Rule::DuplicateId => {
            format!("\"{}\" was already accepted earlier in {input}; the first occurrence is kept", detail.unwrap_or(v))
        }
        Rule::Superseded => {
            format!("{column} \"{v}\" was exported again in a later batch, and the latest export wins")
        }
        Rule::UnknownReference if spec.kind == crate::contracts::InputKind::Activities => format!(
            "is about \"{v}\", which is not in the validated ledger; the activity is kept and counted for its customer"
        ),
        Rule::UnknownReference => format!(
            "references \"{v}\", which is not in the validated ledger; the payment is kept and its cash applied without that reference"
        ),
        Rule::UnknownAppliesTo => format!(
            "applies to \"{v}\", which is not in the validated ledger; the document is kept and applied oldest-due-first"
        ),
        Rule::InvalidTimestamp => match detail {
            Some(d) => format!("\"{v}\" {d}"),
            None => format!(
                "\"{v}\" is not a date and time in the layout {}; fix the value, or set `{key}.timestamp_format` to the export's strftime layout",
                spec.timestamps.layout()
            ),
        },
        Rule::UnknownTimeZone => format!(
            "\"{v}\" is not a time zone; use an IANA name (America/New_York, Europe/Berlin) or an offset (+02:00)"
        ),
        Rule::UnknownChannel => code_message::<crate::contracts::activity::Channel>(key, v),
        Rule::UnknownDirection => code_message::<crate::contracts::activity::Direction>(key, v),
        Rule::UnknownOutcome => code_message::<crate::contracts::activity::Outcome>(key, v),
        Rule::IncompletePromise => format!(
            "{}; a promise needs what was promised and by when (record other outcomes without a promise)",
            detail.unwrap_or("the promise is incomplete")
        ),
        Rule::InvalidInstalments => format!("\"{v}\" is not a whole number of instalments from 1 to 1200"),
    }
}

fn code_message<C: crate::contracts::activity::Code>(key: &str, v: &str) -> String {
    format!(
        "\"{v}\" is not one of {}; map the export's code with `{key}.{}.{v} = \"{}\"`",
        C::spellings(),
        C::MAPPING,
        C::ALL[0].as_str()
    )
}

/// A text column under validation: cleaned values plus what is needed to pass the source
/// through without copying when cleaning changed nothing.
#[derive(Debug)]
pub struct TextCol<'c> {
    source: Option<&'c StringChunked>,
    /// Trimmed values, `None` when empty.
    pub values: Vec<Option<&'c str>>,
    altered: bool,
}

impl<'c> TextCol<'c> {
    /// The value of row `i`.
    pub fn get(&self, i: usize) -> Option<&'c str> {
        match self.values.get(i) {
            Some(v) => *v,
            // An output-only column kept as its source.
            None => self.source.and_then(|ca| clean(ca.get(i))),
        }
    }

    /// The column of the kept rows. When cleaning changed nothing this shares the source's
    /// string buffers (a clone, or a take of 16-byte views) instead of copying every string.
    pub fn column(&self, name: &str, kept: &[usize]) -> Column {
        match self.source {
            // `kept` is ascending and without repeats: as long as the column, it is every row.
            Some(ca) if !self.altered && kept.len() == ca.len() => ca.clone().with_name(name.into()).into_column(),
            _ => self.take(name, kept),
        }
    }

    /// The column of the values at `rows` (any order, repeats allowed); shares the source's
    /// string buffers when cleaning changed nothing.
    pub fn take(&self, name: &str, rows: &[usize]) -> Column {
        match self.source {
            Some(ca) if !self.altered => {
                let idx = IdxCa::from_vec("".into(), rows.iter().map(|&i| i as IdxSize).collect());
                ca.take(&idx).map_or_else(
                    |_| text_column(name, &self.get_all(), rows),
                    |t| t.with_name(name.into()).into_column(),
                )
            }
            _ => text_column(name, &self.get_all(), rows),
        }
    }

    /// Every value (cleaned), materialised when only the source is held.
    fn get_all(&self) -> std::borrow::Cow<'_, [Option<&'c str>]> {
        match (&self.source, self.values.is_empty()) {
            (Some(ca), true) if !ca.is_empty() => std::borrow::Cow::Owned(ca.iter().map(clean).collect()),
            _ => std::borrow::Cow::Borrowed(&self.values),
        }
    }
}

/// Build a `DECIMAL(18, scale)` column of the kept rows.
pub fn decimal_column(name: &str, values: &[Option<i64>], kept: &[usize], scale: usize) -> Column {
    let ca = if kept.iter().all(|&i| values[i].is_some()) {
        Int128Chunked::from_vec(name.into(), kept.iter().map(|&i| i128::from(values[i].unwrap_or_default())).collect())
    } else {
        Int128Chunked::from_iter_options(name.into(), kept.iter().map(|&i| values[i].map(i128::from)))
    };
    ca.into_decimal_unchecked(MONEY_PRECISION, scale).into_column()
}

/// Build a `DATE` column of the kept rows.
pub fn date_column(name: &str, values: &[Option<i32>], kept: &[usize]) -> Column {
    let ca = if kept.iter().all(|&i| values[i].is_some()) {
        Int32Chunked::from_vec(name.into(), kept.iter().map(|&i| values[i].unwrap_or_default()).collect())
    } else {
        Int32Chunked::from_iter_options(name.into(), kept.iter().map(|&i| values[i]))
    };
    ca.into_date().into_column()
}

/// Build a text column of the kept rows.
pub fn text_column(name: &str, values: &[Option<&str>], kept: &[usize]) -> Column {
    StringChunked::from_iter_options(name.into(), kept.iter().map(|&i| values[i])).into_column()
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_trims_unicode_whitespace_and_empties_to_none() {
        for (input, expected) in [
            (Some("C001"), Some("C001")),
            (Some("a b"), Some("a b")),
            (Some("  C001 "), Some("C001")),
            (Some("\tC001"), Some("C001")),
            (Some("\u{a0}C001\u{a0}"), Some("C001")),
            (Some("é"), Some("é")),
            (Some(""), None),
            (Some("   "), None),
            (Some("\t\r\n"), None),
            (None, None),
        ] {
            assert_eq!(clean(input), expected, "{input:?}");
        }
    }
}
