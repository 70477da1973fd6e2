//! Ingestion: from configured exports to validated canonical tables plus a quarantine.
//!
//! [`ingest`] resolves every input's files first (so a missing input stops the run before
//! anything is read), validates fx_rates and customers (the others check against them), then
//! ledger and payments side by side, file by file, each row either accepted into its
//! canonical table or quarantined with its reason. Checks that need both — payment references
//! and credit memos' `applies_to` — run last and flag rows without rejecting them.
//! [`Ingested`] holds the tables, the `quarantine` and `data_quality` tables and the counts,
//! which always add up: `rows_read = rows_accepted + rows_quarantined` for every input.

pub mod columns;
pub mod options;
pub mod parse;
pub mod quarantine;
pub mod read;
pub mod validate;

use std::path::PathBuf;
use std::time::Instant;

use polars::prelude::*;

use crate::contracts::{self, InputKind, TableContract};
use crate::error::{EngineError, Result};
use crate::fx::FxTable;
use crate::ids::IdSet;
use columns::FileCheck;
pub use options::{Format, InputParams, InputSpec};
use quarantine::{Entry, InputCounts, Outcome, QuarantineBuilder, Rule};
use read::SourceFile;
use validate::Reference;

/// What to ingest: checked inputs and the currency settings.
#[derive(Debug, Clone)]
pub struct IngestSpec {
    /// One spec per configured input; ledger, payments and customers are required.
    pub inputs: Vec<InputSpec>,
    /// ISO 4217 code all amounts are converted to.
    pub reporting_currency: String,
    /// How long an FX rate stays valid after its date.
    pub max_rate_age_days: u16,
    /// Folder that output file names are shown relative to.
    pub base_dir: PathBuf,
}

/// One file that was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileRead {
    pub input: &'static str,
    pub path: PathBuf,
    /// Name as written to outputs (relative to the config's folder).
    pub name: String,
    pub format: &'static str,
    pub rows: u64,
    /// Wall time reading the file.
    pub read_ms: u64,
    /// Wall time validating its rows.
    pub validate_ms: u64,
}

/// The validated canonical tables.
#[derive(Debug, Clone)]
pub struct Tables {
    pub ledger: DataFrame,
    pub payments: DataFrame,
    pub payment_refs: DataFrame,
    pub customers: DataFrame,
    pub fx_rates: DataFrame,
}

/// Everything ingestion produced.
#[derive(Debug)]
pub struct Ingested {
    pub tables: Tables,
    pub quarantine: DataFrame,
    pub data_quality: DataFrame,
    pub counts: Vec<(InputKind, InputCounts)>,
    pub files: Vec<FileRead>,
    /// The quarantine entries, for reports.
    pub entries: Vec<Entry>,
}

/// Resolve the files of every configured input, failing on the first missing one.
pub fn resolve_all(spec: &IngestSpec) -> Result<Vec<(InputSpec, Vec<SourceFile>)>> {
    let mut out = Vec::new();
    for kind in InputKind::ALL {
        match spec.inputs.iter().find(|i| i.kind == kind) {
            Some(input) => out.push((input.clone(), read::resolve_files(input)?)),
            None if kind.required() => {
                return Err(EngineError::config(format!(
                    "no `[inputs.{}]` is configured; it is required (see `ardent schema` for its columns)",
                    kind.name()
                )));
            }
            None => {}
        }
    }
    Ok(out)
}

/// What validating one input produced.
struct InputResult {
    kind: InputKind,
    table: DataFrame,
    counts: InputCounts,
    files: Vec<FileRead>,
    quarantine: QuarantineBuilder,
}

/// Read and validate every file of one input with `validate_file`, which returns the
/// accepted rows of a file.
fn validate_input(
    spec: &IngestSpec,
    input: &InputSpec,
    sources: &[SourceFile],
    fx_configured: bool,
    mut validate_file: impl FnMut(&mut FileCheck<'_>) -> Result<DataFrame>,
) -> Result<InputResult> {
    let mut q = QuarantineBuilder::default();
    let mut parts = Vec::new();
    let mut counts = InputCounts::default();
    let mut files = Vec::new();
    let mut replaced: foldhash::HashSet<String> = Default::default();
    for source in sources {
        let t0 = Instant::now();
        let raw = read::read_file(input, source)?;
        let read_ms = t0.elapsed().as_millis() as u64;
        let t1 = Instant::now();
        let name = match &input.shown_as {
            Some((local, url)) if source.path.starts_with(local) => {
                format!("{url}/{}", read::display_path(&source.path, local))
            }
            _ => read::display_path(&source.path, &spec.base_dir),
        };
        let mut check = FileCheck::new(input, &source.path, name.clone(), &raw)?;
        let accepted = validate_file(&mut check)?;
        replaced.extend(std::mem::take(&mut check.replaced));
        let rejected = check.quarantine(&mut q, fx_configured)?;
        let read = raw.height() as u64;
        counts.rows_read += read;
        counts.rows_accepted += accepted.height() as u64;
        counts.rows_quarantined += rejected;
        debug_assert_eq!(read, accepted.height() as u64 + rejected, "{name}: rows must add up");
        files.push(FileRead {
            input: input.kind.name(),
            path: source.path.clone(),
            name,
            format: source.format.name(),
            rows: read,
            read_ms,
            validate_ms: t1.elapsed().as_millis() as u64,
        });
        parts.push(accepted);
    }
    if !replaced.is_empty() {
        let superseded = drop_superseded(&mut parts, &replaced, input, &mut q)?;
        counts.rows_accepted -= superseded;
        counts.rows_quarantined += superseded;
        counts.rows_superseded += superseded;
    }
    let table = concat(parts, contract_of(input.kind))?;
    Ok(InputResult { kind: input.kind, table, counts, files, quarantine: q })
}

/// The id column that identifies a row of an input whose latest export wins.
pub(crate) fn replaceable_id(kind: InputKind) -> Option<&'static str> {
    match kind {
        InputKind::Ledger => Some("doc_id"),
        InputKind::Customers => Some("customer_id"),
        // Payment rows are referenced by position (payment_refs), and an FX rate is keyed
        // by date and currency: their duplicates stay rejections.
        InputKind::Payments | InputKind::FxRates => None,
    }
}

/// Keep only the last row (in file order) of every id in `replaced`; the earlier rows go to
/// the quarantine as superseded. Returns how many rows were dropped.
fn drop_superseded(
    parts: &mut [DataFrame],
    replaced: &foldhash::HashSet<String>,
    input: &InputSpec,
    q: &mut QuarantineBuilder,
) -> Result<u64> {
    let Some(column) = replaceable_id(input.kind) else { return Ok(0) };
    let mut latest: foldhash::HashSet<String> = Default::default();
    let mut dropped = 0;
    for part in parts.iter_mut().rev() {
        let ids = part.column(column).and_then(|c| c.str().cloned()).map_err(EngineError::polars("reading ids"))?;
        let mut keep = Vec::with_capacity(part.height());
        for (i, id) in ids.iter().enumerate() {
            let kept = match id {
                Some(id) if replaced.contains(id) => latest.insert(id.to_string()),
                _ => true,
            };
            if !kept {
                q.push(canonical_entry(part, i, input, Rule::Superseded, column, id.unwrap_or_default())?);
                dropped += 1;
            }
            keep.push(kept);
        }
        if keep.iter().any(|k| !k) {
            let mask = BooleanChunked::from_slice("keep".into(), &keep);
            *part = part.filter(&mask).map_err(EngineError::polars("dropping superseded rows"))?;
        }
    }
    Ok(dropped)
}

/// Read and validate every input: fx_rates and customers first (the others check against
/// them), then ledger and payments side by side, then the checks that need both (payment
/// references, credit memos' `applies_to`).
pub fn ingest(spec: &IngestSpec) -> Result<Ingested> {
    if !contracts::is_currency(&spec.reporting_currency) {
        return Err(EngineError::config(format!(
            "`run.reporting_currency` = \"{}\" is not an ISO 4217 currency code (e.g. USD, EUR)",
            spec.reporting_currency
        )));
    }
    let resolved = resolve_all(spec)?;
    let find = |kind: InputKind| resolved.iter().find(|(i, _)| i.kind == kind);
    let required = |kind: InputKind| {
        find(kind).ok_or_else(|| EngineError::config(format!("no `[inputs.{}]` is configured", kind.name())))
    };
    let fx_configured = find(InputKind::FxRates).is_some();

    let mut fx = FxTable::new(&spec.reporting_currency, spec.max_rate_age_days);
    let fx_result = match find(InputKind::FxRates) {
        Some((input, sources)) => {
            let mut keys = foldhash::HashSet::default();
            Some(validate_input(spec, input, sources, fx_configured, |c| validate::fx_file(c, &mut fx, &mut keys))?)
        }
        None => None,
    };
    fx.seal();
    let mut customer_ids = IdSet::new();
    let (input, sources) = required(InputKind::Customers)?;
    let customers =
        validate_input(spec, input, sources, fx_configured, |c| validate::customers_file(c, &mut customer_ids))?;
    let reference = Reference { fx, fx_configured, customers: customer_ids };

    let (ledger_input, ledger_sources) = required(InputKind::Ledger)?;
    let (payments_input, payments_sources) = required(InputKind::Payments)?;
    let mut doc_ids = IdSet::new();
    let mut payment_ids = IdSet::new();
    let mut refs_parts = Vec::new();
    let (ledger, payments) = rayon::join(
        || {
            validate_input(spec, ledger_input, ledger_sources, fx_configured, |c| {
                validate::ledger_file(c, &reference, &mut doc_ids)
            })
        },
        || {
            let mut offset = 0u64;
            validate_input(spec, payments_input, payments_sources, fx_configured, |c| {
                let (accepted, refs) = validate::payments_file(c, &reference, &mut payment_ids, offset)?;
                offset += accepted.height() as u64;
                refs_parts.push(refs);
                Ok(accepted)
            })
        },
    );
    let (mut ledger, mut payments) = (ledger?, payments?);
    flag_unknown_applies_to(&ledger.table, &doc_ids, ledger_input, &mut ledger.quarantine)?;
    let payment_refs =
        resolve_payment_refs(&payments.table, refs_parts, &doc_ids, payments_input, &mut payments.quarantine)?;

    let mut results: Vec<InputResult> = fx_result.into_iter().collect();
    results.extend([customers, ledger, payments]);
    let mut q = QuarantineBuilder::default();
    let mut counts = Vec::new();
    let mut files = Vec::new();
    let mut tables: Vec<(InputKind, DataFrame)> = Vec::new();
    for mut r in results {
        r.counts.rows_flagged =
            r.quarantine.entries().iter().filter(|e| e.rule.outcome() == Outcome::Flagged).count() as u64;
        counts.push((r.kind, r.counts));
        files.extend(r.files);
        q.extend(r.quarantine);
        tables.push((r.kind, r.table));
    }
    let mut take = |kind: InputKind| -> Result<DataFrame> {
        match tables.iter().position(|(k, _)| *k == kind) {
            Some(p) => Ok(tables.swap_remove(p).1),
            None => empty(contract_of(kind)),
        }
    };
    let tables = Tables {
        ledger: take(InputKind::Ledger)?,
        payments: take(InputKind::Payments)?,
        customers: take(InputKind::Customers)?,
        fx_rates: take(InputKind::FxRates)?,
        payment_refs,
    };
    let q = q.sorted();
    let data_quality = quarantine::data_quality(&counts, q.entries())?;
    let quarantine = q.to_frame()?;
    Ok(Ingested { tables, quarantine, data_quality, counts, files, entries: q.into_entries() })
}

/// Decide which payment references exist in the ledger, flag each payment whose references
/// include an unknown document (the payment is kept), and build `payment_refs`.
fn resolve_payment_refs(
    payments: &DataFrame,
    parts: Vec<DataFrame>,
    doc_ids: &IdSet,
    spec: &InputSpec,
    q: &mut QuarantineBuilder,
) -> Result<DataFrame> {
    let err = || EngineError::polars("resolving payment references");
    let refs = match parts.into_iter().reduce(|mut a, b| {
        let _ = a.vstack_mut_owned(b);
        a
    }) {
        Some(r) => r,
        None => return empty(&contracts::PAYMENT_REFS_TABLE),
    };
    let doc = refs.column("doc_id").and_then(|c| c.str().cloned()).map_err(err())?;
    let rows = refs.column("payment_row").and_then(|c| c.u64().cloned()).map_err(err())?;
    let known: Vec<bool> = {
        use rayon::prelude::*;
        let values: Vec<Option<&str>> = doc.iter().collect();
        values.par_iter().map(|d| d.is_some_and(|d| doc_ids.contains(d))).collect()
    };
    let mut last_flagged = None;
    for ((d, row), is_known) in doc.iter().zip(rows.iter()).zip(&known) {
        let (Some(d), Some(row)) = (d, row) else { continue };
        if !is_known && last_flagged != Some(row) {
            last_flagged = Some(row);
            q.push(canonical_entry(payments, row as usize, spec, Rule::UnknownReference, "invoice_refs", d)?);
        }
    }
    let height = refs.height();
    DataFrame::new(
        height,
        vec![
            refs.column("payment_id").map_err(err())?.clone(),
            refs.column("position").map_err(err())?.clone(),
            refs.column("doc_id").map_err(err())?.clone(),
            BooleanChunked::from_iter_values("known".into(), known.into_iter()).into_column(),
        ],
    )
    .map_err(err())
}

/// A flagged entry for a row of a canonical table (its lineage names the file and row).
fn canonical_entry(
    table: &DataFrame,
    i: usize,
    spec: &InputSpec,
    rule: Rule,
    column: &'static str,
    value: &str,
) -> Result<Entry> {
    let err = || EngineError::polars("locating a flagged row");
    let file = table
        .column("source_file")
        .and_then(|c| c.str().map(|s| s.get(i).unwrap_or_default().to_string()))
        .map_err(err())?;
    let row = table.column("source_row").and_then(|c| c.u64().map(|s| s.get(i).unwrap_or_default())).map_err(err())?;
    Ok(Entry {
        input: spec.kind,
        file,
        row,
        column,
        value: Some(value.to_string()),
        rule,
        message: columns::message(spec, rule, column, Some(value), None, true),
        raw: columns::raw_json(&table.slice(i as i64, 1), 0),
    })
}

fn contract_of(kind: InputKind) -> &'static TableContract {
    match kind {
        InputKind::FxRates => &contracts::FX_RATES_TABLE,
        InputKind::Customers => &contracts::CUSTOMERS_TABLE,
        InputKind::Ledger => &contracts::LEDGER_TABLE,
        InputKind::Payments => &contracts::PAYMENTS_TABLE,
    }
}

/// An empty frame with a contract's schema.
pub fn empty(contract: &TableContract) -> Result<DataFrame> {
    let columns = contract.columns.iter().map(|c| Column::new_empty(c.name.as_ref().into(), &c.ty.dtype())).collect();
    DataFrame::new(0, columns).map_err(EngineError::polars(format!("building an empty {} table", contract.name)))
}

fn concat(parts: Vec<DataFrame>, contract: &TableContract) -> Result<DataFrame> {
    let mut parts = parts.into_iter();
    let Some(mut first) = parts.next() else { return empty(contract) };
    // No rechunk: one contiguous copy of a 2M-row table cost more (fresh pages) than any
    // reader of these tables gains from it.
    for p in parts {
        first.vstack_mut_owned(p).map_err(EngineError::polars(format!("combining the files of {}", contract.name)))?;
    }
    Ok(first)
}

/// Credit memos and write-offs whose `applies_to` is not an accepted document are kept (they
/// are applied oldest-due-first) and flagged.
fn flag_unknown_applies_to(
    ledger: &DataFrame,
    doc_ids: &IdSet,
    spec: &InputSpec,
    q: &mut QuarantineBuilder,
) -> Result<()> {
    let err = || EngineError::polars("checking applies_to");
    let applies = ledger.column("applies_to").and_then(|c| c.str().cloned()).map_err(err())?;
    let types = ledger.column("doc_type").and_then(|c| c.str().cloned()).map_err(err())?;
    for (i, (a, t)) in applies.iter().zip(types.iter()).enumerate() {
        let (Some(a), Some(t)) = (a, t) else { continue };
        let reduces = t == contracts::DocType::CreditMemo.as_str() || t == contracts::DocType::WriteOff.as_str();
        if reduces && !doc_ids.contains(a) {
            q.push(canonical_entry(ledger, i, spec, Rule::UnknownAppliesTo, "applies_to", a)?);
        }
    }
    Ok(())
}

impl Ingested {
    /// Fail when any input rejected more than `max_share` of its rows.
    pub fn check_rejected_share(&self, max_share: f64) -> Result<()> {
        for (kind, c) in &self.counts {
            if c.rows_read == 0 {
                continue;
            }
            // Rows replaced by a later export are not rejections.
            let share = (c.rows_quarantined - c.rows_superseded) as f64 / c.rows_read as f64;
            if share > max_share {
                let mut by_rule: std::collections::BTreeMap<&str, u64> = Default::default();
                for e in self.entries.iter().filter(|e| e.input == *kind && e.rule.outcome() == Outcome::Quarantined) {
                    *by_rule.entry(e.rule.name()).or_default() += 1;
                }
                let top =
                    by_rule.iter().max_by_key(|(_, n)| **n).map(|(r, n)| format!("{r} ({n} rows)")).unwrap_or_default();
                return Err(EngineError::TooManyRejected {
                    input: kind.name().to_string(),
                    read: c.rows_read,
                    rejected: c.rows_quarantined,
                    share: share * 100.0,
                    max: max_share * 100.0,
                    top_rule: top,
                });
            }
        }
        Ok(())
    }
}
