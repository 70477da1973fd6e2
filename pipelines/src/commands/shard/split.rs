//! `ardent shard split --shards N`: cut the validated customers, ledger and payments into N
//! shards by customer ([`shards::shard_of`]), each into its own folder, and record what every
//! shard's book shares with the whole one ([`Whole`]: the event span, the currencies, the
//! segment values).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ardent_engine::EngineError;
use ardent_engine::book::{Whole, WholeBuilder};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::{ShardSplitArgs, ShardWork};
use crate::location::Location;
use crate::printer::Printer;
use crate::shards::{self, Split};

/// `whole.json`: the whole book's span, currencies and segment values, and what it was cut from.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WholeFile {
    pub validated_run: String,
    pub shards: u32,
    pub whole: Whole,
    /// Rows per shard of each table of [`SHARDED`], for the record.
    pub rows: Vec<[u64; 4]>,
}

impl WholeFile {
    pub(super) fn read(split: &Split) -> anyhow::Result<WholeFile> {
        let path = split.whole();
        if !shards::is_complete(&split.dir) {
            let why = format!(
                "{}: the split is not complete; run `ardent shard split --shards {}` first",
                split.dir.display(),
                split.shards
            );
            return Err(shards::StepError::NotReady(why).into());
        }
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("{} is not a split this version reads", path.display()))
    }
}

/// The tables a shard's book is built from, with the columns it reads (`None`: all).
pub(super) const SHARDED: [(&str, Option<&[&str]>); 4] = [
    ("customers", None),
    ("ledger", Some(&crate::commands::analytics::LEDGER_COLUMNS)),
    ("payments", Some(&crate::commands::analytics::PAYMENTS_COLUMNS)),
    ("payment_refs", None),
];

/// Rows read at a time from each validated table.
const SLICE_ROWS: usize = 1 << 18;

/// Cut the validated tables of WORK/validated into shards, a slice at a time.
pub(super) fn split(args: ShardSplitArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardSplitArgs { step: ShardWork { pipeline, work, shards: n } } = args;
    let clock = Instant::now();
    let settings = super::settings(pipeline, None)?;
    let split = Split::of(&work, n, &settings)?;
    if shards::is_complete(&split.dir) {
        printer.info(
            "split_done",
            format!("split: {} is complete already", split.dir.display()),
            json!({"split": split.dir.display().to_string(), "skipped": true}),
        );
        return Ok(());
    }
    let validated = Location::Local(shards::validated(&work));
    let opened = crate::published::open(&validated, |t| SHARDED.iter().any(|(name, _)| *name == t))?;
    if opened.manifest.run_id != split.validated_run {
        let why = format!("{validated}: validated again while splitting; split again");
        return Err(shards::StepError::NotReady(why).into());
    }
    let mut cutter = Cutter::new(split)?;
    for (t, (table, _)) in SHARDED.iter().enumerate() {
        let [(None, path)] = opened.files.files_of(table) else {
            anyhow::bail!("{validated}: the validated output has no single `{table}` file; validate again");
        };
        let failed = |e| EngineError::Polars { context: format!("reading {}", path.display()), error: e };
        let mut error = None;
        ardent_engine::ingest::read::parquet_column_slices(path, SLICE_ROWS, SHARDED[t].1, failed, |df, _, _| {
            cutter.cut(t, &df).map_err(|e| {
                let message = format!("{e:#}");
                error = Some(e);
                EngineError::Analysis { message }
            })
        })
        .map_err(|e| error.take().unwrap_or_else(|| e.into()))?;
    }
    let file = cutter.finish(&settings)?;
    report(&file, clock, printer);
    Ok(())
}

/// Say what a split did.
fn report(file: &WholeFile, clock: Instant, printer: &Printer) {
    let ms = clock.elapsed().as_millis() as u64;
    let total = |t: usize| file.rows.iter().map(|r| r[t]).sum::<u64>();
    printer.info(
        "split_done",
        format!(
            "split: {} customers, {} documents, {} payments into {} shards in {ms} ms",
            total(0),
            total(1),
            total(2),
            file.shards
        ),
        json!({"shards": file.shards, "rows": file.rows, "ms": ms}),
    );
}

/// Cuts the validated tables into a split's shard folders as their rows arrive (customers
/// first, then the ledger, payments and references in their validated order), holding only
/// the customers' shards and the payments' ids (to send each reference to its payment's
/// shard); [`Cutter::finish`] records the whole book and marks the split complete.
pub(super) struct Cutter {
    split: Split,
    of: HashMap<String, u32>,
    customers: Option<DataFrame>,
    whole: WholeBuilder,
    payments: PaymentShards,
    writers: Vec<ShardWriters>,
    rows: Vec<[u64; 4]>,
}

impl Cutter {
    /// Start cutting into `split`'s folder (an incomplete one is started afresh).
    pub(super) fn new(split: Split) -> anyhow::Result<Cutter> {
        shards::begin(&split.dir)?;
        let n = split.shards;
        let writers = SHARDED.iter().map(|(table, _)| ShardWriters::new(&split, table)).collect();
        Ok(Cutter {
            split,
            of: HashMap::new(),
            customers: None,
            whole: WholeBuilder::default(),
            payments: PaymentShards::default(),
            writers,
            rows: vec![[0u64; 4]; n as usize],
        })
    }

    /// Cut rows of table `t` of [`SHARDED`].
    pub(super) fn cut(&mut self, t: usize, df: &DataFrame) -> anyhow::Result<()> {
        let n = self.split.shards;
        let df = match SHARDED[t].1 {
            Some(columns) => df.select(columns.iter().copied())?,
            None => df.clone(),
        };
        if t == 0 {
            for id in df.column("customer_id")?.str()?.iter().flatten() {
                self.of.insert(id.to_string(), shards::shard_of(id, n));
            }
            match &mut self.customers {
                None => self.customers = Some(df.clone()),
                Some(all) => {
                    all.vstack_mut(&df)?;
                }
            }
        }
        let shard: Vec<u32> = if SHARDED[t].0 == "payment_refs" {
            self.payments.of_references(df.column("payment_id")?.str()?)?
        } else {
            let of = &self.of;
            df.column("customer_id")?
                .str()?
                .iter()
                .map(|id| {
                    let id = id.unwrap_or_default();
                    of.get(id).copied().unwrap_or_else(|| shards::shard_of(id, n))
                })
                .collect()
        };
        match SHARDED[t].0 {
            "ledger" => self.whole.ledger(&df)?,
            "payments" => {
                self.whole.payments(&df)?;
                self.payments.add(df.column("payment_id")?.str()?, &shard);
            }
            _ => {}
        }
        let files = &mut self.writers[t];
        files.note_schema(&df);
        for (i, part) in by_shard(&df, &shard, n)? {
            self.rows[i as usize][t] += part.height() as u64;
            files.write(i, &part)?;
        }
        Ok(())
    }

    /// Finish every shard's files, write `whole.json` and mark the split complete.
    pub(super) fn finish(self, settings: &crate::settings::Settings) -> anyhow::Result<WholeFile> {
        let Cutter { split, customers, whole, writers, rows, .. } = self;
        for w in writers {
            w.finish()?;
        }
        let customers = customers.context("the split saw no customers table")?;
        let whole =
            whole.finish(&customers, &settings.ingest.reporting_currency, &settings.analysis.segment_columns)?;
        let file = WholeFile { validated_run: split.validated_run.clone(), shards: split.shards, whole, rows };
        std::fs::write(split.whole(), serde_json::to_vec_pretty(&file)?)
            .with_context(|| format!("writing {}", split.whole().display()))?;
        shards::complete(&split.dir)?;
        Ok(file)
    }
}

/// Cuts the validated rows into shards while `ardent shard validate --shards N` ingests them
/// (no second pass over the validated tables): the split of the validated run is complete
/// when the run is published.
pub(super) struct CutWhileValidating<'a> {
    pub work: std::path::PathBuf,
    pub shards: u32,
    pub settings: &'a crate::settings::Settings,
    pub printer: &'a Printer,
    pub cutter: Option<Cutter>,
    pub clock: Instant,
}

fn engine_error(e: anyhow::Error) -> EngineError {
    EngineError::Analysis { message: format!("cutting the validated rows into shards: {e:#}") }
}

impl ardent_engine::ingest::Sink for CutWhileValidating<'_> {
    fn start(&mut self, customers: &DataFrame, _fx_rates: &DataFrame) -> Result<(), EngineError> {
        let cutter = self.cutter.as_mut().ok_or_else(|| engine_error(anyhow::anyhow!("the run was not named")))?;
        cutter.cut(0, customers).map_err(engine_error)
    }

    fn rows(&mut self, table: ardent_engine::ingest::Streamed, rows: &DataFrame) -> Result<(), EngineError> {
        use ardent_engine::ingest::Streamed;
        let t = match table {
            Streamed::Ledger => 1,
            Streamed::Payments => 2,
            Streamed::PaymentRefs => 3,
            Streamed::Activities => {
                return Err(engine_error(anyhow::anyhow!(
                    "a sharded run does not take an activities input yet (docs/scale-out.md); run the pipeline with `ardent run` on one machine, or remove `[inputs.activities]` for the sharded run"
                )));
            }
        };
        let cutter = self.cutter.as_mut().ok_or_else(|| engine_error(anyhow::anyhow!("the run was not named")))?;
        cutter.cut(t, rows).map_err(engine_error)
    }

    fn remove(
        &mut self,
        table: ardent_engine::ingest::Streamed,
        _rows: &[u64],
    ) -> Result<Option<DataFrame>, EngineError> {
        Err(engine_error(anyhow::anyhow!(
            "a later export replaces rows of `{}` already cut into shards; sharded runs take one export per input",
            table.contract().name
        )))
    }
}

impl crate::run::Tee for CutWhileValidating<'_> {
    fn open(&mut self, run_id: &str) -> anyhow::Result<()> {
        let split = Split::for_run(&self.work, self.shards, self.settings, run_id);
        self.cutter = Some(Cutter::new(split)?);
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let cutter = self.cutter.take().context("the run was not named")?;
        let file = cutter.finish(self.settings)?;
        report(&file, self.clock, self.printer);
        Ok(())
    }
}

/// The rows of `df` of each shard that has any, in input order within each.
fn by_shard(df: &DataFrame, shard: &[u32], n: u32) -> anyhow::Result<Vec<(u32, DataFrame)>> {
    // A stable counting sort of the rows by shard.
    let mut count = vec![0usize; n as usize + 1];
    for &s in shard {
        count[s as usize + 1] += 1;
    }
    for s in 0..n as usize {
        count[s + 1] += count[s];
    }
    let mut order = vec![0 as IdxSize; shard.len()];
    let mut next = count.clone();
    for (r, &s) in shard.iter().enumerate() {
        order[next[s as usize]] = r as IdxSize;
        next[s as usize] += 1;
    }
    let grouped = df.take(&IdxCa::from_vec("order".into(), order))?;
    Ok((0..n)
        .filter(|&i| count[i as usize + 1] > count[i as usize])
        .map(|i| {
            let (start, end) = (count[i as usize], count[i as usize + 1]);
            (i, grouped.slice(start as i64, end - start))
        })
        .collect())
}

/// The shard of every payment, by position, with its id to match references against.
#[derive(Debug, Default)]
struct PaymentShards {
    ids: Vec<u8>,
    ends: Vec<usize>,
    shard: Vec<u32>,
    /// The next payment a reference may belong to.
    cursor: usize,
}

impl PaymentShards {
    fn add(&mut self, ids: &StringChunked, shard: &[u32]) {
        for id in ids.iter() {
            self.ids.extend_from_slice(id.unwrap_or_default().as_bytes());
            self.ends.push(self.ids.len());
        }
        self.shard.extend_from_slice(shard);
    }

    fn id(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.ids[start..self.ends[i]]
    }

    /// The shards of references to these payments (in the payments' order, as validation
    /// writes them).
    fn of_references(&mut self, payment_ids: &StringChunked) -> anyhow::Result<Vec<u32>> {
        payment_ids
            .iter()
            .map(|id| {
                let id = id.unwrap_or_default().as_bytes();
                while self.cursor < self.shard.len() && self.id(self.cursor) != id {
                    self.cursor += 1;
                }
                self.shard.get(self.cursor).copied().with_context(|| {
                    format!(
                        "payment_refs names payment `{}` out of the payments' order (or not at all); validate again",
                        String::from_utf8_lossy(id)
                    )
                })
            })
            .collect()
    }
}

/// One work file per shard of one table, opened when its first rows arrive; every shard
/// gets the file, empty when it has no rows.
struct ShardWriters {
    split: Split,
    table: &'static str,
    writers: Vec<Option<polars::io::parquet::write::BatchedWriter<std::io::BufWriter<std::fs::File>>>>,
    schema: Option<Schema>,
}

impl ShardWriters {
    fn new(split: &Split, table: &'static str) -> ShardWriters {
        ShardWriters { split: split.clone(), table, writers: (0..split.shards).map(|_| None).collect(), schema: None }
    }

    fn open(
        &self,
        i: u32,
        schema: &Schema,
    ) -> anyhow::Result<polars::io::parquet::write::BatchedWriter<std::io::BufWriter<std::fs::File>>> {
        let dir = self.split.inputs(i);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.parquet", self.table));
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        // Work files are read once by their shard: fast to write beats small.
        let writer = ParquetWriter::new(std::io::BufWriter::new(file)).with_compression(ParquetCompression::Lz4Raw);
        anyhow::Context::with_context(writer.batched(schema), || format!("writing {}", path.display()))
    }

    /// The table's columns (an empty table still gets empty files).
    fn note_schema(&mut self, df: &DataFrame) {
        if self.schema.is_none() {
            self.schema = Some(df.schema().as_ref().clone());
        }
    }

    fn write(&mut self, i: u32, part: &DataFrame) -> anyhow::Result<()> {
        if self.writers[i as usize].is_none() {
            self.writers[i as usize] = Some(self.open(i, part.schema())?);
        }
        let writer = self.writers[i as usize].as_mut().context("a shard's writer")?;
        anyhow::Context::with_context(writer.write_batch(part), || format!("writing shard {i}'s {}", self.table))
    }

    fn finish(mut self) -> anyhow::Result<()> {
        for i in 0..self.writers.len() as u32 {
            if self.writers[i as usize].is_none() {
                let schema = self.schema.clone().context("a table read without its columns")?;
                self.writers[i as usize] = Some(self.open(i, &schema)?);
            }
            if let Some(w) = self.writers[i as usize].take() {
                anyhow::Context::with_context(w.finish(), || format!("finishing shard {i}'s {}", self.table))?;
            }
        }
        Ok(())
    }
}

/// Read the work file `<dir>/<table>.parquet`.
pub(super) fn read(dir: &Path, table: &str) -> anyhow::Result<DataFrame> {
    let path = dir.join(format!("{table}.parquet"));
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    anyhow::Context::with_context(ParquetReader::new(file).finish(), || format!("reading {}", path.display()))
}
