//! The quarantine: where every rejected input row goes, with the file, the row, the column,
//! the value, the rule that failed and the original row, so that nothing is lost and every
//! rejection can be traced and fixed. Rows kept with a warning (a payment referencing an
//! unknown invoice) are listed here too, as `flagged`.
//!
//! [`QuarantineBuilder`] collects an input's entries during validation (beyond a bound in a
//! temporary file, [`super::spill`]); [`super::spill::Quarantine`] writes the `quarantine`
//! table a part at a time, and [`data_quality`] summarises it per input and rule.

use polars::prelude::*;

use crate::contracts::InputKind;
use crate::error::{EngineError, Result};

/// A validation rule. Rows failing a rule are rejected (quarantined) or, for the few rules
/// where the row is still usable, kept and flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    WrongFieldCount,
    InvalidEncoding,
    MissingValue,
    InvalidDate,
    InvalidAmount,
    NonPositiveAmount,
    NegativeAmount,
    InvalidRate,
    NonPositiveRate,
    InvalidNumber,
    InvalidBool,
    UnknownDocType,
    UnmappedType,
    InvalidSign,
    OppositeSign,
    UnknownTerms,
    MissingDueDate,
    DueBeforeDocDate,
    UnknownCurrency,
    UnknownCustomer,
    MissingFxRate,
    DuplicateId,
    UnknownReference,
    UnknownAppliesTo,
    Superseded,
    InvalidTimestamp,
    UnknownTimeZone,
    UnknownChannel,
    UnknownDirection,
    UnknownOutcome,
    IncompletePromise,
    InvalidInstalments,
}

/// What happens to a row that fails a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The row is rejected and only kept in the quarantine.
    Quarantined,
    /// The row is accepted; the problem is recorded.
    Flagged,
    /// The row was replaced by a later export of the same id (latest export wins); it is
    /// kept in the quarantine and counted there, but is not a rejection.
    Superseded,
}

impl Outcome {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Quarantined => "quarantined",
            Outcome::Flagged => "flagged",
            Outcome::Superseded => "superseded",
        }
    }
}

impl Rule {
    /// Every rule, in the order they are checked on a row (the first failure is recorded).
    pub const ALL: [Rule; 32] = [
        Rule::WrongFieldCount,
        Rule::InvalidEncoding,
        Rule::MissingValue,
        Rule::InvalidDate,
        Rule::InvalidAmount,
        Rule::NonPositiveAmount,
        Rule::NegativeAmount,
        Rule::InvalidRate,
        Rule::NonPositiveRate,
        Rule::InvalidNumber,
        Rule::InvalidBool,
        Rule::UnknownDocType,
        Rule::UnmappedType,
        Rule::InvalidSign,
        Rule::OppositeSign,
        Rule::UnknownTerms,
        Rule::MissingDueDate,
        Rule::DueBeforeDocDate,
        Rule::UnknownCurrency,
        Rule::UnknownCustomer,
        Rule::MissingFxRate,
        Rule::DuplicateId,
        Rule::UnknownReference,
        Rule::UnknownAppliesTo,
        Rule::Superseded,
        Rule::InvalidTimestamp,
        Rule::UnknownTimeZone,
        Rule::UnknownChannel,
        Rule::UnknownDirection,
        Rule::UnknownOutcome,
        Rule::IncompletePromise,
        Rule::InvalidInstalments,
    ];

    /// Stable snake_case name, as written to the quarantine.
    pub fn name(self) -> &'static str {
        match self {
            Rule::WrongFieldCount => "wrong_field_count",
            Rule::InvalidEncoding => "invalid_encoding",
            Rule::MissingValue => "missing_value",
            Rule::InvalidDate => "invalid_date",
            Rule::InvalidAmount => "invalid_amount",
            Rule::NonPositiveAmount => "non_positive_amount",
            Rule::NegativeAmount => "negative_amount",
            Rule::InvalidRate => "invalid_rate",
            Rule::NonPositiveRate => "non_positive_rate",
            Rule::InvalidNumber => "invalid_number",
            Rule::InvalidBool => "invalid_bool",
            Rule::UnknownDocType => "unknown_doc_type",
            Rule::UnmappedType => "unmapped_type",
            Rule::InvalidSign => "invalid_sign",
            Rule::OppositeSign => "opposite_sign",
            Rule::UnknownTerms => "unknown_terms",
            Rule::MissingDueDate => "missing_due_date",
            Rule::DueBeforeDocDate => "due_before_doc_date",
            Rule::UnknownCurrency => "unknown_currency",
            Rule::UnknownCustomer => "unknown_customer",
            Rule::MissingFxRate => "missing_fx_rate",
            Rule::DuplicateId => "duplicate_id",
            Rule::UnknownReference => "unknown_reference",
            Rule::UnknownAppliesTo => "unknown_applies_to",
            Rule::Superseded => "superseded",
            Rule::InvalidTimestamp => "invalid_timestamp",
            Rule::UnknownTimeZone => "unknown_time_zone",
            Rule::UnknownChannel => "unknown_channel",
            Rule::UnknownDirection => "unknown_direction",
            Rule::UnknownOutcome => "unknown_outcome",
            Rule::IncompletePromise => "incomplete_promise",
            Rule::InvalidInstalments => "invalid_instalments",
        }
    }

    /// Parse a rule name.
    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Rejected or flagged.
    pub fn outcome(self) -> Outcome {
        match self {
            Rule::UnknownReference | Rule::UnknownAppliesTo => Outcome::Flagged,
            Rule::Superseded => Outcome::Superseded,
            _ => Outcome::Quarantined,
        }
    }

    /// What the rule checks, for `ardent schema`.
    pub fn doc(self) -> &'static str {
        match self {
            Rule::WrongFieldCount => {
                "a CSV row has more or fewer fields than the header (its values cannot be told apart); when most rows do, the file is refused instead"
            }
            Rule::InvalidEncoding => {
                "a value holds bytes that are not text in the input's `encoding` (UTF-8 unless set); the row is quarantined, never read with the bytes replaced"
            }
            Rule::MissingValue => "a required value is empty",
            Rule::InvalidDate => "a date does not parse with the input's date_format",
            Rule::InvalidAmount => {
                "an amount is not a number in the input's notation, has more than 2 decimals, or does not fit DECIMAL(18,2)"
            }
            Rule::NonPositiveAmount => {
                "a document or payment amount is zero or negative (the sign comes from doc_type)"
            }
            Rule::NegativeAmount => "a credit limit is negative",
            Rule::InvalidRate => "an FX rate is not a number with at most 10 decimals",
            Rule::NonPositiveRate => "an FX rate is zero or negative",
            Rule::InvalidNumber => "a number (external score) does not parse",
            Rule::InvalidBool => "a flag is not one of the input's true_values / false_values",
            Rule::UnknownDocType => "doc_type is neither a canonical type nor a mapped ERP code",
            Rule::UnmappedType => {
                "sources: the type column holds a value that the source's `route` does not map (to a document type, payment or ignore)"
            }
            Rule::InvalidSign => {
                "sources: a debit/credit indicator is none of the configured debit or credit spellings"
            }
            Rule::OppositeSign => {
                "sources: an amount's sign is the opposite of its type's (a payment with a debit amount, an invoice with a credit amount) and no reversal rule covers it"
            }
            Rule::UnknownTerms => {
                "sources: a due date is derived from payment terms, and the terms code is not in `terms.days`"
            }
            Rule::MissingDueDate => "an invoice or debit memo has no due date",
            Rule::DueBeforeDocDate => "the due date is before the document date",
            Rule::UnknownCurrency => "the currency is not an ISO 4217 code",
            Rule::UnknownCustomer => "customer_id is not in the validated customers",
            Rule::MissingFxRate => "no FX rate for the currency within max_rate_age_days before the date",
            Rule::DuplicateId => "the id (or date and currency for fx_rates) was already accepted earlier in the input",
            Rule::UnknownReference => {
                "flagged, row kept: a payment references a doc_id not in the validated ledger (its cash stays unapplied or is applied by FIFO)"
            }
            Rule::UnknownAppliesTo => {
                "flagged, row kept: a credit memo or write-off applies to a doc_id not in the validated ledger (applied by FIFO)"
            }
            Rule::Superseded => {
                "incremental runs (ledger, customers): a later export batch has the same id, and the latest export wins; not a rejection"
            }
            Rule::InvalidTimestamp => {
                "activities: occurred_at is not a date and time in the input's layout, has no UTC offset and the input no `time_zone`, or falls in a daylight-saving gap of that zone"
            }
            Rule::UnknownTimeZone => "activities: debtor_time_zone is neither an IANA time zone nor a UTC offset",
            Rule::UnknownChannel => {
                "activities: channel is neither a canonical channel nor a code mapped in `channels`"
            }
            Rule::UnknownDirection => {
                "activities: direction is neither outbound/inbound nor a code mapped in `directions`"
            }
            Rule::UnknownOutcome => {
                "activities: outcome is neither a canonical outcome nor a code mapped in `outcomes`"
            }
            Rule::IncompletePromise => {
                "activities: a promise to pay or payment plan without a promised amount or date, or a promised date before the activity"
            }
            Rule::InvalidInstalments => "activities: plan_instalments is not a whole number from 1 to 1200",
        }
    }
}

/// One quarantine entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub input: InputKind,
    pub file: String,
    pub row: u64,
    pub column: &'static str,
    pub value: Option<String>,
    pub rule: Rule,
    pub message: String,
    pub raw: String,
}

/// Collects one input's quarantine entries during validation, in table order a chunk at a
/// time, with entries beyond [`super::spill::IN_MEMORY`] in a temporary file
/// ([`super::spill`]); a slice's builder holds its few entries until its chunk takes them.
#[derive(Debug, Default)]
pub struct QuarantineBuilder {
    /// The current chunk's entries, in any order.
    chunk: Vec<Entry>,
    /// Entries in table order not yet written to `spill`.
    ordered: Vec<Entry>,
    spill: Option<super::spill::SpillFile>,
    /// Entries decided after the input's rows (flagged references, replaced rows).
    late: Vec<Entry>,
    summary: super::spill::Summary,
}

impl QuarantineBuilder {
    /// Record an entry of the current chunk.
    pub fn push(&mut self, entry: Entry) {
        self.summary.add(&entry);
        self.chunk.push(entry);
    }

    /// Record an entry decided after the input's rows (it is merged into place when the
    /// table is written).
    pub fn push_late(&mut self, entry: Entry) {
        self.summary.add(&entry);
        self.late.push(entry);
    }

    /// Take over a slice's entries (of the current chunk), after those taken before.
    pub fn extend(&mut self, other: QuarantineBuilder) {
        self.summary.merge(other.summary);
        self.chunk.extend(other.chunk);
        self.ordered.extend(other.ordered);
        self.late.extend(other.late);
    }

    /// The current chunk is complete: its entries join the table order (by row, then rule),
    /// and go to the temporary file when too many are held.
    pub fn end_chunk(&mut self) -> Result<()> {
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.sort_by_key(|e| (e.row, Rule::ALL.iter().position(|r| *r == e.rule)));
        self.ordered.extend(chunk);
        if self.ordered.len() >= super::spill::IN_MEMORY {
            let spill = match &mut self.spill {
                Some(s) => s,
                None => self.spill.insert(super::spill::SpillFile::new()?),
            };
            spill.write(&self.ordered)?;
            self.ordered.clear();
        }
        Ok(())
    }

    /// What the reports need, so far.
    pub fn summary(&self) -> &super::spill::Summary {
        &self.summary
    }

    /// The input's quarantine, its files named in the order read.
    pub fn finish(mut self, files: Vec<String>) -> Result<(super::spill::InputQuarantine, super::spill::Summary)> {
        self.end_chunk()?;
        let q = super::spill::InputQuarantine { spill: self.spill, ordered: self.ordered, late: self.late, files };
        Ok((q, self.summary))
    }
}

/// Rows read, accepted and rejected for one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct InputCounts {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub rows_flagged: u64,
    /// Of `rows_quarantined`, rows replaced by a later export (not rejections).
    pub rows_superseded: u64,
}

/// The `data_quality` table: totals per input, then one row per (input, rule, column).
///
/// A source adds its own rows (input `source.<name>`): `rows_read`, `rows_to_ledger`,
/// `rows_to_payments` and `rows_ignored` (outcome `total`; read = to_ledger + to_payments +
/// ignored), the ignored rows by reason (outcome `ignored`), and `derived_payments`. Customers
/// derived from the ledger (no customers input) are one `rows_derived` row.
pub fn data_quality(
    counts: &[(InputKind, InputCounts)],
    sources: &[super::SourceRead],
    derived_customers: Option<u64>,
    summary: &super::spill::Summary,
) -> Result<DataFrame> {
    let mut input: Vec<String> = Vec::new();
    let mut rule = Vec::new();
    let mut column: Vec<Option<&str>> = Vec::new();
    let mut outcome = Vec::new();
    let mut rows = Vec::new();
    let mut share = Vec::new();
    for super::SourceRead { source: name, counts: c, .. } in sources {
        let read = c.rows_read;
        let ratio = |n: u64| if read == 0 { 0.0 } else { n as f64 / read as f64 };
        let mut push = |r: &'static str, o: &'static str, n: u64| {
            input.push(format!("source.{name}"));
            rule.push(r);
            column.push(None);
            outcome.push(o);
            rows.push(n);
            share.push(ratio(n));
        };
        push("rows_read", "total", read);
        push("rows_to_ledger", "total", c.rows_to_ledger);
        push("rows_to_payments", "total", c.rows_to_payments);
        push("rows_ignored", "total", c.ignored());
        for (reason, n) in &c.rows_ignored {
            push(reason, "ignored", *n);
        }
        if c.derived_payments > 0 {
            push("derived_payments", "derived", c.derived_payments);
        }
    }
    if let Some(n) = derived_customers {
        input.push("customers".into());
        rule.push("rows_derived");
        column.push(None);
        outcome.push("derived");
        rows.push(n);
        share.push(1.0);
    }
    for (kind, c) in counts {
        let read = c.rows_read;
        let ratio = |n: u64| if read == 0 { 0.0 } else { n as f64 / read as f64 };
        for (name, n) in
            [("rows_read", read), ("rows_accepted", c.rows_accepted), ("rows_quarantined", c.rows_quarantined)]
        {
            input.push(kind.name().to_string());
            rule.push(name);
            column.push(None);
            outcome.push("total");
            rows.push(n);
            share.push(ratio(n));
        }
        let groups = summary.counts.iter().filter(|((i, _, _), _)| i == kind).map(|((_, r, c), n)| ((*r, *c), *n));
        for ((r, col), n) in groups {
            input.push(kind.name().to_string());
            rule.push(r.name());
            column.push(Some(col));
            outcome.push(r.outcome().name());
            rows.push(n);
            share.push(ratio(n));
        }
    }
    let height = input.len();
    DataFrame::new(
        height,
        vec![
            StringChunked::from_iter_values("input".into(), input.iter().map(String::as_str)).into_column(),
            StringChunked::from_iter_values("rule".into(), rule.into_iter()).into_column(),
            StringChunked::from_iter_options("column".into(), column.into_iter()).into_column(),
            StringChunked::from_iter_values("outcome".into(), outcome.into_iter()).into_column(),
            UInt64Chunked::from_vec("rows".into(), rows).into_column(),
            Float64Chunked::from_vec("share".into(), share).into_column(),
        ],
    )
    .map_err(EngineError::polars("building the data_quality table"))
}
