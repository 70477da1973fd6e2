//! How a combined export is written: [`SourceParams`] is a `[sources.<name>]` section of a
//! pipeline config (serde, every field documented with its default); [`SourceParams::check`]
//! turns it into a [`SourceSpec`] that cannot hold a bad value, or explains what to change.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::super::columns::DERIVED_PREFIX;
use super::super::options::{Format, InputParams, InputSpec};
use super::super::parse::{DateParser, NumberFormat};
use crate::contracts::{DocType, InputKind};
use crate::error::{EngineError, Result};

/// Where a row of a combined export goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Invoice,
    CreditMemo,
    DebitMemo,
    WriteOff,
    Payment,
    /// Deliberately not ingested (clearing entries, balances brought forward): counted.
    Ignore,
}

impl Route {
    /// The config spelling (`invoice`, `credit_memo`, …, `payment`, `ignore`).
    pub fn name(self) -> &'static str {
        match self {
            Route::Invoice => "invoice",
            Route::CreditMemo => "credit_memo",
            Route::DebitMemo => "debit_memo",
            Route::WriteOff => "write_off",
            Route::Payment => "payment",
            Route::Ignore => "ignore",
        }
    }

    /// The ledger document type of this route, `None` for payments and ignored rows.
    pub fn doc_type(self) -> Option<DocType> {
        match self {
            Route::Invoice => Some(DocType::Invoice),
            Route::CreditMemo => Some(DocType::CreditMemo),
            Route::DebitMemo => Some(DocType::DebitMemo),
            Route::WriteOff => Some(DocType::WriteOff),
            Route::Payment | Route::Ignore => None,
        }
    }

    /// Whether the amount of this route is a debit (raises what the customer owes).
    pub fn is_debit(self) -> bool {
        matches!(self, Route::Invoice | Route::DebitMemo)
    }
}

/// Where the sign of an amount comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignRule {
    /// Amounts are positive; the route (document type) gives the sign.
    #[default]
    Type,
    /// Amounts are signed: debits (invoices, debit memos) positive, credits (credit memos,
    /// write-offs, payments) negative.
    Amount,
    /// Amounts are positive and a debit/credit indicator column gives the sign
    /// (`indicator`).
    Indicator,
    /// Two columns, debit and credit (`debit_column`, `credit_column`): amount = debit − credit.
    Columns,
}

/// What a document with the opposite sign of its type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversal {
    /// Quarantined (`opposite_sign`).
    #[default]
    Quarantine,
    /// A negative invoice or debit memo is a reversal: a credit memo of the same amount.
    CreditMemo,
}

/// A debit/credit indicator column (SAP's S/H, posting keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// The export column.
    pub column: String,
    /// Values that mean debit (compared ignoring case), e.g. `["S", "D", "01"]`.
    pub debit: Vec<String>,
    /// Values that mean credit, e.g. `["H", "C", "15"]`.
    pub credit: Vec<String>,
}

/// Invoice rows that carry the date they were settled (an invoice register): each such row
/// also yields the payment that settled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    /// The export column of the settlement (paid or cleared) date; empty while open.
    pub date: String,
    /// The export column of the amount paid, when it can differ from the invoice amount.
    /// Default: the invoice's amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// Due dates derived from payment terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// The export column of the terms code. Default: the column mapped to `terms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The export column of the baseline date the days count from. Default: the document date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Terms code → days (`Z030 = 30`, `"Net 45" = 45`). Codes not listed that read
    /// `NET<n>`, `Net <n>`, `N<n>` or `<n>` (any case, spaces ignored) mean n days.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub days: BTreeMap<String, u16>,
    /// Days for rows without a terms code (an export with no terms column at all: the
    /// company's standard terms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_days: Option<u16>,
}

/// One combined export as written in a pipeline config (`[sources.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceParams {
    /// A file, a glob or a folder of export batches; relative to the config file's folder.
    pub path: String,
    /// `csv`, `parquet` or `ndjson`. Default: from each file's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// CSV field delimiter. Default: `,`.
    #[serde(default = "crate::ingest::options::default_delimiter")]
    pub delimiter: char,
    /// Text encoding of CSV files (as an input's `encoding`). Default: utf-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Spreadsheets: the sheet to read (by name, case ignored). Default: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// strftime format of every date column, or `"excel"` for spreadsheet serial numbers.
    /// Timestamps whose date part has this format are read as that date. Default: `%Y-%m-%d`.
    #[serde(default = "crate::ingest::options::default_date_format")]
    pub date_format: String,
    /// Export column → its own date format, where it differs from `date_format`
    /// (`{ "Net Due Date" = "%Y%m%d" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub date_formats: BTreeMap<String, String>,
    /// Default: `.`.
    #[serde(default = "crate::ingest::options::default_decimal")]
    pub decimal_separator: char,
    /// Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands_separator: Option<char>,
    /// Spellings of true for `disputed`. Default: true, t, yes, y, 1, x.
    #[serde(default = "crate::ingest::options::default_true")]
    pub true_values: Vec<String>,
    /// Default: false, f, no, n, 0.
    #[serde(default = "crate::ingest::options::default_false")]
    pub false_values: Vec<String>,
    /// Canonical column → export column: `doc_id`, `customer_id`, `doc_date`, `due_date`,
    /// `amount`, `currency`, `applies_to`, `disputed`, `terms` for documents; `payment_id`
    /// and `payment_date` (default: the document's), `invoice_refs`, `method` for payments;
    /// `name` (the customer's name). Default: the canonical names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Export columns whose values, joined with `-`, are the document id (SAP: company code,
    /// fiscal year, document number). Default: the `doc_id` column alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// The export column that tells what a row is. Without it every row takes the `"*"` route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_column: Option<String>,
    /// Type value → `invoice`, `credit_memo`, `debit_memo`, `write_off`, `payment` or
    /// `ignore`; `"*"` routes every value not listed. A value with no route is quarantined
    /// (`unmapped_type`).
    pub route: BTreeMap<String, Route>,
    /// Where an amount's sign comes from: `type` (default), `amount`, `indicator`, `columns`.
    #[serde(default)]
    pub sign: SignRule,
    /// With `sign = "indicator"`: the debit/credit indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<Indicator>,
    /// With `sign = "columns"`: the export column of debits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_column: Option<String>,
    /// With `sign = "columns"`: the export column of credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_column: Option<String>,
    /// An invoice or debit memo with a credit amount: `quarantine` (default) or
    /// `credit_memo` (a reversal).
    #[serde(default)]
    pub negative_invoices: Reversal,
    /// The export column of the clearing document: a payment pays the invoices and debit
    /// memos that share its clearing document, and a credit memo or write-off reduces the
    /// first of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing_column: Option<String>,
    /// Invoice rows with a settlement date yield their payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
    /// Due dates from payment terms, where the due date column is absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    /// The `customer_id` column holds customer names: rows are grouped by the name after
    /// normalising case, spacing and punctuation, and the first spelling met is the id.
    #[serde(default)]
    pub customer_names: bool,
    /// Currency of every row when the export has no currency column (or the value is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Lines above the header (report titles). Default: the header is found as the first of
    /// the first 100 lines that holds every configured column name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_rows: Option<usize>,
    /// Export column → regular expression: a row whose value matches is a subtotal or total
    /// line, ignored and counted (`"^Total"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drop_rows: BTreeMap<String, String>,
    /// Export columns whose empty values take the value above (a customer written once on a
    /// group header line). A line with nothing but filled-down values is a group header,
    /// ignored and counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fill_down: Vec<String>,
    /// The export column that holds the customer on group header lines: a line whose only
    /// value is in this column names the customer of the lines below it (Xero and QuickBooks
    /// reports), and is itself ignored and counted. Then `columns.customer_id` is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_header: Option<String>,
    /// Separator between several references in `invoice_refs`. Default: `;`.
    #[serde(default = "crate::ingest::options::default_refs_separator")]
    pub refs_separator: String,
    /// Rows with the same document id and route are lines of one document (an ERPNext
    /// payment against two invoices is two ledger lines; an SAP document has several items):
    /// the first line carries the document with the amounts of all its lines added and their
    /// references joined; the others are counted as `ignored_combined_line`. Default false
    /// (a repeated id is a `duplicate_id`).
    #[serde(default)]
    pub combine_lines: bool,
    /// A row without a document number: `quarantine` (default, `missing_value`) or
    /// `row_number` (its id is `row-<n>`, n its row under the header: reports leave payment
    /// numbers empty).
    #[serde(default)]
    pub missing_id: MissingId,
}

/// What a row without a document id gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingId {
    #[default]
    Quarantine,
    RowNumber,
}

/// The columns a source may map, and whether the value is derived by the source (and kept
/// under [`DERIVED_PREFIX`]) or passed through as written.
pub(crate) const SOURCE_COLUMNS: &[&str] = &[
    "doc_id",
    "customer_id",
    "doc_date",
    "due_date",
    "amount",
    "currency",
    "applies_to",
    "disputed",
    "terms",
    "payment_id",
    "payment_date",
    "invoice_refs",
    "method",
    "name",
];

/// A checked source: how to read it, route its rows and derive their values.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    /// How its files are found and read (kind `ledger`, key `sources.<name>`).
    pub read: InputSpec,
    pub skip_rows: Option<usize>,
    pub sheet: Option<String>,
    /// Canonical column → export column, for the columns the config maps or that exist
    /// under their canonical name.
    pub columns: BTreeMap<String, String>,
    pub key: Vec<String>,
    pub type_column: Option<String>,
    pub route: Vec<(String, Route)>,
    pub fallback: Option<Route>,
    pub sign: SignRule,
    pub indicator: Option<Indicator>,
    pub debit_column: Option<String>,
    pub credit_column: Option<String>,
    pub negative_invoices: Reversal,
    pub clearing_column: Option<String>,
    pub settlement: Option<Settlement>,
    pub terms: Option<Terms>,
    pub customer_names: bool,
    pub currency: Option<String>,
    pub drop_rows: Vec<(String, Regex)>,
    pub fill_down: Vec<String>,
    pub refs_separator: String,
    pub group_header: Option<String>,
    pub combine_lines: bool,
    pub missing_id: MissingId,
    pub date: DateParser,
    /// Export columns with their own date format.
    pub date_formats: Vec<(String, DateParser)>,
    pub numbers: NumberFormat,
    /// Rows of a CSV file parsed and routed at a time ([`super::blocks::BLOCK_ROWS`]; not a
    /// config setting). Any size gives the same rows; a multiple of the routing's slices
    /// also gives the same structural decisions (a column where most amounts fail) as a
    /// file read whole. Tests set it small to cross block boundaries cheaply.
    pub block_rows: usize,
}

impl SourceSpec {
    /// The export column mapped to canonical `name` (the canonical name itself by default).
    pub fn column<'a>(&'a self, name: &'a str) -> &'a str {
        self.columns.get(name).map(String::as_str).unwrap_or(name)
    }

    /// The date parser of an export column: its own format, else `date_format`.
    pub fn date_of(&self, column: &str) -> &DateParser {
        self.date_formats.iter().find(|(c, _)| c == column).map(|(_, p)| p).unwrap_or(&self.date)
    }

    /// Whether an export column has a date format of its own.
    pub fn own_date_format(&self, column: &str) -> bool {
        self.date_formats.iter().any(|(c, _)| c == column)
    }

    /// The export columns the source reads, each with the canonical column a failure in it is
    /// reported on (key parts on `doc_id`, the type column on `doc_type`).
    pub fn read_columns(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = self
            .columns
            .iter()
            .filter_map(|(c, e)| SOURCE_COLUMNS.iter().find(|s| **s == c.as_str()).map(|s| (*s, e.as_str())))
            .collect();
        out.extend(self.key.iter().map(|k| ("doc_id", k.as_str())));
        out.extend(self.type_column.iter().map(|t| ("doc_type", t.as_str())));
        out
    }

    /// Whether the config maps `name` explicitly.
    pub fn maps(&self, name: &str) -> bool {
        self.columns.contains_key(name)
    }

    /// The route of a type value: exact, then ignoring case, then `"*"`.
    pub fn route_of(&self, value: &str) -> Option<Route> {
        self.route
            .iter()
            .find(|(v, _)| v == value)
            .or_else(|| self.route.iter().find(|(v, _)| v.eq_ignore_ascii_case(value)))
            .map(|(_, r)| *r)
            .or(self.fallback)
    }

    /// Whether any route sends rows to `kind` (settlement dates send payments too).
    pub fn feeds(&self, kind: InputKind) -> bool {
        let routes = self.route.iter().map(|(_, r)| *r).chain(self.fallback);
        match kind {
            InputKind::Ledger => routes.clone().any(|r| r.doc_type().is_some()),
            InputKind::Payments => self.settlement.is_some() || routes.clone().any(|r| r == Route::Payment),
            _ => false,
        }
    }

    /// The spec the rows routed to `kind` are validated with: every canonical column read
    /// from what the source derived, messages naming the export's columns and this source.
    pub fn routed(&self, kind: InputKind) -> InputSpec {
        let mut spec = self.read.clone();
        spec.kind = kind;
        spec.numbers = NumberFormat::default();
        spec.doc_types = DocType::ALL.iter().map(|d| (d.as_str().to_string(), *d)).collect();
        // Read as the export writes them (parsed by the ledger's rules with this source's
        // date format and flags); everything else is derived.
        let mut passthrough = vec!["disputed", "terms", "method"];
        if !self.own_date_format(self.column("doc_date")) {
            passthrough.push("doc_date");
        }
        if self.terms.is_none() && !self.own_date_format(self.column("due_date")) {
            passthrough.push("due_date");
        }
        spec.columns = kind
            .columns()
            .iter()
            .map(|c| match passthrough.contains(&c.name) {
                true => (c.name, self.column(c.name).to_string()),
                false => (c.name, format!("{DERIVED_PREFIX}{}", c.name)),
            })
            .collect();
        spec.origins = kind.columns().iter().map(|c| (c.name, self.origin(kind, c.name))).collect();
        spec
    }

    /// The export column(s) a canonical column of `kind` is derived from, for messages.
    fn origin(&self, kind: InputKind, canonical: &str) -> String {
        let own = |name: &str| self.column(name).to_string();
        match (kind, canonical) {
            (_, "doc_id" | "payment_id") if !self.key.is_empty() => self.key.join(" + "),
            (InputKind::Payments, "payment_id") if !self.maps("payment_id") => own("doc_id"),
            (InputKind::Payments, "payment_date") if !self.maps("payment_date") => own("doc_date"),
            (_, "doc_type") => self.type_column.clone().unwrap_or_else(|| "(route \"*\")".into()),
            (_, "customer_id") if self.group_header.is_some() => {
                format!("{} (group header)", self.group_header.as_deref().unwrap_or_default())
            }
            (_, "amount") => match self.sign {
                SignRule::Columns => format!(
                    "{} - {}",
                    self.debit_column.as_deref().unwrap_or_default(),
                    self.credit_column.as_deref().unwrap_or_default()
                ),
                _ => own("amount"),
            },
            _ => own(canonical),
        }
    }
}

impl SourceParams {
    /// Check every field, resolving relative paths against `base_dir`.
    pub fn check(&self, name: &str, base_dir: &Path) -> Result<SourceSpec> {
        let key = |field: &str| format!("sources.{name}.{field}");
        let bad = |field: &str, what: String| EngineError::config(format!("`{}` {what}", key(field)));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(EngineError::config(format!(
                "`sources.{name}`: a source name is letters, digits, `_` and `-`"
            )));
        }
        // Reading (path, format, delimiter, dates, numbers, flags) is checked as an input's.
        let mut reading = InputParams::new(self.path.clone());
        reading.format = self.format;
        reading.delimiter = self.delimiter;
        reading.encoding = self.encoding.clone();
        reading.date_format = self.date_format.clone();
        reading.decimal_separator = self.decimal_separator;
        reading.thousands_separator = self.thousands_separator;
        reading.true_values = self.true_values.clone();
        reading.false_values = self.false_values.clone();
        reading.refs_separator = self.refs_separator.clone();
        let mut read = reading.check(InputKind::Ledger, base_dir).map_err(|e| {
            EngineError::config(e.to_string().trim_start_matches("config: ").replace("inputs.ledger.", &key("")))
        })?;
        read.key = format!("sources.{name}");
        for canonical in self.columns.keys() {
            if !SOURCE_COLUMNS.contains(&canonical.as_str()) {
                return Err(bad(
                    "columns",
                    format!("maps unknown column `{canonical}`; a source's columns are: {}", SOURCE_COLUMNS.join(", ")),
                ));
            }
        }
        let mut route = Vec::new();
        let mut fallback = None;
        for (value, r) in &self.route {
            match value.as_str() {
                "*" => fallback = Some(*r),
                _ => route.push((value.trim().to_string(), *r)),
            }
        }
        if self.route.is_empty() {
            return Err(bad(
                "route",
                "is empty; map each value of `type_column` to invoice, credit_memo, debit_memo, write_off, payment or ignore (or `\"*\" = \"invoice\"` for an export of invoices only)".into(),
            ));
        }
        if self.type_column.is_none() && !route.is_empty() {
            return Err(bad(
                "route",
                "maps type values, but no `type_column` says where they are; set `type_column`, or route every row with `\"*\"`".into(),
            ));
        }
        if self.type_column.is_none() && fallback.is_none() {
            return Err(bad("route", "needs `\"*\"` when there is no `type_column`".into()));
        }
        match self.sign {
            SignRule::Indicator if self.indicator.is_none() => {
                return Err(bad(
                    "sign",
                    "is \"indicator\" but no `indicator = { column = ..., debit = [...], credit = [...] }` is set"
                        .into(),
                ));
            }
            SignRule::Columns if self.debit_column.is_none() || self.credit_column.is_none() => {
                return Err(bad(
                    "sign",
                    "is \"columns\" but `debit_column` and `credit_column` are not both set".into(),
                ));
            }
            _ => {}
        }
        if let Some(i) = &self.indicator
            && let Some(both) = i.debit.iter().find(|d| i.credit.iter().any(|c| c.eq_ignore_ascii_case(d)))
        {
            return Err(bad("indicator", format!("lists \"{both}\" as both debit and credit")));
        }
        if let Some(c) = &self.currency
            && !crate::contracts::is_currency(c)
        {
            return Err(bad("currency", format!("= \"{c}\" is not an ISO 4217 currency code")));
        }
        let mut drop_rows = Vec::new();
        for (column, pattern) in &self.drop_rows {
            let re = Regex::new(pattern).map_err(|e| {
                bad("drop_rows", format!("`{column}` = \"{pattern}\" is not a regular expression: {e}"))
            })?;
            drop_rows.push((column.clone(), re));
        }
        if self.settlement.is_some() && !self.feeds_invoices() {
            return Err(bad("settlement", "is set but no route sends rows to invoices".into()));
        }
        let mut date_formats = Vec::new();
        for (column, format) in &self.date_formats {
            let parser = DateParser::new(format).map_err(|m| bad("date_formats", format!("`{column}`: {m}")))?;
            date_formats.push((column.clone(), parser));
        }
        let mut columns = self.columns.clone();
        for (canonical, export) in &mut columns {
            if export.trim().is_empty() {
                return Err(bad("columns", format!("`{canonical}` maps to an empty column name")));
            }
        }
        Ok(SourceSpec {
            name: name.to_string(),
            date: read.date.clone(),
            numbers: read.numbers,
            read,
            skip_rows: self.skip_rows,
            sheet: self.sheet.clone(),
            columns,
            key: self.key.clone(),
            type_column: self.type_column.clone(),
            route,
            fallback,
            sign: self.sign,
            indicator: self.indicator.clone(),
            debit_column: self.debit_column.clone(),
            credit_column: self.credit_column.clone(),
            negative_invoices: self.negative_invoices,
            clearing_column: self.clearing_column.clone(),
            settlement: self.settlement.clone(),
            terms: self.terms.clone(),
            customer_names: self.customer_names,
            currency: self.currency.clone(),
            drop_rows,
            fill_down: self.fill_down.clone(),
            refs_separator: self.refs_separator.clone(),
            group_header: self.group_header.clone(),
            combine_lines: self.combine_lines,
            missing_id: self.missing_id,
            date_formats,
            block_rows: super::blocks::BLOCK_ROWS,
        })
    }

    fn feeds_invoices(&self) -> bool {
        self.route.values().any(|r| *r == Route::Invoice)
    }
}
