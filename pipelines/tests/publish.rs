//! Publishing is atomic and repeatable: a run killed at any point leaves the last published
//! output intact (issue 5), re-running the same config publishes identical data, old runs
//! are pruned, and `ardent verify` tells a good output from a damaged one.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::manifest;

fn run_ids(out: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

fn verify(out: &Path) -> common::Outcome {
    common::ardent(&["verify", out.to_str().unwrap()])
}

#[test]
fn rerunning_the_same_config_publishes_identical_data_and_keeps_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut manifests = Vec::new();
    for _ in 0..3 {
        let o = common::ardent(&["run", "--out", out.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        manifests.push(manifest(&out));
    }
    let ids: Vec<&str> = manifests.iter().map(|m| m["run_id"].as_str().unwrap()).collect();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "each run gets a new, later id: {ids:?}");
    for m in &manifests[1..] {
        assert_eq!(m["files"], manifests[0]["files"], "same inputs and config, same bytes");
        assert_eq!(m["outputs"], manifests[0]["outputs"]);
    }
    // The published run and the one before it stay; the first is pruned.
    assert_eq!(run_ids(&out), [ids[1], ids[2]]);
    assert_eq!(std::fs::read_link(out.join("current")).unwrap(), Path::new("runs").join(ids[2]));
    // Stable paths for BI tools lead to the published run's files.
    assert_eq!(
        std::fs::read(out.join("kpi_monthly.parquet")).unwrap(),
        std::fs::read(out.join("runs").join(ids[2]).join("kpi_monthly.parquet")).unwrap()
    );
    let v = verify(&out);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
}

#[test]
fn verify_fails_with_exit_7_on_a_damaged_output_and_3_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    let v = verify(&dir.path().join("nothing-here"));
    assert_eq!(v.code, 3, "{}", v.stderr);
    assert!(v.stderr.contains("no readable manifest"), "{}", v.stderr);

    // A truncated table, and a file nobody listed.
    let run = out.join(manifest(&out)["data_prefix"].as_str().unwrap());
    let table = run.join("kpi_monthly.parquet");
    let bytes = std::fs::read(&table).unwrap();
    std::fs::write(&table, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(run.join("stray.parquet"), b"not listed").unwrap();
    let v = verify(&out);
    assert_eq!(v.code, 7, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains("kpi_monthly.parquet: ") && v.stdout.contains("bytes, the manifest says"),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("stray.parquet: in the run folder but not in the manifest"), "{}", v.stdout);
    assert!(v.stdout.contains("not a readable Parquet file"), "{}", v.stdout);
}

/// Start `ardent run` and SIGKILL it right after it prints a line containing `marker`
/// (or let it finish if it never does). Returns whether it was killed.
fn run_and_kill_after(out: &Path, marker: &str) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ardent"))
        .args(["run", "--out", out.to_str().unwrap()])
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains(marker) {
            child.kill().unwrap(); // SIGKILL on Unix: no cleanup runs.
            child.wait().unwrap();
            return true;
        }
    }
    child.wait().unwrap();
    false
}

#[test]
fn a_run_killed_at_any_point_leaves_the_last_published_output_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    let first = manifest(&out);
    let first_id = first["run_id"].as_str().unwrap().to_string();
    // Points before the commit: the first run must still be the published one.
    for marker in [
        "ingest:",
        "analytics:",
        "publish: staging",
        "publish: wrote ledger.parquet",
        "publish: wrote customer_scores.parquet",
        "publish: wrote aging/",
    ] {
        assert!(run_and_kill_after(&out, marker), "the run never printed `{marker}`");
        let now = manifest(&out);
        let id = now["run_id"].as_str().unwrap();
        // A kill lands a moment after the line; at the last points the run may have
        // committed by then, and then the new run must be whole.
        if !marker.starts_with("publish: wrote") {
            assert_eq!(id, first_id, "killed after `{marker}`, the previous output must stay published");
        }
        let v = verify(&out);
        assert_eq!(v.code, 0, "killed after `{marker}`: {}{}", v.stdout, v.stderr);
        assert_eq!(now["files"], first["files"], "killed after `{marker}`: the data must not change");
    }
    // Killed right after the commit: the new run is published and whole.
    assert!(run_and_kill_after(&out, "now points to run"));
    assert_ne!(manifest(&out)["run_id"], first_id);
    assert_eq!(verify(&out).code, 0);
    // The next complete run clears what the killed runs left behind.
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    let ids = run_ids(&out);
    assert_eq!(ids.len(), 2, "leftovers of killed runs are pruned: {ids:?}");
    assert!(ids.iter().all(|id| !id.ends_with(".partial")));
    assert_eq!(verify(&out).code, 0);
}

#[test]
fn an_output_folder_in_the_old_flat_layout_is_taken_over() {
    // Before runs/ and `current`, tables sat in the output folder as plain files and folders.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (name, body) in
        [("_manifest.json", "{}"), ("ledger.parquet", "old"), ("aging/as_of=2024-01-31/part-0.parquet", "old")]
    {
        common::write(&out.join(name), body);
    }
    common::write(&out.join("notes.txt"), "not ardent's");
    let o = common::ardent(&["run", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for name in ["_manifest.json", "ledger.parquet", "aging"] {
        let link = std::fs::read_link(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(link, Path::new("current").join(name));
    }
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "not ardent's", "other files stay");
    let v = verify(&out);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}
