//! Writing generated rows: [`TableWriter`] takes rows of [`Val`]s and writes them as CSV
//! (canonical column names, ISO dates, `.` decimals) or as typed Parquet (dates as `DATE`,
//! money as `DECIMAL(18,2)`), one row group per block of customers.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::GenError;
use crate::calendar::DateText;

/// Output format of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutFormat {
    Csv,
    Parquet,
}

impl OutFormat {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            OutFormat::Csv => "csv",
            OutFormat::Parquet => "parquet",
        }
    }
}

/// Column types of generated tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    Date,
    Money,
    /// Exchange rate with 6 decimals.
    Rate,
    Bool,
    Float,
}

/// A generated table's columns.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Ty)],
}

impl TableDef {
    /// Position of a column.
    pub fn position(&self, name: &str) -> usize {
        self.columns.iter().position(|(n, _)| *n == name).unwrap_or(0)
    }
}

/// One value of a generated row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(&'a str),
    Owned(String),
    Date(i32),
    Money(i64),
    /// Millionths.
    Rate(i64),
    Bool(bool),
    Float(f64),
    Null,
}

enum Builder {
    Text(Vec<Option<String>>),
    Date(Vec<Option<i32>>),
    Money(Vec<Option<i128>>),
    Rate(Vec<Option<i128>>),
    Bool(Vec<Option<bool>>),
    Float(Vec<Option<f64>>),
}

// One sink per table, never in a collection: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Csv(BufWriter<File>),
    Parquet { writer: polars::io::parquet::write::BatchedWriter<File>, builders: Vec<Builder> },
}

/// Writes one generated table.
pub struct TableWriter {
    def: TableDef,
    path: PathBuf,
    sink: Sink,
    rows: u64,
    line: String,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter").field("table", &self.def.name).field("rows", &self.rows).finish()
    }
}

fn schema_of(def: &TableDef) -> Schema {
    def.columns
        .iter()
        .map(|(n, t)| {
            let dt = match t {
                Ty::Text => DataType::String,
                Ty::Date => DataType::Date,
                Ty::Money => DataType::Decimal(18, 2),
                Ty::Rate => DataType::Decimal(18, 6),
                Ty::Bool => DataType::Boolean,
                Ty::Float => DataType::Float64,
            };
            Field::new((*n).into(), dt)
        })
        .collect()
}

fn new_builders(def: &TableDef) -> Vec<Builder> {
    def.columns
        .iter()
        .map(|(_, t)| match t {
            Ty::Text => Builder::Text(Vec::new()),
            Ty::Date => Builder::Date(Vec::new()),
            Ty::Money => Builder::Money(Vec::new()),
            Ty::Rate => Builder::Rate(Vec::new()),
            Ty::Bool => Builder::Bool(Vec::new()),
            Ty::Float => Builder::Float(Vec::new()),
        })
        .collect()
}

fn polars_err(path: &Path) -> impl FnOnce(PolarsError) -> GenError + '_ {
    move |e| GenError::Write { path: path.to_path_buf(), reason: e.to_string() }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GenError + '_ {
    move |e| GenError::Write { path: path.to_path_buf(), reason: e.to_string() }
}

impl TableWriter {
    /// Create `dir/<name>.<ext>` and write the header.
    pub fn create(dir: &Path, def: TableDef, format: OutFormat) -> Result<Self, GenError> {
        let path = dir.join(format!("{}.{}", def.name, format.ext()));
        let file = File::create(&path).map_err(io_err(&path))?;
        let sink = match format {
            OutFormat::Csv => {
                let mut w = BufWriter::with_capacity(1 << 20, file);
                let header: Vec<&str> = def.columns.iter().map(|c| c.0).collect();
                writeln!(w, "{}", header.join(",")).map_err(io_err(&path))?;
                Sink::Csv(w)
            }
            OutFormat::Parquet => {
                // Unbuffered: row groups are written in large pieces, and a BufWriter inside
                // the batched writer would swallow the last flush's error on drop.
                let writer = ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Zstd(None))
                    .with_statistics(StatisticsOptions::full())
                    .set_parallel(false)
                    .batched(&schema_of(&def))
                    .map_err(polars_err(&path))?;
                Sink::Parquet { writer, builders: new_builders(&def) }
            }
        };
        Ok(TableWriter { def, path, sink, rows: 0, line: String::with_capacity(256) })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The table's columns.
    pub fn def(&self) -> &TableDef {
        &self.def
    }

    /// Write one row; returns its 1-based row number.
    pub fn row(&mut self, vals: &[Val<'_>], dates: &DateText) -> Result<u64, GenError> {
        debug_assert_eq!(vals.len(), self.def.columns.len());
        self.rows += 1;
        match &mut self.sink {
            Sink::Csv(w) => {
                let line = &mut self.line;
                line.clear();
                for (k, v) in vals.iter().enumerate() {
                    if k > 0 {
                        line.push(',');
                    }
                    match v {
                        Val::Str(s) => line.push_str(s),
                        Val::Owned(s) => line.push_str(s),
                        Val::Date(d) => line.push_str(dates.get(*d)),
                        Val::Money(c) => push_money(line, *c),
                        Val::Rate(r) => push_rate(line, *r),
                        Val::Bool(b) => line.push_str(if *b { "true" } else { "false" }),
                        Val::Float(x) => line.push_str(&x.to_string()),
                        Val::Null => {}
                    }
                }
                line.push('\n');
                w.write_all(line.as_bytes()).map_err(io_err(&self.path))?;
            }
            Sink::Parquet { builders, .. } => {
                for (b, v) in builders.iter_mut().zip(vals) {
                    match (b, v) {
                        (Builder::Text(c), Val::Str(s)) => c.push(Some((*s).to_string())),
                        (Builder::Text(c), Val::Owned(s)) => c.push(Some(s.clone())),
                        (Builder::Date(c), Val::Date(d)) => c.push(Some(*d)),
                        (Builder::Money(c), Val::Money(m)) => c.push(Some(i128::from(*m))),
                        (Builder::Rate(c), Val::Rate(m)) => c.push(Some(i128::from(*m))),
                        (Builder::Bool(c), Val::Bool(x)) => c.push(Some(*x)),
                        (Builder::Float(c), Val::Float(x)) => c.push(Some(*x)),
                        (Builder::Text(c), _) => c.push(None),
                        (Builder::Date(c), _) => c.push(None),
                        (Builder::Money(c), _) => c.push(None),
                        (Builder::Rate(c), _) => c.push(None),
                        (Builder::Bool(c), _) => c.push(None),
                        (Builder::Float(c), _) => c.push(None),
                    }
                }
            }
        }
        Ok(self.rows)
    }

    /// End of a block of customers: Parquet writes a row group.
    pub fn flush_block(&mut self) -> Result<(), GenError> {
        let Sink::Parquet { writer, builders } = &mut self.sink else { return Ok(()) };
        let fresh = new_builders(&self.def);
        let taken = std::mem::replace(builders, fresh);
        let height = match taken.first() {
            Some(Builder::Text(v)) => v.len(),
            Some(Builder::Date(v)) => v.len(),
            Some(Builder::Money(v)) => v.len(),
            Some(Builder::Rate(v)) => v.len(),
            Some(Builder::Bool(v)) => v.len(),
            Some(Builder::Float(v)) => v.len(),
            None => 0,
        };
        if height == 0 {
            return Ok(());
        }
        let columns: Vec<Column> = taken
            .into_iter()
            .zip(self.def.columns)
            .map(|(b, (name, _))| {
                let name: PlSmallStr = (*name).into();
                match b {
                    Builder::Text(v) => {
                        StringChunked::from_iter_options(name, v.iter().map(|s| s.as_deref())).into_column()
                    }
                    Builder::Date(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_date().into_column(),
                    Builder::Money(v) => Int128Chunked::from_iter_options(name, v.into_iter())
                        .into_decimal_unchecked(18, 2)
                        .into_column(),
                    Builder::Rate(v) => Int128Chunked::from_iter_options(name, v.into_iter())
                        .into_decimal_unchecked(18, 6)
                        .into_column(),
                    Builder::Bool(v) => BooleanChunked::from_iter_options(name, v.into_iter()).into_column(),
                    Builder::Float(v) => Float64Chunked::from_iter_options(name, v.into_iter()).into_column(),
                }
            })
            .collect();
        let df = DataFrame::new(height, columns).map_err(polars_err(&self.path))?;
        writer.write_batch(&df).map_err(polars_err(&self.path))
    }

    /// Finish the file.
    pub fn finish(mut self) -> Result<u64, GenError> {
        self.flush_block()?;
        match self.sink {
            Sink::Csv(mut w) => w.flush().map_err(io_err(&self.path))?,
            Sink::Parquet { writer, .. } => {
                writer.finish().map_err(polars_err(&self.path))?;
            }
        }
        Ok(self.rows)
    }
}

/// Append cents as a decimal with two places.
pub fn push_money(out: &mut String, cents: i64) {
    if cents < 0 {
        out.push('-');
    }
    let c = cents.unsigned_abs();
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(c / 100));
    out.push('.');
    let frac = c % 100;
    out.push(char::from(b'0' + (frac / 10) as u8));
    out.push(char::from(b'0' + (frac % 10) as u8));
}

/// Append millionths as a decimal with six places.
pub fn push_rate(out: &mut String, micros: i64) {
    let mut buf = itoa::Buffer::new();
    out.push_str(buf.format(micros / 1_000_000));
    out.push('.');
    let frac = buf.format(micros % 1_000_000 + 1_000_000);
    out.push_str(&frac[1..]);
}
