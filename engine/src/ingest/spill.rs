//! Where quarantined rows wait until the quarantine table is written, so that memory does
//! not grow with bad data: each input's entries come in table order a chunk at a time
//! ([`super::quarantine::QuarantineBuilder::end_chunk`]) and go to a temporary file beyond
//! [`IN_MEMORY`] entries; what the reports need (counts, an example per rule and column, the
//! most frequent values) is kept in a [`Summary`] as they pass. Entries decided after an
//! input's rows (flagged references, rows a later export replaced) are few and stay in
//! memory; the table merges them into place when it is written, a part at a time.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};

use polars::prelude::*;

use super::quarantine::{Entry, Outcome, Rule};
use crate::contracts::InputKind;
use crate::error::{EngineError, Result};

/// Entries an input keeps in memory before it writes them to its temporary file.
pub const IN_MEMORY: usize = 1 << 16;
/// Rows per part when the quarantine table is written.
pub const PART_ROWS: usize = 1 << 16;
/// Distinct values counted per (input, rule) for the reports (the first ones met).
const VALUES: usize = 1000;

/// Rows per (column, value).
pub type ValueCounts = BTreeMap<(&'static str, String), u64>;

/// What the reports need of the quarantine, kept as entries pass.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Rows per (input, rule, column).
    pub counts: BTreeMap<(InputKind, Rule, &'static str), u64>,
    /// The first entry met per (input, rule, column).
    pub examples: BTreeMap<(InputKind, Rule, &'static str), Entry>,
    /// Rows per value per (input, rule): (column, value) → rows, for the first 1,000 distinct
    /// values met.
    pub values: BTreeMap<(InputKind, Rule), ValueCounts>,
    /// Rows failing `non_positive_amount` with a negative amount, per input.
    pub negatives: BTreeMap<InputKind, u64>,
}

impl Summary {
    /// Count one entry.
    pub fn add(&mut self, e: &Entry) {
        let key = (e.input, e.rule, e.column);
        *self.counts.entry(key).or_default() += 1;
        self.examples.entry(key).or_insert_with(|| e.clone());
        let values = self.values.entry((e.input, e.rule)).or_default();
        let value = (e.column, e.value.clone().unwrap_or_else(|| "(empty)".into()));
        let room = values.len() < VALUES;
        match values.get_mut(&value) {
            Some(n) => *n += 1,
            None if room => {
                values.insert(value, 1);
            }
            None => {}
        }
        if e.rule == Rule::NonPositiveAmount && e.value.as_deref().is_some_and(|v| v.trim_start().starts_with('-')) {
            *self.negatives.entry(e.input).or_default() += 1;
        }
    }

    /// Take in another summary met after this one.
    pub fn merge(&mut self, other: Summary) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, e) in other.examples {
            self.examples.entry(k).or_insert(e);
        }
        for (k, vs) in other.values {
            let values = self.values.entry(k).or_default();
            for (v, n) in vs {
                let room = values.len() < VALUES;
                match values.get_mut(&v) {
                    Some(m) => *m += n,
                    None if room => {
                        values.insert(v, n);
                    }
                    None => {}
                }
            }
        }
        for (k, n) in other.negatives {
            *self.negatives.entry(k).or_default() += n;
        }
    }

    /// Rows of `input` with outcome `outcome`.
    pub fn rows(&self, input: InputKind, outcome: Outcome) -> u64 {
        self.counts.iter().filter(|((i, r, _), _)| *i == input && r.outcome() == outcome).map(|(_, n)| n).sum()
    }
}

/// Entries written to a temporary file, in the order given.
#[derive(Debug)]
pub struct SpillFile {
    writer: BufWriter<std::fs::File>,
    pub entries: u64,
}

impl SpillFile {
    /// A new, empty spill file in the temporary folder (deleted when dropped, or when the
    /// process ends however it ends).
    pub fn new() -> Result<SpillFile> {
        let file = tempfile::tempfile().map_err(EngineError::temp(
            "creating a file for quarantined rows",
            "about 300 bytes per quarantined row",
        ))?;
        Ok(SpillFile { writer: BufWriter::with_capacity(1 << 20, file), entries: 0 })
    }

    /// Append entries.
    pub fn write(&mut self, entries: &[Entry]) -> Result<()> {
        let io = EngineError::temp("writing quarantined rows", "about 300 bytes per quarantined row");
        for e in entries {
            let w = &mut self.writer;
            w.write_all(&[e.input as u8, rule_index(e.rule)]).map_err(io)?;
            w.write_all(&e.row.to_le_bytes()).map_err(io)?;
            for text in [Some(e.file.as_str()), Some(e.column), e.value.as_deref(), Some(&e.message), Some(&e.raw)] {
                write_text(w, text).map_err(io)?;
            }
            self.entries += 1;
        }
        Ok(())
    }

    /// Read the entries back, in order.
    pub fn reader(mut self) -> Result<SpillReader> {
        let io = EngineError::temp("reading quarantined rows back", "about 300 bytes per quarantined row");
        self.writer.flush().map_err(io)?;
        let mut file = self.writer.into_inner().map_err(|e| io(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(io)?;
        Ok(SpillReader { reader: BufReader::with_capacity(1 << 20, file), left: self.entries })
    }
}

fn write_text(w: &mut impl Write, text: Option<&str>) -> std::io::Result<()> {
    match text {
        None => w.write_all(&u32::MAX.to_le_bytes()),
        Some(t) => {
            w.write_all(&(t.len() as u32).to_le_bytes())?;
            w.write_all(t.as_bytes())
        }
    }
}

fn rule_index(rule: Rule) -> u8 {
    Rule::ALL.iter().position(|r| *r == rule).unwrap_or_default() as u8
}

/// One quarantine row read back: everything the table holds, owned.
#[derive(Debug, Clone)]
pub struct Row {
    pub input: InputKind,
    pub rule: Rule,
    pub row: u64,
    pub file: String,
    pub column: String,
    pub value: Option<String>,
    pub message: String,
    pub raw: String,
}

impl From<&Entry> for Row {
    fn from(e: &Entry) -> Row {
        Row {
            input: e.input,
            rule: e.rule,
            row: e.row,
            file: e.file.clone(),
            column: e.column.to_string(),
            value: e.value.clone(),
            message: e.message.clone(),
            raw: e.raw.clone(),
        }
    }
}

/// Reads a spill file's entries back.
#[derive(Debug)]
pub struct SpillReader {
    reader: BufReader<std::fs::File>,
    left: u64,
}

impl SpillReader {
    fn next_row(&mut self) -> std::io::Result<Option<Row>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let r = &mut self.reader;
        let mut head = [0u8; 10];
        r.read_exact(&mut head)?;
        let input = InputKind::ALL.get(head[0] as usize).copied().unwrap_or(InputKind::Ledger);
        let rule = Rule::ALL.get(head[1] as usize).copied().unwrap_or(Rule::MissingValue);
        let row = u64::from_le_bytes(head[2..10].try_into().unwrap_or_default());
        let mut text = || -> std::io::Result<Option<String>> {
            let mut len = [0u8; 4];
            r.read_exact(&mut len)?;
            let len = u32::from_le_bytes(len);
            if len == u32::MAX {
                return Ok(None);
            }
            let mut bytes = vec![0u8; len as usize];
            r.read_exact(&mut bytes)?;
            Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
        };
        let file = text()?.unwrap_or_default();
        let column = text()?.unwrap_or_default();
        let value = text()?;
        let message = text()?.unwrap_or_default();
        let raw = text()?.unwrap_or_default();
        Ok(Some(Row { input, rule, row, file, column, value, message, raw }))
    }
}

/// One input's quarantine: its entries in table order (from the spill file, then those still
/// in memory) and the entries decided after its rows, merged into place when read.
#[derive(Debug)]
pub struct InputQuarantine {
    pub spill: Option<SpillFile>,
    pub ordered: Vec<Entry>,
    pub late: Vec<Entry>,
    /// The input's file names in the order read: the table's order of files.
    pub files: Vec<String>,
}

/// The whole quarantine, in table order (inputs in validation order; within one, files in
/// the order read, then rows, then rules).
#[derive(Debug, Default)]
pub struct Quarantine {
    pub inputs: Vec<InputQuarantine>,
    pub summary: Summary,
    rows: u64,
}

impl Quarantine {
    /// The quarantine of `inputs` (in validation order) with their summary.
    pub fn new(inputs: Vec<InputQuarantine>, summary: Summary) -> Quarantine {
        let rows = inputs
            .iter()
            .map(|i| i.spill.as_ref().map_or(0, |s| s.entries) + (i.ordered.len() + i.late.len()) as u64)
            .sum();
        Quarantine { inputs, summary, rows }
    }

    /// Rows in the table.
    pub fn height(&self) -> usize {
        self.rows as usize
    }

    /// Hand the table to `each` a part of at most [`PART_ROWS`] rows at a time, in order
    /// (once: the spill files are read). An empty quarantine gives one empty part.
    pub fn write_parts(&mut self, mut each: impl FnMut(DataFrame) -> Result<()>) -> Result<()> {
        let mut part: Vec<Row> = Vec::with_capacity(PART_ROWS.min(self.rows as usize));
        let mut sent = false;
        for input in std::mem::take(&mut self.inputs) {
            let InputQuarantine { spill, ordered, mut late, files } = input;
            let position = |file: &str| files.iter().position(|f| f == file).unwrap_or(usize::MAX);
            let key = |file: &str, row: u64, rule: Rule| (position(file), row, rule_index(rule));
            late.sort_by_key(|e| key(&e.file, e.row, e.rule));
            let mut late = late.iter().peekable();
            let mut reader = spill.map(SpillFile::reader).transpose()?;
            let mut memory = ordered.iter();
            loop {
                let next = match &mut reader {
                    Some(r) => match r.next_row().map_err(EngineError::temp(
                        "reading quarantined rows back",
                        "about 300 bytes per quarantined row",
                    ))? {
                        Some(row) => Some(row),
                        None => {
                            reader = None;
                            continue;
                        }
                    },
                    None => memory.next().map(Row::from),
                };
                // Entries decided later go before the first ordered entry that sorts after them.
                while let Some(l) = late.peek() {
                    let before = match &next {
                        Some(n) => key(&l.file, l.row, l.rule) <= key(&n.file, n.row, n.rule),
                        None => true,
                    };
                    if !before {
                        break;
                    }
                    part.push(Row::from(*l));
                    late.next();
                    if part.len() == PART_ROWS {
                        each(frame(&part)?)?;
                        sent = true;
                        part.clear();
                    }
                }
                let Some(next) = next else { break };
                part.push(next);
                if part.len() == PART_ROWS {
                    each(frame(&part)?)?;
                    sent = true;
                    part.clear();
                }
            }
        }
        if !part.is_empty() || !sent {
            each(frame(&part)?)?;
        }
        Ok(())
    }

    /// The whole table at once, when none of it went to a temporary file (tests, small
    /// quarantines); `None` otherwise (write it with [`Quarantine::write_parts`]).
    pub fn frame(&self) -> Option<DataFrame> {
        if self.inputs.iter().any(|i| i.spill.is_some()) {
            return None;
        }
        let copy = Quarantine {
            inputs: self
                .inputs
                .iter()
                .map(|i| InputQuarantine {
                    spill: None,
                    ordered: i.ordered.clone(),
                    late: i.late.clone(),
                    files: i.files.clone(),
                })
                .collect(),
            summary: Summary::default(),
            rows: self.rows,
        };
        copy.into_frame().ok()
    }

    /// The whole table at once (for tests and small quarantines; reads the spill files).
    pub fn into_frame(mut self) -> Result<DataFrame> {
        let mut parts: Vec<DataFrame> = Vec::new();
        self.write_parts(|df| {
            parts.push(df);
            Ok(())
        })?;
        let mut all = parts.remove(0);
        for p in parts {
            all.vstack_mut_owned(p).map_err(EngineError::polars("combining quarantine parts"))?;
        }
        Ok(all)
    }
}

/// The `quarantine` table of rows.
fn frame(rows: &[Row]) -> Result<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&Row) -> &str| -> Column {
        StringChunked::from_iter_values(name.into(), rows.iter().map(f)).into_column()
    };
    let columns = vec![
        text("input", &|x| x.input.name()),
        text("source_file", &|x| &x.file),
        UInt64Chunked::from_vec("source_row".into(), rows.iter().map(|x| x.row).collect()).into_column(),
        text("column", &|x| &x.column),
        StringChunked::from_iter_options("value".into(), rows.iter().map(|x| x.value.as_deref())).into_column(),
        text("rule", &|x| x.rule.name()),
        text("outcome", &|x| x.rule.outcome().name()),
        text("message", &|x| &x.message),
        text("raw", &|x| &x.raw),
    ];
    DataFrame::new(rows.len(), columns).map_err(EngineError::polars("building the quarantine table"))
}
