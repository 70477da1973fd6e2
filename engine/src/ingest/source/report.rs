//! Report files: exports made for people before machines. A title block above the header
//! (found by the configured column names), subtotal and total lines (dropped by a pattern,
//! counted), and group headers whose customer is written once above its lines (filled down).

use std::collections::BTreeMap;
use std::io::Read;

use polars::prelude::*;
use serde_json::value::RawValue;

use super::super::encoding::Text;
use super::super::options::Format;
use super::super::read::{SourceFile, read_file};
use super::params::SourceSpec;
use crate::error::{EngineError, Result};

/// Lines searched for the header when `skip_rows` is not set.
const HEADER_SEARCH_LINES: usize = 100;

/// Read one file of a source whole. CSV is read as text from its header line on; Parquet and
/// NDJSON keep their types.
pub fn read_source_file(spec: &SourceSpec, file: &SourceFile) -> Result<DataFrame> {
    match file.format {
        Format::Csv => {}
        Format::Ndjson => {
            let bytes = std::fs::read(&file.path).map_err(EngineError::io("reading", &file.path))?;
            // One JSON document (an API response) rather than JSON lines.
            if let Ok(doc) = serde_json::from_slice::<&serde_json::value::RawValue>(&bytes) {
                return json_records(spec, file, doc);
            }
            // JSON lines, from the bytes already read.
            return JsonReader::new(std::io::Cursor::new(bytes))
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .map_err(|e| unreadable(spec, &file.path, "ndjson", &e));
        }
        Format::Parquet => return read_file(&spec.read, file),
        Format::Xlsx => {
            let grid = super::super::excel::read_grid(&file.path, spec.sheet.as_deref(), spec.read.numbers.decimal)
                .map_err(|reason| EngineError::Unreadable {
                    input: format!("sources.{}", spec.name),
                    path: file.path.clone(),
                    format: "xlsx".into(),
                    reason,
                })?;
            let wanted = named_columns(spec);
            let header = spec.skip_rows.unwrap_or_else(|| {
                grid.iter()
                    .take(HEADER_SEARCH_LINES)
                    .position(|row| {
                        !wanted.is_empty()
                            && wanted
                                .iter()
                                .all(|w| row.iter().any(|c| c.as_deref().map(str::trim) == Some(w.as_str())))
                    })
                    .unwrap_or(0)
            });
            return super::super::excel::grid_frame(&grid, header, &file.path);
        }
    }
    // The header line first (the title lines above it are not the table), in the file's
    // encoding; then the text and its structure from the header on.
    let skip = title_lines(spec, file)?;
    let text = super::super::encoding::decode(
        &file.path,
        spec.read.encoding,
        &format!("sources.{}", spec.name),
        spec.read.delimiter,
        skip,
    )?;
    // Report lines that are not routed (group headers, totals) may be short: routing
    // quarantines the routed rows among those with other field counts, and no share of them
    // refuses the file.
    let named = named_columns(spec);
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    super::super::read::check_header(&spec.read, &file.path, text.structure(), &named)?;
    let ragged = text.structure().ragged.clone();
    let parse = CsvParseOptions::default()
        .with_separator(spec.read.delimiter)
        .with_missing_is_null(true)
        .with_truncate_ragged_lines(!ragged.is_empty());
    let options = CsvReadOptions::default()
        .with_has_header(true)
        .with_skip_rows(skip)
        .with_infer_schema_length(Some(0))
        .with_raise_if_empty(false)
        .with_parse_options(parse);
    let lossy = matches!(text, Text::Decoded { lossy: true, .. });
    let read = match text {
        Text::AsStored(_) => {
            let handle = std::fs::File::open(&file.path).map_err(EngineError::io("opening", &file.path))?;
            options.into_reader_with_file_handle(handle).finish()
        }
        Text::Decoded { bytes, .. } => options.into_reader_with_file_handle(std::io::Cursor::new(bytes)).finish(),
    };
    let mut frame = read.map_err(|e| {
        // A CSV that fails because of its delimiter is named as such, not as a wrong format.
        let header = super::super::read::header_fields_at(&file.path, spec.read.delimiter, skip);
        match super::super::read::delimiter_hint(&header, spec.read.delimiter, &spec.read.key) {
            Some(hint) => EngineError::ColumnFormat {
                input: format!("sources.{}", spec.name),
                path: file.path.clone(),
                column: "(header)".into(),
                message: hint,
            },
            None => unreadable(spec, &file.path, "csv", &e),
        }
    })?;
    // A column without a name in the header (the group column of a report, an index written
    // by pandas) is `column_<n>`, as in spreadsheets.
    let header = super::super::read::header_fields_at(&file.path, spec.read.delimiter, skip);
    let renames: Vec<(String, String)> = frame
        .get_column_names()
        .iter()
        .enumerate()
        .filter(|(k, _)| header.get(*k).is_some_and(|h| h.trim().trim_matches('"').is_empty()))
        .map(|(k, name)| (name.to_string(), unnamed(k)))
        .collect();
    for (from, to) in renames {
        frame.rename(&from, to.into()).map_err(EngineError::polars("naming an unnamed column"))?;
    }
    if lossy {
        // Routing quarantines the rows whose read columns hold bytes that were not text.
        let marker = StringChunked::full_null(LOSSY_COLUMN.into(), frame.height());
        frame
            .with_column(marker.into_column())
            .map_err(EngineError::polars("marking a file read with bytes replaced"))?;
    }
    if !ragged.is_empty() {
        // Routing quarantines the rows with a number of fields other than the header's.
        let mut fields: Vec<Option<u32>> = vec![None; frame.height()];
        for (row, n) in ragged {
            if let Some(f) = fields.get_mut(row as usize) {
                *f = Some(n);
            }
        }
        let marker = UInt32Chunked::from_iter_options(RAGGED_COLUMN.into(), fields.into_iter());
        frame.with_column(marker.into_column()).map_err(EngineError::polars("marking rows with other field counts"))?;
    }
    Ok(frame)
}

/// A file of source `spec` the parser could not read as `format`: the first line of its
/// error, without the file's content.
pub fn unreadable(spec: &SourceSpec, path: &std::path::Path, format: &str, e: &PolarsError) -> EngineError {
    EngineError::Unreadable {
        input: format!("sources.{}", spec.name),
        path: path.to_path_buf(),
        format: format.into(),
        reason: super::super::read::without_content(e.to_string().lines().next().unwrap_or_default()),
    }
}

/// In a file with rows whose number of fields is not the header's: that number on those rows.
pub const RAGGED_COLUMN: &str = "__ardent.fields";

/// Present (all null) in a file read with bytes that were not text replaced by U+FFFD.
pub const LOSSY_COLUMN: &str = "__ardent.lossy";

/// Bytes searched for the header when `skip_rows` is not set.
const HEAD_BYTES: usize = 256 * 1024;

/// The name of a column whose header cell is empty: `column_<n>`, n from 1.
pub fn unnamed(k: usize) -> String {
    format!("column_{}", k + 1)
}

/// The records of a JSON document as a frame of text columns (in the order keys are first
/// met): a top-level array, or the array an API wraps it in (`{"value": [...]}` in OData v4,
/// `{"d": {"results": [...]}}` in OData v2, or an object with one array). Numbers keep the
/// text they were written with (no float in between), nested values are written as JSON.
fn json_records(spec: &SourceSpec, file: &SourceFile, doc: &RawValue) -> Result<DataFrame> {
    let unreadable = |reason: &str| EngineError::Unreadable {
        input: format!("sources.{}", spec.name),
        path: file.path.clone(),
        format: "json".into(),
        reason: reason.to_string(),
    };
    let records = records_of(doc).ok_or_else(|| {
        unreadable(
            "a JSON value without one array of records (expected [..], {\"value\": [..]} or {\"d\": {\"results\": [..]}})",
        )
    })?;
    let mut names: Vec<String> = Vec::new();
    let mut index: foldhash::HashMap<String, usize> = Default::default();
    let mut columns: Vec<Vec<Option<String>>> = Vec::new();
    for (row, record) in records.into_iter().enumerate() {
        let fields: BTreeMap<String, &RawValue> = serde_json::from_str(record.get())
            .map_err(|_| unreadable(&format!("record {} is not a JSON object", row + 1)))?;
        for (key, value) in fields {
            let k = *index.entry(key.clone()).or_insert_with(|| {
                names.push(key);
                columns.push(vec![None; row]);
                columns.len() - 1
            });
            let raw = value.get().trim();
            let text = match raw.as_bytes().first() {
                _ if raw == "null" => None,
                Some(b'"') => Some(serde_json::from_str::<String>(raw).map_err(|e| unreadable(&e.to_string()))?),
                // Numbers, true/false, nested objects and arrays: as written.
                _ => Some(raw.to_string()),
            };
            columns[k].resize(row, None);
            columns[k].push(text);
        }
        for c in &mut columns {
            c.resize(row + 1, None);
        }
    }
    let height = columns.first().map_or(0, Vec::len);
    let columns: Vec<Column> = names
        .iter()
        .zip(columns)
        .map(|(n, v)| StringChunked::from_iter_options(n.as_str().into(), v.into_iter()).into_column())
        .collect();
    DataFrame::new(height, columns).map_err(EngineError::polars("building a frame of JSON records"))
}

/// The records of a JSON document: a top-level array, `value`, `d` (an array, or an object
/// with `results`), or an object's one array.
fn records_of(doc: &RawValue) -> Option<Vec<&RawValue>> {
    fn array(v: &RawValue) -> Option<Vec<&RawValue>> {
        serde_json::from_str(v.get()).ok()
    }
    if let Some(records) = array(doc) {
        return Some(records);
    }
    let object: BTreeMap<String, &RawValue> = serde_json::from_str(doc.get()).ok()?;
    if let Some(records) = object.get("value").and_then(|v| array(v)) {
        return Some(records);
    }
    if let Some(d) = object.get("d") {
        if let Some(records) = array(d) {
            return Some(records);
        }
        let d: BTreeMap<String, &RawValue> = serde_json::from_str(d.get()).ok()?;
        return d.get("results").and_then(|v| array(v));
    }
    let mut arrays = object.values().filter_map(|v| array(v));
    let one = arrays.next()?;
    arrays.next().is_none().then_some(one)
}

/// The export column names a source's config names (those a header must hold).
pub fn named_columns(spec: &SourceSpec) -> Vec<String> {
    let mut names: Vec<String> = spec.columns.values().cloned().collect();
    names.extend(spec.key.iter().cloned());
    names.extend(spec.type_column.iter().cloned());
    names.extend(spec.clearing_column.iter().cloned());
    names.extend(spec.debit_column.iter().cloned());
    names.extend(spec.credit_column.iter().cloned());
    names.extend(spec.indicator.iter().map(|i| i.column.clone()));
    names.extend(spec.group_header.iter().cloned());
    if spec.group_header.is_some() {
        // The customer comes from the group headers.
        let customer = spec.column("customer_id").to_string();
        if !spec.maps("customer_id") {
            names.retain(|n| *n != customer);
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The number of title lines above a CSV file's header: `skip_rows`, else as found
/// (`find_header`), else none.
pub fn title_lines(spec: &SourceSpec, file: &SourceFile) -> Result<usize> {
    match spec.skip_rows {
        Some(n) => Ok(n),
        None => Ok(find_header(spec, file)?.unwrap_or(0)),
    }
}

/// The number of lines above the header: the first of the first 100 lines whose fields hold
/// every column the config names. `None` when no line does (the read then reports which
/// columns are missing).
fn find_header(spec: &SourceSpec, file: &SourceFile) -> Result<Option<usize>> {
    let wanted = named_columns(spec);
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut head = Vec::new();
    std::fs::File::open(&file.path)
        .map_err(EngineError::io("opening", &file.path))?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(EngineError::io("reading", &file.path))?;
    let text = super::super::encoding::decode_sample(&head, spec.read.encoding);
    let delimiter = spec.read.delimiter as char;
    for (n, line) in text.lines().take(HEADER_SEARCH_LINES).enumerate() {
        let fields: Vec<String> = split_fields(line, delimiter)
            .into_iter()
            .enumerate()
            .map(|(k, f)| if f.is_empty() { unnamed(k) } else { f })
            .collect();
        if wanted.iter().all(|w| fields.iter().any(|f| f == w)) {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// The fields of one CSV line (double quotes group, `""` is a quote), trimmed.
pub fn split_fields(line: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field).trim().to_string()),
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// Why a row of a source was deliberately not ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    /// A subtotal or total line (`drop_rows`).
    TotalRow,
    /// A line with nothing to ingest: empty, or only a group header's filled-down value.
    BlankRow,
    /// Its type routes to `ignore`.
    Type,
    /// A further line of a document whose first line carries it (`combine_lines`).
    CombinedLine,
}

impl Ignored {
    /// Stable name, as written to `data_quality`.
    pub fn name(self) -> &'static str {
        match self {
            Ignored::TotalRow => "ignored_total_row",
            Ignored::BlankRow => "ignored_blank_row",
            Ignored::Type => "ignored_type",
            Ignored::CombinedLine => "ignored_combined_line",
        }
    }
}

/// Rows matching a `drop_rows` pattern.
pub fn total_rows(spec: &SourceSpec, frame: &DataFrame, path: &std::path::Path) -> Result<Vec<bool>> {
    let mut drop = vec![false; frame.height()];
    for (column, pattern) in &spec.drop_rows {
        let values = text(frame, column).ok_or_else(|| missing(spec, path, column, frame, "drop_rows"))?;
        // Report columns repeat a value down many lines: match each run once.
        let mut last: Option<(&str, bool)> = None;
        for (d, v) in drop.iter_mut().zip(values.iter()) {
            let Some(v) = v else { continue };
            let matched = match last {
                Some((l, m)) if l == v => m,
                _ => pattern.is_match(v.trim()),
            };
            last = Some((v, matched));
            *d |= matched;
        }
    }
    Ok(drop)
}

/// A column as text (`None` when the frame has no such column).
pub fn text(frame: &DataFrame, name: &str) -> Option<StringChunked> {
    let column = frame.column(name).ok()?;
    let as_text = column.cast(&DataType::String).ok()?;
    as_text.str().ok().cloned()
}

/// A structural error of source `spec` in column `column` of file `path`: `message` says what
/// the column holds and which setting to change.
pub fn column_error(spec: &SourceSpec, path: &std::path::Path, column: &str, message: String) -> EngineError {
    EngineError::ColumnFormat {
        input: format!("sources.{}", spec.name),
        path: path.to_path_buf(),
        column: format!("`{column}`"),
        message,
    }
}

/// The structural error of a configured column that the file does not have; `field` is the
/// setting that names it.
pub fn missing(spec: &SourceSpec, path: &std::path::Path, column: &str, frame: &DataFrame, field: &str) -> EngineError {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .filter(|n| !n.starts_with(super::super::columns::DERIVED_PREFIX))
        .map(|n| n.to_string())
        .collect();
    let hint = match super::super::read::delimiter_hint(&names, spec.read.delimiter, &spec.read.key) {
        Some(hint) => format!("; {hint}"),
        None => String::new(),
    };
    column_error(
        spec,
        path,
        column,
        format!(
            "the file has no such column, which `sources.{}.{field}` names. Columns in the file: {}{hint}. Rename the column in the export or change the setting",
            spec.name,
            super::super::read::column_list(&names)
        ),
    )
}

/// Group header lines: rows whose only value is in `column` (total lines aside). Returns,
/// per row, whether it is a header, and the value of the header above it (its group).
pub fn group_headers(frame: &DataFrame, column: &str, totals: &[bool]) -> Option<(Vec<bool>, Vec<Option<String>>)> {
    let n = frame.height();
    let mut filled = vec![0u32; n];
    for c in frame.columns().iter().filter(|c| !c.name().starts_with(super::super::columns::DERIVED_PREFIX)) {
        let Ok(t) = c.cast(&DataType::String) else { continue };
        let Ok(t) = t.str() else { continue };
        for (f, v) in filled.iter_mut().zip(t.iter()) {
            *f += u32::from(v.is_some_and(|v| !v.trim().is_empty()));
        }
    }
    let values = text(frame, column)?;
    let mut header = vec![false; n];
    let mut group = Vec::with_capacity(n);
    let mut current: Option<String> = None;
    for (i, v) in values.iter().enumerate() {
        let v = v.map(str::trim).filter(|v| !v.is_empty());
        if v.is_some() && filled[i] == 1 && !totals[i] {
            header[i] = true;
            current = v.map(str::to_string);
        }
        group.push(current.clone());
    }
    Some((header, group))
}

/// Fill empty values with the value above, skipping rows in `skip` (total lines).
pub fn fill_down(values: &mut [Option<String>], skip: &[bool]) {
    let mut last: Option<String> = None;
    for (v, &s) in values.iter_mut().zip(skip) {
        if s {
            continue;
        }
        match v {
            Some(x) if !x.trim().is_empty() => last = Some(x.clone()),
            _ => *v = last.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_the_delimiter_outside_quotes() {
        assert_eq!(split_fields("a;\"b;c\";\"d\"\"e\" ", ';'), ["a", "b;c", "d\"e"]);
        assert_eq!(split_fields("\u{feff}Type,Date", ','), ["Type", "Date"]);
        assert_eq!(split_fields("", ','), [""]);
    }

    #[test]
    fn fill_down_carries_the_last_value_past_blanks_not_past_totals() {
        let mut v = vec![Some("Acme".to_string()), None, Some(" ".into()), Some("Total Acme".into()), None];
        fill_down(&mut v, &[false, false, false, true, false]);
        assert_eq!(v[1].as_deref(), Some("Acme"));
        assert_eq!(v[2].as_deref(), Some("Acme"));
        assert_eq!(v[3].as_deref(), Some("Total Acme"), "a total row keeps its own value");
        assert_eq!(v[4].as_deref(), Some("Acme"), "and does not become the value filled down");
    }
}
