//! The bundled sample under `sample-data/exports/` is exactly what the command in
//! `sample-data/pipeline.toml` generates; a change to the generator that alters it must
//! regenerate the sample in the same commit.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn bundled_sample_matches_its_generator_command() {
    let config = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipeline.toml")).unwrap();
    assert!(
        config.contains("ardent generate --customers 400 --months 36 --seed 2025"),
        "the command documented in pipeline.toml changed; update this test with it"
    );
    let params = ardent_sample::GenParams { customers: Some(400), months: Some(36), seed: 2025, ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    ardent_sample::generate(&params.check().unwrap(), dir.path()).unwrap();
    for name in ["customers.csv", "ledger.csv", "payments.csv", "fx_rates.csv"] {
        let bundled = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("exports").join(name)).unwrap();
        let fresh = std::fs::read(dir.path().join(name)).unwrap();
        assert!(
            bundled == fresh,
            "sample-data/exports/{name} differs from the generator's output; regenerate it with the command in pipeline.toml"
        );
    }
}
