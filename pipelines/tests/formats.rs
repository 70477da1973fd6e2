//! Readers: the same data read from CSV and from Parquet gives the same canonical tables;
//! NDJSON is read; a folder of export batches is read in name order with per-file lineage,
//! and a document repeated in a later batch is a duplicate.
#![allow(clippy::unwrap_used)]

mod common;

use ardent::settings::{Overrides, resolve};
use ardent_engine::ingest::{Ingested, ingest};
use polars::prelude::*;

fn ingest_config(config: &std::path::Path) -> Ingested {
    let settings = resolve(Overrides { config: Some(config.to_path_buf()), ..Default::default() }).unwrap();
    ingest(&settings.ingest).unwrap()
}

fn without_lineage(df: &DataFrame) -> DataFrame {
    df.drop_many(["source_file"])
}

#[test]
fn csv_and_parquet_exports_of_the_same_data_give_identical_tables() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base = ardent_sample::GenParams { customers: Some(300), months: Some(8), seed: 3, ..Default::default() };
    ardent_sample::generate(&base.check().unwrap(), a.path()).unwrap();
    let pq = ardent_sample::GenParams { format: ardent_sample::OutFormat::Parquet, ..base };
    ardent_sample::generate(&pq.check().unwrap(), b.path()).unwrap();
    let (csv, parquet) =
        (ingest_config(&a.path().join("pipeline.toml")), ingest_config(&b.path().join("pipeline.toml")));
    assert!(csv.tables.ledger.height() > 1_000);
    for (x, y, name) in [
        (&csv.tables.ledger, &parquet.tables.ledger, "ledger"),
        (&csv.tables.payments, &parquet.tables.payments, "payments"),
        (&csv.tables.customers, &parquet.tables.customers, "customers"),
        (&csv.tables.fx_rates, &parquet.tables.fx_rates, "fx_rates"),
        (&csv.tables.payment_refs, &parquet.tables.payment_refs, "payment_refs"),
    ] {
        let (x, y) =
            if name == "payment_refs" { (x.clone(), y.clone()) } else { (without_lineage(x), without_lineage(y)) };
        assert!(x.equals_missing(&y), "{name} differs between CSV and Parquet:\n{x}\n{y}");
    }
    assert_eq!(parquet.quarantine.height(), 0);
}

#[test]
fn ndjson_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write(
        &d.join("customers.ndjson"),
        "{\"customer_id\":\"C1\",\"segment\":\"smb\",\"credit_limit\":1000.5}\n",
    );
    common::write(
        &d.join("ledger.ndjson"),
        "{\"doc_id\":\"0001\",\"customer_id\":\"C1\",\"doc_type\":\"invoice\",\"doc_date\":\"2025-01-31\",\"due_date\":\"2025-03-02\",\"amount\":100.1,\"currency\":\"USD\",\"disputed\":true}\n\
         {\"doc_id\":\"0002\",\"customer_id\":\"C1\",\"doc_type\":\"credit_memo\",\"doc_date\":\"2025-02-03\",\"due_date\":null,\"amount\":10,\"currency\":\"USD\",\"applies_to\":\"0001\",\"disputed\":false}\n",
    );
    common::write(
        &d.join("payments.ndjson"),
        "{\"payment_id\":\"P1\",\"customer_id\":\"C1\",\"payment_date\":\"2025-03-01\",\"amount\":90.1,\"currency\":\"USD\",\"invoice_refs\":\"0001;0999\"}\n",
    );
    common::write(
        &d.join("pipeline.toml"),
        "[inputs.customers]\npath = \"customers.ndjson\"\n[inputs.ledger]\npath = \"ledger.ndjson\"\n[inputs.payments]\npath = \"payments.ndjson\"\n",
    );
    let ing = ingest_config(&d.join("pipeline.toml"));
    assert_eq!(ing.tables.ledger.height(), 2);
    let amounts: Vec<Option<i128>> =
        ing.tables.ledger.column("amount").unwrap().decimal().unwrap().physical().iter().collect();
    assert_eq!(amounts, vec![Some(10_010), Some(1_000)], "100.1 and 10 as exact cents");
    let disputed: Vec<Option<bool>> = ing.tables.ledger.column("disputed").unwrap().bool().unwrap().iter().collect();
    assert_eq!(disputed, vec![Some(true), Some(false)]);
    // The payment is kept; its unknown reference is flagged.
    assert_eq!(ing.tables.payments.height(), 1);
    let q = common::records(&ing.quarantine.frame().unwrap());
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["rule"].as_deref(), Some("unknown_reference"));
    assert_eq!(q[0]["value"].as_deref(), Some("0999"));
    let known: Vec<Option<bool>> = ing.tables.payment_refs.column("known").unwrap().bool().unwrap().iter().collect();
    assert_eq!(known, vec![Some(true), Some(false)]);
}

#[test]
fn a_folder_of_batches_is_read_in_name_order_and_repeats_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write(&d.join("customers.csv"), "customer_id,segment\nC1,smb\n");
    let header = "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\n";
    common::write(
        &d.join("ledger/2025-02-01.csv"),
        &format!(
            "{header}0003,C1,invoice,2025-01-20,2025-02-19,30.00,USD\n0001,C1,invoice,2025-01-02,2025-02-01,10.00,USD\n"
        ),
    );
    common::write(
        &d.join("ledger/2025-01-01.csv"),
        &format!(
            "{header}0001,C1,invoice,2025-01-02,2025-02-01,10.00,USD\n0002,C1,invoice,2025-01-05,2025-02-04,20.00,USD\n"
        ),
    );
    common::write(&d.join("ledger/.hidden.csv"), "garbage");
    common::write(&d.join("payments.csv"), "payment_id,customer_id,payment_date,amount,currency\n");
    common::write(
        &d.join("pipeline.toml"),
        "[inputs.customers]\npath = \"customers.csv\"\n[inputs.ledger]\npath = \"ledger\"\n[inputs.payments]\npath = \"payments.csv\"\n",
    );
    let ing = ingest_config(&d.join("pipeline.toml"));
    let ids: Vec<Option<&str>> = ing.tables.ledger.column("doc_id").unwrap().str().unwrap().iter().collect();
    assert_eq!(ids, vec![Some("0001"), Some("0002"), Some("0003")]);
    let files: Vec<Option<&str>> = ing.tables.ledger.column("source_file").unwrap().str().unwrap().iter().collect();
    assert_eq!(
        files,
        vec![Some("ledger/2025-01-01.csv"), Some("ledger/2025-01-01.csv"), Some("ledger/2025-02-01.csv")]
    );
    let q = common::records(&ing.quarantine.frame().unwrap());
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0]["rule"].as_deref(), q[0]["source_file"].as_deref(), q[0]["source_row"].as_deref()),
        (Some("duplicate_id"), Some("ledger/2025-02-01.csv"), Some("2"))
    );
    let ledger = ing.counts.iter().find(|(k, _)| k.name() == "ledger").unwrap().1;
    assert_eq!((ledger.rows_read, ledger.rows_accepted, ledger.rows_quarantined), (4, 3, 1));
}

#[test]
fn typed_amounts_too_large_for_decimal_18_are_invalid_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write(&d.join("customers.csv"), "customer_id,segment\nC1,smb\n");
    common::write(&d.join("payments.csv"), "payment_id,customer_id,payment_date,amount,currency\n");
    let mut ledger = df!(
        "doc_id" => ["1", "2"],
        "customer_id" => ["C1", "C1"],
        "doc_type" => ["invoice", "invoice"],
        "doc_date" => ["2025-01-02", "2025-01-02"],
        "due_date" => ["2025-02-01", "2025-02-01"],
        "amount" => [10_i64, 90_000_000_000_000_000_i64],
        "currency" => ["USD", "USD"],
    )
    .unwrap();
    let file = std::fs::File::create(d.join("ledger.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut ledger).unwrap();
    common::write(
        &d.join("pipeline.toml"),
        "[inputs.customers]\npath = \"customers.csv\"\n[inputs.ledger]\npath = \"ledger.parquet\"\n[inputs.payments]\npath = \"payments.csv\"\n",
    );
    let ing = ingest_config(&d.join("pipeline.toml"));
    assert_eq!(ing.tables.ledger.height(), 1);
    let q = common::records(&ing.quarantine.frame().unwrap());
    assert_eq!(q.len(), 1);
    assert_eq!((q[0]["rule"].as_deref(), q[0]["source_row"].as_deref()), (Some("invalid_amount"), Some("2")));
}

#[test]
fn an_amount_that_overflows_decimal_18_in_the_reporting_currency_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write(&d.join("customers.csv"), "customer_id,segment\nC1,smb\n");
    common::write(&d.join("fx_rates.csv"), "date,currency,rate_to_reporting\n2025-01-01,GBP,1.27\n");
    common::write(
        &d.join("ledger.csv"),
        "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\n\
         1,C1,invoice,2025-01-02,2025-02-01,10.00,GBP\n\
         2,C1,invoice,2025-01-02,2025-02-01,9000000000000000.00,GBP\n",
    );
    common::write(&d.join("payments.csv"), "payment_id,customer_id,payment_date,amount,currency\n");
    common::write(
        &d.join("pipeline.toml"),
        "[inputs.fx_rates]\npath = \"fx_rates.csv\"\n[inputs.customers]\npath = \"customers.csv\"\n\
         [inputs.ledger]\npath = \"ledger.csv\"\n[inputs.payments]\npath = \"payments.csv\"\n",
    );
    let ing = ingest_config(&d.join("pipeline.toml"));
    assert_eq!(ing.tables.ledger.height(), 1);
    assert_eq!(ing.tables.ledger.column("amount_reporting").unwrap().null_count(), 0);
    let q = common::records(&ing.quarantine.frame().unwrap());
    assert_eq!(q.len(), 1);
    assert_eq!((q[0]["rule"].as_deref(), q[0]["source_row"].as_deref()), (Some("invalid_amount"), Some("2")));
}

#[test]
fn payment_references_are_split_on_the_configured_separator_and_rewritten_canonically() {
    let strings = |df: &DataFrame, name: &str| -> Vec<Option<String>> {
        let c = df.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    };
    // One character and a longer separator: the char and the string paths of the split.
    for separator in ["|", " // "] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        common::write(&d.join("customers.csv"), "customer_id,segment\nC1,smb\n");
        let docs: String = (1..=4).map(|k| format!("000{k},C1,invoice,2025-01-31,2025-03-02,10.00,USD\n")).collect();
        common::write(
            &d.join("ledger.csv"),
            &format!("doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\n{docs}"),
        );
        // Canonical first (nothing to rewrite yet), then no references, spaces and empty parts.
        let refs = ["0001", "", &format!("0002{separator} 0003"), &format!("{separator}0004 {separator}")];
        let rows: String =
            refs.iter().enumerate().map(|(k, r)| format!("P{k},C1,2025-03-01,5.00,USD,\"{r}\"\n")).collect();
        common::write(
            &d.join("payments.csv"),
            &format!("payment_id,customer_id,payment_date,amount,currency,invoice_refs\n{rows}"),
        );
        common::write(
            &d.join("pipeline.toml"),
            &format!(
                "[inputs.customers]\npath = \"customers.csv\"\n[inputs.ledger]\npath = \"ledger.csv\"\n\
                 [inputs.payments]\npath = \"payments.csv\"\nrefs_separator = \"{separator}\"\n"
            ),
        );
        let ing = ingest_config(&d.join("pipeline.toml"));
        let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        let canonical = strings(&ing.tables.payments, "invoice_refs");
        assert_eq!(canonical, [Some("0001".into()), None, Some("0002;0003".into()), Some("0004".into())]);
        let refs = &ing.tables.payment_refs;
        assert_eq!(strings(refs, "payment_id"), some(&["P0", "P2", "P2", "P3"]), "{separator:?}");
        assert_eq!(strings(refs, "position"), some(&["1", "1", "2", "1"]), "{separator:?}");
        assert_eq!(strings(refs, "doc_id"), some(&["0001", "0002", "0003", "0004"]), "{separator:?}");
        assert_eq!(ing.quarantine.height(), 0, "every reference is a known document");
    }
}

/// The customers, ledger and payments of two customers whose ids differ only in a non-ASCII
/// letter, written in `encode`; returns the config path (with `encoding` when given).
fn accented_exports(
    dir: &std::path::Path,
    encode: &dyn Fn(&str) -> Vec<u8>,
    encoding: Option<&str>,
) -> std::path::PathBuf {
    let files = [
        ("customers.csv", "customer_id,segment\nMÜLLER-01,smb\nMÖLLER-01,smb\n"),
        (
            "ledger.csv",
            "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\nR-1,MÜLLER-01,invoice,2025-01-02,2025-02-01,100.00,EUR\nR-2,MÖLLER-01,invoice,2025-01-03,2025-02-02,250.00,EUR\n",
        ),
        ("payments.csv", "payment_id,customer_id,payment_date,amount,currency\nZ-1,MÖLLER-01,2025-01-20,250.00,EUR\n"),
    ];
    let mut config = String::from("[run]\nreporting_currency = \"EUR\"\n");
    for (name, text) in files {
        std::fs::write(dir.join(name), encode(text)).unwrap();
        let input = name.trim_end_matches(".csv");
        config.push_str(&format!("\n[inputs.{input}]\npath = \"{name}\"\n"));
        if let Some(e) = encoding {
            config.push_str(&format!("encoding = \"{e}\"\n"));
        }
    }
    std::fs::write(dir.join("pipeline.toml"), config).unwrap();
    dir.join("pipeline.toml")
}

/// Latin-1, windows-1252 and UTF-16 exports with non-ASCII ids: read exactly with `encoding`
/// set; without it refused with the encoding named, never read with letters replaced (issue
/// 19: MÜLLER-01 and MÖLLER-01 both became M�LLER-01, and the second customer's invoice was
/// accepted under the first).
#[test]
fn exports_in_other_encodings_are_read_exactly_or_refused_never_mangled() {
    let latin1 = |s: &str| s.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect::<Vec<u8>>();
    let utf16 =
        |s: &str| [0xFF, 0xFE].into_iter().chain(s.encode_utf16().flat_map(u16::to_le_bytes)).collect::<Vec<u8>>();
    for (label, encode, suggested) in [
        ("latin-1", &latin1 as &dyn Fn(&str) -> Vec<u8>, "windows-1252"),
        ("windows-1252", &latin1, "windows-1252"),
        ("utf-16", &utf16, "utf-16le"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = accented_exports(dir.path(), encode, Some(label));
        let read = ingest_config(&config);
        assert_eq!(read.quarantine.height(), 0, "{label}: {}", read.quarantine.frame().unwrap());
        let ids: Vec<String> = read
            .tables
            .customers
            .column("customer_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect();
        assert_eq!(ids, ["MÜLLER-01", "MÖLLER-01"], "{label}: two customers, as written");
        let owner = read.tables.ledger.column("customer_id").unwrap().str().unwrap().get(1).map(str::to_string);
        assert_eq!(owner.as_deref(), Some("MÖLLER-01"), "{label}: R-2 stays with its own customer");

        // Without `encoding`: one structural error that names the encoding to set.
        let dir = tempfile::tempdir().unwrap();
        let config = accented_exports(dir.path(), encode, None);
        let o = common::ardent(&["validate", "--config", config.to_str().unwrap()]);
        assert_eq!(o.code, 4, "{label}: {}", o.stderr);
        assert!(
            o.stderr.contains("not UTF-8") && o.stderr.contains(&format!("encoding = \"{suggested}\"")),
            "{label}: {}",
            o.stderr
        );
    }
}

/// A UTF-8 export with a few rows holding stray bytes: those rows are quarantined as
/// `invalid_encoding` on their column, the others accepted; nothing is read with a letter
/// replaced.
#[test]
fn a_few_rows_with_bytes_that_are_not_utf8_are_quarantined_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = accented_exports(dir.path(), &|s: &str| s.as_bytes().to_vec(), None);
    let mut ledger = std::fs::read(dir.path().join("ledger.csv")).unwrap();
    ledger.extend_from_slice(b"R-3,M\xc3\x9cLLER-01,invoice,2025-01-04,2025-02-03,75.00,EUR\nR-4,M\xdcLLER-01,invoice,2025-01-05,2025-02-04,80.00,EUR\nR-5,M\xc3\x9cLLER-01,invoice,2025-01-06,2025-02-05,90.00,EUR\n");
    std::fs::write(dir.path().join("ledger.csv"), ledger).unwrap();
    let read = ingest_config(&config);
    let q = common::records(&read.quarantine.frame().unwrap());
    assert_eq!(q.len(), 1, "{}", read.quarantine.frame().unwrap());
    assert_eq!(q[0]["rule"].as_deref(), Some("invalid_encoding"));
    assert_eq!(q[0]["column"].as_deref(), Some("customer_id"));
    assert_eq!(q[0]["source_row"].as_deref(), Some("4"));
    let docs: Vec<&str> = read.tables.ledger.column("doc_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(docs, ["R-1", "R-2", "R-3", "R-5"]);
}

/// A mini pipeline (customers, ledger, payments) whose ledger is `ledger`.
fn with_ledger(dir: &std::path::Path, ledger: &str) -> std::path::PathBuf {
    let config = accented_exports(dir, &|s: &str| s.as_bytes().to_vec(), None);
    std::fs::write(dir.join("ledger.csv"), ledger).unwrap();
    config
}

const HEADER: &str = "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency\n";

/// Rows with more or fewer fields than the header are quarantined as `wrong_field_count` with
/// their row, and the rest of the file is read (issue 19: one over-long row failed the whole
/// file without a line number; a short row was accepted, or reported as an empty doc_date).
#[test]
fn rows_with_other_field_counts_are_quarantined_with_their_row_not_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = format!(
        "{HEADER}R-1,MÜLLER-01,invoice,2025-01-02,2025-02-01,100.00,EUR\n\
         R-2,MÖLLER-01,invoice,2025-01-03,2025-02-02,1,250.00,EUR\n\
         R-3,MÜLLER-01,invoice,2025-01-04,2025-02-03,75.00\n\
         R-4,MÜLLER-01,invoice,2025-01-05,\"2025-02-04\",\"80.00\",EUR\n"
    );
    let read = ingest_config(&with_ledger(dir.path(), &ledger));
    let q = common::records(&read.quarantine.frame().unwrap());
    let got: Vec<(String, String, String)> = q
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].clone().unwrap_or_default();
            (f("source_row"), f("rule"), f("column"))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("2".into(), "wrong_field_count".into(), "doc_id".into()),
            ("3".into(), "wrong_field_count".into(), "doc_id".into())
        ],
        "{}",
        read.quarantine.frame().unwrap()
    );
    let docs: Vec<&str> = read.tables.ledger.column("doc_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(docs, ["R-1", "R-4"]);
}

/// The file-level outcomes of CSV structure: most rows with another field count is one error
/// naming the delimiter; a header naming a read column twice is refused (it was read "first
/// wins"); an empty file is refused as empty (it got "rename the column" advice); a file with
/// only its header is an input with no rows.
#[test]
fn csv_structure_errors_are_told_once_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let validate = |ledger: &str| {
        let config = with_ledger(dir.path(), ledger);
        common::ardent(&["validate", "--config", config.to_str().unwrap()])
    };
    let o = validate(&format!(
        "{HEADER}R-1,C,invoice,2025-01-02,2025-02-01,1,00,EUR\nR-2,C,invoice,2025-01-02,2025-02-01,2,50,EUR\n"
    ));
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(
        o.stderr.contains("2 of 2 rows have a number of fields other than the header's 7")
            && o.stderr.contains("inputs.ledger.delimiter"),
        "{}",
        o.stderr
    );
    let o = validate(
        "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency,amount\nR-1,MÜLLER-01,invoice,2025-01-02,2025-02-01,1.00,EUR,2.00\n",
    );
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("`amount`") && o.stderr.contains("2 times (columns 6 and 8)"), "{}", o.stderr);
    let o = validate("");
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("the file is empty") && !o.stderr.contains("Rename the column"), "{}", o.stderr);
    let o = validate(HEADER);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("ledger") && o.stdout.contains(" 0 "), "{}", o.stdout);
}
