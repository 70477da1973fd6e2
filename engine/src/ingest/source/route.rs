//! Routing the rows of one combined export: what each row is (a ledger document of a type, a
//! payment, or deliberately ignored), its amount with the sign taken off by the configured
//! convention, and the values derived from several columns (composite ids, due dates from
//! terms, settlement payments). Every row of the file ends in exactly one [`Target`].

use polars::prelude::*;

use super::super::columns::clean;
use super::super::parse::{DECIMAL18_MAX, DateParser, DecimalError, NumberFormat};
use super::super::quarantine::Rule;
use super::params::{MissingId, Reversal, Route, SignRule, SourceSpec};
use super::report::{Ignored, fill_down, missing, text, total_rows};
use crate::contracts::{DocType, MONEY_SCALE};
use crate::error::{EngineError, Result};
use polars::prelude::{StringChunked, StringChunkedBuilder};

/// Where a row of a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Ledger(DocType),
    Payment,
    Ignored(Ignored),
    /// Its type has no route: quarantined with the ledger (`unmapped_type`).
    Unmapped,
}

/// One file of a source, parsed and routed. Columns are row-aligned with `frame`; text
/// columns share the export's string buffers unless a value had to change (trimmed, a
/// float-written id, a composite key, a name, a link).
#[derive(Debug)]
pub struct Parsed {
    pub frame: DataFrame,
    pub target: Vec<Target>,
    /// The first rule the row failed in the source, on a canonical ledger column name.
    pub fail: Vec<Option<(Rule, &'static str)>>,
    pub doc_id: StringChunked,
    pub payment_id: StringChunked,
    pub customer: StringChunked,
    /// Amount without its sign, in cents.
    pub amount: Vec<Option<i64>>,
    pub currency: StringChunked,
    /// Due date derived from terms (days since the epoch), when terms are configured.
    pub due: Vec<Option<i32>>,
    /// The date text of a payment row as the export writes it.
    pub pay_date: StringChunked,
    pub applies_to: StringChunked,
    pub refs: StringChunked,
    pub clearing: StringChunked,
    /// Invoice rows that were settled: whether, the settlement date text, the amount paid.
    pub settled: Vec<bool>,
    pub settle_date: StringChunked,
    pub settle_amount: Vec<Option<i64>>,
    /// The type value as written (for messages and counts).
    pub type_value: StringChunked,
    /// Document and due dates of columns with their own format, as ISO dates (values that
    /// are not dates in it as written, for the rules to reject).
    pub doc_date: Option<StringChunked>,
    pub due_date: Option<StringChunked>,
}

/// Dates of a column with its own format rewritten as ISO dates, which every date format
/// reads; a value that is not a date stays as written.
fn iso_dates(ca: &StringChunked, parser: &DateParser) -> StringChunked {
    map_text(ca, |v| {
        Some(match parser.parse(v) {
            Some(d) => std::borrow::Cow::Owned(crate::calendar::from_epoch_days(d).to_string()),
            None => std::borrow::Cow::Borrowed(v),
        })
    })
}

/// An id as a spreadsheet may have written it: `2960623488.0` is `2960623488`.
pub fn normalise_id(s: &str) -> &str {
    // Most ids have no '.' (ids are short: a plain search beats a vectorised one).
    let Some(dot) = s.bytes().position(|b| b == b'.') else { return s };
    match Some((&s[..dot], &s[dot + 1..])) {
        Some((whole, zeros))
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && !zeros.is_empty()
                && zeros.bytes().all(|b| b == b'0') =>
        {
            whole
        }
        _ => s,
    }
}

/// The days of a terms code: from the map, else `NET30`, `Net 30`, `N30`, `30`.
pub fn terms_days(code: &str, map: &std::collections::BTreeMap<String, u16>) -> Option<u16> {
    if let Some(d) = map.get(code).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(code)).map(|(_, d)| d)) {
        return Some(*d);
    }
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let digits = compact.strip_prefix("NET").or_else(|| compact.strip_prefix('N')).unwrap_or(&compact);
    (!digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// `ca` with `f` applied to every value; the same buffers when `f` changes nothing.
pub fn map_text(ca: &StringChunked, f: impl Fn(&str) -> Option<std::borrow::Cow<'_, str>>) -> StringChunked {
    let changes = |v: Option<&str>| match v {
        None => false,
        Some(v) => !matches!(f(v), Some(std::borrow::Cow::Borrowed(b)) if b.len() == v.len()),
    };
    if !ca.iter().any(changes) {
        return ca.clone();
    }
    StringChunked::from_iter_options(ca.name().clone(), ca.iter().map(|v| v.and_then(&f).map(|c| c.into_owned())))
}

/// Text values of an export column, trimmed (empty as null); filled down when listed.
fn values(spec: &SourceSpec, frame: &DataFrame, column: &str, skip: &[bool]) -> Option<StringChunked> {
    let ca = text(frame, column)?;
    let trimmed = map_text(&ca, |v| clean(Some(v)).map(std::borrow::Cow::Borrowed));
    if !spec.fill_down.iter().any(|f| f == column) {
        return Some(trimmed);
    }
    let mut v: Vec<Option<String>> = trimmed.iter().map(|s| s.map(str::to_string)).collect();
    fill_down(&mut v, skip);
    Some(StringChunked::from_iter_options(ca.name().clone(), v.into_iter()))
}

/// Ids as written, without a spreadsheet's `.0`.
fn ids(ca: StringChunked) -> StringChunked {
    map_text(&ca, |v| Some(std::borrow::Cow::Borrowed(normalise_id(v))))
}

/// Cents of one value: `Err` when the value is not an amount (the row fails `invalid_amount`).
pub(super) type Cents = std::result::Result<i64, ()>;

/// The amounts of one export column as they are read, a value at a time: how many were
/// present and how many were not numbers at all, to tell a wrong number format (most values
/// fail) from a few broken values (their rows fail).
#[derive(Debug, Default)]
pub(super) struct AmountColumn {
    present: usize,
    syntax: usize,
    /// Row (in the slice) and value of the first that is not a number.
    first_bad: Option<(usize, String)>,
}

impl AmountColumn {
    /// The cents of value `v` (as read) of row `i`, signed as written.
    pub(super) fn parse(&mut self, numbers: &NumberFormat, v: Option<&str>, i: usize) -> Option<Cents> {
        let s = clean(v)?;
        self.present += 1;
        match numbers.parse_scaled(s, MONEY_SCALE as u32) {
            Ok(x) if x.abs() <= DECIMAL18_MAX => Some(Ok(x as i64)),
            Ok(_) => Some(Err(())),
            Err(e) => {
                if e == DecimalError::Syntax {
                    self.syntax += 1;
                    self.first_bad.get_or_insert_with(|| (i, s.to_string()));
                }
                Some(Err(()))
            }
        }
    }

    /// A column where most values are not numbers is a structural error naming the setting
    /// to change; `offset` is the slice's first row.
    pub(super) fn check(
        &self,
        spec: &SourceSpec,
        numbers: &NumberFormat,
        column: &str,
        path: &std::path::Path,
        offset: usize,
    ) -> Result<()> {
        if self.syntax == 0 || self.syntax * 2 <= self.present {
            return Ok(());
        }
        let (row, value) = self.first_bad.clone().unwrap_or_default();
        let other = if numbers.decimal == b'.' { ',' } else { '.' };
        Err(super::report::column_error(
            spec,
            path,
            column,
            format!(
                "{} of {} values are not amounts with decimal separator '{}' (first: \"{value}\" at row {}); if the export writes decimals with '{other}', set `sources.{}.decimal_separator = \"{other}\"` (and `thousands_separator`)",
                self.syntax,
                self.present,
                numbers.decimal as char,
                offset + row + 1,
                spec.name
            ),
        ))
    }
}

/// Amounts of an export column in cents, signed as written; a column where most values are
/// not numbers is a structural error naming the setting to change.
fn amounts(
    spec: &SourceSpec,
    frame: &DataFrame,
    column: &str,
    path: &std::path::Path,
    offset: usize,
) -> Result<Option<Vec<Option<Cents>>>> {
    let Ok(col) = frame.column(column) else { return Ok(None) };
    // Typed numbers (Parquet, NDJSON) are read through their text with a '.' decimal point.
    let numbers = if col.dtype().is_primitive_numeric() || matches!(col.dtype(), DataType::Decimal(_, _)) {
        NumberFormat::default()
    } else {
        spec.numbers
    };
    let ca = text(frame, column).unwrap_or_else(|| StringChunked::full_null("".into(), frame.height()));
    let mut read = AmountColumn::default();
    let out: Vec<Option<Cents>> = ca.iter().enumerate().map(|(i, v)| read.parse(&numbers, v, i)).collect();
    read.check(spec, &numbers, column, path, offset)?;
    Ok(Some(out))
}

/// The signed amount of a debit/credit column pair.
pub(super) fn debit_less_credit(d: Option<Cents>, c: Option<Cents>) -> Option<Cents> {
    match (d, c) {
        (None, None) => None,
        (Some(Err(())), _) | (_, Some(Err(()))) => Some(Err(())),
        (d, c) => Some(Ok(d.and_then(|x| x.ok()).unwrap_or(0) - c.and_then(|x| x.ok()).unwrap_or(0))),
    }
}

/// The type route of a run of rows: types repeat down a file, each run is looked up once.
#[derive(Debug, Default)]
pub(super) struct RouteRun {
    value: String,
    route: Option<Option<Route>>,
}

impl RouteRun {
    fn route(&mut self, spec: &SourceSpec, value: &str) -> Option<Route> {
        match self.route {
            Some(r) if self.value == value => r,
            _ => {
                let r = spec.route_of(value);
                self.value.clear();
                self.value.push_str(value);
                self.route = Some(r);
                r
            }
        }
    }
}

/// Where a row goes before its amount is read: a total line, a blank or group-header line
/// (`blank_line`), or its type's route (an empty type takes the route of `""` when one is
/// configured).
pub(super) fn row_target(
    spec: &SourceSpec,
    total: bool,
    blank_line: bool,
    type_value: Option<&str>,
    run: &mut RouteRun,
) -> Target {
    if total {
        return Target::Ignored(Ignored::TotalRow);
    }
    if blank_line {
        return Target::Ignored(Ignored::BlankRow);
    }
    match run.route(spec, type_value.unwrap_or_default()) {
        None => Target::Unmapped,
        Some(Route::Ignore) => Target::Ignored(Ignored::Type),
        Some(Route::Payment) => Target::Payment,
        Some(r) => Target::Ledger(r.doc_type().unwrap_or(DocType::Invoice)),
    }
}

/// A due date from terms where the export gives none (`given`): the baseline date plus the
/// days of the row's terms code (or the default days). Returns the date or the rule the row
/// fails, neither when the ledger's own rules will report a missing due date.
pub(super) fn due_from_terms(
    terms: &super::params::Terms,
    given: Option<std::result::Result<i32, ()>>,
    code: Option<&str>,
    baseline: Option<std::result::Result<i32, ()>>,
    baseline_is_doc_date: bool,
) -> (Option<i32>, Option<(Rule, &'static str)>) {
    match given {
        Some(Ok(d)) => return (Some(d), None),
        Some(Err(())) => return (None, Some((Rule::InvalidDate, "due_date"))),
        None => {}
    }
    let days = match code {
        Some(c) => Some(terms_days(c, &terms.days)),
        None => terms.default_days.map(Some),
    };
    match (baseline, days) {
        (Some(Ok(b)), Some(Some(days))) => (Some(b + i32::from(days)), None),
        // A baseline that is the document date fails as the document date.
        (Some(Err(())), _) => {
            (None, Some((Rule::InvalidDate, if baseline_is_doc_date { "doc_date" } else { "due_date" })))
        }
        (_, Some(None)) => (None, Some((Rule::UnknownTerms, "due_date"))),
        // No baseline date or no terms: the ledger's rules report the missing due date.
        _ => (None, None),
    }
}

/// The first rule a row fails in the source, after its sign (`fail`): an unmapped type, a
/// receivable's due date from terms, another number of fields than the header's, bytes that
/// were not text (`not_text`: the canonical column of the first such value).
pub(super) fn row_fail(
    target: Target,
    mut fail: Option<(Rule, &'static str)>,
    due_fail: Option<(Rule, &'static str)>,
    ragged: bool,
    not_text: impl FnOnce() -> Option<&'static str>,
) -> Option<(Rule, &'static str)> {
    if target == Target::Unmapped {
        fail = Some((Rule::UnmappedType, "doc_type"));
    }
    if let (Target::Ledger(t), None, Some(failed)) = (target, fail, due_fail)
        && t.is_receivable()
    {
        fail = Some(failed);
    }
    let routed = matches!(target, Target::Ledger(_) | Target::Payment);
    if fail.is_none() && routed && ragged {
        fail = Some((Rule::WrongFieldCount, "doc_id"));
    }
    if fail.is_none()
        && routed
        && let Some(column) = not_text()
    {
        fail = Some((Rule::InvalidEncoding, column));
    }
    fail
}

/// The payment a settled invoice row yields: `None` when the row is not a settled invoice,
/// else the amount paid (the settlement amount column's, `paid`, when there is one; the
/// invoice's otherwise; `None` inside when it is not an amount).
pub(super) fn settlement(
    target: Target,
    settle_date: Option<&str>,
    paid: Option<Option<Cents>>,
    value: Option<i64>,
) -> Option<Option<i64>> {
    if target != Target::Ledger(DocType::Invoice) || settle_date.is_none() {
        return None;
    }
    Some(match paid {
        Some(Some(Ok(x))) => Some(x.abs()),
        Some(Some(Err(()))) => None,
        Some(None) | None => value,
    })
}

/// The dates of an export column, read a row at a time: typed dates as they are, text
/// through its date format. Parsed only where asked, since a baseline date is needed only
/// where the export gives no due date.
enum Dates<'a> {
    Typed(Vec<Option<i32>>),
    Text(Vec<Option<&'a str>>, &'a DateParser),
}

impl<'a> Dates<'a> {
    /// Days since the epoch of row `i` (`Err` for a value that is not a date).
    fn get(&self, i: usize) -> Option<std::result::Result<i32, ()>> {
        match self {
            Dates::Typed(d) => d[i].map(Ok),
            Dates::Text(t, parser) => clean(t[i]).map(|s| parser.parse(s).ok_or(())),
        }
    }
}

/// The dates of an export column (`None` when the frame has no such column); `text` holds the
/// column as text for the views to borrow.
fn dates<'a>(
    frame: &DataFrame,
    column: &str,
    parser: &'a DateParser,
    text_of: &'a mut Option<StringChunked>,
) -> Option<Dates<'a>> {
    let col = frame.column(column).ok()?;
    if matches!(col.dtype(), DataType::Date | DataType::Datetime(_, _))
        && let Ok(d) = col.cast(&DataType::Date).and_then(|d| d.date().map(|d| d.phys.clone()))
    {
        return Some(Dates::Typed(d.iter().collect()));
    }
    let ca = text_of.insert(text(frame, column)?);
    Some(Dates::Text(ca.iter().collect(), parser))
}

/// A read column's values, with the canonical column a failure in it is reported on.
type ColumnView<'a> = (&'static str, Vec<Option<&'a str>>);

/// Rows routed at a time: a fixed number (not the thread count), so that what is decided
/// per slice (a column where most amounts fail) is the same on any machine.
pub const SLICE_ROWS: usize = 1 << 18;

/// Parse and route every row of one file, its slices in parallel (a report whose lines
/// depend on the lines above them, filled down or under group headers, in one piece).
pub fn route_file(spec: &SourceSpec, frame: DataFrame, path: &std::path::Path) -> Result<Parsed> {
    use rayon::prelude::*;
    let n = frame.height();
    if n <= SLICE_ROWS || !spec.fill_down.is_empty() || spec.group_header.is_some() {
        return route_slice(spec, frame, path, 0);
    }
    let parts: Vec<Result<Parsed>> = (0..n.div_ceil(SLICE_ROWS))
        .into_par_iter()
        .map(|k| route_slice(spec, frame.slice((k * SLICE_ROWS) as i64, SLICE_ROWS), path, k * SLICE_ROWS))
        .collect();
    // The first slice's error, whatever the thread count.
    let parts: Vec<Parsed> = parts.into_iter().collect::<Result<_>>()?;
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else { return route_slice(spec, frame, path, 0) };
    // Room for every row at once: growing by doubling touches twice the memory, and fresh
    // pages are what this stage pays for most.
    let more = n - all.target.len();
    all.target.reserve_exact(more);
    all.fail.reserve_exact(more);
    all.amount.reserve_exact(more);
    all.due.reserve_exact(more);
    all.settled.reserve_exact(more);
    all.settle_amount.reserve_exact(more);
    let err = || EngineError::polars("combining routed slices");
    for p in parts {
        for (into, from) in [
            (&mut all.doc_id, &p.doc_id),
            (&mut all.payment_id, &p.payment_id),
            (&mut all.customer, &p.customer),
            (&mut all.currency, &p.currency),
            (&mut all.pay_date, &p.pay_date),
            (&mut all.applies_to, &p.applies_to),
            (&mut all.refs, &p.refs),
            (&mut all.clearing, &p.clearing),
            (&mut all.settle_date, &p.settle_date),
            (&mut all.type_value, &p.type_value),
        ] {
            into.append(from).map_err(err())?;
        }
        for (into, from) in [(&mut all.doc_date, &p.doc_date), (&mut all.due_date, &p.due_date)] {
            if let (Some(into), Some(from)) = (into.as_mut(), from) {
                into.append(from).map_err(err())?;
            }
        }
        all.target.extend(p.target);
        all.fail.extend(p.fail);
        all.amount.extend(p.amount);
        all.due.extend(p.due);
        all.settled.extend(p.settled);
        all.settle_amount.extend(p.settle_amount);
    }
    all.frame = frame;
    Ok(all)
}

/// Parse and route the rows of one slice of a file; `offset` is the slice's first row.
pub fn route_slice(spec: &SourceSpec, frame: DataFrame, path: &std::path::Path, offset: usize) -> Result<Parsed> {
    let n = frame.height();
    let nulls = || StringChunked::full_null("".into(), n);
    let need = |column: &str, field: &str| -> Result<StringChunked> {
        values(spec, &frame, column, &[]).ok_or_else(|| missing(spec, path, column, &frame, field))
    };
    let total = total_rows(spec, &frame, path)?;
    let opt = |name: &str| values(spec, &frame, spec.column(name), &total);
    let type_value = match &spec.type_column {
        Some(c) => values(spec, &frame, c, &total).ok_or_else(|| missing(spec, path, c, &frame, "type_column"))?,
        None => nulls(),
    };
    // The document id: one column, or a composite key.
    let doc_id: StringChunked = if spec.key.is_empty() {
        ids(values(spec, &frame, spec.column("doc_id"), &total)
            .ok_or_else(|| missing(spec, path, spec.column("doc_id"), &frame, "columns.doc_id"))?)
    } else {
        let parts: Vec<StringChunked> = spec.key.iter().map(|k| need(k, "key")).collect::<Result<_>>()?;
        let views: Vec<Vec<Option<&str>>> = parts.iter().map(|p| p.iter().collect()).collect();
        // One buffer for every id: no allocation per row.
        let mut out = StringChunkedBuilder::new("doc_id".into(), n);
        let mut id = String::new();
        for i in 0..n {
            id.clear();
            let mut whole = true;
            for (k, v) in views.iter().enumerate() {
                match v[i] {
                    Some(part) => {
                        if k > 0 {
                            id.push('-');
                        }
                        id.push_str(normalise_id(part));
                    }
                    None => whole = false,
                }
            }
            if whole { out.append_value(&id) } else { out.append_null() }
        }
        out.finish()
    };
    let payment_id = match spec.maps("payment_id") {
        true => ids(need(spec.column("payment_id"), "columns.payment_id")?),
        false => doc_id.clone(),
    };
    let groups = match &spec.group_header {
        Some(g) => Some(
            super::report::group_headers(&frame, g, &total)
                .ok_or_else(|| missing(spec, path, g, &frame, "group_header"))?,
        ),
        None => None,
    };
    let customer = match &groups {
        Some((header, group)) => StringChunked::from_iter_options(
            "customer_id".into(),
            group.iter().zip(header).map(|(g, h)| if *h { None } else { g.as_deref() }),
        ),
        None => values(spec, &frame, spec.column("customer_id"), &total)
            .ok_or_else(|| missing(spec, path, spec.column("customer_id"), &frame, "columns.customer_id"))?,
    };
    let customer = if spec.customer_names { customer } else { ids(customer) };
    let currency = match opt("currency") {
        Some(c) => match &spec.currency {
            Some(default) => {
                StringChunked::from_iter_options("currency".into(), c.iter().map(|v| Some(v.unwrap_or(default))))
            }
            None => c,
        },
        None if spec.maps("currency") => {
            return Err(missing(spec, path, spec.column("currency"), &frame, "columns.currency"));
        }
        None => match &spec.currency {
            Some(c) => StringChunked::full("currency".into(), c, n),
            None => nulls(),
        },
    };
    // Amounts, signed as the convention says.
    let signed: Vec<Option<Cents>> = match spec.sign {
        SignRule::Columns => {
            let (d, c) =
                (spec.debit_column.as_deref().unwrap_or_default(), spec.credit_column.as_deref().unwrap_or_default());
            let debit = amounts(spec, &frame, d, path, offset)?
                .ok_or_else(|| missing(spec, path, d, &frame, "debit_column"))?;
            let credit = amounts(spec, &frame, c, path, offset)?
                .ok_or_else(|| missing(spec, path, c, &frame, "credit_column"))?;
            debit.into_iter().zip(credit).map(|(d, c)| debit_less_credit(d, c)).collect()
        }
        _ => amounts(spec, &frame, spec.column("amount"), path, offset)?
            .ok_or_else(|| missing(spec, path, spec.column("amount"), &frame, "columns.amount"))?,
    };
    let indicator: Option<StringChunked> = match &spec.indicator {
        Some(i) if spec.sign == SignRule::Indicator => Some(need(&i.column, "indicator.column")?),
        _ => None,
    };
    let indicator: Option<Vec<Option<&str>>> = indicator.as_ref().map(|c| c.iter().collect());
    let doc_date_text = values(spec, &frame, spec.column("doc_date"), &total);
    let pay_column = if spec.maps("payment_date") { spec.column("payment_date") } else { spec.column("doc_date") };
    let pay_date = match spec.maps("payment_date") {
        true => need(spec.column("payment_date"), "columns.payment_date")?,
        false => doc_date_text.clone().unwrap_or_else(nulls),
    };
    let pay_date =
        if spec.own_date_format(pay_column) { iso_dates(&pay_date, spec.date_of(pay_column)) } else { pay_date };
    let own = |canonical: &str| -> Option<StringChunked> {
        let column = spec.column(canonical);
        if !spec.own_date_format(column) {
            return None;
        }
        values(spec, &frame, column, &total).map(|ca| iso_dates(&ca, spec.date_of(column)))
    };
    let (doc_date_iso, due_date_iso) = (own("doc_date"), own("due_date"));
    let applies_to = opt("applies_to").map(ids).unwrap_or_else(nulls);
    let refs = opt("invoice_refs").unwrap_or_else(nulls);
    let clearing = match &spec.clearing_column {
        Some(c) => ids(need(c, "clearing_column")?),
        None => nulls(),
    };
    // Due dates from terms where the export gives none.
    let baseline_is_doc_date =
        spec.terms.as_ref().is_some_and(|t| t.baseline.as_deref().is_none_or(|b| b == spec.column("doc_date")));
    let mut due: Vec<Option<i32>> = vec![None; n];
    let mut due_fail: Vec<Option<(Rule, &'static str)>> = vec![None; n];
    if let Some(terms) = &spec.terms {
        let (mut given_text, mut baseline_text) = (None, None);
        let given = dates(&frame, spec.column("due_date"), spec.date_of(spec.column("due_date")), &mut given_text);
        let baseline_column = terms.baseline.as_deref().unwrap_or(spec.column("doc_date"));
        let baseline = dates(&frame, baseline_column, spec.date_of(baseline_column), &mut baseline_text)
            .ok_or_else(|| missing(spec, path, baseline_column, &frame, "terms.baseline"))?;
        let code_column = terms.column.as_deref().unwrap_or(spec.column("terms"));
        let codes = values(spec, &frame, code_column, &total);
        let codes: Option<Vec<Option<&str>>> = codes.as_ref().map(|c| c.iter().collect());
        for i in 0..n {
            let code = codes.as_ref().and_then(|c| c[i]);
            let given = given.as_ref().and_then(|g| g.get(i));
            (due[i], due_fail[i]) = due_from_terms(terms, given, code, baseline.get(i), baseline_is_doc_date);
        }
    }
    let (settle_date, paid) = match &spec.settlement {
        Some(s) => {
            let date = need(&s.date, "settlement.date")?;
            let date = if spec.own_date_format(&s.date) { iso_dates(&date, spec.date_of(&s.date)) } else { date };
            let paid = match &s.amount {
                Some(a) => Some(
                    amounts(spec, &frame, a, path, offset)?
                        .ok_or_else(|| missing(spec, path, a, &frame, "settlement.amount"))?,
                ),
                None => None,
            };
            (date, paid)
        }
        None => (nulls(), None),
    };

    // A file read with bytes that were not text replaced: the columns to look for them in.
    let lossy_columns: Option<Vec<(&'static str, StringChunked)>> = frame
        .column(super::report::LOSSY_COLUMN)
        .is_ok()
        .then(|| spec.read_columns().into_iter().filter_map(|(c, e)| text(&frame, e).map(|t| (c, t))).collect());
    let not_text: Option<Vec<ColumnView<'_>>> =
        lossy_columns.as_ref().map(|cols| cols.iter().map(|(c, t)| (*c, t.iter().collect())).collect());
    // Rows whose number of fields is not the header's (routed rows are quarantined; report
    // lines that are ignored may be short).
    let ragged: Option<Vec<Option<u32>>> =
        frame.column(super::report::RAGGED_COLUMN).ok().and_then(|c| c.u32().ok().map(|c| c.iter().collect()));
    let type_view: Vec<Option<&str>> = type_value.iter().collect();
    let doc_view: Vec<Option<&str>> = doc_id.iter().collect();
    let date_view: Option<Vec<Option<&str>>> = doc_date_text.as_ref().map(|d| d.iter().collect());
    let settle_view: Vec<Option<&str>> = settle_date.iter().collect();
    let mut target = Vec::with_capacity(n);
    let mut fails = vec![None; n];
    let mut amount = vec![None; n];
    let mut settled = vec![false; n];
    let mut settle_amount = vec![None; n];
    // Rows without a number that take their row's (`missing_id = "row_number"`).
    let mut numbered: Vec<(usize, String)> = Vec::new();
    let mut run = RouteRun::default();
    for i in 0..n {
        let blank = doc_view[i].is_none() && signed[i].is_none() && date_view.as_ref().is_none_or(|d| d[i].is_none());
        let group_line = groups.as_ref().is_some_and(|(h, _)| h[i]);
        if spec.missing_id == MissingId::RowNumber && !blank && !total[i] && !group_line && doc_view[i].is_none() {
            numbered.push((i, format!("row-{}", offset + i + 1)));
        }
        let blank_line = group_line || (type_view[i].is_none() && blank);
        let row_target = row_target(spec, total[i], blank_line, type_view[i], &mut run);
        let (row_target, fail, value) = sign(spec, row_target, signed[i], indicator.as_ref().and_then(|v| v[i]));
        target.push(row_target);
        amount[i] = value;
        let ragged = ragged.as_ref().is_some_and(|r| r[i].is_some());
        let not_text = || {
            not_text.as_ref().and_then(|cols| {
                cols.iter().find(|(_, v)| v[i].is_some_and(|v| v.contains('\u{fffd}'))).map(|(c, _)| *c)
            })
        };
        fails[i] = row_fail(row_target, fail, due_fail[i], ragged, not_text);
        let paid = paid.as_ref().map(|p| p[i]);
        if let Some(paid) = settlement(row_target, settle_view[i], paid, value) {
            settled[i] = true;
            settle_amount[i] = paid;
        }
    }
    let with_rows = |ca: StringChunked| -> StringChunked {
        if numbered.is_empty() {
            return ca;
        }
        let mut v: Vec<Option<String>> = ca.iter().map(|s| s.map(str::to_string)).collect();
        for (i, id) in &numbered {
            if v[*i].is_none() {
                v[*i] = Some(id.clone());
            }
        }
        StringChunked::from_iter_options(ca.name().clone(), v.into_iter())
    };
    Ok(Parsed {
        target,
        fail: fails,
        doc_id: with_rows(doc_id),
        payment_id: with_rows(payment_id),
        customer,
        amount,
        currency,
        due,
        pay_date,
        applies_to,
        refs,
        clearing,
        settled,
        settle_date,
        settle_amount,
        type_value,
        doc_date: doc_date_iso,
        due_date: due_date_iso,
        frame,
    })
}

/// Take the sign off an amount by the convention: the row's final target (a negative invoice
/// may become a credit memo), the failure if any, and the amount without its sign.
pub(super) fn sign(
    spec: &SourceSpec,
    target: Target,
    signed: Option<Cents>,
    indicator: Option<&str>,
) -> (Target, Option<(Rule, &'static str)>, Option<i64>) {
    let (Target::Ledger(_) | Target::Payment) = target else { return (target, None, None) };
    let value = match signed {
        None => return (target, None, None),
        Some(Err(())) => return (target, Some((Rule::InvalidAmount, "amount")), None),
        Some(Ok(v)) => v,
    };
    let debit = match target {
        Target::Ledger(t) => t.is_receivable(),
        _ => false,
    };
    // The amount as a debit (+) or credit (−) of the customer's account.
    let as_debit = match spec.sign {
        // Positive amounts expected, the route gives the side: a negative one has the
        // opposite sign of its type.
        SignRule::Type if debit => value,
        SignRule::Type => -value,
        SignRule::Amount | SignRule::Columns => value,
        SignRule::Indicator => {
            let Some(ind) = spec.indicator.as_ref() else { return (target, None, Some(value.abs())) };
            let is = |list: &[String]| indicator.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)));
            // The indicator decides the side, whether the amount is written signed or not.
            if is(&ind.debit) {
                value.abs()
            } else if is(&ind.credit) {
                -value.abs()
            } else {
                return (target, Some((Rule::InvalidSign, "amount")), None);
            }
        }
    };
    let magnitude = as_debit.abs();
    let agrees = as_debit == 0 || (as_debit > 0) == debit;
    if agrees {
        return (target, None, Some(magnitude));
    }
    match target {
        Target::Ledger(_) if debit && spec.negative_invoices == Reversal::CreditMemo => {
            (Target::Ledger(DocType::CreditMemo), None, Some(magnitude))
        }
        _ => (target, Some((Rule::OppositeSign, "amount")), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_float_ids_lose_their_zero_decimals_only() {
        assert_eq!(normalise_id("2960623488.0"), "2960623488");
        assert_eq!(normalise_id("0042.00"), "0042");
        assert_eq!(normalise_id("42.5"), "42.5");
        assert_eq!(normalise_id("INV.0"), "INV.0");
        assert_eq!(normalise_id(".0"), ".0");
        assert_eq!(normalise_id("100"), "100");
    }

    #[test]
    fn terms_codes_read_from_the_map_then_from_their_digits() {
        let map = [("Z030".to_string(), 30u16), ("EOM".to_string(), 25)].into_iter().collect();
        assert_eq!(terms_days("Z030", &map), Some(30));
        assert_eq!(terms_days("eom", &map), Some(25));
        assert_eq!(terms_days("NET45", &map), Some(45));
        assert_eq!(terms_days("Net 15", &map), Some(15));
        assert_eq!(terms_days("N60", &map), Some(60));
        assert_eq!(terms_days("30", &map), Some(30));
        assert_eq!(terms_days("Due on receipt", &map), None);
        assert_eq!(terms_days("NET", &map), None);
    }
}
