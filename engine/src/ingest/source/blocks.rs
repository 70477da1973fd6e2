//! A CSV source read a block of rows at a time: one structure pass finds where every record
//! starts (and which have other field counts), and each block of [`BLOCK_ROWS`] records is
//! read into one reused buffer, parsed on its own and routed, so that the whole file is never
//! held, as bytes or as columns. The quarantine's `raw` of a routed row is read back from the
//! file ([`CsvBlocks::raw_json`]), only for the rows that need one.
//!
//! Used for UTF-8 CSV files of sources whose rows do not depend on the rows above them (no
//! fill-down, no group headers) and that need no pass over every row before routing
//! (customer names, lines of one document); any other file is read whole.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Mutex;

use polars::prelude::*;

use super::super::read::SourceFile;
use super::super::structure::scan_records_with;
use super::params::SourceSpec;
use super::report::{RAGGED_COLUMN, unnamed, unreadable};
use crate::error::{EngineError, Result};

/// Rows parsed and routed at a time: the routing's slices ([`super::route::SLICE_ROWS`]),
/// so that what routing decides per slice is the same whichever way the file is read.
pub const BLOCK_ROWS: usize = super::route::SLICE_ROWS;

/// An open CSV file, its column names and where each record starts.
pub struct CsvBlocks {
    file: Mutex<std::fs::File>,
    len: u64,
    names: Vec<String>,
    /// Byte offset of every data record (under the header).
    starts: Vec<u64>,
    /// (record, fields) of the records whose number of fields is not the header's.
    ragged: Vec<(u64, u32)>,
    delimiter: u8,
}

impl std::fmt::Debug for CsvBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvBlocks").field("names", &self.names).field("rows", &self.starts.len()).finish()
    }
}

impl CsvBlocks {
    /// Open `file` and find its records under `skip` title lines and the header, telling
    /// `found` the column names and the records found so far while the file is scanned, so
    /// that blocks of them can be routed meanwhile. `None` when the file is not UTF-8 as
    /// stored (it is then decoded and read whole); what `found` was told holds only if the
    /// result is a `CsvBlocks` (the file UTF-8, its header sound).
    pub(super) fn open(
        spec: &SourceSpec,
        file: &SourceFile,
        skip: usize,
        named: &[&str],
        mut found: impl FnMut(Scanned<'_>),
    ) -> Result<Option<CsvBlocks>> {
        let open = || std::fs::File::open(&file.path).map_err(EngineError::io("opening", &file.path));
        let delimiter = spec.read.delimiter;
        let handle = open()?;
        let len = handle.metadata().map_err(EngineError::io("reading", &file.path))?.len();
        let head = |header_end: u64| -> Result<Vec<u8>> {
            let mut head = Vec::new();
            (&handle).take(header_end).read_to_end(&mut head).map_err(EngineError::io("reading", &file.path))?;
            Ok(head)
        };
        let mut names: Option<Result<Vec<String>>> = None;
        let (structure, starts) = scan_records_with(open()?, delimiter, skip, true, |f| {
            let Some(&first) = f.starts.first() else { return };
            let names =
                names.get_or_insert_with(|| head(first).and_then(|h| header_names(spec, file, &h, skip, f.header)));
            if let Ok(names) = names {
                found(Scanned { names, starts: f.starts, ragged: f.ragged });
            }
        })
        .map_err(EngineError::io("reading", &file.path))?;
        if !structure.utf8 {
            return Ok(None);
        }
        super::super::read::check_header(&spec.read, &file.path, &structure, named)?;
        let names = match names {
            Some(names) => names?,
            None => header_names(spec, file, &head(starts.first().copied().unwrap_or(len))?, skip, &structure.header)?,
        };
        (&handle).seek(SeekFrom::Start(0)).map_err(EngineError::io("reading", &file.path))?;
        Ok(Some(CsvBlocks { file: Mutex::new(handle), len, names, starts, ragged: structure.ragged, delimiter }))
    }

    /// The file's length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Data records in the file.
    pub fn rows(&self) -> usize {
        self.starts.len()
    }

    /// The column names, as the parser reads the header.
    pub(super) fn names(&self) -> &[String] {
        &self.names
    }

    /// Where records `rows` start in the file.
    pub(super) fn starts(&self, rows: Range<usize>) -> &[u64] {
        &self.starts[rows]
    }

    /// (record, fields) of the records of `rows` whose number of fields is not the header's.
    pub(super) fn ragged(&self, rows: Range<usize>) -> &[(u64, u32)] {
        let (from, to) = (
            self.ragged.partition_point(|&(r, _)| r < rows.start as u64),
            self.ragged.partition_point(|&(r, _)| r < rows.end as u64),
        );
        &self.ragged[from..to]
    }

    /// The bytes of records `rows`, read into `buf`.
    pub(super) fn bytes<'b>(&self, rows: Range<usize>, buf: &'b mut Vec<u8>) -> std::io::Result<&'b [u8]> {
        let start = self.starts.get(rows.start).copied().unwrap_or(self.len);
        let end = self.starts.get(rows.end).copied().unwrap_or(self.len).max(start);
        read_range(&self.file, start..end, buf)
    }

    /// Records `rows` as a frame of text columns, as the whole file would be read (rows with
    /// other field counts marked in [`RAGGED_COLUMN`] when the file has any); `buf` holds
    /// their bytes while they are parsed.
    pub fn frame(
        &self,
        spec: &SourceSpec,
        file: &SourceFile,
        rows: Range<usize>,
        buf: &mut Vec<u8>,
    ) -> Result<DataFrame> {
        let bytes = self.bytes(rows.clone(), buf).map_err(EngineError::io("reading", &file.path))?;
        let schema: Schema = self.names.iter().map(|n| Field::new(n.as_str().into(), DataType::String)).collect();
        let options = CsvReadOptions::default()
            .with_has_header(false)
            .with_schema(Some(Arc::new(schema)))
            .with_raise_if_empty(false)
            .with_parse_options(
                CsvParseOptions::default()
                    .with_separator(self.delimiter)
                    .with_missing_is_null(true)
                    .with_truncate_ragged_lines(true),
            );
        let mut frame = options
            .into_reader_with_file_handle(std::io::Cursor::new(bytes))
            .finish()
            .map_err(|e| unreadable(spec, &file.path, "csv", &e))?;
        if frame.height() != rows.len() {
            return Err(EngineError::Unreadable {
                input: format!("sources.{}", spec.name),
                path: file.path.clone(),
                format: "csv".into(),
                reason: format!(
                    "rows {}..{} parse as {} records where the structure pass found {}",
                    rows.start + 1,
                    rows.end,
                    frame.height(),
                    rows.len()
                ),
            });
        }
        if !self.ragged.is_empty() {
            let (from, to) = (rows.start as u64, rows.end as u64);
            let first = self.ragged.partition_point(|&(r, _)| r < from);
            let mut fields: Vec<Option<u32>> = vec![None; rows.len()];
            for &(r, n) in self.ragged[first..].iter().take_while(|&&(r, _)| r < to) {
                fields[(r - from) as usize] = Some(n);
            }
            let marker = UInt32Chunked::from_iter_options(RAGGED_COLUMN.into(), fields.into_iter());
            frame
                .with_column(marker.into_column())
                .map_err(EngineError::polars("marking rows with other field counts"))?;
        }
        Ok(frame)
    }

    /// The values of 0-based record `row` as the parser reads them: quotes removed (`""` a
    /// quote), an empty unquoted field null, fields beyond the header's dropped, missing ones
    /// null.
    fn values(&self, row: usize) -> Vec<Option<String>> {
        let mut buf = Vec::new();
        // A file that can no longer be read shows its row as empty.
        let mut line = self.bytes(row..row + 1, &mut buf).unwrap_or_default();
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut out = record_fields(line, self.delimiter);
        out.resize(self.names.len(), None);
        out
    }

    /// The quarantine's `raw` of 0-based record `row`: export column → value, as JSON.
    pub fn raw_json(&self, row: usize) -> String {
        let mut map = serde_json::Map::new();
        for (name, v) in self.names.iter().zip(self.values(row)) {
            map.insert(name.clone(), v.map_or(serde_json::Value::Null, serde_json::Value::String));
        }
        serde_json::Value::Object(map).to_string()
    }

    /// The value of column `name` in 0-based record `row`.
    pub fn value(&self, name: &str, row: usize) -> Option<String> {
        let k = self.names.iter().position(|n| n == name)?;
        self.values(row).swap_remove(k)
    }
}

/// What a scan has found so far: the column names and where each record found starts (and
/// which have another number of fields than the header's).
#[derive(Debug)]
pub(super) struct Scanned<'a> {
    pub(super) names: &'a [String],
    pub(super) starts: &'a [u64],
    pub(super) ragged: &'a [(u64, u32)],
}

/// The entries of `ragged` ((record, fields), by record) of records `rows`.
pub(super) fn ragged_in(ragged: &[(u64, u32)], rows: Range<usize>) -> &[(u64, u32)] {
    let at = |row: usize| ragged.partition_point(|&(r, _)| r < row as u64);
    &ragged[at(rows.start)..at(rows.end)]
}

/// Bytes `range` of a file, read into `buf`.
pub(super) fn read_range<'b>(
    file: &Mutex<std::fs::File>,
    range: Range<u64>,
    buf: &'b mut Vec<u8>,
) -> std::io::Result<&'b [u8]> {
    let len = (range.end - range.start) as usize;
    buf.clear();
    buf.reserve(len);
    let mut file = file.lock().map_err(|_| std::io::Error::other("a reader of the file stopped"))?;
    file.seek(SeekFrom::Start(range.start))?;
    // Read into the buffer's spare room (not zeroed first).
    (&mut *file).take(len as u64).read_to_end(buf)?;
    if buf.len() != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file is shorter than when it was scanned",
        ));
    }
    Ok(buf)
}

/// The fields of one record's bytes (without its line end): a field that starts with a quote
/// runs to the closing quote (`""` inside is a quote, what follows it up to the delimiter is
/// kept); an empty field is null, an empty quoted one (`""`) empty text.
pub(super) fn record_fields(line: &[u8], delimiter: u8) -> Vec<Option<String>> {
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut value = Vec::new();
        let quoted = line.get(i) == Some(&b'"');
        if quoted {
            i += 1;
            while i < line.len() {
                if line[i] == b'"' {
                    if line.get(i + 1) == Some(&b'"') {
                        value.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                value.push(line[i]);
                i += 1;
            }
        }
        let end = memchr::memchr(delimiter, &line[i..]).map_or(line.len(), |at| i + at);
        value.extend_from_slice(&line[i..end]);
        // Empty and unquoted is missing (null); `""` is an empty text, as the parser reads it.
        fields.push((quoted || !value.is_empty()).then(|| String::from_utf8_lossy(&value).into_owned()));
        if end >= line.len() {
            break;
        }
        i = end + 1;
    }
    fields
}

/// The column names as the whole-file read gives them: the parser's own reading of the
/// header line (duplicates renamed its way), a name left empty as `column_<n>`.
fn header_names(
    spec: &SourceSpec,
    file: &SourceFile,
    head: &[u8],
    skip: usize,
    header: &[String],
) -> Result<Vec<String>> {
    let mut start = 0;
    for _ in 0..skip {
        match memchr::memchr(b'\n', &head[start..]) {
            Some(at) => start += at + 1,
            None => start = head.len(),
        }
    }
    let line = &head[start..];
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_raise_if_empty(false)
        .with_parse_options(CsvParseOptions::default().with_separator(spec.read.delimiter))
        .into_reader_with_file_handle(std::io::Cursor::new(line))
        .finish()
        .map_err(|e| unreadable(spec, &file.path, "csv", &e))?;
    Ok(frame
        .get_column_names()
        .iter()
        .enumerate()
        .map(|(k, name)| match header.get(k) {
            Some(h) if h.is_empty() => unnamed(k),
            _ => name.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::record_fields;

    #[test]
    fn fields_of_a_record_as_the_parser_reads_them() {
        let f = |s: &str| record_fields(s.as_bytes(), b';');
        let v = |x: &[Option<&str>]| x.iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
        assert_eq!(f("a;;b"), v(&[Some("a"), None, Some("b")]));
        assert_eq!(f("\"x;y\";\"q\"\"\";"), v(&[Some("x;y"), Some("q\""), None]));
        assert_eq!(f("\"\";a"), v(&[Some(""), Some("a")]), "an empty quoted value is empty text");
        assert_eq!(f(""), v(&[None]));
        assert_eq!(f("\"multi\nline\";2"), v(&[Some("multi\nline"), Some("2")]));
    }
}
