//! Invariants of cash application and the dashboard tables on random ledgers (issue 3):
//! buckets sum to the open balance, cash application never overpays an invoice nor applies
//! more than a source holds, results ignore input row order, and numbers as of `t` do not
//! change when later documents and payments are added.
#![allow(clippy::unwrap_used)]

use ardent_engine::analytics::features::{self, FEATURES};
use ardent_engine::analytics::frame::{boolean, date, date_opt, money, text};
use ardent_engine::analytics::{AnalyticsParams, Context, Dashboards, analyse};
use ardent_engine::book::{Book, BookIndex, BookTables};
use ardent_engine::cash::{Applications, SourceKind, applications_from_table, apply_cash};
use ardent_engine::fx::RATE_ONE;
use polars::prelude::*;
use proptest::prelude::*;

/// 2024-01-01 in epoch days.
const BASE: i32 = 19_723;

#[derive(Debug, Clone)]
struct Doc {
    customer: usize,
    kind: &'static str,
    day: i32,
    terms: i32,
    cents: i64,
    eur: bool,
    applies_to: Option<usize>,
}

#[derive(Debug, Clone)]
struct Pay {
    customer: usize,
    day: i32,
    cents: i64,
    eur: bool,
    refs: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Ledger {
    docs: Vec<Doc>,
    pays: Vec<Pay>,
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        0..3usize,
        prop_oneof![6 => Just("invoice"), 1 => Just("debit_memo"), 2 => Just("credit_memo"), 1 => Just("write_off")],
        0..150i32,
        prop_oneof![Just(0), Just(15), Just(30), Just(60)],
        1..200_000i64,
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.5, 0..30usize),
    )
        .prop_map(|(customer, kind, day, terms, cents, eur, applies_to)| Doc {
            customer,
            kind,
            day,
            terms,
            cents,
            eur,
            applies_to,
        })
}

fn pay() -> impl Strategy<Value = Pay> {
    (0..3usize, 0..180i32, 1..300_000i64, proptest::bool::weighted(0.3), proptest::collection::vec(0..35usize, 0..3))
        .prop_map(|(customer, day, cents, eur, refs)| Pay { customer, day, cents, eur, refs })
}

fn ledger() -> impl Strategy<Value = Ledger> {
    (proptest::collection::vec(doc(), 1..30), proptest::collection::vec(pay(), 0..25))
        .prop_map(|(docs, pays)| Ledger { docs, pays })
}

/// EUR moves every 10 days; USD is the reporting currency.
fn eur_rate(day: i32) -> i128 {
    RATE_ONE + RATE_ONE * i128::from(day.div_euclid(10) % 5) / 20
}

fn rate_col(name: &str, values: Vec<i128>) -> Column {
    Int128Chunked::from_vec(name.into(), values).into_decimal_unchecked(18, 10).into_column()
}

fn convert(cents: i64, rate: i128) -> i64 {
    ardent_engine::money::convert_half_even(i128::from(cents), rate, 10) as i64
}

/// The canonical tables of a ledger, rows in the given orders.
fn tables(l: &Ledger, doc_order: &[usize], pay_order: &[usize]) -> [DataFrame; 5] {
    let rate = |eur: bool, day: i32| if eur { eur_rate(day) } else { RATE_ONE };
    let ccy = |eur: bool| if eur { "EUR" } else { "USD" };
    let docs: Vec<(usize, &Doc)> = doc_order.iter().map(|&i| (i, &l.docs[i])).collect();
    let receivable = |k: &str| k == "invoice" || k == "debit_memo";
    let ledger = DataFrame::new(
        docs.len(),
        vec![
            text("doc_id", docs.iter().map(|(i, _)| format!("D{i:03}"))),
            text("customer_id", docs.iter().map(|(_, d)| format!("C{}", d.customer))),
            text("doc_type", docs.iter().map(|(_, d)| d.kind)),
            date("doc_date", docs.iter().map(|(_, d)| BASE + d.day)),
            date_opt("due_date", docs.iter().map(|(_, d)| receivable(d.kind).then_some(BASE + d.day + d.terms))),
            money("amount", docs.iter().map(|(_, d)| d.cents)),
            text("currency", docs.iter().map(|(_, d)| ccy(d.eur))),
            rate_col("fx_rate", docs.iter().map(|(_, d)| rate(d.eur, d.day)).collect()),
            money("amount_reporting", docs.iter().map(|(_, d)| convert(d.cents, rate(d.eur, d.day)))),
            StringChunked::from_iter_options(
                "applies_to".into(),
                docs.iter().map(|(_, d)| d.applies_to.filter(|_| !receivable(d.kind)).map(|a| format!("D{a:03}"))),
            )
            .into_column(),
            boolean("disputed", docs.iter().map(|_| false)),
        ],
    )
    .unwrap();
    let pays: Vec<(usize, &Pay)> = pay_order.iter().map(|&i| (i, &l.pays[i])).collect();
    let payments = DataFrame::new(
        pays.len(),
        vec![
            text("payment_id", pays.iter().map(|(i, _)| format!("P{i:03}"))),
            text("customer_id", pays.iter().map(|(_, p)| format!("C{}", p.customer))),
            date("payment_date", pays.iter().map(|(_, p)| BASE + p.day)),
            money("amount", pays.iter().map(|(_, p)| p.cents)),
            text("currency", pays.iter().map(|(_, p)| ccy(p.eur))),
            rate_col("fx_rate", pays.iter().map(|(_, p)| rate(p.eur, p.day)).collect()),
            money("amount_reporting", pays.iter().map(|(_, p)| convert(p.cents, rate(p.eur, p.day)))),
            StringChunked::from_iter_options(
                "invoice_refs".into(),
                pays.iter().map(|(_, p)| {
                    (!p.refs.is_empty())
                        .then(|| p.refs.iter().map(|r| format!("D{r:03}")).collect::<Vec<_>>().join(";"))
                }),
            )
            .into_column(),
        ],
    )
    .unwrap();
    let refs: Vec<(usize, u64, usize)> = pays
        .iter()
        .flat_map(|(i, p)| p.refs.iter().enumerate().map(move |(pos, r)| (*i, pos as u64 + 1, *r)))
        .filter(|(_, _, r)| *r < l.docs.len())
        .collect();
    let payment_refs = DataFrame::new(
        refs.len(),
        vec![
            text("payment_id", refs.iter().map(|(i, _, _)| format!("P{i:03}"))),
            UInt64Chunked::from_vec("position".into(), refs.iter().map(|r| r.1).collect()).into_column(),
            text("doc_id", refs.iter().map(|(_, _, r)| format!("D{r:03}"))),
        ],
    )
    .unwrap();
    let customers = DataFrame::new(
        3,
        vec![
            text("customer_id", ["C0", "C1", "C2"]),
            text("segment", ["smb", "smb", "enterprise"]),
            money("credit_limit", [100_000, 0, 500_000]),
            date_opt("onboarded_date", [Some(BASE - 400), None, Some(BASE + 20)]),
            Float64Chunked::from_iter_options("external_score".into(), [Some(700.0), None, Some(550.0)].into_iter())
                .into_column(),
        ],
    )
    .unwrap();
    let days: Vec<i32> = (-10..400).collect();
    let fx_rates = DataFrame::new(
        days.len(),
        vec![
            date("date", days.iter().map(|d| BASE + d)),
            text("currency", days.iter().map(|_| "EUR")),
            rate_col("rate_to_reporting", days.iter().map(|&d| eur_rate(d)).collect()),
        ],
    )
    .unwrap();
    [ledger, payments, payment_refs, customers, fx_rates]
}

fn book(t: &[DataFrame; 5]) -> Book {
    Book::from_tables(
        BookTables { ledger: &t[0], payments: &t[1], payment_refs: &t[2], customers: &t[3], fx_rates: &t[4] },
        "USD",
        7,
        &["segment".to_string()],
    )
    .unwrap()
}

/// What happened by day `cut` of `l`, and the same with `later` shifted to after the cut.
fn split_at(l: &Ledger, later: &Ledger, cut: i32) -> (Ledger, Ledger) {
    let early = Ledger {
        docs: l.docs.iter().filter(|d| d.day <= cut).cloned().collect(),
        pays: l.pays.iter().filter(|p| p.day <= cut).cloned().collect(),
    };
    let mut grown = early.clone();
    grown.docs.extend(later.docs.iter().map(|d| Doc { day: cut + 1 + d.day, ..d.clone() }));
    grown.pays.extend(later.pays.iter().map(|p| Pay { day: cut + 1 + p.day, ..p.clone() }));
    (early, grown)
}

/// The book of a ledger (rows in their given order) and its cash application.
fn applied(l: &Ledger) -> (Book, Applications) {
    let b = book(&tables(l, &identity(l.docs.len()), &identity(l.pays.len())));
    let apps = apply_cash(&b);
    (b, apps)
}

fn run(l: &Ledger, doc_order: &[usize], pay_order: &[usize]) -> (Book, Applications, Dashboards) {
    let b = book(&tables(l, doc_order, pay_order));
    let apps = apply_cash(&b);
    let analysis = AnalyticsParams::default().check().unwrap();
    let d = analyse(&b, &apps, &analysis).unwrap();
    (b, apps, d)
}

/// The feature panel as (as-of, customer id, feature bits): NaN compares equal to NaN.
fn panel(l: &Ledger) -> Vec<(i32, String, Vec<u64>)> {
    let (b, apps) = applied(l);
    let analysis = AnalyticsParams::default().check().unwrap();
    let ctx = Context::new(&b, &apps, &analysis);
    let p = features::panel(&ctx).unwrap();
    // The spilled panel is the same panel, its values read back from the file (one block
    // per slice of customers and month end), over any range of rows.
    let (s, values) = features::panel_spilled(&ctx, tempfile::tempfile().unwrap()).unwrap();
    assert!(s.values.is_empty());
    assert_eq!(
        (&s.as_of, &s.customer, &s.open_cents, &s.billed_90d_cents),
        (&p.as_of, &p.customer, &p.open_cents, &p.billed_90d_cents)
    );
    assert_eq!(values.len(), p.len());
    let bits = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let mut buf = vec![1.0];
    for (lo, hi) in [(0, p.len()), (p.len() / 3, p.len() - p.len() / 4), (p.len() / 2, p.len() / 2)] {
        values.read(lo..hi, &mut buf).unwrap();
        assert_eq!(bits(&buf), bits(&p.values[lo * FEATURES.len()..hi * FEATURES.len()]));
    }
    assert!(values.read(0..p.len() + 1, &mut buf).is_err(), "rows beyond the panel are an error");
    (0..p.len())
        .map(|i| {
            assert_eq!(p.row(i).len(), FEATURES.len());
            (
                p.as_of[i],
                b.customers.ids.get(p.customer[i] as usize).to_string(),
                p.row(i).iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// The invoice panel of a ledger: (as-of, document id, feature bits), labels left out.
fn invoice_panel(l: &Ledger) -> Vec<(i32, String, Vec<u64>)> {
    let (b, apps) = applied(l);
    let analysis = AnalyticsParams::default().check().unwrap();
    let ctx = Context::new(&b, &apps, &analysis);
    let p = features::panel(&ctx).unwrap();
    let labeling = ardent_engine::analytics::invoices::InvoiceLabelParams::default().check().unwrap();
    let inv = ardent_engine::analytics::invoices::panel(&ctx, &p, &labeling, |_| true);
    // The outline counts what the panel holds; a filtered panel is the panel filtered.
    let o = ardent_engine::analytics::invoices::outline(&ctx, &p, &labeling);
    assert_eq!(o.rows, inv.len());
    assert_eq!(o.latest, inv.rows.iter().map(|r| r.as_of).max());
    let mut labelled = std::collections::BTreeMap::new();
    for r in inv.rows.iter().filter(|r| r.label.is_some()) {
        *labelled.entry(r.as_of).or_insert(0usize) += 1;
    }
    assert_eq!(o.labelled, labelled);
    let terms = |d: u32| b.docs.due[d as usize].unwrap_or(b.docs.date[d as usize]) - b.docs.date[d as usize];
    assert_eq!(o.max_terms, inv.rows.iter().map(|r| terms(r.doc)).max().unwrap_or(0));
    let odd = ardent_engine::analytics::invoices::panel(&ctx, &p, &labeling, |r| r.doc % 2 == 1);
    assert_eq!(odd.rows, inv.rows.iter().filter(|r| r.doc % 2 == 1).copied().collect::<Vec<_>>());
    (0..inv.len())
        .map(|i| {
            (
                inv.rows[i].as_of,
                b.docs.id.get(inv.rows[i].doc as usize).to_string(),
                // In model order: the invoice's features, then its customer row's.
                inv.invoice_features(&b, i)
                    .iter()
                    .chain(p.row(inv.rows[i].customer_row as usize))
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect()
}

fn identity(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn cents(df: &DataFrame, column: &str) -> Vec<i128> {
    df.column(column).unwrap().decimal().unwrap().physical().iter().map(Option::unwrap_or_default).collect()
}

/// Rows of `df` whose date column `column` is ≤ `t`.
fn up_to(df: &DataFrame, column: &str, t: i32) -> DataFrame {
    let mask: BooleanChunked =
        df.column(column).unwrap().date().unwrap().physical().iter().map(|d| d.is_some_and(|d| d <= t)).collect();
    df.filter(&mask).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn cash_application_never_overpays_an_invoice_nor_a_source(l in ledger()) {
        let (b, apps, d) = run(&l, &identity(l.docs.len()), &identity(l.pays.len()));
        let mut to_invoice = vec![0i64; b.docs.len()];
        let mut from_payment = vec![0i64; b.payments.len()];
        let mut from_credit = vec![0i64; b.docs.len()];
        for a in &apps.rows {
            prop_assert!(a.amount > 0 && a.source_amount > 0);
            prop_assert!(b.docs.kind[a.invoice as usize].is_receivable());
            prop_assert!(b.docs.date[a.invoice as usize] <= a.date, "only invoices dated on or before the source");
            to_invoice[a.invoice as usize] += a.amount;
            match a.kind {
                SourceKind::Payment => from_payment[a.source as usize] += a.source_amount,
                _ => from_credit[a.source as usize] += a.source_amount,
            }
        }
        for i in 0..b.docs.len() {
            prop_assert!(to_invoice[i] <= b.docs.amount[i], "invoice {} overpaid", b.docs.id.get(i));
            if !b.docs.kind[i].is_receivable() {
                prop_assert_eq!(from_credit[i] + apps.credit_unapplied[i], b.docs.amount[i]);
            }
        }
        for ((applied, unapplied), amount) in from_payment.iter().zip(&apps.payment_unapplied).zip(&b.payments.amount) {
            prop_assert!(*unapplied >= 0);
            prop_assert_eq!(applied + unapplied, *amount);
        }
        prop_assert!(d.failed_checks.is_empty(), "{:?}", d.failed_checks);
    }

    /// The published `applications` table, in any row order, reads back onto the book as the
    /// cash application it was written from (what `ardent analytics` rebuilds dashboards from).
    #[test]
    fn the_applications_table_reads_back_as_the_cash_application(l in ledger(), seed in any::<u64>()) {
        let (b, apps, d) = run(&l, &identity(l.docs.len()), &identity(l.pays.len()));
        let index = BookIndex::of(&b);
        let mut orders = vec![d.applications.clone(), d.applications.reverse()];
        let n = d.applications.height() as u64;
        if n > 1 {
            let picked: Vec<u32> = (0..n).map(|i| ((i * 2_654_435_761 + seed) % n) as u32).collect();
            let mut seen = vec![false; n as usize];
            let mut take: Vec<u32> = picked.into_iter().filter(|&i| !std::mem::replace(&mut seen[i as usize], true)).collect();
            take.extend((0..n as u32).filter(|&i| !seen[i as usize]));
            orders.push(d.applications.take(&IdxCa::from_vec("i".into(), take)).unwrap());
        }
        for table in orders {
            let read = applications_from_table(&b, &index, &table).unwrap();
            prop_assert_eq!(&read.rows, &apps.rows);
            prop_assert_eq!(&read.payment_unapplied, &apps.payment_unapplied);
            prop_assert_eq!(&read.credit_unapplied, &apps.credit_unapplied);
            prop_assert_eq!(&read.invoice_start, &apps.invoice_start);
            prop_assert_eq!(&read.by_invoice, &apps.by_invoice);
        }
    }

    #[test]
    fn aging_buckets_sum_to_open_balance(l in ledger()) {
        let (_, _, d) = run(&l, &identity(l.docs.len()), &identity(l.pays.len()));
        let names = ["current", "1_30", "31_60", "61_90", "91_120", "121_plus"];
        for (_, df) in &d.aging {
            let total = cents(df, "total_open");
            let mut sum = vec![0i128; df.height()];
            for n in names {
                for (s, v) in sum.iter_mut().zip(cents(df, &format!("bucket_{n}"))) {
                    prop_assert!(v >= 0);
                    *s += v;
                }
            }
            prop_assert_eq!(sum, total);
        }
    }

    #[test]
    fn results_ignore_input_row_order(l in ledger(), seed in any::<u64>()) {
        let shuffle = |n: usize, salt: u64| {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by_key(|&i| (i as u64 + 1).wrapping_mul(seed | 1).wrapping_add(salt).rotate_left(17));
            idx
        };
        let (_, _, a) = run(&l, &identity(l.docs.len()), &identity(l.pays.len()));
        let (_, _, b) = run(&l, &shuffle(l.docs.len(), 1), &shuffle(l.pays.len(), 2));
        prop_assert_eq!(&a.applications, &b.applications);
        prop_assert_eq!(&a.kpi_monthly, &b.kpi_monthly);
        prop_assert_eq!(&a.cohorts, &b.cohorts);
        prop_assert_eq!(&a.roll_rates, &b.roll_rates);
        prop_assert_eq!(&a.customer_payment_stats, &b.customer_payment_stats);
        prop_assert_eq!(a.aging.len(), b.aging.len());
        for (x, y) in a.aging.iter().zip(&b.aging) {
            prop_assert_eq!(x, y);
        }
    }

    #[test]
    fn features_at_t0_are_identical_whether_or_not_later_data_exists(l in ledger(), later in ledger(), cut in 30..150i32) {
        let (early, grown) = split_at(&l, &later, cut);
        prop_assume!(!early.docs.is_empty());
        let a = panel(&early);
        let t = a.last().map_or(i32::MIN, |r| r.0);
        let b: Vec<_> = panel(&grown).into_iter().filter(|r| r.0 <= t).collect();
        prop_assert_eq!(a, b);
        // The invoice-level rows too.
        let a = invoice_panel(&early);
        let b: Vec<_> = invoice_panel(&grown).into_iter().filter(|r| r.0 <= t).collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn numbers_as_of_t_do_not_change_when_later_data_arrives(l in ledger(), later in ledger(), cut in 30..150i32) {
        let (early, grown) = split_at(&l, &later, cut);
        prop_assume!(!early.docs.is_empty());
        let (early_book, _, a) = run(&early, &identity(early.docs.len()), &identity(early.pays.len()));
        let (_, _, b) = run(&grown, &identity(grown.docs.len()), &identity(grown.pays.len()));
        // The early run reports up to its last event; compare everything up to there.
        let t = early_book.date_range().unwrap().1;
        prop_assert!(t <= BASE + cut);
        let a_dates: Vec<i32> = a.aging.iter().map(|x| x.0).collect();
        let b_dates: Vec<i32> = b.aging.iter().map(|x| x.0).filter(|&d| d <= t).collect();
        prop_assert_eq!(&a_dates, &b_dates);
        for (x, y) in a.aging.iter().zip(&b.aging) {
            prop_assert_eq!(x, y);
        }
        prop_assert_eq!(up_to(&a.kpi_monthly, "month", t), up_to(&b.kpi_monthly, "month", t));
        prop_assert_eq!(up_to(&a.roll_rates, "month", t), up_to(&b.roll_rates, "month", t));
        prop_assert_eq!(up_to(&a.customer_payment_stats, "as_of", t), up_to(&b.customer_payment_stats, "as_of", t));
        // Cohorts as of t, except the at-risk rate, which becomes known once 90 days have passed.
        let drop_at_risk = |df: DataFrame| df.drop("at_risk_rate").unwrap();
        prop_assert_eq!(drop_at_risk(up_to(&a.cohorts, "as_of", t)), drop_at_risk(up_to(&b.cohorts, "as_of", t)));
    }
}

#[test]
fn features_by_hand() {
    // C0: a 100.00 invoice on 2024-01-01 due 01-16 and a 50.00 one on 02-10 due 03-11; the
    // first is paid 20 days late on 02-05 by a payment of 130.00 (30.00 stays unapplied).
    let inv = |day, terms, cents| Doc { customer: 0, kind: "invoice", day, terms, cents, eur: false, applies_to: None };
    let l = Ledger {
        docs: vec![inv(0, 15, 10_000), inv(40, 30, 5_000)],
        pays: vec![
            Pay { customer: 0, day: 35, cents: 13_000, eur: false, refs: vec![0] },
            // Another customer's payment on 03-01 extends the data past the February month end.
            Pay { customer: 1, day: 60, cents: 100, eur: false, refs: vec![] },
        ],
    };
    let p = panel(&l);
    let value = |row: &(i32, String, Vec<u64>), name: &str| {
        f64::from_bits(row.2[FEATURES.iter().position(|(n, _)| *n == name).unwrap()])
    };
    assert_eq!(p.len(), 2, "C0 at the January and February month ends");
    let (jan, feb) = (&p[0], &p[1]);
    assert_eq!((jan.0, jan.1.as_str()), (BASE + 30, "C0"));
    assert_eq!(value(jan, "open_ar"), 100.0);
    assert_eq!(value(jan, "past_due_share"), 1.0);
    assert_eq!(value(jan, "max_dpd"), 15.0);
    assert_eq!(value(jan, "utilisation"), 10_000.0 / 100_000.0);
    assert_eq!(value(jan, "invoices_paid_365d"), 0.0);
    assert!(value(jan, "avg_days_to_pay_365d").is_nan());
    assert_eq!(value(jan, "tenure_days"), 430.0);
    assert_eq!(value(jan, "external_score"), 700.0);
    // February 29: the second invoice is open and not yet due; the first was paid in 35 days, 20 late.
    assert_eq!(value(feb, "open_ar"), 50.0);
    assert_eq!(value(feb, "past_due_share"), 0.0);
    // The history began on 01-01: on 02-29 it covers 60 days of the 90- and 365-day windows,
    // so counts and amounts over them are at a full window's pace.
    assert_eq!(value(feb, "invoices_90d"), 2.0 * 90.0 / 60.0);
    assert_eq!(value(feb, "billed_90d"), 150.0 * 90.0 / 60.0);
    assert_eq!(value(feb, "invoices_paid_365d"), 365.0 / 60.0);
    // Daily billing over the last 90 days against the last 365: the same 60 days, so usual.
    assert!((value(feb, "billing_trend") - 1.0).abs() < 1e-12);
    assert_eq!(value(feb, "avg_days_to_pay_365d"), 35.0);
    assert_eq!(value(feb, "weighted_days_late_365d"), 20.0);
    assert_eq!(value(feb, "share_paid_late_365d"), 1.0);
    assert_eq!(value(feb, "weighted_days_late_90d"), 20.0, "paid 02-05, inside the 90 days to 02-29");
    assert_eq!(value(feb, "share_paid_late_90d"), 1.0);
    assert!(value(jan, "weighted_days_late_90d").is_nan(), "nothing settled yet");
    assert_eq!(value(feb, "unapplied_cash"), 30.0);
}

#[test]
fn default_labels_by_hand() {
    // C0 never pays a 100.00 invoice due 01-16: it reaches 61 DPD on 03-17.
    // C1's invoice is written off on 02-15. C2 pays its invoice before it is due.
    // A payment of C1 on day 150 (05-30) makes the data reach past two 90-day horizons.
    let doc = |customer, kind, day, terms, applies_to| Doc {
        customer,
        kind,
        day,
        terms,
        cents: 10_000,
        eur: false,
        applies_to,
    };
    let l = Ledger {
        docs: vec![
            doc(0, "invoice", 0, 15, None),
            doc(1, "invoice", 0, 15, None),
            doc(1, "write_off", 45, 0, Some(1)),
            doc(2, "invoice", 0, 30, None),
        ],
        pays: vec![
            Pay { customer: 2, day: 20, cents: 10_000, eur: false, refs: vec![3] },
            Pay { customer: 1, day: 150, cents: 100, eur: false, refs: vec![] },
        ],
    };
    let (b, apps) = applied(&l);
    let analysis = AnalyticsParams::default().check().unwrap();
    let ctx = Context::new(&b, &apps, &analysis);
    let p = features::panel(&ctx).unwrap();
    let labeling = ardent_engine::analytics::labels::LabelParams::default().check().unwrap();
    let labels = ardent_engine::analytics::labels::customer_default(&ctx, &p, &labeling);
    let row = |customer: &str, as_of: i32| {
        let i = (0..p.len()).find(|&i| b.customers.ids.get(p.customer[i] as usize) == customer && p.as_of[i] == as_of);
        i.unwrap_or_else(|| panic!("no row for {customer} at {as_of}"))
    };
    let of = |customer: &str, as_of: i32| labels.label[row(customer, as_of)];
    let in_default = |customer: &str, as_of: i32| labels.in_default[row(customer, as_of)];
    let (jan, feb, mar) = (BASE + 30, BASE + 59, BASE + 90);
    assert_eq!(of("C0", jan), Some(true), "61 DPD on 03-17, inside (01-31, 04-30]");
    assert_eq!(of("C0", feb), Some(true));
    assert_eq!(of("C0", mar), None, "already 74 days past due on 03-31: in default, not at risk");
    assert!(in_default("C0", mar) && !in_default("C0", feb), "44 days past due on 02-29 is not yet default");
    assert_eq!(of("C1", jan), Some(true), "written off on 02-15");
    assert_eq!(of("C2", jan), Some(false), "paid before due");
    // Invoice level (paid more than 30 days after due, or not at all): C0's invoice is never
    // paid, C1's is written off (not paid); C2's is paid on 01-21, before any month end, so it
    // is never observed open.
    let inv_labeling = ardent_engine::analytics::invoices::InvoiceLabelParams::default().check().unwrap();
    let inv = ardent_engine::analytics::invoices::panel(&ctx, &p, &inv_labeling, |_| true);
    let late = |customer: &str| {
        let i = (0..inv.len())
            .find(|&i| b.customers.ids.get(b.docs.customer[inv.rows[i].doc as usize] as usize) == customer);
        i.map(|i| inv.rows[i].label)
    };
    assert_eq!(late("C0"), Some(Some(true)));
    assert_eq!(late("C1"), Some(Some(true)), "a write-off is not a payment");
    assert_eq!(late("C2"), None);
    assert_eq!(inv.len(), 2, "C0 and C1 at 01-31 only: by 02-29 both are 30 days past due, decided");
    let bad = ardent_engine::analytics::labels::LabelParams { share: Some(1.5), ..Default::default() }.check();
    assert!(bad.err().is_some_and(|e| e.to_string().contains("`models.label.share` must be in (0, 1], but is 1.5")));
}
