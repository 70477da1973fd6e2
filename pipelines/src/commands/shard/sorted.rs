//! How are the shards' copies of a table, each sorted by the same key, read back as one sorted
//! table without holding any of them whole? A k-way merge of the files, a row-group slice of
//! each at a time. Keys never tie across shards (a customer's rows are in one shard), so
//! every run of rows that sorts before the other shards' next row is taken as it is, and the
//! result is the stable sort of the shards' rows.

use std::path::{Path, PathBuf};

use ardent_engine::EngineError;
use ardent_engine::ingest::read::ParquetSlices;
use polars::prelude::*;

/// Rows read from each shard's file at a time, and handed on at a time.
const SLICE_ROWS: usize = 1 << 16;

/// The sort key of a table: the customer id, after the as-of date when the table has one.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    Customer,
    AsOfCustomer,
}

/// One shard's file, a slice at a time.
struct Cursor {
    slices: ParquetSlices,
    df: DataFrame,
    customer: StringChunked,
    as_of: Option<Int32Chunked>,
    pos: usize,
}

fn failed(path: &Path) -> impl Fn(PolarsError) -> EngineError + '_ {
    move |e| EngineError::Polars { context: format!("reading {}", path.display()), error: e }
}

impl Cursor {
    fn open(path: &Path, key: Key) -> anyhow::Result<Option<Cursor>> {
        let mut c = Cursor {
            slices: ParquetSlices::open(path, SLICE_ROWS, None, failed(path))?,
            df: DataFrame::empty(),
            customer: StringChunked::from_slice("customer_id".into(), &[] as &[&str]),
            as_of: None,
            pos: 0,
        };
        Ok(c.load(path, key)?.then_some(c))
    }

    /// Read the next non-empty slice; false at the end of the file.
    fn load(&mut self, path: &Path, key: Key) -> anyhow::Result<bool> {
        while let Some((mut df, _)) = self.slices.next_slice(failed(path))? {
            if df.height() == 0 {
                continue;
            }
            df.rechunk_mut();
            self.customer = df.column("customer_id")?.str()?.clone();
            self.as_of = match key {
                Key::Customer => None,
                Key::AsOfCustomer => Some(df.column("as_of")?.date()?.physical().clone()),
            };
            self.df = df;
            self.pos = 0;
            return Ok(true);
        }
        Ok(false)
    }

    fn key(&self, i: usize) -> (i32, &str) {
        let date = self.as_of.as_ref().and_then(|d| d.get(i)).unwrap_or_default();
        (date, self.customer.get(i).unwrap_or_default())
    }
}

/// Merge the sorted `files` (one per shard; missing ones are skipped) into `emit`, in parts of
/// about [`SLICE_ROWS`] rows; returns the rows merged.
pub(super) fn merge(
    files: &[PathBuf],
    key: Key,
    mut emit: impl FnMut(DataFrame) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut cursors = Vec::new();
    let mut paths = Vec::new();
    for path in files.iter().filter(|p| p.exists()) {
        if let Some(c) = Cursor::open(path, key)? {
            cursors.push(c);
            paths.push(path.as_path());
        }
    }
    let mut out = Gather::default();
    // Per cursor, its current slice's piece in `out` (none yet in this part).
    let mut piece: Vec<Option<usize>> = vec![None; cursors.len()];
    let mut total = 0u64;
    // The cursors by their next row's key, smallest first (keys never tie across shards).
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<((i32, String), usize)>> = cursors
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (d, id) = c.key(c.pos);
            std::cmp::Reverse(((d, id.to_string()), i))
        })
        .collect();
    while let Some(std::cmp::Reverse((_, best))) = heap.pop() {
        // Take the rows that sort before every other shard's next row.
        let c = &cursors[best];
        let (start, end) = (c.pos, c.df.height());
        let mut pos = start + 1;
        match heap.peek() {
            None => pos = end,
            Some(std::cmp::Reverse(((d, id), _))) => {
                while pos < end && c.key(pos) < (*d, id.as_str()) {
                    pos += 1;
                }
            }
        }
        let p = *piece[best].get_or_insert_with(|| out.piece(&cursors[best].df));
        out.take(p, start, pos);
        let c = &mut cursors[best];
        c.pos = pos;
        let more = if pos == end {
            piece[best] = None;
            c.load(paths[best], key)?
        } else {
            true
        };
        if more {
            let (d, id) = c.key(c.pos);
            heap.push(std::cmp::Reverse(((d, id.to_string()), best)));
        }
        if out.rows() >= SLICE_ROWS {
            total += out.flush(&mut emit)?;
            piece.iter_mut().for_each(|p| *p = None);
        }
    }
    total += out.flush(&mut emit)?;
    Ok(total)
}

/// The rows of one part of the output: which rows of which slices, gathered at once.
#[derive(Default)]
struct Gather {
    pieces: Vec<DataFrame>,
    offsets: Vec<IdxSize>,
    rows: Vec<IdxSize>,
}

impl Gather {
    /// Register a slice; its index.
    fn piece(&mut self, df: &DataFrame) -> usize {
        let offset =
            self.offsets.last().copied().unwrap_or(0) + self.pieces.last().map_or(0, |p| p.height() as IdxSize);
        self.pieces.push(df.clone());
        self.offsets.push(offset);
        self.pieces.len() - 1
    }

    /// Take rows `start..end` of piece `p`.
    fn take(&mut self, p: usize, start: usize, end: usize) {
        let at = self.offsets[p];
        self.rows.extend((start as IdxSize..end as IdxSize).map(|r| at + r));
    }

    fn rows(&self) -> usize {
        self.rows.len()
    }

    fn flush(&mut self, emit: &mut impl FnMut(DataFrame) -> anyhow::Result<()>) -> anyhow::Result<u64> {
        let pieces = std::mem::take(&mut self.pieces);
        let rows = std::mem::take(&mut self.rows);
        self.offsets.clear();
        let mut iter = pieces.into_iter();
        let Some(mut all) = iter.next() else { return Ok(0) };
        for p in iter {
            all.vstack_mut(&p)?;
        }
        let n = rows.len() as u64;
        emit(all.take(&IdxCa::from_vec("rows".into(), rows))?)?;
        Ok(n)
    }
}
