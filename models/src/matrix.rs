//! The one crossing from tables to ndarray: a [`Sample`] holds a feature matrix (ndarray 0.16,
//! what linfa 0.8 uses; NaN means missing), one optional label per row, and the columns that
//! organise training: observation date, group (customer) and segment.
//!
//! Built from the engine's point-in-time [`Panel`] for `ardent run`, or from any CSV or
//! Parquet feature table for `ardent train` / `ardent score` ([`Sample::from_frame`]).

use ardent_engine::analytics::features::{FEATURES, Panel};
use ardent_engine::book::Book;
use ardent_engine::calendar::parse_day;
use foldhash::HashMap;
use ndarray::{Array2, ArrayView1};
use polars::prelude::{Column, DataFrame, DataType, PolarsError, TimeUnit};

use crate::error::{ModelError, Result};

/// A feature matrix with its labels and bookkeeping columns.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Feature names, in column order.
    pub features: Vec<String>,
    /// Rows × features; NaN is a missing value.
    pub x: Array2<f64>,
    /// `Some(true)` for the positive (minority) class, `None` when unlabelled.
    pub label: Vec<Option<bool>>,
    /// Observation date of each row (days since 1970-01-01; 0 when the table has none).
    pub time: Vec<i32>,
    /// Group of each row (the customer); cross-validation folds never split a group.
    pub group: Vec<u32>,
    /// Group names (customer ids), indexed by `group`.
    pub group_names: Vec<String>,
    /// Segment index of each row.
    pub segment: Vec<u32>,
    /// Segment names, indexed by `segment`.
    pub segments: Vec<String>,
    /// What the positive class is, in the words of the source ("default within 90 days",
    /// or `label = 0` when a table codes its minority class as 0).
    pub positive: String,
    /// Per feature, the levels of a categorical one (sorted; `x` holds the level's index, see
    /// [`crate::categories`]), `None` for a numeric one.
    pub levels: Vec<Option<Vec<String>>>,
}

impl Sample {
    /// The levels a model records: empty when every feature is numeric.
    pub fn model_levels(&self) -> Vec<Option<Vec<String>>> {
        if self.levels.iter().all(Option::is_none) { Vec::new() } else { self.levels.clone() }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.label.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    /// Row `i` of the matrix.
    pub fn row(&self, i: usize) -> ArrayView1<'_, f64> {
        self.x.row(i)
    }

    /// Row `i` as a slice (rows are contiguous: the matrix is built row-major).
    pub fn row_slice(&self, i: usize) -> &[f64] {
        match self.x.row(i).to_slice() {
            Some(s) => s,
            None => unreachable!("sample matrices are built in row-major order"),
        }
    }

    /// The engine's feature panel with its labels; segments are the customers' first
    /// segment column. The panel's values move into the sample.
    pub fn from_panel(book: &Book, panel: &mut Panel, label: Vec<Option<bool>>, positive: &str) -> Result<Sample> {
        let n = panel.len();
        // The values move (they are gigabytes on large books).
        let x = Array2::from_shape_vec((n, FEATURES.len()), std::mem::take(&mut panel.values))
            .map_err(|e| ModelError::Data(format!("the panel is not rectangular: {e}")))?;
        let mut sample = Sample::panel_rows(book, panel, label, positive)?;
        sample.x = x;
        Ok(sample)
    }

    /// The panel's rows with their labels, dates, customers and segments, but no feature
    /// values (a matrix of zero columns): enough to decide a split before any value is read.
    pub fn panel_rows(book: &Book, panel: &Panel, label: Vec<Option<bool>>, positive: &str) -> Result<Sample> {
        let n = panel.len();
        if label.len() != n {
            return Err(ModelError::Data(format!("{} labels for {n} panel rows", label.len())));
        }
        let customers = &book.customers;
        // The book already codes each customer's first segment column.
        let (segment, segments) = match customers.dims.first() {
            Some(d) => (panel.customer.iter().map(|&c| d.of_customer[c as usize]).collect(), d.values.clone()),
            None => (vec![0; n], vec!["ALL".to_string()]),
        };
        Ok(Sample {
            features: FEATURES.iter().map(|(name, _)| name.to_string()).collect(),
            x: Array2::zeros((n, 0)),
            label,
            time: panel.as_of.clone(),
            group: panel.customer.clone(),
            group_names: (0..customers.len()).map(|c| customers.ids.get(c).to_string()).collect(),
            segment,
            segments,
            positive: positive.to_string(),
            levels: vec![None; FEATURES.len()],
        })
    }

    /// The samples drawn from parts of one panel split by customer (the shards of a run),
    /// as one sample in the panel's order: by observation date, then customer id, rows of one
    /// date and customer in their part's order (the engine orders a panel by date and customer,
    /// and an invoice panel by date and document, its documents sorted by customer first).
    /// Customers are renumbered into the sorted union of the parts' customers, which is the
    /// whole book's when every part is given. The parts must share features, segments and
    /// levels (a sharded run gives every shard the whole book's); a customer in two parts is
    /// an error.
    pub fn merge_parts(parts: &[Sample]) -> Result<Sample> {
        let Some(first) = parts.first() else {
            return Err(ModelError::Data("no parts to merge".into()));
        };
        for p in parts {
            if p.features != first.features || p.segments != first.segments || p.levels != first.levels {
                return Err(ModelError::Data(
                    "the parts of a sample have different features, segments or levels: they come from different runs"
                        .into(),
                ));
            }
        }
        let mut group_names: Vec<String> = parts.iter().flat_map(|p| p.group_names.iter().cloned()).collect();
        group_names.sort_unstable();
        if let Some(w) = group_names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ModelError::Data(format!("customer {} is in two parts of the sample", w[0])));
        }
        let number = |name: &str| group_names.binary_search_by(|g| g.as_str().cmp(name)).unwrap_or(0) as u32;
        let renumber: Vec<Vec<u32>> = parts.iter().map(|p| p.group_names.iter().map(|g| number(g)).collect()).collect();
        // (part, row) in the panel's order: a stable sort keeps a customer's rows of one date
        // (all in one part) in their part's order.
        let mut order: Vec<(usize, usize)> =
            parts.iter().enumerate().flat_map(|(k, p)| (0..p.len()).map(move |i| (k, i))).collect();
        order.sort_by_key(|&(k, i)| (parts[k].time[i], renumber[k][parts[k].group[i] as usize]));
        let width = first.features.len();
        let mut x = Vec::with_capacity(order.len() * width);
        for &(k, i) in &order {
            let row = parts[k].x.row(i);
            match row.as_slice() {
                Some(r) => x.extend_from_slice(r),
                None => x.extend(row.iter().copied()),
            }
        }
        let x = Array2::from_shape_vec((order.len(), width), x)
            .map_err(|e| ModelError::Data(format!("the parts' matrices are not rectangular: {e}")))?;
        Ok(Sample {
            features: first.features.clone(),
            x,
            label: order.iter().map(|&(k, i)| parts[k].label[i]).collect(),
            time: order.iter().map(|&(k, i)| parts[k].time[i]).collect(),
            group: order.iter().map(|&(k, i)| renumber[k][parts[k].group[i] as usize]).collect(),
            group_names,
            segment: order.iter().map(|&(k, i)| parts[k].segment[i]).collect(),
            segments: first.segments.clone(),
            positive: first.positive.clone(),
            levels: first.levels.clone(),
        })
    }

    /// Rows `rows` (in their order) of this sample with the feature matrix `x` (one row per
    /// entry of `rows`).
    pub fn select(&self, rows: &[usize], x: Array2<f64>) -> Result<Sample> {
        if x.nrows() != rows.len() || x.ncols() != self.features.len() {
            return Err(ModelError::Data(format!(
                "a matrix of {} × {} for {} rows of {} features",
                x.nrows(),
                x.ncols(),
                rows.len(),
                self.features.len()
            )));
        }
        Ok(Sample {
            features: self.features.clone(),
            x,
            label: rows.iter().map(|&i| self.label[i]).collect(),
            time: rows.iter().map(|&i| self.time[i]).collect(),
            group: rows.iter().map(|&i| self.group[i]).collect(),
            group_names: self.group_names.clone(),
            segment: rows.iter().map(|&i| self.segment[i]).collect(),
            segments: self.segments.clone(),
            positive: self.positive.clone(),
            levels: self.levels.clone(),
        })
    }

    /// A feature table read from CSV or Parquet. Every numeric or boolean column other than
    /// the label, time, id and segment columns is a numeric feature (nulls and infinite
    /// values are missing values), and every text column (and every column named in
    /// `roles.categorical`) a categorical one ([`crate::categories`]); `features` restricts
    /// and orders them, with the levels each categorical one had in training (to score a
    /// table with a trained model, `known`). The label may be boolean, 0/1 or two values of text; see
    /// `read_label` for which is positive.
    pub fn from_frame(
        df: &DataFrame,
        roles: &Roles<'_>,
        features: Option<&[String]>,
        known: Option<&[Option<Vec<String>>]>,
    ) -> Result<Sample> {
        let source = roles.source;
        let column = |name: &str| {
            df.column(name).map_err(|_| {
                let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
                ModelError::Data(format!("{source} has no column `{name}`. Columns in the file: {}", names.join(", ")))
            })
        };
        let reserved = [roles.label, roles.time, roles.id, roles.segment];
        let features: Vec<String> = match features {
            Some(f) => f.to_vec(),
            None => df
                .columns()
                .iter()
                .filter(|c| !reserved.contains(&Some(c.name().as_str())))
                .filter(|c| {
                    c.dtype().is_primitive_numeric()
                        || c.dtype() == &DataType::Boolean
                        || c.dtype() == &DataType::String
                })
                .map(|c| c.name().to_string())
                .collect(),
        };
        if features.is_empty() {
            return Err(ModelError::Data(format!(
                "{source} has no feature columns (numbers, true/false or text) besides the label, time, id and segment columns"
            )));
        }
        let n = df.height();
        let mut x = Array2::<f64>::from_elem((n, features.len()), f64::NAN);
        let mut levels: Vec<Option<Vec<String>>> = Vec::with_capacity(features.len());
        for (j, name) in features.iter().enumerate() {
            let col = column(name)?;
            let categorical = match known {
                Some(known) => known.get(j).cloned().flatten(),
                None if is_categorical(col, roles) => Some(Vec::new()),
                None => None,
            };
            match categorical {
                Some(mut names) => {
                    let values = level_values(col, source)?;
                    if known.is_none() {
                        // Training: the levels are the column's own.
                        names = values.iter().flatten().cloned().collect();
                        names.sort_unstable();
                        names.dedup();
                    }
                    // Codes: the level's index; an unseen level is `names.len()`, missing NaN.
                    for (i, v) in values.iter().enumerate() {
                        x[[i, j]] = match v {
                            None => f64::NAN,
                            Some(v) => names.binary_search_by(|l| l.as_str().cmp(v)).unwrap_or(names.len()) as f64,
                        };
                    }
                    levels.push(Some(names));
                }
                None => {
                    if !(col.dtype().is_primitive_numeric() || col.dtype() == &DataType::Boolean) {
                        return Err(ModelError::Data(format!(
                            "{source}, column `{name}`: the model reads it as numbers, but it is {}",
                            col.dtype()
                        )));
                    }
                    let values = col
                        .cast(&DataType::Float64)
                        .map_err(|e| ModelError::Data(format!("{source}, column `{name}`: {e}")))?;
                    let values =
                        values.f64().map_err(|e| ModelError::Data(format!("{source}, column `{name}`: {e}")))?;
                    // Infinite values (a division by zero upstream) are missing values: no
                    // learner can place them, and one would stop a logistic regression.
                    for (i, v) in values.iter().enumerate() {
                        x[[i, j]] = v.filter(|v| v.is_finite()).unwrap_or(f64::NAN);
                    }
                    levels.push(None);
                }
            }
        }
        let (label, positive) = match roles.label {
            Some(name) => read_label(column(name)?.as_materialized_series(), source, name, roles.positive)?,
            None => (vec![None; n], String::new()),
        };
        let time = match roles.time {
            Some(name) => read_dates(column(name)?.as_materialized_series(), source, name)?,
            None => vec![0; n],
        };
        let (group, group_names) = match roles.id {
            Some(name) => codes(column(name)?.as_materialized_series(), source, name)?,
            None => ((0..n as u32).collect(), (0..n).map(|i| (i + 1).to_string()).collect()),
        };
        let (segment, segments) = match roles.segment {
            Some(name) => codes(column(name)?.as_materialized_series(), source, name)?,
            None => (vec![0; n], vec!["ALL".to_string()]),
        };
        Ok(Sample { features, x, label, time, group, group_names, segment, segments, positive, levels })
    }
}

/// Whether a table column is a categorical feature: text, or named categorical.
pub fn is_categorical(col: &Column, roles: &Roles<'_>) -> bool {
    col.dtype() == &DataType::String || roles.categorical.iter().any(|c| c == col.name().as_str())
}

/// A categorical column's values as text (integers as written, `3` not `3.0`).
fn level_values(col: &Column, source: &str) -> Result<Vec<Option<String>>> {
    let err = |e: PolarsError| ModelError::Data(format!("{source}, column `{}`: {e}", col.name()));
    let text = col.cast(&DataType::String).map_err(err)?;
    let text = text.str().map_err(err)?;
    Ok(text
        .iter()
        .map(|v| {
            v.map(str::trim).filter(|v| !v.is_empty()).map(|v| match v.parse::<f64>() {
                Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 && !v.contains(['e', 'E']) => format!("{}", f as i64),
                _ => v.to_string(),
            })
        })
        .collect())
}

/// Which columns of a feature table play which role.
#[derive(Debug, Clone, Copy, Default)]
pub struct Roles<'a> {
    /// How the table is named in messages (its path).
    pub source: &'a str,
    pub label: Option<&'a str>,
    /// The label's positive value (`bad`, `1`, `yes`); default: the rarer of two values.
    pub positive: Option<&'a str>,
    pub time: Option<&'a str>,
    pub id: Option<&'a str>,
    pub segment: Option<&'a str>,
    /// Numeric columns to read as categorical (codes such as 1–5 that are not quantities).
    pub categorical: &'a [String],
}

/// The label as positive / negative / unlabelled. Its values are read as text (`true`, `1`,
/// `1.0`, `bad` …): with `positive` given, that value (case ignored) is the positive class and
/// any other the negative one; without it, a label of two values makes the rarer one positive
/// (true/false and 0/1 as before). More than two values is an error that lists them.
fn read_label(
    s: &polars::prelude::Series,
    source: &str,
    name: &str,
    positive: Option<&str>,
) -> Result<(Vec<Option<bool>>, String)> {
    let text = s.cast(&DataType::String).map_err(|e| ModelError::Data(e.to_string()))?;
    let text = text.str().map_err(|e| ModelError::Data(e.to_string()))?;
    // Numbers written as floats (1.0) read as the integers they are.
    let canonical = |v: &str| -> String {
        let v = v.trim();
        match v.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => v.to_string(),
        }
    };
    let values: Vec<Option<String>> = text.iter().map(|v| v.filter(|v| !v.trim().is_empty()).map(canonical)).collect();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for v in values.iter().flatten() {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    let listed = || counts.iter().map(|(v, n)| format!("{v} ({n} rows)")).collect::<Vec<_>>().join(", ");
    let positive_value: String = match positive {
        Some(p) => {
            let p = canonical(p);
            match counts.keys().find(|v| v.eq_ignore_ascii_case(&p)) {
                Some(v) => v.to_string(),
                None => {
                    return Err(ModelError::Data(format!(
                        "{source}, column `{name}`: --positive \"{p}\" is none of the label's values: {}",
                        listed()
                    )));
                }
            }
        }
        None => {
            if counts.len() > 2 {
                return Err(ModelError::Data(format!(
                    "{source}, column `{name}`: the label has {} values ({}); it needs two, one of them named the positive class with --positive",
                    counts.len(),
                    listed()
                )));
            }
            // true/false and 0/1 keep their meaning; the rarer value is the positive class.
            let mut by_count: Vec<(&str, usize)> = counts.iter().map(|(v, n)| (*v, *n)).collect();
            by_count.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| rank(b.0).cmp(&rank(a.0))));
            by_count.first().map(|(v, _)| v.to_string()).unwrap_or_else(|| "1".into())
        }
    };
    let raw: Vec<Option<bool>> = values.iter().map(|v| v.as_ref().map(|v| *v == positive_value)).collect();
    let how = match positive {
        Some(_) => "named with --positive".to_string(),
        None if counts.len() == 2 => format!("the rarer of {}", listed()),
        None => "the only value".to_string(),
    };
    Ok((raw, format!("{name} = {positive_value} ({how})")))
}

/// How much a label value looks like "the event happened", for ties: 1 and true first.
fn rank(v: &str) -> u8 {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" => 2,
        "0" | "false" | "no" | "n" => 0,
        _ => 1,
    }
}

fn read_dates(s: &polars::prelude::Series, source: &str, name: &str) -> Result<Vec<i32>> {
    let err = |m: String| ModelError::Data(format!("{source}, column `{name}`: {m}"));
    match s.dtype() {
        DataType::Date => {
            let d = s.cast(&DataType::Int32).map_err(|e| err(e.to_string()))?;
            let d = d.i32().map_err(|e| err(e.to_string()))?;
            d.iter()
                .enumerate()
                .map(|(i, v)| v.ok_or_else(|| err(format!("row {} has no date; every row needs one", i + 1))))
                .collect()
        }
        DataType::Datetime(_, _) => {
            let d = s
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                .and_then(|d| d.cast(&DataType::Int64))
                .map_err(|e| err(e.to_string()))?;
            let d = d.i64().map_err(|e| err(e.to_string()))?;
            d.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.map(|ms| ms.div_euclid(86_400_000) as i32)
                        .ok_or_else(|| err(format!("row {} has no date; every row needs one", i + 1)))
                })
                .collect()
        }
        DataType::String => {
            let d = s.str().map_err(|e| err(e.to_string()))?;
            d.iter()
                .enumerate()
                .map(|(i, v)| {
                    let v = v.unwrap_or_default();
                    parse_day(v).ok_or_else(|| {
                        err(format!(
                            "row {}: `{v}` is not a date in YYYY-MM-DD form; fix the value or the column",
                            i + 1
                        ))
                    })
                })
                .collect()
        }
        other => Err(err(format!("the time column must hold dates, but it is {other}"))),
    }
}

fn codes(s: &polars::prelude::Series, source: &str, name: &str) -> Result<(Vec<u32>, Vec<String>)> {
    let s = s.cast(&DataType::String).map_err(|e| ModelError::Data(format!("{source}, column `{name}`: {e}")))?;
    let s = s.str().map_err(|e| ModelError::Data(format!("{source}, column `{name}`: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::default();
    let mut out = Vec::with_capacity(s.len());
    for v in s.iter() {
        let v = v.unwrap_or("");
        let id = match index.get(v) {
            Some(&id) => id,
            None => {
                names.push(v.to_string());
                index.insert(v.to_string(), (names.len() - 1) as u32);
                (names.len() - 1) as u32
            }
        };
        out.push(id);
    }
    Ok((out, names))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A panel of 7 customers × 4 month ends in the engine's order (date, then customer), two
    /// rows (documents) per customer and date, one categorical-free feature.
    fn panel() -> Sample {
        let names: Vec<String> = (0..7).map(|c| format!("C{c}")).collect();
        let mut s = Sample {
            features: vec!["f".into(), "g".into()],
            x: Array2::zeros((0, 2)),
            label: Vec::new(),
            time: Vec::new(),
            group: Vec::new(),
            group_names: names,
            segment: Vec::new(),
            segments: vec!["A".into(), "B".into()],
            positive: "bad".into(),
            levels: vec![None, None],
        };
        let mut x = Vec::new();
        for month in 0..4 {
            for c in 0..7u32 {
                for doc in 0..2i32 {
                    s.time.push(30 * month);
                    s.group.push(c);
                    s.segment.push(c % 2);
                    s.label.push((month < 3).then_some((c + doc as u32).is_multiple_of(3)));
                    x.extend([f64::from(month * 10 + doc), if c == 3 { f64::NAN } else { f64::from(c) }]);
                }
            }
        }
        s.x = Array2::from_shape_vec((s.label.len(), 2), x).unwrap();
        s
    }

    #[test]
    fn parts_split_by_customer_merge_back_into_the_panels_order() {
        let whole = panel();
        // Three parts as three shards hold them: their own customers only, numbered locally.
        let parts: Vec<Sample> = [vec![0u32, 4], vec![1, 3, 6], vec![2, 5]]
            .iter()
            .map(|own| {
                let rows: Vec<usize> = (0..whole.len()).filter(|&i| own.contains(&whole.group[i])).collect();
                let mut p = whole.select(&rows, whole.x.select(ndarray::Axis(0), &rows)).unwrap();
                p.group_names = own.iter().map(|&c| whole.group_names[c as usize].clone()).collect();
                p.group = rows.iter().map(|&i| own.iter().position(|&c| c == whole.group[i]).unwrap() as u32).collect();
                p
            })
            .collect();
        // In any order of the parts.
        for parts in [parts.clone(), parts.iter().rev().cloned().collect()] {
            let merged = Sample::merge_parts(&parts).unwrap();
            assert_eq!(merged.group_names, whole.group_names);
            assert_eq!((&merged.time, &merged.group, &merged.segment), (&whole.time, &whole.group, &whole.segment));
            assert_eq!(merged.label, whole.label);
            let bits = |s: &Sample| s.x.iter().map(|v| v.to_bits()).collect::<Vec<u64>>();
            assert_eq!(bits(&merged), bits(&whole));
        }
        let twice = Sample::merge_parts(&[parts[0].clone(), parts[0].clone()]).unwrap_err();
        assert!(twice.to_string().contains("customer C0 is in two parts"), "{twice}");
    }
}
