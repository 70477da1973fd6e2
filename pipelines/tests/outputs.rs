//! Acceptance of issue 2: `ardent run` with no arguments publishes the bundled sample, and
//! the Parquet files carry the types BI tools need (read back with the arrow-rs `parquet`
//! crate, independent of polars): money `DECIMAL(18,2)`, dates `DATE`, zstd, statistics.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;

use ardent_engine::contracts::{OUTPUT_TABLES, OutType};
use parquet::basic::{Compression, LogicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};

#[test]
fn run_without_arguments_publishes_the_bundled_sample_with_bi_ready_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::ardent_in(dir.path(), &["run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = dir.path().join("ardent-out");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_manifest.json")).unwrap()).unwrap();

    for contract in OUTPUT_TABLES {
        let path = out.join(format!("{}.parquet", contract.name));
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        let rows = meta.file_metadata().num_rows() as u64;
        let listed = manifest["outputs"].as_array().unwrap().iter().find(|t| t["table"] == contract.name).unwrap();
        assert_eq!(listed["rows"].as_u64().unwrap(), rows, "{}: manifest row count", contract.name);
        assert_eq!(schema.num_columns(), contract.columns.len(), "{}", contract.name);
        for (i, col) in contract.columns.iter().enumerate() {
            let descr = schema.column(i);
            assert_eq!(descr.name(), col.name, "{}", contract.name);
            let logical = descr.logical_type_ref().cloned();
            match col.ty {
                OutType::Money => {
                    assert_eq!(logical, Some(LogicalType::decimal(2, 18)), "{}.{}", contract.name, col.name)
                }
                OutType::Rate => {
                    assert_eq!(logical, Some(LogicalType::decimal(10, 18)), "{}", col.name)
                }
                OutType::Date => assert_eq!(logical, Some(LogicalType::Date), "{}.{}", contract.name, col.name),
                OutType::Text => assert_eq!(logical, Some(LogicalType::String), "{}.{}", contract.name, col.name),
                _ => {}
            }
        }
        for rg in meta.row_groups() {
            for c in rg.columns() {
                assert!(matches!(c.compression(), Compression::ZSTD(_)), "{}: {:?}", contract.name, c.compression());
                if rg.num_rows() > 0 {
                    assert!(c.statistics().is_some(), "{}.{} has no statistics", contract.name, c.column_path());
                }
            }
        }
    }
    let ledger = &manifest["inputs"].as_array().unwrap().iter().find(|i| i["input"] == "ledger").unwrap();
    assert!(ledger["rows_read"].as_u64().unwrap() > 5_000);
    assert_eq!(
        ledger["rows_read"],
        ledger["rows_accepted"].as_u64().unwrap() + ledger["rows_quarantined"].as_u64().unwrap()
    );
    assert_eq!(ledger["files"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn schema_lists_every_contract() {
    let o = common::ardent(&["schema"]);
    assert_eq!(o.code, 0);
    insta::assert_snapshot!(o.stdout);
}

#[test]
fn schema_of_an_unknown_table_names_the_tables() {
    let o = common::ardent(&["schema", "invoices"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no table named `invoices`") && o.stderr.contains("payment_refs"), "{}", o.stderr);
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let o = common::ardent(&["--help"]);
    assert_eq!(o.code, 0);
    insta::assert_snapshot!(o.stdout);
}

#[test]
fn published_tables_are_byte_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::generate(&dir.path().join("data"), 300, 9, 0.03);
    let config = config.to_str().unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("out-{threads}"));
        let o = common::ardent(&[
            "--threads",
            threads,
            "run",
            "--config",
            config,
            "--out",
            out.to_str().unwrap(),
            "--max-rejected-share",
            "1",
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        outputs.push(out);
    }
    let quarantine = std::fs::metadata(outputs[0].join("quarantine.parquet")).unwrap().len();
    assert!(quarantine > 2_000, "the dirty data should fill the quarantine");
    for contract in OUTPUT_TABLES {
        let name = format!("{}.parquet", contract.name);
        let (a, b) = (std::fs::read(outputs[0].join(&name)).unwrap(), std::fs::read(outputs[1].join(&name)).unwrap());
        assert!(a == b, "{name} differs between 1 and 2 threads");
    }
}
