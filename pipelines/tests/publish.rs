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
    let hashes = |m: &serde_json::Value| common::file_hashes(m, |_| true);
    for m in &manifests[1..] {
        assert_eq!(hashes(m), hashes(&manifests[0]), "same inputs and config, same bytes");
        assert_eq!(m["outputs"].as_array().unwrap().len(), manifests[0]["outputs"].as_array().unwrap().len());
    }
    // Each run is one version of every table, at a stable path, committed by the run.
    for (i, m) in manifests.iter().enumerate() {
        for o in m["outputs"].as_array().unwrap() {
            let table = o["table"].as_str().unwrap();
            assert_eq!(o["path"].as_str().unwrap(), format!("{table}/"));
            assert_eq!(o["version"].as_i64().unwrap(), i as i64, "{table}");
        }
    }
    let log = std::fs::read_to_string(out.join("kpi_monthly/_delta_log/00000000000000000002.json")).unwrap();
    assert!(log.contains(&format!(r#""ardent_run_id":"{}""#, ids[2])), "{log}");
    // The published run and the one before it stay; the first is pruned, in runs/ and in
    // every table (its versions' files), never the logs.
    assert_eq!(run_ids(&out), [ids[1], ids[2]]);
    assert_eq!(std::fs::read_link(out.join("current")).unwrap(), Path::new("runs").join(ids[2]));
    for table in ["kpi_monthly", "aging"] {
        let mut runs: Vec<String> = walk(&out.join(table))
            .iter()
            .filter_map(|p| p.strip_suffix(".parquet")?.rsplit("part-").next().map(str::to_string))
            .collect();
        runs.sort();
        runs.dedup();
        assert_eq!(runs, [ids[1], ids[2]], "{table}");
        assert!(out.join(table).join("_delta_log/00000000000000000000.json").is_file());
    }
    let v = verify(&out);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);
}

/// Every file under `dir`, relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            found.extend(walk(&entry.path()).into_iter().map(|p| format!("{name}/{p}")));
        } else {
            found.push(name);
        }
    }
    found
}

/// Plain Parquet publishing (`run.table_format = "parquet"`): the tables stay in the run
/// folder and stable paths at the output root link to the published run's files.
#[test]
fn plain_parquet_publishing_links_stable_paths_to_the_published_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "run.table_format=\"parquet\"",
        "--set",
        "models.enabled=false",
    ];
    for _ in 0..2 {
        let o = common::ardent(&args);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let m = manifest(&out);
    assert_eq!(m["table_format"], "parquet");
    let id = m["run_id"].as_str().unwrap();
    assert_eq!(
        std::fs::read(out.join("kpi_monthly.parquet")).unwrap(),
        std::fs::read(out.join("runs").join(id).join("kpi_monthly.parquet")).unwrap()
    );
    assert_eq!(std::fs::read_link(out.join("aging")).unwrap(), Path::new("current").join("aging"));
    assert!(!out.join("kpi_monthly").exists(), "no Delta table");
    assert_eq!(verify(&out).code, 0);
    // Switching to Delta: the tables move to their stable folders, the links go.
    let o = common::ardent(&["run", "--out", out.to_str().unwrap(), "--set", "models.enabled=false"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(out.join("aging/_delta_log").is_dir() && !out.join("kpi_monthly.parquet").exists());
    assert!(std::fs::symlink_metadata(out.join("aging")).unwrap().is_dir());
    assert_eq!(verify(&out).code, 0);
    // And back is refused before anything is published: a link would replace a Delta table.
    let published = manifest(&out)["run_id"].clone();
    let o = common::ardent(&args);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("is a Delta table, and this run publishes plain Parquet"), "{}", o.stderr);
    assert_eq!(manifest(&out)["run_id"], published);
    assert_eq!(verify(&out).code, 0);
}

#[test]
fn verify_fails_with_exit_7_on_a_damaged_output_and_3_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    let v = verify(&dir.path().join("nothing-here"));
    assert_eq!(v.code, 3, "{}", v.stderr);
    assert!(v.stderr.contains("no readable manifest"), "{}", v.stderr);

    // A truncated table, a file nobody listed, and a version of another table that the
    // run did not commit.
    let m = manifest(&out);
    let run = out.join(m["data_prefix"].as_str().unwrap());
    let kpi = m["outputs"].as_array().unwrap().iter().find(|o| o["table"] == "kpi_monthly").unwrap();
    let file = kpi["files"][0]["path"].as_str().unwrap();
    let table = out.join("kpi_monthly").join(file);
    let bytes = std::fs::read(&table).unwrap();
    std::fs::write(&table, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(run.join("stray.parquet"), b"not listed").unwrap();
    let log = out.join("cohorts/_delta_log/00000000000000000000.json");
    let text =
        std::fs::read_to_string(&log).unwrap().replace(m["run_id"].as_str().unwrap(), "20200101T000000.000Z-00000000");
    std::fs::write(&log, text).unwrap();
    let v = verify(&out);
    assert_eq!(v.code, 7, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains(&format!("kpi_monthly/{file}: ")) && v.stdout.contains("bytes, the manifest says"),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("stray.parquet: in the run folder but not in the manifest"), "{}", v.stdout);
    assert!(v.stdout.contains("not a readable Parquet file"), "{}", v.stdout);
    assert!(v.stdout.contains("cohorts: version 0 was committed by run 20200101T000000.000Z-00000000"), "{}", v.stdout);
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
        "publish: kpi_monthly version",
    ] {
        assert!(run_and_kill_after(&out, marker), "the run never printed `{marker}`");
        let now = manifest(&out);
        let id = now["run_id"].as_str().unwrap();
        // A kill lands a moment after the line; at the last points the run may have
        // committed by then, and then the new run must be whole.
        if !marker.starts_with("publish: ") {
            assert_eq!(id, first_id, "killed after `{marker}`, the previous output must stay published");
        }
        let v = verify(&out);
        assert_eq!(v.code, 0, "killed after `{marker}`: {}{}", v.stdout, v.stderr);
        // Same inputs, same bytes, whichever run is published.
        assert_eq!(
            common::file_hashes(&now, |_| true),
            common::file_hashes(&first, |_| true),
            "killed after `{marker}`: the data must not change"
        );
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
    let o = common::ardent(&["run", "--out", out.to_str().unwrap(), "--set", "run.table_format=\"parquet\""]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for name in ["_manifest.json", "ledger.parquet", "aging"] {
        let link = std::fs::read_link(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(link, Path::new("current").join(name));
    }
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "not ardent's", "other files stay");
    let v = verify(&out);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

/// Start `ardent run --out out` with `extra` arguments, without waiting.
fn spawn_run(out: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ardent"))
        .args(["run", "--out", out.to_str().unwrap()])
        .args(extra)
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> (i32, String) {
    let o = child.wait_with_output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Two runs into one output at once, 20 times: each time exactly one publishes, the other
/// stops at once with exit code 8 naming the holder, the output verifies, and the run
/// published before the trial is still kept (issue 19: 5 trials in 6 corrupted the output).
#[test]
fn two_runs_into_one_output_one_publishes_and_the_other_exits_8() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fast = ["--set", "models.enabled=false"];
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap(), fast[0], fast[1]]).code, 0);
    for trial in 0..20 {
        let before = manifest(&out)["run_id"].as_str().unwrap().to_string();
        let (a, b) = (spawn_run(&out, &fast), spawn_run(&out, &fast));
        let (a, b) = (finish(a), finish(b));
        let mut codes = [a.0, b.0];
        codes.sort();
        assert_eq!(codes, [0, 8], "trial {trial}: one publishes, one is refused:\n{}\n{}", a.1, b.1);
        let refused = if a.0 == 8 { &a.1 } else { &b.1 };
        assert!(refused.contains("is being written by run") && refused.contains("pid "), "trial {trial}: {refused}");
        let v = verify(&out);
        assert_eq!(v.code, 0, "trial {trial}: {}{}", v.stdout, v.stderr);
        let now = manifest(&out);
        assert_ne!(now["run_id"].as_str().unwrap(), before, "trial {trial}: the winner published");
        assert_eq!(now["previous_runs"][0].as_str().unwrap(), before, "trial {trial}: the earlier run is kept");
        assert!(run_ids(&out).contains(&before), "trial {trial}: the earlier run's folder is kept");
    }
    assert!(!out.join(".ardent.lock").exists(), "the last run released its lock");
}

/// Stop a run right after it prints a line containing `marker`, call `meanwhile`, then let
/// it go on; returns its exit code and stderr.
fn run_paused_after(out: &Path, marker: &str, meanwhile: impl FnOnce()) -> (i32, String) {
    let mut child = spawn_run(out, &[]);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line.contains(marker) {
            let pid = child.id().to_string();
            assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
            meanwhile();
            assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
            break;
        }
    }
    for line in lines {
        text.push_str(&line.unwrap());
        text.push('\n');
    }
    (child.wait().unwrap().code().unwrap_or(-1), text)
}

/// A table removed from the run folder while the run goes on is not published missing: the
/// run checks every file against what it wrote and refuses (exit 6); the previous output
/// stays published.
#[test]
fn a_file_removed_from_the_run_folder_before_commit_is_never_published() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    let first = manifest(&out)["run_id"].as_str().unwrap().to_string();
    let runs = out.join("runs");
    let (code, stderr) = run_paused_after(&out, "publish: wrote customer_scores.parquet", || {
        let partial = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".partial"))
            .expect("a run folder being written");
        std::fs::remove_file(partial.join("customers.parquet")).unwrap();
    });
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("customers.parquet is missing") && stderr.contains("nothing was published"), "{stderr}");
    assert_eq!(manifest(&out)["run_id"].as_str().unwrap(), first);
    assert_eq!(verify(&out).code, 0);
}

/// A run folder complete but never published (the run died between moving it into place
/// and switching `current` to it) is pruned by the next run, and the run that was published
/// before stays: pruning keeps published runs only.
#[test]
fn a_run_that_never_published_cannot_displace_a_published_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = || assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap()]).code, 0);
    run();
    let published = manifest(&out)["run_id"].as_str().unwrap().to_string();
    // A later, complete run folder that `current` never named.
    let orphan = format!("{published}-orphan");
    let copy = Command::new("cp")
        .args([
            "-r",
            out.join("runs").join(&published).to_str().unwrap(),
            out.join("runs").join(&orphan).to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copy.success());
    run();
    let ids = run_ids(&out);
    assert!(ids.contains(&published), "the run published before is kept: {ids:?}");
    assert!(!ids.contains(&orphan), "the run that never published is pruned: {ids:?}");
    assert_eq!(verify(&out).code, 0);
}

/// A small tmpfs mounted for a test, unmounted when dropped; `None` (and the test says it is
/// skipped) where this process may not mount one.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str()?])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    /// Fill the file system but for about `leave` bytes.
    fn fill(&self, leave: u64) {
        let out = Command::new("df").args(["-B1", "--output=avail", self.0.to_str().unwrap()]).output().unwrap();
        let avail: u64 = String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap();
        let filler = vec![0u8; avail.saturating_sub(leave) as usize];
        std::fs::write(self.0.join("filler"), filler).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full disk under the output is an I/O failure (exit 6, naming the file and the OS
/// error), nothing is published, nothing is left behind, and the output published before
/// stays whole; a full temporary folder likewise (issue 19: a full disk while writing a
/// Parquet file exited 1 as an "internal error").
#[test]
fn a_full_disk_or_temporary_folder_exits_6_and_the_last_output_stays() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "8m") else { return };
    let out = disk.0.join("out");
    let fast = ["--set", "models.enabled=false"];
    assert_eq!(common::ardent(&["run", "--out", out.to_str().unwrap(), fast[0], fast[1]]).code, 0);
    let first = manifest(&out)["run_id"].as_str().unwrap().to_string();
    disk.fill(200_000);
    let o = common::ardent(&["run", "--out", out.to_str().unwrap(), fast[0], fast[1]]);
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert!(o.stderr.contains("No space left on device"), "{}", o.stderr);
    assert_eq!(manifest(&out)["run_id"].as_str().unwrap(), first);
    assert_eq!(run_ids(&out), std::slice::from_ref(&first), "the failed run left nothing");
    assert_eq!(verify(&out).code, 0);

    // The temporary folder full: the models' feature panel cannot be written.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let Some(tmp) = Tmpfs::mount(&dir.path().join("tmp"), "64k") else { return };
    let o = common::ardent_env(&[("TMPDIR", tmp.0.to_str().unwrap())], &["run", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 6, "{}", o.stderr);
    assert!(o.stderr.contains("Set TMPDIR"), "{}", o.stderr);
    assert_eq!(manifest(&out)["run_id"].as_str().unwrap(), first);
}

/// A Delta table an earlier run published and a later run does not produce (models turned
/// off) gets an empty version, so no reader takes the old scores for the new run's; its old
/// files go once no kept run needs them, and it fills again when the models come back.
#[test]
fn a_table_a_run_does_not_produce_is_emptied_not_left_stale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = common::ardent(&args);
        assert_eq!(o.code, 0, "{}", o.stderr);
        manifest(&out)
    };
    let with_models = run(&[]);
    assert!(with_models["outputs"].as_array().unwrap().iter().any(|o| o["table"] == "customer_scores"));
    let scores_files = || -> Vec<String> {
        walk(&out.join("customer_scores")).into_iter().filter(|p| p.ends_with(".parquet")).collect()
    };
    assert_eq!(scores_files().len(), 1);
    let without = run(&["--set", "models.enabled=false"]);
    let emptied: Vec<&str> =
        without["emptied_tables"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(emptied.contains(&"customer_scores") && emptied.contains(&"model_metrics"), "{emptied:?}");
    let log = std::fs::read_to_string(out.join("customer_scores/_delta_log/00000000000000000001.json")).unwrap();
    assert!(log.contains(r#""remove""#) && !log.contains(r#""add""#), "an empty version: {log}");
    assert!(log.contains(without["run_id"].as_str().unwrap()));
    // The first run is still kept (keep_runs = 2): its scores file stays for time travel.
    assert_eq!(scores_files().len(), 1);
    let again = run(&["--set", "models.enabled=false"]);
    assert_eq!(again["emptied_tables"], without["emptied_tables"], "still emptied, not emptied again");
    assert!(!out.join("customer_scores/_delta_log/00000000000000000002.json").exists());
    assert!(scores_files().is_empty(), "the first run is no longer kept: its files go");
    assert_eq!(verify(&out).code, 0);
    let back = run(&[]);
    assert!(back["emptied_tables"].is_null(), "{}", back["emptied_tables"]);
    let scores = back["outputs"].as_array().unwrap().iter().find(|o| o["table"] == "customer_scores").unwrap();
    assert_eq!(scores["version"], 2);
    assert_eq!(verify(&out).code, 0);
}
