//! Writing tables as Parquet for BI tools (docs/contracts.md, "Outputs"): zstd, full statistics, money as
//! `DECIMAL(18,2)`, dates as `DATE`. [`write_table`] first checks the frame against its
//! [`TableContract`], so a table never leaves ardent with a column its documentation does
//! not promise.

mod background;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::contracts::{OutType, TableContract};
use crate::error::{EngineError, Result};
pub use background::Background;

/// Check that `df` has exactly the contract's columns, in order, with their types (counts
/// as ardent carries them or as they are stored).
pub fn check_contract(df: &DataFrame, contract: &TableContract) -> Result<()> {
    let actual: Vec<(String, DataType)> =
        df.columns().iter().map(|c| (c.name().to_string(), c.dtype().clone())).collect();
    let expected: Vec<(String, DataType)> =
        contract.file_columns().map(|c| (c.name.to_string(), c.ty.dtype())).collect();
    let matches = actual.len() == expected.len()
        && actual.iter().zip(contract.file_columns()).all(|((name, dtype), c)| {
            name == c.name.as_ref() && (*dtype == c.ty.dtype() || *dtype == c.ty.stored_dtype())
        });
    if !matches {
        return Err(EngineError::Polars {
            context: format!("table `{}` does not match its contract", contract.name),
            error: polars::error::PolarsError::SchemaMismatch(format!("expected {expected:?}, got {actual:?}").into()),
        });
    }
    Ok(())
}

/// `df` with every column of the type it is stored as (counts signed); fails on a count
/// beyond the signed range rather than writing a wrong one.
pub fn to_stored(df: &DataFrame, contract: &TableContract) -> Result<DataFrame> {
    cast_to(df.clone(), contract, OutType::stored_dtype)
}

/// `df` read back from a stored file with every column of the type ardent carries it as.
pub fn to_internal(df: DataFrame, contract: &TableContract) -> Result<DataFrame> {
    cast_to(df, contract, OutType::dtype)
}

/// `df` with each of `contract`'s columns cast (strictly) to `ty` of its type.
fn cast_to(mut df: DataFrame, contract: &TableContract, ty: fn(OutType) -> DataType) -> Result<DataFrame> {
    let failed = |error| EngineError::Polars {
        context: format!("converting the types of table `{}`'s columns", contract.name),
        error,
    };
    for c in contract.file_columns() {
        let want = ty(c.ty);
        let column = df.column(c.name.as_ref()).map_err(failed)?;
        if *column.dtype() != want {
            let cast = column.strict_cast(&want).map_err(failed)?;
            df.with_column(cast).map_err(failed)?;
        }
    }
    Ok(df)
}

/// A file writer that keeps the first operating-system error it met: the Parquet writer
/// reports a failed write (a full disk) as a malformed file, and the error it hides is what
/// the user needs (exit code 6, "No space left on device").
struct Recording<W> {
    inner: W,
    failed: std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
}

impl<W: std::io::Write> std::io::Write for Recording<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| self.keep(e))
    }
}

impl<W> Recording<W> {
    fn keep(&self, e: &std::io::Error) {
        if let Ok(mut first) = self.failed.lock()
            && first.is_none()
        {
            *first = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
    }
}

/// A buffered writer of `path` that records its first I/O error in `failed`.
fn recording(
    path: &Path,
    failed: &std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> Result<BufWriter<Recording<File>>> {
    let file = File::create(path).map_err(EngineError::io("creating", path))?;
    Ok(BufWriter::new(Recording { inner: file, failed: failed.clone() }))
}

/// The error of a failed write: the operating system's when one was met, else the writer's.
fn write_failed(
    path: &Path,
    failed: &std::sync::Arc<std::sync::Mutex<Option<std::io::Error>>>,
) -> impl FnOnce(PolarsError) -> EngineError + 'static {
    let path = path.to_path_buf();
    let failed = failed.clone();
    move |e| match failed.lock().ok().and_then(|mut f| f.take()) {
        Some(error) => EngineError::Io { action: "writing", path, error },
        None => write_error(&path)(e),
    }
}

fn write_error(path: &Path) -> impl FnOnce(PolarsError) -> EngineError + '_ {
    move |e| match e {
        PolarsError::IO { error, .. } => EngineError::Io {
            action: "writing",
            path: path.to_path_buf(),
            error: std::io::Error::new(error.kind(), error.to_string()),
        },
        other => EngineError::Polars { context: format!("writing {}", path.display()), error: other },
    }
}

/// Where tables go as a stage builds them: a large table arrives in parts of at most
/// [`PART_ROWS`] rows, so that no stage holds all of it as a frame.
pub trait TableSink {
    /// The next rows of `contract`'s table, in order.
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<()>;

    /// The partition of `contract`'s table (partitioned by as-of date) for `as_of`.
    fn partition(&mut self, contract: &TableContract, as_of: i32, rows: DataFrame) -> Result<()>;
}

/// A [`TableSink`] that drops every table (for checking inputs without writing).
#[derive(Debug, Default)]
pub struct DiscardTables;

impl TableSink for DiscardTables {
    fn rows(&mut self, _: &TableContract, _: DataFrame) -> Result<()> {
        Ok(())
    }

    fn partition(&mut self, _: &TableContract, _: i32, _: DataFrame) -> Result<()> {
        Ok(())
    }
}

/// Rows per part of a large table handed to a [`TableSink`].
pub const PART_ROWS: usize = 1 << 20;

/// A [`TableSink`] that keeps every table in memory, in the order they first arrived.
#[derive(Debug, Default)]
pub struct CollectTables {
    /// (table name, frame) of single-file tables.
    pub tables: Vec<(&'static str, DataFrame)>,
    /// (table name, as-of date, frame) of partitions.
    pub partitions: Vec<(&'static str, i32, DataFrame)>,
}

impl CollectTables {
    /// Take the table called `name` (empty when it never arrived).
    pub fn take(&mut self, name: &str) -> Option<DataFrame> {
        let i = self.tables.iter().position(|(n, _)| *n == name)?;
        Some(self.tables.remove(i).1)
    }

    /// Take the partitions of the table called `name`, in order.
    pub fn take_partitions(&mut self, name: &str) -> Vec<(i32, DataFrame)> {
        let (mine, rest) = std::mem::take(&mut self.partitions).into_iter().partition(|(n, ..)| *n == name);
        self.partitions = rest;
        mine.into_iter().map(|(_, t, df)| (t, df)).collect()
    }
}

impl TableSink for CollectTables {
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<()> {
        match self.tables.iter_mut().find(|(n, _)| *n == contract.name) {
            Some((_, df)) => {
                df.vstack_mut_owned(rows).map_err(EngineError::polars(format!("collecting {}", contract.name)))?;
            }
            None => self.tables.push((contract.name, rows)),
        }
        Ok(())
    }

    fn partition(&mut self, contract: &TableContract, as_of: i32, rows: DataFrame) -> Result<()> {
        self.partitions.push((contract.name, as_of, rows));
        Ok(())
    }
}

/// Rows per row group of every table ardent writes.
pub const ROW_GROUP_ROWS: usize = 1 << 18;

/// A Parquet writer for a table of `schema`, with the settings every table ardent writes gets.
pub fn parquet_writer<W: std::io::Write>(w: W, schema: &Schema) -> ParquetWriter<W> {
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(Some(
            polars::polars_utils::compression::ZstdLevel::try_new(1).expect("1 is a zstd level"),
        )))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![arrow_schema_entry(schema)])))
}

/// The key under which Parquet files carry their Arrow schema.
const ARROW_SCHEMA_KEY: &str = "ARROW:schema";

/// The `ARROW:schema` entry of a file of `schema`, at the oldest Arrow compatibility level:
/// text as (large) strings, not string views. polars embeds its newest types otherwise, and
/// Arrow readers before pyarrow 15 refuse the file (`Unrecognized type: 24`); the data pages
/// are the same either way (Parquet byte arrays), only the type readers restore differs. The
/// entry is the IPC schema message, length-prefixed, in base64, as polars' writer makes its
/// own (which it leaves out when one is given).
fn arrow_schema_entry(schema: &Schema) -> (String, String) {
    use base64::Engine;
    use polars_arrow::io::ipc::write::{default_ipc_fields, schema_to_bytes};
    let arrow = schema.to_arrow(CompatLevel::oldest());
    let message = schema_to_bytes(&arrow, &default_ipc_fields(arrow.iter_values()), None);
    let mut prefixed = Vec::with_capacity(message.len() + 8);
    prefixed.extend_from_slice(&[255u8; 4]);
    prefixed.extend_from_slice(&(message.len() as u32).to_le_bytes());
    prefixed.extend_from_slice(&message);
    (ARROW_SCHEMA_KEY.to_string(), base64::engine::general_purpose::STANDARD.encode(prefixed))
}

/// A table written a chunk at a time, with the same settings as [`write_table`]; each
/// chunk is split into row groups of at most [`ROW_GROUP_ROWS`]. Encoding and compression
/// run on a thread of their own, so the stage that produces the rows does not wait for them
/// (at most two chunks queue up).
pub struct TableStream {
    path: std::path::PathBuf,
    contract: TableContract,
    sender: Option<std::sync::mpsc::SyncSender<DataFrame>>,
    worker: Option<std::thread::JoinHandle<Result<()>>>,
}

impl std::fmt::Debug for TableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableStream").field("path", &self.path).finish()
    }
}

impl TableStream {
    /// Create `path` for a table of `contract`.
    pub fn create(contract: &TableContract, path: &Path) -> Result<TableStream> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(EngineError::io("creating", parent))?;
        }
        let failed = Default::default();
        let file = recording(path, &failed)?;
        let schema: Schema = contract.file_columns().map(|c| (c.name.as_ref().into(), c.ty.stored_dtype())).collect();
        let mut writer = parquet_writer(file, &schema).batched(&schema).map_err(write_failed(path, &failed))?;
        let (sender, chunks) = std::sync::mpsc::sync_channel::<DataFrame>(2);
        let at = path.to_path_buf();
        let worker = std::thread::spawn(move || -> Result<()> {
            for df in chunks {
                let mut start = 0;
                while start < df.height() {
                    let mut part = df.slice(start as i64, ROW_GROUP_ROWS);
                    part.rechunk_mut_par();
                    writer.write_batch(&part).map_err(write_failed(&at, &failed))?;
                    start += ROW_GROUP_ROWS;
                }
            }
            writer.finish().map_err(write_failed(&at, &failed))?;
            Ok(())
        });
        Ok(TableStream {
            path: path.to_path_buf(),
            contract: contract.clone(),
            sender: Some(sender),
            worker: Some(worker),
        })
    }

    fn join(&mut self) -> Result<()> {
        drop(self.sender.take());
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(EngineError::Analysis { message: format!("writing {} failed", self.path.display()) }),
            None => Ok(()),
        }
    }

    /// Append rows.
    pub fn write(&mut self, df: &DataFrame) -> Result<()> {
        check_contract(df, &self.contract)?;
        let stored = to_stored(df, &self.contract)?;
        let sent = self.sender.as_ref().is_some_and(|s| s.send(stored).is_ok());
        if !sent {
            // The writer stopped on an error: report it.
            self.join()?;
            return Err(EngineError::Analysis { message: format!("{} is already finished", self.path.display()) });
        }
        Ok(())
    }

    /// Wait for every chunk and write the footer.
    pub fn finish(mut self) -> Result<()> {
        self.join()
    }
}

impl Drop for TableStream {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Take the rows at ascending positions `rows` out of the table file at `path` (rewriting it
/// a row group at a time); returns them.
pub fn remove_rows_from_file(path: &Path, contract: &TableContract, rows: &[u64]) -> Result<DataFrame> {
    let tmp = path.with_extension("rewrite");
    let mut out = TableStream::create(contract, &tmp)?;
    let mut removed: Vec<DataFrame> = Vec::new();
    let mut next = 0usize;
    let failed = |e| EngineError::Polars { context: format!("reading {}", path.display()), error: e };
    crate::ingest::read::parquet_slices(path, ROW_GROUP_ROWS, failed, |mut chunk, start, _| {
        let end = (start + chunk.height()) as u64;
        let from = next;
        while next < rows.len() && rows[next] < end {
            next += 1;
        }
        let local: Vec<u64> = rows[from..next].iter().map(|&r| r - start as u64).collect();
        chunk = to_internal(chunk, contract)?;
        if !local.is_empty() {
            removed.push(crate::ingest::remove_rows(&mut chunk, &local)?);
        }
        out.write(&chunk)
    })?;
    out.finish()?;
    std::fs::rename(&tmp, path).map_err(EngineError::io("replacing", path))?;
    crate::ingest::concat(removed, contract)
}

/// Write `df` to `path` as one Parquet file; returns the number of rows written.
pub fn write_table(df: &mut DataFrame, contract: &TableContract, path: &Path) -> Result<u64> {
    check_contract(df, contract)?;
    let mut stored = to_stored(df, contract)?;
    let df = &mut stored;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(EngineError::io("creating", parent))?;
    }
    let failed = Default::default();
    let mut writer = recording(path, &failed)?;
    parquet_writer(&mut writer, &df.schema().clone()).finish(df).map_err(write_failed(path, &failed))?;
    use std::io::Write;
    writer.flush().map_err(EngineError::io("writing", path))?;
    Ok(df.height() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema embedded in every file reads back as the table's, with text as large strings
    /// (what Arrow readers before string views understand), and the writer keeps it.
    #[test]
    fn files_embed_the_arrow_schema_old_readers_understand() {
        use base64::Engine;
        use polars_arrow::datatypes::ArrowDataType;
        let mut df = df!(
            "customer_id" => ["C1", "C2"],
            "rows" => [1u64, 2],
            "as_of" => [19_000i32, 19_001],
        )
        .expect("a frame");
        df.apply("as_of", |c| c.cast(&DataType::Date).expect("dates")).expect("dates");
        let schema = df.schema().clone();
        let (key, value) = arrow_schema_entry(&schema);
        assert_eq!(key, ARROW_SCHEMA_KEY);
        let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_bytes()).expect("base64");
        assert_eq!(&bytes[..4], &[255u8; 4], "an IPC message, length-prefixed");
        let len = u32::from_le_bytes(bytes[4..8].try_into().expect("a length")) as usize;
        let (arrow, _, _) =
            polars_arrow::io::ipc::read::deserialize_schema(&bytes[8..8 + len]).expect("a schema message");
        let types: Vec<&ArrowDataType> = arrow.iter_values().map(|f| &f.dtype).collect();
        assert_eq!(types, [&ArrowDataType::LargeUtf8, &ArrowDataType::UInt64, &ArrowDataType::Date32]);
        // Written to a file, the entry is the one in its footer (polars adds no other).
        let mut file = Vec::new();
        parquet_writer(&mut file, &schema).finish(&mut df).expect("written");
        let text = String::from_utf8_lossy(&file);
        assert_eq!(text.matches(ARROW_SCHEMA_KEY).count(), 1);
        assert!(text.contains(&arrow_schema_entry(&schema).1));
        let back = ParquetReader::new(std::io::Cursor::new(file)).finish().expect("read back");
        assert!(back.equals(&df));
    }

    /// Counts leave ardent as signed 64-bit integers and come back unsigned; a count beyond
    /// the signed range is an error, never a wrong number.
    #[test]
    fn counts_are_stored_signed_and_read_back_unsigned() {
        use crate::contracts::{OutType, out};
        let contract = TableContract {
            name: "t",
            doc: "",
            columns: std::borrow::Cow::Owned(vec![
                out("id", OutType::Text, false, ""),
                out("n", OutType::Count, false, ""),
            ]),
            partition: None,
        };
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("t.parquet");
        let mut df = df!("id" => ["a", "b"], "n" => [3u64, 7]).expect("a frame");
        assert_eq!(write_table(&mut df, &contract, &path).expect("written"), 2);
        let back = ParquetReader::new(File::open(&path).expect("the file")).finish().expect("read back");
        assert_eq!(back.column("n").expect("n").dtype(), &DataType::Int64);
        check_contract(&back, &contract).expect("stored counts meet the contract");
        let inside = to_internal(back, &contract).expect("unsigned again");
        assert!(inside.equals(&df));
        let mut huge = df!("id" => ["a"], "n" => [u64::MAX]).expect("a frame");
        assert!(write_table(&mut huge, &contract, &dir.path().join("huge.parquet")).is_err());
    }
}
