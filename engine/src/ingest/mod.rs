//! Ingestion: from configured exports to validated canonical tables plus a quarantine.
//!
//! [`ingest`] resolves every input's files first (so a missing input stops the run before
//! anything is read), then validates the inputs in dependency order — fx_rates, customers,
//! ledger, payments — file by file, each row either accepted into its canonical table or
//! quarantined with its reason. [`Ingested`] holds the tables, the `quarantine` and
//! `data_quality` tables and the counts, which always add up:
//! `rows_read = rows_accepted + rows_quarantined` for every input.

pub mod columns;
pub mod options;
pub mod parse;
pub mod quarantine;
pub mod read;
pub mod validate;

use std::path::PathBuf;

use polars::prelude::*;

use crate::contracts::{self, InputKind, TableContract};
use crate::error::{EngineError, Result};
use crate::fx::FxTable;
use columns::FileCheck;
pub use options::{Format, InputParams, InputSpec};
use quarantine::{Entry, InputCounts, Outcome, QuarantineBuilder, Rule};
use read::SourceFile;
use validate::{Known, RefsBuilder};

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

/// Read and validate every input.
pub fn ingest(spec: &IngestSpec) -> Result<Ingested> {
    if iso_currency::Currency::from_code(&spec.reporting_currency).is_none() {
        return Err(EngineError::config(format!(
            "`run.reporting_currency` = \"{}\" is not an ISO 4217 currency code (e.g. USD, EUR)",
            spec.reporting_currency
        )));
    }
    let resolved = resolve_all(spec)?;
    let fx_configured = resolved.iter().any(|(i, _)| i.kind == InputKind::FxRates);
    let mut known = Known::new(FxTable::new(&spec.reporting_currency, spec.max_rate_age_days), fx_configured);
    let mut q = QuarantineBuilder::default();
    let mut refs = RefsBuilder::default();
    let mut files = Vec::new();
    let mut counts = Vec::new();
    let mut tables: Vec<(InputKind, DataFrame)> = Vec::new();

    for (input, sources) in &resolved {
        let mut parts = Vec::new();
        let mut c = InputCounts::default();
        for source in sources {
            let t0 = std::time::Instant::now();
            let raw = read::read_file(input, source)?;
            let read_ms = t0.elapsed().as_millis() as u64;
            let t1 = std::time::Instant::now();
            let name = read::display_path(&source.path, &spec.base_dir);
            let mut check = FileCheck::new(input, &source.path, name.clone(), &raw)?;
            let accepted = match input.kind {
                InputKind::FxRates => validate::fx_file(&mut check, &mut known)?,
                InputKind::Customers => validate::customers_file(&mut check, &mut known)?,
                InputKind::Ledger => validate::ledger_file(&mut check, &mut known)?,
                InputKind::Payments => validate::payments_file(&mut check, &mut known, &mut q, &mut refs)?,
            };
            let rejected = check.quarantine(&mut q, fx_configured)?;
            let read = raw.height() as u64;
            c.rows_read += read;
            c.rows_accepted += accepted.height() as u64;
            c.rows_quarantined += rejected;
            debug_assert_eq!(read, accepted.height() as u64 + rejected, "{name}: rows must add up");
            let validate_ms = t1.elapsed().as_millis() as u64;
            files.push(FileRead {
                input: input.kind.name(),
                path: source.path.clone(),
                name,
                format: source.format.name(),
                rows: read,
                read_ms,
                validate_ms,
            });
            parts.push(accepted);
        }
        if input.kind == InputKind::FxRates {
            known.fx.seal();
        }
        let table = concat(parts, contract_of(input.kind))?;
        if input.kind == InputKind::Ledger {
            flag_unknown_applies_to(&table, &known, input, &mut q)?;
        }
        c.rows_flagged =
            q.entries().iter().filter(|e| e.input == input.kind && e.rule.outcome() == Outcome::Flagged).count() as u64;
        counts.push((input.kind, c));
        tables.push((input.kind, table));
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
        payment_refs: refs.finish()?,
    };
    let entries = q.entries().to_vec();
    let data_quality = quarantine::data_quality(&counts, &entries)?;
    Ok(Ingested { tables, quarantine: q.finish()?, data_quality, counts, files, entries })
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
    let columns = contract.columns.iter().map(|c| Column::new_empty(c.name.into(), &c.ty.dtype())).collect();
    DataFrame::new(0, columns).map_err(EngineError::polars(format!("building an empty {} table", contract.name)))
}

fn concat(parts: Vec<DataFrame>, contract: &TableContract) -> Result<DataFrame> {
    let mut parts = parts.into_iter();
    let Some(mut first) = parts.next() else { return empty(contract) };
    for p in parts {
        first.vstack_mut_owned(p).map_err(EngineError::polars(format!("combining the files of {}", contract.name)))?;
    }
    first.rechunk_mut();
    Ok(first)
}

/// Credit memos and write-offs whose `applies_to` is not an accepted document are kept (they
/// are applied oldest-due-first) and flagged.
fn flag_unknown_applies_to(
    ledger: &DataFrame,
    known: &Known,
    spec: &InputSpec,
    q: &mut QuarantineBuilder,
) -> Result<()> {
    let err = EngineError::polars("checking applies_to");
    let get = |name: &str| ledger.column(name).and_then(|c| c.str().cloned());
    let (applies, types, files) = match (get("applies_to"), get("doc_type"), get("source_file")) {
        (Ok(a), Ok(t), Ok(f)) => (a, t, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Err(err(e)),
    };
    let rows = ledger
        .column("source_row")
        .and_then(|c| c.u64().cloned())
        .map_err(EngineError::polars("checking applies_to"))?;
    for (i, ((a, t), (f, r))) in applies.iter().zip(types.iter()).zip(files.iter().zip(rows.iter())).enumerate() {
        let (Some(a), Some(t)) = (a, t) else { continue };
        let reduces = t == contracts::DocType::CreditMemo.as_str() || t == contracts::DocType::WriteOff.as_str();
        if reduces && !known.doc_ids.contains(a) {
            let raw = columns::raw_json(&ledger.slice(i as i64, 1), 0);
            q.push(Entry {
                input: InputKind::Ledger,
                file: f.unwrap_or_default().to_string(),
                row: r.unwrap_or_default(),
                column: "applies_to",
                value: Some(a.to_string()),
                rule: Rule::UnknownAppliesTo,
                message: columns::message(spec, Rule::UnknownAppliesTo, "applies_to", Some(a), None, true),
                raw,
            });
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
            let share = c.rows_quarantined as f64 / c.rows_read as f64;
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
