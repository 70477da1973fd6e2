//! The data contracts: the canonical columns of every input (docs/contracts.md) and the columns of
//! every table ardent writes (docs/contracts.md, "Outputs").
//!
//! Readers map export columns onto [`InputKind::columns`]; validation enforces them; the sink
//! checks written frames against [`TableContract`]s; `ardent schema` prints both.

pub mod activity;

use std::borrow::Cow;

use polars::prelude::{DataType, TimeUnit};

/// Scale of every money column: amounts are integer minor units (cents) with two decimals.
pub const MONEY_SCALE: usize = 2;
/// Precision of every money column (`DECIMAL(18,2)`).
pub const MONEY_PRECISION: usize = 18;
/// Scale of FX rates (`DECIMAL(18,10)`): enough for IDR→USD and USD→IDR alike.
pub const RATE_SCALE: usize = 10;

/// The inputs ardent reads, in the order they are validated (each may check against the
/// ones before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
    FxRates,
    Customers,
    Ledger,
    Payments,
    /// The collections or CRM system's activity log (optional).
    Activities,
}

impl InputKind {
    /// All inputs in validation order.
    pub const ALL: [InputKind; 5] =
        [InputKind::FxRates, InputKind::Customers, InputKind::Ledger, InputKind::Payments, InputKind::Activities];

    /// The config and table name (`ledger`, `payments`, `customers`, `fx_rates`, `activities`).
    pub fn name(self) -> &'static str {
        match self {
            InputKind::FxRates => "fx_rates",
            InputKind::Customers => "customers",
            InputKind::Ledger => "ledger",
            InputKind::Payments => "payments",
            InputKind::Activities => "activities",
        }
    }

    /// One-line description for `ardent schema`.
    pub fn doc(self) -> &'static str {
        match self {
            InputKind::FxRates => {
                "Exchange rates to the reporting currency (optional when everything is in the reporting currency)"
            }
            InputKind::Customers => "Customer master data",
            InputKind::Ledger => {
                "AR subledger export: one row per document (invoice, credit memo, debit memo, write-off)"
            }
            InputKind::Payments => "Cash receipts / remittance export: one row per payment",
            InputKind::Activities => {
                "Collections / CRM activity log (optional): one row per call, email, letter, visit or other action, with its outcome"
            }
        }
    }

    /// The canonical columns of this input.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            InputKind::FxRates => FX_COLUMNS,
            InputKind::Customers => CUSTOMER_COLUMNS,
            InputKind::Ledger => LEDGER_COLUMNS,
            InputKind::Payments => PAYMENT_COLUMNS,
            InputKind::Activities => ACTIVITY_COLUMNS,
        }
    }

    /// Whether a pipeline must configure this input.
    pub fn required(self) -> bool {
        !matches!(self, InputKind::FxRates | InputKind::Activities)
    }
}

/// What values a canonical input column holds and how they are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// An identifier, kept as text (ERP ids carry leading zeros).
    Id,
    /// Free text.
    Text,
    /// A calendar date, parsed with the input's `date_format`.
    Date,
    /// An amount of money, parsed exactly to minor units.
    Money,
    /// A positive exchange rate.
    Rate,
    /// A true/false flag, parsed with the input's `true_values` / `false_values`.
    Bool,
    /// A document type, translated by the input's `doc_types` mapping.
    DocType,
    /// An ISO 4217 currency code.
    Currency,
    /// A number (for example a bureau score).
    Number,
    /// Zero or more document ids separated by the input's `refs_separator`.
    RefList,
    /// A date and time with a UTC offset (or in the input's `time_zone`).
    Timestamp,
    /// A code translated by one of the input's code mappings (`channels`, `outcomes`,
    /// `directions`) to a canonical value.
    Code,
}

impl ValueType {
    /// Short name for documentation.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Id => "id (text)",
            ValueType::Text => "text",
            ValueType::Date => "date",
            ValueType::Money => "decimal",
            ValueType::Rate => "decimal > 0",
            ValueType::Bool => "bool",
            ValueType::DocType => "doc type",
            ValueType::Currency => "ISO 4217",
            ValueType::Number => "number",
            ValueType::RefList => "id list",
            ValueType::Timestamp => "timestamp",
            ValueType::Code => "code",
        }
    }
}

/// One canonical input column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Canonical name (the key of the `columns` mapping in the config).
    pub name: &'static str,
    pub ty: ValueType,
    /// The export must have a column for it (after mapping).
    pub required: bool,
    /// Empty values are allowed.
    pub nullable: bool,
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ValueType, required: bool, nullable: bool, doc: &'static str) -> ColumnSpec {
    ColumnSpec { name, ty, required, nullable, doc }
}

use ValueType as V;

const LEDGER_COLUMNS: &[ColumnSpec] = &[
    col("doc_id", V::Id, true, false, "Document number, unique per source"),
    col("customer_id", V::Id, true, false, "Customer the document is billed to; must exist in customers"),
    col(
        "doc_type",
        V::DocType,
        true,
        false,
        "invoice, credit_memo, debit_memo or write_off (ERP codes via `doc_types`)",
    ),
    col("doc_date", V::Date, true, false, "Posting date"),
    col("due_date", V::Date, true, true, "Net due date; required for invoices and debit memos, not before doc_date"),
    col("amount", V::Money, true, false, "Amount in document currency, > 0; the sign comes from doc_type"),
    col("currency", V::Currency, true, false, "Document currency"),
    col("applies_to", V::Id, false, true, "For credit memos and write-offs: the invoice they reduce"),
    col("disputed", V::Bool, false, true, "The customer disputes the document"),
    col("terms", V::Text, false, true, "Payment terms, e.g. NET30"),
];

const PAYMENT_COLUMNS: &[ColumnSpec] = &[
    col("payment_id", V::Id, true, false, "Payment number, unique per source"),
    col("customer_id", V::Id, true, false, "Paying customer; must exist in customers"),
    col("payment_date", V::Date, true, false, "Value date of the receipt"),
    col("amount", V::Money, true, false, "Amount received, > 0"),
    col("currency", V::Currency, true, false, "Payment currency"),
    col("invoice_refs", V::RefList, false, true, "Referenced doc_ids; unknown ones are flagged, the payment is kept"),
    col("method", V::Text, false, true, "Payment method"),
];

const CUSTOMER_COLUMNS: &[ColumnSpec] = &[
    col("customer_id", V::Id, true, false, "Customer id, unique"),
    col("name", V::Text, false, true, "Customer name (PII: not copied to outputs)"),
    col("segment", V::Text, true, true, "Business segment used for dashboards and models"),
    col("industry", V::Text, false, true, "Industry"),
    col("region", V::Text, false, true, "Sales region"),
    col("country", V::Text, false, true, "Country code"),
    col("credit_limit", V::Money, false, true, "Credit limit in the reporting currency, >= 0"),
    col("onboarded_date", V::Date, false, true, "Start of the relationship"),
    col("external_score", V::Number, false, true, "External (bureau) score"),
];

const ACTIVITY_COLUMNS: &[ColumnSpec] = &[
    col("activity_id", V::Id, true, false, "Activity number, unique per source"),
    col("customer_id", V::Id, true, false, "Customer (debtor) the activity is about; must exist in customers"),
    col(
        "occurred_at",
        V::Timestamp,
        true,
        false,
        "When it happened: ISO 8601 with a UTC offset (2024-03-05T14:03:00-05:00, ...Z), or without one in the input's `time_zone`",
    ),
    col(
        "channel",
        V::Code,
        true,
        false,
        "call, email, letter, sms, portal, visit, agency or legal (export codes via `channels`)",
    ),
    col("direction", V::Code, false, true, "outbound (default) or inbound (export codes via `directions`)"),
    col(
        "outcome",
        V::Code,
        true,
        true,
        "no_answer, wrong_party, contact, promise_to_pay, dispute, payment_plan, refused, cease_request, validation_notice, resolved; empty: none recorded (export codes via `outcomes`)",
    ),
    col(
        "invoice_refs",
        V::RefList,
        false,
        true,
        "Documents the activity is about; unknown ones are flagged, the row is kept",
    ),
    col(
        "promised_amount",
        V::Money,
        false,
        true,
        "Promise to pay: the amount; payment plan: each instalment; > 0, needed with those outcomes",
    ),
    col("promised_currency", V::Currency, false, true, "Currency of promised_amount (default: the reporting currency)"),
    col("promised_date", V::Date, false, true, "Promise: pay by; payment plan: the first instalment's date"),
    col(
        "plan_instalments",
        V::Number,
        false,
        true,
        "Payment plan: number of monthly instalments (whole number >= 1; default 1)",
    ),
    col("agent", V::Text, false, true, "Collector or team that acted"),
    col(
        "consumer",
        V::Bool,
        false,
        true,
        "The debtor is a consumer (FDCPA / Regulation F apply); default false (business)",
    ),
    col(
        "debtor_time_zone",
        V::Text,
        false,
        true,
        "IANA time zone of the debtor (America/Chicago); default: the timestamp's own offset",
    ),
];

const FX_COLUMNS: &[ColumnSpec] = &[
    col("date", V::Date, true, false, "Rate date; a rate holds until the next one, for at most `max_rate_age_days`"),
    col("currency", V::Currency, true, false, "Currency converted from"),
    col("rate_to_reporting", V::Rate, true, false, "Units of reporting currency per unit of `currency`, > 0"),
];

/// The type of an output column, as written to Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutType {
    /// UTF-8 text.
    Text,
    /// `DATE`.
    Date,
    /// `DECIMAL(18,2)`.
    Money,
    /// `DECIMAL(18,10)`.
    Rate,
    /// Boolean.
    Bool,
    /// A count or row number: unsigned 64-bit inside ardent, written as signed 64-bit (`BIGINT`),
    /// the integer every reader maps to its own (Spark reads unsigned 64-bit as `decimal(20,0)`).
    Count,
    /// Signed 64-bit integer (days).
    Int,
    /// 64-bit float (ratios, scores).
    Float,
    /// `TIMESTAMP(MICROS, UTC)`.
    Timestamp,
}

impl OutType {
    /// The polars type a frame carries for this type inside ardent.
    pub fn dtype(self) -> DataType {
        match self {
            OutType::Text => DataType::String,
            OutType::Date => DataType::Date,
            OutType::Money => DataType::Decimal(MONEY_PRECISION, MONEY_SCALE),
            OutType::Rate => DataType::Decimal(MONEY_PRECISION, RATE_SCALE),
            OutType::Bool => DataType::Boolean,
            OutType::Count => DataType::UInt64,
            OutType::Int => DataType::Int64,
            OutType::Float => DataType::Float64,
            OutType::Timestamp => DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)),
        }
    }

    /// The polars type written to files: [`OutType::dtype`], except counts, which are signed
    /// (no count comes near 2^63).
    pub fn stored_dtype(self) -> DataType {
        match self {
            OutType::Count => DataType::Int64,
            other => other.dtype(),
        }
    }

    /// The Parquet type a BI tool sees.
    pub fn parquet_name(self) -> &'static str {
        match self {
            OutType::Text => "STRING",
            OutType::Date => "DATE",
            OutType::Money => "DECIMAL(18,2)",
            OutType::Rate => "DECIMAL(18,10)",
            OutType::Bool => "BOOLEAN",
            OutType::Count => "INT64",
            OutType::Int => "INT64",
            OutType::Float => "DOUBLE",
            OutType::Timestamp => "TIMESTAMP(MICROS,UTC)",
        }
    }
}

/// One column of an output table.
#[derive(Debug, Clone)]
pub struct OutColumn {
    pub name: Cow<'static, str>,
    pub ty: OutType,
    pub nullable: bool,
    pub doc: Cow<'static, str>,
}

/// An output column with a fixed name.
pub const fn out(name: &'static str, ty: OutType, nullable: bool, doc: &'static str) -> OutColumn {
    OutColumn { name: Cow::Borrowed(name), ty, nullable, doc: Cow::Borrowed(doc) }
}

/// The documented schema of one output table. Most are fixed; tables whose columns follow
/// parameters (the aging buckets) are built by a function of those parameters.
#[derive(Debug, Clone)]
pub struct TableContract {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: Cow<'static, [OutColumn]>,
    /// Hive-style partition column: written as `name/<column>=<value>/part-0.parquet`, and
    /// not stored inside the files.
    pub partition: Option<&'static str>,
}

impl TableContract {
    /// The columns stored inside the Parquet files (all but the partition column).
    pub fn file_columns(&self) -> impl Iterator<Item = &OutColumn> {
        self.columns.iter().filter(move |c| Some(c.name.as_ref()) != self.partition)
    }
}

use OutType as O;

const SOURCE_FILE: OutColumn = out("source_file", O::Text, false, "Export file the row came from");
const SOURCE_ROW: OutColumn = out("source_row", O::Count, false, "1-based data row in that file (CSV: line = row + 1)");

/// Validated ledger documents.
pub static LEDGER_TABLE: TableContract = TableContract {
    name: "ledger",
    doc: "Validated ledger documents in canonical form",
    partition: None,
    columns: Cow::Borrowed(&[
        out("doc_id", O::Text, false, "Document number"),
        out("customer_id", O::Text, false, "Customer id"),
        out("doc_type", O::Text, false, "invoice, credit_memo, debit_memo or write_off"),
        out("doc_date", O::Date, false, "Posting date"),
        out("due_date", O::Date, true, "Net due date (null for credit memos and write-offs without one)"),
        out("amount", O::Money, false, "Amount in document currency, > 0"),
        out("currency", O::Text, false, "Document currency"),
        out("fx_rate", O::Rate, false, "Rate to the reporting currency at doc_date"),
        out("amount_reporting", O::Money, false, "amount × fx_rate, rounded half-even to cents"),
        out("applies_to", O::Text, true, "Invoice reduced by a credit memo or write-off"),
        out("disputed", O::Bool, false, "Disputed by the customer (false when not given)"),
        out("terms", O::Text, true, "Payment terms"),
        SOURCE_FILE,
        SOURCE_ROW,
    ]),
};

/// Validated payments.
pub static PAYMENTS_TABLE: TableContract = TableContract {
    name: "payments",
    doc: "Validated payments in canonical form",
    partition: None,
    columns: Cow::Borrowed(&[
        out("payment_id", O::Text, false, "Payment number"),
        out("customer_id", O::Text, false, "Customer id"),
        out("payment_date", O::Date, false, "Value date"),
        out("amount", O::Money, false, "Amount in payment currency, > 0"),
        out("currency", O::Text, false, "Payment currency"),
        out("fx_rate", O::Rate, false, "Rate to the reporting currency at payment_date"),
        out("amount_reporting", O::Money, false, "amount × fx_rate, rounded half-even to cents"),
        out("invoice_refs", O::Text, true, "Referenced doc_ids joined with ';' (see payment_refs)"),
        out("method", O::Text, true, "Payment method"),
        SOURCE_FILE,
        SOURCE_ROW,
    ]),
};

/// One row per (payment, referenced document).
pub static PAYMENT_REFS_TABLE: TableContract = TableContract {
    name: "payment_refs",
    doc: "Invoice references of payments, one row per reference, in the order given",
    partition: None,
    columns: Cow::Borrowed(&[
        out("payment_id", O::Text, false, "Payment number"),
        out("position", O::Count, false, "1-based position of the reference in the payment"),
        out("doc_id", O::Text, false, "Referenced document"),
        out("known", O::Bool, false, "The document exists in the validated ledger (unknown ones are flagged)"),
    ]),
};

/// Validated customers.
pub static CUSTOMERS_TABLE: TableContract = TableContract {
    name: "customers",
    doc: "Validated customer master data (the name is not copied)",
    partition: None,
    columns: Cow::Borrowed(&[
        out("customer_id", O::Text, false, "Customer id"),
        out("segment", O::Text, false, "Segment ('UNKNOWN' when not given)"),
        out("industry", O::Text, true, "Industry"),
        out("region", O::Text, true, "Region"),
        out("country", O::Text, true, "Country"),
        out("credit_limit", O::Money, true, "Credit limit in the reporting currency"),
        out("onboarded_date", O::Date, true, "Start of the relationship"),
        out("external_score", O::Float, true, "External score"),
        SOURCE_FILE,
        SOURCE_ROW,
    ]),
};

/// Validated FX rates.
pub static FX_RATES_TABLE: TableContract = TableContract {
    name: "fx_rates",
    doc: "Validated exchange rates to the reporting currency",
    partition: None,
    columns: Cow::Borrowed(&[
        out("date", O::Date, false, "Rate date"),
        out("currency", O::Text, false, "Currency converted from"),
        out("rate_to_reporting", O::Rate, false, "Units of reporting currency per unit"),
        SOURCE_FILE,
        SOURCE_ROW,
    ]),
};

/// Validated collections activities (published only when an activities input is configured).
pub static ACTIVITIES_TABLE: TableContract = TableContract {
    name: "activities",
    doc: "Validated collections / CRM activities in canonical form (only when an activities input is configured)",
    partition: None,
    columns: Cow::Borrowed(&[
        out("activity_id", O::Text, false, "Activity number"),
        out("customer_id", O::Text, false, "Customer id"),
        out("occurred_at", O::Timestamp, false, "When it happened (UTC)"),
        out(
            "local_offset_minutes",
            O::Int,
            false,
            "The debtor's UTC offset then, in minutes (from debtor_time_zone, else the timestamp's own): local time = occurred_at + offset",
        ),
        out("channel", O::Text, false, "call, email, letter, sms, portal, visit, agency or legal"),
        out("direction", O::Text, false, "outbound or inbound"),
        out("outcome", O::Text, true, "The recorded outcome (null: none recorded)"),
        out("invoice_refs", O::Text, true, "Documents the activity is about, joined with ';'"),
        out("promised_amount", O::Money, true, "Promised amount (payment plan: each instalment) in promised_currency"),
        out("promised_currency", O::Text, true, "Currency of promised_amount"),
        out(
            "promised_amount_reporting",
            O::Money,
            true,
            "promised_amount in the reporting currency at the activity's date",
        ),
        out("promised_date", O::Date, true, "Pay by (payment plan: the first instalment)"),
        out("plan_instalments", O::Count, true, "Payment plan: number of monthly instalments"),
        out("agent", O::Text, true, "Collector or team"),
        out("consumer", O::Bool, false, "The debtor is a consumer (false when not given)"),
        out("debtor_time_zone", O::Text, true, "IANA time zone of the debtor, as given"),
        SOURCE_FILE,
        SOURCE_ROW,
    ]),
};

/// Every rejected or flagged input row.
pub static QUARANTINE_TABLE: TableContract = TableContract {
    name: "quarantine",
    doc: "Input rows that were rejected (or accepted with a flag), with the rule that failed and the original row",
    partition: None,
    columns: Cow::Borrowed(&[
        out("input", O::Text, false, "ledger, payments, customers or fx_rates"),
        out("source_file", O::Text, false, "Export file"),
        out("source_row", O::Count, false, "1-based data row in the file (CSV: line = row + 1)"),
        out("column", O::Text, false, "Canonical column that failed (or the row's key)"),
        out("value", O::Text, true, "The value as read"),
        out("rule", O::Text, false, "The rule that failed (see `ardent schema`)"),
        out("outcome", O::Text, false, "quarantined (row rejected) or flagged (row kept)"),
        out("message", O::Text, false, "What is wrong and what to do"),
        out(
            "raw",
            O::Text,
            false,
            "Rejected rows: the original row as JSON (export column → value); flagged rows: the canonical row",
        ),
    ]),
};

/// Counts per input and rule.
pub static DATA_QUALITY_TABLE: TableContract = TableContract {
    name: "data_quality",
    doc: "Per input: rows read, accepted and quarantined, and one row per (rule, column) with its count",
    partition: None,
    columns: Cow::Borrowed(&[
        out("input", O::Text, false, "Input name"),
        out("rule", O::Text, false, "Rule name, or rows_read / rows_accepted / rows_quarantined for the totals"),
        out("column", O::Text, true, "Canonical column (null on totals)"),
        out("outcome", O::Text, false, "total, quarantined or flagged"),
        out("rows", O::Count, false, "Number of rows"),
        out("share", O::Float, false, "rows / rows_read of the input"),
    ]),
};

/// All output tables of the current pipeline, in publishing order.
pub static OUTPUT_TABLES: &[&TableContract] = &[
    &LEDGER_TABLE,
    &PAYMENTS_TABLE,
    &PAYMENT_REFS_TABLE,
    &CUSTOMERS_TABLE,
    &FX_RATES_TABLE,
    &ACTIVITIES_TABLE,
    &DATA_QUALITY_TABLE,
    &QUARANTINE_TABLE,
];

/// The contract of an output table by name.
pub fn output_table(name: &str) -> Option<&'static TableContract> {
    OUTPUT_TABLES.iter().copied().find(|t| t.name == name)
}

/// Whether `code` is an ISO 4217 currency code.
pub fn is_currency(code: &str) -> bool {
    iso_currency::Currency::from_code(code).is_some()
}

/// A ledger document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocType {
    Invoice,
    CreditMemo,
    DebitMemo,
    WriteOff,
}

impl DocType {
    /// All document types.
    pub const ALL: [DocType; 4] = [DocType::Invoice, DocType::CreditMemo, DocType::DebitMemo, DocType::WriteOff];

    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Invoice => "invoice",
            DocType::CreditMemo => "credit_memo",
            DocType::DebitMemo => "debit_memo",
            DocType::WriteOff => "write_off",
        }
    }

    /// Parse the canonical spelling.
    pub fn parse(s: &str) -> Option<DocType> {
        DocType::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Documents that the customer owes (they need a due date).
    pub fn is_receivable(self) -> bool {
        matches!(self, DocType::Invoice | DocType::DebitMemo)
    }
}
