//! Model artifacts: `models/<model_id>/model.json` (the model itself with its features,
//! parameters, training window and metrics; what `ardent score` loads) and a readable
//! `model_card.md`; scorecards also get `scorecard.sql`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::champion::Judgement;
use crate::error::{ModelError, Result};
use crate::metrics::{Bin, Metrics};
use crate::model::{Fitted, Model, Task};
use crate::score::Scoring;
use crate::significance::CalibrationTest;
use crate::stability;
use crate::train::{Candidate, Trained};

/// What `model.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub ardent_version: String,
    pub model: Model,
    /// What is predicted: `customer_default` or `invoice_late` (`ardent run`), `table`
    /// (`ardent train`).
    pub task: Task,
    /// Whether this model won among those trained for its task.
    pub champion: bool,
    /// What a positive row is (the label definition).
    pub label: String,
    pub training: TrainingInfo,
    pub metrics: MetricsInfo,
    /// Scaling of score points.
    pub points: PointsScale,
    /// Upper PD edges of bands A–D.
    pub bands: [f64; 4],
}

/// The training window and sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Observation dates of the training and held-out rows; `None` for a table without a
    /// time column.
    pub train_from: Option<String>,
    pub train_to: Option<String>,
    pub train_rows: usize,
    pub train_rows_available: usize,
    pub out_of_time_from: Option<String>,
    pub out_of_time_to: Option<String>,
    pub out_of_time_rows: usize,
    pub holdout: String,
    /// How the model was validated and calibrated in time (`models.validation`), readable.
    #[serde(default)]
    pub validation: String,
    pub seed: u64,
    pub learner_params: serde_json::Value,
    /// Features the model leaves out because they moved too far out of time (their values
    /// are ignored when it scores).
    #[serde(default)]
    pub excluded_features: Vec<String>,
}

/// In-time validation and out-of-time metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsInfo {
    /// One per cross-validation fold, or one for the held-out customers.
    #[serde(alias = "cross_validation")]
    pub validation: Vec<Metrics>,
    pub out_of_time: Metrics,
    pub out_of_time_calibration: Vec<Bin>,
    #[serde(with = "crate::json_float")]
    pub out_of_time_psi: f64,
    pub calibrated: bool,
    /// The calibration test per out-of-time decile (absent in model files before it).
    #[serde(default)]
    pub calibration_test: Option<CalibrationTest>,
    /// The champion rule's tests (absent in model files before it).
    #[serde(default)]
    pub judgement: Option<Judgement>,
}

/// Points = base_score at base_odds (good:bad), pdo points to double the odds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PointsScale {
    pub base_score: f64,
    pub base_odds: f64,
    pub pdo: f64,
}

fn learner_params(trained: &Trained, c: &Candidate) -> serde_json::Value {
    let t = &trained.training;
    match c.model.kind {
        crate::model::Kind::Logistic => serde_json::to_value(t.logistic),
        crate::model::Kind::Scorecard => serde_json::to_value(&t.scorecard),
        crate::model::Kind::Gbdt => serde_json::to_value(t.gbdt),
    }
    .unwrap_or(serde_json::Value::Null)
}

/// The `model.json` of candidate `k`.
pub fn model_file(
    trained: &Trained,
    k: usize,
    task: Task,
    scoring: &Scoring,
    day: &dyn Fn(i32) -> String,
) -> ModelFile {
    let c = &trained.candidates[k];
    let s = &trained.split;
    ModelFile {
        ardent_version: env!("CARGO_PKG_VERSION").to_string(),
        model: c.model.clone(),
        task,
        champion: k == trained.champion,
        label: c.model.positive.clone(),
        training: TrainingInfo {
            train_from: s.dated.then(|| day(s.train_window.0)),
            train_to: s.dated.then(|| day(s.train_window.1)),
            train_rows: s.train.len(),
            train_rows_available: s.train_rows_available,
            out_of_time_from: s.dated.then(|| day(s.oot_window.0)),
            out_of_time_to: s.dated.then(|| day(s.oot_window.1)),
            out_of_time_rows: s.oot.len(),
            holdout: s.holdout.clone(),
            validation: trained.training.validation.describe(),
            seed: trained.training.seed,
            learner_params: learner_params(trained, c),
            excluded_features: c.excluded.clone(),
        },
        metrics: MetricsInfo {
            validation: c.validation.clone(),
            out_of_time: c.oot,
            out_of_time_calibration: c.oot_calibration.clone(),
            out_of_time_psi: c.oot_psi,
            calibrated: c.calibrated(),
            calibration_test: Some(c.calibration.clone()),
            judgement: Some(c.judgement),
        },
        points: PointsScale { base_score: scoring.base_score, base_odds: scoring.base_odds, pdo: scoring.pdo },
        bands: scoring.bands,
    }
}

/// The readable model card of candidate `k`, whose `model.json` is `f`.
pub fn model_card(f: &ModelFile, trained: &Trained, k: usize) -> String {
    let importance = &trained.candidates[k].importance;
    let champion_reason = &trained.champion_reason;
    let m = &f.model;
    let t = &f.training;
    let o = &f.metrics.out_of_time;
    let mut s = format!("# Model card: `{}`\n\n", m.id);
    s += &format!(
        "- **Learner**: {} ({} part{}: {})\n",
        m.kind.name(),
        m.parts.len(),
        if m.parts.len() == 1 { "" } else { "s" },
        m.parts.iter().map(|p| p.segment.clone().unwrap_or_else(|| "portfolio".into())).collect::<Vec<_>>().join(", ")
    );
    s += &format!("- **Predicts**: probability that {}\n", f.label);
    s += &format!("- **Champion**: {}\n", if f.champion { format!("yes — {champion_reason}") } else { "no".into() });
    let observed = |from: &Option<String>, to: &Option<String>| match (from, to) {
        (Some(from), Some(to)) => format!(" observed {from} to {to}"),
        _ => String::new(),
    };
    s += &format!(
        "- **Training**: {} rows (of {} labelled){}; {}; seed {}\n",
        t.train_rows,
        t.train_rows_available,
        observed(&t.train_from, &t.train_to),
        t.validation,
        t.seed
    );
    s += &format!(
        "- **{}**: {} rows{} ({})\n",
        if t.out_of_time_from.is_some() { "Out of time" } else { "Held out" },
        t.out_of_time_rows,
        observed(&t.out_of_time_from, &t.out_of_time_to),
        t.holdout
    );
    s += &if t.excluded_features.is_empty() {
        "\n".to_string()
    } else {
        format!(
            "- **Left out**: {}: a `_stable` challenger, trained without the features that moved too far between training and out of time (PSI ≥ `models.max_feature_psi` = {}); it ignores their values\n\n",
            t.excluded_features.join(", "),
            trained.training.max_feature_psi
        )
    };
    s += "## Out-of-time performance\n\n| metric | value |\n|---|---|\n";
    for (name, v) in [
        ("AUC", o.auc),
        ("Gini", o.gini),
        ("KS", o.ks),
        ("Brier", o.brier),
        ("log-loss", o.log_loss),
        ("mean predicted PD", o.mean_pd),
        ("observed default rate", o.observed_rate),
        ("largest decile gap", o.max_decile_gap),
        ("PSI vs training", f.metrics.out_of_time_psi),
        ("AUC standard error (DeLong)", f.metrics.judgement.map_or(f64::NAN, |j| j.auc_std_error)),
        ("Spiegelhalter z", f.metrics.calibration_test.as_ref().map_or(f64::NAN, |c| c.spiegelhalter_z)),
    ] {
        s += &format!("| {name} | {v:.4} |\n");
    }
    let cv_auc: Vec<String> = f.metrics.validation.iter().map(|m| format!("{:.4}", m.auc)).collect();
    s += &format!("\nIn-time validation AUC (held-out customers, or per fold): {}.\n", cv_auc.join(", "));
    s += &format!(
        "Calibration: {}.\n\n",
        match (f.metrics.calibrated, stability::moved(&trained.stability, 3)) {
            (true, _) => "every out-of-time decile's observed rate is within tolerance of its mean PD, or within the sampling noise of its size".to_string(),
            (false, None) => "**failed** in at least one out-of-time decile (beyond tolerance and beyond sampling noise) — read PDs as a ranking, not as exact rates".to_string(),
            (false, Some(moved)) => format!(
                "**failed** in at least one out-of-time decile (beyond tolerance and beyond sampling noise) — read PDs as a ranking, not as exact rates. The features that moved most since training: {moved} (see Feature stability)"
            ),
        }
    );
    s += "## Calibration by decile (out of time)\n\nA decile passes when |gap| is at most the allowed gap: `models.max_calibration_gap`, or the sampling noise of the decile's size at the champion rule's confidence, whichever is wider.\n\n| decile | rows | mean PD | observed | gap | allowed gap | passed |\n|---|---|---|---|---|---|---|\n";
    let tests = f.metrics.calibration_test.as_ref().map(|t| &t.deciles[..]).unwrap_or_default();
    for b in &f.metrics.out_of_time_calibration {
        let test = tests.iter().find(|d| d.decile == b.decile);
        s += &format!(
            "| {} | {} | {:.4} | {:.4} | {:+.4} | {} | {} |\n",
            b.decile,
            b.rows,
            b.mean_pd,
            b.observed_rate,
            b.mean_pd - b.observed_rate,
            test.map_or("—".to_string(), |d| format!("{:.4}", d.allowed_gap)),
            test.map_or("—", |d| if d.passed { "yes" } else { "**no**" }),
        );
    }
    s += "\n## Feature stability (out of time vs training)\n\nPSI of each feature's out-of-time values against its training values (missing values are a bin of their own): under 0.1 stable, 0.1–0.25 moderate, 0.25 and over large. The `_stable` challengers leave out the features at or above `models.max_feature_psi` (`left out` = yes); a model that uses a feature that moved scores rows unlike the ones it learned from.\n\n| feature | PSI | shift | training mean | out-of-time mean | missing (training → out of time) | left out |\n|---|---|---|---|---|---|---|\n";
    for f in &trained.stability {
        s += &format!(
            "| {} | {:.4} | {} | {:.4} | {:.4} | {:.1}% → {:.1}% | {} |\n",
            f.feature,
            f.psi,
            f.level(),
            f.train_mean,
            f.oot_mean,
            f.train_missing * 100.0,
            f.oot_missing * 100.0,
            if f.excluded { "yes" } else { "no" }
        );
    }
    s += "\n## Features by importance\n\n| feature | importance |\n|---|---|\n";
    let mut order: Vec<usize> = (0..m.features.len()).collect();
    order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
    for j in order {
        s += &format!("| {} | {:.4} |\n", m.features[j], importance[j]);
    }
    s += &format!(
        "\n## Scale\n\n{} points at odds {}:1 (good:bad), {} points to double the odds; bands A–D end at PD {:?}, E above.\n",
        f.points.base_score, f.points.base_odds, f.points.pdo, f.bands
    );
    s += &format!("\nParameters: `{}`\n", f.training.learner_params);
    s
}

/// Write a candidate's artifacts into `dir`.
pub fn write(dir: &Path, file: &ModelFile, card: &str) -> Result<()> {
    let err = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| ModelError::Artifact { action, path, reason: e.to_string() }
    };
    std::fs::create_dir_all(dir).map_err(err("creating", dir))?;
    let json = serde_json::to_string_pretty(file).map_err(|e| ModelError::Artifact {
        action: "serialising",
        path: dir.join("model.json"),
        reason: e.to_string(),
    })?;
    let path = dir.join("model.json");
    std::fs::write(&path, json).map_err(err("writing", &path))?;
    let path = dir.join("model_card.md");
    std::fs::write(&path, card).map_err(err("writing", &path))?;
    for part in &file.model.parts {
        if let Fitted::Scorecard(sc) = &part.fitted {
            let name = match &part.segment {
                Some(s) => format!("scorecard_{}.sql", s.replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
                None => "scorecard.sql".into(),
            };
            let header = format!(
                "-- ardent scorecard `{}`{}: the points of a row. PD before calibration = 1 / (1 + exp((points - {:.6}) / {:.6})); calibrated PD = 1 / (1 + exp(-({:.6} * (({:.6} - points) / {:.6}) + {:.6})))\n",
                file.model.id,
                part.segment.as_ref().map(|s| format!(" (segment {s})")).unwrap_or_default(),
                sc.offset,
                sc.factor,
                part.calibration.a,
                sc.offset,
                sc.factor,
                part.calibration.b
            );
            let path = dir.join(name);
            std::fs::write(&path, header + &sc.sql() + "\n").map_err(err("writing", &path))?;
        }
    }
    Ok(())
}

/// Read a `model.json` (from its folder or the file itself).
pub fn read(path: &Path) -> Result<ModelFile> {
    let file = if path.is_dir() { path.join("model.json") } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file).map_err(|e| ModelError::Artifact {
        action: "reading",
        path: file.clone(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Artifact {
        action: "parsing",
        path: file,
        reason: format!("{e}; is it a model.json written by `ardent run` or `ardent train`?"),
    })
}
