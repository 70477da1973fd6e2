//! Acceptance of issue 4's "bring your own table": `ardent train` and `ardent score` on a
//! CSV feature table that ardent did not produce, with its own column names, a 0/1 label
//! whose rare value is 1, dates as text, and missing values.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write;

use common::{ardent, write};

/// 2,000 accounts × 6 months; risk rises with `late_days` and `utilisation`; `bureau` is
/// missing for every seventh row.
fn table() -> String {
    let mut s = String::from("account,month,late_days,utilisation,bureau,defaulted\n");
    let mut state = 12345u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for m in 1..=6 {
        for a in 0..2000 {
            let late = (next() * 60.0).round();
            let util = next();
            let z = -4.0 + late / 15.0 + 1.5 * util;
            let y = next() < 1.0 / (1.0 + (-z).exp());
            let bureau = if (a + m) % 7 == 0 { String::new() } else { format!("{:.0}", 500.0 + next() * 300.0) };
            writeln!(s, "A{a:04},2025-0{m}-28,{late},{util:.3},{bureau},{}", u8::from(y)).unwrap();
        }
    }
    s
}

#[test]
fn train_then_score_a_table_of_your_own() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("features.csv");
    write(&t, &table());
    let models = dir.path().join("models");
    let (t_s, m_s) = (t.to_str().unwrap(), models.to_str().unwrap());
    let o = ardent(&[
        "train",
        "--table",
        t_s,
        "--label",
        "defaulted",
        "--time-column",
        "month",
        "--id-column",
        "account",
        "--oot-from",
        "2025-05-01",
        "--out",
        m_s,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("positive class: defaulted = 1"), "{}", o.stdout);
    assert!(o.stdout.contains("rows dated from 2025-05-01"), "{}", o.stdout);
    for id in ["logistic", "scorecard", "gbdt"] {
        let file = ardent_models::artifact::read(&models.join(id)).unwrap();
        assert_eq!(file.model.features, vec!["late_days", "utilisation", "bureau"]);
        assert!(file.metrics.out_of_time.auc > 0.7, "{id}: {}", file.metrics.out_of_time.auc);
        assert_eq!(file.training.out_of_time_from, "2025-05-28");
    }
    assert!(models.join("scorecard").join("scorecard.sql").exists());

    let scores = dir.path().join("scores.csv");
    let model = models.join("gbdt");
    let o = ardent(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--table",
        t_s,
        "--id-column",
        "account",
        "--out",
        scores.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "account,pd,score_points,risk_band,reason_1,reason_2,reason_3,reason_4,recommended_action"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12_000, "every input row is scored");
    assert!(rows.iter().all(|r| r[1].parse::<f64>().is_ok_and(|p| (0.0..=1.0).contains(&p))));
    assert!(rows.iter().all(|r| ["A", "B", "C", "D", "E"].contains(&r[3])));
}

#[test]
fn a_table_without_the_models_features_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("features.csv");
    write(&t, &table());
    let models = dir.path().join("models");
    let o = ardent(&[
        "train",
        "--table",
        t.to_str().unwrap(),
        "--label",
        "defaulted",
        "--model",
        "logistic",
        "--out",
        models.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("a seeded 20% of customers"), "{}", o.stdout);
    let other = dir.path().join("other.csv");
    write(&other, "account,late_days,bureau\nA1,3,700\n");
    let o = ardent(&[
        "score",
        "--model",
        models.join("logistic").to_str().unwrap(),
        "--table",
        other.to_str().unwrap(),
        "--out",
        dir.path().join("s.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("has no column `utilisation`"), "{}", o.stderr);
    let o = ardent(&["train", "--table", t.to_str().unwrap(), "--label", "late_days"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("the label has") && o.stderr.contains("--positive"), "{}", o.stderr);
}

/// A numeric table as Excel writes it (semicolons, scientific notation, `n/a` cells late in
/// the file) trains without preprocessing; a typo in a numeric column is named with its row
/// and value; a 1-row file with a missing value scores exactly like that row in the batch
/// (issue 20: `1.00E+05` failed the table with exit 4, one late `n/a` failed the file, one
/// early dropped the column, and a 1-row file's empty column was read as text).
#[test]
fn a_table_written_by_excel_trains_and_one_row_scores_as_in_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut excel = String::new();
    for (i, line) in table().lines().enumerate() {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        if i > 0 {
            // Bureau scores in scientific notation, and `n/a` where it is missing, late rows only.
            if let Ok(v) = f[4].parse::<f64>() {
                f[4] = format!("{v:.2E}").replace('E', "E+");
            } else if i > 11_000 {
                f[4] = "n/a".into();
            }
        }
        writeln!(excel, "{}", f.join(";")).unwrap();
    }
    let t = dir.path().join("excel.csv");
    write(&t, &excel);
    let models = dir.path().join("models");
    let o = ardent(&[
        "train",
        "--table",
        t.to_str().unwrap(),
        "--label",
        "defaulted",
        "--id-column",
        "account",
        "--model",
        "logistic",
        "--out",
        models.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let file = ardent_models::artifact::read(&models.join("logistic")).unwrap();
    assert_eq!(file.model.features, vec!["late_days", "utilisation", "bureau"], "bureau stays a feature");

    // A typo: named with its row and value, and how to declare a missing-value spelling.
    let typo = excel.replacen("n/a", "n.a.", 1);
    write(&t, &typo);
    let o =
        ardent(&["train", "--table", t.to_str().unwrap(), "--label", "defaulted", "--out", models.to_str().unwrap()]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(
        o.stderr.contains("column `bureau`, row")
            && o.stderr.contains("\"n.a.\" is not a number")
            && o.stderr.contains("--null-value"),
        "{}",
        o.stderr
    );
    write(&t, &excel);

    // One row with its bureau missing, alone and in the batch: the same score.
    let header = "account;month;late_days;utilisation;bureau;defaulted";
    let row = "Z0001;2025-06-28;12;0.400;;0";
    let one = dir.path().join("one.csv");
    write(&one, &format!("{header}\n{row}\n"));
    let batch = dir.path().join("batch.csv");
    write(&batch, &format!("{header}\nZ0000;2025-06-28;3;0.100;612;0\n{row}\nZ0002;2025-06-28;40;0.900;1.23E+02;1\n"));
    let score = |table: &std::path::Path, out: &str| {
        let out = dir.path().join(out);
        let o = ardent(&[
            "score",
            "--model",
            models.join("logistic").to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
            "--id-column",
            "account",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        std::fs::read_to_string(out).unwrap()
    };
    let alone = score(&one, "one.csv");
    let together = score(&batch, "batch.csv");
    let line = alone.lines().nth(1).unwrap();
    assert!(line.starts_with("Z0001,"), "{alone}");
    assert_eq!(together.lines().nth(2), Some(line), "the row scores the same alone and in a batch");
}

/// A text label (`good`/`bad`) trains with the positive class named (`--positive bad`), or by
/// default the rarer value, and the run says which it chose; a named value the label does not
/// have is refused listing the values (issue 20: a text label was refused).
#[test]
fn a_text_label_trains_with_its_positive_class_named() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = table()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                return format!("{l}\n");
            }
            let (rest, y) = l.rsplit_once(',').unwrap();
            format!("{rest},{}\n", if y == "1" { "bad" } else { "good" })
        })
        .collect();
    let t = dir.path().join("credit.csv");
    write(&t, &text);
    let models = dir.path().join("models");
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--table", t.to_str().unwrap(), "--label", "defaulted", "--id-column", "account"];
        args.extend(["--model", "logistic", "--out", models.to_str().unwrap()]);
        args.extend(extra);
        ardent(&args)
    };
    let o = train(&["--positive", "BAD"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("positive class: defaulted = bad (named with --positive)"), "{}", o.stdout);
    let named = ardent_models::artifact::read(&models.join("logistic")).unwrap().metrics.out_of_time.auc;
    assert!(named > 0.7, "{named}");
    let o = train(&[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("positive class: defaulted = bad (the rarer of bad ("), "{}", o.stdout);
    let o = train(&["--positive", "late"]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(
        o.stderr.contains("--positive \"late\" is none of the label's values: bad (") && o.stderr.contains("good ("),
        "{}",
        o.stderr
    );
}

/// A row-number column is not a feature unless it is named as the id, and the run says it
/// left it out (issue 20: an id column became a feature unless --id-column was given).
#[test]
fn an_id_like_column_is_not_a_feature_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = table()
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("row_no,{l}\n") } else { format!("{},{l}\n", 100_000 + i) })
        .collect();
    let t = dir.path().join("numbered.csv");
    write(&t, &text);
    let models = dir.path().join("models");
    let o = ardent(&[
        "train",
        "--table",
        t.to_str().unwrap(),
        "--label",
        "defaulted",
        "--model",
        "logistic",
        "--out",
        models.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("left out as id-like (a different whole number on every row): row_no"), "{}", o.stdout);
    let file = ardent_models::artifact::read(&models.join("logistic")).unwrap();
    assert_eq!(file.model.features, vec!["late_days", "utilisation", "bureau"]);
}
