//! `--log-format json` (issue 5): every line on stderr is one JSON object, the run ends with a
//! `run_summary` event whose counts and stage timings are the manifest's, and an error is an
//! `error` event carrying the exit code. Without a terminal there is no progress bar.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;

#[test]
fn json_logs_end_with_a_run_summary_that_matches_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = common::ardent(&["--log-format", "json", "run", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let events: Vec<Value> =
        o.stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(events.iter().all(|e| e["timestamp"].is_string() && e["level"] == "info"));
    // Every line is an event with fields, not free text alone.
    assert!(events.iter().all(|e| e["event"].is_string()), "{}", o.stderr);
    let of = |name: &str| events.iter().filter(|e| e["event"] == name).collect::<Vec<_>>();
    let written = of("table_written");
    let ledger = written.iter().find(|e| e["table"] == "ledger").unwrap();
    let manifest = common::manifest(&out);
    let rows_of =
        |t: &str| manifest["outputs"].as_array().unwrap().iter().find(|o| o["table"] == t).unwrap()["rows"].clone();
    assert_eq!(ledger["rows"], rows_of("ledger"));
    let committed = of("table_committed");
    assert_eq!(committed.len(), manifest["outputs"].as_array().unwrap().len(), "one commit per table");
    assert!(committed.iter().all(|e| e["version"] == 0 && e["files"].as_u64().unwrap() >= 1));
    assert_eq!(of("run_published")[0]["run_id"], manifest["run_id"]);
    let files = of("file_read");
    assert!(files.iter().any(|e| e["input"] == "ledger" && e["rows"].as_u64().unwrap() > 5_000), "{files:?}");
    // Progress inside ingest (rows validated per table) and analytics (each as-of date).
    let progress = |stage: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["event"] == "progress" && e["stage"] == stage)
            .map(|e| e["step"].as_str().unwrap().to_string())
            .collect()
    };
    let ingest = progress("ingest");
    let last_ledger = ingest.iter().rev().find(|s| s.starts_with("ledger: ")).unwrap();
    assert_eq!(*last_ledger, format!("ledger: {} rows validated", rows_of("ledger")), "{ingest:?}");
    let analytics = progress("analytics");
    let dates = analytics.iter().filter(|s| s.starts_with("aging as of ")).count();
    let aging = manifest["outputs"].as_array().unwrap().iter().find(|o| o["table"] == "aging").unwrap();
    assert_eq!(Some(dates as u64), aging["partitioned_by"][1].as_u64(), "one step per as-of date");
    assert!(analytics.iter().any(|s| s.starts_with("kpi_monthly: ")), "{analytics:?}");
    let stages: Vec<&str> =
        events.iter().filter(|e| e["event"] == "stage").map(|e| e["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["ingest", "analytics", "models", "publish"]);
    // Inside the long models stage, what it is doing: each month end scored, in order.
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "progress" && e["stage"] == "models")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"building the feature panel and labels"), "{steps:?}");
    assert!(steps.contains(&"training the customer and invoice models"), "{steps:?}");
    let scored: Vec<&&str> = steps.iter().filter(|s| s.starts_with("scoring month end")).collect();
    assert!(scored.len() > 12, "{steps:?}");
    assert!(
        scored[0].starts_with("scoring month end 1 of ")
            && scored.last().unwrap().contains(&format!("{} of {}", scored.len(), scored.len())),
        "{scored:?}"
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "run_summary");
    assert_eq!(summary["status"], "published");
    assert_eq!(summary["run_id"], manifest["run_id"]);
    for (s, m) in summary["inputs"].as_array().unwrap().iter().zip(manifest["inputs"].as_array().unwrap()) {
        assert_eq!(s["input"], m["input"]);
        for key in ["rows_read", "rows_accepted", "rows_quarantined", "rows_flagged"] {
            assert_eq!(s[key], m[key], "{key}");
        }
        assert_eq!(
            s["rows_read"].as_u64(),
            Some(s["rows_accepted"].as_u64().unwrap() + s["rows_quarantined"].as_u64().unwrap())
        );
    }
    let timings = summary["timings_ms"].as_object().unwrap();
    let manifest_timings = manifest["timings_ms"].as_array().unwrap();
    assert_eq!(timings.len(), manifest_timings.len());
    for t in manifest_timings {
        assert_eq!(timings[t[0].as_str().unwrap()], t[1], "stage timings are the manifest's");
    }
    assert!(["ingest", "analytics", "models", "publish"].iter().all(|s| timings.contains_key(*s)), "{timings:?}");
    // Results for a person still go to stdout; no progress bar without a terminal.
    assert!(o.stdout.contains("published"), "{}", o.stdout);
    assert!(!o.stderr.contains('\r') && !o.stderr.contains("\u{1b}["), "no terminal drawing");
}

#[test]
fn an_error_is_a_json_event_with_its_exit_code() {
    let o = common::ardent(&["--log-format", "json", "validate", "--config", "no/such/pipeline.toml"]);
    assert_eq!(o.code, 2);
    let last: Value = serde_json::from_str(o.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["exit_code"], 2);
    assert!(last["message"].as_str().unwrap().contains("no/such/pipeline.toml"), "{last}");
}
