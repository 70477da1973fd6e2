//! A [`Sample`] kept between the steps of a run split by customer: `NAME.parquet` holds its
//! rows (observation date, customer number, segment number, label, then one `Float64` column
//! per feature, so values come back bit for bit, NaN included) and `NAME.json` what is the
//! same for every row (feature names, customer ids, segment names, levels, the label's
//! meaning).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::matrix::Sample;

/// `NAME.json`.
#[derive(Serialize, Deserialize)]
struct Header {
    features: Vec<String>,
    group_names: Vec<String>,
    segments: Vec<String>,
    positive: String,
    levels: Vec<Option<Vec<String>>>,
}

fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{name}.parquet")), dir.join(format!("{name}.json")))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.to_path_buf();
    move |e| ModelError::Artifact { action, path, reason: e.to_string() }
}

fn polars_error(action: &'static str, path: &Path) -> impl FnOnce(PolarsError) -> ModelError {
    let path = path.to_path_buf();
    move |e| ModelError::Artifact { action, path, reason: e.to_string() }
}

/// Write `sample` as `dir/NAME.parquet` and `dir/NAME.json`.
pub fn write(sample: &Sample, dir: &Path, name: &str) -> Result<()> {
    let (rows, header) = paths(dir, name);
    let mut cols: Vec<Column> = vec![
        Column::new("time".into(), &sample.time),
        Column::new("group".into(), &sample.group),
        Column::new("segment".into(), &sample.segment),
        Column::new("label".into(), &sample.label),
    ];
    for (k, column) in sample.x.columns().into_iter().enumerate() {
        cols.push(Column::new(format!("x{k}").into(), column.to_vec()));
    }
    let file = std::fs::File::create(&rows).map_err(io("creating", &rows))?;
    DataFrame::new(sample.len(), cols)
        .and_then(|mut df| ParquetWriter::new(file).finish(&mut df))
        .map_err(polars_error("writing", &rows))?;
    let h = Header {
        features: sample.features.clone(),
        group_names: sample.group_names.clone(),
        segments: sample.segments.clone(),
        positive: sample.positive.clone(),
        levels: sample.levels.clone(),
    };
    let text = serde_json::to_vec(&h).map_err(|e| ModelError::Artifact {
        action: "serialising",
        path: header.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&header, text).map_err(io("writing", &header))
}

/// Read what [`write()`] wrote.
pub fn read(dir: &Path, name: &str) -> Result<Sample> {
    let (rows, header) = paths(dir, name);
    let text = std::fs::read(&header).map_err(io("reading", &header))?;
    let h: Header = serde_json::from_slice(&text).map_err(|e| ModelError::Artifact {
        action: "parsing",
        path: header.clone(),
        reason: e.to_string(),
    })?;
    let file = std::fs::File::open(&rows).map_err(io("opening", &rows))?;
    let width = h.features.len();
    let bad = |what: &str| ModelError::Data(format!("{}: {what}; draw the sample again", rows.display()));
    let columns = |df: &DataFrame| -> PolarsResult<_> {
        let time: Vec<i32> = df.column("time")?.i32()?.into_no_null_iter().collect();
        let group: Vec<u32> = df.column("group")?.u32()?.into_no_null_iter().collect();
        let segment: Vec<u32> = df.column("segment")?.u32()?.into_no_null_iter().collect();
        let label: Vec<Option<bool>> = df.column("label")?.bool()?.iter().collect();
        let mut x = Array2::<f64>::zeros((df.height(), width));
        let mut missing = false;
        for k in 0..width {
            let c = df.column(&format!("x{k}"))?.f64()?;
            missing |= c.null_count() > 0;
            for (cell, v) in x.column_mut(k).iter_mut().zip(c.into_no_null_iter()) {
                *cell = v;
            }
        }
        Ok((time, group, segment, label, x, missing))
    };
    let df = ParquetReader::new(file).finish().map_err(polars_error("reading", &rows))?;
    let n = df.height();
    let (time, group, segment, label, x, missing) = columns(&df).map_err(polars_error("reading", &rows))?;
    if df.width() != 4 + width || [time.len(), group.len(), segment.len()].iter().any(|&k| k != n) {
        return Err(bad("its columns do not match its header"));
    }
    if missing {
        return Err(bad("a feature value is missing"));
    }
    if group.iter().any(|&g| g as usize >= h.group_names.len())
        || segment.iter().any(|&s| s as usize >= h.segments.len())
    {
        return Err(bad("a customer or segment number is out of range"));
    }
    Ok(Sample {
        features: h.features,
        x,
        label,
        time,
        group,
        group_names: h.group_names,
        segment,
        segments: h.segments,
        positive: h.positive,
        levels: h.levels,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sample_comes_back_bit_for_bit() {
        let x = Array2::from_shape_vec((3, 2), vec![0.1, f64::NAN, -0.0, 1e-300, f64::INFINITY, 2.0 / 3.0]).unwrap();
        let s = Sample {
            features: vec!["a".into(), "b".into()],
            x,
            label: vec![Some(true), None, Some(false)],
            time: vec![19000, 19031, 19031],
            group: vec![1, 0, 1],
            group_names: vec!["C1".into(), "C2".into()],
            segment: vec![0, 0, 1],
            segments: vec!["retail".into(), "wholesale".into()],
            positive: "late".into(),
            levels: vec![None, Some(vec!["x".into()])],
        };
        let dir = tempfile::tempdir().unwrap();
        write(&s, dir.path(), "part").unwrap();
        let back = read(dir.path(), "part").unwrap();
        let bits = |s: &Sample| s.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&s));
        assert_eq!((back.label, back.time, back.group), (s.label, s.time, s.group));
        assert_eq!((back.group_names, back.segment, back.segments), (s.group_names, s.segment, s.segments));
        assert_eq!((back.features, back.levels, back.positive), (s.features, s.levels, s.positive));
    }
}
