//! The simulated world: customers with a hidden latent risk and a payment behaviour, and the
//! documents and payments their behaviour produces month by month. [`simulate_customer`] is a
//! pure function of (world, customer index): every customer draws from its own ChaCha stream,
//! which is what makes the output independent of the thread count.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};

/// Payment behaviour, the hidden truth behind a customer's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Prompt,
    Slow,
    Erratic,
    Deteriorating,
    Defaulting,
}

impl Behaviour {
    /// Lower-case name, as written to `truth/`.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Prompt => "prompt",
            Behaviour::Slow => "slow",
            Behaviour::Erratic => "erratic",
            Behaviour::Deteriorating => "deteriorating",
            Behaviour::Defaulting => "defaulting",
        }
    }
}

/// Currencies of the simulated world with their starting rate to USD (the reporting currency).
pub const CURRENCIES: [(&str, f64); 6] =
    [("USD", 1.0), ("EUR", 1.08), ("GBP", 1.27), ("CAD", 0.74), ("AUD", 0.66), ("SGD", 0.74)];

const REGIONS: [(&str, &[(&str, usize)]); 4] = [
    ("NA", &[("US", 0), ("US", 0), ("US", 0), ("CA", 3)]),
    ("EMEA", &[("DE", 1), ("FR", 1), ("NL", 1), ("GB", 2), ("ES", 1)]),
    ("APAC", &[("AU", 4), ("SG", 5), ("AU", 4)]),
    ("LATAM", &[("MX", 0), ("BR", 0)]),
];

const INDUSTRIES: [(&str, f64); 8] = [
    ("manufacturing", 0.0),
    ("retail", 0.3),
    ("construction", 0.5),
    ("healthcare", -0.3),
    ("technology", -0.1),
    ("logistics", 0.2),
    ("hospitality", 0.6),
    ("public_sector", -0.8),
];

const METHODS: [&str; 4] = ["wire", "ach", "check", "card"];

/// The fixed frame of a simulation: calendar and seed.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    /// First day of the history (epoch days).
    pub start: i32,
    /// Last day of the history (epoch days).
    pub end: i32,
    /// First day of each month of the history, plus the day after the end.
    pub month_starts: Vec<i32>,
    /// Months of the stress period (delinquency rises): [from, to).
    pub stress: (usize, usize),
}

/// A customer as master data plus the hidden truth.
#[derive(Debug, Clone)]
pub struct Customer {
    pub index: u32,
    pub segment: &'static str,
    pub industry: &'static str,
    pub region: &'static str,
    pub country: &'static str,
    pub currency: usize,
    /// Cents, reporting currency.
    pub credit_limit: i64,
    pub onboarded: i32,
    pub external_score: Option<f64>,
    pub latent_risk: f64,
    pub behaviour: Behaviour,
    pub default_day: Option<i32>,
    pub deterioration_start: Option<i32>,
    pub method: &'static str,
}

/// Document kinds written to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    CreditMemo,
    DebitMemo,
    WriteOff,
}

impl Kind {
    /// Canonical spelling.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invoice => "invoice",
            Kind::CreditMemo => "credit_memo",
            Kind::DebitMemo => "debit_memo",
            Kind::WriteOff => "write_off",
        }
    }

    /// Two-digit prefix of the document number.
    pub fn prefix(self) -> u32 {
        match self {
            Kind::Invoice => 90,
            Kind::DebitMemo => 91,
            Kind::CreditMemo => 16,
            Kind::WriteOff => 17,
        }
    }
}

/// A ledger document.
#[derive(Debug, Clone)]
pub struct Doc {
    pub kind: Kind,
    pub seq: u32,
    pub doc_date: i32,
    pub due_date: Option<i32>,
    pub amount: i64,
    /// (kind, seq) of the document it applies to.
    pub applies_to: Option<(Kind, u32)>,
    pub disputed: bool,
    pub terms: Option<u16>,
}

/// A payment.
#[derive(Debug, Clone)]
pub struct Payment {
    pub seq: u32,
    pub date: i32,
    pub amount: i64,
    /// (kind, seq) of referenced documents; empty when the remittance has no reference.
    pub refs: Vec<(Kind, u32)>,
}

/// Everything one customer produced.
#[derive(Debug, Clone)]
pub struct History {
    pub customer: Customer,
    pub docs: Vec<Doc>,
    pub payments: Vec<Payment>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    Normal::new(mean, sd).map(|d| d.sample(rng)).unwrap_or(mean)
}

fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.ln(), sigma).map(|d| d.sample(rng)).unwrap_or(median)
}

/// Round cents to a "human" amount: whole units for large amounts.
fn cents(x: f64) -> i64 {
    let c = x.max(1.0).round() as i64;
    if c > 100_000 { c / 100 * 100 } else { c }
}

/// The random stream of one customer.
pub fn customer_rng(seed: u64, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::from(index) + 1);
    rng
}

fn make_customer(world: &World, index: u32, rng: &mut ChaCha8Rng) -> Customer {
    let u: f64 = rng.random();
    let (segment, size_adj) = if u < 0.05 {
        ("enterprise", -0.6)
    } else if u < 0.30 {
        ("mid_market", 0.0)
    } else {
        ("smb", 0.4)
    };
    let (industry, industry_adj) = *pick(rng, &INDUSTRIES);
    let (region, countries) = *pick(rng, &REGIONS);
    let (country, currency) = *pick(rng, countries);
    let z = normal(rng, 0.0, 1.0);
    let latent_risk = sigmoid(-2.4 + 1.25 * z + size_adj + 0.5 * industry_adj);
    let r = latent_risk;
    let weights = [
        (Behaviour::Prompt, 2.2 * (1.0 - r).powi(2)),
        (Behaviour::Slow, 0.35 + 0.8 * r),
        (Behaviour::Erratic, 0.2 + 0.3 * r),
        (Behaviour::Deteriorating, 1.2 * r),
        (Behaviour::Defaulting, 2.5 * r * r),
    ];
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut x = rng.random::<f64>() * total;
    let mut behaviour = Behaviour::Prompt;
    for (b, w) in weights {
        if x < w {
            behaviour = b;
            break;
        }
        x -= w;
    }
    let months = world.month_starts.len() - 1;
    // Existing customers (70%) predate the history; the others join during it.
    let onboarded = if rng.random::<f64>() < 0.7 {
        world.start - rng.random_range(30..3650)
    } else {
        world.month_starts[rng.random_range(0..months)] + rng.random_range(0..28)
    };
    let first_active = onboarded.max(world.start);
    let span = (world.end - first_active).max(1);
    let default_day = (behaviour == Behaviour::Defaulting).then(|| {
        // Defaults cluster in the stress period.
        if rng.random::<f64>() < 0.45 {
            let (a, b) = world.stress;
            world.month_starts[a] + rng.random_range(0..(world.month_starts[b] - world.month_starts[a]).max(1))
        } else {
            first_active + 60.min(span / 2) + rng.random_range(0..span.max(2))
        }
    });
    let deterioration_start =
        (behaviour == Behaviour::Deteriorating).then(|| first_active + rng.random_range(0..span.max(1)));
    let score_noise = normal(rng, 0.0, 45.0);
    let external_score =
        (rng.random::<f64>() > 0.15).then(|| (760.0 - 330.0 * latent_risk + score_noise).clamp(300.0, 850.0).round());
    Customer {
        index,
        segment,
        industry,
        region,
        country,
        currency,
        credit_limit: 0,
        onboarded,
        external_score,
        latent_risk,
        behaviour,
        default_day,
        deterioration_start,
        method: METHODS[rng.random_range(0..METHODS.len())],
    }
}

/// Seasonality of billing: a Q4 peak and a summer dip.
fn season(month_of_year: u32) -> f64 {
    match month_of_year {
        11 | 12 => 1.25,
        7 | 8 => 0.85,
        3 | 6 | 9 => 1.1,
        _ => 1.0,
    }
}

struct Obligation {
    doc: (Kind, u32),
    open: i64,
    /// Day the customer intends to settle it.
    pay_day: i32,
    partial: bool,
}

/// Simulate one customer's history.
pub fn simulate_customer(world: &World, index: u32, invoices_per_month: f64) -> History {
    let mut rng = customer_rng(world.seed, index);
    let mut customer = make_customer(world, index, &mut rng);
    let r = customer.latent_risk;
    let (rate_mult, amount_median) = match customer.segment {
        "enterprise" => (3.2, 24_000.0),
        "mid_market" => (1.5, 4_500.0),
        _ => (0.62, 900.0),
    };
    let rate = invoices_per_month * rate_mult * lognormal(&mut rng, 1.0, 0.35);
    let median = amount_median * lognormal(&mut rng, 1.0, 0.5);
    let terms: u16 = {
        let u: f64 = rng.random();
        match customer.segment {
            "enterprise" if u < 0.5 => 60,
            "enterprise" => 45,
            _ if u < 0.12 => 15,
            _ if u < 0.70 => 30,
            _ if u < 0.88 => 45,
            _ => 60,
        }
    };
    let refs_rate = rng.random_range(0.55..0.98);
    let pay_runs = rng.random::<f64>() < if customer.segment == "enterprise" { 0.6 } else { 0.3 };
    let fx_to_usd = CURRENCIES[customer.currency].1;
    // About two and a half months of billing, in the reporting currency, rounded to 1,000.
    let limit_units = (rate * median * 2.5 * fx_to_usd / 1000.0).round().max(1.0) * 1000.0;
    customer.credit_limit = (limit_units * 100.0) as i64;

    let mut docs: Vec<Doc> = Vec::new();
    let mut obligations: Vec<Obligation> = Vec::new();
    let mut seq: u32 = 0;
    let mut next_seq = || {
        seq += 1;
        seq
    };
    let months = world.month_starts.len() - 1;
    let first_active = customer.onboarded.max(world.start);
    let poisson = |lambda: f64, rng: &mut ChaCha8Rng| -> u32 {
        Poisson::new(lambda.max(1e-6)).map(|p| p.sample(rng) as u32).unwrap_or(0)
    };

    for m in 0..months {
        let (ms, me) = (world.month_starts[m], world.month_starts[m + 1]);
        if me <= first_active {
            continue;
        }
        // A defaulted customer is blocked two months after the default.
        if customer.default_day.is_some_and(|d| ms > d + 60) {
            break;
        }
        let month_of_year = crate::calendar::month_of_year(ms);
        let stressed = m >= world.stress.0 && m < world.stress.1;
        let n = poisson(rate * season(month_of_year), &mut rng);
        for _ in 0..n {
            let doc_date = rng.random_range(ms.max(first_active)..me);
            let amount = cents(lognormal(&mut rng, median, 0.6) * 100.0);
            let due = doc_date + i32::from(terms);
            let disputed = rng.random::<f64>() < 0.012 + 0.03 * r;
            let inv = (Kind::Invoice, next_seq());
            docs.push(Doc {
                kind: Kind::Invoice,
                seq: inv.1,
                doc_date,
                due_date: Some(due),
                amount,
                applies_to: None,
                disputed,
                terms: Some(terms),
            });
            let mut open = amount;
            // Disputes and returns end in a credit memo for part of the invoice.
            if (disputed || rng.random::<f64>() < 0.01) && rng.random::<f64>() < 0.7 {
                let credit = (open as f64 * rng.random_range(0.1..0.4)).round().max(1.0) as i64;
                let date = doc_date + rng.random_range(10..45);
                if date <= world.end {
                    docs.push(Doc {
                        kind: Kind::CreditMemo,
                        seq: next_seq(),
                        doc_date: date,
                        due_date: None,
                        amount: credit,
                        applies_to: (rng.random::<f64>() < 0.9).then_some(inv),
                        disputed: false,
                        terms: None,
                    });
                    open -= credit;
                }
            }
            // Days late at payment, by behaviour, risk, stress and noise.
            let months_in = |from: Option<i32>| from.map_or(0.0, |d| f64::from((doc_date - d).max(0)) / 30.0);
            let mut late = match customer.behaviour {
                Behaviour::Prompt => normal(&mut rng, -1.0, 3.0),
                Behaviour::Slow => normal(&mut rng, 20.0, 9.0),
                Behaviour::Erratic => normal(&mut rng, 12.0, 28.0),
                Behaviour::Deteriorating => {
                    normal(&mut rng, 3.0 + (5.0 * months_in(customer.deterioration_start)).min(75.0), 8.0)
                }
                Behaviour::Defaulting => normal(&mut rng, 14.0, 12.0),
            } + 18.0 * r;
            if stressed {
                late += 6.0 + 30.0 * r;
            }
            if disputed {
                late += 25.0;
            }
            let never = customer.default_day.is_some_and(|d| due + late as i32 > d);
            if never {
                // After a default only scraps are paid; the rest is written off later.
                if rng.random::<f64>() < 0.15 {
                    let part = (open as f64 * rng.random_range(0.05..0.3)) as i64;
                    let day = due + rng.random_range(20..120);
                    if part > 0 {
                        obligations.push(Obligation { doc: inv, open: part, pay_day: day, partial: true });
                        open -= part;
                    }
                }
                let wo_day = due + rng.random_range(150..260);
                if wo_day <= world.end && open > 0 {
                    docs.push(Doc {
                        kind: Kind::WriteOff,
                        seq: next_seq(),
                        doc_date: wo_day,
                        due_date: None,
                        amount: open,
                        applies_to: Some(inv),
                        disputed: false,
                        terms: None,
                    });
                }
                continue;
            }
            let pay_day = (due + late.round() as i32).max(doc_date);
            if late > 35.0 && rng.random::<f64>() < 0.25 {
                // Late fee.
                let fee_date = due + 31;
                if fee_date <= world.end {
                    let fee = (amount / 50).max(500);
                    let fee_doc = (Kind::DebitMemo, next_seq());
                    docs.push(Doc {
                        kind: Kind::DebitMemo,
                        seq: fee_doc.1,
                        doc_date: fee_date,
                        due_date: Some(fee_date + 15),
                        amount: fee,
                        applies_to: Some(inv),
                        disputed: false,
                        terms: Some(15),
                    });
                    obligations.push(Obligation {
                        doc: fee_doc,
                        open: fee,
                        pay_day: pay_day.max(fee_date) + 5,
                        partial: false,
                    });
                }
            }
            if open <= 0 {
                continue;
            }
            if rng.random::<f64>() < 0.06 + 0.1 * r {
                let first = (open as f64 * rng.random_range(0.3..0.8)).round() as i64;
                obligations.push(Obligation { doc: inv, open: first, pay_day, partial: true });
                let rest_day = pay_day + rng.random_range(10..45);
                obligations.push(Obligation { doc: inv, open: open - first, pay_day: rest_day, partial: true });
            } else {
                obligations.push(Obligation { doc: inv, open, pay_day, partial: false });
            }
        }
    }

    // Payments: snap to weekly pay runs (Fridays) for customers who batch, then merge what
    // falls on one day into one payment covering several documents.
    for o in &mut obligations {
        if pay_runs {
            let weekday = (o.pay_day + 3).rem_euclid(7); // 0 = Monday for epoch day 0 (Thursday)
            o.pay_day += (4 - weekday).rem_euclid(7);
        }
    }
    obligations.retain(|o| o.pay_day <= world.end && o.open > 0);
    obligations.sort_by_key(|o| (o.pay_day, o.doc.1));
    let mut payments = Vec::new();
    let mut i = 0;
    while i < obligations.len() {
        let day = obligations[i].pay_day;
        let mut j = i;
        let mut amount = 0;
        let mut refs = Vec::new();
        while j < obligations.len() && obligations[j].pay_day == day && (pay_runs || j == i) {
            amount += obligations[j].open;
            if !refs.contains(&obligations[j].doc) {
                refs.push(obligations[j].doc);
            }
            j += 1;
        }
        let partial = obligations[i..j].iter().any(|o| o.partial);
        // Partial payments usually carry their reference; others only at the customer's rate.
        if !(partial && rng.random::<f64>() < 0.8) && rng.random::<f64>() > refs_rate {
            refs.clear();
        }
        // A few overpayments leave unapplied cash.
        if rng.random::<f64>() < 0.004 {
            amount += rng.random_range(100..20_000);
        }
        payments.push(Payment { seq: next_seq(), date: day, amount, refs });
        i = j;
    }
    docs.sort_by_key(|d| (d.doc_date, d.seq));
    History { customer, docs, payments }
}
