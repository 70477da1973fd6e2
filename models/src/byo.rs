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
use crate::params::Training;
use crate::score::{ACTIONS, Account, BANDS, score_row};
use crate::split::Holdout;
use crate::train::{Trained, train};

/// Spellings of a missing value in a CSV feature table (case ignored), besides the empty
/// field: what spreadsheets, R and pandas write.
pub const NULL_SPELLINGS: [&str; 10] = ["NA", "N/A", "NaN", "null", "None", "-", "?", "#N/A", "#NA", "."];

/// Read a CSV or Parquet feature table. CSV: the delimiter sniffed from the first lines, every
/// column read as text and then typed over the whole file: a column whose values (other than
/// empty fields, [`NULL_SPELLINGS`] and `nulls`) are all numbers (`1.00E+05` and `-3` too) is
/// numeric, all true/false boolean, anything else text; a column that is numbers but for a
/// few values is refused naming the first of them (a typo must not turn a feature into text).
pub fn read_table(path: &Path, nulls: &[String]) -> Result<DataFrame> {
    let fail = |reason: String| ModelError::Data(format!("cannot read {}: {reason}", path.display()));
    let handle = File::open(path).map_err(|e| ModelError::Artifact {
        action: "opening",
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => {
            let mut head = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(&handle, 64 * 1024), &mut head)
                .map_err(|e| fail(e.to_string()))?;
            let text = String::from_utf8_lossy(&head);
            let lines: Vec<&str> = text.lines().collect();
            let delimiter = ardent_engine::ingest::inspect::sniff_delimiter(&lines);
            let handle = File::open(path).map_err(|e| fail(e.to_string()))?;
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_parse_options(CsvParseOptions::default().with_separator(delimiter as u8))
                .into_reader_with_file_handle(handle)
                .finish()
                .map_err(|e| fail(format!("{e} (read with delimiter {delimiter:?})")))?;
            type_columns(df, path, nulls)
        }
        "parquet" | "pq" => ParquetReader::new(handle).finish().map_err(|e| fail(e.to_string())),
        _ => Err(fail("the file must end in .csv or .parquet".into())),
    }
}

/// Type every text column of `df` over all its values (see [`read_table`]).
fn type_columns(df: DataFrame, path: &Path, nulls: &[String]) -> Result<DataFrame> {
    let is_null = |v: &str| {
        let v = v.trim();
        v.is_empty()
            || NULL_SPELLINGS.iter().any(|n| n.eq_ignore_ascii_case(v))
            || nulls.iter().any(|n| n.eq_ignore_ascii_case(v))
    };
    let mut columns = Vec::with_capacity(df.width());
    for col in df.columns() {
        let Ok(text) = col.str() else {
            columns.push(col.clone());
            continue;
        };
        let name = col.name().clone();
        let (mut numbers, mut bools, mut others, mut first_other) = (0usize, 0usize, 0usize, None);
        for (i, v) in text.iter().enumerate() {
            let Some(v) = v.filter(|v| !is_null(v)) else { continue };
            let v = v.trim();
            if v.parse::<f64>().is_ok() {
                numbers += 1;
            } else if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
                bools += 1;
            } else {
                others += 1;
                first_other.get_or_insert((i, v.to_string()));
            }
        }
        let present = numbers + bools + others;
        if others == 0 && bools == 0 {
            // Numbers, or nothing at all (a column empty on every row is a missing number).
            let values: Float64Chunked =
                text.iter().map(|v| v.filter(|v| !is_null(v)).and_then(|v| v.trim().parse::<f64>().ok())).collect();
            columns.push(values.with_name(name).into_column());
        } else if others == 0 && numbers == 0 {
            let values: BooleanChunked =
                text.iter().map(|v| v.filter(|v| !is_null(v)).map(|v| v.trim().eq_ignore_ascii_case("true"))).collect();
            columns.push(values.with_name(name).into_column());
        } else if numbers * 20 >= present * 19 {
            // 95% numbers: the others are typos or a missing-value spelling to name.
            let (row, value) = first_other.unwrap_or_default();
            return Err(ModelError::Data(format!(
                "{}, column `{name}`, row {}: \"{value}\" is not a number, though {numbers} of the column's {present} values are; fix it, or if it means a missing value name it with --null-value \"{value}\" (already missing: empty, {})",
                path.display(),
                row + 1,
                NULL_SPELLINGS.join(", ")
            )));
        } else {
            // Text keeps its words: `none` or `NA` is a level of a category (no other debtors,
            // not applicable), not a missing value; only an empty field and the spellings named
            // with --null-value are.
            let values: StringChunked = text
                .iter()
                .map(|v| v.filter(|v| !v.trim().is_empty() && !nulls.iter().any(|n| n.eq_ignore_ascii_case(v.trim()))))
                .collect();
            columns.push(values.with_name(name).into_column());
        }
    }
    DataFrame::new(df.height(), columns).map_err(|e| ModelError::Data(e.to_string()))
}

/// A table's feature columns, and the columns left out with why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureColumns {
    /// Numeric, boolean, text and declared categorical columns other than the label, time,
    /// id and segment columns, in table order.
    pub features: Vec<String>,
    /// Numeric columns holding a different whole number on every row of at least 100: a row
    /// or customer number, not a property of it.
    pub id_like: Vec<String>,
    /// Text columns with a different value on every row of at least 100, or more than
    /// [`MAX_LEVELS`] values: ids or free text, not categories.
    pub free_text: Vec<String>,
    /// Text columns of dates (YYYY-MM-DD): a time, not a category (`--time-column`).
    pub dates: Vec<String>,
}

/// Most levels a text column may have to be a categorical feature.
pub const MAX_LEVELS: usize = 1000;

/// The feature columns of a table ([`FeatureColumns`]); name a left-out column with
/// `--id-column` to use it as the id.
pub fn feature_columns(df: &DataFrame, roles: &Roles<'_>) -> FeatureColumns {
    let reserved = [roles.label, roles.time, roles.id, roles.segment];
    let mut out = FeatureColumns::default();
    for c in df.columns() {
        let name = c.name().as_str();
        if reserved.contains(&Some(name)) {
            continue;
        }
        if c.dtype() == &DataType::String && is_dates(c) && !roles.categorical.iter().any(|n| n == name) {
            out.dates.push(name.to_string());
        } else if crate::matrix::is_categorical(c, roles) {
            let distinct = c.n_unique().unwrap_or(0).saturating_sub(usize::from(c.null_count() > 0));
            let present = c.len() - c.null_count();
            if (present >= 100 && distinct == present) || distinct > MAX_LEVELS {
                out.free_text.push(name.to_string());
            } else {
                out.features.push(name.to_string());
            }
        } else if c.dtype().is_primitive_numeric() || c.dtype() == &DataType::Boolean {
            if is_id_like(c) {
                out.id_like.push(name.to_string());
            } else {
                out.features.push(name.to_string());
            }
        }
    }
    out
}

/// A text column whose every value is a date.
fn is_dates(c: &Column) -> bool {
    let Ok(text) = c.str() else { return false };
    let mut any = false;
    for v in text.iter().flatten() {
        if ardent_engine::calendar::parse_day(v.trim()).is_none() {
            return false;
        }
        any = true;
    }
    any
}

fn is_id_like(c: &Column) -> bool {
    let n = c.len();
    if n < 100 || c.dtype() == &DataType::Boolean || c.null_count() > 0 {
        return false;
    }
    let Ok(values) = c.cast(&DataType::Float64) else { return false };
    let Ok(values) = values.f64() else { return false };
    let mut seen: Vec<i64> = Vec::with_capacity(n);
    for v in values.iter().flatten() {
        if v.fract() != 0.0 || v.abs() > 9e15 {
            return false;
        }
        seen.push(v as i64);
    }
    seen.sort_unstable();
    seen.windows(2).all(|w| w[0] != w[1])
}

/// Of the feature columns `features` of `df`, those holding infinite values, with how many:
/// [`Sample::from_frame`] reads them as missing values (in training and in scoring alike), and
/// the commands say so.
pub fn non_finite(df: &DataFrame, features: &[String], roles: &Roles<'_>) -> Vec<(String, usize)> {
    features
        .iter()
        .filter_map(|name| {
            let col = df.column(name).ok()?;
            if crate::matrix::is_categorical(col, roles) {
                return None;
            }
            let col = col.cast(&DataType::Float64).ok()?;
            let n = col.f64().ok()?.iter().filter(|v| v.is_some_and(f64::is_infinite)).count();
            (n > 0).then_some((name.clone(), n))
        })
        .collect()
}

/// Train on the feature columns `features` of a table ([`feature_columns`]). The holdout is
/// the rows from `oot_from`, or the last `oot_months` dates of the time column, or (without
/// one) a seeded 20% of the ids.
pub fn train_table(
    df: &DataFrame,
    roles: &Roles<'_>,
    features: &[String],
    oot_from: Option<i32>,
    t: &Training,
) -> Result<(Sample, Trained)> {
    let sample = Sample::from_frame(df, roles, Some(features), None)?;
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
        let file = artifact::model_file(trained, k, crate::model::Task::Table, &t.scoring, &format_day);
        let card = artifact::model_card(&file, trained, k);
        artifact::write(&out.join(&c.model.id), &file, &card)?;
        files.push(file);
    }
    Ok(files)
}

/// Score every row of a table with a saved model: the id column (when given), then `pd`,
/// `score_points`, `risk_band`, `reason_1..4` and `recommended_action`.
pub fn score_table(file: &ModelFile, df: &DataFrame, roles: &Roles<'_>) -> Result<DataFrame> {
    let sample = Sample::from_frame(df, roles, Some(&file.model.features), Some(&file.model.levels))?;
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
        scores.iter().map(|s| s.points.map(|p| (p * 100.0).round() / 100.0)).collect::<Vec<Option<f64>>>(),
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
        let schema = df.schema().clone();
        ardent_engine::sink::parquet_writer(file, &schema).finish(df).map(|_| ()).map_err(|e| err(e.to_string()))
    }
}
