//! Bring your own table: train on, and score, any CSV or Parquet feature table
//! (`ardent train` / `ardent score`), with the same learners, validation and artifacts as
//! `ardent run`.

use std::fs::File;
use std::path::Path;

use ardent_engine::calendar::format_day;
use polars::prelude::*;
use rayon::prelude::*;

use crate::artifact::{self, ModelFile};
use crate::error::{ModelError, Result};
use crate::matrix::{Roles, Sample};
use crate::score::{ACTIONS, Account, BANDS, score_row};
use crate::train::{Holdout, Trained, Training, train};

/// Read a CSV (header row, types inferred) or Parquet file.
pub fn read_table(path: &Path) -> Result<DataFrame> {
    let fail = |reason: String| ModelError::Data(format!("cannot read {}: {reason}", path.display()));
    let handle = File::open(path).map_err(|e| ModelError::Artifact {
        action: "opening",
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .into_reader_with_file_handle(handle)
            .finish()
            .map_err(|e| fail(e.to_string())),
        "parquet" | "pq" => ParquetReader::new(handle).finish().map_err(|e| fail(e.to_string())),
        _ => Err(fail("the file must end in .csv or .parquet".into())),
    }
}

/// Train on a feature table. The holdout is the rows from `oot_from`, or the last
/// `oot_months` dates of the time column, or (without one) a seeded 20% of the ids.
pub fn train_table(
    df: &DataFrame,
    roles: &Roles<'_>,
    oot_from: Option<i32>,
    t: &Training,
) -> Result<(Sample, Trained)> {
    let sample = Sample::from_frame(df, roles, None)?;
    let holdout = match (roles.time, oot_from) {
        (Some(_), Some(from)) => Holdout::From(from),
        (Some(_), None) => Holdout::LastDates { n: t.oot_months, gap_days: 0 },
        (None, Some(_)) => {
            return Err(ModelError::Params("`--oot-from` needs `--time-column` to say which dates it splits".into()));
        }
        (None, None) => Holdout::Customers,
    };
    let trained = train(&sample, holdout, t)?;
    Ok((sample, trained))
}

/// The artifacts of every trained candidate, written under `out/<model_id>/`.
pub fn write_models(out: &Path, trained: &Trained, t: &Training) -> Result<Vec<ModelFile>> {
    let mut files = Vec::new();
    for (k, c) in trained.candidates.iter().enumerate() {
        let file = artifact::model_file(trained, k, "table", &t.scoring, &format_day);
        let card = artifact::model_card(&file, trained, k);
        artifact::write(&out.join(&c.model.id), &file, &card)?;
        files.push(file);
    }
    Ok(files)
}

/// Score every row of a table with a saved model: the id column (when given), then `pd`,
/// `score_points`, `risk_band`, `reason_1..4` and `recommended_action`.
pub fn score_table(file: &ModelFile, df: &DataFrame, roles: &Roles<'_>) -> Result<DataFrame> {
    let sample = Sample::from_frame(df, roles, Some(&file.model.features))?;
    let scoring = crate::score::ScoreParams {
        bands: file.bands.to_vec(),
        base_score: file.points.base_score,
        base_odds: file.points.base_odds,
        pdo: file.points.pdo,
        ..Default::default()
    }
    .check()?;
    let none = Account { exposure_cents: 0, credit_limit_cents: None, billed_90d_cents: 0, in_default: false };
    let scores: Vec<_> = (0..sample.len())
        .into_par_iter()
        .map(|i| {
            let seg = &sample.segments[sample.segment[i] as usize];
            score_row(&file.model, &scoring, sample.row(i), seg, &none, &|_| None)
        })
        .collect();
    let mut cols: Vec<Column> = Vec::new();
    if let Some(id) = roles.id {
        cols.push(df.column(id).map_err(|e| ModelError::Data(e.to_string()))?.clone());
    }
    cols.push(Column::new("pd".into(), scores.iter().map(|s| s.pd).collect::<Vec<f64>>()));
    cols.push(Column::new(
        "score_points".into(),
        scores.iter().map(|s| (s.points * 100.0).round() / 100.0).collect::<Vec<f64>>(),
    ));
    cols.push(Column::new("risk_band".into(), scores.iter().map(|s| BANDS[s.band]).collect::<Vec<&str>>()));
    for k in 0..4 {
        let v: Vec<Option<&str>> = scores.iter().map(|s| s.reasons.get(k).map(String::as_str)).collect();
        cols.push(Column::new(format!("reason_{}", k + 1).into(), v));
    }
    cols.push(Column::new("recommended_action".into(), scores.iter().map(|s| ACTIONS[s.band]).collect::<Vec<&str>>()));
    DataFrame::new(sample.len(), cols).map_err(|e| ModelError::Data(e.to_string()))
}

/// Write a frame as Parquet (zstd) or CSV, by the file's extension.
pub fn write_frame(df: &mut DataFrame, path: &Path) -> Result<()> {
    let err = |e: String| ModelError::Artifact { action: "writing", path: path.to_path_buf(), reason: e };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    let file = File::create(path).map_err(|e| err(e.to_string()))?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        CsvWriter::new(file).finish(df).map_err(|e| err(e.to_string()))
    } else {
        ParquetWriter::new(file).finish(df).map(|_| ()).map_err(|e| err(e.to_string()))
    }
}
