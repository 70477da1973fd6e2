//! Pipeline configs and settings layers (issue 5): the ready pipelines under
//! `pipelines/configs/` validate, settings resolve defaults < file < environment < flags,
//! `--show-settings` prints the result, and `run.stages` chooses what runs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

/// The ready pipelines, the source profiles (`configs/sources/`) and the activity profiles
/// (`configs/activities/`).
fn configs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut found = Vec::new();
    for dir in [dir.clone(), dir.join("sources"), dir.join("activities")] {
        let files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
        found.extend(files.filter(|p| p.extension().is_some_and(|e| e == "toml")));
    }
    found.sort();
    found
}

#[test]
fn every_ready_pipeline_validates() {
    let found = configs();
    assert!(found.len() >= 9, "{found:?}");
    for config in found {
        let o = common::ardent(&["validate", "--config", config.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}: {}", config.display(), o.stderr);
        assert!(o.stdout.contains("valid:"), "{}", o.stdout);
    }
}

#[test]
fn settings_resolve_file_then_environment_then_flags() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/daily_collections.toml");
    let config = config.to_str().unwrap();
    let env = [("ARDENT_RUN__MAX_REJECTED_SHARE", "0.05"), ("ARDENT_ANALYTICS__SNAPSHOTS", "month_end")];
    // The file says 0.01 and week_end; the environment wins over it.
    let o = common::ardent_env(&env, &["run", "--config", config, "--show-settings"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("#   max_rejected_share 0.05\n"), "{}", o.stdout);
    assert!(o.stdout.contains("snapshots = \"month_end\""), "{}", o.stdout);
    assert!(o.stdout.contains("(ARDENT_RUN__MAX_REJECTED_SHARE)"), "{}", o.stdout);
    // A --set flag wins over the environment, and the dedicated flag over both.
    let o = common::ardent_env(
        &env,
        &["run", "--config", config, "--set", "run.max_rejected_share=0.2", "--show-settings"],
    );
    assert!(o.stdout.contains("#   max_rejected_share 0.2\n"), "{}", o.stdout);
    let o = common::ardent_env(
        &env,
        &[
            "run",
            "--config",
            config,
            "--set",
            "run.max_rejected_share=0.2",
            "--max-rejected-share",
            "0.3",
            "--show-settings",
        ],
    );
    assert!(o.stdout.contains("#   max_rejected_share 0.3\n"), "{}", o.stdout);
}

#[test]
fn a_misspelt_environment_key_is_a_config_error_naming_the_variable() {
    let o = common::ardent_env(&[("ARDENT_MODELS__LERNERS", "[\"gbdt\"]")], &["validate"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("ARDENT_MODELS__LERNERS") && o.stderr.contains("unknown field `lerners`"),
        "{}",
        o.stderr
    );
    let o = common::ardent(&["validate", "--set", "models"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("expected KEY=VALUE"), "{}", o.stderr);
}

#[test]
fn show_settings_of_the_bundled_sample() {
    // From the checkout's root, as the README's first command runs: the checkout's sample.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let o = common::ardent_in(repo, &["run", "--show-settings", "--set", "models.enabled=false"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let root = repo.display().to_string();
    insta::assert_snapshot!(o.stdout.replace(&root, "<repo>"));
}

#[test]
fn the_landing_stage_publishes_canonical_tables_only_and_models_need_analytics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/landing.toml");
    let o = common::ardent(&["run", "--config", config.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let manifest = common::manifest(&out);
    let mut tables: Vec<&str> =
        manifest["outputs"].as_array().unwrap().iter().map(|o| o["table"].as_str().unwrap()).collect();
    tables.sort();
    assert_eq!(tables, ["customers", "data_quality", "fx_rates", "ledger", "payment_refs", "payments", "quarantine"]);
    assert!(manifest.get("cash_application").is_none());
    let v = common::ardent(&["verify", out.to_str().unwrap()]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let o = common::ardent(&["validate", "--set", "run.stages=[\"ingest\", \"models\"]"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("add \"analytics\""), "{}", o.stderr);
}
