//! Is this CSV file well formed? Its header's names, how many records it holds, which records
//! have more or fewer fields than the header, and whether it is UTF-8: one pass over the bytes,
//! 4 MiB at a time (a block without quotes counted in parallel pieces), before the parser
//! reads it.
//!
//! The parser (polars) fails a whole file on one over-long row without naming it, and reads a
//! short row with its missing fields empty; this pass finds such rows so that each is
//! quarantined under `wrong_field_count` with its row number, or, when most rows are wrong,
//! the file is refused once. Records are counted as the parser counts them: a quoted field may
//! span lines (`""` inside quotes is a quote), a blank line is a record of its own (with no
//! field: its values are empty), a UTF-8 byte order mark is not part of the first name.

use std::io::Read;

/// What one pass over a CSV file found.
#[derive(Debug, Clone, Default)]
pub struct Structure {
    /// The header's names, unquoted and trimmed.
    pub header: Vec<String>,
    /// Data records under the header (blank lines included).
    pub records: u64,
    /// (0-based data record, its number of fields) of every record whose number of fields is
    /// not the header's (blank lines aside).
    pub ragged: Vec<(u64, u32)>,
    /// Whether every byte is UTF-8.
    pub utf8: bool,
}

impl Structure {
    /// Names that appear more than once in the header, with their 1-based positions.
    pub fn duplicates(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, name) in self.header.iter().enumerate() {
            if name.is_empty() || self.header[..i].contains(name) {
                continue;
            }
            let at: Vec<usize> =
                self.header.iter().enumerate().filter(|(_, n)| *n == name).map(|(k, _)| k + 1).collect();
            if at.len() > 1 {
                out.push((name.clone(), at));
            }
        }
        out
    }
}

/// Scan the CSV text read from `reader`, after skipping `skip_lines` lines (title lines of a
/// report), with fields split by `delimiter` and quoted with `"`.
pub fn scan(reader: impl Read, delimiter: u8, skip_lines: usize) -> std::io::Result<Structure> {
    scan_records(reader, delimiter, skip_lines, false).map(|(s, _)| s)
}

/// [`scan`], and where each data record starts: its byte offset in the file (a record's
/// bytes run to the next one's start), when `starts` is asked for.
pub fn scan_records(
    reader: impl Read,
    delimiter: u8,
    skip_lines: usize,
    starts: bool,
) -> std::io::Result<(Structure, Vec<u64>)> {
    scan_records_with(reader, delimiter, skip_lines, starts, |_| {})
}

/// What a scan has found so far, told after each piece of the file it reads.
#[derive(Debug)]
pub struct Found<'a> {
    /// The header's names (empty until the header is read).
    pub header: &'a [String],
    /// Where each data record found so far starts (when asked for).
    pub starts: &'a [u64],
    /// (record, fields) of the records found so far whose number of fields is not the header's.
    pub ragged: &'a [(u64, u32)],
}

/// [`scan_records`], telling `found` what it has found after each piece it reads (so that
/// the records found can be used while the rest of the file is scanned).
pub fn scan_records_with(
    mut reader: impl Read,
    delimiter: u8,
    skip_lines: usize,
    starts: bool,
    mut found: impl FnMut(Found<'_>),
) -> std::io::Result<(Structure, Vec<u64>)> {
    let mut s = Scanner { delimiter, skip: skip_lines, starts: starts.then(Vec::new), ..Default::default() };
    // The file offset of `buf[0]`.
    let mut base = 0u64;
    let mut buf = vec![0u8; 4 << 20];
    // Bytes of an incomplete last line, carried to the next block.
    let mut carried = 0usize;
    let mut first = true;
    loop {
        if carried == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = reader.read(&mut buf[carried..])?;
        let filled = carried + n;
        let mut start = 0;
        if first && buf[..filled].starts_with(b"\xEF\xBB\xBF") {
            start = 3;
        }
        first = false;
        if n == 0 {
            if filled > start {
                s.utf8 &= std::str::from_utf8(&buf[start..filled]).is_ok();
                s.line(&buf[start..filled], base + start as u64);
            }
            break;
        }
        // Complete lines only: a line (and so a UTF-8 character) never straddles two blocks.
        let Some(last) = memchr::memrchr(b'\n', &buf[start..filled]) else {
            carried = filled;
            continue;
        };
        let end = start + last + 1;
        let block = &buf[start..end];
        if s.seen_header && s.skip == 0 && !s.in_quotes && memchr::memchr(b'"', block).is_none() {
            // No quote in the block: every line is a record. Its pieces (split at line ends)
            // are counted in parallel, eight bytes at a time, and merged in order.
            let expected = s.header.len() as u32;
            let delimiter = s.delimiter;
            let pieces = split_at_lines(block, PIECES);
            use rayon::prelude::*;
            let want = s.starts.is_some();
            let counted: Vec<Counted> = pieces
                .par_iter()
                .map(|p| {
                    let (records, ragged, starts) = plain_lines(p, delimiter, expected, want);
                    (std::str::from_utf8(p).is_ok(), records, ragged, starts)
                })
                .collect();
            for (p, (utf8, records, ragged, starts)) in pieces.iter().zip(counted) {
                s.utf8 &= utf8;
                s.ragged.extend(ragged.into_iter().map(|(r, n)| (s.records + r, n)));
                s.records += records;
                if let Some(all) = &mut s.starts {
                    let at = base + (p.as_ptr() as usize - buf.as_ptr() as usize) as u64;
                    all.extend(starts.into_iter().map(|o| at + u64::from(o)));
                }
            }
        } else {
            s.utf8 &= std::str::from_utf8(block).is_ok();
            let mut at = base + start as u64;
            for line in block[..block.len() - 1].split(|&b| b == b'\n') {
                s.line(line, at);
                at += line.len() as u64 + 1;
            }
        }
        buf.copy_within(end..filled, 0);
        carried = filled - end;
        base += end as u64;
        found(Found { header: &s.header, starts: s.starts.as_deref().unwrap_or_default(), ragged: &s.ragged });
    }
    s.finish();
    let starts = s.starts.take().unwrap_or_default();
    Ok((Structure { header: s.header, records: s.records, ragged: s.ragged, utf8: s.utf8 }, starts))
}

#[derive(Debug)]
struct Scanner {
    delimiter: u8,
    skip: usize,
    header: Vec<String>,
    /// The header's bytes while it is read (it may span lines).
    header_bytes: Option<Vec<u8>>,
    seen_header: bool,
    records: u64,
    ragged: Vec<(u64, u32)>,
    utf8: bool,
    /// Inside a quoted field that continues on the next line.
    in_quotes: bool,
    /// Fields of the record being read.
    fields: u32,
    /// The file offset of every data record's first byte, when asked for.
    starts: Option<Vec<u64>>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            delimiter: b',',
            skip: 0,
            header: Vec::new(),
            header_bytes: None,
            seen_header: false,
            records: 0,
            ragged: Vec::new(),
            utf8: true,
            in_quotes: false,
            fields: 0,
            starts: None,
        }
    }
}

impl Scanner {
    /// One line (without its line end) that starts at file offset `at`.
    fn line(&mut self, line: &[u8], at: u64) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        if self.seen_header
            && !self.in_quotes
            && let Some(starts) = &mut self.starts
        {
            starts.push(at);
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !self.seen_header {
            let bytes = self.header_bytes.get_or_insert_with(Vec::new);
            if !bytes.is_empty() {
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(line);
        }
        if !self.in_quotes && memchr::memchr(b'"', line).is_none() {
            // The common line: a whole record without quotes, every delimiter splits.
            self.fields = line.iter().filter(|&&b| b == self.delimiter).count() as u32 + 1;
            self.end_record(line.is_empty());
            return;
        }
        // A record starts here, or continues a quoted field from the line before.
        if !self.in_quotes {
            self.fields = 1;
        }
        for &b in line {
            if b == b'"' {
                self.in_quotes = !self.in_quotes;
            } else if b == self.delimiter && !self.in_quotes {
                self.fields += 1;
            }
        }
        if !self.in_quotes {
            self.end_record(false);
        }
    }

    fn end_record(&mut self, blank: bool) {
        if !self.seen_header {
            self.seen_header = true;
            let text = String::from_utf8_lossy(self.header_bytes.as_deref().unwrap_or_default()).into_owned();
            self.header = if text.is_empty() { Vec::new() } else { split_header(&text, self.delimiter) };
        } else {
            if !blank && self.fields as usize != self.header.len() {
                self.ragged.push((self.records, self.fields));
            }
            self.records += 1;
        }
        self.fields = 0;
    }

    fn finish(&mut self) {
        if self.in_quotes {
            // A quote never closed: the rest of the file is one record.
            self.in_quotes = false;
            self.end_record(false);
        }
    }
}

/// A piece's count: whether it is UTF-8, its records, (record, fields) of those whose
/// number of fields is not the header's, and where its records start (when asked for).
type Counted = (bool, u64, Vec<(u64, u32)>, Vec<u32>);

/// Pieces a quote-free block is counted in, in parallel (a fixed number: the result does not
/// depend on it, the pieces only spread the work).
const PIECES: usize = 8;

/// `block` (whole lines) cut into about `n` pieces of whole lines.
fn split_at_lines(block: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = (block.len() * k / n).max(start);
        let Some(at) = memchr::memchr(b'\n', &block[target..]) else { break };
        let end = target + at + 1;
        if end > start {
            pieces.push(&block[start..end]);
            start = end;
        }
    }
    if start < block.len() {
        pieces.push(&block[start..]);
    }
    pieces
}

/// The records of whole lines without any quote (`block` ends with a line end), those
/// whose number of fields is not `expected`: (record in the block, its fields), and, when
/// `starts`, each record's offset in the block. The delimiters and line ends of each 8-byte
/// word are found as bit masks; a line's fields are the delimiters before its end plus one.
fn plain_lines(block: &[u8], delimiter: u8, expected: u32, starts: bool) -> (u64, Vec<(u64, u32)>, Vec<u32>) {
    let (mut records, mut ragged) = (0u64, Vec::new());
    let mut at = Vec::new();
    let (mut delimiters, mut line_start) = (0u32, 0usize);
    let mut check = |end: usize, delimiters: u32, line_start: usize| {
        if starts {
            at.push(line_start as u32);
        }
        let len = end - line_start;
        // A blank line (or only a carriage return) is a record without fields.
        let blank = len == 0 || (len == 1 && block[line_start] == b'\r');
        if !blank && delimiters + 1 != expected {
            ragged.push((records, delimiters + 1));
        }
        records += 1;
    };
    let words = block.chunks_exact(8);
    let tail = words.remainder();
    for (k, word) in words.enumerate() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let mut ends = equal_bytes(w, b'\n');
        let mut delims = equal_bytes(w, delimiter);
        while ends != 0 {
            let bit = ends.trailing_zeros();
            let before = (1u64 << bit) - 1;
            delimiters += (delims & before).count_ones();
            delims &= !before;
            let end = k * 8 + bit as usize / 8;
            check(end, delimiters, line_start);
            delimiters = 0;
            line_start = end + 1;
            ends &= ends - 1;
        }
        delimiters += delims.count_ones();
    }
    let offset = block.len() - tail.len();
    for (j, &b) in tail.iter().enumerate() {
        if b == delimiter {
            delimiters += 1;
        } else if b == b'\n' {
            check(offset + j, delimiters, line_start);
            delimiters = 0;
            line_start = offset + j + 1;
        }
    }
    (records, ragged, at)
}

/// The high bit of every byte of `w` equal to `c` (and of no other byte).
fn equal_bytes(w: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (u64::from(c) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The names of a header line (quotes removed, `""` a quote, trimmed).
fn split_header(line: &str, delimiter: u8) -> Vec<String> {
    super::source::report::split_fields(line, delimiter as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(text: &[u8]) -> Structure {
        scan(text, b',', 0).expect("scans")
    }

    #[test]
    fn rows_with_other_field_counts_are_found_quoted_fields_and_blank_lines_aside() {
        let s = scanned(b"\xEF\xBB\xBFa,b,c\r\n1,2,3\r\n1,2\n1,\"x,\ny\",3\n\n1,2,3,4\n\"q\"\"\",2,3");
        assert_eq!(s.header, ["a", "b", "c"]);
        assert_eq!(s.records, 6, "blank lines are records, as the parser reads them");
        assert_eq!(s.ragged, [(1, 2), (4, 4)]);
        assert!(s.utf8);
    }

    /// Each record's offset is its first byte, whether its block has quotes (counted line by
    /// line) or not (counted eight bytes at a time), under title lines and a byte order mark.
    #[test]
    fn record_starts_point_at_each_record() {
        let text = b"\xEF\xBB\xBFtitle\n\na,b\r\n1,2\r\n\"x\ny\",3\n\n4,5\n6,7";
        let (s, starts) = scan_records(&text[..], b',', 2, true).expect("scans");
        assert_eq!(s.records, 5);
        let at: Vec<&[u8]> = starts.iter().map(|&o| &text[o as usize..(o as usize + 3).min(text.len())]).collect();
        assert_eq!(at, [&b"1,2"[..], b"\"x\n", b"\n4,", b"4,5", b"6,7"]);
        let mut plain = b"id;v\n".to_vec();
        for i in 0..300_000 {
            plain.extend_from_slice(format!("{i};x\n").as_bytes());
        }
        let (s, starts) = scan_records(&plain[..], b';', 0, true).expect("scans");
        assert_eq!((s.records, starts.len()), (300_000, 300_000));
        for (i, &o) in starts.iter().enumerate().step_by(9_999) {
            assert!(plain[o as usize..].starts_with(format!("{i};x\n").as_bytes()), "record {i}");
        }
    }

    #[test]
    fn blocks_split_anywhere_give_the_same_answer() {
        let mut text = b"id,name\n".to_vec();
        for i in 0..100_000 {
            text.extend_from_slice(format!("{i},\"n\u{e4}me {i}\nsecond line\"\n").as_bytes());
        }
        text.extend_from_slice(b"x,y,z\n");
        let s = scanned(&text);
        assert_eq!((s.records, s.ragged.as_slice(), s.utf8), (100_001, &[(100_000, 3)][..], true));
        let mut latin1 = text.clone();
        latin1.extend_from_slice(b"M\xdcLLER,1\n");
        assert!(!scanned(&latin1).utf8);
    }

    /// The eight-bytes-at-a-time path agrees with counting each line's delimiters, on lines of
    /// every length and field count, blank lines and carriage returns included.
    #[test]
    fn quote_free_blocks_count_fields_as_line_by_line() {
        let mut text = b"a;b;c\n".to_vec();
        let mut expected = Vec::new();
        let mut x = 12345u64;
        for record in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let fields = match x % 10 {
                0 => 2,
                1 => 4,
                2 => 0,
                _ => 3,
            };
            let mut line: Vec<String> = (0..fields).map(|f| "v".repeat(((x >> (8 + f)) % 11) as usize)).collect();
            if fields == 0 {
                line.clear();
            }
            text.extend_from_slice(line.join(";").as_bytes());
            if x.is_multiple_of(3) {
                text.push(b'\r');
            }
            text.push(b'\n');
            if fields != 0 && fields != 3 {
                expected.push((record, fields as u32));
            }
        }
        let s = scan(&text[..], b';', 0).expect("scans");
        assert_eq!(s.records, 200_000);
        assert_eq!(s.ragged, expected);
    }

    #[test]
    fn empty_and_header_only_files_and_duplicate_names() {
        let empty = scanned(b"");
        assert!(empty.header.is_empty() && empty.records == 0);
        let only = scanned(b"a,b,a\n");
        assert_eq!((only.header.len(), only.records), (3, 0));
        assert_eq!(only.duplicates(), [("a".to_string(), vec![1, 3])]);
    }
}
