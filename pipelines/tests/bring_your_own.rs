//! Acceptance of issue 4's "bring your own table": `ardent train` and `ardent score` on a
//! CSV feature table that ardent did not produce, with its own column names, a 0/1 label
//! whose rare value is 1, dates as text, and missing values.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write;

use common::{Outcome, ardent, write};

/// `ardent train --table TABLE --label LABEL --out MODELS` with `extra` flags.
fn train(table: &str, label: &str, models: &str, extra: &[&str]) -> Outcome {
    train_with(&[], table, label, models, extra)
}

/// [`train`] after the global flags `global` (`--log-format json`).
fn train_with(global: &[&str], table: &str, label: &str, models: &str, extra: &[&str]) -> Outcome {
    let mut args = global.to_vec();
    args.extend(["train", "--table", table, "--label", label, "--out", models]);
    args.extend_from_slice(extra);
    ardent(&args)
}

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
    let o =
        train(t_s, "defaulted", m_s, &["--time-column", "month", "--id-column", "account", "--oot-from", "2025-05-01"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("positive class: defaulted = 1"), "{}", o.stdout);
    assert!(o.stdout.contains("rows dated from 2025-05-01"), "{}", o.stdout);
    for id in ["logistic", "scorecard", "gbdt"] {
        let file = ardent_models::artifact::read(&models.join(id)).unwrap();
        assert_eq!(file.model.features, vec!["late_days", "utilisation", "bureau"]);
        assert!(file.metrics.out_of_time.auc > 0.7, "{id}: {}", file.metrics.out_of_time.auc);
        assert_eq!(file.training.out_of_time_from.as_deref(), Some("2025-05-28"));
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
    let o = train(t.to_str().unwrap(), "defaulted", models.to_str().unwrap(), &["--model", "logistic"]);
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
    let o = train(
        t.to_str().unwrap(),
        "defaulted",
        models.to_str().unwrap(),
        &["--id-column", "account", "--model", "logistic"],
    );
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
    let o = train(t.to_str().unwrap(), "defaulted", models.to_str().unwrap(), &["--model", "logistic"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("left out as id-like (a different whole number on every row): row_no"), "{}", o.stdout);
    let file = ardent_models::artifact::read(&models.join("logistic")).unwrap();
    assert_eq!(file.model.features, vec!["late_days", "utilisation", "bureau"]);
}

#[test]
fn an_infinite_value_is_a_missing_value_and_the_run_names_its_column() {
    let dir = tempfile::tempdir().unwrap();
    // Every 50th row's utilisation was divided by zero upstream.
    let text: String = table()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut f: Vec<&str> = l.split(',').collect();
            if i > 0 && i % 50 == 0 {
                f[3] = if i % 100 == 0 { "-inf" } else { "inf" };
            }
            format!("{}\n", f.join(","))
        })
        .collect();
    let t = dir.path().join("infinite.csv");
    write(&t, &text);
    let models = dir.path().join("models");
    let o = train(
        t.to_str().unwrap(),
        "defaulted",
        models.to_str().unwrap(),
        &["--id-column", "account", "--time-column", "month", "--oot-from", "2025-05-01", "--model", "logistic"],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout
            .contains("column utilisation: 240 infinite value(s) are treated as missing, in training and in scoring"),
        "{}",
        o.stdout
    );
    let file = ardent_models::artifact::read(&models.join("logistic")).unwrap();
    assert!(file.model.features.contains(&"utilisation".to_string()));
    // Scoring reads them the same way: an infinite row scores as the same row left empty.
    let rows = "account,month,late_days,utilisation,bureau\nA1,2025-06-28,30,inf,650\nA2,2025-06-28,30,,650\n";
    let s = dir.path().join("two.csv");
    write(&s, rows);
    let scored = dir.path().join("scored.csv");
    let o = ardent(&[
        "score",
        "--model",
        models.join("logistic").to_str().unwrap(),
        "--table",
        s.to_str().unwrap(),
        "--id-column",
        "account",
        "--out",
        scored.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = std::fs::read_to_string(&scored).unwrap();
    let pds: Vec<&str> = out.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(pds[0], pds[1], "{out}");
}

#[test]
fn a_learner_that_fails_is_left_out_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    // No feature can reach an information value of 50: the scorecard cannot be fitted, and
    // the logistic regression and the trees do not care.
    let t = dir.path().join("features.csv");
    write(&t, &table());
    let config = dir.path().join("train.toml");
    write(&config, "[models.scorecard]\nmin_iv = 50.0\n");
    let models = dir.path().join("models");
    let o = train(
        t.to_str().unwrap(),
        "defaulted",
        models.to_str().unwrap(),
        &[
            "--id-column",
            "account",
            "--time-column",
            "month",
            "--oot-from",
            "2025-05-01",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("scorecard                   failed and was left out:"), "{}", o.stdout);
    assert!(o.stdout.contains("minimum information value 50"), "{}", o.stdout);
    assert!(!models.join("scorecard").exists());
    for id in ["logistic", "gbdt"] {
        assert!(ardent_models::artifact::read(&models.join(id)).is_ok(), "{id} is written");
    }
}

#[test]
fn train_logs_json_and_a_table_without_dates_gets_no_placeholder_dates() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("features.csv");
    write(&t, &table());
    let models = dir.path().join("models");
    let o = train_with(
        &["--log-format", "json"],
        t.to_str().unwrap(),
        "defaulted",
        models.to_str().unwrap(),
        &["--id-column", "account", "--model", "logistic"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let events: Vec<serde_json::Value> = o.stderr.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        events.iter().any(|e| e["message"].as_str().is_some_and(|m| m.starts_with("train: reading"))),
        "{}",
        o.stderr
    );
    let summary = events.iter().find(|e| e["event"] == "train_summary").expect("a train_summary event");
    assert_eq!(summary["champion"], "logistic");
    assert_eq!(summary["rows"], 12_000);
    assert_eq!(summary["candidates"][0]["beats_constant"], true);
    assert!(summary["holdout"].as_str().unwrap().contains("no time column"));
    let file = ardent_models::artifact::read(&models.join("logistic")).unwrap();
    assert_eq!(file.training.train_from, None);
    let card = std::fs::read_to_string(models.join("logistic").join("model_card.md")).unwrap();
    assert!(!card.contains("1970"), "{card}");
    assert!(card.contains("- **Held out**: "), "{card}");
}

/// 3,000 applicants whose risk is in two text columns (`region`: five levels, one rare) and
/// one integer code (`grade` 1–4, not a quantity: grade 3 is the riskiest); the label is
/// good/bad text.
fn categorical_table() -> String {
    let mut s = String::from("applicant,region,grade,income,risk\n");
    let mut state = 987654321u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let regions = [("north", -1.5), ("south", 1.2), ("east", 0.0), ("west", 0.4)];
    for a in 0..3000 {
        let (region, r) = if a % 300 == 7 { ("islands", 2.0) } else { regions[(next() * 4.0) as usize % 4] };
        let grade = 1 + (next() * 4.0) as usize % 4;
        let g = [0.0, -0.8, 1.6, 0.2][grade - 1];
        let income = 20.0 + next() * 80.0;
        let z: f64 = -1.6 + r + g;
        let bad = next() < 1.0 / (1.0 + (-z).exp());
        writeln!(s, "P{a:05},{region},{grade},{income:.1},{}", if bad { "bad" } else { "good" }).unwrap();
    }
    s
}

#[test]
fn text_and_declared_categorical_columns_are_features_of_every_learner() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("applicants.csv");
    write(&t, &categorical_table());
    let models = dir.path().join("models");
    let o = train(
        t.to_str().unwrap(),
        "risk",
        models.to_str().unwrap(),
        &["--positive", "bad", "--id-column", "applicant", "--categorical", "grade"],
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("3 features (2 categorical: region (5 levels), grade (4 levels))"), "{}", o.stdout);
    assert!(!o.stdout.contains("left out"), "{}", o.stdout);
    // Income carries nothing: every learner must have learnt from the categories.
    for id in ["logistic", "scorecard", "gbdt"] {
        let line = o.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{id} "))).unwrap();
        let auc: f64 = line.split("AUC ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(auc > 0.72, "{id} learnt from the categories: {line}");
        let file = ardent_models::artifact::read(&models.join(id)).unwrap();
        assert_eq!(file.model.features, ["region", "grade", "income"]);
        assert_eq!(
            file.model.levels[0].as_deref(),
            Some(&["east", "islands", "north", "south", "west"].map(String::from)[..]),
            "{id}: model.json carries the level map"
        );
        assert_eq!(file.model.levels[1].as_deref(), Some(&["1", "2", "3", "4"].map(String::from)[..]));
        assert!(file.model.levels[2].is_none(), "income is numeric");
    }
    // Scoring: an unseen region scores as the pooled "other" group (here with the rare
    // islands), a missing one as missing, and reasons name levels, not codes.
    let rows = "applicant,region,grade,income\nA,islands,3,50\nB,atlantis,3,50\nC,north,2,50\nD,,3,50\n";
    let s = dir.path().join("new.csv");
    write(&s, rows);
    for id in ["logistic", "scorecard", "gbdt"] {
        let scored = dir.path().join(format!("{id}.csv"));
        let o = ardent(&[
            "score",
            "--model",
            models.join(id).to_str().unwrap(),
            "--table",
            s.to_str().unwrap(),
            "--id-column",
            "applicant",
            "--out",
            scored.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let out = std::fs::read_to_string(&scored).unwrap();
        let pd = |row: usize| -> f64 { out.lines().nth(row).unwrap().split(',').nth(1).unwrap().parse().unwrap() };
        assert_eq!(pd(1), pd(2), "{id}: an unseen region scores as the rare ones\n{out}");
        assert!(pd(3) < pd(1), "{id}: north at grade 2 is the safest\n{out}");
        assert!(!out.contains("region = 2") && !out.contains("grade = 2.0"), "{id}: reasons name levels\n{out}");
    }
    // The scorecard's SQL lists levels per bin (CI runs it in DuckDB against ardent score).
    let sql = std::fs::read_to_string(models.join("scorecard").join("scorecard.sql")).unwrap();
    assert!(sql.contains(r#"WHEN CAST("region" AS VARCHAR) IN ("#) && sql.contains("'north'"), "{sql}");
}
