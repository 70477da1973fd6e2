//! Sources: one export read once that feeds several inputs.
//!
//! ERPs export one combined file (SAP customer line items, a NetSuite A/R register, a
//! QuickBooks transaction list) where invoices, credit memos and payments sit side by side,
//! told apart by a type column, signed by one of several conventions, and linked by a
//! clearing document, an applied-to column or a settlement date. A `[sources.<name>]` section
//! says how; [`prepare`] reads the source's files once and routes every row
//! ([`route::route_slice`]) a block of rows at a time: each block becomes the frames its
//! ledger and payment rows are validated in (`frames::block`: the export columns the rules
//! read as written, the derived canonical values under `__ardent.*`, the file row of each row
//! and the rule it already failed), and the rows as read are dropped. Links by clearing
//! document need every row, so they are gathered as the blocks pass and written into each
//! frame when validation takes it ([`Routing::frame`]). From there routed rows are validated
//! exactly like rows of a ledger or payments export.
//!
//! A UTF-8 CSV file is routed straight from its records' bytes (`records::route_block`, the
//! same per-row rules), each block as soon as the scan for where records start has found it
//! ([`blocks`]), and the quarantine's `raw` is read back from its bytes; one whose header lacks
//! a column routing reads is parsed a block at a time instead (the parsed frame's routing
//! names the column); any other file (XLSX, JSON, Parquet, another encoding), and every file
//! of a source whose rows depend on the rows above them (fill-down, group headers) or on every
//! row (customer names, lines of one document), is read whole first.
//!
//! Every row of a source ends in one place: routed to the ledger (unmapped types too, which
//! the ledger quarantines as `unmapped_type`), routed to payments, or deliberately ignored
//! (routed to `ignore`, a total line, a blank or group-header line), and
//! `rows_read = to_ledger + to_payments + ignored` ([`SourceCounts`]). Invoice rows with a
//! settlement date also yield a payment each (`derived_payments`).

pub mod blocks;
mod frames;
mod links;
pub mod params;
mod records;
pub mod report;
pub mod route;

use std::collections::BTreeMap;
use std::time::Instant;

use polars::prelude::*;

use super::options::{Format, InputSpec};
use super::read::{SourceFile, display_path, resolve_files};
use crate::contracts::InputKind;
use crate::error::{EngineError, Result};
pub use frames::{Block, Routing};
use links::{LinkBuilder, Links};
pub use params::{Route, SourceParams, SourceSpec};
use report::Ignored;
use route::{Parsed, SLICE_ROWS, Target};

/// Where the rows of one source went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceCounts {
    pub rows_read: u64,
    /// Routed to the ledger (unmapped types included: the ledger quarantines them).
    pub rows_to_ledger: u64,
    pub rows_to_payments: u64,
    /// Deliberately not ingested, by reason.
    pub rows_ignored: BTreeMap<&'static str, u64>,
    /// Payments derived from settled invoice rows (not rows of their own).
    pub derived_payments: u64,
}

impl SourceCounts {
    /// Rows ignored for any reason.
    pub fn ignored(&self) -> u64 {
        self.rows_ignored.values().sum()
    }
}

/// The rows of one file as read, for the quarantine's `raw`.
#[derive(Debug)]
pub enum RawRows {
    /// Read whole: the frame as read.
    Frame(DataFrame),
    /// Mapped: each record read back from the file's bytes.
    Lines(blocks::CsvBlocks),
}

/// One file of a source after routing: its rows' frames a block at a time.
#[derive(Debug)]
pub struct RoutedFile {
    pub blocks: Vec<Block>,
    /// Rows under the header.
    pub rows: usize,
    pub raw: RawRows,
}

/// A source after routing: the frames its ledger and payment rows are validated in, and its
/// clearing links.
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    pub files: Vec<SourceFile>,
    /// The specs ledger and payment rows are validated with, when the source feeds them.
    pub ledger: Option<InputSpec>,
    pub payments: Option<InputSpec>,
    pub counts: SourceCounts,
    pub routed: Vec<RoutedFile>,
    links: Option<Links>,
    /// What the run should tell the user (names that collapsed together, …).
    pub notes: Vec<String>,
    /// Time spent reading (parsing) the files, and routing their rows (links included); the
    /// two overlap when a file is read a block at a time.
    pub read_ms: u64,
    pub route_ms: u64,
}

/// The type values of a source's rows and how they were routed, for [`check_routes`].
#[derive(Debug, Default)]
struct Types {
    values: BTreeMap<String, usize>,
    unmapped: usize,
    considered: usize,
}

/// [`Types`] counted a row at a time, by runs of one value (types repeat down a file).
#[derive(Debug, Default)]
struct TypeRuns {
    types: Types,
    run: Option<(String, usize)>,
}

impl TypeRuns {
    /// A row routed to `target` whose type column holds `value` (total and blank lines do
    /// not count).
    fn row(&mut self, target: Target, value: Option<&str>) {
        if matches!(target, Target::Ignored(Ignored::TotalRow | Ignored::BlankRow)) {
            return;
        }
        self.types.considered += 1;
        self.types.unmapped += usize::from(target == Target::Unmapped);
        let v = value.unwrap_or_default();
        match &mut self.run {
            Some((value, n)) if value == v => *n += 1,
            _ => {
                if let Some((value, n)) = self.run.replace((v.to_string(), 1)) {
                    self.types.count(&value, n);
                }
            }
        }
    }

    fn finish(mut self) -> Types {
        if let Some((value, n)) = self.run.take() {
            self.types.count(&value, n);
        }
        self.types
    }
}

impl Types {
    /// Count the rows `range` of `p`.
    fn add(&mut self, p: &Parsed, range: std::ops::Range<usize>) {
        let types = p.type_value.slice(range.start as i64, range.len());
        let mut runs = TypeRuns::default();
        for (t, v) in p.target[range].iter().zip(types.iter()) {
            runs.row(*t, v);
        }
        self.merge(runs.finish());
    }

    /// Add the counts of a later block.
    fn merge(&mut self, other: Types) {
        for (value, n) in other.values {
            *self.values.entry(value).or_default() += n;
        }
        self.unmapped += other.unmapped;
        self.considered += other.considered;
    }

    fn count(&mut self, value: &str, n: usize) {
        match self.values.get_mut(value) {
            Some(c) => *c += n,
            None => {
                self.values.insert(value.to_string(), n);
            }
        }
    }
}

impl SourceCounts {
    /// Add the counts of a later block.
    fn merge(&mut self, other: SourceCounts) {
        self.rows_read += other.rows_read;
        self.rows_to_ledger += other.rows_to_ledger;
        self.rows_to_payments += other.rows_to_payments;
        for (why, n) in other.rows_ignored {
            *self.rows_ignored.entry(why).or_default() += n;
        }
        self.derived_payments += other.derived_payments;
    }

    /// Count a row routed to `target` (`settled`: an invoice that also yields a payment).
    fn row(&mut self, target: Target, settled: bool) {
        self.rows_read += 1;
        match target {
            Target::Ledger(_) | Target::Unmapped => self.rows_to_ledger += 1,
            Target::Payment => self.rows_to_payments += 1,
            Target::Ignored(why) => *self.rows_ignored.entry(why.name()).or_default() += 1,
        }
        self.derived_payments += u64::from(settled);
    }

    /// Count where the rows `range` of `p` went.
    fn add(&mut self, p: &Parsed, range: std::ops::Range<usize>) {
        for (t, settled) in p.target[range.clone()].iter().zip(&p.settled[range]) {
            self.row(*t, *settled);
        }
    }
}

/// What routing the blocks of a source gathers.
struct Gathered<'a> {
    spec: &'a SourceSpec,
    counts: SourceCounts,
    types: Types,
    links: Option<LinkBuilder>,
}

impl Gathered<'_> {
    /// Count rows `range` of parsed rows `p` and record their clearing groups (in file
    /// order); returns their groups when the source links by clearing document.
    fn count(&mut self, p: &Parsed, range: std::ops::Range<usize>) -> Option<Vec<Option<u32>>> {
        self.counts.add(p, range.clone());
        if self.spec.type_column.is_some() {
            self.types.add(p, range.clone());
        }
        self.links.as_mut().map(|links| frames::groups(p, range, links))
    }

    /// The block of rows `range` of parsed rows `p` (whose first row is file row `offset`
    /// + 1), counted.
    fn block(&mut self, p: &Parsed, range: std::ops::Range<usize>, offset: usize) -> Result<Block> {
        let groups = self.count(p, range.clone());
        frames::block(self.spec, p, range, offset, groups.as_ref())
    }

    /// Every block of a file parsed whole.
    fn blocks(&mut self, p: &Parsed) -> Result<Vec<Block>> {
        let n = p.target.len();
        let mut out = Vec::with_capacity(n.div_ceil(SLICE_ROWS));
        let mut start = 0;
        loop {
            let end = (start + SLICE_ROWS).min(n);
            out.push(self.block(p, start..end, 0)?);
            start = end;
            if start >= n {
                return Ok(out);
            }
        }
    }
}

/// Read, route and link every file of a source.
pub fn prepare(spec: &SourceSpec, base_dir: &std::path::Path) -> Result<Prepared> {
    let files = resolve_files(&spec.read)?;
    let (mut read_ms, mut route_ms) = (0, 0);
    let mut gathered = Gathered { spec, counts: SourceCounts::default(), types: Types::default(), links: None };
    if spec.clearing_column.is_some() {
        gathered.links = Some(LinkBuilder::new());
    }
    let mut notes = Vec::new();
    let mut routed = Vec::with_capacity(files.len());
    // Rows that depend on the rows above them, or on every row: every file whole first.
    let whole = !spec.fill_down.is_empty() || spec.group_header.is_some() || spec.customer_names || spec.combine_lines;
    if whole {
        let mut parsed = Vec::with_capacity(files.len());
        for file in &files {
            let t0 = Instant::now();
            let frame = report::read_source_file(spec, file)?;
            read_ms += t0.elapsed().as_millis() as u64;
            let t0 = Instant::now();
            parsed.push(route::route_file(spec, frame, &file.path)?);
            route_ms += t0.elapsed().as_millis() as u64;
        }
        let t0 = Instant::now();
        if spec.customer_names {
            notes.extend(customers_by_name(&mut parsed));
        }
        if spec.combine_lines {
            combine_lines(spec, &mut parsed);
        }
        for p in parsed {
            let blocks = gathered.blocks(&p)?;
            routed.push(RoutedFile { blocks, rows: p.target.len(), raw: RawRows::Frame(p.frame) });
        }
        route_ms += t0.elapsed().as_millis() as u64;
    } else {
        for file in &files {
            let (file_read, file_route) = route_one(&mut gathered, file, &mut routed)?;
            read_ms += file_read;
            route_ms += file_route;
        }
    }
    let Gathered { counts, types, links, .. } = gathered;
    check_routes(spec, &types, &files, base_dir)?;
    let fed = |kind: InputKind| spec.feeds(kind).then(|| spec.routed(kind));
    let (ledger, payments) = (fed(InputKind::Ledger), fed(InputKind::Payments));
    let links = links.map(|l| l.finish(spec));
    Ok(Prepared { name: spec.name.clone(), files, ledger, payments, counts, routed, links, notes, read_ms, route_ms })
}

/// Blocks of a file routed at a time, in parallel.
const ROUTED_AT_ONCE: usize = 2;

/// Route one file whose rows stand alone: a UTF-8 CSV a block at a time (the next block
/// parsed while this one is routed), any other whole. Returns the time spent reading and
/// routing.
fn route_one(gathered: &mut Gathered<'_>, file: &SourceFile, routed: &mut Vec<RoutedFile>) -> Result<(u64, u64)> {
    let spec = gathered.spec;
    let mut blocks = Vec::new();
    let csv = match (file.format, spec.read.encoding) {
        (Format::Csv, super::encoding::Encoding::Utf8) => {
            let t0 = Instant::now();
            let named = report::named_columns(spec);
            let named: Vec<&str> = named.iter().map(String::as_str).collect();
            let skip = report::title_lines(spec, file)?;
            match route_scanning(gathered, file, skip, &named, &mut blocks)? {
                Scan::Routed(csv, scan_ms) => {
                    let rows = csv.rows();
                    routed.push(RoutedFile { blocks, rows, raw: RawRows::Lines(csv) });
                    return Ok((scan_ms, (t0.elapsed().as_millis() as u64).saturating_sub(scan_ms)));
                }
                Scan::Unrouted(csv) => Some((csv, t0.elapsed().as_millis() as u64)),
                Scan::NotUtf8 => None,
            }
        }
        _ => None,
    };
    let Some((csv, scan_ms)) = csv else {
        let t0 = Instant::now();
        let frame = report::read_source_file(spec, file)?;
        let read_ms = t0.elapsed().as_millis() as u64;
        let t0 = Instant::now();
        let p = route::route_file(spec, frame, &file.path)?;
        let blocks = gathered.blocks(&p)?;
        routed.push(RoutedFile { blocks, rows: p.target.len(), raw: RawRows::Frame(p.frame) });
        return Ok((read_ms, t0.elapsed().as_millis() as u64));
    };
    let n = csv.rows();
    let (mut read_ms, mut route_ms) = (scan_ms, 0);
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<DataFrame>, u64)>(ROUTED_AT_ONCE);
        let csv = &csv;
        let block_rows = spec.block_rows.max(1);
        scope.spawn(move || {
            let (mut start, mut buf) = (0, Vec::new());
            loop {
                let t0 = Instant::now();
                let end = (start + block_rows).min(n);
                let frame = csv.frame(spec, file, start..end, &mut buf);
                let stop = frame.is_err();
                if tx.send((start, frame, t0.elapsed().as_millis() as u64)).is_err() || stop {
                    return;
                }
                start = end;
                if start >= n {
                    return;
                }
            }
        });
        // Blocks are routed a few at a time in parallel; their clearing groups are recorded
        // in file order between the two parallel steps.
        use rayon::prelude::*;
        let mut rx = rx.into_iter().peekable();
        while rx.peek().is_some() {
            let batch: Vec<(usize, Result<DataFrame>, u64)> = rx.by_ref().take(ROUTED_AT_ONCE).collect();
            let t0 = Instant::now();
            read_ms += batch.iter().map(|b| b.2).sum::<u64>();
            let parsed: Vec<Result<(usize, Parsed)>> = batch
                .into_par_iter()
                .map(|(start, frame, _)| Ok((start, route::route_slice(spec, frame?, &file.path, start)?)))
                .collect();
            let parsed: Vec<(usize, Parsed)> = parsed.into_iter().collect::<Result<_>>()?;
            let groups: Vec<Option<Vec<Option<u32>>>> =
                parsed.iter().map(|(_, p)| gathered.count(p, 0..p.target.len())).collect();
            let built: Vec<Result<Block>> = parsed
                .par_iter()
                .zip(groups.par_iter())
                .map(|((start, p), g)| frames::block(spec, p, 0..p.target.len(), *start, g.as_ref()))
                .collect();
            for b in built {
                blocks.push(b?);
            }
            route_ms += t0.elapsed().as_millis() as u64;
        }
        Ok(())
    })?;
    routed.push(RoutedFile { blocks, rows: n, raw: RawRows::Lines(csv) });
    Ok((read_ms, route_ms))
}

/// How a UTF-8 CSV file of a source was read by [`route_scanning`].
enum Scan {
    /// Routed from its records (and the time the scan took).
    Routed(blocks::CsvBlocks, u64),
    /// Scanned only: a column routing reads is not in its header (parsing it says which).
    Unrouted(blocks::CsvBlocks),
    /// Not UTF-8 after all: decoded and read whole instead.
    NotUtf8,
}

/// Route a CSV file a block of records at a time straight from its bytes
/// ([`records::route_block`]) while the rest of the file is scanned for where its records
/// start: each block is routed as soon as the scan has found its records, blocks in
/// parallel. Once the scan has shown the file sound (UTF-8, its header as expected), the
/// blocks' counts and clearing groups are taken in file order on a thread of their own
/// while later blocks are routed; before that nothing of the source has changed, so a file
/// that is not UTF-8 is simply read the other way.
fn route_scanning(
    gathered: &mut Gathered<'_>,
    file: &SourceFile,
    skip: usize,
    named: &[&str],
    out: &mut Vec<Block>,
) -> Result<Scan> {
    use std::sync::{Mutex, OnceLock, mpsc};
    let spec = gathered.spec;
    let rows = spec.block_rows.max(1);
    let reader = Mutex::new(std::fs::File::open(&file.path).map_err(EngineError::io("opening", &file.path))?);
    // Buffers the blocks' bytes are read into, reused (fresh pages cost more than reading).
    let buffers: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    // Decided by the header: `None` when a column routing reads is missing.
    let plan: OnceLock<Option<records::Plan<'_>>> = OnceLock::new();
    // Block `k`: records starting at `starts` (the first is 0-based row `k * rows`), the last
    // running to `end`.
    let route = |k: usize, starts: &[u64], end: u64, ragged: &[(u64, u32)], plan: &records::Plan<'_>| {
        let mut buf = buffers.lock().ok().and_then(|mut b| b.pop()).unwrap_or_default();
        let start = starts.first().copied().unwrap_or(end);
        let routed = blocks::read_range(&reader, start..end.max(start), &mut buf)
            .map_err(EngineError::io("reading", &file.path))
            .and_then(|bytes| {
                std::str::from_utf8(bytes).map_err(|e| EngineError::Unreadable {
                    input: format!("sources.{}", spec.name),
                    path: file.path.clone(),
                    format: "csv".into(),
                    reason: format!("rows {}.. are not UTF-8: {e}", k * rows + 1),
                })
            })
            .and_then(|text| records::route_block(plan, &file.path, text, starts, k * rows, ragged));
        if let Ok(mut b) = buffers.lock() {
            b.push(buf);
        }
        routed
    };
    let (tx, rx) = mpsc::channel::<(usize, Result<records::Routed>)>();
    let t0 = Instant::now();
    std::thread::scope(|threads| -> Result<Scan> {
        let (scan, finisher) = rayon::scope(|pool| -> Result<(Scan, Option<_>)> {
            let (route, plan) = (&route, &plan);
            let mut next = 0;
            // Blocks are spawned only once the plan is decided and holds.
            let spawn = |k: usize, starts: Vec<u64>, end: u64, ragged: Vec<(u64, u32)>| {
                let tx = tx.clone();
                pool.spawn(move |_| {
                    if let Some(Some(p)) = plan.get() {
                        let _ = tx.send((k, route(k, &starts, end, &ragged, p)));
                    }
                });
            };
            let csv = blocks::CsvBlocks::open(spec, file, skip, named, |found| {
                if plan.get_or_init(|| records::Plan::new(spec, found.names)).is_none() {
                    return;
                }
                while found.starts.len() > (next + 1) * rows {
                    let r = next * rows..(next + 1) * rows;
                    let ragged = blocks::ragged_in(found.ragged, r.clone()).to_vec();
                    spawn(next, found.starts[r.clone()].to_vec(), found.starts[r.end], ragged);
                    next += 1;
                }
            })?;
            let Some(csv) = csv else { return Ok((Scan::NotUtf8, None)) };
            let scan_ms = t0.elapsed().as_millis() as u64;
            if plan.get_or_init(|| records::Plan::new(spec, csv.names())).is_none() {
                return Ok((Scan::Unrouted(csv), None));
            }
            // The blocks the scan had not completed (a file without rows still has its block).
            let n = csv.rows();
            for k in next..n.div_ceil(rows).max(1) {
                let r = k * rows..((k + 1) * rows).min(n);
                let end = if r.end < n { csv.starts(r.end..r.end + 1)[0] } else { csv.len() };
                spawn(k, csv.starts(r.clone()).to_vec(), end, csv.ragged(r).to_vec());
            }
            // The file is sound: its blocks are taken in file order as they come.
            let finisher = threads.spawn(move || -> Result<()> {
                let mut waiting = BTreeMap::new();
                let mut next = 0;
                for (k, routed) in rx {
                    waiting.insert(k, routed);
                    while let Some(routed) = waiting.remove(&next) {
                        let Gathered { counts, types, links, .. } = &mut *gathered;
                        out.push(routed?.finish(counts, types, links.as_mut())?);
                        next += 1;
                    }
                }
                Ok(())
            });
            Ok((Scan::Routed(csv, scan_ms), Some(finisher)))
        })?;
        drop(tx);
        if let Some(finisher) = finisher {
            // A panic on the finishing thread goes on here.
            finisher.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        Ok(scan)
    })
}

/// When most rows of a source have a type its `route` does not map, the mapping is wrong:
/// stop with what the column holds instead of quarantining the export.
fn check_routes(spec: &SourceSpec, types: &Types, files: &[SourceFile], base_dir: &std::path::Path) -> Result<()> {
    let Some(column) = &spec.type_column else { return Ok(()) };
    let (unmapped, considered) = (types.unmapped, types.considered);
    let values: BTreeMap<&String, (usize, Option<Route>)> =
        types.values.iter().map(|(v, n)| (v, (*n, spec.route_of(v)))).collect();
    if unmapped == 0 || unmapped * 2 <= considered {
        return Ok(());
    }
    let mut by_count: Vec<(&String, &(usize, Option<Route>))> = values.iter().map(|(v, c)| (*v, c)).collect();
    by_count.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let shown: Vec<String> = by_count
        .iter()
        .take(20)
        .map(|(v, (n, r))| {
            let name = if v.is_empty() { "(empty)" } else { v.as_str() };
            match r {
                Some(r) => format!("{name} {n} (-> {})", r.name()),
                None => format!("{name} {n}"),
            }
        })
        .collect();
    let suggestion: Vec<String> = by_count
        .iter()
        .filter(|(v, (_, r))| r.is_none() && !v.is_empty())
        .take(8)
        .map(|(v, _)| format!("\"{v}\" = \"...\""))
        .collect();
    let path = files.first().map(|f| std::path::PathBuf::from(display_path(&f.path, base_dir))).unwrap_or_default();
    Err(report::column_error(
        spec,
        &path,
        column,
        format!(
            "{unmapped} of {considered} rows have a type that `sources.{}.route` does not map. The column holds {}{}. Route each value: `route = {{ {} }}` with invoice, credit_memo, debit_memo, write_off, payment or ignore",
            spec.name,
            shown.join(", "),
            if by_count.len() > 20 { format!(" and {} more values", by_count.len() - 20) } else { String::new() },
            suggestion.join(", ")
        ),
    ))
}

/// Lines of one document (same id, same route, in any file of the source): the first line
/// takes the amounts of the others and their references, and they are ignored as combined.
/// Lines that failed a rule stay as they are (the rules report them).
fn combine_lines(spec: &SourceSpec, parsed: &mut [Parsed]) {
    let separator = match spec.refs_separator.trim() {
        "" => spec.refs_separator.clone(),
        t => t.to_string(),
    };
    // (is a payment, id) → its first line.
    let mut first: foldhash::HashMap<(bool, String), (usize, usize)> = Default::default();
    let mut extra_refs: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for f in 0..parsed.len() {
        for i in 0..parsed[f].target.len() {
            let p = &parsed[f];
            let (payment, id) = match p.target[i] {
                Target::Payment => (true, p.payment_id.get(i)),
                Target::Ledger(_) => (false, p.doc_id.get(i)),
                _ => continue,
            };
            let (Some(id), None, Some(amount)) = (id, p.fail[i], p.amount[i]) else { continue };
            let refs = p.refs.get(i).map(str::to_string);
            match first.get(&(payment, id.to_string())) {
                Some(&(f0, i0)) if parsed[f0].target[i0] == parsed[f].target[i] => {
                    if let Some(total) = &mut parsed[f0].amount[i0] {
                        *total += amount;
                    }
                    extra_refs.entry((f0, i0)).or_default().extend(refs);
                    parsed[f].target[i] = Target::Ignored(Ignored::CombinedLine);
                }
                Some(_) => {}
                None => {
                    first.insert((payment, id.to_string()), (f, i));
                }
            }
        }
    }
    for (f, p) in parsed.iter_mut().enumerate() {
        let mine: Vec<(&(usize, usize), &Vec<String>)> = extra_refs.range((f, 0)..(f + 1, 0)).collect();
        if mine.is_empty() {
            continue;
        }
        let mut refs: Vec<Option<String>> = p.refs.iter().map(|r| r.map(str::to_string)).collect();
        for ((_, i), more) in mine {
            let mut all: Vec<String> =
                refs[*i].iter().flat_map(|r| r.split(separator.as_str()).map(|s| s.trim().to_string())).collect();
            for r in more.iter().flat_map(|r| r.split(separator.as_str())).map(str::trim) {
                if !r.is_empty() && !all.iter().any(|a| a == r) {
                    all.push(r.to_string());
                }
            }
            refs[*i] = (!all.is_empty()).then(|| all.join(&separator));
        }
        p.refs = StringChunked::from_iter_options(p.refs.name().clone(), refs.into_iter());
    }
}

/// The normalised form of a customer name: lower case, punctuation dropped, runs of spaces
/// as one (`"ACME, Inc."`, `"Acme Inc"` and `" acme  inc "` are all `"acme inc"`).
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in
        name.split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '&')).filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Customers identified by name: every spelling of a name is replaced by the first one met
/// (files and rows in order). Returns one note per name written more than one way.
fn customers_by_name(parsed: &mut [Parsed]) -> Vec<String> {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut spellings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in parsed.iter_mut() {
        let mut changed = false;
        let names: Vec<Option<String>> = p
            .customer
            .iter()
            .map(|c| {
                let c = c?;
                let key = name_key(c);
                let kept = first.entry(key.clone()).or_insert_with(|| c.to_string());
                if kept != c {
                    changed = true;
                    let seen = spellings.entry(key).or_default();
                    if !seen.iter().any(|s| s == c) {
                        seen.push(c.to_string());
                    }
                }
                Some(kept.clone())
            })
            .collect();
        if changed {
            p.customer = StringChunked::from_iter_options(p.customer.name().clone(), names.into_iter());
        }
    }
    spellings
        .into_iter()
        .map(|(key, others)| {
            format!(
                "customer names {} are one customer, \"{}\" (same name ignoring case, spacing and punctuation)",
                others.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", "),
                first.get(&key).cloned().unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::name_key;

    #[test]
    fn names_normalise_case_spacing_and_punctuation() {
        assert_eq!(name_key("ACME, Inc."), "acme inc");
        assert_eq!(name_key("  Acme   Inc "), "acme inc");
        assert_eq!(name_key("acme inc"), "acme inc");
        assert_eq!(name_key("Müller GmbH"), "müller gmbh");
        assert_eq!(name_key("A&B Ltd"), "a&b ltd");
        assert_ne!(name_key("A&B Ltd"), name_key("AB Ltd"));
    }
}
