//! What text the bytes of a CSV export hold: UTF-8 (the default), or the encoding its input
//! declares (`encoding = "windows-1252"`, `"latin-1"`, `"utf-16"` …), decoded to UTF-8 before
//! the CSV parser sees it. Bytes are never replaced silently:
//!
//! - a UTF-8 file with a few rows holding bytes that are not UTF-8 is read with those bytes
//!   marked (U+FFFD), and each such row is quarantined as `invalid_encoding` on the column
//!   that holds them ([`Text::Decoded`] with `lossy`);
//! - when most lines (or the header) are not UTF-8, the file is refused with one structural
//!   error that names the encoding the bytes look like;
//! - a declared encoding that cannot decode the bytes (UTF-16 with a broken surrogate pair) is
//!   a structural error too; windows-1252 and latin-1 map every byte to a character.
//!
//! Decoding is [`encoding_rs`]'s (WHATWG encodings), except latin-1: the WHATWG standard
//! reads the label `latin-1` as windows-1252, which gives bytes 0x80–0x9F the characters
//! `€‚ƒ„…` instead of ISO 8859-1's control characters; a file declared latin-1 is read as
//! ISO 8859-1 (each byte its own code point), which is what a latin-1 export means.

use std::path::Path;

use super::structure::{Structure, scan};
use crate::error::{EngineError, Result, config_key};

/// A text encoding an input may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf8,
    Windows1252,
    /// ISO 8859-1.
    Latin1,
    /// UTF-16 by its byte order mark; little-endian without one.
    Utf16,
    Utf16Le,
    Utf16Be,
}

impl Encoding {
    /// The encoding of a config label (case and `-`/`_` ignored).
    pub fn parse(label: &str) -> Option<Encoding> {
        let l: String = label.trim().to_ascii_lowercase().chars().filter(|c| *c != '-' && *c != '_').collect();
        Some(match l.as_str() {
            "utf8" => Encoding::Utf8,
            "windows1252" | "cp1252" | "ansi" => Encoding::Windows1252,
            "latin1" | "iso88591" | "l1" => Encoding::Latin1,
            "utf16" => Encoding::Utf16,
            "utf16le" => Encoding::Utf16Le,
            "utf16be" => Encoding::Utf16Be,
            _ => return None,
        })
    }

    /// Its config spelling.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Latin1 => "latin-1",
            Encoding::Utf16 => "utf-16",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
        }
    }

    /// The labels a config accepts, for messages.
    pub const LABELS: &'static str = "utf-8, windows-1252, latin-1, utf-16, utf-16le, utf-16be";
}

/// A CSV file's text, ready for the parser, and its structure ([`scan`]).
#[derive(Debug)]
pub enum Text {
    /// Valid UTF-8 as stored: the parser reads the file itself.
    AsStored(Structure),
    /// Decoded (or, for `lossy`, UTF-8 with the bytes that were not UTF-8 replaced by U+FFFD,
    /// whose rows the validation quarantines).
    Decoded { bytes: Vec<u8>, lossy: bool, structure: Structure },
}

impl Text {
    /// What the structure pass found.
    pub fn structure(&self) -> &Structure {
        match self {
            Text::AsStored(s) | Text::Decoded { structure: s, .. } => s,
        }
    }
}

/// Decode the CSV file at `path` for `input` (its config name, for messages), and scan its
/// structure (fields split by `delimiter`, under `skip_lines` title lines).
pub fn decode(path: &Path, encoding: Encoding, input: &str, delimiter: u8, skip_lines: usize) -> Result<Text> {
    let scanned = |bytes: &[u8]| scan(bytes, delimiter, skip_lines).map_err(EngineError::io("reading", path));
    // Most exports are valid UTF-8: one pass a block at a time checks the bytes and the
    // structure, the parser then reads the file itself, and no copy of it is made.
    let mut as_stored = None;
    if encoding == Encoding::Utf8 {
        let file = std::fs::File::open(path).map_err(EngineError::io("opening", path))?;
        let structure = scan(file, delimiter, skip_lines).map_err(EngineError::io("reading", path))?;
        if structure.utf8 {
            return Ok(Text::AsStored(structure));
        }
        as_stored = Some(structure);
    }
    let bytes = std::fs::read(path).map_err(EngineError::io("reading", path))?;
    let refuse = |message: String| EngineError::ColumnFormat {
        input: input.to_string(),
        path: path.to_path_buf(),
        column: "(text encoding)".into(),
        message,
    };
    let key = config_key(input);
    match encoding {
        Encoding::Utf8 => {
            let (bad_lines, lines, first_bad, header_bad) = invalid_lines(&bytes);
            if header_bad || bad_lines * 2 > lines {
                return Err(refuse(format!(
                    "{bad_lines} of {lines} lines hold bytes that are not UTF-8 (the first at line {first_bad}); the bytes look like {}: set `{key}.encoding = \"{}\"` (one of {})",
                    sniff(&bytes).name(),
                    sniff(&bytes).name(),
                    Encoding::LABELS
                )));
            }
            // U+FFFD replaces bytes of 0x80 and above only: no delimiter, quote or line end
            // changes, and the structure found is the file's.
            let structure = as_stored.unwrap_or_default();
            Ok(Text::Decoded {
                bytes: String::from_utf8_lossy(&bytes).into_owned().into_bytes(),
                lossy: true,
                structure,
            })
        }
        Encoding::Latin1 => {
            let bytes = bytes.iter().map(|&b| b as char).collect::<String>().into_bytes();
            let structure = scanned(&bytes)?;
            Ok(Text::Decoded { bytes, lossy: false, structure })
        }
        Encoding::Windows1252 => {
            let bytes = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes).0.into_owned().into_bytes();
            let structure = scanned(&bytes)?;
            Ok(Text::Decoded { bytes, lossy: false, structure })
        }
        Encoding::Utf16 | Encoding::Utf16Le | Encoding::Utf16Be => {
            let (body, big) = match (bytes.get(..2), encoding) {
                (Some([0xFF, 0xFE]), _) => (&bytes[2..], false),
                (Some([0xFE, 0xFF]), _) => (&bytes[2..], true),
                (_, Encoding::Utf16Be) => (&bytes[..], true),
                _ => (&bytes[..], false),
            };
            let decoder = if big { encoding_rs::UTF_16BE } else { encoding_rs::UTF_16LE };
            match decoder.decode_without_bom_handling_and_without_replacement(body) {
                Some(text) => {
                    let bytes = text.into_owned().into_bytes();
                    let structure = scanned(&bytes)?;
                    Ok(Text::Decoded { bytes, lossy: false, structure })
                }
                None => Err(refuse(format!(
                    "the bytes are not {} text (an odd length or a broken surrogate pair); the bytes look like {}: check `{key}.encoding`",
                    if big { "UTF-16BE" } else { "UTF-16LE" },
                    sniff(&bytes).name()
                ))),
            }
        }
    }
}

/// A sample of a file's bytes as text in `encoding` (lossy: for sniffing, never for data).
pub fn decode_sample(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
        Encoding::Utf16 | Encoding::Utf16Le => encoding_rs::UTF_16LE.decode(bytes).0.into_owned(),
        Encoding::Utf16Be => encoding_rs::UTF_16BE.decode(bytes).0.into_owned(),
    }
}

/// Lines holding bytes that are not UTF-8: (how many, of how many lines, the first one
/// (1-based), whether the first line is one of them).
fn invalid_lines(bytes: &[u8]) -> (usize, usize, usize, bool) {
    let lines = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count().max(1);
    let (mut bad, mut first, mut header_bad) = (0usize, 0usize, false);
    let mut last_line = usize::MAX;
    let mut at = 0usize;
    while at < bytes.len() {
        match std::str::from_utf8(&bytes[at..]) {
            Ok(_) => break,
            Err(e) => {
                let pos = at + e.valid_up_to();
                let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count();
                if line != last_line {
                    bad += 1;
                    last_line = line;
                    if first == 0 {
                        first = line + 1;
                    }
                    header_bad |= line == 0;
                }
                at = pos + e.error_len().unwrap_or(bytes.len() - pos).max(1);
            }
        }
    }
    (bad, lines, first, header_bad)
}

/// The encoding bytes that are not UTF-8 most likely are: UTF-16 by its byte order mark or
/// its zero bytes, else windows-1252 (what Excel writes as "CSV" on Western-language
/// Windows; a superset of latin-1's letters).
pub fn sniff(bytes: &[u8]) -> Encoding {
    match bytes.get(..2) {
        Some([0xFF, 0xFE]) => return Encoding::Utf16Le,
        Some([0xFE, 0xFF]) => return Encoding::Utf16Be,
        _ => {}
    }
    let head = &bytes[..bytes.len().min(4096)];
    let zeros_at = |parity: usize| head.iter().skip(parity).step_by(2).filter(|&&b| b == 0).count();
    let half = head.len() / 2;
    if half > 0 && zeros_at(1) * 3 > half {
        Encoding::Utf16Le
    } else if half > 0 && zeros_at(0) * 3 > half {
        Encoding::Utf16Be
    } else if std::str::from_utf8(bytes).is_ok() {
        Encoding::Utf8
    } else {
        Encoding::Windows1252
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8], encoding: Encoding) -> String {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("x.csv");
        std::fs::write(&path, bytes).expect("written");
        match decode(&path, encoding, "ledger", b',', 0).expect("decodes") {
            Text::AsStored(_) => String::from_utf8(bytes.to_vec()).expect("utf-8"),
            Text::Decoded { bytes, .. } => String::from_utf8(bytes).expect("utf-8"),
        }
    }

    #[test]
    fn each_declared_encoding_reads_its_own_bytes() {
        assert_eq!(decoded(b"M\xdcLLER-01", Encoding::Latin1), "MÜLLER-01");
        assert_eq!(decoded(b"M\xd6LLER \x80", Encoding::Windows1252), "MÖLLER €");
        assert_eq!(decoded(b"\x80", Encoding::Latin1), "\u{80}", "latin-1 is ISO 8859-1, not windows-1252");
        let utf16le: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("Ü,1".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decoded(&utf16le, Encoding::Utf16), "Ü,1");
        let utf16be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("Ö".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decoded(&utf16be, Encoding::Utf16), "Ö");
        assert_eq!(Encoding::parse("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::parse("Windows_1252"), Some(Encoding::Windows1252));
        assert_eq!(Encoding::parse("ebcdic"), None);
    }

    #[test]
    fn utf8_with_stray_bytes_is_marked_and_mostly_foreign_bytes_are_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("x.csv");
        std::fs::write(&path, b"id,name\n1,ok\n2,M\xdcLLER\n3,fine\n4,also\n").expect("written");
        match decode(&path, Encoding::Utf8, "ledger", b',', 0).expect("a few bad rows are quarantined, not refused") {
            Text::Decoded { bytes, lossy: true, .. } => {
                assert!(String::from_utf8(bytes).expect("utf-8").contains("M\u{fffd}LLER"))
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&path, b"id,name\n1,M\xdcLLER\n2,M\xd6LLER\n").expect("written");
        let err = decode(&path, Encoding::Utf8, "ledger", b',', 0).expect_err("refused").to_string();
        assert!(
            err.contains("2 of 3 lines") && err.contains("windows-1252") && err.contains("inputs.ledger.encoding"),
            "{err}"
        );
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("id,name\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        std::fs::write(&path, &utf16).expect("written");
        let err = decode(&path, Encoding::Utf8, "ledger", b',', 0).expect_err("refused").to_string();
        assert!(err.contains("utf-16le"), "{err}");
    }
}
