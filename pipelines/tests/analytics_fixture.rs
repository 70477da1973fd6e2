//! Acceptance of issue 3: a hand-built ledger of 20 documents and payments, every expected
//! number worked out by hand below, checked as of three dates (two month ends and a leap
//! day) in every dashboard table.
//!
//! Customer A (segment smb, USD; one EUR invoice):
//!   I1 invoice 2024-01-05 due 02-04 1000.00   P1 01-25  400.00 refs I1    → I1 (reference), paid before due
//!   I2 invoice 2024-01-20 due 02-19  500.00   CM1 credit 02-10 100.00 applies_to I2
//!   I3 invoice 2024-01-31 due 03-01  300.00   P2 02-20 1000.00 no refs    → lump: I1 600 + I2 400 (oldest due)
//!   I5 invoice 2024-02-15 due 03-16  250.00   P3 03-10  800.00 no refs    → I4 (exact amount, not FIFO)
//!   I4 invoice 2024-02-29 due 03-30  800.00   P4 03-31 1000.00 refs I3;I5 → I3 300 + I5 250, 450 unapplied
//!   I6 invoice 2024-03-25 due 04-24  120.00 EUR
//! Customer B (segment enterprise; EUR and USD):
//!   J1 invoice 2024-01-10 due 01-25 2000.00 EUR  Q1 02-05 1100.00 EUR refs J1  → J1 900 EUR open
//!   J2 invoice 2024-01-15 due 02-14 1000.00      Q2 02-20  550.00 refs X999    → unknown ref: unapplied
//!   J3 debit memo 2024-02-01 due 02-15 50.00     Q3 03-05  600.00 EUR refs J2  → 720.00 USD to J2
//!   J4 invoice 2024-02-29 due 03-30  400.00      WO1 write-off 03-12 900.00 EUR applies_to J1 → J1 closed
//!                                                CM2 credit 03-15 30.00 no applies_to → J2 (oldest due)
//! EUR is 1.10 USD from 2024-01-01 and 1.20 from 2024-03-01 (open amounts revalue at the
//! as-of rate; sales, cohorts and roll rates use the document's rate).
#![allow(clippy::unwrap_used)]

#[path = "fixtures/collections.rs"]
mod collections;
mod common;

use std::path::Path;

const LEDGER: &str = "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency,applies_to,disputed,terms
I1,A,invoice,2024-01-05,2024-02-04,1000.00,USD,,false,NET30
I2,A,invoice,2024-01-20,2024-02-19,500.00,USD,,false,NET30
I3,A,invoice,2024-01-31,2024-03-01,300.00,USD,,false,NET30
CM1,A,credit_memo,2024-02-10,,100.00,USD,I2,false,
I5,A,invoice,2024-02-15,2024-03-16,250.00,USD,,false,NET30
I4,A,invoice,2024-02-29,2024-03-30,800.00,USD,,true,NET30
I6,A,invoice,2024-03-25,2024-04-24,120.00,EUR,,false,NET30
J1,B,invoice,2024-01-10,2024-01-25,2000.00,EUR,,false,NET15
J2,B,invoice,2024-01-15,2024-02-14,1000.00,USD,,false,NET30
J3,B,debit_memo,2024-02-01,2024-02-15,50.00,USD,,false,
J4,B,invoice,2024-02-29,2024-03-30,400.00,USD,,false,NET30
WO1,B,write_off,2024-03-12,,900.00,EUR,J1,false,
CM2,B,credit_memo,2024-03-15,,30.00,USD,,false,
";

const PAYMENTS: &str = "payment_id,customer_id,payment_date,amount,currency,invoice_refs,method
P1,A,2024-01-25,400.00,USD,I1,ach
P2,A,2024-02-20,1000.00,USD,,wire
P3,A,2024-03-10,800.00,USD,,ach
P4,A,2024-03-31,1000.00,USD,I3;I5,ach
Q1,B,2024-02-05,1100.00,EUR,J1,wire
Q2,B,2024-02-20,550.00,USD,X999,ach
Q3,B,2024-03-05,600.00,EUR,J2,wire
";

const CUSTOMERS: &str = "customer_id,name,segment,industry,region,country,credit_limit,onboarded_date,external_score
A,Alpha Ltd,smb,retail,EMEA,DE,2000.00,2020-01-01,700
B,Beta plc,enterprise,energy,EMEA,FR,5000.00,2019-06-01,650
";

const FX: &str = "date,currency,rate_to_reporting
2024-01-01,EUR,1.10
2024-03-01,EUR,1.20
";

const CONFIG: &str = r#"
[run]
reporting_currency = "USD"
max_rate_age_days = 100

[inputs.ledger]
path = "ledger.csv"
[inputs.payments]
path = "payments.csv"
[inputs.customers]
path = "customers.csv"
[inputs.fx_rates]
path = "fx_rates.csv"

[analytics]
snapshots = ["2024-01-31", "2024-02-29", "2024-03-31"]
"#;

/// Every column of every row, as text (money "1400.00", dates "2024-01-31").
use common::Record;

/// Every row of the published table `name`.
fn records(out: &Path, name: &str) -> Vec<Record> {
    common::records(&common::table(out, name))
}

fn find<'a>(rows: &'a [Record], key: &[(&str, &str)]) -> &'a Record {
    let hits: Vec<&Record> = rows.iter().filter(|r| key.iter().all(|(k, v)| r[*k].as_deref() == Some(*v))).collect();
    assert_eq!(hits.len(), 1, "exactly one row with {key:?}");
    hits[0]
}

fn text<'a>(r: &'a Record, column: &str) -> &'a str {
    r.get(column).unwrap_or_else(|| panic!("no column {column}")).as_deref().unwrap_or("null")
}

fn float(r: &Record, column: &str) -> Option<f64> {
    r[column].as_deref().map(|v| v.parse().unwrap())
}

fn close(r: &Record, column: &str, expected: f64) {
    let v = float(r, column).unwrap_or_else(|| panic!("{column} is null, expected {expected}"));
    assert!((v - expected).abs() < 1e-9, "{column}: {v} != {expected}");
}

fn run_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    run_with(CONFIG)
}

/// A folder holding `files` (name, text).
fn folder_of(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        common::write(&dir.path().join(name), text);
    }
    dir
}

fn run_with(config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = folder_of(&[
        ("ledger.csv", LEDGER),
        ("payments.csv", PAYMENTS),
        ("customers.csv", CUSTOMERS),
        ("fx_rates.csv", FX),
        ("pipeline.toml", config),
    ]);
    let out = dir.path().join("out");
    let o = common::ardent(&[
        "run",
        "--config",
        dir.path().join("pipeline.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    (dir, out)
}

#[test]
fn cash_application_follows_the_rules_by_hand() {
    let (_dir, out) = run_fixture();
    let apps = records(&out, "applications");
    assert_eq!(apps.len(), 11);
    let expect = [
        ("P1", "I1", "400.00", "400.00", "reference"),
        ("CM1", "I2", "100.00", "100.00", "applies_to"),
        ("P2", "I1", "600.00", "600.00", "oldest_due"),
        ("P2", "I2", "400.00", "400.00", "oldest_due"),
        ("P3", "I4", "800.00", "800.00", "exact_amount"),
        ("P4", "I3", "300.00", "300.00", "reference"),
        ("P4", "I5", "250.00", "250.00", "reference"),
        ("Q1", "J1", "1100.00", "1210.00", "reference"),
        // 600 EUR at 1.20 on 2024-03-05 = 720.00 USD on a USD invoice.
        ("Q3", "J2", "720.00", "720.00", "reference"),
        ("WO1", "J1", "900.00", "1080.00", "applies_to"),
        ("CM2", "J2", "30.00", "30.00", "credit_oldest_due"),
    ];
    for (source, invoice, amount, reporting, rule) in expect {
        let r = find(&apps, &[("source_id", source), ("invoice_id", invoice)]);
        assert_eq!((text(r, "amount"), text(r, "amount_reporting"), text(r, "rule")), (amount, reporting, rule));
    }
    assert_eq!(text(find(&apps, &[("source_id", "Q3")]), "source_amount"), "600.00");
    let left = records(&out, "unapplied_cash");
    assert_eq!(left.len(), 2);
    let p4 = find(&left, &[("source_id", "P4")]);
    assert_eq!((text(p4, "unapplied"), text(p4, "reason")), ("450.00", "overpayment"));
    let q2 = find(&left, &[("source_id", "Q2")]);
    assert_eq!((text(q2, "unapplied"), text(q2, "reason")), ("550.00", "references_not_open"));
}

#[test]
fn aging_as_of_each_date_by_hand() {
    let (_dir, out) = run_fixture();
    let aging = |date: &str| common::records(&common::partition(&out, "aging", &format!("as_of={date}")));
    let buckets = ["current", "1_30", "31_60", "61_90", "91_120", "121_plus"];
    // (customer, as_of, buckets, [total, past_due, open invoices, max_dpd, oldest due,
    // unapplied cash, net balance, disputed])
    type Expected<'a> = (&'a str, &'a str, [&'a str; 6], [&'a str; 8]);
    let expect: [Expected; 6] = [
        (
            "A",
            "2024-01-31",
            ["1400.00", "0.00", "0.00", "0.00", "0.00", "0.00"],
            ["1400.00", "0.00", "3", "-4", "2024-02-04", "0.00", "1400.00", "0.00"],
        ),
        (
            "B",
            "2024-01-31",
            ["1000.00", "2200.00", "0.00", "0.00", "0.00", "0.00"],
            ["3200.00", "2200.00", "2", "6", "2024-01-25", "0.00", "3200.00", "0.00"],
        ),
        (
            "A",
            "2024-02-29",
            ["1350.00", "0.00", "0.00", "0.00", "0.00", "0.00"],
            ["1350.00", "0.00", "3", "-1", "2024-03-01", "0.00", "1350.00", "800.00"],
        ),
        (
            "B",
            "2024-02-29",
            ["400.00", "1050.00", "990.00", "0.00", "0.00", "0.00"],
            ["2440.00", "2040.00", "4", "35", "2024-01-25", "550.00", "1890.00", "0.00"],
        ),
        // I6 is 120 EUR revalued at the as-of rate 1.20.
        (
            "A",
            "2024-03-31",
            ["144.00", "0.00", "0.00", "0.00", "0.00", "0.00"],
            ["144.00", "0.00", "1", "-24", "2024-04-24", "450.00", "-306.00", "0.00"],
        ),
        (
            "B",
            "2024-03-31",
            ["0.00", "400.00", "300.00", "0.00", "0.00", "0.00"],
            ["700.00", "700.00", "3", "46", "2024-02-14", "550.00", "150.00", "0.00"],
        ),
    ];
    for (customer, as_of, b, fields) in expect {
        let rows = aging(as_of);
        assert_eq!(rows.len(), 2, "{as_of}");
        let r = find(&rows, &[("customer_id", customer)]);
        let got: Vec<&str> = buckets.iter().map(|name| text(r, &format!("bucket_{name}"))).collect();
        assert_eq!(got, b, "{customer} {as_of} buckets");
        let columns = [
            "total_open",
            "past_due",
            "open_invoices",
            "max_dpd",
            "oldest_open_due_date",
            "unapplied_cash",
            "net_balance",
            "disputed_open",
        ];
        assert_eq!(columns.map(|c| text(r, c)), fields, "{customer} {as_of}");
    }
    let march = aging("2024-03-31");
    let b = find(&march, &[("customer_id", "B")]);
    close(b, "utilisation", 150.0 / 5000.0);
    assert_eq!(text(b, "segment"), "enterprise");
}

#[test]
fn monthly_kpis_by_hand() {
    let (_dir, out) = run_fixture();
    let kpi = records(&out, "kpi_monthly");
    // 3 months × (portfolio + 2 segments).
    assert_eq!(kpi.len(), 9);
    let all = |month: &str| find(&kpi, &[("month", month), ("segment", "ALL")]);
    let (jan, feb, mar) = (all("2024-01-31"), all("2024-02-29"), all("2024-03-31"));
    let money = [
        "ar_begin",
        "ar_end",
        "ar_current",
        "ar_delinquent",
        "credit_sales",
        "cash_collected",
        "cash_applied",
        "write_offs",
    ];
    let got = |r: &Record| money.map(|c| text(r, c).to_string());
    assert_eq!(got(jan), ["0.00", "4600.00", "2400.00", "2200.00", "5000.00", "400.00", "400.00", "0.00"]);
    assert_eq!(got(feb), ["4600.00", "3790.00", "1750.00", "2040.00", "1400.00", "2760.00", "2210.00", "0.00"]);
    assert_eq!(got(mar), ["3790.00", "844.00", "144.00", "700.00", "114.00", "2520.00", "2070.00", "1080.00"]);

    // Countback: Jan 4600 of 5000 sales; Feb 3790 = 1400 (29 days) + 2390/5000 of January;
    // Mar 844 = 114 (31 days) + 730/1400 of February.
    close(jan, "dso_countback", 4600.0 / 5000.0 * 31.0);
    close(feb, "dso_countback", 29.0 + 2390.0 / 5000.0 * 31.0);
    close(mar, "dso_countback", 31.0 + 730.0 / 1400.0 * 29.0);
    close(jan, "best_dso_countback", 2400.0 / 5000.0 * 31.0);
    close(feb, "best_dso_countback", 29.0 + 350.0 / 5000.0 * 31.0);
    close(mar, "best_dso_countback", 31.0 + 30.0 / 1400.0 * 29.0);
    close(mar, "add_countback", (31.0 + 730.0 / 1400.0 * 29.0) - (31.0 + 30.0 / 1400.0 * 29.0));
    // Standard DSO needs a full 90-day window: null before March; in March the window
    // 2024-01-02..03-31 holds all 6514.00 of sales.
    assert_eq!(float(jan, "dso_standard"), None);
    assert_eq!(float(feb, "dso_standard"), None);
    close(mar, "dso_standard", 844.0 / 6514.0 * 90.0);
    close(mar, "best_dso_standard", 144.0 / 6514.0 * 90.0);
    // CEI = (begin + sales − end) / (begin + sales − current end) × 100.
    close(jan, "cei", 400.0 / 2600.0 * 100.0);
    close(feb, "cei", 2210.0 / 4250.0 * 100.0);
    close(mar, "cei", 3060.0 / 3760.0 * 100.0);
    assert_eq!(text(mar, "cei_variant"), "period_sales");
    close(jan, "delinquency_rate_amount", 2200.0 / 4600.0);
    close(jan, "delinquency_rate_count", 1.0 / 5.0);
    close(feb, "delinquency_rate_count", 3.0 / 7.0);
    close(mar, "delinquency_rate_amount", 700.0 / 844.0);
    close(mar, "delinquency_rate_count", 3.0 / 4.0);
    close(mar, "share_90_plus", 0.0);
    // Paid in February: I1 (46 days, 16 late), I2 (31 days, 1 late); in March: I4 (10, 0),
    // I3 (60, 30), I5 (45, 15). J1 was closed by a write-off, so it was not paid.
    assert_eq!((text(jan, "invoices_paid"), text(feb, "invoices_paid"), text(mar, "invoices_paid")), ("0", "2", "3"));
    assert_eq!(float(jan, "avg_days_to_pay"), None);
    close(feb, "avg_days_to_pay", 38.5);
    close(feb, "weighted_days_to_pay", 61500.0 / 1500.0);
    close(feb, "weighted_days_late", 16500.0 / 1500.0);
    close(mar, "avg_days_to_pay", 115.0 / 3.0);
    close(mar, "weighted_days_to_pay", 37250.0 / 1350.0);
    close(mar, "weighted_days_late", 12750.0 / 1350.0);
    close(mar, "bad_debt_ratio", 1080.0 / 114.0);
    close(jan, "collection_rate", 400.0 / 5000.0);
    close(feb, "collection_rate", 2210.0 / 6000.0);
    close(mar, "collection_rate", 2070.0 / 3904.0);

    let smb_mar = find(&kpi, &[("month", "2024-03-31"), ("segment", "smb")]);
    assert_eq!(
        (text(smb_mar, "dimension"), text(smb_mar, "ar_end"), text(smb_mar, "credit_sales")),
        ("segment", "144.00", "144.00")
    );
    let ent_feb = find(&kpi, &[("month", "2024-02-29"), ("segment", "enterprise")]);
    assert_eq!((text(ent_feb, "ar_end"), text(ent_feb, "ar_delinquent")), ("2440.00", "2040.00"));
}

#[test]
fn cohorts_and_roll_rates_by_hand() {
    let (_dir, out) = run_fixture();
    let cohorts = records(&out, "cohorts");
    let jan = |age: &str| find(&cohorts, &[("cohort_month", "2024-01-01"), ("age_months", age), ("segment", "ALL")]);
    // January billed I1 1000 + I2 500 + I3 300 + J1 2200 (2000 EUR at 1.10) + J2 1000.
    // (paid, credited, written off, open) at each month end, J1 at its document rate 1.10.
    for (age, paid, credited, written_off, open) in [
        ("0", "400.00", "0.00", "0.00", "4600.00"),
        ("1", "2610.00", "100.00", "0.00", "2290.00"),
        ("2", "3630.00", "130.00", "990.00", "250.00"),
    ] {
        let r = jan(age);
        assert_eq!(
            [
                text(r, "invoices"),
                text(r, "billed"),
                text(r, "paid"),
                text(r, "credited"),
                text(r, "written_off"),
                text(r, "open")
            ],
            ["5", "5000.00", paid, credited, written_off, open],
            "age {age}"
        );
        assert_eq!(text(r, "at_risk_rate"), "null", "not 90 days old yet");
    }
    close(jan("2"), "paid_share", 3630.0 / 5000.0);
    // February billed I5 250 + I4 800 + J4 400 (the debit memo J3 is not an invoice).
    let feb1 = find(&cohorts, &[("cohort_month", "2024-02-01"), ("age_months", "1"), ("segment", "ALL")]);
    assert_eq!([text(feb1, "billed"), text(feb1, "paid"), text(feb1, "open")], ["1450.00", "1050.00", "400.00"]);
    assert_eq!(cohorts.iter().filter(|r| text(r, "segment") == "ALL").count(), 3 + 2 + 1);

    let roll = records(&out, "roll_rates");
    let all: Vec<Record> = roll.into_iter().filter(|r| text(r, "segment") == "ALL").collect();
    let amount = |month: &str, from: &str, to: &str| {
        text(find(&all, &[("month", month), ("from_bucket", from), ("to_bucket", to)]), "amount").to_string()
    };
    // January 31 → February 29.
    assert_eq!(amount("2024-02-29", "current", "paid"), "1000.00");
    assert_eq!(amount("2024-02-29", "current", "credited"), "100.00");
    assert_eq!(amount("2024-02-29", "current", "current"), "300.00");
    assert_eq!(amount("2024-02-29", "current", "1_30"), "1000.00");
    assert_eq!(amount("2024-02-29", "1_30", "paid"), "1210.00");
    assert_eq!(amount("2024-02-29", "1_30", "31_60"), "990.00");
    // February 29 → March 31.
    assert_eq!(amount("2024-03-31", "current", "paid"), "1350.00");
    assert_eq!(amount("2024-03-31", "current", "1_30"), "400.00");
    assert_eq!(amount("2024-03-31", "1_30", "paid"), "720.00");
    assert_eq!(amount("2024-03-31", "1_30", "credited"), "30.00");
    assert_eq!(amount("2024-03-31", "1_30", "31_60"), "300.00");
    assert_eq!(amount("2024-03-31", "31_60", "written_off"), "990.00");
    assert_eq!(all.len(), 6 + 6);
    close(
        find(&all, &[("month", "2024-02-29"), ("from_bucket", "current"), ("to_bucket", "paid")]),
        "rate",
        1000.0 / 2400.0,
    );
}

#[test]
fn payment_stats_and_reconciliation_by_hand() {
    let (_dir, out) = run_fixture();
    let stats = records(&out, "customer_payment_stats");
    // B has paid nothing in full (J1 was written off), so it has no row.
    assert!(stats.iter().all(|r| text(r, "customer_id") == "A"));
    assert_eq!(stats.len(), 2, "A has settled invoices as of February and March");
    let a = find(&stats, &[("as_of", "2024-03-31")]);
    assert_eq!(text(a, "invoices_paid"), "5");
    close(a, "avg_days_to_pay", 192.0 / 5.0);
    close(a, "share_paid_late", 0.8);
    close(a, "weighted_days_late", 29250.0 / 2850.0);
    assert_eq!(text(a, "trend_days_late"), "null");

    let checks = records(&out, "reconciliation");
    assert!(checks.iter().all(|r| text(r, "passed") == "true"));
    let open_usd = find(
        &checks,
        &[("as_of", "2024-03-31"), ("check", "open_ar_equals_documents_minus_applications"), ("scope", "USD")],
    );
    // USD receivables 1000+500+300+250+800+1000+50+400 = 4300 − applications 3600 = 700.
    assert_eq!((text(open_usd, "expected"), text(open_usd, "actual")), ("700.00", "700.00"));
    let open_eur = find(
        &checks,
        &[("as_of", "2024-03-31"), ("check", "open_ar_equals_documents_minus_applications"), ("scope", "EUR")],
    );
    assert_eq!(text(open_eur, "actual"), "120.00");
    let cash = find(
        &checks,
        &[("as_of", "2024-03-31"), ("check", "unapplied_cash_equals_payments_minus_applied"), ("scope", "USD")],
    );
    assert_eq!(text(cash, "actual"), "1000.00");
}

#[test]
fn weekly_snapshots_land_on_sundays_and_agree_with_month_ends() {
    let (_dir, out) = run_with(
        &CONFIG.replace(r#"snapshots = ["2024-01-31", "2024-02-29", "2024-03-31"]"#, r#"snapshots = "week_end""#),
    );
    let dates = common::partitions(&out, "aging");
    // Sundays from the first document (2024-01-05) to the last event (2024-03-31, a Sunday).
    assert_eq!(dates.len(), 13, "{dates:?}");
    assert_eq!((dates[0].as_str(), dates[12].as_str()), ("as_of=2024-01-07", "as_of=2024-03-31"));
    let march = common::records(&common::partition(&out, "aging", "as_of=2024-03-31"));
    assert_eq!(text(find(&march, &[("customer_id", "B")]), "total_open"), "700.00");
    let checks = records(&out, "reconciliation");
    assert!(checks.len() >= 13 * 3 && checks.iter().all(|r| text(r, "passed") == "true"));
    // The monthly tables keep month ends whatever the snapshot schedule.
    assert_eq!(records(&out, "kpi_monthly").len(), 9);
}

#[test]
fn expected_credit_loss_by_hand() {
    let (_dir, out) = run_fixture();
    let ecl = records(&out, "ecl");
    let row = |as_of: &str, bucket: &str| {
        find(&ecl, &[("as_of", as_of), ("segment", "ALL"), ("method", "roll_rate"), ("bucket", bucket)])
    };
    // Transitions of the portfolio (see `cohorts_and_roll_rates_by_hand`), summed over the
    // lookback (24 months: all of them) as of March:
    //   current held 2400 + 1750 = 4150, rolled on 1000 + 400 = 1400;
    //   1_30 held 2200 + 1050 = 3250, rolled on 990 + 300 = 1290;
    //   31_60 held 990 (February), all of it written off in March (WO1, 900 EUR at 1.10);
    //   nothing was ever older, so 61_90 and beyond have no rate.
    // L_31_60 = 990 / 990 = 1 (nothing rolled on: its direct write-off share);
    // L_1_30 = 1290 / 3250 × 1; L_current = 1400 / 4150 × L_1_30.
    let l_1_30 = 1290.0 / 3250.0;
    let l_current = 1400.0 / 4150.0 * l_1_30;
    close(row("2024-03-31", "31_60"), "historical_loss_rate", 1.0);
    close(row("2024-03-31", "1_30"), "historical_loss_rate", l_1_30);
    close(row("2024-03-31", "current"), "historical_loss_rate", l_current);
    for bucket in ["61_90", "91_120", "121_plus"] {
        let r = row("2024-03-31", bucket);
        assert_eq!((text(r, "historical_loss_rate"), text(r, "allowance")), ("null", "0.00"), "{bucket}");
    }
    // Open receivables as of March (`aging_as_of_each_date_by_hand`): current 144.00 (I6),
    // 1_30 400.00 (J4), 31_60 300.00 (J2). Allowance = exposure × rate, to the cent:
    // 14400 × 1806000 / 13487500 = 1928.19 → 19.28; 40000 × 1290 / 3250 = 15876.92 → 158.77.
    let allowances = |as_of: &str| ["current", "1_30", "31_60"].map(|b| text(row(as_of, b), "allowance").to_string());
    assert_eq!(allowances("2024-03-31"), ["19.28", "158.77", "300.00"]);
    assert_eq!(text(row("2024-03-31", "current"), "exposure"), "144.00");
    assert_eq!(text(row("2024-03-31", "current"), "months_observed"), "3");
    // In February the chain 1_30 → 31_60 had no history past 31_60 yet: no rates, no allowance.
    assert_eq!(allowances("2024-02-29"), ["0.00", "0.00", "0.00"]);
    // The roll-forward on the ALL row: closing 478.05; opening February's 0; write-offs used
    // in March WO1 = 900 EUR at 1.20 = 1080.00; charge = 478.05 − 0 + 1080.00.
    let total = row("2024-03-31", "ALL");
    let flow = ["exposure", "allowance", "opening_allowance", "write_offs_used", "charge", "closing_allowance"];
    assert_eq!(flow.map(|c| text(total, c)), ["844.00", "478.05", "0.00", "1080.00", "1558.05", "478.05"]);
    close(total, "adjusted_loss_rate", 478.05 / 844.0);
    close(total, "historical_loss_rate", (144.0 * l_current + 400.0 * l_1_30 + 300.0) / 844.0);
    assert_eq!(text(row("2024-03-31", "1_30"), "opening_allowance"), "null", "the roll-forward is on ALL rows");
    // One row per month end × group (ALL and two segments) × (6 buckets + ALL of the roll-rate
    // method, and the loss-rate method's ALL row; no PD method without `ecl.lgd`).
    assert_eq!(ecl.len(), 3 * 3 * (7 + 1));
    // With 12 months of horizon no vintage of a 3-month ledger has an outcome: no rate.
    let vintage = find(&ecl, &[("as_of", "2024-03-31"), ("segment", "ALL"), ("method", "loss_rate")]);
    assert_eq!((text(vintage, "historical_loss_rate"), text(vintage, "allowance")), ("null", "0.00"));
    let checks = records(&out, "reconciliation");
    let roll_forward: Vec<&Record> = checks.iter().filter(|r| text(r, "check") == "ecl_roll_forward").collect();
    assert_eq!(roll_forward.len(), 3, "one per month end");
    assert!(roll_forward.iter().all(|r| text(r, "passed") == "true" && text(r, "scope") == "USD"));
    // Every method's and group's closing allowance at March added (the loss-rate method's is 0:
    // no vintage has a 12-month outcome yet).
    let closing: f64 = ecl
        .iter()
        .filter(|r| text(r, "as_of") == "2024-03-31" && text(r, "bucket") == "ALL")
        .map(|r| float(r, "closing_allowance").unwrap())
        .sum();
    let march = roll_forward.iter().find(|r| text(r, "as_of") == "2024-03-31").unwrap();
    close(march, "actual", closing);

    // A management overlay of 1.1 scales every rate, capped at 1 (31_60 stays at 1).
    let (_dir, out) = run_with(&format!("{CONFIG}\n[ecl]\noverlay = 1.1\n"));
    let ecl = records(&out, "ecl");
    let row = |bucket: &str| {
        find(&ecl, &[("as_of", "2024-03-31"), ("segment", "ALL"), ("method", "roll_rate"), ("bucket", bucket)])
    };
    assert_eq!(["current", "1_30", "31_60"].map(|b| text(row(b), "allowance")), ["21.21", "174.65", "300.00"]);
    close(row("31_60"), "adjusted_loss_rate", 1.0);
    close(row("1_30"), "overlay", 1.1);
    close(row("1_30"), "adjusted_loss_rate", l_1_30 * 1.1);
}

#[test]
fn the_allowance_is_backtested_against_the_write_offs_that_followed() {
    // Three month ends of data: with the default 12-month horizon no month end can be judged.
    let (_dir, out) = run_fixture();
    assert_eq!(records(&out, "ecl_backtest").len(), 0);
    // With a one-month horizon, January and February can.
    let (_dir, out) = run_with(&format!("{CONFIG}\n[ecl]\nbacktest_months = 1\n"));
    let rows = records(&out, "ecl_backtest");
    assert_eq!(rows.len(), 2 * 3 * 2, "two month ends × (ALL and two segments) × two methods");
    let row =
        |as_of: &str, segment: &str| find(&rows, &[("as_of", as_of), ("segment", segment), ("method", "roll_rate")]);
    // Nothing open at January 31 was written off by February 29.
    let jan = row("2024-01-31", "ALL");
    assert_eq!(
        ["exposure", "allowance", "realised_write_offs", "coverage"].map(|c| text(jan, c)),
        ["4600.00", "0.00", "0.00", "null"]
    );
    // J1 had 900 EUR open at February 29 (2000 billed, 1100 paid) and was written off on March
    // 12: 990.00 at February's rate (1.10). February's allowance was 0 (no rates yet).
    let feb = row("2024-02-29", "ALL");
    assert_eq!(
        ["exposure", "allowance", "realised_write_offs", "difference", "horizon_months", "method"]
            .map(|c| text(feb, c)),
        ["3790.00", "0.00", "990.00", "-990.00", "1", "roll_rate"]
    );
    close(feb, "coverage", 0.0);
    assert_eq!(text(row("2024-02-29", "enterprise"), "realised_write_offs"), "990.00");
    assert_eq!(text(row("2024-02-29", "smb"), "realised_write_offs"), "0.00");

    // The loss-rate method on billing cohorts, as of March with a one-month horizon (see the
    // cohorts in `cohorts_and_roll_rates_by_hand`, at document rates):
    //   age 0: the January and February vintages (their age-1 outcome is known by March) held
    //   4600 + 1450 open at age 0 and wrote nothing off by age 1: rate 0;
    //   age 1: only January's: 2290 open at age 1, 990 (J1) written off by age 2: 990 / 2290;
    //   age 2: no vintage is old enough: it takes age 1's rate.
    // Exposure: I6 144.00 (March, age 0), J4 400.00 (February, age 1), J2 250.00 (January, age
    // 2; the debit memo J3 is not in a billing cohort): 794.00. Allowance: 40000 × 990 / 2290
    // = 17292.58 → 172.93, 25000 × 990 / 2290 = 10807.86 → 108.08; 281.01.
    let ecl = records(&out, "ecl");
    let vintage = find(&ecl, &[("as_of", "2024-03-31"), ("segment", "ALL"), ("method", "loss_rate")]);
    assert_eq!(
        ["exposure", "allowance", "months_observed", "closing_allowance"].map(|c| text(vintage, c)),
        ["794.00", "281.01", "2", "281.01"]
    );
    close(vintage, "historical_loss_rate", 650.0 * 990.0 / 2290.0 / 794.0);
    // February: only January's age 0 is judged (rate 0), so nothing is provided.
    let feb = find(&ecl, &[("as_of", "2024-02-29"), ("segment", "ALL"), ("method", "loss_rate")]);
    assert_eq!(text(feb, "allowance"), "0.00");
    let judged = find(&rows, &[("as_of", "2024-02-29"), ("segment", "ALL"), ("method", "loss_rate")]);
    assert_eq!(text(judged, "realised_write_offs"), "990.00");
}

/// Copy the CSV `name` from `from` to `to`, keeping the rows whose `column` (a date,
/// YYYY-MM-DD) is on or before `last`.
fn copy_until(from: &Path, to: &Path, name: &str, column: &str, last: &str) {
    let text = std::fs::read_to_string(from.join(name)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let at = header.split(',').position(|c| c == column).unwrap();
    let kept: Vec<&str> = lines.filter(|l| l.split(',').nth(at).unwrap() <= last).collect();
    assert!(kept.len() < text.lines().count() - 1, "{name} has rows after {last}");
    common::write(&to.join(name), &format!("{header}\n{}\n", kept.join("\n")));
}

#[test]
fn a_cash_forecast_is_unchanged_when_later_data_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let (full, cut) = (dir.path().join("full"), dir.path().join("cut"));
    let config = common::generate_months(&full, 300, 24, 21, 0.0);
    // The same exports as they stood on the forecast date: nothing dated after it.
    let t = "2025-06-30";
    copy_until(&full, &cut, "ledger.csv", "doc_date", t);
    copy_until(&full, &cut, "payments.csv", "payment_date", t);
    copy_until(&full, &cut, "fx_rates.csv", "date", t);
    std::fs::copy(full.join("customers.csv"), cut.join("customers.csv")).unwrap();
    std::fs::copy(&config, cut.join("pipeline.toml")).unwrap();
    let run = |data: &Path, extra: &[&str]| {
        let out = data.join("out");
        let (config, out_arg) = (data.join("pipeline.toml"), out.to_str().unwrap().to_string());
        let args =
            [&["run", "--config", config.to_str().unwrap(), "--out", &out_arg, "--set", "models.enabled=false"], extra]
                .concat();
        let o = common::ardent(&args);
        assert_eq!(o.code, 0, "{}", o.stderr);
        out
    };
    // The full history re-forecasts at t in its backtest; the cut one forecasts at its last day, t.
    let (later, then) = (run(&full, &[]), run(&cut, &["--set", &format!("analytics.to={t}")]));
    let key = ["dimension", "segment", "currency", "week"];
    let values = ["expected", "p10", "p50", "p90"];
    let rows = |out: &Path, table: &str| {
        let mut rows: Vec<Vec<String>> = records(out, table)
            .into_iter()
            .filter(|r| text(r, "as_of") == t)
            .map(|r| key.iter().chain(&values).map(|c| text(&r, c).to_string()).collect())
            .collect();
        rows.sort();
        rows
    };
    let (backtest, forecast) = (rows(&later, "cash_forecast_backtest"), rows(&then, "cash_forecast"));
    assert!(forecast.len() >= 13 * 4, "a forecast per week of several groups and currencies: {}", forecast.len());
    assert!(forecast.iter().any(|r| r[5] != "0.00"), "something is expected to be paid");
    assert_eq!(forecast, backtest, "the forecast at {t} saw data after it");
    // And it was judged: what was paid after t is in the backtest, and could not be in the forecast.
    let actual: f64 = records(&later, "cash_forecast_backtest")
        .iter()
        .filter(|r| text(r, "as_of") == t && text(r, "segment") == "ALL")
        .map(|r| text(r, "actual").parse::<f64>().unwrap())
        .sum();
    assert!(actual > 0.0);
}

/// A ledger whose customers each must, or must not, raise one kind of alert.
const ALERT_LEDGER: &str = "doc_id,customer_id,doc_type,doc_date,due_date,amount,currency,applies_to,disputed,terms
L1,LIM,invoice,2024-05-10,2024-06-09,1500.00,USD,,false,NET30
K1,OK,invoice,2024-05-10,2024-06-09,1500.00,USD,,false,NET30
S1,SLOW,invoice,2023-03-01,2023-03-31,100.00,USD,,false,NET30
S2,SLOW,invoice,2023-04-01,2023-05-01,100.00,USD,,false,NET30
S3,SLOW,invoice,2023-05-01,2023-05-31,100.00,USD,,false,NET30
S4,SLOW,invoice,2023-06-01,2023-07-01,100.00,USD,,false,NET30
R1,SLOW,invoice,2023-09-01,2023-10-01,100.00,USD,,false,NET30
R2,SLOW,invoice,2023-09-15,2023-10-15,100.00,USD,,false,NET30
R3,SLOW,invoice,2023-10-01,2023-10-31,100.00,USD,,false,NET30
T1,STEADY,invoice,2023-03-01,2023-03-31,100.00,USD,,false,NET30
T2,STEADY,invoice,2023-04-01,2023-05-01,100.00,USD,,false,NET30
T3,STEADY,invoice,2023-05-01,2023-05-31,100.00,USD,,false,NET30
T4,STEADY,invoice,2023-06-01,2023-07-01,100.00,USD,,false,NET30
U1,STEADY,invoice,2023-09-01,2023-10-01,100.00,USD,,false,NET30
U2,STEADY,invoice,2023-09-15,2023-10-15,100.00,USD,,false,NET30
U3,STEADY,invoice,2023-10-01,2023-10-31,100.00,USD,,false,NET30
D1,DISP,invoice,2024-06-05,2024-07-05,20000.00,USD,,true,NET30
D2,SMALLD,invoice,2024-06-05,2024-07-05,5000.00,USD,,true,NET30
D3,OLDD,invoice,2024-04-10,2024-05-10,20000.00,USD,,true,NET30
";

const ALERT_PAYMENTS: &str = "payment_id,customer_id,payment_date,amount,currency,invoice_refs,method
PS1,SLOW,2023-03-31,100.00,USD,S1,ach
PS2,SLOW,2023-05-01,100.00,USD,S2,ach
PS3,SLOW,2023-05-31,100.00,USD,S3,ach
PS4,SLOW,2023-07-01,100.00,USD,S4,ach
PR1,SLOW,2023-10-31,100.00,USD,R1,ach
PR2,SLOW,2023-11-14,100.00,USD,R2,ach
PR3,SLOW,2023-11-30,100.00,USD,R3,ach
PT1,STEADY,2023-03-31,100.00,USD,T1,ach
PT2,STEADY,2023-05-01,100.00,USD,T2,ach
PT3,STEADY,2023-05-31,100.00,USD,T3,ach
PT4,STEADY,2023-07-01,100.00,USD,T4,ach
PU1,STEADY,2023-10-06,100.00,USD,U1,ach
PU2,STEADY,2023-10-20,100.00,USD,U2,ach
PU3,STEADY,2023-11-05,100.00,USD,U3,ach
";

const ALERT_CUSTOMERS: &str =
    "customer_id,name,segment,industry,region,country,credit_limit,onboarded_date,external_score
LIM,Over Limit,smb,retail,EMEA,DE,1000.00,2020-01-01,700
OK,Within Limit,smb,retail,EMEA,DE,5000.00,2020-01-01,700
SLOW,Slowing,smb,retail,EMEA,DE,,2020-01-01,700
STEADY,Steady,smb,retail,EMEA,DE,,2020-01-01,700
DISP,Disputes,enterprise,energy,EMEA,FR,,2020-01-01,700
SMALLD,Small Dispute,enterprise,energy,EMEA,FR,,2020-01-01,700
OLDD,Old Dispute,enterprise,energy,EMEA,FR,,2020-01-01,700
";

#[test]
fn each_ledger_alert_is_raised_for_the_customer_that_must_and_not_for_the_one_that_must_not() {
    let config = r#"
[run]
reporting_currency = "USD"
[inputs.ledger]
path = "ledger.csv"
[inputs.payments]
path = "payments.csv"
[inputs.customers]
path = "customers.csv"
[analytics]
to = "2024-06-30"
[models]
enabled = false
"#;
    let dir = folder_of(&[
        ("ledger.csv", ALERT_LEDGER),
        ("payments.csv", ALERT_PAYMENTS),
        ("customers.csv", ALERT_CUSTOMERS),
        ("pipeline.toml", config),
    ]);
    let out = dir.path().join("out");
    let o = common::run_without_models(&dir.path().join("pipeline.toml"), &out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows = records(&out, "alerts");
    let raised = |customer: &str| -> Vec<(String, String)> {
        rows.iter()
            .filter(|r| text(r, "customer_id") == customer)
            .map(|r| (text(r, "as_of").to_string(), text(r, "kind").to_string()))
            .collect()
    };
    // Over its limit at both month ends the invoice is open: 1,500.00 against 1,000.00.
    assert_eq!(
        raised("LIM"),
        [("2024-05-31".into(), "credit_limit".into()), ("2024-06-30".into(), "credit_limit".into())]
    );
    let lim = find(&rows, &[("customer_id", "LIM"), ("as_of", "2024-06-30")]);
    assert_eq!(text(lim, "evidence"), "open receivables 1500.00 against a credit limit of 1000.00 (150%)");
    assert_eq!(text(lim, "first_seen"), "2024-05-31");
    assert_eq!(text(lim, "severity"), "medium");
    close(lim, "value", 1.5);
    assert!(raised("OK").is_empty(), "1,500.00 within a 5,000.00 limit");
    // 30 days late on the three invoices settled in the 90 days to 2023-11-30 and 2023-12-31,
    // on time on the four the year before: +30 days, twice the 15-day threshold.
    assert_eq!(
        raised("SLOW"),
        [("2023-11-30".into(), "payment_pattern".into()), ("2023-12-31".into(), "payment_pattern".into())]
    );
    let slow = find(&rows, &[("customer_id", "SLOW"), ("as_of", "2023-12-31")]);
    assert_eq!(
        text(slow, "evidence"),
        "paid 30.0 days late on the 3 invoices settled in the 90 days to 2023-12-31, against 0.0 days on 4 in the year before"
    );
    assert_eq!((text(slow, "severity"), text(slow, "first_seen")), ("high", "2023-11-30"));
    close(slow, "value", 30.0);
    assert!(raised("STEADY").is_empty(), "5 days late is not 15 more than on time");
    // A disputed invoice is new in the month it is issued, and counts from 10,000.00.
    assert_eq!(raised("DISP"), [("2024-06-30".into(), "new_dispute".into())]);
    let disp = find(&rows, &[("customer_id", "DISP")]);
    assert_eq!(
        text(disp, "evidence"),
        "1 disputed invoice(s) issued in the month, 20000.00 open; the largest D1 of 2024-06-05: 20000.00 open"
    );
    assert_eq!(text(disp, "severity"), "high");
    assert!(raised("SMALLD").is_empty(), "5,000.00 is below the 10,000.00 threshold");
    assert_eq!(raised("OLDD"), [("2024-04-30".into(), "new_dispute".into())], "new in April only");
    // A stricter threshold takes the over-limit alert away.
    let out2 = dir.path().join("out2");
    let o = common::ardent(&[
        "run",
        "--config",
        dir.path().join("pipeline.toml").to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--set",
        "alerts.utilisation=1.6",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(records(&out2, "alerts").iter().all(|r| text(r, "kind") != "credit_limit"));
}
