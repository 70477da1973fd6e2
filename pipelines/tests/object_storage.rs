//! Inputs and outputs in an S3-compatible object store (issue 5): a real server (moto, from
//! PyPI) on 127.0.0.1, started by this test. `.ci/run` installs it and sets
//! `ARDENT_TEST_MOTO_SERVER` to its `moto_server` executable; without that variable (or
//! `moto_server` on the PATH) the test says it is skipped.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

const BUCKET: &str = "ardent-test";
const KEY: &str = "AKIAARDENTTEST";
// Must never show up in anything ardent prints or publishes.
const SECRET: &str = "s3cr3t-ardent-test-value";

/// A moto server that is stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_executable() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ARDENT_TEST_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join("moto_server")).find(|p| p.is_file())
}

fn start_moto() -> Option<Moto> {
    let Some(exe) = moto_executable() else {
        eprintln!("SKIPPED: no moto_server (set ARDENT_TEST_MOTO_SERVER; .ci/run installs it)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&exe)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    // Creating the bucket doubles as the readiness probe (S3 CreateBucket is a PUT).
    while http_put(port, &format!("/{BUCKET}")) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(30), "moto did not come up on port {port}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(moto)
}

fn http_put(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply.split_whitespace().nth(1)?.parse().ok()
}

fn store(moto: &Moto) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(&moto.endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(KEY)
        .with_secret_access_key(SECRET)
        .build()
        .unwrap()
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// `ardent` with the store's endpoint and credentials in its environment.
fn ardent_s3(moto: &Moto, args: &[&str]) -> common::Outcome {
    let o = common::ardent_env(
        &[
            ("AWS_ENDPOINT", moto.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
        args,
    );
    assert!(!o.stdout.contains(SECRET) && !o.stderr.contains(SECRET), "a credential was printed");
    o
}

fn sample_exports() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/exports")
}

/// (path, SHA-256) of the run files of a manifest whose content does not name input files.
fn analytic_files(manifest: &serde_json::Value) -> Vec<(String, String)> {
    common::file_hashes(manifest, |p| {
        p.starts_with("aging/")
            || p.ends_with("/model.json")
            || ["kpi_monthly.parquet", "cohorts.parquet", "roll_rates.parquet", "customer_scores.parquet"].contains(&p)
    })
}

#[test]
fn a_run_reads_its_exports_from_s3_and_publishes_there_atomically() {
    let Some(moto) = start_moto() else { return };
    let s3 = store(&moto);
    // The bundled exports, uploaded: the ledger as a folder of one file, the rest by glob
    // and by exact key.
    for (name, key) in [
        ("ledger.csv", "exports/ledger/ledger.csv"),
        ("payments.csv", "exports/payments.csv"),
        ("customers.csv", "exports/customers.csv"),
        ("fx_rates.csv", "exports/fx_rates.csv"),
    ] {
        let bytes = std::fs::read(sample_exports().join(name)).unwrap();
        block_on(s3.put(&ObjectPath::from(key), PutPayload::from(bytes))).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-data/pipeline.toml"))
        .unwrap()
        .replace("\"exports/ledger.csv\"", &format!("\"s3://{BUCKET}/exports/ledger/\""))
        .replace("\"exports/payments.csv\"", &format!("\"s3://{BUCKET}/exports/pay*.csv\""))
        .replace("\"exports/", &format!("\"s3://{BUCKET}/exports/"));
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, &sample).unwrap();
    let config = config.to_str().unwrap();
    let out = format!("s3://{BUCKET}/published");

    let first = ardent_s3(&moto, &["run", "--config", config, "--out", &out]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("fetched 1 file(s) for ledger"), "{}", first.stderr);
    let manifest_bytes = block_on(async { s3.get(&ObjectPath::from("published/_manifest.json")).await?.bytes().await })
        .unwrap()
        .to_vec();
    let text = String::from_utf8(manifest_bytes).unwrap();
    assert!(!text.contains(SECRET) && !text.contains(KEY), "credentials must not reach the manifest");
    let m1: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        m1["inputs"][2]["files"][0]["path"].as_str().unwrap().starts_with("s3://ardent-test/exports/"),
        "files are named by their URL: {}",
        m1["inputs"]
    );
    let v = ardent_s3(&moto, &["verify", &out]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    // The same exports read locally give the same analytics, byte for byte.
    let local_out = dir.path().join("local-out");
    let local = common::ardent(&["run", "--out", local_out.to_str().unwrap()]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let m_local = common::manifest(&local_out);
    let (remote_files, local_files) = (analytic_files(&m1), analytic_files(&m_local));
    assert!(remote_files.len() > 20, "{remote_files:?}");
    assert_eq!(remote_files, local_files);

    // A second run publishes a new run folder; two are kept.
    let second = ardent_s3(&moto, &["run", "--config", config, "--out", &out]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let listed: Vec<String> = block_on(async {
        use futures::TryStreamExt;
        s3.list(Some(&ObjectPath::from("published/runs"))).map_ok(|m| m.location.to_string()).try_collect().await
    })
    .unwrap();
    let mut runs: Vec<&str> = listed.iter().filter_map(|p| p.split('/').nth(2)).collect();
    runs.dedup();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(ardent_s3(&moto, &["verify", &out]).code, 0);

    // A damaged object fails verification.
    let m2: serde_json::Value = serde_json::from_slice(
        &block_on(async { s3.get(&ObjectPath::from("published/_manifest.json")).await?.bytes().await }).unwrap(),
    )
    .unwrap();
    let kpi = m2["outputs"].as_array().unwrap().iter().find(|o| o["table"] == "kpi_monthly").unwrap();
    let key = format!("published/kpi_monthly/{}", kpi["files"][0]["path"].as_str().unwrap());
    block_on(s3.put(&ObjectPath::from(key.as_str()), PutPayload::from(b"PAR1".to_vec()))).unwrap();
    let v = ardent_s3(&moto, &["verify", &out]);
    assert_eq!(v.code, 7, "{}{}", v.stdout, v.stderr);

    // An input location with nothing behind it is a missing input (exit 3), named by URL.
    std::fs::write(dir.path().join("pipeline.toml"), sample.replace("exports/ledger/", "nothing-here/")).unwrap();
    let missing = ardent_s3(&moto, &["validate", "--config", config]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("s3://ardent-test/nothing-here"), "{}", missing.stderr);
}

fn s3_env(moto: &Moto) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT", moto.endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
    ]
}

/// Two runs into one S3 output at once, 20 times: the lease object lets exactly one publish,
/// the other exits 8 naming the holder, the output verifies and the run published before the
/// trial is kept. A lease left by a dead run is taken over once it expired, not before.
#[test]
fn two_runs_into_one_s3_output_one_publishes_and_the_other_exits_8() {
    let Some(moto) = start_moto() else { return };
    let out = format!("s3://{BUCKET}/concurrent");
    let args = ["run", "--out", out.as_str(), "--set", "models.enabled=false"];
    assert_eq!(ardent_s3(&moto, &args).code, 0);
    let s3 = store(&moto);
    let manifest = || -> serde_json::Value {
        let bytes =
            block_on(async { s3.get(&ObjectPath::from("concurrent/_manifest.json")).await?.bytes().await }).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ardent"))
            .args(args)
            .env_remove("ARDENT_CONFIG")
            .env_remove("ARDENT_OUT")
            .envs(s3_env(&moto))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for trial in 0..20 {
        let before = manifest()["run_id"].as_str().unwrap().to_string();
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
        let mut codes = [a.status.code().unwrap_or(-1), b.status.code().unwrap_or(-1)];
        codes.sort();
        assert_eq!(codes, [0, 8], "trial {trial}:\n{}\n{}", text(&a), text(&b));
        let refused = if a.status.code() == Some(8) { text(&a) } else { text(&b) };
        // Refused at the start (the lease was the other run's), or at the end: once in CI a
        // run held the lease from the start and still lost it, most likely because moto's
        // server accepted both runs' create-if-absent requests at once (S3 makes that atomic);
        // the run whose next conditional write failed then refused to publish. Either way
        // exactly one run publishes.
        assert!(
            refused.contains("is being written by run") || refused.contains("took over this run's lease"),
            "trial {trial}: {refused}"
        );
        let v = ardent_s3(&moto, &["verify", &out]);
        assert_eq!(v.code, 0, "trial {trial}: {}{}", v.stdout, v.stderr);
        let now = manifest();
        assert_ne!(now["run_id"].as_str().unwrap(), before, "trial {trial}");
        assert_eq!(now["previous_runs"][0].as_str().unwrap(), before, "trial {trial}: the earlier run is kept");
    }
    let lease = ObjectPath::from("concurrent/_lock.json");
    assert!(block_on(s3.head(&lease)).is_err(), "the last run released its lease");

    // A live lease refuses; an expired one (its run died) is taken over.
    let holder = |expires: &str| {
        format!(
            r#"{{"host":"elsewhere","pid":4242,"run_id":"20260101T000000.000Z-dead","since":"2026-01-01T00:00:00Z","expires":"{expires}"}}"#
        )
    };
    block_on(s3.put(&lease, PutPayload::from(holder("2999-01-01T00:00:00Z").into_bytes()))).unwrap();
    let busy = ardent_s3(&moto, &args);
    assert_eq!(busy.code, 8, "{}", busy.stderr);
    assert!(busy.stderr.contains("run 20260101T000000.000Z-dead (pid 4242 on elsewhere"), "{}", busy.stderr);
    block_on(s3.put(&lease, PutPayload::from(holder("2020-01-01T00:00:00Z").into_bytes()))).unwrap();
    let took = ardent_s3(&moto, &args);
    assert_eq!(took.code, 0, "{}", took.stderr);
    assert!(took.stdout.contains("took over the expired lease of run 20260101T000000.000Z-dead"), "{}", took.stdout);
    assert!(block_on(s3.head(&lease)).is_err(), "and released it");
}

/// A run longer than its lease keeps it by renewing it (a 2-second lease renewed every half
/// second over a run of several seconds with models): it publishes, and releases the lease.
#[test]
fn a_run_longer_than_its_lease_renews_it_and_publishes() {
    let Some(moto) = start_moto() else { return };
    let out = format!("s3://{BUCKET}/renewed");
    let mut env: Vec<(&str, String)> = s3_env(&moto).into_iter().collect();
    env.push(("ARDENT_LOCK_LEASE_SECONDS", "2".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let long = Command::new(env!("CARGO_BIN_EXE_ardent"))
        .args(["run", "--out", &out])
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // After the first lease would have expired unrenewed, a second run still finds it held.
    std::thread::sleep(Duration::from_millis(2500));
    let second = common::ardent_env(&env, &["run", "--out", &out]);
    let first = long.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(started.elapsed() > Duration::from_secs(3), "the run outlived its lease");
    assert_eq!(second.code, 8, "the renewed lease kept the second run out: {}", second.stderr);
    let s3 = store(&moto);
    assert!(block_on(s3.head(&ObjectPath::from("renewed/_lock.json"))).is_err(), "released");
    assert_eq!(ardent_s3(&moto, &["verify", &out]).code, 0);
}

/// A Python with the `deltalake` package: `ARDENT_TEST_PYTHON` (`.ci/run` sets it to its venv).
fn python_with_deltalake() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("ARDENT_TEST_PYTHON")?);
    let ok = Command::new(&python).args(["-c", "import deltalake"]).status().is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// Delta tables in S3 are read without ardent: deltalake (Python) reads every table at
/// `s3://…/<table>` (no manifest) and at the versions a manifest names (time travel, one run
/// across tables); 20 readers polling while runs publish never see a partial table or a
/// missing file; old runs' files are deleted only once no kept version names them.
#[test]
fn delta_tables_in_s3_are_read_without_ardent_and_never_partially() {
    let Some(moto) = start_moto() else { return };
    let Some(python) = python_with_deltalake() else {
        eprintln!("SKIPPED: no Python with deltalake (set ARDENT_TEST_PYTHON; .ci/run does)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers/delta_readers.py");
    let root = format!("s3://{BUCKET}/delta");
    let args = ["run", "--out", root.as_str(), "--set", "models.enabled=false"];
    let first = ardent_s3(&moto, &args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let s3 = store(&moto);
    let manifest = || -> serde_json::Value {
        let bytes = block_on(async { s3.get(&ObjectPath::from("delta/_manifest.json")).await?.bytes().await }).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let m1 = manifest();
    let dir = tempfile::tempdir().unwrap();
    let first_manifest = dir.path().join("first.json");
    std::fs::write(&first_manifest, serde_json::to_vec(&m1).unwrap()).unwrap();
    let rows = |t: &str| m1["outputs"].as_array().unwrap().iter().find(|o| o["table"] == t).unwrap()["rows"].clone();
    let polled: Vec<String> =
        ["kpi_monthly", "aging", "ledger", "roll_rates"].iter().map(|t| format!("{t}={}", rows(t))).collect();

    let stop = dir.path().join("stop");
    let mut readers = Command::new(&python)
        .arg(&script)
        .args(["poll", root.as_str(), stop.to_str().unwrap(), "20"])
        .args(&polled)
        .envs(s3_env(&moto))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    for _ in 0..3 {
        let o = ardent_s3(&moto, &args);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    std::fs::write(&stop, b"").unwrap();
    let mut out = String::new();
    readers.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = readers.wait().unwrap();
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("readers said: {out}"));
    eprintln!("readers: {summary}");
    assert!(status.success(), "readers saw partial tables: {summary}");
    assert!(summary["reads"].as_u64().unwrap() >= 80, "{summary}");
    assert!(summary["versions_seen"].as_array().unwrap().len() >= 2, "readers saw the runs publish: {summary}");

    // Time travel: the latest run, and the first (its files are gone: keep_runs = 2 keeps
    // only the last two runs' versions, so reading it fails rather than returning a part).
    let latest = dir.path().join("latest.json");
    std::fs::write(&latest, serde_json::to_vec(&manifest()).unwrap()).unwrap();
    let check = |m: &Path| {
        Command::new(&python)
            .arg(&script)
            .args(["versions", root.as_str(), m.to_str().unwrap()])
            .envs(s3_env(&moto))
            .output()
            .unwrap()
    };
    let o = check(&latest);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let o = check(&first_manifest);
    let said: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problems = said["problems"].as_array().unwrap();
    assert!(!o.status.success() && !problems.is_empty(), "the first run's files were pruned: {said}");
    assert!(
        problems.iter().all(|p| p.as_str().unwrap().to_lowercase().contains("not found")),
        "its versions fail for missing files, nothing else: {said}"
    );
    assert_eq!(manifest()["outputs"][0]["version"], 3);
    assert_eq!(ardent_s3(&moto, &["verify", &root]).code, 0);
}
