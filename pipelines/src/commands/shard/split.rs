//! `ardent shard split --shards N`: cut the validated customers, ledger and payments into N
//! shards by customer ([`shards::shard_of`]), each into its own folder, and record what every
//! shard's book shares with the whole one ([`Whole`]: the event span, the currencies, the
//! segment values).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ardent_engine::book::Whole;
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

/// Cut the validated tables into shards.
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
    let mut tables = Vec::new();
    for (table, columns) in SHARDED {
        let df = opened
            .files
            .read_columns(table, columns)?
            .with_context(|| format!("{validated}: the validated output has no `{table}` table; validate again"))?;
        tables.push(df);
    }
    let read_ms = clock.elapsed().as_millis() as u64;
    let whole = Whole::of(
        &tables[1],
        &tables[2],
        &tables[0],
        &settings.ingest.reporting_currency,
        &settings.analysis.segment_columns,
    )?;
    // Each customer hashed once; rows follow their customer, references their payment's.
    let ids = tables[0].column("customer_id")?.str()?;
    let of: HashMap<&str, u32> = ids.iter().flatten().map(|id| (id, shards::shard_of(id, n))).collect();
    let by_customer = |id: Option<&str>| {
        let id = id.unwrap_or_default();
        of.get(id).copied().unwrap_or_else(|| shards::shard_of(id, n))
    };
    let payment_shard: HashMap<&str, u32> = {
        let p = &tables[2];
        let ids = p.column("payment_id")?.str()?;
        ids.iter()
            .zip(p.column("customer_id")?.str()?.iter())
            .map(|(id, c)| (id.unwrap_or_default(), by_customer(c)))
            .collect()
    };
    let mut rows = vec![[0u64; 4]; n as usize];
    for (t, df) in tables.iter().enumerate() {
        let table = SHARDED[t].0;
        let shard: Vec<u32> = if table == "payment_refs" {
            // A reference to an unknown payment is skipped by every book; shard 0 keeps it.
            let ids = df.column("payment_id")?.str()?;
            ids.iter().map(|id| payment_shard.get(id.unwrap_or_default()).copied().unwrap_or(0)).collect()
        } else {
            df.column("customer_id")?.str()?.iter().map(by_customer).collect()
        };
        // Rows grouped by shard, in input order within each (a stable counting sort).
        let mut count = vec![0usize; n as usize + 1];
        for &s in &shard {
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
        for i in 0..n {
            let (start, end) = (count[i as usize], count[i as usize + 1]);
            let mut part = grouped.slice(start as i64, end - start);
            rows[i as usize][t] = part.height() as u64;
            write(&split.inputs(i), table, &mut part)?;
        }
    }
    let file = WholeFile { validated_run: split.validated_run.clone(), shards: n, whole, rows };
    std::fs::write(split.whole(), serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing {}", split.whole().display()))?;
    shards::complete(&split.dir)?;
    let ms = clock.elapsed().as_millis() as u64;
    printer.info(
        "split_done",
        format!(
            "split: {} customers, {} documents, {} payments into {n} shards in {ms} ms (read {read_ms} ms) at {}",
            tables[0].height(),
            tables[1].height(),
            tables[2].height(),
            split.dir.display()
        ),
        json!({"split": split.dir.display().to_string(), "shards": n, "rows": file.rows, "read_ms": read_ms, "ms": ms}),
    );
    Ok(())
}

/// Write `df` to `<dir>/<table>.parquet` (a work file, not a published table).
pub(super) fn write(dir: &Path, table: &str, df: &mut DataFrame) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{table}.parquet"));
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let bytes =
        anyhow::Context::with_context(ParquetWriter::new(file).finish(df), || format!("writing {}", path.display()))?;
    Ok(bytes)
}

/// Read the work file `<dir>/<table>.parquet`.
pub(super) fn read(dir: &Path, table: &str) -> anyhow::Result<DataFrame> {
    let path = dir.join(format!("{table}.parquet"));
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    anyhow::Context::with_context(ParquetReader::new(file).finish(), || format!("reading {}", path.display()))
}
