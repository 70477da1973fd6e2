//! How an export is read: [`InputParams`] is what a pipeline config says (serde, every field
//! documented with its default); [`InputParams::check`] turns it into an [`InputSpec`] that
//! cannot hold a bad value, or explains what to change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::encoding::Encoding;
use super::parse::{BoolSpellings, DateParser, NumberFormat};
use super::timestamp::TimestampParser;
use crate::contracts::activity::{Channel, Code, Direction, Outcome as ActivityOutcome, Spellings};
use crate::contracts::{DocType, InputKind};
use crate::error::{EngineError, Result};

/// File formats ardent reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Ndjson,
    /// A spreadsheet workbook (xlsx, xlsm, xlsb, xls, ods): one sheet of it.
    Xlsx,
}

impl Format {
    /// The format a file extension implies.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Ndjson => "ndjson",
            Format::Xlsx => "xlsx",
        }
    }
}

/// One input as written in a pipeline config (`[inputs.ledger]`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputParams {
    /// A file, a glob (`exports/ledger_*.csv`) or a folder of export batches. Relative paths
    /// are resolved against the config file's folder.
    pub path: String,
    /// `csv`, `parquet` or `ndjson`. Default: from each file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Canonical column → export column, for columns whose names differ. Default: the
    /// canonical names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// strftime format of date columns. Default: `%Y-%m-%d`.
    #[serde(default = "default_date_format")]
    pub date_format: String,
    /// CSV field delimiter. Default: `,`.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Decimal separator of numbers. Default: `.`.
    #[serde(default = "default_decimal")]
    pub decimal_separator: char,
    /// Thousands grouping character, if the export uses one. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands_separator: Option<char>,
    /// Spellings of true, case-insensitive. Default: true, t, yes, y, 1, x.
    #[serde(default = "default_true")]
    pub true_values: Vec<String>,
    /// Spellings of false, case-insensitive. Default: false, f, no, n, 0.
    #[serde(default = "default_false")]
    pub false_values: Vec<String>,
    /// ERP document-type code → canonical type (`RV = "invoice"`, `DG = "credit_memo"`). The
    /// canonical spellings are always accepted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub doc_types: BTreeMap<String, String>,
    /// Separator between several references in `invoice_refs`. Default: `;`. Spaces around
    /// it and around each reference are ignored.
    #[serde(default = "default_refs_separator")]
    pub refs_separator: String,
    /// Text encoding of CSV files: utf-8, windows-1252, latin-1, utf-16 (by its byte order
    /// mark), utf-16le, utf-16be. Default: utf-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Activities: export channel code → canonical channel (`PH = "call"`). The canonical
    /// spellings are always accepted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<String, String>,
    /// Activities: export outcome code → canonical outcome (`PTP = "promise_to_pay"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<String, String>,
    /// Activities: export direction code → `outbound` or `inbound` (`OUT = "outbound"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub directions: BTreeMap<String, String>,
    /// Activities: strftime layout of `occurred_at` when it is not ISO 8601 (`%m/%d/%Y %I:%M %p`).
    /// Default: ISO 8601 with or without an offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// Activities: the time zone of timestamps written without a UTC offset, an IANA name
    /// (`America/New_York`) or an offset (`+01:00`). Default: none (such rows are quarantined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

pub(crate) fn default_date_format() -> String {
    "%Y-%m-%d".into()
}
pub(crate) fn default_delimiter() -> char {
    ','
}
pub(crate) fn default_decimal() -> char {
    '.'
}
pub(crate) fn default_true() -> Vec<String> {
    ["true", "t", "yes", "y", "1", "x"].map(String::from).to_vec()
}
pub(crate) fn default_false() -> Vec<String> {
    ["false", "f", "no", "n", "0"].map(String::from).to_vec()
}
pub(crate) fn default_refs_separator() -> String {
    ";".into()
}

impl InputParams {
    /// Parameters with every default, reading `path`.
    pub fn new(path: impl Into<String>) -> Self {
        InputParams {
            path: path.into(),
            format: None,
            columns: BTreeMap::new(),
            date_format: default_date_format(),
            delimiter: default_delimiter(),
            decimal_separator: default_decimal(),
            thousands_separator: None,
            true_values: default_true(),
            false_values: default_false(),
            doc_types: BTreeMap::new(),
            refs_separator: default_refs_separator(),
            encoding: None,
            channels: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            directions: BTreeMap::new(),
            timestamp_format: None,
            time_zone: None,
        }
    }

    /// Check every field for `kind`, resolving relative paths against `base_dir`.
    pub fn check(&self, kind: InputKind, base_dir: &Path) -> Result<InputSpec> {
        let key = |field: &str| format!("inputs.{}.{field}", kind.name());
        let canonical: Vec<&str> = kind.columns().iter().map(|c| c.name).collect();
        for name in self.columns.keys() {
            if !canonical.contains(&name.as_str()) {
                return Err(EngineError::config(format!(
                    "`{}` maps unknown column `{name}`; the columns of {} are: {}",
                    key("columns"),
                    kind.name(),
                    canonical.join(", ")
                )));
            }
        }
        let date = DateParser::new(&self.date_format)
            .map_err(|m| EngineError::config(format!("`{}`: {m}", key("date_format"))))?;
        let ascii = |field: &str, c: char| -> Result<u8> {
            if c.is_ascii() && !c.is_ascii_alphanumeric() {
                Ok(c as u8)
            } else {
                Err(EngineError::config(format!(
                    "`{}` must be one ASCII punctuation or space character, but is {c:?}",
                    key(field)
                )))
            }
        };
        let decimal = ascii("decimal_separator", self.decimal_separator)?;
        if decimal != b'.' && decimal != b',' {
            return Err(EngineError::config(format!(
                "`{}` must be \".\" or \",\", but is {:?}",
                key("decimal_separator"),
                self.decimal_separator
            )));
        }
        let thousands = self.thousands_separator.map(|c| ascii("thousands_separator", c)).transpose()?;
        if thousands == Some(decimal) {
            return Err(EngineError::config(format!(
                "`{}` and `{}` are both {:?}; a number could not be read unambiguously",
                key("decimal_separator"),
                key("thousands_separator"),
                self.decimal_separator
            )));
        }
        let delimiter = ascii("delimiter", self.delimiter)?;
        if let Some(both) =
            self.true_values.iter().find(|t| self.false_values.iter().any(|f| f.eq_ignore_ascii_case(t)))
        {
            return Err(EngineError::config(format!(
                "`{both}` is listed in both `{}` and `{}`",
                key("true_values"),
                key("false_values")
            )));
        }
        if kind != InputKind::Ledger && !self.doc_types.is_empty() {
            return Err(EngineError::config(format!(
                "`{}` maps document types, but only the ledger has them; a file with documents and payments together is one combined export: read it with a `[sources.<name>]` section that routes each type (README \"Combined exports\")",
                key("doc_types")
            )));
        }
        let mut doc_types: Vec<(String, DocType)> = DocType::ALL.iter().map(|d| (d.as_str().to_string(), *d)).collect();
        for (code, target) in &self.doc_types {
            let Some(doc_type) = DocType::parse(target) else {
                return Err(EngineError::config(format!(
                    "`{}.{code}` = \"{target}\" is not a document type; use one of invoice, credit_memo, debit_memo, write_off",
                    key("doc_types")
                )));
            };
            doc_types.push((code.clone(), doc_type));
        }
        let activity_settings = [
            ("channels", !self.channels.is_empty()),
            ("outcomes", !self.outcomes.is_empty()),
            ("directions", !self.directions.is_empty()),
            ("timestamp_format", self.timestamp_format.is_some()),
            ("time_zone", self.time_zone.is_some()),
        ];
        if let Some((field, _)) = activity_settings.iter().find(|(_, set)| *set)
            && kind != InputKind::Activities
        {
            return Err(EngineError::config(format!(
                "`{}` is a setting of the activities input; {} has no timestamps or activity codes",
                key(field),
                kind.name()
            )));
        }
        fn spellings<C: Code>(map: &BTreeMap<String, String>, key: &dyn Fn(&str) -> String) -> Result<Spellings<C>> {
            Spellings::new(map).map_err(|(code, target)| {
                EngineError::config(format!(
                    "`{}.{code}` = \"{target}\" is not one of {}",
                    key(C::MAPPING),
                    C::spellings()
                ))
            })
        }
        let channels = spellings::<Channel>(&self.channels, &key)?;
        let outcomes = spellings::<ActivityOutcome>(&self.outcomes, &key)?;
        let directions = spellings::<Direction>(&self.directions, &key)?;
        let timestamps =
            TimestampParser::new(self.timestamp_format.as_deref(), self.time_zone.as_deref()).map_err(|m| {
                let field =
                    if self.time_zone.is_some() && m.contains("time zone") { "time_zone" } else { "timestamp_format" };
                EngineError::config(format!("`{}`: {m}", key(field)))
            })?;
        if self.refs_separator.is_empty() {
            return Err(EngineError::config(format!("`{}` cannot be empty", key("refs_separator"))));
        }
        let encoding = match &self.encoding {
            None => Encoding::Utf8,
            Some(label) => Encoding::parse(label).ok_or_else(|| {
                EngineError::config(format!(
                    "`{}` = \"{label}\" is not an encoding ardent reads; use one of {}",
                    key("encoding"),
                    Encoding::LABELS
                ))
            })?,
        };
        if self.path.trim().is_empty() {
            return Err(EngineError::config(format!("`{}` cannot be empty", key("path"))));
        }
        let path = if is_url(&self.path) {
            return Err(EngineError::config(format!(
                "`{}` = \"{}\": object-store locations are fetched by the pipeline before ingest; \
                 the engine reads local files only",
                key("path"),
                self.path
            )));
        } else {
            let p = Path::new(self.path.strip_prefix("file://").unwrap_or(&self.path));
            if p.is_absolute() { p.to_path_buf() } else { base_dir.join(p) }
        };
        let columns = kind
            .columns()
            .iter()
            .map(|c| (c.name, self.columns.get(c.name).cloned().unwrap_or_else(|| c.name.to_string())))
            .collect();
        Ok(InputSpec {
            kind,
            key: format!("inputs.{}", kind.name()),
            origins: Vec::new(),
            location: self.path.clone(),
            path,
            shown_as: None,
            latest_wins: false,
            format: self.format,
            columns,
            date,
            numbers: NumberFormat { decimal, thousands },
            bools: BoolSpellings { true_values: self.true_values.clone(), false_values: self.false_values.clone() },
            doc_types,
            delimiter,
            refs_separator: self.refs_separator.clone(),
            encoding,
            channels,
            outcomes,
            directions,
            timestamps,
        })
    }
}

fn is_url(path: &str) -> bool {
    ["s3://", "gs://", "gcs://", "az://", "abfs://", "abfss://", "http://", "https://"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// A checked input: everything needed to read and validate it.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub kind: InputKind,
    /// Where this input is configured, for messages: `inputs.ledger`, or `sources.<name>`
    /// for the rows a source routed here.
    pub key: String,
    /// For rows a source routed here: canonical column → the export column(s) its value was
    /// derived from, as messages name them (the frame holds the derived value under
    /// [`super::columns::DERIVED_PREFIX`]).
    pub origins: Vec<(&'static str, String)>,
    /// The location as configured (for messages).
    pub location: String,
    /// The resolved local path, glob or folder.
    pub path: PathBuf,
    /// When `path` is a local copy of a remote location: (the copy's folder, the URL it
    /// was fetched from), so files are named by their URL in messages and the quarantine.
    pub shown_as: Option<(PathBuf, String)>,
    /// Whether a row whose id an earlier file already had replaces that row (the latest
    /// export wins; incremental runs, ledger and customers) instead of being a duplicate.
    pub latest_wins: bool,
    /// Forced format, else by extension.
    pub format: Option<Format>,
    /// Canonical column → export column, for every canonical column.
    pub columns: Vec<(&'static str, String)>,
    pub date: DateParser,
    pub numbers: NumberFormat,
    pub bools: BoolSpellings,
    /// Accepted spellings of document types (canonical and configured codes).
    pub doc_types: Vec<(String, DocType)>,
    pub delimiter: u8,
    pub refs_separator: String,
    /// Text encoding of CSV files.
    pub encoding: Encoding,
    /// Activities: accepted spellings of channels, outcomes and directions.
    pub channels: Spellings<Channel>,
    pub outcomes: Spellings<ActivityOutcome>,
    pub directions: Spellings<Direction>,
    /// Activities: how `occurred_at` is read.
    pub timestamps: TimestampParser,
}

impl InputSpec {
    /// The export column mapped to a canonical column.
    pub fn source<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.columns.iter().find(|(c, _)| *c == canonical).map(|(_, s)| s.as_str()).unwrap_or(canonical)
    }

    /// The name errors give this input: `ledger`, or `sources.<name>` for routed rows.
    pub fn error_name(&self) -> String {
        if self.key.starts_with("sources.") { self.key.clone() } else { self.kind.name().to_string() }
    }

    /// The export column(s) a canonical column comes from, as messages name them.
    pub fn shown<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.origins.iter().find(|(c, _)| *c == canonical).map(|(_, s)| s.as_str()).unwrap_or(self.source(canonical))
    }

    /// The canonical document type of an export code (exact match first, then ignoring case).
    pub fn doc_type(&self, code: &str) -> Option<DocType> {
        let code = code.trim();
        self.doc_types
            .iter()
            .find(|(c, _)| c == code)
            .or_else(|| self.doc_types.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)))
            .map(|(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_mapped_column_names_the_valid_ones() {
        let mut p = InputParams::new("ledger.csv");
        p.columns.insert("invoice_no".into(), "x".into());
        let err = p.check(InputKind::Ledger, Path::new(".")).expect_err("must fail").to_string();
        assert!(err.contains("inputs.ledger.columns") && err.contains("invoice_no") && err.contains("doc_id"), "{err}");
    }

    #[test]
    fn same_decimal_and_thousands_separator_is_rejected() {
        let mut p = InputParams::new("ledger.csv");
        p.thousands_separator = Some('.');
        let err = p.check(InputKind::Ledger, Path::new(".")).expect_err("must fail").to_string();
        assert!(err.contains("thousands_separator"), "{err}");
    }

    #[test]
    fn erp_codes_map_to_doc_types() {
        let mut p = InputParams::new("ledger.csv");
        p.doc_types.insert("RV".into(), "invoice".into());
        p.doc_types.insert("DG".into(), "credit_memo".into());
        let spec = p.check(InputKind::Ledger, Path::new("/data")).expect("valid");
        assert_eq!(spec.doc_type("RV"), Some(DocType::Invoice));
        assert_eq!(spec.doc_type("dg"), Some(DocType::CreditMemo));
        assert_eq!(spec.doc_type("write_off"), Some(DocType::WriteOff));
        assert_eq!(spec.doc_type("ZZ"), None);
        assert_eq!(spec.path, PathBuf::from("/data/ledger.csv"));
        p.doc_types.insert("XX".into(), "refund".into());
        assert!(p.check(InputKind::Ledger, Path::new(".")).is_err());
    }
}
