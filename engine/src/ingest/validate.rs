//! The rules of each input (docs/contracts.md). The row rules (`*_rows`) read the canonical columns
//! of one slice of a file, record the first rule each row fails, and return the accepted
//! rows as a typed canonical frame; they depend on nothing but the row and [`Reference`]
//! (what the small inputs established), so slices are checked in parallel. The one rule that
//! depends on earlier rows, that an id is accepted once, runs afterwards on the accepted rows
//! in file order ([`UniqueIds`], [`UniqueRates`]), so the first occurrence wins whatever the
//! thread count.

use foldhash::HashSet;

use crate::ids::IdSet;
use polars::prelude::*;

use super::columns::{FileCheck, TextCol, clean, decimal_column};
use super::parse::DECIMAL18_MAX;
use super::quarantine::Rule;
use crate::calendar::from_epoch_days;
use crate::contracts::activity::Code;
use crate::contracts::{DocType, MONEY_SCALE, RATE_SCALE};
use crate::error::{EngineError, Result};
use crate::fx::FxTable;

/// What the small inputs (fx_rates, customers) establish for ledger and payments, which are
/// then validated side by side.
#[derive(Debug)]
pub struct Reference {
    pub fx: FxTable,
    /// Whether an fx_rates input is configured (for messages).
    pub fx_configured: bool,
    /// Accepted customer ids.
    pub customers: IdSet,
}

fn frame(height: usize, columns: Vec<Column>, what: &str) -> Result<DataFrame> {
    DataFrame::new(height, columns).map_err(EngineError::polars(format!("building the {what} table")))
}

fn fail_non_positive(
    c: &mut FileCheck<'_>,
    values: &[Option<i64>],
    rule: Rule,
    column: &'static str,
    allow_zero: bool,
) {
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v
            && (*v < 0 || (*v == 0 && !allow_zero))
        {
            c.fail(i, rule, column);
        }
    }
}

fn check_customers(c: &mut FileCheck<'_>, customers: &TextCol<'_>, known: &Reference) {
    let found = known.customers.contains_each(customers.values.iter().copied());
    for (i, (id, found)) in customers.values.iter().zip(found).enumerate() {
        if id.is_some() && !found && c.ok(i) {
            c.fail(i, Rule::UnknownCustomer, "customer_id");
        }
    }
}

/// Convert each surviving row to the reporting currency; rows without a rate fail.
fn convert(
    c: &mut FileCheck<'_>,
    known: &Reference,
    currency: &TextCol<'_>,
    dates: &[Option<i32>],
    amounts: &[Option<i64>],
) -> (Vec<Option<i64>>, Vec<Option<i64>>) {
    let n = c.height();
    let mut rates = vec![None; n];
    let mut converted = vec![None; n];
    let mut cached: Option<(&str, Option<crate::fx::FxSeries<'_>>)> = None;
    for i in 0..n {
        if !c.ok(i) {
            continue;
        }
        let (Some(cur), Some(date), Some(amount)) = (currency.get(i), dates[i], amounts[i]) else { continue };
        // Rows of one currency come in runs; look its rate series up once per run.
        if cached.map(|(c, _)| c) != Some(cur) {
            cached = Some((cur, known.fx.series(cur)));
        }
        let series = cached.and_then(|(_, s)| s);
        match series.and_then(|s| s.convert(date, i128::from(amount))) {
            // A valid amount can still overflow DECIMAL(18,2) once converted at a rate above 1.
            Some((_, value)) if value.abs() > DECIMAL18_MAX => {
                c.fail(i, Rule::InvalidAmount, "amount");
            }
            Some((rate, value)) => {
                rates[i] = i64::try_from(rate).ok();
                converted[i] = i64::try_from(value).ok();
            }
            None => {
                c.fail(i, Rule::MissingFxRate, "currency");
                c.detail.insert(
                    i,
                    format!("on {} (nor in the {} days before)", from_epoch_days(date), known.fx.max_age_days()),
                );
            }
        }
    }
    (rates, converted)
}

/// The row rules of fx_rates.
pub fn fx_rows(c: &mut FileCheck<'_>) -> Result<DataFrame> {
    let date = c.dates("date", false)?;
    let currency_ca = c.text_column("currency")?;
    let currency = c.text(currency_ca.as_ref(), "currency", false);
    let rate = c.decimals("rate_to_reporting", false, RATE_SCALE as u32, Rule::InvalidRate)?;
    fail_non_positive(c, &rate, Rule::NonPositiveRate, "rate_to_reporting", false);
    c.check_currencies(&currency, "currency");
    let kept = c.kept();
    let [file, row] = c.lineage(&kept);
    frame(
        kept.len(),
        vec![
            c.date_output("date", &date, &kept),
            currency.column("currency", &kept),
            c.decimal_output("rate_to_reporting", &rate, &kept, RATE_SCALE),
            file,
            row,
        ],
        "fx_rates",
    )
}

/// Rows of an input's accepted frame that repeat an id accepted before them.
#[derive(Debug, Default)]
pub struct Repeats {
    /// The canonical column the repeat is reported on.
    pub column: &'static str,
    /// Positions in the frame, ascending, with the message detail of each.
    pub rows: Vec<(usize, Option<String>)>,
    /// When the latest export wins: for every row that stays, in order, the number of its id
    /// in the input's id set (see [`IdSet::insert_numbered`]).
    pub numbers: Vec<u32>,
}

/// The uniqueness of fx_rates: one rate per date and currency; accepted rates go into `fx`.
#[derive(Debug)]
pub struct UniqueRates<'s> {
    pub fx: &'s mut FxTable,
    pub keys: HashSet<(i32, String)>,
}

/// The one rule that depends on earlier rows: an input's ids (or keys) are accepted once.
pub trait Unique {
    /// Check `rows`, the accepted rows of the next chunk of file number `file` in file
    /// order (`expected` rows of the file, this chunk's included, are still to come), and
    /// record them; returns the rows that repeat an accepted id.
    fn check(&mut self, rows: &DataFrame, file: u32, expected: usize) -> Result<Repeats>;
}

impl Unique for UniqueRates<'_> {
    fn check(&mut self, rows: &DataFrame, _file: u32, _expected: usize) -> Result<Repeats> {
        let err = || EngineError::polars("checking FX rates for repeats");
        let date = rows.column("date").and_then(|c| c.date().map(|d| d.phys.clone())).map_err(err())?;
        let currency = rows.column("currency").and_then(|c| c.str().cloned()).map_err(err())?;
        let rate = rows.column("rate_to_reporting").and_then(|c| c.decimal().map(|d| d.phys.clone())).map_err(err())?;
        let mut repeats = Repeats { column: "date", ..Repeats::default() };
        for (i, ((d, cur), r)) in date.iter().zip(currency.iter()).zip(rate.iter()).enumerate() {
            let (Some(d), Some(cur), Some(r)) = (d, cur, r) else { continue };
            if self.keys.insert((d, cur.to_string())) {
                self.fx.insert(cur, d, r);
            } else {
                repeats.rows.push((i, Some(format!("{cur} on {}", from_epoch_days(d)))));
            }
        }
        Ok(repeats)
    }
}

/// The uniqueness of an input with an id column: an id is accepted once, and with
/// `latest_wins` an id that only an earlier file had is accepted again (the caller then drops
/// the earlier row); a repeat within one file stays a duplicate.
#[derive(Debug)]
pub struct UniqueIds<'s> {
    pub column: &'static str,
    pub seen: &'s mut IdSet,
    pub latest_wins: bool,
    /// With `latest_wins`: for every id number, the index of the file that last accepted it.
    id_files: Vec<u32>,
}

impl<'s> UniqueIds<'s> {
    /// Accepted ids of `column` go into `seen`.
    pub fn new(column: &'static str, seen: &'s mut IdSet, latest_wins: bool) -> Self {
        UniqueIds { column, seen, latest_wins, id_files: Vec::new() }
    }
}

impl Unique for UniqueIds<'_> {
    fn check(&mut self, rows: &DataFrame, file: u32, expected: usize) -> Result<Repeats> {
        let ids = rows
            .column(self.column)
            .and_then(|c| c.str().cloned())
            .map_err(EngineError::polars(format!("checking `{}` for repeats", self.column)))?;
        let bytes: usize = ids.iter().flatten().map(str::len).sum();
        if !self.seen.has_room(ids.len(), bytes) {
            return Err(EngineError::Analysis {
                message: format!(
                    "the `{}` values of this input pass 4 GiB of text or 4 billion ids, more than one run can check for repeats; split the input across runs",
                    self.column
                ),
            });
        }
        // Room for the rest of the file at once: growing the table chunk by chunk rehashed
        // every id so far each time (8% of CSV ingest on `m`). Later chunks find room there.
        self.seen.reserve(expected.max(ids.len()), bytes.div_ceil(ids.len().max(1)));
        let mut repeats = Repeats { column: self.column, ..Repeats::default() };
        let UniqueIds { seen, latest_wins, id_files, .. } = self;
        seen.insert_each(ids.iter(), |i, number, new| {
            if !*latest_wins {
                if !new {
                    repeats.rows.push((i, None));
                }
                return;
            }
            if new {
                id_files.push(file);
            } else if id_files[number as usize] == file {
                repeats.rows.push((i, None));
                return;
            } else {
                id_files[number as usize] = file;
            }
            repeats.numbers.push(number);
        });
        Ok(repeats)
    }
}

/// The row rules of customers.
pub fn customers_rows(c: &mut FileCheck<'_>) -> Result<DataFrame> {
    let id_ca = c.text_column("customer_id")?;
    let id = c.text(id_ca.as_ref(), "customer_id", false);
    let segment_ca = c.text_column("segment")?;
    let segment = c.text(segment_ca.as_ref(), "segment", true);
    let industry_ca = c.text_column("industry")?;
    let industry = c.text_output(industry_ca.as_ref());
    let region_ca = c.text_column("region")?;
    let region = c.text_output(region_ca.as_ref());
    let country_ca = c.text_column("country")?;
    let country = c.text_output(country_ca.as_ref());
    let limit = c.decimals("credit_limit", true, MONEY_SCALE as u32, Rule::InvalidAmount)?;
    fail_non_positive(c, &limit, Rule::NegativeAmount, "credit_limit", true);
    let onboarded = c.dates("onboarded_date", true)?;
    let score = c.numbers("external_score")?;
    let kept = c.kept();
    let [file, row] = c.lineage(&kept);
    let segment_or_unknown: Vec<Option<&str>> = segment.values.iter().map(|s| Some(s.unwrap_or("UNKNOWN"))).collect();
    frame(
        kept.len(),
        vec![
            id.column("customer_id", &kept),
            super::columns::text_column("segment", &segment_or_unknown, &kept),
            industry.column("industry", &kept),
            region.column("region", &kept),
            country.column("country", &kept),
            c.decimal_output("credit_limit", &limit, &kept, MONEY_SCALE),
            c.date_output("onboarded_date", &onboarded, &kept),
            Float64Chunked::from_iter_options("external_score".into(), kept.iter().map(|&i| score[i])).into_column(),
            file,
            row,
        ],
        "customers",
    )
}

/// The row rules of the ledger.
pub fn ledger_rows(c: &mut FileCheck<'_>, known: &Reference) -> Result<DataFrame> {
    let spec = c.spec;
    let id_ca = c.text_column("doc_id")?;
    let id = c.text(id_ca.as_ref(), "doc_id", false);
    let customer_ca = c.text_column("customer_id")?;
    let customer = c.text(customer_ca.as_ref(), "customer_id", false);
    let type_ca = c.text_column("doc_type")?;
    let type_text = c.text(type_ca.as_ref(), "doc_type", false);
    let mut doc_type: Vec<Option<DocType>> = Vec::with_capacity(c.height());
    // Whether every type is written as its canonical name (then the column passes through).
    let mut canonical = true;
    for (i, t) in type_text.values.iter().enumerate() {
        let parsed = t.and_then(|t| spec.doc_type(t));
        match (t, parsed) {
            (Some(_), None) => c.fail(i, Rule::UnknownDocType, "doc_type"),
            (Some(t), Some(d)) => canonical &= *t == d.as_str(),
            _ => {}
        }
        doc_type.push(parsed);
    }
    let doc_date = c.dates("doc_date", false)?;
    let due_date = c.dates("due_date", true)?;
    let amount = c.decimals("amount", false, MONEY_SCALE as u32, Rule::InvalidAmount)?;
    fail_non_positive(c, &amount, Rule::NonPositiveAmount, "amount", false);
    let currency_ca = c.text_column("currency")?;
    let currency = c.text(currency_ca.as_ref(), "currency", false);
    let applies_ca = c.text_column("applies_to")?;
    let applies_to = c.text_output(applies_ca.as_ref());
    let disputed = c.bools("disputed")?;
    let terms_ca = c.text_column("terms")?;
    let terms = c.text_output(terms_ca.as_ref());
    for i in 0..c.height() {
        let (Some(t), Some(doc)) = (doc_type[i], doc_date[i]) else { continue };
        if !c.ok(i) {
            continue;
        }
        match due_date[i] {
            None if t.is_receivable() => {
                c.fail(i, Rule::MissingDueDate, "due_date");
                c.detail.insert(i, t.as_str().replace('_', " "));
            }
            Some(due) if due < doc => {
                c.fail(i, Rule::DueBeforeDocDate, "due_date");
                c.detail.insert(i, from_epoch_days(doc).to_string());
            }
            _ => {}
        }
    }
    c.check_currencies(&currency, "currency");
    check_customers(c, &customer, known);
    let (rate, reporting) = convert(c, known, &currency, &doc_date, &amount);
    let kept = c.kept();
    let [file, row] = c.lineage(&kept);
    frame(
        kept.len(),
        vec![
            id.column("doc_id", &kept),
            customer.column("customer_id", &kept),
            if canonical {
                type_text.column("doc_type", &kept)
            } else {
                StringChunked::from_iter_options(
                    "doc_type".into(),
                    kept.iter().map(|&i| doc_type[i].map(DocType::as_str)),
                )
                .into_column()
            },
            c.date_output("doc_date", &doc_date, &kept),
            c.date_output("due_date", &due_date, &kept),
            c.decimal_output("amount", &amount, &kept, MONEY_SCALE),
            currency.column("currency", &kept),
            decimal_column("fx_rate", &rate, &kept, RATE_SCALE),
            decimal_column("amount_reporting", &reporting, &kept, MONEY_SCALE),
            applies_to.column("applies_to", &kept),
            BooleanChunked::from_iter_values("disputed".into(), kept.iter().map(|&i| disputed[i].unwrap_or(false)))
                .into_column(),
            terms.column("terms", &kept),
            file,
            row,
        ],
        "ledger",
    )
}

/// The parts of `text` between separators (a one-character separator splits on the char,
/// which is cheaper than searching for a string).
fn split<'t>(text: &'t str, separator: &'t str) -> impl Iterator<Item = &'t str> {
    let mut chars = separator.chars();
    let one = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    let (by_char, by_str) = match one {
        Some(c) => (Some(text.split(c)), None),
        None => (None, Some(text.split(separator))),
    };
    by_char.into_iter().flatten().chain(by_str.into_iter().flatten())
}

/// The row rules of payments. Returns the accepted payments and their references
/// (payment_id, position, doc_id, and the payment's row in the returned frame); whether each
/// reference exists is decided once the ledger is complete.
pub fn payments_rows(c: &mut FileCheck<'_>, known: &Reference) -> Result<(DataFrame, DataFrame)> {
    let id_ca = c.text_column("payment_id")?;
    let id = c.text(id_ca.as_ref(), "payment_id", false);
    let customer_ca = c.text_column("customer_id")?;
    let customer = c.text(customer_ca.as_ref(), "customer_id", false);
    let date = c.dates("payment_date", false)?;
    let amount = c.decimals("amount", false, MONEY_SCALE as u32, Rule::InvalidAmount)?;
    fail_non_positive(c, &amount, Rule::NonPositiveAmount, "amount", false);
    let currency_ca = c.text_column("currency")?;
    let currency = c.text(currency_ca.as_ref(), "currency", false);
    let refs_ca = c.text_column("invoice_refs")?;
    let refs_text = c.text(refs_ca.as_ref(), "invoice_refs", true);
    let method_ca = c.text_column("method")?;
    let method = c.text_output(method_ca.as_ref());
    c.check_currencies(&currency, "currency");
    check_customers(c, &customer, known);
    let (rate, reporting) = convert(c, known, &currency, &date, &amount);
    let kept = c.kept();
    // Parts are trimmed, and so is the value before it is split: spaces around the separator
    // are not part of it (" // " splits on "//"), unless it is all spaces.
    let separator = match c.spec.refs_separator.trim() {
        "" => c.spec.refs_separator.as_str(),
        trimmed => trimmed,
    };
    // References split once; the canonical `invoice_refs` text is rebuilt only when the
    // export's differs (other separator, spaces, empty parts).
    let refs_guess = kept.len() + kept.len() / 4;
    let (mut ref_payment, mut ref_position, mut ref_doc, mut ref_row) = (
        Vec::with_capacity(refs_guess),
        Vec::with_capacity(refs_guess),
        Vec::with_capacity(refs_guess),
        Vec::with_capacity(refs_guess),
    );
    // `None` while every value so far is canonical as written (nothing is copied then).
    let mut rebuilt: Option<Vec<Option<String>>> = None;
    let mut parts: Vec<&str> = Vec::new();
    for (k, &i) in kept.iter().enumerate() {
        let Some(text) = refs_text.get(i) else {
            if let Some(r) = &mut rebuilt {
                r.push(None);
            }
            continue;
        };
        parts.clear();
        let mut changed = separator != ";";
        for part in split(text, separator) {
            match clean(Some(part)) {
                Some(r) => {
                    changed |= r.len() != part.len();
                    parts.push(r);
                }
                None => changed = true,
            }
        }
        for (position, r) in parts.iter().enumerate() {
            ref_payment.push(i);
            ref_position.push(position as u64 + 1);
            ref_doc.push(*r);
            ref_row.push(k as u64);
        }
        if changed && rebuilt.is_none() {
            // The first value to rebuild: the ones before it are kept as written.
            rebuilt = Some(kept[..k].iter().map(|&j| refs_text.get(j).map(str::to_string)).collect());
        }
        if let Some(r) = &mut rebuilt {
            r.push((!parts.is_empty()).then(|| parts.join(";")));
        }
    }
    let refs_column = match &rebuilt {
        Some(values) => {
            StringChunked::from_iter_options("invoice_refs".into(), values.iter().map(Option::as_deref)).into_column()
        }
        None => refs_text.column("invoice_refs", &kept),
    };
    let refs = frame(
        ref_doc.len(),
        vec![
            // Each reference's payment id shares the payment's string (no copy when unaltered).
            id.take("payment_id", &ref_payment),
            UInt64Chunked::from_vec("position".into(), ref_position).into_column(),
            StringChunked::from_iter_values("doc_id".into(), ref_doc.into_iter()).into_column(),
            UInt64Chunked::from_vec("payment_row".into(), ref_row).into_column(),
        ],
        "payment_refs",
    )?;
    let [file, row] = c.lineage(&kept);
    let payments = frame(
        kept.len(),
        vec![
            id.column("payment_id", &kept),
            customer.column("customer_id", &kept),
            c.date_output("payment_date", &date, &kept),
            c.decimal_output("amount", &amount, &kept, MONEY_SCALE),
            currency.column("currency", &kept),
            decimal_column("fx_rate", &rate, &kept, RATE_SCALE),
            decimal_column("amount_reporting", &reporting, &kept, MONEY_SCALE),
            refs_column,
            method.column("method", &kept),
            file,
            row,
        ],
        "payments",
    )?;
    Ok((payments, refs))
}

/// The row rules of activities (docs/contracts.md, "activities"). Returns the accepted
/// activities; whether each referenced document exists is decided afterwards, against the
/// complete ledger (flagged, not rejected).
pub fn activities_rows(c: &mut FileCheck<'_>, known: &Reference) -> Result<DataFrame> {
    let spec = c.spec;
    let id_ca = c.text_column("activity_id")?;
    let id = c.text(id_ca.as_ref(), "activity_id", false);
    let customer_ca = c.text_column("customer_id")?;
    let customer = c.text(customer_ca.as_ref(), "customer_id", false);
    let at = c.timestamps("occurred_at")?;
    let channel = c.codes("channel", &spec.channels, Rule::UnknownChannel, false)?;
    let direction = c.codes("direction", &spec.directions, Rule::UnknownDirection, true)?;
    let outcome = c.codes("outcome", &spec.outcomes, Rule::UnknownOutcome, true)?;
    let refs_ca = c.text_column("invoice_refs")?;
    let refs_text = c.text(refs_ca.as_ref(), "invoice_refs", true);
    let promised = c.decimals("promised_amount", true, MONEY_SCALE as u32, Rule::InvalidAmount)?;
    fail_non_positive(c, &promised, Rule::NonPositiveAmount, "promised_amount", false);
    let currency_ca = c.text_column("promised_currency")?;
    let currency = c.text(currency_ca.as_ref(), "promised_currency", true);
    c.check_currencies(&currency, "promised_currency");
    let promised_date = c.dates("promised_date", true)?;
    let instalments = c.numbers("plan_instalments")?;
    for (i, n) in instalments.iter().enumerate() {
        if let Some(n) = n
            && !(n.fract() == 0.0 && (1.0..=1200.0).contains(n))
        {
            c.fail(i, Rule::InvalidInstalments, "plan_instalments");
        }
    }
    let agent_ca = c.text_column("agent")?;
    let agent = c.text_output(agent_ca.as_ref());
    let consumer = c.bools("consumer")?;
    let zone_ca = c.text_column("debtor_time_zone")?;
    let zone_text = c.text(zone_ca.as_ref(), "debtor_time_zone", true);
    let mut zones: foldhash::HashMap<&str, Option<super::timestamp::Zone>> = Default::default();
    let mut offset_minutes: Vec<Option<i64>> = vec![None; c.height()];
    for i in 0..c.height() {
        let Some(stamp) = at[i] else { continue };
        let offset = match zone_text.get(i) {
            None => stamp.offset_seconds,
            Some(z) => match *zones.entry(z).or_insert_with(|| super::timestamp::Zone::parse(z)) {
                Some(zone) => zone.offset_at(stamp.utc_micros.div_euclid(1_000_000)),
                None => {
                    c.fail(i, Rule::UnknownTimeZone, "debtor_time_zone");
                    continue;
                }
            },
        };
        offset_minutes[i] = Some(i64::from(offset.div_euclid(60)));
    }
    check_customers(c, &customer, known);
    // Promises: complete, not due before they were made (in the debtor's local date), and
    // converted to the reporting currency at the activity's date.
    let mut reporting: Vec<Option<i64>> = vec![None; c.height()];
    let mut cached: Option<(&str, Option<crate::fx::FxSeries<'_>>)> = None;
    for i in 0..c.height() {
        if !c.ok(i) {
            continue;
        }
        let (Some(stamp), Some(offset)) = (at[i], offset_minutes[i]) else { continue };
        let local_day = (stamp.utc_micros.div_euclid(60_000_000) + offset).div_euclid(1440) as i32;
        if outcome[i].is_some_and(|o| o.is_promise()) {
            let missing = match (promised[i], promised_date[i]) {
                (None, _) => Some("promised_amount is empty".to_string()),
                (_, None) => Some("promised_date is empty".to_string()),
                (_, Some(d)) if d < local_day => Some(format!(
                    "promised_date {} is before the activity ({})",
                    from_epoch_days(d),
                    from_epoch_days(local_day)
                )),
                _ => None,
            };
            if let Some(why) = missing {
                c.fail(i, Rule::IncompletePromise, "outcome");
                c.detail.insert(i, why);
                continue;
            }
        }
        let Some(amount) = promised[i] else { continue };
        let cur = currency.get(i).unwrap_or(known.fx.reporting());
        if cached.map(|(c, _)| c) != Some(cur) {
            cached = Some((cur, known.fx.series(cur)));
        }
        match cached.and_then(|(_, s)| s).and_then(|s| s.convert(local_day, i128::from(amount))) {
            Some((_, value)) if value.abs() > DECIMAL18_MAX => c.fail(i, Rule::InvalidAmount, "promised_amount"),
            Some((_, value)) => reporting[i] = i64::try_from(value).ok(),
            None => {
                c.fail(i, Rule::MissingFxRate, "promised_currency");
                c.detail.insert(
                    i,
                    format!("on {} (nor in the {} days before)", from_epoch_days(local_day), known.fx.max_age_days()),
                );
            }
        }
    }
    let kept = c.kept();
    // References as one canonical text (';'-joined, trimmed, empty parts dropped).
    let separator = match spec.refs_separator.trim() {
        "" => spec.refs_separator.as_str(),
        trimmed => trimmed,
    };
    let refs: Vec<Option<String>> = kept
        .iter()
        .map(|&i| {
            let parts: Vec<&str> = split(refs_text.get(i)?, separator).filter_map(|p| clean(Some(p))).collect();
            (!parts.is_empty()).then(|| parts.join(";"))
        })
        .collect();
    let [file, row] = c.lineage(&kept);
    // A code column as written passes through when every row is kept and spelled canonically
    // (the usual case: no copy of 10M strings); else it is built from the parsed codes.
    fn code<C: Code>(
        c: &FileCheck<'_>,
        v: &[Option<C>],
        kept: &[usize],
        name: &'static str,
        default: Option<&'static str>,
    ) -> Result<Column> {
        let source = c.text_column(name)?;
        let canonical = kept.len() == v.len()
            && source.as_ref().is_some_and(|s| {
                s.iter().zip(v).all(|(text, code)| match (text, code) {
                    (Some(t), Some(code)) => t == code.as_str(),
                    (None, None) => default.is_none(),
                    _ => false,
                })
            });
        Ok(match source {
            Some(s) if canonical => s.with_name(name.into()).into_column(),
            _ => StringChunked::from_iter_options(name.into(), kept.iter().map(|&i| v[i].map(C::as_str).or(default)))
                .into_column(),
        })
    }
    let occurred =
        Int64Chunked::from_iter_options("occurred_at".into(), kept.iter().map(|&i| at[i].map(|s| s.utc_micros)))
            .into_datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC))
            .into_column();
    let reporting_currency = known.fx.reporting();
    frame(
        kept.len(),
        vec![
            id.column("activity_id", &kept),
            customer.column("customer_id", &kept),
            occurred,
            Int64Chunked::from_iter_options("local_offset_minutes".into(), kept.iter().map(|&i| offset_minutes[i]))
                .into_column(),
            code(c, &channel, &kept, "channel", None)?,
            code(c, &direction, &kept, "direction", Some("outbound"))?,
            code(c, &outcome, &kept, "outcome", None)?,
            StringChunked::from_iter_options("invoice_refs".into(), refs.iter().map(Option::as_deref)).into_column(),
            c.decimal_output("promised_amount", &promised, &kept, MONEY_SCALE),
            StringChunked::from_iter_options(
                "promised_currency".into(),
                kept.iter().map(|&i| promised[i].map(|_| currency.get(i).unwrap_or(reporting_currency))),
            )
            .into_column(),
            decimal_column("promised_amount_reporting", &reporting, &kept, MONEY_SCALE),
            c.date_output("promised_date", &promised_date, &kept),
            UInt64Chunked::from_iter_options(
                "plan_instalments".into(),
                kept.iter().map(|&i| instalments[i].map(|n| n as u64)),
            )
            .into_column(),
            agent.column("agent", &kept),
            BooleanChunked::from_iter_values("consumer".into(), kept.iter().map(|&i| consumer[i].unwrap_or(false)))
                .into_column(),
            zone_text.column("debtor_time_zone", &kept),
            file,
            row,
        ],
        "activities",
    )
}
