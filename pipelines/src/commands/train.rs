//! `ardent train`: the learners of `ardent run` on any feature table.

use ardent_engine::calendar::epoch_days;
use ardent_models::byo::{train_table, write_models};
use ardent_models::matrix::Roles;
use ardent_models::params::TrainParams;

use crate::cli::{LearnerArg, TrainArgs};
use crate::printer::Printer;
use crate::settings::{ConfigError, load};

/// Train, evaluate and save every model.
pub fn train(args: TrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let TrainArgs { table, label, positive, time_column, oot_from, model, config, out } = args;
    let mut params = match &config {
        Some(path) => load(path)?.models,
        None => TrainParams::default(),
    };
    if let Some(m) = model {
        params.learners = vec![
            match m {
                LearnerArg::Logistic => "logistic",
                LearnerArg::Scorecard => "scorecard",
                LearnerArg::Gbdt => "gbdt",
            }
            .to_string(),
        ];
    }
    params.per_segment = params.per_segment && table.segment_column.is_some();
    let training = params.check().map_err(|e| ConfigError(e.to_string()))?;
    let started = std::time::Instant::now();
    printer.info(
        "table_reading",
        format!("train: reading {}", table.table.display()),
        serde_json::json!({"table": table.table.display().to_string()}),
    );
    let df = super::read_feature_table(&table.table, &table.null_values)?;
    let source = table.table.display().to_string();
    let roles = Roles {
        source: &source,
        label: Some(&label),
        positive: positive.as_deref(),
        time: time_column.as_deref(),
        id: table.id_column.as_deref(),
        segment: table.segment_column.as_deref(),
        categorical: &table.categorical,
    };
    let columns = ardent_models::byo::feature_columns(&df, &roles);
    if !columns.id_like.is_empty() {
        printer.line(format!(
            "left out as id-like (a different whole number on every row): {}; name one with --id-column to use it as the id",
            columns.id_like.join(", ")
        ));
    }
    if !columns.dates.is_empty() {
        printer.line(format!(
            "left out as dates: {}; name one with --time-column to hold out its latest rows",
            columns.dates.join(", ")
        ));
    }
    if !columns.free_text.is_empty() {
        printer.line(format!(
            "left out as ids or free text (a different value on every row, or more than {} values): {}; name one with --id-column to use it as the id",
            ardent_models::byo::MAX_LEVELS,
            columns.free_text.join(", ")
        ));
    }
    for (name, n) in ardent_models::byo::non_finite(&df, &columns.features, &roles) {
        printer
            .line(format!("column {name}: {n} infinite value(s) are treated as missing, in training and in scoring"));
    }
    let learners: Vec<&str> = training.learners.iter().map(|k| k.name()).collect();
    printer.info(
        "training",
        format!(
            "train: {} rows read; fitting {}{}",
            df.height(),
            learners.join(", "),
            if learners.len() > 1 { " in parallel" } else { "" }
        ),
        serde_json::json!({"rows": df.height(), "learners": learners}),
    );
    let (sample, trained) = train_table(&df, &roles, &columns.features, oot_from.map(epoch_days), &training)?;
    let categorical: Vec<String> = sample
        .features
        .iter()
        .zip(&sample.levels)
        .filter_map(|(f, l)| l.as_ref().map(|l| format!("{f} ({} levels)", l.len())))
        .collect();
    printer.line(format!(
        "{} rows, {} features{}; positive class: {}; {} training and {} held-out rows ({})",
        sample.len(),
        sample.features.len(),
        if categorical.is_empty() {
            String::new()
        } else {
            format!(" ({} categorical: {})", categorical.len(), categorical.join(", "))
        },
        sample.positive,
        trained.split.train.len(),
        trained.split.oot.len(),
        trained.split.holdout
    ));
    for (k, c) in trained.candidates.iter().enumerate() {
        printer.line(format!(
            "  {:<27} held-out AUC {:.4}  KS {:.4}  Brier {:.4}  largest decile gap {:.4}{}",
            c.model.id,
            c.oot.auc,
            c.oot.ks,
            c.oot.brier,
            c.oot.max_decile_gap,
            if k == trained.champion { "  ← champion" } else { "" }
        ));
    }
    for (id, why) in &trained.failed {
        printer.line(format!("  {id:<27} failed and was left out: {why}"));
    }
    if let Some(excluded) = ardent_models::stability::excluded(&trained.stability) {
        printer.line(format!(
            "  the `_stable` challengers leave out (PSI >= {}, `models.max_feature_psi` in --config): {excluded}",
            training.max_feature_psi
        ));
    }
    write_models(&out, &trained, &training)?;
    printer.event(
        "train_summary",
        serde_json::json!({
            "status": "written",
            "table": table.table.display().to_string(),
            "rows": sample.len(),
            "features": sample.features,
            "positive": sample.positive,
            "training_rows": trained.split.train.len(),
            "held_out_rows": trained.split.oot.len(),
            "holdout": trained.split.holdout,
            "candidates": trained.candidates.iter().enumerate().map(|(k, c)| serde_json::json!({
                "model_id": c.model.id,
                "auc": c.oot.auc,
                "auc_std_error": c.judgement.auc_std_error,
                "brier": c.oot.brier,
                "max_decile_gap": c.oot.max_decile_gap,
                "calibrated": c.calibrated(),
                "beats_constant": c.judgement.beats_constant,
                "champion": k == trained.champion,
            })).collect::<Vec<_>>(),
            "failed": trained.failed.iter().map(|(id, why)| serde_json::json!({"model_id": id, "error": why})).collect::<Vec<_>>(),
            "champion": trained.champion().model.id,
            "champion_reason": trained.champion_reason,
            "out": out.display().to_string(),
            "elapsed_ms": started.elapsed().as_millis() as u64,
        }),
    );
    printer.line(format!(
        "champion {}: {}\nmodels written to {}; score with: ardent score --model {} --table FILE",
        trained.champion().model.id,
        trained.champion_reason,
        out.display(),
        out.join(&trained.champion().model.id).display()
    ));
    Ok(())
}
