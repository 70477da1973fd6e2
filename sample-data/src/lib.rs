//! # ardent-sample
//!
//! A seeded synthetic accounts-receivable world and the exports it produces: customer master
//! data, an AR ledger (invoices, credit and debit memos, write-offs), payments (full, partial,
//! lump, with and without references) and daily FX rates, plus a `truth/` folder with each
//! customer's hidden latent risk and behaviour that the engine never reads.
//!
//! [`GenParams`] → [`GenParams::check`] → [`GenSpec`] → [`generate`]. Customers are simulated
//! in parallel blocks ([`model::simulate_customer`], one random stream per customer) and
//! written in customer order while the next block is simulated, so memory stays bounded and
//! the files are byte-identical for a seed and size whatever the thread count.
//!
//! With a dirty rate, [`dirty`] injects malformed rows of every validation rule as extra rows
//! (the good rows are never touched) and lists them in `truth/injected.csv`.

pub mod activities;
pub mod aging_reports;
pub mod bundled;
pub mod calendar;
pub mod dirty;
pub mod model;
pub mod shapes;
pub mod tables;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rand::RngExt;
use rayon::prelude::*;

use calendar::DateText;
use model::{CURRENCIES, History, World};
pub use tables::OutFormat;
use tables::{TableDef, TableWriter, Ty, Val};

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A parameter fails its check.
    #[error("{0}")]
    Params(String),
    /// Writing an output failed.
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Named sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// About 1k customers over 24 months (about 30k invoices).
    S,
    /// About 50k customers over 36 months (about 2M invoices).
    M,
    /// About 500k customers over 36 months (about 20M invoices).
    L,
}

impl Preset {
    /// (customers, months).
    pub fn size(self) -> (u32, u32) {
        match self {
            Preset::S => (1_000, 24),
            Preset::M => (50_000, 36),
            Preset::L => (500_000, 36),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    /// Named size; explicit `customers` / `months` override it. Default: `s`.
    pub preset: Preset,
    /// Number of customers. Default: from the preset.
    pub customers: Option<u32>,
    /// Months of history. Default: from the preset.
    pub months: Option<u32>,
    /// Last day of the history. Default: 2025-12-31.
    pub end: NaiveDate,
    /// Random seed. Default: 42.
    pub seed: u64,
    /// Output format. Default: CSV.
    pub format: OutFormat,
    /// Share of extra malformed rows to inject (0 = clean). Default: 0.
    pub dirty: f64,
    /// Also write a collections activities log (with injected compliance violations listed
    /// in `truth/compliance_violations.csv`, and a few placed legacy debts). Default: false.
    pub activities: bool,
    /// How often collectors work an account, relative to the default cadence (an action
    /// every 3 to 6 days): 3 gives about three times the activities. Default: 1.
    pub activity_rate: f64,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            preset: Preset::S,
            customers: None,
            months: None,
            end: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
            seed: 42,
            format: OutFormat::Csv,
            dirty: 0.0,
            activities: false,
            activity_rate: 1.0,
        }
    }
}

/// Checked generation parameters.
#[derive(Debug, Clone)]
pub struct GenSpec {
    pub customers: NonZeroU32,
    pub months: NonZeroU32,
    pub end: NaiveDate,
    pub seed: u64,
    pub format: OutFormat,
    pub dirty: f64,
    pub preset: Preset,
    pub activities: bool,
    pub activity_rate: f64,
}

impl GenParams {
    /// Check the parameters.
    pub fn check(&self) -> Result<GenSpec, GenError> {
        let (c, m) = self.preset.size();
        let customers = self.customers.unwrap_or(c);
        let months = self.months.unwrap_or(m);
        let customers = NonZeroU32::new(customers).ok_or_else(|| GenError::Params("customers cannot be 0".into()))?;
        if customers.get() > 9_999_999 {
            return Err(GenError::Params(format!("customers must be at most 9,999,999, but is {customers}")));
        }
        let months = NonZeroU32::new(months)
            .filter(|m| m.get() >= 3 && m.get() <= 240)
            .ok_or_else(|| GenError::Params(format!("months must be between 3 and 240, but is {months}")))?;
        if !(0.0..=0.5).contains(&self.dirty) {
            return Err(GenError::Params(format!("dirty must be between 0 and 0.5, but is {}", self.dirty)));
        }
        if !(0.5..=6.0).contains(&self.activity_rate) {
            return Err(GenError::Params(format!(
                "activity rate must be between 0.5 and 6, but is {}",
                self.activity_rate
            )));
        }
        if self.dirty > 0.0 && self.format != OutFormat::Csv {
            return Err(GenError::Params(
                "dirty rows need --format csv: Parquet columns are typed and cannot hold an unparseable date or amount"
                    .into(),
            ));
        }
        Ok(GenSpec {
            customers,
            months,
            end: self.end,
            seed: self.seed,
            format: self.format,
            dirty: self.dirty,
            preset: self.preset,
            activities: self.activities,
            activity_rate: self.activity_rate,
        })
    }
}

/// What was generated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenReport {
    /// (file, rows) of every export written.
    pub files: Vec<(String, u64)>,
    pub customers: u64,
    pub invoices: u64,
    pub documents: u64,
    pub payments: u64,
    pub injected: u64,
    /// Activities written, and compliance violations injected among them.
    pub activities: u64,
    pub violations: u64,
    pub seconds: f64,
}

/// Canonical columns of the generated exports.
pub const CUSTOMERS: TableDef = TableDef {
    name: "customers",
    columns: &[
        ("customer_id", Ty::Text),
        ("name", Ty::Text),
        ("segment", Ty::Text),
        ("industry", Ty::Text),
        ("region", Ty::Text),
        ("country", Ty::Text),
        ("credit_limit", Ty::Money),
        ("onboarded_date", Ty::Date),
        ("external_score", Ty::Float),
    ],
};
/// Ledger export columns.
pub const LEDGER: TableDef = TableDef {
    name: "ledger",
    columns: &[
        ("doc_id", Ty::Text),
        ("customer_id", Ty::Text),
        ("doc_type", Ty::Text),
        ("doc_date", Ty::Date),
        ("due_date", Ty::Date),
        ("amount", Ty::Money),
        ("currency", Ty::Text),
        ("applies_to", Ty::Text),
        ("disputed", Ty::Bool),
        ("terms", Ty::Text),
    ],
};
/// Payments export columns.
pub const PAYMENTS: TableDef = TableDef {
    name: "payments",
    columns: &[
        ("payment_id", Ty::Text),
        ("customer_id", Ty::Text),
        ("payment_date", Ty::Date),
        ("amount", Ty::Money),
        ("currency", Ty::Text),
        ("invoice_refs", Ty::Text),
        ("method", Ty::Text),
    ],
};
/// FX export columns.
pub const FX_RATES: TableDef = TableDef {
    name: "fx_rates",
    columns: &[("date", Ty::Date), ("currency", Ty::Text), ("rate_to_reporting", Ty::Rate)],
};
/// Activities export columns (`--activities`).
pub const ACTIVITIES: TableDef = TableDef {
    name: "activities",
    columns: &[
        ("activity_id", Ty::Text),
        ("customer_id", Ty::Text),
        ("occurred_at", Ty::Text),
        ("channel", Ty::Text),
        ("direction", Ty::Text),
        ("outcome", Ty::Text),
        ("invoice_refs", Ty::Text),
        ("promised_amount", Ty::Money),
        ("promised_currency", Ty::Text),
        ("promised_date", Ty::Date),
        ("plan_instalments", Ty::Text),
        ("agent", Ty::Text),
        ("consumer", Ty::Bool),
        ("debtor_time_zone", Ty::Text),
    ],
};
/// The injected compliance violations: the audit must find exactly these.
const VIOLATIONS: TableDef = TableDef {
    name: "compliance_violations",
    columns: &[("rule", Ty::Text), ("customer_id", Ty::Text), ("activity_id", Ty::Text)],
};
const TRUTH: TableDef = TableDef {
    name: "customers",
    columns: &[
        ("customer_id", Ty::Text),
        ("latent_risk", Ty::Float),
        ("behaviour", Ty::Text),
        ("default_date", Ty::Date),
        ("deterioration_start", Ty::Date),
    ],
};

/// Customers simulated per parallel block (bounded memory: one block in flight, one writing).
const BLOCK: u32 = 2_048;
/// Base invoices per customer and month before segment and customer multipliers.
const INVOICES_PER_MONTH: f64 = 1.2;

/// The customer id of an index.
pub fn customer_id(index: u32) -> String {
    format!("C{:07}", index + 1)
}

fn doc_id(customer: u32, kind: model::Kind, seq: u32) -> String {
    format!("{:02}{:07}{:05}", kind.prefix(), customer, seq)
}

/// Generate the exports into `out` (created if needed).
pub fn generate(spec: &GenSpec, out: &Path) -> Result<GenReport, GenError> {
    let started = Instant::now();
    let truth_dir = out.join("truth");
    std::fs::create_dir_all(&truth_dir)
        .map_err(|e| GenError::Write { path: truth_dir.clone(), reason: e.to_string() })?;
    let month_starts = calendar::month_starts(spec.end, spec.months.get());
    let start = month_starts[0];
    let end = month_starts[month_starts.len() - 1] - 1;
    let months = spec.months.get() as usize;
    let stress_from = months * 55 / 100;
    let world =
        World { seed: spec.seed, start, end, month_starts, stress: (stress_from, (stress_from + 6).min(months)) };
    let dates = DateText::new(start - 4_200, end + 400);
    let mut injector = dirty::Injector::new(spec.seed, spec.dirty);

    let mut fx = TableWriter::create(out, FX_RATES, spec.format)?;
    write_fx(&world, &mut fx, &dates, &mut injector)?;
    let mut customers = TableWriter::create(out, CUSTOMERS, spec.format)?;
    let mut ledger = TableWriter::create(out, LEDGER, spec.format)?;
    let mut payments = TableWriter::create(out, PAYMENTS, spec.format)?;
    let mut truth = TableWriter::create(&truth_dir, TRUTH, OutFormat::Csv)?;
    let mut w = Writers {
        customers: &mut customers,
        ledger: &mut ledger,
        payments: &mut payments,
        truth: &mut truth,
        dates: &dates,
        injector: &mut injector,
        invoices: 0,
        logs: None,
        activities: 0,
        violations: 0,
    };

    let mut logs = match spec.activities {
        true => Some((
            TableWriter::create(out, ACTIVITIES, spec.format)?,
            TableWriter::create(&truth_dir, VIOLATIONS, OutFormat::Csv)?,
        )),
        false => None,
    };
    w.logs = logs.as_mut().map(|(a, v)| (a, v));
    let n = spec.customers.get();
    let (with_logs, rate) = (spec.activities, spec.activity_rate);
    let simulate = |b: u32| -> Vec<(History, Option<activities::Log>)> {
        let from = b * BLOCK;
        let to = (from + BLOCK).min(n);
        (from..to)
            .into_par_iter()
            .map(|i| {
                let h = model::simulate_customer(&world, i, INVOICES_PER_MONTH);
                let log = with_logs.then(|| activities::simulate(&world, &h, spec.seed, rate));
                (h, log)
            })
            .collect()
    };
    let blocks = n.div_ceil(BLOCK);
    let mut current = simulate(0);
    for b in 1..=blocks {
        let (next, written) = rayon::join(|| if b < blocks { simulate(b) } else { Vec::new() }, || w.block(&current));
        written?;
        current = next;
    }
    if spec.activities {
        w.legacy(&world, n, spec.seed)?;
    }
    // The writers' borrows end here, before their files are finished.
    let (invoices, activity_rows, violations) = (w.invoices, w.activities, w.violations);
    let mut files = Vec::new();
    let ext = spec.format.ext();
    for (name, writer) in [("fx_rates", fx), ("customers", customers), ("ledger", ledger), ("payments", payments)] {
        files.push((format!("{name}.{ext}"), writer.finish()?));
    }
    if let Some((log, truth)) = logs {
        files.push((format!("activities.{ext}"), log.finish()?));
        truth.finish()?;
    }
    truth.finish()?;
    let injected = injector.write_list(&truth_dir, ext)?;
    write_pipeline(out, spec)?;
    let rows = |name: &str| files.iter().find(|(f, _)| f.starts_with(name)).map_or(0, |(_, r)| *r);
    Ok(GenReport {
        customers: rows("customers"),
        invoices,
        documents: rows("ledger"),
        payments: rows("payments"),
        files,
        injected,
        activities: activity_rows,
        violations,
        seconds: started.elapsed().as_secs_f64(),
    })
}

struct Writers<'a> {
    customers: &'a mut TableWriter,
    ledger: &'a mut TableWriter,
    payments: &'a mut TableWriter,
    truth: &'a mut TableWriter,
    dates: &'a DateText,
    injector: &'a mut dirty::Injector,
    invoices: u64,
    /// The activities log and the violations injected into it (`--activities`).
    logs: Option<(&'a mut TableWriter, &'a mut TableWriter)>,
    activities: u64,
    violations: u64,
}

impl Writers<'_> {
    fn block(&mut self, histories: &[(History, Option<activities::Log>)]) -> Result<(), GenError> {
        let dates = self.dates;
        for (h, log) in histories {
            if let Some(log) = log {
                self.log(&customer_id(h.customer.index), h.customer.index, CURRENCIES[h.customer.currency].0, log)?;
            }
            let c = &h.customer;
            let id = customer_id(c.index);
            let name = format!("Customer {:07} Ltd", c.index + 1);
            let currency = CURRENCIES[c.currency].0;
            let row = [
                Val::Str(&id),
                Val::Str(&name),
                Val::Str(c.segment),
                Val::Str(c.industry),
                Val::Str(c.region),
                Val::Str(c.country),
                Val::Money(c.credit_limit),
                Val::Date(c.onboarded),
                c.external_score.map_or(Val::Null, Val::Float),
            ];
            self.customers.row(&row, dates)?;
            self.injector.after_row(self.customers, &row, dates)?;
            let risk = format!("{:.6}", c.latent_risk);
            self.truth.row(
                &[
                    Val::Str(&id),
                    Val::Str(&risk),
                    Val::Str(c.behaviour.name()),
                    c.default_day.map_or(Val::Null, Val::Date),
                    c.deterioration_start.map_or(Val::Null, Val::Date),
                ],
                dates,
            )?;
            for d in &h.docs {
                let id_text = doc_id(c.index, d.kind, d.seq);
                let applies = d.applies_to.map(|(k, s)| doc_id(c.index, k, s));
                let terms = d.terms.map(|t| format!("NET{t}"));
                if d.kind == model::Kind::Invoice {
                    self.invoices += 1;
                }
                let row = [
                    Val::Str(&id_text),
                    Val::Str(&id),
                    Val::Str(d.kind.name()),
                    Val::Date(d.doc_date),
                    d.due_date.map_or(Val::Null, Val::Date),
                    Val::Money(d.amount),
                    Val::Str(currency),
                    applies.as_deref().map_or(Val::Null, Val::Str),
                    Val::Bool(d.disputed),
                    terms.as_deref().map_or(Val::Null, Val::Str),
                ];
                self.ledger.row(&row, dates)?;
                self.injector.after_row(self.ledger, &row, dates)?;
            }
            for p in &h.payments {
                let id_text = format!("14{:07}{:05}", c.index, p.seq);
                let refs: Vec<String> = p.refs.iter().map(|(kind, seq)| doc_id(c.index, *kind, *seq)).collect();
                let refs = refs.join(";");
                let row = [
                    Val::Str(&id_text),
                    Val::Str(&id),
                    Val::Date(p.date),
                    Val::Money(p.amount),
                    Val::Str(currency),
                    if refs.is_empty() { Val::Null } else { Val::Str(&refs) },
                    Val::Str(c.method),
                ];
                self.payments.row(&row, dates)?;
                self.injector.after_row(self.payments, &row, dates)?;
            }
        }
        self.customers.flush_block()?;
        self.ledger.flush_block()?;
        self.payments.flush_block()?;
        if let Some((log, _)) = &mut self.logs {
            log.flush_block()?;
        }
        Ok(())
    }

    /// Write one customer's activities and its injected violations.
    fn log(&mut self, customer: &str, index: u32, currency: &str, log: &activities::Log) -> Result<(), GenError> {
        let dates = self.dates;
        let Some((out, truth)) = &mut self.logs else { return Ok(()) };
        let ids: Vec<String> = (0..log.acts.len()).map(|k| format!("A{:07}{:05}", index, k + 1)).collect();
        for (a, id) in log.acts.iter().zip(&ids) {
            let at = activities::utc_text(log.zone, a.day, a.minute);
            let agent = format!("agent_{:02}", a.agent + 1);
            let instalments = a.promise.filter(|p| p.2 > 1).map(|p| p.2.to_string());
            out.row(
                &[
                    Val::Str(id),
                    Val::Str(customer),
                    Val::Owned(at),
                    Val::Str(a.channel_name()),
                    Val::Str(a.direction()),
                    a.outcome_name().map_or(Val::Null, Val::Str),
                    Val::Null,
                    a.promise.map_or(Val::Null, |p| Val::Money(p.0)),
                    if a.promise.is_some() { Val::Str(currency) } else { Val::Null },
                    a.promise.map_or(Val::Null, |p| Val::Date(p.1)),
                    instalments.map_or(Val::Null, Val::Owned),
                    Val::Owned(agent),
                    Val::Bool(log.consumer),
                    Val::Str(log.zone),
                ],
                dates,
            )?;
        }
        for (rule, k) in &log.violations {
            truth.row(&[Val::Str(rule.as_str()), Val::Str(customer), Val::Str(&ids[*k])], dates)?;
        }
        self.activities += log.acts.len() as u64;
        self.violations += log.violations.len() as u64;
        Ok(())
    }

    /// The placed legacy debts: customers after the generated ones, each with one old invoice
    /// never paid, in the jurisdiction with a one-year limitation period.
    fn legacy(&mut self, world: &World, customers: u32, seed: u64) -> Result<(), GenError> {
        let dates = self.dates;
        for k in 0..(customers / 500).max(3) {
            let index = customers + k;
            let id = format!("L{:07}", k + 1);
            let (log, amount) = activities::legacy(world, index, seed);
            let name = format!("Placed account {:07}", k + 1);
            self.customers.row(
                &[
                    Val::Str(&id),
                    Val::Str(&name),
                    Val::Str("smb"),
                    Val::Str("retail"),
                    Val::Str(activities::LEGACY_REGION),
                    Val::Str("US"),
                    Val::Money(0),
                    Val::Date(world.start),
                    Val::Null,
                ],
                dates,
            )?;
            let doc = format!("95{:07}00001", index);
            self.ledger.row(
                &[
                    Val::Str(&doc),
                    Val::Str(&id),
                    Val::Str("invoice"),
                    Val::Date(world.start),
                    Val::Date(world.start + 30),
                    Val::Money(amount),
                    Val::Str("USD"),
                    Val::Null,
                    Val::Bool(false),
                    Val::Str("NET30"),
                ],
                dates,
            )?;
            self.invoices += 1;
            self.log(&id, index, "USD", &log)?;
        }
        self.customers.flush_block()?;
        self.ledger.flush_block()?;
        if let Some((log, _)) = &mut self.logs {
            log.flush_block()?;
        }
        Ok(())
    }
}

/// Business-day rates: a seeded random walk per currency from 10 days before the history.
fn write_fx(
    world: &World,
    w: &mut TableWriter,
    dates: &DateText,
    injector: &mut dirty::Injector,
) -> Result<(), GenError> {
    let mut rng = model::customer_rng(world.seed, u32::MAX);
    let mut rates: Vec<f64> = CURRENCIES.iter().map(|c| c.1).collect();
    for day in (world.start - 10)..=world.end {
        let weekday = (day + 3).rem_euclid(7); // 0 = Monday
        if weekday >= 5 {
            continue;
        }
        for (k, (code, _)) in CURRENCIES.iter().enumerate().skip(1) {
            let shock: f64 = rng.random_range(-0.006..0.006);
            rates[k] *= 1.0 + shock;
            let micros = (rates[k] * 1_000_000.0).round() as i64;
            let row = [Val::Date(day), Val::Str(code), Val::Rate(micros)];
            w.row(&row, dates)?;
            injector.after_row(w, &row, dates)?;
        }
    }
    w.flush_block()
}

fn write_pipeline(out: &Path, spec: &GenSpec) -> Result<(), GenError> {
    let ext = spec.format.ext();
    let text = format!(
        "# Written by `ardent generate` (seed {}, {} customers, {} months to {}).\n\
         # Run it with: ardent run --config <this file>\n\n\
         [run]\nreporting_currency = \"USD\"\n\n\
         [inputs.fx_rates]\npath = \"fx_rates.{ext}\"\n\n\
         [inputs.customers]\npath = \"customers.{ext}\"\n\n\
         [inputs.ledger]\npath = \"ledger.{ext}\"\n\n\
         [inputs.payments]\npath = \"payments.{ext}\"\n{}",
        spec.seed,
        spec.customers,
        spec.months,
        spec.end,
        if spec.activities {
            format!(
                "\n[inputs.activities]\npath = \"activities.{ext}\"\n\n\
                 # Synthetic: the placed legacy debts are in {region}, given a {years}-year period so the\n\
                 # audit has time-barred debts to find (set the periods of the states you collect in).\n\
                 [compliance.limitation_years]\ndefault = 6\n\"{region}\" = {years}\n",
                region = activities::LEGACY_REGION,
                years = activities::LEGACY_LIMITATION_YEARS
            )
        } else {
            String::new()
        },
    );
    let path = out.join("pipeline.toml");
    std::fs::write(&path, text).map_err(|e| GenError::Write { path, reason: e.to_string() })
}
