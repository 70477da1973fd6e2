//! Finding and reading export files: a location (file, glob or folder) becomes a sorted list
//! of files, each read into a frame of its own columns. CSV is read as text so that a bad
//! value survives to the quarantine exactly as it was written; Parquet and NDJSON keep their
//! types, and validation takes typed columns as they are.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::encoding::Text;
use super::options::{Format, InputSpec};
use super::structure::Structure;
use crate::error::{EngineError, Result};

/// One export file to read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: Format,
}

/// The files at an input's location, in name order (the order batches are applied in).
pub fn resolve_files(spec: &InputSpec) -> Result<Vec<SourceFile>> {
    let key = &spec.key;
    let location = spec.path.to_string_lossy().to_string();
    let missing = |message: String| EngineError::MissingInput { input: spec.error_name(), message };
    let mut paths: Vec<PathBuf> = Vec::new();
    if location.contains(['*', '?', '[']) {
        let entries = glob::glob(&location).map_err(|e| {
            EngineError::config(format!("`{key}.path` = \"{}\" is not a valid glob: {e}", spec.location))
        })?;
        for entry in entries {
            let path = entry.map_err(|e| EngineError::Io {
                action: "listing",
                path: e.path().to_path_buf(),
                error: e.into(),
            })?;
            if path.is_file() {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(missing(format!("no file matches {location}; check `{key}.path`")));
        }
    } else if spec.path.is_dir() {
        let entries = std::fs::read_dir(&spec.path).map_err(EngineError::io("listing", &spec.path))?;
        for entry in entries {
            let entry = entry.map_err(EngineError::io("listing", &spec.path))?;
            let path = entry.path();
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(['.', '_']));
            let wanted = match spec.format {
                Some(f) => Format::from_path(&path) == Some(f),
                None => Format::from_path(&path).is_some(),
            };
            if path.is_file() && !hidden && wanted {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(missing(format!(
                "the folder {location} holds no .csv, .parquet or .ndjson file; check `{key}.path`"
            )));
        }
    } else if spec.path.is_file() {
        paths.push(spec.path.clone());
    } else {
        return Err(missing(format!(
            "{location} does not exist; check `{key}.path` (relative paths start at the config file's folder)"
        )));
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let format = spec.format.or_else(|| Format::from_path(&path)).ok_or_else(|| {
                EngineError::config(format!(
                    "cannot tell the format of {} from its extension; set `{key}.format` to csv, parquet or ndjson",
                    path.display()
                ))
            })?;
            Ok(SourceFile { path, format })
        })
        .collect()
}

fn unreadable(spec: &InputSpec, file: &SourceFile, reason: String) -> EngineError {
    // A CSV that fails because of its delimiter is named as such, not as a wrong format.
    if file.format == Format::Csv {
        let header = header_fields(&file.path, spec.delimiter);
        if let Some(hint) = delimiter_hint(&header, spec.delimiter, &spec.key) {
            return EngineError::ColumnFormat {
                input: spec.kind.name().to_string(),
                path: file.path.clone(),
                column: "(header)".into(),
                message: hint,
            };
        }
    }
    EngineError::Unreadable {
        input: if spec.key.starts_with("sources.") { spec.key.clone() } else { spec.kind.name().to_string() },
        path: file.path.clone(),
        format: file.format.name().to_string(),
        reason: without_content(&first_line(&reason)),
    }
}

/// Rows validated at a time. Validation holds a few times a chunk's size, so a file of any
/// size is checked in bounded memory; 2^18 rows is also the row-group size ardent writes.
pub const CHUNK_ROWS: usize = 1 << 18;

/// Read one file in chunks of at most `rows` rows: `each(frame, first_row, file_rows)` gets
/// every chunk in order, with the 0-based row number of its first row and the file's row
/// count; an empty file gives one empty frame (its columns are still checked). Parquet is
/// read a slice at a time; CSV and NDJSON are parsed whole and handed out in slices.
pub fn read_chunks(
    spec: &InputSpec,
    file: &SourceFile,
    rows: usize,
    mut each: impl FnMut(DataFrame, usize, usize) -> Result<()>,
) -> Result<()> {
    let whole = match file.format {
        Format::Parquet => {
            return parquet_slices(&file.path, rows, |e| unreadable(spec, file, e.to_string()), each);
        }
        _ => read_file(spec, file)?,
    };
    let mut start = 0;
    loop {
        each(whole.slice(start as i64, rows), start, whole.height())?;
        start += rows;
        if start >= whole.height() {
            return Ok(());
        }
    }
}

/// Read the Parquet file at `path` a slice of at most `rows` rows at a time: `each(frame,
/// first_row, file_rows)` gets every slice in order (an empty file gives one empty frame
/// with the file's columns); `failed` names a read error. Slices end on row-group
/// boundaries where they can (see [`slice_bounds`]); the footer is read once.
pub fn parquet_slices(
    path: &Path,
    rows: usize,
    failed: impl Fn(PolarsError) -> EngineError,
    each: impl FnMut(DataFrame, usize, usize) -> Result<()>,
) -> Result<()> {
    parquet_column_slices(path, rows, None, failed, each)
}

/// [`parquet_slices`] reading only `columns` (all when `None`).
pub fn parquet_column_slices(
    path: &Path,
    rows: usize,
    columns: Option<&[&str]>,
    failed: impl Fn(PolarsError) -> EngineError,
    mut each: impl FnMut(DataFrame, usize, usize) -> Result<()>,
) -> Result<()> {
    let mut slices = ParquetSlices::open(path, rows, columns, &failed)?;
    let total = slices.rows();
    while let Some((frame, start)) = slices.next_slice(&failed)? {
        each(frame, start, total)?;
    }
    Ok(())
}

/// A Parquet file read a slice at a time when asked ([`parquet_column_slices`] drives one;
/// a merge of several sorted files pulls from each in turn). Slices end on row-group
/// boundaries where they can (see [`slice_bounds`]); the footer is read once.
#[derive(Debug)]
pub struct ParquetSlices {
    path: PathBuf,
    metadata: polars::io::parquet::metadata::FileMetadataRef,
    columns: Option<Vec<String>>,
    bounds: Vec<(usize, usize)>,
    next: usize,
}

impl ParquetSlices {
    /// Read the footer of the file at `path`; slices of at most `rows` rows, only `columns`
    /// when given; `failed` names a read error.
    pub fn open(
        path: &Path,
        rows: usize,
        columns: Option<&[&str]>,
        failed: impl Fn(PolarsError) -> EngineError,
    ) -> Result<ParquetSlices> {
        let file = File::open(path).map_err(EngineError::io("opening", path))?;
        let metadata = ParquetReader::new(file).get_metadata().map_err(&failed)?.clone();
        let groups: Vec<usize> = metadata.row_groups.iter().map(|g| g.num_rows()).collect();
        let bounds = slice_bounds(&groups, metadata.num_rows, rows);
        let columns = columns.map(|c| c.iter().map(|s| s.to_string()).collect());
        Ok(ParquetSlices { path: path.to_path_buf(), metadata, columns, bounds, next: 0 })
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.metadata.num_rows
    }

    /// The next slice and its first row, `None` after the last (an empty file gives one
    /// empty frame with the file's columns).
    pub fn next_slice(&mut self, failed: impl Fn(PolarsError) -> EngineError) -> Result<Option<(DataFrame, usize)>> {
        let Some(&(start, len)) = self.bounds.get(self.next) else { return Ok(None) };
        self.next += 1;
        let file = File::open(&self.path).map_err(EngineError::io("opening", &self.path))?;
        let mut reader = ParquetReader::new(file).with_slice(Some((start, len))).with_columns(self.columns.clone());
        reader.set_metadata(self.metadata.clone());
        Ok(Some((reader.finish().map_err(failed)?, start)))
    }
}

/// (start, length) of the slices a file of `total` rows in row groups of `groups` rows is
/// read in: whole row groups, as many as fit in `rows`, and a row group larger than `rows`
/// in pieces of `rows`. A slice that cut a row group would have it decompressed twice, once
/// for each slice it is in (the `m` ledger's 81k-row groups under 262k-row slices: a third
/// more decoding). Always at least one slice, so an empty file still gives its columns.
pub fn slice_bounds(groups: &[usize], total: usize, rows: usize) -> Vec<(usize, usize)> {
    let rows = rows.max(1);
    let mut out = Vec::new();
    let (mut start, mut len) = (0, 0);
    for &g in groups {
        if len > 0 && len + g > rows {
            out.push((start, len));
            (start, len) = (start + len, 0);
        }
        len += g;
        while len > rows {
            out.push((start, rows));
            (start, len) = (start + rows, len - rows);
        }
    }
    if len > 0 || out.is_empty() {
        out.push((start, len));
    }
    // Row groups that do not add up to the file (a malformed footer): the rest in `rows`.
    let mut end = start + len;
    while end < total {
        out.push((end, rows.min(total - end)));
        end += rows;
    }
    out
}

/// Read one file into a frame of its own columns.
pub fn read_file(spec: &InputSpec, file: &SourceFile) -> Result<DataFrame> {
    let handle = File::open(&file.path).map_err(EngineError::io("opening", &file.path))?;
    let frame = match file.format {
        Format::Csv => {
            // Rows with too many fields are cut to the header's (and quarantined below), so
            // that one of them does not fail the file. Every column as text: a value that
            // fails to parse must reach the quarantine as written, and ids keep their zeros.
            let options = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_raise_if_empty(false)
                .with_parse_options(
                    CsvParseOptions::default()
                        .with_separator(spec.delimiter)
                        .with_missing_is_null(true)
                        .with_truncate_ragged_lines(true),
                );
            if spec.encoding == super::encoding::Encoding::Utf8 {
                // The usual case, a UTF-8 file: its structure is scanned on a thread of its own
                // while the parser reads it (both from the page cache).
                let (structure, read) = std::thread::scope(|scope| {
                    let scan = scope.spawn(|| {
                        let f = File::open(&file.path)?;
                        super::structure::scan(f, spec.delimiter, 0)
                    });
                    let read = options.clone().into_reader_with_file_handle(handle).finish();
                    (scan.join(), read)
                });
                let structure = structure
                    .unwrap_or_else(|_| Err(std::io::Error::other("the structure pass stopped")))
                    .map_err(EngineError::io("reading", &file.path))?;
                if structure.utf8 {
                    check_structure(spec, &file.path, &structure)?;
                    let frame = read.map_err(|e| unreadable(spec, file, e.to_string()))?;
                    return if structure.ragged.is_empty() {
                        Ok(frame)
                    } else {
                        mark_rows(spec, frame, &structure, false)
                    };
                }
            }
            // Not UTF-8 (declared, or found so): decoded first.
            let text = super::encoding::decode(&file.path, spec.encoding, &spec.error_name(), spec.delimiter, 0)?;
            check_structure(spec, &file.path, text.structure())?;
            let Text::Decoded { bytes, lossy, structure } = text else {
                return Err(EngineError::io("reading", &file.path)(std::io::Error::other(
                    "the file changed while read",
                )));
            };
            let read = options.into_reader_with_file_handle(std::io::Cursor::new(bytes)).finish();
            let frame = read.map_err(|e| unreadable(spec, file, e.to_string()))?;
            return if !structure.ragged.is_empty() || lossy {
                mark_rows(spec, frame, &structure, lossy)
            } else {
                Ok(frame)
            };
        }
        Format::Parquet => ParquetReader::new(handle).finish(),
        Format::Ndjson => JsonReader::new(handle).with_json_format(JsonFormat::JsonLines).finish(),
        Format::Xlsx => {
            let grid = super::excel::read_grid(&file.path, None, spec.numbers.decimal)
                .map_err(|e| unreadable(spec, file, e))?;
            return super::excel::grid_frame(&grid, 0, &file.path);
        }
    };
    let frame = frame.map_err(|e| unreadable(spec, file, e.to_string()))?;
    Ok(frame)
}

/// Refuse a CSV file whose structure no row rule can handle: an empty file (no header), a
/// column the input reads named twice in the header, or most rows with a number of fields
/// other than the header's (a wrong delimiter or quoting, not a few bad rows).
pub fn check_structure(spec: &InputSpec, path: &Path, s: &Structure) -> Result<()> {
    let read: Vec<&str> = spec.columns.iter().map(|(_, source)| source.as_str()).collect();
    check_header(spec, path, s, &read)?;
    // A header that another delimiter splits: that is the mistake, whatever the rows say.
    if let Some(hint) = delimiter_hint(&s.header, spec.delimiter, &spec.key) {
        return Err(EngineError::ColumnFormat {
            input: spec.error_name(),
            path: path.to_path_buf(),
            column: "(header)".into(),
            message: hint,
        });
    }
    if !s.ragged.is_empty() && s.ragged.len() as u64 * 2 > s.records {
        let (row, fields) = s.ragged[0];
        return Err(EngineError::ColumnFormat {
            input: spec.error_name(),
            path: path.to_path_buf(),
            column: "(every column)".into(),
            message: format!(
                "{} of {} rows have a number of fields other than the header's {} (the first, row {}, has {fields}); check `{}.delimiter` and the export's quoting",
                s.ragged.len(),
                s.records,
                s.header.len(),
                row + 1,
                spec.key
            ),
        });
    }
    Ok(())
}

/// Refuse a CSV file without a header, or whose header names a column in `read` (the
/// columns the input reads) more than once.
pub fn check_header(spec: &InputSpec, path: &Path, s: &Structure, read: &[&str]) -> Result<()> {
    let refuse = |column: String, message: String| EngineError::ColumnFormat {
        input: spec.error_name(),
        path: path.to_path_buf(),
        column,
        message,
    };
    if s.header.is_empty() && s.records == 0 {
        return Err(refuse(
            "(header)".into(),
            "the file is empty, without even a header line; an export with no rows still has its header: re-export it, or remove the file".into(),
        ));
    }
    for (name, at) in s.duplicates() {
        if read.contains(&name.as_str()) {
            let at: Vec<String> = at.iter().map(usize::to_string).collect();
            return Err(refuse(
                format!("`{name}`"),
                format!(
                    "the header names it {} times (columns {}), and ardent cannot tell which one is meant: rename the others in the export",
                    at.len(),
                    at.join(" and ")
                ),
            ));
        }
    }
    Ok(())
}

/// Mark the rows that fail before any value is read: a row whose number of fields is not the
/// header's fails `wrong_field_count` on the input's key column; in a file read with bytes
/// that were not text replaced (U+FFFD, `lossy`), a row fails `invalid_encoding` on the first
/// column the input reads that holds one (a column the input does not read is not ingested,
/// and its bytes reach nothing published).
fn mark_rows(spec: &InputSpec, mut frame: DataFrame, s: &Structure, lossy: bool) -> Result<DataFrame> {
    let mut fail: Vec<Option<String>> = vec![None; frame.height()];
    let key = spec.kind.columns().first().map_or("", |c| c.name);
    for &(row, _) in &s.ragged {
        if let Some(f) = fail.get_mut(row as usize) {
            *f = Some(format!("{}/{key}", super::quarantine::Rule::WrongFieldCount.name()));
        }
    }
    if lossy {
        for (canonical, source) in &spec.columns {
            let Ok(col) = frame.column(source) else { continue };
            let Ok(text) = col.str() else { continue };
            for (f, v) in fail.iter_mut().zip(text.iter()) {
                if f.is_none() && v.is_some_and(|v| v.contains('\u{fffd}')) {
                    *f = Some(format!("{}/{canonical}", super::quarantine::Rule::InvalidEncoding.name()));
                }
            }
        }
    }
    let fail = StringChunked::from_iter_options(super::columns::FAIL_COLUMN.into(), fail.into_iter());
    frame.with_column(fail.into_column()).map_err(EngineError::polars("marking rows that fail before their values"))?;
    Ok(frame)
}

/// When a CSV header read with `delimiter` came out as one column that another delimiter
/// would split, the advice to set it (`the header is separated by ';': set ... = ";"`).
pub fn delimiter_hint(columns: &[String], delimiter: u8, key: &str) -> Option<String> {
    let [only] = columns else { return None };
    [b';', b',', b'\t', b'|']
        .into_iter()
        .filter(|&d| d != delimiter)
        .map(|d| (d, only.matches(d as char).count()))
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(_, n)| n)
        .map(|(d, _)| {
            let shown = if d == b'\t' { "\\t".to_string() } else { (d as char).to_string() };
            format!(
                "the header read with delimiter {:?} is one column that '{shown}' splits: set `{key}.delimiter = \"{shown}\"`",
                delimiter as char
            )
        })
}

/// The column names of a file for a message: listed when they look like a header (two or
/// more names of printable text, none longer than 64 characters), else only described, so
/// that a file which is not the expected export (a key file, a binary) never has its first
/// line echoed into logs.
pub fn column_list(names: &[String]) -> String {
    let header_like = names.len() >= 2
        && names.iter().all(|n| n.chars().count() <= 64 && !n.chars().any(|c| c.is_control() || c == '\u{fffd}'));
    match names {
        [] => "(none)".to_string(),
        _ if header_like => names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
        [one] => format!(
            "one field of {} characters, not shown (the first line has no column names split by the delimiter: is this the right file?)",
            one.chars().count()
        ),
        _ => format!(
            "{} fields, not shown (the first line does not look like column names: is this the right file?)",
            names.len()
        ),
    }
}

/// A parser's reason for refusing a file, without the file's content: text it quotes
/// between backticks or double quotes is replaced by `(value not shown)`.
pub fn without_content(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(start) = rest.find(['`', '"']) {
        let quote = rest[start..].chars().next().unwrap_or('`');
        out.push_str(&rest[..start]);
        match rest[start + 1..].find(quote) {
            Some(end) => {
                out.push_str("(value not shown)");
                rest = &rest[start + 1 + end + 1..];
            }
            None => {
                out.push_str("(value not shown)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The first line of a CSV file split by `delimiter`, for the hint above.
pub fn header_fields(path: &Path, delimiter: u8) -> Vec<String> {
    header_fields_at(path, delimiter, 0)
}

/// Line `skip` (0-based) of a CSV file split by `delimiter` (no quoting: for names only).
pub fn header_fields_at(path: &Path, delimiter: u8, skip: usize) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let Ok(file) = File::open(path) else { return Vec::new() };
    let mut reader = BufReader::new(file).take(1024 * 1024);
    let mut line = Vec::new();
    for _ in 0..=skip {
        line.clear();
        if reader.read_until(b'\n', &mut line).is_err() {
            return Vec::new();
        }
    }
    let line = String::from_utf8_lossy(&line);
    let line = line.trim_end_matches(['\r', '\n']);
    if line.is_empty() {
        return Vec::new();
    }
    line.split(delimiter as char).map(str::to_string).collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// A short, stable name of a file for outputs: the path relative to `base` when inside it.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::slice_bounds;

    #[test]
    fn slices_end_on_row_groups_and_split_only_groups_larger_than_a_slice() {
        // Groups 3 + 3 fit a 7-row slice, the third does not; 10 is split; 2 + 1 end the file.
        assert_eq!(slice_bounds(&[3, 3, 3, 10, 2, 1], 22, 7), [(0, 6), (6, 3), (9, 7), (16, 6)]);
        // Every slice is at most `rows`, and together they cover the file once, in order.
        for rows in 1..12 {
            let groups = [5, 1, 1, 8, 3];
            let bounds = slice_bounds(&groups, 18, rows);
            let mut next = 0;
            for &(start, len) in &bounds {
                assert!(start == next && len >= 1 && len <= rows, "{rows}: {bounds:?}");
                next = start + len;
            }
            assert_eq!(next, 18, "{rows}: {bounds:?}");
        }
        assert_eq!(slice_bounds(&[], 0, 4), [(0, 0)], "an empty file is one empty slice");
        assert_eq!(slice_bounds(&[4], 9, 4), [(0, 4), (4, 4), (8, 1)], "rows the footer does not group");
    }
}
