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

use crate::cli::ShardSplitArgs;
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
            anyhow::bail!(
                "{}: the split is not complete; run `ardent shard split --shards {}` first",
                split.dir.display(),
                split.shards
            );
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

/// Cut the validated tables into shards, a slice at a time: only the customers' shards and
/// the payments' ids (to send each reference to its payment's shard) are held.
pub(super) fn split(args: ShardSplitArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardSplitArgs { pipeline, work, shards: n } = args;
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
    shards::begin(&split.dir)?;
    let validated = Location::Local(shards::validated(&work));
    let opened = crate::published::open(&validated, |t| SHARDED.iter().any(|(name, _)| *name == t))?;
    if opened.manifest.run_id != split.validated_run {
        anyhow::bail!("{validated}: validated again while splitting; split again");
    }
    let customers = opened.files.read("customers")?.context("the validated output has no `customers` table")?;
    let ids = customers.column("customer_id")?.str()?;
    let of: HashMap<String, u32> = ids.iter().flatten().map(|id| (id.to_string(), shards::shard_of(id, n))).collect();
    let by_customer = |id: Option<&str>| {
        let id = id.unwrap_or_default();
        of.get(id).copied().unwrap_or_else(|| shards::shard_of(id, n))
    };
    let mut whole = WholeBuilder::default();
    let mut rows = vec![[0u64; 4]; n as usize];
    // Payments in file order (their ids and shards): references follow their payments, in
    // the same order, so each is matched by walking forward.
    let mut payments = PaymentShards::default();
    for (t, (table, columns)) in SHARDED.iter().enumerate() {
        let mut files = ShardWriters::new(&split, n, table);
        let [(None, path)] = opened.files.files_of(table) else {
            anyhow::bail!("{validated}: the validated output has no single `{table}` file; validate again");
        };
        let failed = |e| EngineError::Polars { context: format!("reading {}", path.display()), error: e };
        let mut each = |df: DataFrame| -> anyhow::Result<()> {
            let shard: Vec<u32> = match *table {
                "payment_refs" => payments.of_references(df.column("payment_id")?.str()?)?,
                _ => df.column("customer_id")?.str()?.iter().map(by_customer).collect(),
            };
            match *table {
                "ledger" => whole.ledger(&df)?,
                "payments" => {
                    whole.payments(&df)?;
                    payments.add(df.column("payment_id")?.str()?, &shard);
                }
                _ => {}
            }
            files.note_schema(&df);
            for (i, part) in by_shard(&df, &shard, n)? {
                rows[i as usize][t] += part.height() as u64;
                files.write(i, &part)?;
            }
            Ok(())
        };
        let mut error = None;
        ardent_engine::ingest::read::parquet_column_slices(path, SLICE_ROWS, *columns, failed, |df, _, _| {
            each(df).map_err(|e| {
                let message = format!("{e:#}");
                error = Some(e);
                EngineError::Analysis { message }
            })
        })
        .map_err(|e| error.take().unwrap_or_else(|| e.into()))?;
        files.finish()?;
    }
    let whole = whole.finish(&customers, &settings.ingest.reporting_currency, &settings.analysis.segment_columns)?;
    let file = WholeFile { validated_run: split.validated_run.clone(), shards: n, whole, rows };
    std::fs::write(split.whole(), serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing {}", split.whole().display()))?;
    shards::complete(&split.dir)?;
    let ms = clock.elapsed().as_millis() as u64;
    let total = |t: usize| file.rows.iter().map(|r| r[t]).sum::<u64>();
    printer.info(
        "split_done",
        format!(
            "split: {} customers, {} documents, {} payments into {n} shards in {ms} ms at {}",
            total(0),
            total(1),
            total(2),
            split.dir.display()
        ),
        json!({"split": split.dir.display().to_string(), "shards": n, "rows": file.rows, "ms": ms}),
    );
    Ok(())
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
struct ShardWriters<'a> {
    split: &'a Split,
    table: &'a str,
    writers: Vec<Option<polars::io::parquet::write::BatchedWriter<std::io::BufWriter<std::fs::File>>>>,
    schema: Option<Schema>,
}

impl<'a> ShardWriters<'a> {
    fn new(split: &'a Split, n: u32, table: &'a str) -> ShardWriters<'a> {
        ShardWriters { split, table, writers: (0..n).map(|_| None).collect(), schema: None }
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
