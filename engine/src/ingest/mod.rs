//! Ingestion: from configured exports to validated canonical tables plus a quarantine.
//!
//! [`ingest_into`] resolves every input's files first (so a missing input stops the run
//! before anything is read), validates fx_rates and customers (the others check against
//! them), then the ledger, then payments, then (when configured) the activities, whose
//! references are checked against the complete ledger, a chunk of `chunk_rows` rows at a time (the next
//! chunk is read while one is validated), each row either accepted or quarantined with its
//! reason. The accepted ledger, payments and payment references go to a [`Sink`] chunk by
//! chunk, so no input is held whole. Checks that need the whole ledger — payment references
//! (checked as payments arrive) and credit memos' `applies_to` (decided once the ledger is
//! complete) — flag rows without rejecting them. [`ingest`] collects everything in memory.
//! [`Ingested`] holds the small tables, the `quarantine` and `data_quality` tables and the
//! counts, which always add up: `rows_read = rows_accepted + rows_quarantined` for every
//! input.

pub mod columns;
pub mod encoding;
pub mod excel;
pub mod inspect;
pub mod options;
pub mod parse;
pub mod quarantine;
pub mod read;
pub mod source;
pub mod spill;
pub mod structure;
pub mod timestamp;
pub mod validate;

use std::path::PathBuf;
use std::time::Instant;

use polars::prelude::*;

use crate::contracts::{self, InputKind, TableContract};
use crate::error::{EngineError, Result};
use crate::fx::FxTable;
use crate::ids::IdSet;
use columns::{FileCheck, RowAt};
pub use options::{Format, InputParams, InputSpec};
use quarantine::{Entry, InputCounts, Outcome, QuarantineBuilder, Rule};
use read::SourceFile;
use validate::{Reference, Unique, UniqueIds, UniqueRates};

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
    /// Rows read and validated at a time (default [`read::CHUNK_ROWS`]).
    pub chunk_rows: usize,
    /// Combined exports whose rows are routed to the ledger and payments.
    pub sources: Vec<source::SourceSpec>,
}

/// Where an input's rows come from.
#[derive(Debug, Clone, Copy)]
enum Feed<'a> {
    /// Its own export files.
    Files(&'a [SourceFile]),
    /// The rows a source routed to it, built into frames a chunk at a time.
    Routed(&'a [SourceFile], &'a source::Routing<'a>, InputKind),
}

impl<'a> Feed<'a> {
    fn files(self) -> &'a [SourceFile] {
        match self {
            Feed::Files(f) | Feed::Routed(f, _, _) => f,
        }
    }

    /// The export file as read, for rows a source routed.
    fn raw(self, file: usize) -> Option<columns::Raw<'a>> {
        match self {
            Feed::Files(_) => None,
            Feed::Routed(_, routing, _) => routing.raw(file),
        }
    }
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
    /// Time spent validating its rows: the row rules (on their own thread) plus the id rule
    /// and handing the rows on; it overlaps with reading and with the file's other chunks.
    pub validate_ms: u64,
}

/// One source that was read: its name, where its rows went, its files (path, name as
/// written to outputs, rows).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceRead {
    pub source: String,
    #[serde(flatten)]
    pub counts: source::SourceCounts,
    #[serde(skip)]
    pub files: Vec<(PathBuf, String, u64)>,
    /// Time spent reading the source's files whole, and routing and linking their rows
    /// (before validation, whose time is the routed inputs' own).
    #[serde(skip)]
    pub read_ms: u64,
    #[serde(skip)]
    pub route_ms: u64,
}

/// The files of every configured source, by source name.
pub fn resolve_sources(spec: &IngestSpec) -> Result<Vec<(String, Vec<SourceFile>)>> {
    spec.sources.iter().map(|s| Ok((s.name.clone(), read::resolve_files(&s.read)?))).collect()
}

/// The validated canonical tables.
#[derive(Debug, Clone)]
pub struct Tables {
    pub ledger: DataFrame,
    pub payments: DataFrame,
    pub payment_refs: DataFrame,
    pub customers: DataFrame,
    pub fx_rates: DataFrame,
    /// Empty unless an activities input is configured (and the sink collects it).
    pub activities: DataFrame,
}

/// Everything ingestion produced.
#[derive(Debug)]
pub struct Ingested {
    pub tables: Tables,
    /// The quarantine table, written a part at a time (its rows may be on disk).
    pub quarantine: spill::Quarantine,
    pub data_quality: DataFrame,
    pub counts: Vec<(InputKind, InputCounts)>,
    pub files: Vec<FileRead>,
    /// What the reports need of the quarantine (counts, examples, frequent values).
    pub summary: spill::Summary,
    /// Where the rows of each source went.
    pub sources: Vec<SourceRead>,
    /// Customers derived from the ledger and payments when no customers input is configured.
    pub derived_customers: Option<u64>,
    /// What a run should tell the user about its inputs.
    pub notes: Vec<String>,
}

/// Resolve the files of every configured input, failing on the first missing one.
pub fn resolve_all(spec: &IngestSpec) -> Result<Vec<(InputSpec, Vec<SourceFile>)>> {
    let mut out = Vec::new();
    for kind in InputKind::ALL {
        let fed = spec.sources.iter().filter(|s| s.feeds(kind)).count();
        let configured = spec.inputs.iter().any(|i| i.kind == kind);
        if fed + usize::from(configured) > 1 {
            return Err(EngineError::config(format!(
                "{} is fed by more than one of `[inputs.{}]` and sources ({}); an input comes from one place",
                kind.name(),
                kind.name(),
                spec.sources
                    .iter()
                    .filter(|s| s.feeds(kind))
                    .map(|s| format!("sources.{}", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match spec.inputs.iter().find(|i| i.kind == kind) {
            Some(input) => {
                let files = read::resolve_files(input)?;
                // The ledger's file read again as payments: every document would be paid by itself.
                let ledger = out.iter().find(|(i, _): &&(InputSpec, Vec<SourceFile>)| i.kind == InputKind::Ledger);
                if let (InputKind::Payments, Some((_, ledger_files))) = (kind, ledger)
                    && let Some(both) = files.iter().find(|f| ledger_files.iter().any(|l| l.path == f.path))
                {
                    return Err(EngineError::config(format!(
                        "`inputs.ledger` and `inputs.payments` both read {}: a file with documents and payments together is one combined export; read it once with a `[sources.<name>]` section that routes each type to the ledger or payments (README \"Combined exports\"; `ardent inspect {}` proposes one)",
                        both.path.display(),
                        both.path.display()
                    )));
                }
                out.push((input.clone(), files));
            }
            None if fed > 0 || kind == InputKind::Customers => {}
            // A source's ledger may come without payments (a snapshot of open items).
            None if kind == InputKind::Payments && spec.sources.iter().any(|s| s.feeds(InputKind::Ledger)) => {}
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

/// The tables ingest hands out chunk by chunk as it validates (the large inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    Ledger,
    Payments,
    PaymentRefs,
    /// Only when an activities input is configured.
    Activities,
}

impl Streamed {
    /// The three every run produces, in the order they are produced.
    pub const ALL: [Streamed; 3] = [Streamed::Ledger, Streamed::Payments, Streamed::PaymentRefs];

    /// The table's contract.
    pub fn contract(self) -> &'static TableContract {
        match self {
            Streamed::Ledger => &contracts::LEDGER_TABLE,
            Streamed::Payments => &contracts::PAYMENTS_TABLE,
            Streamed::PaymentRefs => &contracts::PAYMENT_REFS_TABLE,
            Streamed::Activities => &contracts::ACTIVITIES_TABLE,
        }
    }
}

/// Where the accepted rows of the ledger, payments and payment references go as they are
/// validated, so a run never holds them all as frames. The ledger is complete before the
/// first payment arrives.
pub trait Sink {
    /// The validated customers and fx_rates, before the first ledger row.
    fn start(&mut self, _customers: &DataFrame, _fx_rates: &DataFrame) -> Result<()> {
        Ok(())
    }

    /// The next accepted rows of `table`, in input order.
    fn rows(&mut self, table: Streamed, rows: &DataFrame) -> Result<()>;

    /// Take out rows of `table` replaced by a later export (latest export wins): `rows` are
    /// ascending positions among all rows given for the table. Returns the rows taken out
    /// when the sink kept them (for the quarantine).
    fn remove(&mut self, table: Streamed, rows: &[u64]) -> Result<Option<DataFrame>>;
}

/// A [`Sink`] that keeps every chunk in memory: [`ingest`] returns its tables.
#[derive(Debug, Default)]
pub struct Collect {
    parts: [Vec<DataFrame>; 4],
}

impl Collect {
    /// The table collected so far.
    pub fn take(&mut self, table: Streamed) -> Result<DataFrame> {
        concat(std::mem::take(&mut self.parts[table as usize]), table.contract())
    }
}

impl Sink for Collect {
    fn rows(&mut self, table: Streamed, rows: &DataFrame) -> Result<()> {
        self.parts[table as usize].push(rows.clone());
        Ok(())
    }

    fn remove(&mut self, table: Streamed, rows: &[u64]) -> Result<Option<DataFrame>> {
        let mut all = self.take(table)?;
        let removed = remove_rows(&mut all, rows)?;
        self.parts[table as usize] = vec![all];
        Ok(Some(removed))
    }
}

/// Take the rows at ascending positions `rows` out of `table`; returns them.
pub fn remove_rows(table: &mut DataFrame, rows: &[u64]) -> Result<DataFrame> {
    let mut keep = vec![true; table.height()];
    for &r in rows {
        if let Some(k) = keep.get_mut(r as usize) {
            *k = false;
        }
    }
    let err = || EngineError::polars("dropping replaced rows");
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    let removed = table.filter(&!&mask).map_err(err())?;
    *table = table.filter(&mask).map_err(err())?;
    Ok(removed)
}

/// Where an accepted row of an input whose latest export wins came from.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    /// Position among the input's accepted rows.
    row: u64,
    /// Index into the input's files.
    file: usize,
    /// 1-based row in the file.
    file_row: u64,
    /// Number of its id in the input's id set.
    id: u32,
}

/// What validating one input produced.
struct InputResult {
    kind: InputKind,
    counts: InputCounts,
    files: Vec<FileRead>,
    quarantine: QuarantineBuilder,
    /// Accepted rows that a later file replaced (latest export wins), by position.
    superseded: Vec<Accepted>,
}

/// A chunk of a file, read ahead of its validation.
struct Chunk {
    file: usize,
    frame: DataFrame,
    first_row: usize,
    file_rows: usize,
    read_ms: u64,
}

/// A chunk after the row rules.
struct Checked {
    chunk: Chunk,
    passed: Passed,
    failed: QuarantineBuilder,
    rejected: u64,
    check_ms: u64,
}

/// Slices a chunk is checked in, in parallel. A fixed number (not the thread count), so the
/// slices, and what is decided per slice, are the same on any machine. 8,192-row slices of
/// the default chunk keep each slice's vectors small enough to be reused from the allocator's
/// free lists: `m` Parquet validate 0.92-0.98 s at 420-433 MB, against 0.99-1.05 s at
/// 434-458 MB with 8 slices.
const SLICES: usize = 32;

/// Rows that passed the row rules: the canonical rows and, for payments, their references
/// (whose `payment_row` is a position in `rows`).
pub(crate) struct Passed {
    rows: DataFrame,
    refs: Option<DataFrame>,
}

impl Passed {
    fn rows(rows: DataFrame) -> Self {
        Passed { rows, refs: None }
    }

    /// Append the rows that passed in the next slice.
    fn append(&mut self, next: Passed) -> Result<()> {
        let err = || EngineError::polars("combining the slices of a chunk");
        let offset = self.rows.height() as u64;
        self.rows.vstack_mut_owned(next.rows).map_err(err())?;
        if let (Some(refs), Some(mut more)) = (&mut self.refs, next.refs) {
            let shifted = more.column("payment_row").and_then(|c| c.u64().cloned()).map_err(err())? + offset;
            more.with_column(shifted.into_column()).map_err(err())?;
            refs.vstack_mut_owned(more).map_err(err())?;
        }
        Ok(())
    }

    /// Take out the rows at ascending positions `drop` (and their references).
    fn remove(&mut self, drop: &[usize]) -> Result<()> {
        let positions: Vec<u64> = drop.iter().map(|&i| i as u64).collect();
        remove_rows(&mut self.rows, &positions)?;
        let Some(refs) = &mut self.refs else { return Ok(()) };
        let err = || EngineError::polars("dropping the references of repeated payments");
        let rows = refs.column("payment_row").and_then(|c| c.u64().cloned()).map_err(err())?;
        // A kept payment moves up by the number of dropped rows before it.
        let (mut keep, mut moved) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
        for r in rows.iter() {
            let r = r.unwrap_or_default();
            let before = positions.partition_point(|&p| p < r);
            let dropped = positions.get(before) == Some(&r);
            keep.push(!dropped);
            if !dropped {
                moved.push(r - before as u64);
            }
        }
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        *refs = refs.filter(&mask).map_err(err())?;
        refs.with_column(UInt64Chunked::from_vec("payment_row".into(), moved).into_column()).map_err(err())?;
        Ok(())
    }
}

/// Check one chunk with the row rules, its slices in parallel. Returns the rows that passed,
/// in file order, the quarantine entries of those that failed, and how many failed.
fn check_chunk(
    at: RowAt<'_>,
    path: &std::path::Path,
    slice_target: usize,
    rules: &(impl Fn(&mut FileCheck<'_>) -> Result<Passed> + Sync),
    fx_configured: bool,
) -> Result<(Passed, QuarantineBuilder, u64)> {
    use rayon::prelude::*;
    let height = at.frame.height();
    // Even slices: a chunk's tail slice is never much smaller than the others.
    let slices = height.div_ceil(slice_target.max(1)).max(1);
    let step = height.div_ceil(slices).max(1);
    let checked: Vec<Result<(Passed, QuarantineBuilder, u64)>> = (0..slices)
        .into_par_iter()
        .map(|k| {
            let slice = at.frame.slice((k * step) as i64, step);
            let mut check = FileCheck::new(at.spec, path, at.file.to_string(), &slice)?;
            check.first_row = at.first_row + k * step;
            check.raw = at.raw;
            let passed = rules(&mut check)?;
            let mut failed = QuarantineBuilder::default();
            let rejected = check.quarantine(&mut failed, fx_configured);
            debug_assert_eq!(
                slice.height() as u64,
                passed.rows.height() as u64 + rejected,
                "{}: rows must add up",
                at.file
            );
            Ok((passed, failed, rejected))
        })
        .collect();
    let mut all: Option<Passed> = None;
    let mut rejected = 0;
    let mut q = QuarantineBuilder::default();
    for c in checked {
        let (passed, failed, n) = c?;
        q.extend(failed);
        rejected += n;
        match &mut all {
            Some(all) => all.append(passed)?,
            None => all = Some(passed),
        }
    }
    let all = all.ok_or_else(|| EngineError::polars("checking a chunk")(PolarsError::NoData("no slice".into())))?;
    Ok((all, q, rejected))
}

/// Read and validate every file of one input, chunk by chunk: `rules` checks the rows of a
/// slice (the slices of a chunk are checked in parallel), then `unique` takes out, in file
/// order, the rows that repeat an accepted id, and `accept` gets the chunk's accepted rows
/// (with `unique`, which has recorded them). The next chunk is read on another thread while
/// one is validated.
fn validate_input<U: Unique>(
    spec: &IngestSpec,
    input: &InputSpec,
    feed: Feed<'_>,
    fx_configured: bool,
    rules: impl Fn(&mut FileCheck<'_>) -> Result<Passed> + Sync,
    unique: &mut U,
    mut accept: impl FnMut(&Passed, &U) -> Result<()>,
) -> Result<InputResult> {
    let mut q = QuarantineBuilder::default();
    let mut counts = InputCounts::default();
    let sources = feed.files();
    let mut files: Vec<FileRead> = sources
        .iter()
        .map(|source| FileRead {
            input: input.kind.name(),
            path: source.path.clone(),
            name: match &input.shown_as {
                Some((local, url)) if source.path.starts_with(local) => {
                    format!("{url}/{}", read::display_path(&source.path, local))
                }
                _ => read::display_path(&source.path, &spec.base_dir),
            },
            format: source.format.name(),
            rows: 0,
            read_ms: 0,
            validate_ms: 0,
        })
        .collect();
    // Latest export wins: where each id's accepted row is, and the rows it replaced.
    let mut latest: Vec<Accepted> = Vec::new();
    let mut superseded: Vec<Accepted> = Vec::new();
    let mut accepted_rows = 0u64;
    let slice_target = spec.chunk_rows.max(1).div_ceil(SLICES);
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk>>(0);
        scope.spawn(move || {
            if let Feed::Routed(files, routing, kind) = feed {
                // A source's rows, routed a block at a time when it was read: each block's
                // links written while the block before is validated.
                for file in 0..files.len() {
                    let n = routing.file_rows(file);
                    for (k, block) in routing.blocks(file).iter().enumerate() {
                        let t0 = Instant::now();
                        let next = routing.frame(kind, file, k).map(|frame| Chunk {
                            file,
                            frame,
                            first_row: block.first_row,
                            file_rows: n,
                            read_ms: t0.elapsed().as_millis() as u64,
                        });
                        let stop = next.is_err();
                        if tx.send(next).is_err() || stop {
                            return;
                        }
                    }
                }
                return;
            }
            for (file, source) in sources.iter().enumerate() {
                let mut t0 = Instant::now();
                let read = read::read_chunks(input, source, spec.chunk_rows.max(1), |frame, first_row, file_rows| {
                    let read_ms = t0.elapsed().as_millis() as u64;
                    // A closed channel means validation stopped on an error; stop reading.
                    tx.send(Ok(Chunk { file, frame, first_row, file_rows, read_ms }))
                        .map_err(|_| EngineError::config("validation stopped".to_string()))?;
                    t0 = Instant::now();
                    Ok(())
                });
                if let Err(e) = read {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        // The row rules of the next chunk run on their own thread while the id rule and
        // `accept` handle this one: those are sequential, and would otherwise leave a core idle.
        let (checked_tx, checked) = std::sync::mpsc::sync_channel::<Result<Checked>>(0);
        let (rules, names) = (&rules, &names);
        scope.spawn(move || {
            for chunk in rx {
                let checked = chunk.and_then(|chunk| {
                    let t1 = Instant::now();
                    let at = RowAt {
                        spec: input,
                        file: &names[chunk.file],
                        frame: &chunk.frame,
                        first_row: chunk.first_row,
                        raw: feed.raw(chunk.file),
                    };
                    let (passed, failed, rejected) =
                        check_chunk(at, &sources[chunk.file].path, slice_target, rules, fx_configured)?;
                    Ok(Checked { chunk, passed, failed, rejected, check_ms: t1.elapsed().as_millis() as u64 })
                });
                let stop = checked.is_err();
                if checked_tx.send(checked).is_err() || stop {
                    return;
                }
            }
        });
        for checked in checked {
            let Checked { chunk, mut passed, failed, mut rejected, check_ms } = checked?;
            let Chunk { file, frame, first_row, file_rows, read_ms } = chunk;
            let t1 = Instant::now();
            q.extend(failed);
            let at = RowAt { spec: input, file: &names[file], frame: &frame, first_row, raw: feed.raw(file) };
            let repeats = unique.check(&passed.rows, file as u32, file_rows - first_row)?;
            if !repeats.rows.is_empty() {
                let source_rows = passed
                    .rows
                    .column("source_row")
                    .and_then(|c| c.u64().cloned())
                    .map_err(EngineError::polars("locating repeated ids"))?;
                for (i, detail) in &repeats.rows {
                    let row = at.index_of(source_rows.get(*i).unwrap_or_default());
                    q.push(at.entry(row, Rule::DuplicateId, repeats.column, detail.as_deref(), fx_configured));
                }
                let drop: Vec<usize> = repeats.rows.iter().map(|(i, _)| *i).collect();
                passed.remove(&drop)?;
                rejected += drop.len() as u64;
            }
            let accepted = &passed.rows;
            if !repeats.numbers.is_empty() {
                debug_assert_eq!(repeats.numbers.len(), accepted.height());
                let source_rows = accepted
                    .column("source_row")
                    .and_then(|c| c.u64().cloned())
                    .map_err(EngineError::polars("reading source rows"))?;
                for (k, (&id, file_row)) in repeats.numbers.iter().zip(source_rows.iter()).enumerate() {
                    let a =
                        Accepted { row: accepted_rows + k as u64, file, file_row: file_row.unwrap_or_default(), id };
                    match latest.get_mut(id as usize) {
                        Some(earlier) => superseded.push(std::mem::replace(earlier, a)),
                        None => latest.push(a),
                    }
                }
            }
            let read = frame.height() as u64;
            debug_assert_eq!(read, accepted.height() as u64 + rejected, "{}: rows must add up", files[file].name);
            accepted_rows += accepted.height() as u64;
            counts.rows_read += read;
            counts.rows_accepted += accepted.height() as u64;
            counts.rows_quarantined += rejected;
            accept(&passed, unique)?;
            q.end_chunk()?;
            let f = &mut files[file];
            f.rows += read;
            f.read_ms += read_ms;
            f.validate_ms += check_ms + t1.elapsed().as_millis() as u64;
        }
        Ok(())
    })?;
    superseded.sort_unstable_by_key(|a| a.row);
    Ok(InputResult { kind: input.kind, counts, files, quarantine: q, superseded })
}

/// The uniqueness rule of an input on its id `column` (fx_rates are keyed by date and
/// currency instead: [`UniqueRates`]).
fn unique_ids<'s>(input: &InputSpec, column: &'static str, seen: &'s mut IdSet) -> UniqueIds<'s> {
    UniqueIds::new(column, seen, input.latest_wins && replaceable_id(input.kind).is_some())
}

/// The id column that identifies a row of an input whose latest export wins.
pub(crate) fn replaceable_id(kind: InputKind) -> Option<&'static str> {
    match kind {
        InputKind::Ledger => Some("doc_id"),
        InputKind::Customers => Some("customer_id"),
        // Payment rows are referenced by position (payment_refs), and an FX rate is keyed
        // by date and currency: their duplicates stay rejections.
        InputKind::Payments | InputKind::FxRates | InputKind::Activities => None,
    }
}

/// Take the rows a later export replaced out of the input's table (with `remove`, which
/// returns them when it kept them) and into the quarantine as superseded.
fn drop_superseded(
    r: &mut InputResult,
    input: &InputSpec,
    ids: &IdSet,
    remove: impl FnOnce(&[u64]) -> Result<Option<DataFrame>>,
) -> Result<()> {
    let Some(column) = replaceable_id(input.kind) else { return Ok(()) };
    if r.superseded.is_empty() {
        return Ok(());
    }
    let rows: Vec<u64> = r.superseded.iter().map(|a| a.row).collect();
    let removed = remove(&rows)?;
    for (i, a) in r.superseded.iter().enumerate() {
        let id = ids.get(a.id);
        let entry = match &removed {
            Some(df) => canonical_entry(df, i, input, Rule::Superseded, column, id)?,
            None => Entry {
                input: input.kind,
                file: r.files[a.file].name.clone(),
                row: a.file_row,
                column,
                value: Some(id.to_string()),
                rule: Rule::Superseded,
                message: columns::message(input, Rule::Superseded, column, Some(id), None, true),
                raw: serde_json::json!({ column: id }).to_string(),
            },
        };
        r.quarantine.push_late(entry);
    }
    let n = rows.len() as u64;
    r.counts.rows_accepted -= n;
    r.counts.rows_quarantined += n;
    r.counts.rows_superseded += n;
    Ok(())
}

/// Read and validate every input (see [`ingest_into`]); the ledger, payments and payment
/// references are returned in [`Ingested::tables`].
pub fn ingest(spec: &IngestSpec) -> Result<Ingested> {
    let mut sink = Collect::default();
    let mut ingested = ingest_into(spec, &mut sink)?;
    ingested.tables.ledger = sink.take(Streamed::Ledger)?;
    ingested.tables.payments = sink.take(Streamed::Payments)?;
    ingested.tables.payment_refs = sink.take(Streamed::PaymentRefs)?;
    ingested.tables.activities = sink.take(Streamed::Activities)?;
    Ok(ingested)
}

/// Read and validate every input: fx_rates and customers first (the others check against
/// them), then the ledger, then payments with their references (checked against the
/// complete ledger). The accepted ledger, payments and payment references go to `sink` as
/// they are validated, a chunk at a time; [`Ingested::tables`] holds the small tables and
/// empty ledger, payments and payment_refs frames.
pub fn ingest_into(spec: &IngestSpec, sink: &mut dyn Sink) -> Result<Ingested> {
    if !contracts::is_currency(&spec.reporting_currency) {
        return Err(EngineError::config(format!(
            "`run.reporting_currency` = \"{}\" is not an ISO 4217 currency code (e.g. USD, EUR)",
            spec.reporting_currency
        )));
    }
    let resolved = resolve_all(spec)?;
    let find = |kind: InputKind| resolved.iter().find(|(i, _)| i.kind == kind);
    // Combined exports are read, routed and linked before anything is validated.
    let prepared: Vec<source::Prepared> =
        spec.sources.iter().map(|s| source::prepare(s, &spec.base_dir)).collect::<Result<_>>()?;
    let routings: Vec<source::Routing<'_>> = prepared.iter().map(source::Routing::new).collect();
    let required = |kind: InputKind| -> Result<(&InputSpec, Feed<'_>)> {
        if let Some((input, files)) = find(kind) {
            return Ok((input, Feed::Files(files)));
        }
        prepared
            .iter()
            .zip(&routings)
            .find_map(|(p, routing)| {
                let routed = match kind {
                    InputKind::Ledger => p.ledger.as_ref(),
                    _ => p.payments.as_ref(),
                };
                routed.map(|input| (input, Feed::Routed(&p.files, routing, kind)))
            })
            .ok_or_else(|| EngineError::config(format!("no `[inputs.{}]` is configured", kind.name())))
    };
    let fx_configured = find(InputKind::FxRates).is_some();

    let mut fx = FxTable::new(&spec.reporting_currency, spec.max_rate_age_days);
    let mut fx_parts = Vec::new();
    let fx_result = match find(InputKind::FxRates) {
        Some((input, sources)) => {
            let mut rates = UniqueRates { fx: &mut fx, keys: Default::default() };
            Some(validate_input(
                spec,
                input,
                Feed::Files(sources),
                fx_configured,
                |c| validate::fx_rows(c).map(Passed::rows),
                &mut rates,
                |passed, _| {
                    fx_parts.push(passed.rows.clone());
                    Ok(())
                },
            )?)
        }
        None => None,
    };
    fx.seal();
    let fx_table = concat(fx_parts, &contracts::FX_RATES_TABLE)?;
    let mut customer_ids = IdSet::new();
    let (ledger_input, ledger_sources) = required(InputKind::Ledger)?;
    // A source that routes no payments (a snapshot of open items) needs none.
    let payments_feed = match required(InputKind::Payments) {
        Ok(feed) => Some(feed),
        Err(_) if find(InputKind::Ledger).is_none() => None,
        Err(e) => return Err(e),
    };
    let (customers, mut customers_table, derived_customers) = match find(InputKind::Customers) {
        Some((input, sources)) => {
            let mut customer_parts = Vec::new();
            let mut unique = unique_ids(input, "customer_id", &mut customer_ids);
            let mut customers = validate_input(
                spec,
                input,
                Feed::Files(sources),
                fx_configured,
                |c| validate::customers_rows(c).map(Passed::rows),
                &mut unique,
                |passed, _| {
                    customer_parts.push(passed.rows.clone());
                    Ok(())
                },
            )?;
            drop(unique);
            let mut table = concat(customer_parts, &contracts::CUSTOMERS_TABLE)?;
            drop_superseded(&mut customers, input, &customer_ids, |rows| remove_rows(&mut table, rows).map(Some))?;
            (Some(customers), table, None)
        }
        None => {
            let feeds: Vec<(&InputSpec, Feed<'_>)> =
                std::iter::once((ledger_input, ledger_sources)).chain(payments_feed).collect();
            let table = derive_customers(spec, &feeds, &mut customer_ids)?;
            let n = table.height() as u64;
            (None, table, Some(n))
        }
    };
    if derived_customers.is_some() {
        customers_table.rechunk_mut();
    }
    let reference = Reference { fx, fx_configured, customers: customer_ids };
    sink.start(&customers_table, &fx_table)?;

    let mut doc_ids = IdSet::new();
    // Credit memos whose `applies_to` is not (yet) a known document: decided once the
    // ledger is complete.
    let mut pending: Vec<(String, Entry)> = Vec::new();
    let mut unique = unique_ids(ledger_input, "doc_id", &mut doc_ids);
    let mut ledger = validate_input(
        spec,
        ledger_input,
        ledger_sources,
        fx_configured,
        |c| validate::ledger_rows(c, &reference).map(Passed::rows),
        &mut unique,
        |passed, unique| {
            unknown_applies_to(&passed.rows, unique.seen, ledger_input, &mut pending)?;
            sink.rows(Streamed::Ledger, &passed.rows)
        },
    )?;
    drop(unique);
    let replaced: foldhash::HashSet<(&str, u64)> =
        ledger.superseded.iter().map(|a| (ledger.files[a.file].name.as_str(), a.file_row)).collect();
    let flagged: Vec<Entry> = pending
        .into_iter()
        .filter(|(value, e)| !doc_ids.contains(value) && !replaced.contains(&(e.file.as_str(), e.row)))
        .map(|(_, e)| e)
        .collect();
    drop(replaced);
    for e in flagged {
        ledger.quarantine.push_late(e);
    }
    drop_superseded(&mut ledger, ledger_input, &doc_ids, |rows| sink.remove(Streamed::Ledger, rows))?;

    let mut payment_ids = IdSet::new();
    let mut unknown_refs = Vec::new();
    let payments = match payments_feed {
        Some((payments_input, payments_sources)) => {
            let mut unique = unique_ids(payments_input, "payment_id", &mut payment_ids);
            let mut payments = validate_input(
                spec,
                payments_input,
                payments_sources,
                fx_configured,
                |c| validate::payments_rows(c, &reference).map(|(rows, refs)| Passed { rows, refs: Some(refs) }),
                &mut unique,
                |passed, _| {
                    let refs = passed.refs.clone().unwrap_or_default();
                    let refs = resolve_payment_refs(&passed.rows, refs, &doc_ids, payments_input, &mut unknown_refs)?;
                    sink.rows(Streamed::Payments, &passed.rows)?;
                    sink.rows(Streamed::PaymentRefs, &refs)
                },
            )?;
            drop(unique);
            for e in unknown_refs {
                payments.quarantine.push_late(e);
            }
            Some(payments)
        }
        None => None,
    };
    drop(payment_ids);
    let activities = match find(InputKind::Activities) {
        Some((input, sources)) => {
            let mut activity_ids = IdSet::new();
            let mut unique = unique_ids(input, "activity_id", &mut activity_ids);
            let mut unknown = Vec::new();
            let mut activities = validate_input(
                spec,
                input,
                Feed::Files(sources),
                fx_configured,
                |c| validate::activities_rows(c, &reference).map(Passed::rows),
                &mut unique,
                |passed, _| {
                    unknown_activity_refs(&passed.rows, &doc_ids, input, &mut unknown)?;
                    sink.rows(Streamed::Activities, &passed.rows)
                },
            )?;
            drop(unique);
            for e in unknown {
                activities.quarantine.push_late(e);
            }
            Some(activities)
        }
        None => None,
    };
    drop(doc_ids);

    let mut results: Vec<InputResult> = fx_result.into_iter().chain(customers).collect();
    results.push(ledger);
    results.extend(payments);
    results.extend(activities);
    let mut quarantined = Vec::new();
    let mut summary = spill::Summary::default();
    let mut counts = Vec::new();
    let mut files = Vec::new();
    for mut r in results {
        r.counts.rows_flagged = r.quarantine.summary().rows(r.kind, Outcome::Flagged);
        counts.push((r.kind, r.counts));
        let (q, s) = r.quarantine.finish(r.files.iter().map(|f| f.name.clone()).collect())?;
        quarantined.push(q);
        summary.merge(s);
        files.extend(r.files);
    }
    let tables = Tables {
        ledger: empty(&contracts::LEDGER_TABLE)?,
        payments: empty(&contracts::PAYMENTS_TABLE)?,
        customers: customers_table,
        fx_rates: fx_table,
        payment_refs: empty(&contracts::PAYMENT_REFS_TABLE)?,
        activities: empty(&contracts::ACTIVITIES_TABLE)?,
    };
    let sources: Vec<SourceRead> = prepared
        .iter()
        .map(|p| SourceRead {
            source: p.name.clone(),
            counts: p.counts.clone(),
            read_ms: p.read_ms,
            route_ms: p.route_ms,
            files: p
                .files
                .iter()
                .zip(&p.routed)
                .map(|(f, routed)| (f.path.clone(), read::display_path(&f.path, &spec.base_dir), routed.rows as u64))
                .collect(),
        })
        .collect();
    let mut notes: Vec<String> = prepared.iter().flat_map(|p| p.notes.iter().cloned()).collect();
    if payments_feed.is_none() {
        notes.push(
            "payments: no source routes any and no payments input is configured; the ledger's amounts are all that is known (a snapshot of open items)".into(),
        );
    }
    if let Some(n) = derived_customers {
        notes.push(format!(
            "customers: no customers input is configured; {n} customers come from the ledger and payments, all in segment UNKNOWN"
        ));
    }
    let data_quality = quarantine::data_quality(&counts, &sources, derived_customers, &summary)?;
    let quarantine = spill::Quarantine::new(quarantined, summary.clone());
    Ok(Ingested { tables, quarantine, data_quality, counts, files, summary, sources, derived_customers, notes })
}

/// The customers table when no customers input is configured: every customer id of the
/// ledger, then of payments, in the order met, segment `UNKNOWN`, lineage where first met.
fn derive_customers(spec: &IngestSpec, feeds: &[(&InputSpec, Feed<'_>)], ids: &mut IdSet) -> Result<DataFrame> {
    let (mut file, mut row) = (Vec::new(), Vec::new());
    let mut note = |name: &str, values: &StringChunked, rows: &dyn Fn(usize) -> u64| {
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = columns::clean(v)
                && ids.insert(v)
            {
                file.push(name.to_string());
                row.push(rows(i));
            }
        }
    };
    for (input, feed) in feeds {
        let column = input.source("customer_id");
        let names: Vec<String> = feed.files().iter().map(|f| read::display_path(&f.path, &spec.base_dir)).collect();
        let text = |frame: &DataFrame| -> Result<StringChunked> {
            let col = frame.column(column).map_err(|_| EngineError::MissingColumn {
                input: input.kind.name().to_string(),
                path: std::path::PathBuf::from(column),
                column: "customer_id".into(),
                source_column: column.to_string(),
                available: read::column_list(
                    &frame.get_column_names().iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                ),
            })?;
            let t = col.cast(&DataType::String).map_err(EngineError::polars("reading customer ids"))?;
            Ok(t.str().map_err(EngineError::polars("reading customer ids"))?.clone())
        };
        match feed {
            Feed::Routed(_, routing, kind) => {
                for (k, name) in names.iter().enumerate() {
                    let rows = routing.customers(*kind, k);
                    let values: StringChunked = rows.iter().map(|(c, _)| *c).collect();
                    note(name, &values, &|i| rows[i].1);
                }
            }
            Feed::Files(files) => {
                for (k, f) in files.iter().enumerate() {
                    read::read_chunks(input, f, spec.chunk_rows.max(1), |frame, first_row, _| {
                        note(&names[k], &text(&frame)?, &|i| (first_row + i) as u64 + 1);
                        Ok(())
                    })?;
                }
            }
        }
    }
    let n = ids.len();
    let all: Vec<&str> = (0..n as u32).map(|i| ids.get(i)).collect();
    let contract = &contracts::CUSTOMERS_TABLE;
    let mut columns = Vec::new();
    for c in contract.columns.iter() {
        let name = c.name.as_ref();
        let column = match name {
            "customer_id" => StringChunked::from_iter_values(name.into(), all.iter().copied()).into_column(),
            "segment" => StringChunked::full(name.into(), "UNKNOWN", n).into_column(),
            "source_file" => {
                StringChunked::from_iter_values(name.into(), file.iter().map(String::as_str)).into_column()
            }
            "source_row" => UInt64Chunked::from_vec(name.into(), row.clone()).into_column(),
            _ => Column::full_null(name.into(), n, &c.ty.dtype()),
        };
        columns.push(column);
    }
    DataFrame::new(n, columns).map_err(EngineError::polars("building the derived customers table"))
}

/// Decide which references of a chunk of payments exist in the (complete) ledger, flag each
/// payment whose references include an unknown document (the payment is kept), and return
/// the chunk's `payment_refs` rows.
fn resolve_payment_refs(
    payments: &DataFrame,
    refs: DataFrame,
    doc_ids: &IdSet,
    spec: &InputSpec,
    flagged: &mut Vec<Entry>,
) -> Result<DataFrame> {
    let err = || EngineError::polars("resolving payment references");
    let doc = refs.column("doc_id").and_then(|c| c.str().cloned()).map_err(err())?;
    let rows = refs.column("payment_row").and_then(|c| c.u64().cloned()).map_err(err())?;
    let known: Vec<bool> = {
        use rayon::prelude::*;
        let values: Vec<Option<&str>> = doc.iter().collect();
        values.par_chunks(1 << 14).flat_map_iter(|part| doc_ids.contains_each(part.iter().copied())).collect()
    };
    let mut last_flagged = None;
    for ((d, row), is_known) in doc.iter().zip(rows.iter()).zip(&known) {
        let (Some(d), Some(row)) = (d, row) else { continue };
        if !is_known && last_flagged != Some(row) {
            last_flagged = Some(row);
            flagged.push(canonical_entry(payments, row as usize, spec, Rule::UnknownReference, "invoice_refs", d)?);
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

/// An empty frame with a contract's schema.
pub fn empty(contract: &TableContract) -> Result<DataFrame> {
    let columns = contract.columns.iter().map(|c| Column::new_empty(c.name.as_ref().into(), &c.ty.dtype())).collect();
    DataFrame::new(0, columns).map_err(EngineError::polars(format!("building an empty {} table", contract.name)))
}

/// The frames of one table, one after the other (an empty table when there are none).
pub(crate) fn concat(parts: Vec<DataFrame>, contract: &TableContract) -> Result<DataFrame> {
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
/// are applied oldest-due-first) and flagged. A chunk's candidates go to `pending` with the
/// id they name, which may still arrive later in the ledger.
fn unknown_applies_to(
    ledger: &DataFrame,
    doc_ids: &IdSet,
    spec: &InputSpec,
    pending: &mut Vec<(String, Entry)>,
) -> Result<()> {
    let err = || EngineError::polars("checking applies_to");
    let applies = ledger.column("applies_to").and_then(|c| c.str().cloned()).map_err(err())?;
    let types = ledger.column("doc_type").and_then(|c| c.str().cloned()).map_err(err())?;
    for (i, (a, t)) in applies.iter().zip(types.iter()).enumerate() {
        let (Some(a), Some(t)) = (a, t) else { continue };
        let reduces = t == contracts::DocType::CreditMemo.as_str() || t == contracts::DocType::WriteOff.as_str();
        if reduces && !doc_ids.contains(a) {
            pending.push((a.to_string(), canonical_entry(ledger, i, spec, Rule::UnknownAppliesTo, "applies_to", a)?));
        }
    }
    Ok(())
}

/// Flag the references of accepted activities to documents not in the validated ledger
/// (the activity is kept: it is still about its customer).
fn unknown_activity_refs(rows: &DataFrame, doc_ids: &IdSet, spec: &InputSpec, out: &mut Vec<Entry>) -> Result<()> {
    let refs = rows
        .column("invoice_refs")
        .and_then(|c| c.str().cloned())
        .map_err(EngineError::polars("checking activity references"))?;
    for (i, r) in refs.iter().enumerate() {
        let Some(r) = r else { continue };
        for part in r.split(';').filter(|p| !doc_ids.contains(p)) {
            out.push(canonical_entry(rows, i, spec, Rule::UnknownReference, "invoice_refs", part)?);
        }
    }
    Ok(())
}

/// What to change when most rejected rows fail `rule`, if a setting decides it.
fn mapping_advice(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::UnknownDocType => {
            "rows have a document type the mapping does not know: map each code with `doc_types`, and if the file also holds payments, read it as one combined export with a `[sources.<name>]` section that routes each type (README \"Combined exports\")"
        }
        Rule::UnmappedType => "rows have a type the source's `route` does not map: route each value",
        Rule::NonPositiveAmount => {
            "rows have an amount of zero or less: if the export writes credits (payments, credit memos) as negative amounts, read it as a combined export with `sign = \"amount\"` (README \"Combined exports\")"
        }
        Rule::OppositeSign => "rows have the opposite sign of their type: check the source's `sign` convention",
        Rule::InvalidSign => "rows have a debit/credit indicator the source does not list: check `indicator`",
        Rule::UnknownTerms => "rows have payment terms `terms.days` does not list: add each code",
        Rule::UnknownChannel => "rows have a channel the mapping does not know: map each code with `channels`",
        Rule::UnknownOutcome => "rows have an outcome the mapping does not know: map each code with `outcomes`",
        Rule::UnknownDirection => "rows have a direction the mapping does not know: map each code with `directions`",
        Rule::InvalidDate => "rows have dates the configured `date_format` does not read: check it",
        Rule::InvalidAmount => {
            "rows have amounts that do not read with the configured separators: check `decimal_separator` and `thousands_separator`"
        }
        Rule::UnknownCustomer => {
            "rows name customers the customers export does not have: check that both exports use the same customer ids"
        }
        _ => return None,
    })
}

impl Ingested {
    /// The values most rows of `input` failing `rule` hold, as "column `x` holds A 10, B 3".
    fn values_of(&self, input: InputKind, rule: Rule) -> String {
        let counts = self.summary.values.get(&(input, rule)).cloned().unwrap_or_default();
        let mut by_count: Vec<_> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let column = by_count.first().map(|((c, _), _)| *c).unwrap_or_default();
        let shown: Vec<String> = by_count.iter().take(6).map(|((_, v), n)| format!("{v} {n}")).collect();
        let more = if by_count.len() > 6 { format!(" and {} more values", by_count.len() - 6) } else { String::new() };
        format!("`{column}` holds {}{more}", shown.join(", "))
    }

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
                for ((i, r, _), n) in &self.summary.counts {
                    if i == kind && r.outcome() == Outcome::Quarantined {
                        *by_rule.entry(r.name()).or_default() += n;
                    }
                }
                let top_entry = by_rule.iter().max_by_key(|(_, n)| **n).map(|(r, n)| (*r, *n));
                let top = top_entry.map(|(r, n)| format!("{r} ({n} rows)")).unwrap_or_default();
                let rejected = c.rows_quarantined - c.rows_superseded;
                // Zero amounts are bad rows; negative ones a sign convention.
                let negatives = self.summary.negatives.get(kind).copied().unwrap_or_default();
                let advice = match top_entry.and_then(|(r, n)| Some((Rule::parse(r)?, n))) {
                    Some((Rule::NonPositiveAmount, n)) if negatives * 2 < n => {
                        "see the quarantine report above, fix the export or raise `run.max_rejected_share`".into()
                    }
                    // Most rejections share one rule that a mapping decides: the mapping is
                    // wrong, and a higher threshold would publish wrong numbers.
                    Some((rule, n)) if n * 2 >= rejected && mapping_advice(rule).is_some() => format!(
                        "{}: {} {}. Raising `run.max_rejected_share` would publish the rest as if nothing were wrong",
                        self.values_of(*kind, rule),
                        n,
                        mapping_advice(rule).unwrap_or_default()
                    ),
                    _ => "see the quarantine report above, fix the export or raise `run.max_rejected_share`".into(),
                };
                return Err(EngineError::TooManyRejected {
                    input: kind.name().to_string(),
                    read: c.rows_read,
                    rejected: c.rows_quarantined,
                    share: share * 100.0,
                    max: max_share * 100.0,
                    top_rule: top,
                    advice,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn payments(ids: &[&str]) -> DataFrame {
        let n = ids.len();
        DataFrame::new(n, vec![StringChunked::from_slice("payment_id".into(), ids).into_column()]).unwrap()
    }

    fn refs(rows: &[u64]) -> DataFrame {
        let docs: Vec<String> = rows.iter().map(|r| format!("D{r}")).collect();
        DataFrame::new(
            rows.len(),
            vec![
                StringChunked::from_iter_values("doc_id".into(), docs.iter().map(String::as_str)).into_column(),
                UInt64Chunked::from_slice("payment_row".into(), rows).into_column(),
            ],
        )
        .unwrap()
    }

    fn column(df: &DataFrame, name: &str) -> Vec<Option<String>> {
        let c = df.column(name).and_then(|c| c.cast(&DataType::String)).unwrap();
        c.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn slices_append_with_their_references_shifted_and_repeats_drop_theirs() {
        let mut all = Passed { rows: payments(&["P0", "P1"]), refs: Some(refs(&[0, 1, 1])) };
        all.append(Passed { rows: payments(&["P2", "P3", "P4"]), refs: Some(refs(&[0, 2])) }).unwrap();
        let all_refs = all.refs.as_ref().map(|r| column(r, "payment_row"));
        let expected: Vec<Option<String>> = ["0", "1", "1", "2", "4"].map(|s| Some(s.to_string())).to_vec();
        assert_eq!(all_refs, Some(expected));
        // Drop payments 1 and 3: P1's two references go, and P2 and P4 move up.
        all.remove(&[1, 3]).unwrap();
        assert_eq!(column(&all.rows, "payment_id"), ["P0", "P2", "P4"].map(|s| Some(s.to_string())).to_vec());
        let refs = all.refs.as_ref().unwrap();
        assert_eq!(column(refs, "payment_row"), ["0", "1", "2"].map(|s| Some(s.to_string())).to_vec());
        // Each reference still names its own payment's document (D<row in its slice>).
        assert_eq!(column(refs, "doc_id"), ["D0", "D0", "D2"].map(|s| Some(s.to_string())).to_vec());
    }
}
