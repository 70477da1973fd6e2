//! # ardent-engine
//!
//! The columnar core of ardent. Data moves one way through it:
//!
//! 1. [`ingest`] reads ERP exports (CSV, Parquet, NDJSON; a file, a glob or a folder), maps
//!    their columns onto the canonical [`contracts`], and validates every row: accepted rows
//!    form typed canonical tables (money as `DECIMAL(18,2)`, dates as `DATE`), rejected rows
//!    go to the quarantine with file, row, column, value and rule.
//! 2. [`fx`] converts amounts to the reporting currency with exact half-even rounding;
//!    [`ids`] checks millions of ids for duplicates and references without an allocation each.
//! 3. [`book`] indexes the validated tables for analytics; [`cash`] applies payments and
//!    credits to invoices (reference, exact amount, oldest due first).
//! 4. [`analytics`] walks each invoice across the as-of dates ([`calendar`]) and builds the
//!    dashboard tables — aging, monthly KPIs, cohorts, roll rates, payment stats — and the
//!    reconciliation that must pass before anything is published.
//! 5. [`sink`] writes tables as Parquet that BI tools read without help.
//!
//! The engine never reads the clock or the environment: everything comes from its inputs
//! and parameters, so the same inputs give the same tables.

pub mod analytics;
pub mod book;
pub mod calendar;
pub mod cash;
pub mod collections;
pub mod contracts;
pub mod error;
pub mod fx;
pub mod ids;
pub mod ingest;
pub mod money;
pub mod sink;
mod table_columns;

pub use error::{EngineError, ErrorKind, Result};
