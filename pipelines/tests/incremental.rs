//! Incremental runs over folders of export batches (issue 5): batches are recorded by
//! checksum, a run without a new batch changes nothing, a new batch updates the outputs
//! (to exactly what one run over all the data gives), a batch delivered twice is not
//! counted twice, and a corrected re-export replaces the earlier rows (latest export wins)
//! and says so.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::manifest;
use polars::prelude::*;
use serde_json::Value;

/// The header and the data lines of a CSV file.
fn csv_lines(path: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn write_csv(path: &Path, header: &str, lines: &[String]) {
    common::write(path, &format!("{header}\n{}\n", lines.join("\n")));
}

/// (path, SHA-256) of the analytics files of a manifest (they do not name input files).
fn analytics(m: &Value) -> Vec<(String, String)> {
    common::file_hashes(m, |p| {
        p.starts_with("aging/")
            || ["kpi_monthly.parquet", "cohorts.parquet", "roll_rates.parquet", "unapplied_cash.parquet"].contains(&p)
    })
}

fn run(config: &Path, out: &Path) -> common::Outcome {
    let o = common::run_without_models(config, out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o
}

fn run_ids(out: &Path) -> usize {
    std::fs::read_dir(out.join("runs")).unwrap().count()
}

#[test]
fn batches_are_ingested_once_and_the_latest_export_wins() {
    let dir = tempfile::tempdir().unwrap();
    let full = common::generate(&dir.path().join("full"), 150, 11, 0.0);
    let data = full.parent().unwrap();
    let drop = dir.path().join("drop");
    let (ledger_header, ledger) = csv_lines(&data.join("ledger.csv"));
    let (payments_header, payments) = csv_lines(&data.join("payments.csv"));
    let (l_half, p_half) = (ledger.len() / 2, payments.len() / 2);
    write_csv(&drop.join("ledger/ledger_2025-06-30.csv"), &ledger_header, &ledger[..l_half]);
    write_csv(&drop.join("payments/payments_2025-06-30.csv"), &payments_header, &payments[..p_half]);
    let config = drop.join("pipeline.toml");
    let state = dir.path().join("state");
    common::write(
        &config,
        &format!(
            "[run]\nincremental = true\nstate = \"{}\"\nmax_rejected_share = 0.5\n\n\
             [inputs.fx_rates]\npath = \"{}\"\n[inputs.customers]\npath = \"{}\"\n\
             [inputs.ledger]\npath = \"ledger/\"\n[inputs.payments]\npath = \"payments/\"\n",
            state.display(),
            data.join("fx_rates.csv").display(),
            data.join("customers.csv").display(),
        ),
    );
    let out = dir.path().join("out");

    // The first batch.
    let o = run(&config, &out);
    assert!(o.stdout.contains("batches ledger     1 new, 0 ingested before"), "{}", o.stdout);
    let first = manifest(&out);
    assert_eq!(first["inputs"][2]["rows_read"], l_half as u64);

    // Nothing new: nothing changes, not even the run folders.
    let o = run(&config, &out);
    assert!(o.stdout.contains("no new export batch"), "{}", o.stdout);
    assert_eq!(manifest(&out)["run_id"], first["run_id"]);
    assert_eq!(run_ids(&out), 1);

    // The second batch: the outputs are what one run over all the data gives.
    write_csv(&drop.join("ledger/ledger_2025-12-31.csv"), &ledger_header, &ledger[l_half..]);
    write_csv(&drop.join("payments/payments_2025-12-31.csv"), &payments_header, &payments[p_half..]);
    let o = run(&config, &out);
    assert!(o.stdout.contains("batches ledger     1 new, 1 ingested before"), "{}", o.stdout);
    let second = manifest(&out);
    assert_ne!(second["run_id"], first["run_id"]);
    assert_eq!(second["inputs"][2]["rows_read"], ledger.len() as u64);
    let whole_out = dir.path().join("whole");
    run(&full, &whole_out);
    let whole = manifest(&whole_out);
    assert!(analytics(&whole).len() > 10);
    assert_eq!(analytics(&second), analytics(&whole), "batch by batch = all at once");

    // The same batch delivered again under another name (and the drop folder emptied of
    // the first batch: the archive keeps it): nothing changes.
    std::fs::copy(drop.join("ledger/ledger_2025-12-31.csv"), drop.join("ledger/ledger_2025-12-31_resent.csv")).unwrap();
    std::fs::remove_file(drop.join("ledger/ledger_2025-06-30.csv")).unwrap();
    let o = run(&config, &out);
    assert!(
        o.stdout.contains("1 delivered again (skipped)") && o.stdout.contains("no new export batch"),
        "{}",
        o.stdout
    );
    assert_eq!(manifest(&out)["run_id"], second["run_id"]);

    // A corrected re-export of five invoices from the first batch: the latest wins.
    let invoices: Vec<&String> = ledger[..l_half].iter().filter(|l| l.contains(",invoice,")).take(5).collect();
    let corrected: Vec<String> = invoices
        .iter()
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            f[5] = "12345.67".to_string();
            f.join(",")
        })
        .collect();
    // The batch repeats its first correction with another amount: within one export a
    // repeat is still a duplicate, and the first occurrence is kept.
    let mut batch = corrected.clone();
    batch.push(corrected[0].replace("12345.67", "99.99"));
    write_csv(&drop.join("ledger/ledger_2026-01-05.csv"), &ledger_header, &batch);
    // `validate` checks the new batch together with the archive, and records nothing.
    let state_before = std::fs::read(state.join("batches.json")).unwrap();
    let v = common::ardent(&["validate", "--config", config.to_str().unwrap(), "--set", "models.enabled=false"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("5 rows replaced by a later export"), "{}", v.stdout);
    assert_eq!(std::fs::read(state.join("batches.json")).unwrap(), state_before);
    assert!(!state.join("batches/ledger/ledger_2026-01-05.csv").exists());
    let o = run(&config, &out);
    assert!(o.stdout.contains("5 rows replaced by a later export"), "{}", o.stdout);
    let third = manifest(&out);
    let counts = &third["inputs"][2];
    assert_eq!(counts["input"], "ledger");
    assert_eq!(counts["rows_read"], ledger.len() as u64 + 6);
    assert_eq!(counts["rows_superseded"], 5);
    assert_eq!(counts["rows_quarantined"], 6);
    assert_eq!(
        counts["rows_read"].as_u64().unwrap(),
        counts["rows_accepted"].as_u64().unwrap() + counts["rows_quarantined"].as_u64().unwrap()
    );
    assert_ne!(analytics(&third), analytics(&second), "the correction changes the numbers");
    let ids: Vec<String> = corrected.iter().map(|l| l.split(',').next().unwrap().to_string()).collect();
    let ledger_table = common::table(&out, "ledger");
    let doc = ledger_table.column("doc_id").unwrap().str().unwrap().clone();
    let amount = ledger_table.column("amount").unwrap().cast(&DataType::Float64).unwrap();
    let amount = amount.f64().unwrap();
    for id in &ids {
        let rows: Vec<f64> =
            doc.iter().zip(amount.iter()).filter(|(d, _)| *d == Some(id.as_str())).map(|(_, a)| a.unwrap()).collect();
        assert_eq!(rows, [12345.67], "{id} has exactly its corrected row");
    }
    let quarantine = common::table(&out, "quarantine");
    let rules = quarantine.column("rule").unwrap().str().unwrap().clone();
    let files = quarantine.column("source_file").unwrap().str().unwrap().clone();
    let superseded: Vec<&str> =
        rules.iter().zip(files.iter()).filter(|(r, _)| *r == Some("superseded")).map(|(_, f)| f.unwrap()).collect();
    assert_eq!(superseded.len(), 5);
    assert!(superseded.iter().all(|f| f.ends_with("ledger/ledger_2025-06-30.csv")), "{superseded:?}");
    let repeats: Vec<&str> =
        rules.iter().zip(files.iter()).filter(|(r, _)| *r == Some("duplicate_id")).map(|(_, f)| f.unwrap()).collect();
    assert!(repeats.len() == 1 && repeats[0].ends_with("ledger/ledger_2026-01-05.csv"), "{repeats:?}");
    let v = common::ardent(&["verify", out.to_str().unwrap()]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

/// Start `ardent run` and SIGKILL it right after it prints a line containing `marker`.
fn run_killed_after(config: &Path, out: &Path, marker: &str) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ardent"))
        .args(["run", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--set", "models.enabled=false"])
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    // Lines from both streams, as they come.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx2 = tx.clone();
    std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
    std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(l))));
    for line in rx {
        if line.contains(marker) {
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        }
    }
    panic!("the run ended without printing `{marker}`: {:?}", child.wait());
}

/// Every order of deliver, kill, empty and deliver again that an operator can produce: each
/// batch is ingested exactly once, none is lost, and the outputs end as one run over all the
/// data gives (issue 19: emptying the drop folder made the next run exit 3, and a batch
/// archived by a killed run was deleted once the drop folder was emptied).
#[test]
fn no_order_of_deliver_kill_empty_and_redeliver_loses_or_doubles_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let full = common::generate(&dir.path().join("full"), 120, 5, 0.0);
    let data = full.parent().unwrap();
    let (lh, ledger) = csv_lines(&data.join("ledger.csv"));
    let (ph, payments) = csv_lines(&data.join("payments.csv"));
    let whole_out = dir.path().join("whole");
    run(&full, &whole_out);
    let whole = analytics(&manifest(&whole_out));
    // Three batches of the data, by thirds.
    let thirds = |v: &[String], k: usize| v[v.len() * k / 3..v.len() * (k + 1) / 3].to_vec();
    // Killed: after archiving; while writing the tables; between two tables' Delta commits
    // (some tables at the new version, the manifest still naming the last run); after the
    // commit point.
    let kill_points =
        ["archived", "publish: wrote ledger.parquet", "publish: kpi_monthly version", "now points to run"];
    // (what happens to batch 2 before the final runs): killed at a point, then the drop
    // folder emptied or the batch delivered again.
    for (case, kill_at) in kill_points.iter().enumerate() {
        for empty in [true, false] {
            let what = format!("killed after `{kill_at}`, drop folder {}", if empty { "emptied" } else { "kept" });
            let root = dir.path().join(format!("case-{case}-{empty}"));
            let drop = root.join("drop");
            let deliver = |k: usize| {
                write_csv(&drop.join(format!("ledger/ledger_{k}.csv")), &lh, &thirds(&ledger, k));
                write_csv(&drop.join(format!("payments/payments_{k}.csv")), &ph, &thirds(&payments, k));
            };
            let empty_drop = || {
                for input in ["ledger", "payments"] {
                    for f in std::fs::read_dir(drop.join(input)).unwrap() {
                        std::fs::remove_file(f.unwrap().path()).unwrap();
                    }
                }
            };
            let config = root.join("pipeline.toml");
            common::write(
                &config,
                &format!(
                    "[run]\nincremental = true\nstate = \"{}\"\nmax_rejected_share = 0.5\n\n\
                     [inputs.fx_rates]\npath = \"{}\"\n[inputs.customers]\npath = \"{}\"\n\
                     [inputs.ledger]\npath = \"drop/ledger/\"\n[inputs.payments]\npath = \"drop/payments/\"\n",
                    root.join("state").display(),
                    data.join("fx_rates.csv").display(),
                    data.join("customers.csv").display(),
                ),
            );
            let out = root.join("out");
            deliver(0);
            run(&config, &out);
            // The drop folder emptied after a published run: nothing new, nothing lost.
            empty_drop();
            let o = run(&config, &out);
            assert!(o.stdout.contains("no new export batch"), "{what}: {}", o.stdout);
            deliver(1);
            run_killed_after(&config, &out, kill_at);
            if empty {
                empty_drop();
            } else {
                // Delivered again (same content) next to the copy the killed run archived.
                deliver(1);
            }
            deliver(2);
            let o = run(&config, &out);
            assert!(o.stdout.contains("archived"), "{what}: {}", o.stdout);
            let m = manifest(&out);
            assert_eq!(m["inputs"][2]["rows_read"], ledger.len() as u64, "{what}: every ledger row once");
            assert_eq!(m["inputs"][3]["rows_read"], payments.len() as u64, "{what}: every payment once");
            assert_eq!(analytics(&m), whole, "{what}: batch by batch = all at once");
            let o = run(&config, &out);
            assert!(o.stdout.contains("no new export batch"), "{what}: {}", o.stdout);
            let v = common::ardent(&["verify", out.to_str().unwrap()]);
            assert_eq!(v.code, 0, "{what}: {}{}", v.stdout, v.stderr);
        }
    }
}
