//! Acceptance of issues 2, 3 and 4: `ardent run` with no arguments publishes the bundled sample
//! — validated inputs, every dashboard table, the model tables and artifacts — and the Parquet files carry the types BI
//! tools need (read back with the arrow-rs `parquet` crate, independent of polars): money
//! `DECIMAL(18,2)`, dates `DATE`, zstd, statistics; `aging` is Hive-partitioned by `as_of`.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;

use std::path::{Path, PathBuf};

use ardent_engine::analytics::default_output_tables;
use ardent_engine::contracts::{OutType, TableContract};
use parquet::basic::{Compression, LogicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};

#[test]
fn run_without_arguments_publishes_the_bundled_sample_with_bi_ready_parquet() {
    // A copy of the binary alone, run from an empty folder far from the checkout: the sample
    // it carries is written to the cache folder and run.
    let dir = tempfile::tempdir().unwrap();
    let (bin, work, cache) = (dir.path().join("bin"), dir.path().join("work"), dir.path().join("cache"));
    for d in [&bin, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    let exe = bin.join("ardent");
    std::fs::copy(env!("CARGO_BIN_EXE_ardent"), &exe).unwrap();
    let o = common::run_binary(&exe, &work, &[("XDG_CACHE_HOME", cache.to_str().unwrap())], &["run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let sample = std::fs::read_dir(cache.join("ardent")).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    assert_eq!(sample.len(), 1, "one sample folder, no staging left: {sample:?}");
    for (path, bytes) in ardent_sample::bundled::FILES {
        assert_eq!(&std::fs::read(sample[0].join(path)).unwrap(), bytes, "{path}");
    }
    let out = work.join("ardent-out");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_manifest.json")).unwrap()).unwrap();

    let mut contracts = default_output_tables();
    contracts.extend(ardent_models::tables::contracts());
    // The bundled sample has no activities input: its collections tables are not published.
    contracts.retain(|c| !ardent_engine::collections::NEED_ACTIVITIES.contains(&c.name));
    let listed = manifest["outputs"].as_array().unwrap();
    assert_eq!(listed.len(), contracts.len(), "every documented table is published");
    for contract in &contracts {
        let entry = listed.iter().find(|t| t["table"] == contract.name).unwrap();
        let files: Vec<PathBuf> = common::table_files(&out, contract.name).into_iter().map(|(_, p)| p).collect();
        assert!(!files.is_empty(), "{}", contract.name);
        let mut rows = 0;
        for path in &files {
            rows += check_file(path, contract);
        }
        assert_eq!(entry["rows"].as_u64().unwrap(), rows, "{}: manifest row count", contract.name);
        if let Some(key) = contract.partition {
            assert_eq!(entry["partitioned_by"][0], key);
            assert_eq!(entry["partitioned_by"][1].as_u64().unwrap(), files.len() as u64);
            for f in &files {
                let dir = f.parent().unwrap().file_name().unwrap().to_str().unwrap();
                assert!(dir.starts_with(&format!("{key}=20")), "{}", f.display());
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
    // Issue 4: every candidate model has its artifacts, and the champion is one of them.
    let models = &manifest["models"];
    let champions = [models["champion"].as_str().unwrap(), models["invoice_champion"].as_str().unwrap()];
    let candidates = models["candidates"].as_array().unwrap();
    assert!(champions.iter().all(|id| candidates.iter().any(|c| c["model_id"] == *id)));
    let mut champion_features = 0;
    for c in candidates {
        let dir = out.join(c["path"].as_str().unwrap());
        let file = ardent_models::artifact::read(&dir).unwrap();
        assert_eq!(file.champion, champions.contains(&c["model_id"].as_str().unwrap()));
        let card = std::fs::read_to_string(dir.join("model_card.md")).unwrap();
        assert!(card.contains("## Out-of-time performance"));
        // One stability line per feature of the model's task.
        let stability = card.split("## Feature stability").nth(1).unwrap().split("\n## ").next().unwrap();
        assert_eq!(
            stability.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| feature")).count(),
            file.model.features.len()
        );
        if file.champion {
            champion_features += file.model.features.len() as u64;
        }
    }
    // `feature_stability`: every feature of both tasks (the customer and the invoice model).
    let stability = listed.iter().find(|t| t["table"] == "feature_stability").unwrap();
    assert_eq!(stability["rows"].as_u64().unwrap(), champion_features);
}

/// Check one file against its contract; returns its row count.
fn check_file(path: &Path, contract: &TableContract) -> u64 {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let columns: Vec<_> = contract.file_columns().collect();
    assert_eq!(schema.num_columns(), columns.len(), "{}", contract.name);
    for (i, col) in columns.iter().enumerate() {
        let descr = schema.column(i);
        assert_eq!(descr.name(), col.name, "{}", contract.name);
        let logical = descr.logical_type_ref().cloned();
        let at = format!("{}.{}", contract.name, col.name);
        match col.ty {
            OutType::Money => assert_eq!(logical, Some(LogicalType::decimal(2, 18)), "{at}"),
            OutType::Rate => assert_eq!(logical, Some(LogicalType::decimal(10, 18)), "{at}"),
            OutType::Date => assert_eq!(logical, Some(LogicalType::Date), "{at}"),
            OutType::Text => assert_eq!(logical, Some(LogicalType::String), "{at}"),
            // Signed: Spark reads unsigned 64-bit integers as decimal(20,0).
            OutType::Count | OutType::Int => {
                assert_eq!(descr.physical_type(), parquet::basic::Type::INT64, "{at}");
                assert!(
                    match &logical {
                        None => true,
                        Some(LogicalType::Integer(int)) => int.bit_width == 64 && int.is_signed,
                        Some(_) => false,
                    },
                    "{at}: {logical:?}"
                );
            }
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
    meta.file_metadata().num_rows() as u64
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

/// `ardent schema --format json`: the same contracts as the text, for tools: every input,
/// every published table with its columns' Parquet types and nullability, every rule.
#[test]
fn schema_as_json_lists_the_contracts_the_text_lists() {
    let o = common::ardent(&["schema", "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let schema: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names = |key: &str| -> Vec<String> {
        schema[key].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    };
    let mut contracts = default_output_tables();
    contracts.extend(ardent_models::tables::contracts());
    assert_eq!(names("outputs"), contracts.iter().map(|c| c.name.to_string()).collect::<Vec<_>>());
    assert_eq!(
        names("inputs"),
        ["fx_rates", "customers", "ledger", "payments", "activities"],
        "in the order they are read"
    );
    assert!(names("rules").contains(&"duplicate_id".to_string()));
    let text = common::ardent(&["schema"]).stdout;
    for t in schema["outputs"].as_array().unwrap() {
        let head = format!("output {}", t["path"].as_str().unwrap());
        let section = text.split("\n\n").find(|s| s.starts_with(&head)).unwrap_or_else(|| panic!("{head}"));
        for c in t["columns"].as_array().unwrap() {
            let line = section.lines().find(|l| l.split_whitespace().next() == c["name"].as_str()).unwrap();
            assert!(line.contains(c["type"].as_str().unwrap()), "{line}");
            assert_eq!(line.contains("nullable"), c["nullable"].as_bool().unwrap(), "{line}");
        }
    }
    let scores = schema["outputs"].as_array().unwrap().iter().find(|t| t["name"] == "customer_scores").unwrap();
    let points = scores["columns"].as_array().unwrap().iter().find(|c| c["name"] == "score_points").unwrap();
    assert_eq!((points["type"].as_str(), points["nullable"].as_bool()), (Some("DOUBLE"), Some(true)));
    // One table, and `rules`.
    let one: serde_json::Value =
        serde_json::from_str(&common::ardent(&["schema", "aging", "--format", "json"]).stdout).unwrap();
    assert_eq!(one["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(one["outputs"][0]["partitioned_by"], "as_of");
    assert!(one["inputs"].as_array().unwrap().is_empty() && one["rules"].as_array().unwrap().is_empty());
}

/// `--quiet`: a run prints no notes on stderr (its results on stdout stay); without it, it does.
#[test]
fn quiet_runs_say_nothing_on_stderr_but_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let config = repo.join("sample-data/pipeline.toml");
    let args = |quiet: bool| {
        let mut a = vec!["validate", "--config", config.to_str().unwrap(), "--set", "models.enabled=false"];
        if quiet {
            a.push("--quiet");
        }
        common::ardent_in(dir.path(), &a)
    };
    let (loud, quiet) = (args(false), args(true));
    assert_eq!((loud.code, quiet.code), (0, 0), "{}", quiet.stderr);
    assert!(loud.stderr.contains("ingest:"), "{}", loud.stderr);
    assert_eq!(quiet.stderr, "", "quiet");
    assert_eq!(quiet.stdout, loud.stdout, "the results are the same");
    let json = common::ardent_in(
        dir.path(),
        &["--log-format", "json", "-q", "validate", "--config", config.to_str().unwrap()],
    );
    assert!(json.stderr.lines().all(|l| !l.contains("\"level\":\"info\",\"message\"")), "{}", json.stderr);
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
    // 24 months: enough labelled history for the models to train, so they are covered too.
    let config = common::generate_months(&dir.path().join("data"), 300, 24, 9, 0.03);
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
    let quarantine = std::fs::metadata(&common::table_files(&outputs[0], "quarantine")[0].1).unwrap().len();
    assert!(quarantine > 2_000, "the dirty data should fill the quarantine");
    // The manifests list every file of the run with its SHA-256.
    let [a, b] = [&outputs[0], &outputs[1]].map(|o| manifest_files(o));
    assert!(
        a.iter().filter(|(p, _)| p.ends_with(".parquet")).count() > 20,
        "every table, and one aging file per month end"
    );
    assert!(a.iter().any(|(p, _)| p == "customer_scores.parquet"), "the models ran");
    assert!(a.iter().filter(|(p, _)| p.ends_with("/model.json")).count() >= 4, "{a:?}");
    for ((pa, sa), (pb, sb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert_eq!(sa, sb, "{pa} differs between 1 and 2 threads");
    }
    assert_eq!(a.len(), b.len());
    // The report names its run; otherwise it is the same page.
    let page = |out: &Path| {
        let id = common::manifest(out)["run_id"].as_str().unwrap().to_string();
        std::fs::read_to_string(out.join("report.html")).unwrap().replace(&id, "<run>")
    };
    assert!(page(&outputs[0]) == page(&outputs[1]), "report.html differs between 1 and 2 threads");
}

/// (path, SHA-256) of every file the output's manifest lists.
fn manifest_files(out: &Path) -> Vec<(String, String)> {
    common::file_hashes(&common::manifest(out), |_| true)
}

#[test]
fn the_invoice_model_stands_when_the_customer_model_cannot_be_trained() {
    // A default label no customer reaches (700 days past due, or a write-off, within one
    // day): no positives, as on a real ledger without defaults. Invoices are still paid late
    // often enough for the invoice model.
    let dir = tempfile::tempdir().unwrap();
    let o = common::ardent_in(
        dir.path(),
        &["run", "--set", "models.label.dpd=700", "--set", "models.label.horizon_days=1"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains(
            "models: customer model skipped (customer_scores and segment_scores are empty): the training rows hold"
        ),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("models skipped:"), "{}", o.stdout);
    let out = dir.path().join("ardent-out");
    let manifest = common::manifest(&out);
    let models = &manifest["models"];
    assert!(models["invoice_champion"].as_str().unwrap().starts_with("invoice_gbdt"), "{models}");
    assert!(models["champion"].is_null(), "{models}");
    assert!(models["customer_skipped"].as_str().unwrap().contains("at least 30 of each are needed"));
    let rows = |table: &str| {
        manifest["outputs"].as_array().unwrap().iter().find(|t| t["table"] == table).unwrap()["rows"].as_u64().unwrap()
    };
    assert_eq!(rows("customer_scores"), 0);
    assert_eq!(rows("segment_scores"), 0);
    assert!(rows("invoice_predictions") > 0);
    assert!(rows("features") > 0, "the panel is published either way");
    assert_eq!(common::ardent(&["verify", out.to_str().unwrap()]).code, 0);
}

#[test]
fn the_customer_models_stand_when_the_invoice_model_cannot_be_trained() {
    // An invoice label that needs a year past the due date to be known leaves the invoice
    // model a held-out sample of one class; the customer models do not need it.
    let dir = tempfile::tempdir().unwrap();
    let o = common::ardent_in(dir.path(), &["run", "--set", "models.invoice_label.days_late=365"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("invoice model skipped (invoice_predictions is empty):"), "{}", o.stdout);
    let out = dir.path().join("ardent-out");
    let manifest = common::manifest(&out);
    let models = &manifest["models"];
    assert!(models["champion"].as_str().is_some(), "{models}");
    assert!(models["invoice_champion"].is_null(), "{models}");
    assert!(models["invoice_skipped"].as_str().is_some(), "{models}");
    let rows = |table: &str| {
        manifest["outputs"].as_array().unwrap().iter().find(|t| t["table"] == table).unwrap()["rows"].as_u64().unwrap()
    };
    assert_eq!(rows("invoice_predictions"), 0);
    assert!(rows("customer_scores") > 0 && rows("segment_scores") > 0);
    assert_eq!(common::ardent(&["verify", out.to_str().unwrap()]).code, 0);
}

/// Cents of a decimal text ("-1234.50").
fn cents(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let (units, frac) = text.trim_start_matches('-').split_once('.').unwrap_or((text, "0"));
    let v = units.parse::<i128>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<i128>().unwrap();
    if negative { -v } else { v }
}

/// Every run publishes report.html; `ardent report OUT` makes the same page from the published
/// tables; its numbers are the tables' (tiles, aging stack, roll-forward, overdue list,
/// worklist), every chart has its canvas, and the page needs nothing from the network.
#[test]
fn the_report_shows_the_numbers_of_the_tables_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = common::ardent(&["run", "--out", out.to_str().unwrap(), "--set", "ecl.lgd=0.1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let published = std::fs::read_to_string(out.join("report.html")).unwrap();
    let again = dir.path().join("again.html");
    let o = common::ardent(&["report", out.to_str().unwrap(), "--to", again.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), published, "the run's report = the report of its output");
    assert!(!published.contains("http://") && !published.contains("https://cdn"), "no network needed");
    for id in ["dso", "cei", "delinquency", "aging", "rollforward", "calibration", "importance"] {
        assert!(published.contains(&format!(r#"<canvas id="{id}">"#)), "{id}");
    }
    assert!(published.contains(r#"data-charts-total="7""#));
    let data = common::report_data(&published);

    // Tiles and roll-forward against kpi_monthly's portfolio rows.
    let kpi = common::records(&common::table(&out, "kpi_monthly"));
    let mut portfolio: Vec<&common::Record> = kpi.iter().filter(|r| r["segment"].as_deref() == Some("ALL")).collect();
    portfolio.sort_by(|a, b| a["month"].cmp(&b["month"]));
    let last = portfolio.last().unwrap();
    assert_eq!(data["as_of"].as_str(), last["month"].as_deref());
    assert_eq!(data["tiles"][0]["value"].as_str(), last["ar_end"].as_deref());
    // Shown grouped in thousands: 5895635.65 as 5,895,635.65.
    let shown = ardent::report::page::group(last["ar_end"].as_deref().unwrap());
    assert!(shown.contains(',') && published.contains(&format!(r#"<div class="value">{shown}</div>"#)), "{shown}");
    let rf = data["roll_forward"].as_array().unwrap();
    assert_eq!(rf.len(), 12);
    for (row, k) in rf.iter().zip(&portfolio[portfolio.len() - 12..]) {
        assert_eq!(row["month"].as_str(), k["month"].as_deref());
        assert_eq!(row["ar_end"].as_str(), k["ar_end"].as_deref());
        let c = |f: &str| cents(row[f].as_str().unwrap());
        assert_eq!(c("ar_begin") + c("credit_sales") - c("cash_applied") - c("write_offs") + c("other"), c("ar_end"));
    }

    // The aging stack: per as-of date, the buckets' sums and the total are the table's, to the cent.
    let partitions = common::partitions(&out, "aging");
    let stack = &data["aging"];
    assert_eq!(stack["as_of"].as_array().unwrap().len(), partitions.len());
    let latest = partitions.last().unwrap();
    let rows = common::records(&common::partition(&out, "aging", latest));
    let sum = |col: &str| rows.iter().map(|r| cents(r[col].as_deref().unwrap())).sum::<i128>();
    let i = partitions.len() - 1;
    assert_eq!(cents(stack["total"][i].as_str().unwrap()), sum("total_open"));
    let buckets: i128 = stack["buckets"].as_array().unwrap().iter().map(|b| cents(b[1][i].as_str().unwrap())).sum();
    assert_eq!(buckets, sum("total_open"), "the buckets add up to the total open");
    // The most overdue customer is the one with the largest past due at the latest date.
    let top = rows
        .iter()
        .max_by_key(|r| (cents(r["past_due"].as_deref().unwrap()), std::cmp::Reverse(r["customer_id"].clone())))
        .unwrap();
    assert_eq!(data["top_overdue"][0]["customer_id"].as_str(), top["customer_id"].as_deref());
    assert_eq!(data["top_overdue"][0]["past_due"].as_str(), top["past_due"].as_deref());

    // Roll rates: each row of the matrix sums to 1 (every amount goes somewhere).
    for row in data["roll_rates"]["rates"].as_array().unwrap() {
        let total: f64 = row.as_array().unwrap().iter().filter_map(|v| v.as_f64()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{row}");
    }
    // Expected credit loss: the provision matrix is the latest month end's portfolio rows of
    // `ecl` (the ALL row last), and the roll-forward closes each month's allowance.
    let ecl = common::records(&common::table(&out, "ecl"));
    let matrix = data["ecl"]["matrix"].as_array().unwrap();
    let latest_ecl: Vec<&common::Record> = ecl
        .iter()
        .filter(|r| r["segment"].as_deref() == Some("ALL") && r["as_of"].as_deref() == data["ecl"]["as_of"].as_str())
        .filter(|r| r["method"].as_deref() == Some("roll_rate"))
        .collect();
    // With the models the PD method has its row too.
    assert!(
        ecl.iter()
            .any(|r| r["method"].as_deref() == Some("pd") && r["as_of"].as_deref() == data["ecl"]["as_of"].as_str())
    );
    assert_eq!(matrix.len(), latest_ecl.len());
    for (shown, row) in matrix.iter().zip(&latest_ecl) {
        assert_eq!(shown["bucket"].as_str(), row["bucket"].as_deref());
        assert_eq!(shown["allowance"].as_str(), row["allowance"].as_deref());
    }
    assert_eq!(matrix.last().unwrap()["bucket"], "ALL");
    let flows = data["ecl"]["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 12);
    for f in flows {
        let c = |k: &str| cents(f[k].as_str().unwrap());
        assert_eq!(c("opening") - c("write_offs_used") + c("charge"), c("closing"), "{f}");
    }
    assert_eq!(flows.last().unwrap()["closing"], matrix.last().unwrap()["allowance"]);
    assert!(!data["ecl"]["backtest"].as_array().unwrap().is_empty(), "the sample has month ends a year before its end");
    // The worklist starts with priority 1 of the latest scores.
    let scores = common::records(&common::table(&out, "customer_scores"));
    let newest = scores.iter().filter_map(|r| r["as_of"].clone()).max().unwrap();
    let first = scores
        .iter()
        .find(|r| r["as_of"] == Some(newest.clone()) && r["priority_rank"].as_deref() == Some("1"))
        .unwrap();
    assert_eq!(data["worklist"][0]["customer_id"].as_str(), first["customer_id"].as_deref());
    // The model section names the champion of the manifest.
    let m = common::manifest(&out);
    assert_eq!(data["model"]["model_id"], m["models"]["champion"]);
    assert_eq!(data["model"]["deciles"].as_array().unwrap().len(), 10);
}

/// `ardent analytics` rebuilds the dashboard tables of a published run from its validated
/// tables and applications: with the run's settings they equal the published tables row for
/// row; with other bucket edges the same open amounts fall in the new buckets.
#[test]
fn analytics_rebuilds_the_dashboards_of_a_published_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = common::ardent(&["run", "--out", out.to_str().unwrap(), "--set", "models.enabled=false"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let analytics = |to: &Path, extra: &[&str]| {
        common::ardent(&[&["analytics", out.to_str().unwrap(), "--to", to.to_str().unwrap()], extra].concat())
    };
    let rebuilt = dir.path().join("rebuilt");
    let o = analytics(&rebuilt, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for table in ["kpi_monthly", "cohorts", "roll_rates", "ecl", "customer_payment_stats", "reconciliation"] {
        let again = common::read_parquet(&rebuilt.join(format!("{table}.parquet")));
        assert!(again.height() > 0, "{table}");
        assert_eq!(common::records(&again), common::records(&common::table(&out, table)), "{table}");
    }
    let partitions = common::partitions(&out, "aging");
    assert!(partitions.len() > 12);
    for p in &partitions {
        let again = common::read_parquet(&rebuilt.join("aging").join(p).join("part-0.parquet"));
        assert_eq!(common::records(&again), common::records(&common::partition(&out, "aging", p)), "aging {p}");
    }

    let other = dir.path().join("other");
    let o = analytics(&other, &["--tables", "aging", "--set", "analytics.bucket_edges=[0,45,90]"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!other.join("kpi_monthly.parquet").exists(), "only the tables asked for");
    let latest = partitions.last().unwrap();
    let again = common::read_parquet(&other.join("aging").join(latest).join("part-0.parquet"));
    let buckets: Vec<String> =
        again.get_column_names().iter().filter(|c| c.starts_with("bucket_")).map(|c| c.to_string()).collect();
    assert_eq!(buckets.len(), 4, "{buckets:?}");
    let published = common::records(&common::partition(&out, "aging", latest));
    // Money as the tables' exact decimal text ("1190.00"), in cents.
    let cents = |v: &Option<String>| v.as_deref().unwrap().replace('.', "").parse::<i64>().unwrap();
    for (new, old) in common::records(&again).iter().zip(&published) {
        assert_eq!(new["customer_id"], old["customer_id"]);
        assert_eq!(new["total_open"], old["total_open"], "the same open amounts");
        assert_eq!(buckets.iter().map(|b| cents(&new[b])).sum::<i64>(), cents(&new["total_open"]));
    }

    // Built again into the same folder with weekly snapshots, the table is replaced, not mixed.
    let o = analytics(&rebuilt, &["--tables", "aging", "--set", "analytics.snapshots=week_end"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let weekly: Vec<String> = std::fs::read_dir(rebuilt.join("aging"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(weekly.len() > partitions.len() * 4, "{} weekly partitions", weekly.len());
    let sunday = |p: &String| {
        let day = chrono::NaiveDate::parse_from_str(p.trim_start_matches("as_of="), "%Y-%m-%d").unwrap();
        chrono::Datelike::weekday(&day) == chrono::Weekday::Sun
    };
    assert!(weekly.iter().all(sunday), "only the weekly partitions: {weekly:?}");

    let o = analytics(&other, &["--tables", "agin"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("`agin` is not a table this command builds") && o.stderr.contains("kpi_monthly"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_run_split_by_customer_publishes_the_tables_of_one_machine() {
    let dir = tempfile::tempdir().unwrap();
    let single = |models: &str| {
        let out = dir.path().join(format!("single-models-{models}"));
        let models = format!("models.enabled={models}");
        let o = common::ardent(&["run", "--out", out.to_str().unwrap(), "--set", &models, "--set", "ecl.lgd=0.1"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        out
    };
    let (with_models, without_models) = (single("true"), single("false"));
    // 16 shards of the sample's 400 customers: some shards lack a segment or a currency, and
    // still line up with the others. 2 shards without the models, 16 with them.
    for (shards, models) in [("2", "false"), ("16", "true")] {
        let single = if models == "true" { &with_models } else { &without_models };
        let work = dir.path().join(format!("work-{shards}"));
        let out = dir.path().join(format!("out-{shards}"));
        let models_set = format!("models.enabled={models}");
        let shard = |args: &[&str]| {
            let common = ["--work", work.to_str().unwrap(), "--set", &models_set, "--set", "ecl.lgd=0.1"];
            common::ardent(&[&["shard"], args, &common].concat())
        };
        let step = |args: &[&str]| {
            let o = shard(args);
            assert_eq!(o.code, 0, "shard {args:?}: {}", o.stderr);
            o
        };
        let refused = |args: &[&str], why: &str| {
            let o = shard(args);
            assert_eq!(o.code, 3, "a step whose inputs are not ready: {}", o.stderr);
            assert!(o.stderr.contains(why), "{args:?}: {}", o.stderr);
            assert!(!out.join("_manifest.json").exists(), "nothing published");
        };
        // 16 shards are cut while validating, 2 from the validated tables afterwards.
        if shards == "16" {
            step(&["validate", "--shards", shards]);
        } else {
            step(&["validate"]);
        }
        step(&["split", "--shards", shards]);
        let n: u32 = shards.parse().unwrap();
        if n == 16 {
            let split = std::fs::read_dir(&work)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("split-"));
            let segments = |i: u32| -> std::collections::BTreeSet<String> {
                let path = split.as_ref().unwrap().join(format!("shard-{i:04}/inputs/customers.parquet"));
                common::records(&common::read_parquet(&path)).into_iter().filter_map(|r| r["segment"].clone()).collect()
            };
            let all: std::collections::BTreeSet<String> = (0..n).flat_map(segments).collect();
            assert!((0..n).any(|i| segments(i).len() < all.len()), "some shard lacks a segment the run has");
        }
        let each = |what: &str| {
            for i in 0..n {
                step(&[what, "--shards", shards, "--shard", &i.to_string()]);
            }
        };
        for i in 0..n {
            if i == 1 {
                // The merge refuses to publish until every shard has run; a shard draws its
                // training rows only once every shard has counted its panel.
                refused(&["merge", "--shards", shards, "--out", out.to_str().unwrap()], "shard 1 has not run");
                if models == "true" {
                    refused(&["draw", "--shards", shards, "--shard", "0"], "shard 1 has no complete run");
                }
            }
            step(&["run", "--shards", shards, "--shard", &i.to_string()]);
        }
        each("draw");
        if models == "true" {
            refused(&["score", "--shards", shards, "--shard", "0"], "not trained yet");
        }
        let trained = step(&["train", "--shards", shards]);
        if models == "false" {
            assert!(trained.stdout.contains("models are off"), "{}", trained.stdout);
        }
        if models == "true" {
            refused(&["merge", "--shards", shards, "--out", out.to_str().unwrap()], "shard 0 has no complete score");
        }
        each("score");
        step(&["merge", "--shards", shards, "--out", out.to_str().unwrap()]);
        let tables = |out: &Path| -> Vec<String> {
            common::manifest(out)["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["table"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(tables(&out), tables(single), "{shards} shards");
        assert!(tables(single).len() >= if models == "true" { 23 } else { 15 });
        for table in tables(single) {
            let (a, b) = (common::table_files(single, &table), common::table_files(&out, &table));
            let partitions =
                |files: &[(String, std::path::PathBuf)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
            assert_eq!(partitions(&a), partitions(&b), "{table}, {shards} shards");
            let (x, y) = (common::table(single, &table), common::table(&out, &table));
            assert!(x.equals_missing(&y), "{table} differs with {shards} shards:\n{x}\n{y}");
        }
        let pd_rows = common::records(&common::table(&out, "ecl"))
            .iter()
            .filter(|r| r["method"].as_deref() == Some("pd"))
            .count();
        assert_eq!(pd_rows > 0, models == "true", "the PD method's rows come with the models");
        // The models themselves: every artifact byte for byte, and the manifest's account.
        let (a, b) = (common::manifest(single), common::manifest(&out));
        assert_eq!(a["models"], b["models"], "{shards} shards");
        if models == "true" {
            let candidates = a["models"]["candidates"].as_array().unwrap();
            assert!(candidates.len() >= 4, "{candidates:?}");
            for c in candidates {
                let path = c["path"].as_str().unwrap();
                let files = |root: &Path| {
                    let manifest = common::manifest(root);
                    let dir = root.join(manifest["data_prefix"].as_str().unwrap()).join(path);
                    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
                        .collect();
                    files.sort();
                    assert!(files.iter().any(|f| f.0 == "model.json"), "{}", dir.display());
                    files
                };
                assert_eq!(files(single), files(&out), "{path} with {shards} shards");
            }
        }
    }
}
