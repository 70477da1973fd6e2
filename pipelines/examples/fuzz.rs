//! Fuzzing on stable Rust (cargo-fuzz needs nightly): each target draws inputs from a
//! proptest strategy, runs the code under test, and checks what must hold whatever the input;
//! it runs for a time budget and reports executions and findings. A finding is shrunk by
//! proptest to a minimal input and printed; the process then exits 1.
//!
//! ```sh
//! cargo run --release -p ardent --example fuzz -- [SECONDS_PER_TARGET] [TARGET…]
//! ```
//!
//! Targets:
//! - `dates`: any text through each date format: no panic; a date read back writes itself
//!   the same way (round trip);
//! - `decimals`: any text through each number notation: no panic; an amount written from
//!   cents in a notation reads back as exactly those cents;
//! - `csv`: CSV files built from awkward tokens (quotes, delimiters, line ends, invalid UTF-8,
//!   stray fields, dates and amounts in odd notations) ingested as a ledger: no panic; either a
//!   structured error or every row accepted or quarantined (the counts add up), and the
//!   structure pass agrees with counting each line;
//! - `config`: a valid pipeline config with random edits: no panic; the config is accepted or
//!   refused with a config error (exit 2), never anything else.

use std::time::{Duration, Instant};

use ardent::settings::{Overrides, resolve};
use ardent_engine::ingest::parse::{DateParser, NumberFormat};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const DATE_FORMATS: [&str; 6] = ["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d", "%d %b %Y", "excel"];

fn dates() -> impl Strategy<Value = (usize, String)> {
    let text = prop_oneof![
        any::<String>(),
        "[0-9]{1,8}[-./ ]?[0-9]{0,4}[-./ ]?[0-9]{0,4}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "/Date\\(-?[0-9]{1,14}([+-][0-9]{4})?\\)/",
        "[0-9]{1,2} [A-Za-z]{3} [0-9]{4}",
    ];
    (0..DATE_FORMATS.len(), text)
}

fn date_case((f, text): (usize, String)) -> Result<(), TestCaseError> {
    let parser = DateParser::new(DATE_FORMATS[f]).map_err(TestCaseError::fail)?;
    if let Some(days) = parser.parse(&text)
        && DATE_FORMATS[f] != "excel"
    {
        let date = ardent_engine::calendar::from_epoch_days(days);
        let written = date.format(DATE_FORMATS[f]).to_string();
        prop_assert_eq!(
            parser.parse(&written),
            Some(days),
            "{:?} read as {} but {} does not read back",
            text,
            date,
            written
        );
    }
    Ok(())
}

fn decimals() -> impl Strategy<Value = (bool, String, i64)> {
    let text =
        prop_oneof![any::<String>(), "[-+(]?[$€]?[0-9]{0,3}([.,' ][0-9]{3}){0,4}([.,][0-9]{0,4})?[)-]?( [A-Z]{3})?",];
    (any::<bool>(), text, -999_999_999_999_999i64..999_999_999_999_999)
}

fn decimal_case((comma, text, cents): (bool, String, i64)) -> Result<(), TestCaseError> {
    let (decimal, thousands) = if comma { (b',', Some(b'.')) } else { (b'.', Some(b',')) };
    let format = NumberFormat { decimal, thousands };
    let _ = format.parse_scaled(&text, 2);
    // Cents written in the notation (grouped, negative with a leading minus) read back exactly.
    let units = cents.unsigned_abs() / 100;
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(thousands.unwrap_or(b',') as char);
        }
        grouped.push(c);
    }
    let written =
        format!("{}{grouped}{}{:02}", if cents < 0 { "-" } else { "" }, decimal as char, cents.unsigned_abs() % 100);
    prop_assert_eq!(format.parse_scaled(&written, 2).ok(), Some(i128::from(cents)), "{}", written);
    Ok(())
}

/// Awkward CSV tokens: a field is one of these, fields joined by the delimiter or by a token.
fn csv_files() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just(b"INV-1".to_vec()),
        Just(b"C1".to_vec()),
        Just(b"invoice".to_vec()),
        Just(b"credit_memo".to_vec()),
        Just(b"2025-01-31".to_vec()),
        Just(b"31.01.2025".to_vec()),
        Just(b"100.00".to_vec()),
        Just(b"1,234.50".to_vec()),
        Just(b"(5.00)".to_vec()),
        Just(b"USD".to_vec()),
        Just(b"\"quoted, with delimiter\"".to_vec()),
        Just(b"\"line\nbreak\"".to_vec()),
        Just(b"\"unclosed".to_vec()),
        Just(b"\"\"\"".to_vec()),
        Just(b"M\xdcLLER".to_vec()),
        Just("MÜLLER €".as_bytes().to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    let row = proptest::collection::vec(field, 0..10);
    let sep = prop_oneof![Just(b",".to_vec()), Just(b";".to_vec()), Just(b",,".to_vec())];
    let eol = prop_oneof![Just(b"\n".to_vec()), Just(b"\r\n".to_vec()), Just(b"\n\n".to_vec()), Just(b"".to_vec())];
    proptest::collection::vec((row, sep, eol), 0..40).prop_map(|rows| {
        let mut out = b"doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\n".to_vec();
        for (fields, sep, eol) in rows {
            out.extend_from_slice(&fields.join(&sep[..]));
            out.extend_from_slice(&eol);
        }
        out
    })
}

fn csv_case(bytes: Vec<u8>, dir: &std::path::Path) -> Result<(), TestCaseError> {
    use ardent_engine::ingest::ingest;
    std::fs::write(dir.join("ledger.csv"), &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let settings = resolve(Overrides { config: Some(dir.join("pipeline.toml")), ..Default::default() })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    match ingest(&settings.ingest) {
        Ok(ingested) => {
            for (kind, c) in &ingested.counts {
                prop_assert_eq!(c.rows_read, c.rows_accepted + c.rows_quarantined, "{:?}: {:?}", kind, c);
            }
        }
        Err(e) => {
            let kind = e.kind();
            prop_assert!(
                matches!(kind, ardent_engine::ErrorKind::Data | ardent_engine::ErrorKind::MissingInput),
                "{:?}: {}",
                kind,
                e
            );
        }
    }
    // The structure pass agrees with counting the fields of each line, where no line has a quote.
    if !bytes.contains(&b'"') {
        let s = ardent_engine::ingest::structure::scan(&bytes[..], b',', 0)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let header = lines.first().map_or(0, |h| h.split(|&b| b == b',').count());
        let expected: Vec<(u64, u32)> = lines
            .iter()
            .skip(1)
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let n = l.split(|&b| b == b',').count();
                (!l.is_empty() && n != header).then_some((i as u64, n as u32))
            })
            .collect();
        prop_assert_eq!(s.ragged, expected);
        prop_assert_eq!(s.records, lines.len().saturating_sub(1) as u64);
    }
    Ok(())
}

const CONFIG: &str = r#"[run]
reporting_currency = "EUR"
max_rejected_share = 0.05

[inputs.ledger]
path = "ledger.csv"
delimiter = ";"
encoding = "windows-1252"
date_format = "%d.%m.%Y"
columns = { doc_id = "Beleg" }
doc_types = { RV = "invoice" }

[inputs.payments]
path = "payments.csv"

[analytics]
bucket_edges = [0, 30, 60]
snapshots = ["2025-03-31"]

[models]
learners = ["logistic"]
"#;

fn configs() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((0..CONFIG.len(), 0u8..3, any::<u8>()), 1..6)
}

fn config_case(edits: Vec<(usize, u8, u8)>, dir: &std::path::Path) -> Result<(), TestCaseError> {
    let mut text = CONFIG.as_bytes().to_vec();
    for (at, op, byte) in edits {
        let at = at.min(text.len());
        match op {
            0 => text.insert(at, byte),
            1 if at < text.len() => {
                text.remove(at);
            }
            _ if at < text.len() => text[at] = byte,
            _ => {}
        }
    }
    let path = dir.join("fuzzed.toml");
    std::fs::write(&path, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    if let Err(e) = resolve(Overrides { config: Some(path), ..Default::default() }) {
        let code = ardent::exit::code(&e);
        prop_assert!(code == ardent::exit::CONFIG, "exit {} for a config edit: {:#}", code, e);
    }
    Ok(())
}

/// Run `case` on inputs of `strategy` until `budget` has passed; returns executions.
fn fuzz<S: Strategy>(
    name: &str,
    budget: Duration,
    strategy: S,
    case: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<u64, String> {
    let started = Instant::now();
    let mut runs = 0u64;
    let mut seed = 0u64;
    while started.elapsed() < budget {
        // A new, reproducible seed per batch of cases.
        seed += 1;
        let config = Config { cases: 256, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &{
                let mut s = [0u8; 32];
                s[..8].copy_from_slice(&seed.to_le_bytes());
                s[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
                s
            }),
        );
        runner.run(&strategy, &case).map_err(|e| format!("{name}: seed {seed}: {e}"))?;
        runs += 256;
    }
    Ok(runs)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let wanted: Vec<String> = args.collect();
    let budget = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("payments.csv"), "payment_id,customer_id,payment_date,amount,currency\n")
        .expect("payments written");
    std::fs::write(
        dir.path().join("pipeline.toml"),
        "[run]\nreporting_currency = \"USD\"\n[inputs.ledger]\npath = \"ledger.csv\"\n[inputs.payments]\npath = \"payments.csv\"\n",
    )
    .expect("config written");
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let mut failed = false;
    let mut report = |name: &str, result: Result<u64, String>, started: Instant| match result {
        Ok(n) => {
            eprintln!("fuzz {name:<9} {n:>9} executions in {:>5.0} s, no finding", started.elapsed().as_secs_f64())
        }
        Err(e) => {
            failed = true;
            eprintln!("fuzz {name:<9} FINDING after {:.0} s: {e}", started.elapsed().as_secs_f64());
        }
    };
    if run("dates") {
        let t = Instant::now();
        report("dates", fuzz("dates", budget, dates(), date_case), t);
    }
    if run("decimals") {
        let t = Instant::now();
        report("decimals", fuzz("decimals", budget, decimals(), decimal_case), t);
    }
    if run("csv") {
        let t = Instant::now();
        report("csv", fuzz("csv", budget, csv_files(), |b| csv_case(b, dir.path())), t);
    }
    if run("config") {
        let t = Instant::now();
        report("config", fuzz("config", budget, configs(), |e| config_case(e, dir.path())), t);
    }
    if failed {
        std::process::exit(1);
    }
}
