//! `ardent inspect`: what an unknown export looks like, and a first config for it.
//!
//! [`inspect`] reads a sample of the file (CSV: the first 32 MB; spreadsheets and JSON
//! whole; Parquet the first 100,000 rows) and decides what it can: encoding, delimiter,
//! title lines above the header, each column's role (from its name and its values), date
//! and number formats, the type column and its values, the sign convention, link columns,
//! report lines (totals, group headers). [`Inspection::proposal`] writes it as a
//! `[sources.export]` section that `ardent validate` accepts, every guess marked `check`,
//! and lists what it could not decide.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::options::Format;
use super::parse::{COMMON_DATE_FORMATS, DateParser, NumberFormat};
use super::source::Route;
use super::source::report::{split_fields, unnamed};
use crate::error::{EngineError, Result};

/// CSV bytes sampled.
const SAMPLE_BYTES: u64 = 32 << 20;
/// Lines searched for the header.
const HEADER_LINES: usize = 100;

/// What a column holds, as far as its name and values tell.
#[derive(Debug, Clone, Default)]
pub struct ColumnReport {
    pub name: String,
    /// Non-empty values in the sample.
    pub filled: usize,
    /// The date format every non-empty value fits (the first that does), if any.
    pub date_format: Option<String>,
    /// Whether every non-empty value reads as an amount with the sniffed separators.
    pub amount: bool,
    /// Whether some amounts are negative (leading or trailing minus, parentheses).
    pub negative: bool,
    /// Distinct values and their counts, when there are at most 40.
    pub values: Option<Vec<(String, usize)>>,
    /// Share of values with a space and a letter (names rather than ids).
    pub names: bool,
    /// Whether a value occurs more than once.
    pub repeats: bool,
}

/// What `inspect` found.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub path: String,
    pub format: &'static str,
    /// The text encoding the sample looks like (CSV).
    pub encoding: super::encoding::Encoding,
    pub delimiter: Option<char>,
    /// Lines above the header.
    pub skip_rows: usize,
    pub decimal: char,
    pub thousands: Option<char>,
    pub rows: usize,
    pub columns: Vec<ColumnReport>,
    /// Canonical role → column, as decided.
    pub roles: BTreeMap<&'static str, String>,
    pub type_routes: Vec<(String, usize, Option<Route>)>,
    /// Rows of the first column that look like totals (`Total …`, `*`).
    pub total_pattern: Option<String>,
    /// Whether the customer column is filled on group header lines only.
    pub fill_down: bool,
    /// The column that holds group header lines (a customer, or an aging bucket), if any.
    pub group_column: Option<String>,
    pub notes: Vec<String>,
}

/// Names each role goes by in the field (compared ignoring case, spaces and punctuation).
const ROLE_NAMES: &[(&str, &[&str])] = &[
    (
        "type",
        &[
            "documenttype",
            "type",
            "transactiontype",
            "accountingdocumenttype",
            "belegart",
            "doctype",
            "vouchertype",
            "journal",
            "blart",
        ],
    ),
    (
        "doc_id",
        &[
            "documentnumber",
            "documentno",
            "num",
            "invoicenumber",
            "accountingdocument",
            "belegnummer",
            "docid",
            "journalentry",
            "voucherno",
            "number",
            "invoiceno",
            "belnr",
        ],
    ),
    (
        "customer_id",
        &[
            "account",
            "customer",
            "customerno",
            "customerid",
            "kunde",
            "konto",
            "customerid",
            "partner",
            "name",
            "contact",
            "party",
            "kunnr",
            "customername",
        ],
    ),
    (
        "doc_date",
        &["documentdate", "date", "invoicedate", "postingdate", "belegdatum", "docdate", "transactiondate", "bldat"],
    ),
    ("due_date", &["netduedate", "duedate", "nettofalligkeit", "nettofälligkeit", "duedatereceiveby", "faedt"]),
    (
        "amount",
        &[
            "amountindoccurr",
            "amount",
            "invoiceamount",
            "amountintransactioncurrency",
            "betrag",
            "betraginhauswahrung",
            "total",
            "wrbtr",
            "wrshb",
        ],
    ),
    (
        "currency",
        &["documentcurrency", "currency", "currencycode", "transactioncurrency", "wahrung", "währung", "waers"],
    ),
    (
        "clearing",
        &["clearingdocument", "matching", "clearingaccountingdocument", "ausgleichsbeleg", "matchingnumber", "augbl"],
    ),
    ("applies_to", &["appliestodocno", "appliedto", "appliedtotransaction", "againstvoucher", "invoicereference"]),
    ("settlement", &["settleddate", "paiddate", "datepaid", "settlementdate", "cleareddate"]),
    ("debit", &["debit", "amountdebit", "soll", "debitamount"]),
    ("credit", &["credit", "amountcredit", "haben", "creditamount"]),
    ("indicator", &["debitcreditind", "debitcreditcode", "dc", "sh", "shkzg", "debitcreditindicator"]),
    ("terms", &["paymentterms", "terms", "zterm"]),
];

/// Type values as ERPs write them, and where they go.
const TYPE_VALUES: &[(&str, Route)] = &[
    ("rv", Route::Invoice),
    ("dr", Route::Invoice),
    ("invoice", Route::Invoice),
    ("salesinvoice", Route::Invoice),
    ("inv", Route::Invoice),
    ("customerinvoices", Route::Invoice),
    ("dg", Route::CreditMemo),
    ("creditmemo", Route::CreditMemo),
    ("creditnote", Route::CreditMemo),
    ("salescreditmemo", Route::CreditMemo),
    ("dz", Route::Payment),
    ("payment", Route::Payment),
    ("paymententry", Route::Payment),
    ("customerpayment", Route::Payment),
    ("bank", Route::Payment),
    ("cash", Route::Payment),
    ("receipt", Route::Payment),
    ("financechargememo", Route::DebitMemo),
    ("statementcharge", Route::DebitMemo),
    ("reminder", Route::DebitMemo),
    ("debitmemo", Route::DebitMemo),
    ("writeoff", Route::WriteOff),
    ("baddebt", Route::WriteOff),
    ("ab", Route::Ignore),
    ("journal", Route::Ignore),
    ("journalentry", Route::Ignore),
    ("estimate", Route::Ignore),
    ("salesreceipt", Route::Ignore),
    ("miscellaneousoperations", Route::Ignore),
];

fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Read a sample of `path` and decide what it can.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let format = Format::from_path(path).unwrap_or(Format::Csv);
    let mut out = Inspection {
        path: path.display().to_string(),
        format: format.name(),
        encoding: super::encoding::Encoding::Utf8,
        decimal: '.',
        ..Default::default()
    };
    let (header, rows): (Vec<String>, Vec<Vec<Option<String>>>) = match format {
        Format::Csv => {
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .map_err(EngineError::io("opening", path))?
                .take(SAMPLE_BYTES)
                .read_to_end(&mut bytes)
                .map_err(EngineError::io("reading", path))?;
            // A sample cut in the middle of a character is still UTF-8.
            let utf8 = std::str::from_utf8(&bytes).is_ok()
                || std::str::from_utf8(&bytes[..bytes.len().saturating_sub(3)]).is_ok();
            out.encoding = if utf8 { super::encoding::Encoding::Utf8 } else { super::encoding::sniff(&bytes) };
            if !utf8 {
                out.notes.push(format!(
                    "the file is not UTF-8; its bytes look like {}, which the proposal sets (check it: windows-1252 and latin-1 differ only in rare characters)",
                    out.encoding.name()
                ));
            }
            let text = super::encoding::decode_sample(&bytes, out.encoding);
            let lines: Vec<&str> = text.lines().collect();
            let delimiter = sniff_delimiter(&lines);
            out.delimiter = Some(delimiter);
            let split: Vec<Vec<String>> = lines.iter().map(|l| split_fields(l, delimiter)).collect();
            let at = find_header(&split);
            out.skip_rows = at;
            let header: Vec<String> = split.get(at).cloned().unwrap_or_default();
            let header =
                header.into_iter().enumerate().map(|(k, h)| if h.is_empty() { unnamed(k) } else { h }).collect();
            let rows = split
                .into_iter()
                .skip(at + 1)
                .map(|r| r.into_iter().map(|v| Some(v).filter(|v| !v.is_empty())).collect())
                .collect();
            (header, rows)
        }
        Format::Xlsx => {
            let grid = super::excel::read_grid(path, None, b'.').map_err(|reason| EngineError::Unreadable {
                input: "inspect".into(),
                path: path.to_path_buf(),
                format: "xlsx".into(),
                reason,
            })?;
            let split: Vec<Vec<String>> =
                grid.iter().map(|r| r.iter().map(|c| c.clone().unwrap_or_default()).collect()).collect();
            let at = find_header(&split);
            out.skip_rows = at;
            let header = split.get(at).cloned().unwrap_or_default();
            let header = header
                .into_iter()
                .enumerate()
                .map(|(k, h)| if h.trim().is_empty() { unnamed(k) } else { h.trim().to_string() })
                .collect();
            (header, grid.into_iter().skip(at + 1).collect())
        }
        Format::Ndjson | Format::Parquet => {
            let frame = read_frame(path, format)?;
            let header: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
            let texts: Vec<Vec<Option<String>>> = frame
                .columns()
                .iter()
                .map(|c| {
                    let s = c.cast(&polars::prelude::DataType::String).ok();
                    let ca = s.as_ref().and_then(|s| s.str().ok());
                    (0..frame.height()).map(|i| ca.and_then(|ca| ca.get(i)).map(str::to_string)).collect()
                })
                .collect();
            let rows = (0..frame.height()).map(|i| texts.iter().map(|c| c[i].clone()).collect()).collect();
            (header, rows)
        }
    };
    out.rows = rows.len();
    analyse(&mut out, &header, &rows);
    Ok(out)
}

fn read_frame(path: &Path, format: Format) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let unreadable = |e: String| EngineError::Unreadable {
        input: "inspect".into(),
        path: path.to_path_buf(),
        format: format.name().into(),
        reason: e,
    };
    if format == Format::Parquet {
        let file = std::fs::File::open(path).map_err(EngineError::io("opening", path))?;
        return ParquetReader::new(file).with_slice(Some((0, 100_000))).finish().map_err(|e| unreadable(e.to_string()));
    }
    // JSON documents and JSON lines, read as a source reads them.
    let params: super::source::SourceParams =
        serde_json::from_value(serde_json::json!({ "path": path.display().to_string(), "route": { "*": "invoice" } }))
            .map_err(|e| unreadable(e.to_string()))?;
    let spec = params.check("inspect", Path::new("."))?;
    let file = super::read::SourceFile { path: path.to_path_buf(), format };
    super::source::report::read_source_file(&spec, &file)
}

/// The delimiter that splits most lines into the same number (> 1) of fields.
pub fn sniff_delimiter(lines: &[&str]) -> char {
    let sample: Vec<&&str> = lines.iter().filter(|l| !l.trim().is_empty()).take(200).collect();
    let mut best = (',', 0usize);
    for d in [',', ';', '\t', '|'] {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for l in &sample {
            *counts.entry(split_fields(l, d).len()).or_default() += 1;
        }
        // Lines agreeing on the most common field count above 1, weighted by that count.
        let score = counts.iter().filter(|(n, _)| **n > 1).map(|(n, c)| c * n.min(&40)).max().unwrap_or(0);
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

/// The header: the first of the first 100 lines with at least 60% of the widest line's
/// fields filled, none of them a number or a date, followed by a line of the same width.
fn find_header(lines: &[Vec<String>]) -> usize {
    let sample = &lines[..lines.len().min(HEADER_LINES)];
    let width = |l: &Vec<String>| l.iter().filter(|f| !f.trim().is_empty()).count();
    let widest = sample.iter().map(width).max().unwrap_or(0);
    // A header's fields are names: at most a quarter of them read as numbers or dates.
    let parsers: Vec<DateParser> = COMMON_DATE_FORMATS.iter().filter_map(|f| DateParser::new(f).ok()).collect();
    let us = NumberFormat { decimal: b'.', thousands: Some(b',') };
    let eu = NumberFormat { decimal: b',', thousands: Some(b'.') };
    let data_like = |f: &str| {
        us.parse_scaled(f, 2).is_ok() || eu.parse_scaled(f, 2).is_ok() || parsers.iter().any(|p| p.parse(f).is_some())
    };
    let labels = |l: &Vec<String>| {
        let filled: Vec<&str> = l.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect();
        filled.iter().filter(|f| data_like(f)).count() * 4 <= filled.len()
    };
    sample
        .iter()
        .enumerate()
        .position(|(i, l)| {
            width(l) * 10 >= widest * 6 && labels(l) && sample.get(i + 1).is_some_and(|n| n.len() >= l.len().min(2))
        })
        .unwrap_or(0)
}

fn analyse(out: &mut Inspection, header: &[String], rows: &[Vec<Option<String>>]) {
    // Report lines: a line with one value (a group header: `Acme Inc`, `Current`) or a total
    // line (`Total ...`, `*`) says nothing about the columns' formats.
    let filled = |r: &Vec<Option<String>>| -> Vec<usize> {
        r.iter()
            .enumerate()
            .filter(|(_, v)| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
            .map(|(k, _)| k)
            .collect()
    };
    let totalish = |v: &str| v.starts_with("Total") || v.starts_with("TOTAL") || v.starts_with('*');
    let report_line: Vec<bool> = rows
        .iter()
        .map(|r| {
            let f = filled(r);
            f.len() == 1 || f.iter().any(|&k| r[k].as_deref().is_some_and(|v| totalish(v.trim())))
        })
        .collect();
    let values = |k: usize| {
        rows.iter()
            .zip(&report_line)
            .filter(|(_, skip)| !**skip)
            .filter_map(move |(r, _)| r.get(k).cloned().flatten())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // Group headers: lines whose one value sits in the same column.
    let mut singles: BTreeMap<usize, usize> = BTreeMap::new();
    for r in rows {
        let f = filled(r);
        if let [k] = f.as_slice()
            && !r[*k].as_deref().is_some_and(|v| totalish(v.trim()))
        {
            *singles.entry(*k).or_default() += 1;
        }
    }
    out.group_column =
        singles.iter().max_by_key(|(_, n)| **n).filter(|(_, n)| **n >= 2).map(|(k, _)| header[*k].clone());
    // Number notation: a decimal comma when amounts end in ",dd".
    let all: Vec<String> = (0..header.len()).flat_map(values).take(200_000).collect();
    let comma = all.iter().filter(|v| ends_in_two(v, ',')).count();
    let dot = all.iter().filter(|v| ends_in_two(v, '.')).count();
    if comma > dot {
        out.decimal = ',';
        out.thousands = Some('.');
    } else if all.iter().any(|v| v.contains(',') && ends_in_two(v, '.')) {
        out.thousands = Some(',');
    }
    let numbers = NumberFormat { decimal: out.decimal as u8, thousands: out.thousands.map(|t| t as u8) };
    for (k, name) in header.iter().enumerate() {
        let vs: Vec<String> = values(k).collect();
        let mut c = ColumnReport { name: name.clone(), filled: vs.len(), ..Default::default() };
        if !vs.is_empty() {
            c.date_format = date_format(&vs);
            c.amount = c.date_format.is_none()
                && vs.iter().all(|v| numbers.parse_scaled(v, 2).is_ok())
                && vs.iter().any(|v| v.contains(out.decimal) || v.len() < 9);
            c.negative = c.amount && vs.iter().any(|v| numbers.parse_scaled(v, 2).is_ok_and(|x| x < 0));
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for v in &vs {
                *counts.entry(v.as_str()).or_default() += 1;
            }
            c.repeats = counts.len() < vs.len();
            if counts.len() <= 40 {
                let mut list: Vec<(String, usize)> = counts.into_iter().map(|(v, n)| (v.to_string(), n)).collect();
                list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                c.values = Some(list);
            }
            c.names =
                vs.iter().filter(|v| v.contains(' ') && v.chars().any(char::is_alphabetic)).count() * 2 > vs.len();
        }
        out.columns.push(c);
    }
    // Roles: by name, confirmed by the values.
    for (role, names) in ROLE_NAMES {
        let fits = |c: &ColumnReport| match *role {
            "doc_date" | "due_date" | "settlement" => c.date_format.is_some(),
            "amount" | "debit" | "credit" => c.amount,
            "type" | "indicator" => c.values.is_some(),
            // One value over many rows is a ledger account, not a customer.
            "customer_id" => c.filled < 4 || c.values.as_ref().is_none_or(|v| v.len() > 1),
            _ => true,
        };
        let taken: Vec<String> = out.roles.values().cloned().collect();
        let exact = names.iter().find_map(|n| {
            out.columns
                .iter()
                .find(|c| squash(&c.name) == *n && fits(c) && !taken.contains(&c.name))
                .map(|c| c.name.clone())
        });
        // Debit and credit columns often carry their currency: `Debit (USD)`.
        let prefixed = || {
            if !matches!(*role, "debit" | "credit") {
                return None;
            }
            out.columns
                .iter()
                .find(|c| squash(&c.name).starts_with(role) && fits(c) && !taken.contains(&c.name))
                .map(|c| c.name.clone())
        };
        if let Some(f) = exact.or_else(prefixed) {
            out.roles.insert(role, f);
        }
    }
    // An applies-to column names documents of the file.
    if let (Some(a), Some(d)) = (out.roles.get("applies_to").cloned(), out.roles.get("doc_id").cloned()) {
        let ids: std::collections::HashSet<String> =
            header.iter().position(|h| *h == d).map(|k| values(k).collect()).unwrap_or_default();
        let refs: Vec<String> = header.iter().position(|h| *h == a).map(|k| values(k).collect()).unwrap_or_default();
        if refs.iter().filter(|r| ids.contains(*r)).count() * 2 < refs.len() {
            out.roles.remove("applies_to");
        }
    }
    // No customer column, but group headers: the customer heads its lines.
    if !out.roles.contains_key("customer_id")
        && let Some(g) = out.group_column.clone()
        && !g.starts_with("column_")
    {
        out.roles.insert("group_header", g);
    }
    // A report's unnamed first column holding the customer on group header lines.
    if let Some(first) = out.columns.first()
        && first.name.starts_with("column_")
        && first.filled * 2 < rows.len()
    {
        out.roles.insert("customer_id", first.name.clone());
        out.fill_down = true;
    }
    if let Some(t) = out.roles.get("type").cloned() {
        let column = out.columns.iter().find(|c| c.name == t);
        out.type_routes = column
            .and_then(|c| c.values.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(v, n)| {
                let route = TYPE_VALUES.iter().find(|(k, _)| *k == squash(&v)).map(|(_, r)| *r);
                (v, n, route)
            })
            .collect();
    }
    // Total lines in the first column or the customer column.
    let candidates: Vec<usize> =
        [0].into_iter().chain(out.roles.get("customer_id").and_then(|c| header.iter().position(|h| h == c))).collect();
    for k in candidates {
        let vs: Vec<&str> = rows.iter().filter_map(|r| r.get(k).and_then(|v| v.as_deref())).map(str::trim).collect();
        if vs.iter().any(|v| v.starts_with('*')) {
            out.total_pattern = Some(format!("{}\u{1f}^\\*", header[k]));
        } else if vs.iter().any(|v| v.starts_with("Total")) {
            out.total_pattern = Some(format!("{}\u{1f}^(Total|TOTAL)", header[k]));
        }
        if out.total_pattern.is_some() {
            break;
        }
    }
}

fn ends_in_two(v: &str, sep: char) -> bool {
    let t = v
        .trim()
        .trim_end_matches(['-', ')', ' '])
        .trim_end_matches(|c: char| c.is_alphabetic() || c == '€' || c == '$');
    let b = t.trim_end().as_bytes();
    b.len() >= 4 && b[b.len() - 3] == sep as u8 && b[b.len() - 2].is_ascii_digit() && b[b.len() - 1].is_ascii_digit()
}

/// The first date format every value fits (ambiguous day/month orders are told apart by a
/// day above 12); ISO timestamps and spreadsheet serials count as ISO dates.
fn date_format(values: &[String]) -> Option<String> {
    let sample: Vec<&String> = values.iter().take(5_000).collect();
    COMMON_DATE_FORMATS
        .iter()
        .find(|f| {
            // Within 1900..2100, so that numbers (90000101) are not taken for dates.
            DateParser::new(f)
                .is_ok_and(|p| sample.iter().all(|v| p.parse(v).is_some_and(|d| (-25_567..47_482).contains(&d))))
        })
        .map(|f| f.to_string())
}

impl Inspection {
    /// A `[sources.export]` config for the file (`path` as given), every guess marked.
    pub fn proposal(&self, path: &str) -> String {
        let role = |r: &str| self.roles.get(r).cloned();
        let mut s = format!("# Proposed by `ardent inspect {path}`: check the lines marked \"check\".\n");
        let mut undecided: Vec<String> = Vec::new();
        let currency_values = role("currency")
            .and_then(|c| self.columns.iter().find(|x| x.name == c).and_then(|x| x.values.clone()))
            .and_then(|v| v.first().map(|(c, _)| c.clone()));
        let reporting =
            currency_values.clone().filter(|c| crate::contracts::is_currency(c)).unwrap_or_else(|| "USD".into());
        s.push_str(&format!(
            "\n[run]\nreporting_currency = \"{reporting}\"   # check: the currency the numbers are reported in\n"
        ));
        s.push_str("\n[sources.export]\n");
        s.push_str(&format!("path = {}\n", toml_str(path)));
        if self.encoding != super::encoding::Encoding::Utf8 {
            s.push_str(&format!("encoding = \"{}\"   # check: the bytes are not UTF-8\n", self.encoding.name()));
        }
        if let Some(d) = self.delimiter.filter(|d| *d != ',') {
            s.push_str(&format!("delimiter = {}\n", toml_str(&d.to_string())));
        }
        if self.skip_rows > 0 {
            s.push_str(&format!("skip_rows = {}   # title lines above the header\n", self.skip_rows));
        }
        let date = role("doc_date")
            .and_then(|c| self.columns.iter().find(|x| x.name == c))
            .and_then(|c| c.date_format.clone());
        match &date {
            Some(f) if f != "%Y-%m-%d" => s.push_str(&format!("date_format = {}\n", toml_str(f))),
            Some(_) => {}
            None => undecided.push("the date format (no document date column was recognised)".into()),
        }
        if self.decimal != '.' {
            s.push_str(&format!("decimal_separator = {}\n", toml_str(&self.decimal.to_string())));
        }
        if let Some(t) = self.thousands {
            s.push_str(&format!("thousands_separator = {}\n", toml_str(&t.to_string())));
        }
        let mut columns = Vec::new();
        for (canonical, r) in [
            ("doc_id", "doc_id"),
            ("customer_id", "customer_id"),
            ("doc_date", "doc_date"),
            ("due_date", "due_date"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("terms", "terms"),
        ] {
            match role(r) {
                Some(c) => columns.push(format!("{canonical} = {}", toml_str(&c))),
                None if canonical == "customer_id" && role("group_header").is_some() => {}
                None if ["doc_id", "customer_id", "doc_date"].contains(&canonical) => {
                    undecided.push(format!("which column is `{canonical}`"))
                }
                None => {}
            }
        }
        if let (Some(a), None) = (role("applies_to"), role("clearing")) {
            columns.push(format!("invoice_refs = {}", toml_str(&a)));
            columns.push(format!("applies_to = {}", toml_str(&a)));
        }
        s.push_str(&format!("columns = {{ {} }}\n", columns.join(", ")));
        // SAP numbers documents per company code and fiscal year.
        let named = |names: &[&str]| {
            self.columns.iter().find(|c| names.contains(&squash(&c.name).as_str())).map(|c| c.name.clone())
        };
        if let (Some(cc), Some(fy), Some(doc)) =
            (named(&["companycode", "bukrs"]), named(&["fiscalyear", "gjahr"]), role("doc_id"))
        {
            s.push_str(&format!(
                "key = [{}, {}, {}]   # document numbers repeat across company codes and fiscal years\n",
                toml_str(&cc),
                toml_str(&doc),
                toml_str(&fy)
            ));
        }
        let partly = |r: &str| {
            role(r).and_then(|c| self.columns.iter().find(|x| x.name == c)).is_some_and(|c| c.filled < self.rows)
        };
        match role("currency") {
            None => s.push_str(&format!("currency = \"{reporting}\"   # check: the export has no currency column\n")),
            Some(_) if partly("currency") => s.push_str(&format!(
                "currency = \"{reporting}\"   # check: the currency of rows that leave it empty (local currency)\n"
            )),
            Some(_) => {}
        }
        if role("due_date").is_none() {
            s.push_str(
                "terms = { default_days = 30 }   # check: the export has no due dates; your standard payment terms\n",
            );
        }
        if partly("due_date")
            && let Some(t) = role("terms")
        {
            let codes: Vec<String> = self
                .columns
                .iter()
                .find(|x| x.name == t)
                .and_then(|x| x.values.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|(code, _)| {
                    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
                    format!("{} = {}", toml_str(&code), digits.parse::<u16>().unwrap_or(30))
                })
                .collect();
            s.push_str(&format!(
                "terms = {{ days = {{ {} }} }}   # check: days of each terms code, for rows without a due date\n",
                codes.join(", ")
            ));
        }
        if let Some(c) = role("customer_id")
            && self.columns.iter().find(|x| x.name == c).is_some_and(|x| x.names)
        {
            s.push_str("customer_names = true   # customers are known by name\n");
        }
        if let Some(g) = role("group_header") {
            s.push_str(&format!(
                "group_header = {}   # the customer's name heads its lines\ncustomer_names = true\n",
                toml_str(&g)
            ));
        }
        if self.fill_down
            && let Some(c) = role("customer_id")
        {
            s.push_str(&format!("fill_down = [{}]   # the customer is written on group header lines\n", toml_str(&c)));
        }
        if let Some(p) = &self.total_pattern {
            let (col, re) = p.split_once('\u{1f}').unwrap_or_default();
            s.push_str(&format!("drop_rows = {{ {} = '{re}' }}   # subtotal and total lines\n", toml_str(col)));
        }
        let has_payments = self.type_routes.iter().any(|(_, _, r)| *r == Some(Route::Payment));
        match role("type") {
            Some(t) => {
                s.push_str(&format!("type_column = {}\n", toml_str(&t)));
                let routes: Vec<String> = self
                    .type_routes
                    .iter()
                    .map(|(v, _, r)| format!("{} = \"{}\"", toml_str(v), r.unwrap_or(Route::Ignore).name()))
                    .collect();
                let mut routes = routes;
                if partly("type") {
                    routes.push("\"\" = \"ignore\"".into());
                }
                s.push_str(&format!("route = {{ {} }}\n", routes.join(", ")));
                if partly("type") {
                    s.push_str("# check: rows without a type are ignored (group headers, general journal lines)\n");
                }
                for (v, n, r) in &self.type_routes {
                    if r.is_none() {
                        s.push_str(&format!(
                            "# check: {n} rows of type {} are not recognised and ignored; route them\n",
                            toml_str(v)
                        ));
                    }
                }
            }
            None => {
                s.push_str("route = { \"*\" = \"invoice\" }   # check: no type column; every row is an invoice\n");
            }
        }
        if let Some(d) = role("settlement").filter(|_| !has_payments) {
            s.push_str(&format!(
                "settlement = {{ date = {} }}   # a settled invoice yields its payment\n",
                toml_str(&d)
            ));
        }
        let amount_negative =
            role("amount").and_then(|c| self.columns.iter().find(|x| x.name == c)).is_some_and(|c| c.negative);
        if let (Some(d), Some(c)) = (role("debit"), role("credit"))
            && role("amount").is_none()
        {
            s.push_str(&format!(
                "sign = \"columns\"\ndebit_column = {}\ncredit_column = {}\nnegative_invoices = \"credit_memo\"\n",
                toml_str(&d),
                toml_str(&c)
            ));
        } else if let Some(i) = role("indicator") {
            let values: Vec<String> = self
                .columns
                .iter()
                .find(|x| x.name == i)
                .and_then(|x| x.values.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|(v, _)| v)
                .collect();
            let is = |list: &[&str]| {
                values.iter().filter(|v| list.contains(&v.as_str())).map(|v| toml_str(v)).collect::<Vec<_>>().join(", ")
            };
            s.push_str(&format!(
                "sign = \"indicator\"\nindicator = {{ column = {}, debit = [{}], credit = [{}] }}   # check\nnegative_invoices = \"credit_memo\"\n",
                toml_str(&i),
                is(&["S", "D", "Dr", "DR", "01", "40"]),
                is(&["H", "C", "Cr", "CR", "11", "15", "50"])
            ));
        } else if amount_negative {
            s.push_str("sign = \"amount\"   # amounts are signed: credits and payments negative\nnegative_invoices = \"credit_memo\"\n");
        } else if role("amount").is_none() {
            undecided.push("which column holds the amount".into());
        }
        if let Some(c) = role("clearing") {
            s.push_str(&format!("clearing_column = {}\n", toml_str(&c)));
        }
        let repeated =
            role("doc_id").and_then(|c| self.columns.iter().find(|x| x.name == c)).is_some_and(|c| c.repeats);
        if repeated {
            s.push_str(
                "combine_lines = true   # check: document numbers repeat; their rows are lines of one document\n",
            );
        }
        if role("doc_id").is_some() && has_payments {
            s.push_str("missing_id = \"row_number\"   # rows without a number (payments in reports) take their row\n");
        }
        if !has_payments && role("settlement").is_none() {
            s.push_str("# check: no payment rows and no settlement date were recognised; add `[inputs.payments]` or route the payment type\n");
        }
        if !undecided.is_empty() {
            s.push_str("\n# Not decided:\n");
            for u in &undecided {
                s.push_str(&format!("#   {u}\n"));
            }
        }
        s
    }
}

/// A TOML string (basic, escaped).
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_and_headers_are_found_under_title_lines() {
        let lines = [
            "Report title",
            "Company",
            "",
            "Type;Date;Num;Amount",
            "Invoice;01.02.2025;1;1.234,56",
            "Payment;02.02.2025;2;100,00",
        ];
        let d = sniff_delimiter(&lines);
        assert_eq!(d, ';');
        let split: Vec<Vec<String>> = lines.iter().map(|l| split_fields(l, d)).collect();
        assert_eq!(find_header(&split), 3);
    }

    #[test]
    fn date_formats_tell_day_from_month_by_a_day_above_12() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(date_format(&v(&["31.12.2025", "01.02.2025"])).as_deref(), Some("%d.%m.%Y"));
        assert_eq!(date_format(&v(&["1/31/2025", "2/1/2025"])).as_deref(), Some("%m/%d/%Y"));
        assert_eq!(date_format(&v(&["2025-04-02T00:00:00.000Z"])).as_deref(), Some("%Y-%m-%d"));
        assert_eq!(date_format(&v(&["1190,00", "12"])), None);
    }
}
