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
