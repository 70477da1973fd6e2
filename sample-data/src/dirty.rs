//! Dirty rows for testing validation: after a good row, with probability `rate`, the
//! [`Injector`] writes an extra copy of it broken in exactly one way — one rule of docs/contracts.md —
//! with a fresh id (except for duplicates), so no good row can be rejected as a side effect.
//! `truth/injected.csv` lists every injected row with the rule and outcome validation must
//! report.

use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::GenError;
use crate::calendar::DateText;
use crate::tables::{TableDef, TableWriter, Val};

/// One injected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    pub input: &'static str,
    pub row: u64,
    pub rule: &'static str,
    pub column: &'static str,
    /// `quarantined` or `flagged`.
    pub outcome: &'static str,
}

/// A way to break a row: (rule, column, outcome).
type Defect = (&'static str, &'static str, &'static str);

const Q: &str = "quarantined";

const LEDGER_DEFECTS: &[Defect] = &[
    ("missing_value", "customer_id", Q),
    ("invalid_date", "doc_date", Q),
    ("invalid_amount", "amount", Q),
    ("non_positive_amount", "amount", Q),
    ("unknown_doc_type", "doc_type", Q),
    ("missing_due_date", "due_date", Q),
    ("due_before_doc_date", "due_date", Q),
    ("unknown_customer", "customer_id", Q),
    ("unknown_currency", "currency", Q),
    ("missing_fx_rate", "currency", Q),
    ("invalid_bool", "disputed", Q),
    ("duplicate_id", "doc_id", Q),
];
const PAYMENT_DEFECTS: &[Defect] = &[
    ("missing_value", "customer_id", Q),
    ("invalid_date", "payment_date", Q),
    ("invalid_amount", "amount", Q),
    ("non_positive_amount", "amount", Q),
    ("unknown_customer", "customer_id", Q),
    ("unknown_currency", "currency", Q),
    ("missing_fx_rate", "currency", Q),
    ("duplicate_id", "payment_id", Q),
    ("unknown_reference", "invoice_refs", "flagged"),
];
const CUSTOMER_DEFECTS: &[Defect] = &[
    ("missing_value", "customer_id", Q),
    ("invalid_amount", "credit_limit", Q),
    ("negative_amount", "credit_limit", Q),
    ("invalid_date", "onboarded_date", Q),
    ("invalid_number", "external_score", Q),
    ("duplicate_id", "customer_id", Q),
];
const FX_DEFECTS: &[Defect] = &[
    ("missing_value", "currency", Q),
    ("invalid_date", "date", Q),
    ("invalid_rate", "rate_to_reporting", Q),
    ("non_positive_rate", "rate_to_reporting", Q),
    ("unknown_currency", "currency", Q),
    ("duplicate_id", "date", Q),
];

/// Injects dirty rows and remembers them.
#[derive(Debug)]
pub struct Injector {
    rng: ChaCha8Rng,
    rate: f64,
    counter: u64,
    list: Vec<Injected>,
}

impl Injector {
    /// An injector with its own random stream; rate 0 injects nothing.
    pub fn new(seed: u64, rate: f64) -> Self {
        Injector {
            rng: crate::model::customer_rng(seed ^ 0x5eed_d127, u32::MAX - 1),
            rate,
            counter: 0,
            list: Vec::new(),
        }
    }

    /// Maybe write a broken copy of `row` (just written to `w`).
    pub fn after_row(&mut self, w: &mut TableWriter, row: &[Val<'_>], dates: &DateText) -> Result<(), GenError> {
        if self.rate <= 0.0 || self.rng.random::<f64>() >= self.rate {
            return Ok(());
        }
        let def: TableDef = *w.def();
        let defects = match def.name {
            "ledger" => LEDGER_DEFECTS,
            "payments" => PAYMENT_DEFECTS,
            "customers" => CUSTOMER_DEFECTS,
            _ => FX_DEFECTS,
        };
        let (rule, column, outcome) = defects[self.rng.random_range(0..defects.len())];
        self.counter += 1;
        let n = self.counter;
        let mut bad: Vec<Val<'_>> = row.to_vec();
        let pos = |name: &str| def.position(name);
        // A fresh id, so the broken copy never collides with (or shadows) a good row.
        match def.name {
            "ledger" => bad[pos("doc_id")] = Val::Owned(format!("99{n:012}")),
            "payments" => bad[pos("payment_id")] = Val::Owned(format!("19{n:012}")),
            "customers" => bad[pos("customer_id")] = Val::Owned(format!("C8{n:07}")),
            _ => {}
        }
        let set = |bad: &mut Vec<Val<'_>>, name: &str, v: Val<'static>| bad[def.position(name)] = v;
        match rule {
            "duplicate_id" => bad = row.to_vec(),
            "missing_value" => set(&mut bad, column, Val::Null),
            "invalid_date" => {
                set(&mut bad, column, Val::Str(["2024-02-30", "31/12/2024", "2024-13-01"][n as usize % 3]))
            }
            "invalid_amount" => set(&mut bad, column, Val::Str(["12.34.56", "1O0.00", "12.345"][n as usize % 3])),
            "non_positive_amount" => set(&mut bad, column, Val::Str(["0.00", "-125.50"][n as usize % 2])),
            "negative_amount" => set(&mut bad, column, Val::Str("-5000.00")),
            "invalid_number" => set(&mut bad, column, Val::Str("abc")),
            "invalid_rate" => set(&mut bad, column, Val::Str("1.08.34")),
            "non_positive_rate" => set(&mut bad, column, Val::Str("0")),
            "unknown_currency" => set(&mut bad, column, Val::Str(["US$", "EURO", "EUX"][n as usize % 3])),
            "missing_fx_rate" => set(&mut bad, column, Val::Str("CHF")),
            "unknown_customer" => set(&mut bad, column, Val::Owned(format!("C9{n:07}"))),
            "unknown_doc_type" => set(&mut bad, column, Val::Str("ZZ")),
            "invalid_bool" => set(&mut bad, column, Val::Str("maybe")),
            "missing_due_date" => {
                set(&mut bad, "doc_type", Val::Str("invoice"));
                set(&mut bad, "due_date", Val::Null);
            }
            "due_before_doc_date" => {
                let doc = match row[pos("doc_date")] {
                    Val::Date(d) => d,
                    _ => 0,
                };
                set(&mut bad, "doc_type", Val::Str("invoice"));
                set(&mut bad, "due_date", Val::Date(doc - 5));
            }
            "unknown_reference" => set(&mut bad, column, Val::Owned(format!("90999{n:09}"))),
            _ => {}
        }
        let line = w.row(&bad, dates)?;
        self.list.push(Injected { input: def.name, row: line, rule, column, outcome });
        Ok(())
    }

    /// Rows injected so far.
    pub fn injected(&self) -> &[Injected] {
        &self.list
    }

    /// Write `truth/injected.csv` (only when injecting); returns the number of rows.
    pub fn write_list(&self, truth_dir: &Path, ext: &str) -> Result<u64, GenError> {
        if self.rate <= 0.0 {
            return Ok(0);
        }
        let path = truth_dir.join("injected.csv");
        let mut text = String::from("input,file,row,rule,column,outcome\n");
        for i in &self.list {
            text.push_str(&format!("{},{}.{ext},{},{},{},{}\n", i.input, i.input, i.row, i.rule, i.column, i.outcome));
        }
        std::fs::write(&path, text).map_err(|e| GenError::Write { path, reason: e.to_string() })?;
        Ok(self.list.len() as u64)
    }
}
