//! The generated ledger written as the exports ERPs produce (`ardent generate --shape`):
//! the canonical files of a seed are rewritten as one combined export in a vendor's layout,
//! read by the ready profile in `pipelines/configs/sources/` of the same name.
//!
//! A shape carries what its vendor's export carries, and no more:
//!
//! | shape | links carried | not carried |
//! |---|---|---|
//! | `sap_fbl5n`, `sap_s4_journal_entry_items` | clearing document: a payment clears the invoices it paid last; a credit memo joins its invoice's clearing | references of partial payments (SAP leaves them as residual items); debit memos (posted as invoices, DR) |
//! | `dynamics_bc_ledger_entries` | Applies-to Doc. No.: a payment of one invoice, every credit memo | payments of several invoices; write-offs (no document type) |
//! | `netsuite_ar_register` | none | payment references; write-offs (journals) |
//! | `odoo_journal_items` | matching number, as for SAP clearing | debit notes (invoices in Odoo); write-offs |
//! | `quickbooks_transactions` | none | payment references; debit memos (invoices in QuickBooks); write-offs |
//! | `invoice_register` | a settlement date per invoice (the last payment that referenced it), from which the profile derives one payment for the invoice amount | payments as paid (partial, lump, unapplied); credit and debit memos; write-offs |
//! | `erpnext_general_ledger` | Against Voucher: every reference of a payment (one row each, under one voucher), every credit note and write-off | due dates (the standard terms stand in); debit memos (sales invoices) |
//!
//! | `quickbooks_ar_aging_detail`, `xero_aged_receivables_detail` | none: open items at the last month end, written by [`crate::aging_reports`] from a run's cash application | every transaction before the date; why a payment or credit is unapplied; Xero: payment types |
//!
//! Customers of the name-based shapes (NetSuite, Odoo, QuickBooks, ERPNext) are known by
//! their names, and the customer master written beside them is keyed by name too. The
//! profiles of Odoo, QuickBooks and ERPNext read one home currency; the generated world has six,
//! so those exports carry a Currency column that the generated pipeline maps.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use crate::GenError;

/// An export layout the generator can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    SapFbl5n,
    SapS4,
    DynamicsBc,
    NetsuiteAr,
    Odoo,
    QuickbooksTransactions,
    ErpnextGeneralLedger,
    InvoiceRegister,
    /// Snapshots of open items at a date ([`crate::aging_reports`]).
    QuickbooksArAging,
    XeroAgedReceivables,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 8] = [
        Shape::SapFbl5n,
        Shape::SapS4,
        Shape::DynamicsBc,
        Shape::NetsuiteAr,
        Shape::Odoo,
        Shape::QuickbooksTransactions,
        Shape::ErpnextGeneralLedger,
        Shape::InvoiceRegister,
    ];

    /// The name: the profile's file stem in `pipelines/configs/sources/`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::SapFbl5n => "sap_fbl5n",
            Shape::SapS4 => "sap_s4_journal_entry_items",
            Shape::DynamicsBc => "dynamics_bc_ledger_entries",
            Shape::NetsuiteAr => "netsuite_ar_register",
            Shape::Odoo => "odoo_journal_items",
            Shape::QuickbooksTransactions => "quickbooks_transactions",
            Shape::ErpnextGeneralLedger => "erpnext_general_ledger",
            Shape::InvoiceRegister => "invoice_register",
            Shape::QuickbooksArAging => "quickbooks_ar_aging_detail",
            Shape::XeroAgedReceivables => "xero_aged_receivables_detail",
        }
    }

    /// The aging reports: open items at a date, written from a run's cash application
    /// ([`crate::aging_reports::write_aging_report`]), not from the transactions.
    pub const REPORTS: [Shape; 2] = [Shape::QuickbooksArAging, Shape::XeroAgedReceivables];

    /// The shape of a name.
    pub fn parse(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().chain(Shape::REPORTS).find(|s| s.name() == name)
    }

    /// Whether the shape is an aging report (open items at a date).
    pub fn is_report(self) -> bool {
        Shape::REPORTS.contains(&self)
    }

    /// The profile's `[sources.<name>]` section name.
    pub fn source(self) -> &'static str {
        match self {
            Shape::SapFbl5n => "fbl5n",
            Shape::SapS4 => "s4",
            Shape::DynamicsBc => "bc",
            Shape::NetsuiteAr => "netsuite",
            Shape::Odoo => "odoo",
            Shape::QuickbooksTransactions => "quickbooks",
            Shape::ErpnextGeneralLedger => "erpnext",
            Shape::InvoiceRegister => "register",
            Shape::QuickbooksArAging => "qb_aging",
            Shape::XeroAgedReceivables => "xero",
        }
    }

    /// The file the export is written to.
    pub fn file(self) -> &'static str {
        match self {
            Shape::SapFbl5n => "fbl5n.csv",
            Shape::SapS4 => "journal_entry_items.json",
            Shape::DynamicsBc => "customer_ledger_entries.csv",
            Shape::NetsuiteAr => "ar_register.csv",
            Shape::Odoo => "journal_items.csv",
            Shape::QuickbooksTransactions => "transactions.csv",
            Shape::ErpnextGeneralLedger => "general_ledger.csv",
            Shape::InvoiceRegister => "invoice_register.csv",
            Shape::QuickbooksArAging => "ar_aging_detail.csv",
            Shape::XeroAgedReceivables => "aged_receivables_detail.csv",
        }
    }

    fn profile(self) -> &'static str {
        match self {
            Shape::SapFbl5n => include_str!("../../pipelines/configs/sources/sap_fbl5n.toml"),
            Shape::SapS4 => include_str!("../../pipelines/configs/sources/sap_s4_journal_entry_items.toml"),
            Shape::DynamicsBc => include_str!("../../pipelines/configs/sources/dynamics_bc_ledger_entries.toml"),
            Shape::NetsuiteAr => include_str!("../../pipelines/configs/sources/netsuite_ar_register.toml"),
            Shape::Odoo => include_str!("../../pipelines/configs/sources/odoo_journal_items.toml"),
            Shape::QuickbooksTransactions => {
                include_str!("../../pipelines/configs/sources/quickbooks_transactions.toml")
            }
            Shape::ErpnextGeneralLedger => include_str!("../../pipelines/configs/sources/erpnext_general_ledger.toml"),
            Shape::InvoiceRegister => include_str!("../../pipelines/configs/sources/invoice_register.toml"),
            Shape::QuickbooksArAging => include_str!("../../pipelines/configs/sources/quickbooks_ar_aging_detail.toml"),
            Shape::XeroAgedReceivables => {
                include_str!("../../pipelines/configs/sources/xero_aged_receivables_detail.toml")
            }
        }
    }

    /// Whether the export holds payments (an invoice register holds settlement dates, from
    /// which the profile derives one payment per settled invoice).
    pub fn carries_payments(self) -> bool {
        !matches!(self, Shape::InvoiceRegister)
    }

    /// Whether the export holds credit memos and debit memos (a register holds invoices).
    pub fn carries_memos(self) -> bool {
        !matches!(self, Shape::InvoiceRegister)
    }

    /// Whether the export has a place for write-offs.
    pub fn carries_write_offs(self) -> bool {
        matches!(self, Shape::SapFbl5n | Shape::SapS4 | Shape::ErpnextGeneralLedger)
    }

    /// Whether the export tells debit memos from invoices (SAP posts them as customer
    /// invoices, DR; Odoo's debit notes, QuickBooks' and ERPNext's late fees are invoices).
    pub fn carries_debit_memos(self) -> bool {
        matches!(self, Shape::DynamicsBc | Shape::NetsuiteAr)
    }

    /// Whether the export carries due dates (ERPNext's general ledger does not: the
    /// profile's standard terms stand in).
    pub fn carries_due_dates(self) -> bool {
        !matches!(self, Shape::ErpnextGeneralLedger)
    }

    /// Whether customers are known by name.
    pub fn by_name(self) -> bool {
        matches!(
            self,
            Shape::NetsuiteAr
                | Shape::Odoo
                | Shape::QuickbooksTransactions
                | Shape::ErpnextGeneralLedger
                | Shape::QuickbooksArAging
                | Shape::XeroAgedReceivables
        )
    }
}

/// A ledger document of the canonical export.
#[derive(Debug, Clone)]
struct Doc {
    id: String,
    customer: String,
    kind: String,
    date: String,
    due: Option<String>,
    cents: i64,
    currency: String,
    applies_to: Option<String>,
    terms: Option<String>,
}

/// A payment of the canonical export.
#[derive(Debug, Clone)]
struct Pay {
    id: String,
    customer: String,
    date: String,
    cents: i64,
    currency: String,
    refs: Vec<String>,
}

pub(crate) fn read_csv(path: &Path) -> Result<DataFrame, GenError> {
    let err = |e: PolarsError| GenError::Write { path: path.to_path_buf(), reason: e.to_string() };
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .map_err(err)?
        .finish()
        .map_err(err)
}

fn texts(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .ok()
        .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.map(str::to_string)).collect()))
        .unwrap_or_else(|| vec![None; df.height()])
}

fn cents(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let negative = whole.starts_with('-');
    let whole: i64 = whole.trim_start_matches('-').parse().unwrap_or(0);
    let frac: i64 = format!("{frac:0<2}")[..2].parse().unwrap_or(0);
    let v = whole * 100 + frac;
    if negative { -v } else { v }
}

/// `cents` as text with `decimal` and `thousands` (none when 0), sign as the caller writes it.
pub(crate) fn money(cents: i64, decimal: char, thousands: Option<char>) -> String {
    let units = (cents.unsigned_abs() / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if let Some(t) = thousands
            && i > 0
            && (units.len() - i).is_multiple_of(3)
        {
            grouped.push(t);
        }
        grouped.push(c);
    }
    format!("{grouped}{decimal}{:02}", cents.unsigned_abs() % 100)
}

/// `YYYY-MM-DD` rewritten by `f(year, month, day)`.
fn date(iso: &str, f: impl Fn(&str, &str, &str) -> String) -> String {
    let (y, rest) = iso.split_at(4);
    f(y, &rest[1..3], &rest[4..6])
}

fn us_date(iso: &str) -> String {
    date(iso, |y, m, d| format!("{}/{}/{y}", m.trim_start_matches('0'), d.trim_start_matches('0')))
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', ';', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The customer's name, as the generator writes it in the master.
pub fn customer_name(id: &str) -> String {
    format!("Customer {} Ltd", id.trim_start_matches('C'))
}

/// What the shape's links say, computed from the canonical references.
struct Links {
    /// Invoice → the payment that cleared it (the last one referencing it).
    cleared_by: HashMap<String, String>,
}

impl Links {
    fn new(payments: &[Pay]) -> Links {
        let mut cleared_by = HashMap::new();
        for p in payments {
            for r in &p.refs {
                cleared_by.insert(r.clone(), p.id.clone());
            }
        }
        Links { cleared_by }
    }

    /// The clearing document of a ledger document (a credit memo joins its invoice's).
    fn doc_clearing(&self, d: &Doc) -> Option<&str> {
        let target = match d.kind.as_str() {
            "credit_memo" | "write_off" => d.applies_to.as_deref()?,
            _ => &d.id,
        };
        self.cleared_by.get(target).map(String::as_str)
    }

    /// The clearing document of a payment: its own number when it cleared anything.
    fn pay_clearing<'p>(&self, p: &'p Pay) -> Option<&'p str> {
        p.refs.iter().any(|r| self.cleared_by.get(r) == Some(&p.id)).then_some(p.id.as_str())
    }
}

/// Rewrite the canonical `ledger.csv` and `payments.csv` in `out` as `shape`, write the
/// pipeline that reads it with the shape's profile (customers and fx_rates stay canonical),
/// and remove the canonical ledger and payments. Returns the rows written.
pub fn write_shape(shape: Shape, out: &Path) -> Result<u64, GenError> {
    if shape.is_report() {
        return Err(GenError::Params(format!(
            "{} is an aging report: its open items come from a run's cash application (`ardent generate --shape` computes them)",
            shape.name()
        )));
    }
    let ledger = read_csv(&out.join("ledger.csv"))?;
    let payments = read_csv(&out.join("payments.csv"))?;
    let col = |df: &DataFrame, n: &str| texts(df, n);
    let (ids, customers, kinds, dates, dues, amounts, currencies, applies, terms) = (
        col(&ledger, "doc_id"),
        col(&ledger, "customer_id"),
        col(&ledger, "doc_type"),
        col(&ledger, "doc_date"),
        col(&ledger, "due_date"),
        col(&ledger, "amount"),
        col(&ledger, "currency"),
        col(&ledger, "applies_to"),
        col(&ledger, "terms"),
    );
    let docs: Vec<Doc> = (0..ledger.height())
        .map(|i| Doc {
            id: ids[i].clone().unwrap_or_default(),
            customer: customers[i].clone().unwrap_or_default(),
            kind: kinds[i].clone().unwrap_or_default(),
            date: dates[i].clone().unwrap_or_default(),
            due: dues[i].clone(),
            cents: cents(amounts[i].as_deref().unwrap_or("0")),
            currency: currencies[i].clone().unwrap_or_default(),
            applies_to: applies[i].clone(),
            terms: terms[i].clone(),
        })
        .filter(|d| shape.carries_write_offs() || d.kind != "write_off")
        .collect();
    let (pids, pcustomers, pdates, pamounts, pcurrencies, prefs) = (
        col(&payments, "payment_id"),
        col(&payments, "customer_id"),
        col(&payments, "payment_date"),
        col(&payments, "amount"),
        col(&payments, "currency"),
        col(&payments, "invoice_refs"),
    );
    let pays: Vec<Pay> = (0..payments.height())
        .map(|i| Pay {
            id: pids[i].clone().unwrap_or_default(),
            customer: pcustomers[i].clone().unwrap_or_default(),
            date: pdates[i].clone().unwrap_or_default(),
            cents: cents(pamounts[i].as_deref().unwrap_or("0")),
            currency: pcurrencies[i].clone().unwrap_or_default(),
            refs: prefs[i].as_deref().map(|r| r.split(';').map(str::to_string).collect()).unwrap_or_default(),
        })
        .collect();
    let links = Links::new(&pays);
    let text = match shape {
        Shape::SapFbl5n => fbl5n(&docs, &pays, &links),
        Shape::SapS4 => s4_json(&docs, &pays, &links),
        Shape::DynamicsBc => dynamics_bc(&docs, &pays),
        Shape::NetsuiteAr => netsuite(&docs, &pays),
        Shape::Odoo => odoo(&docs, &pays, &links),
        Shape::QuickbooksTransactions => quickbooks(&docs, &pays),
        Shape::ErpnextGeneralLedger => erpnext(&docs, &pays),
        Shape::InvoiceRegister => register(&docs, &pays),
        Shape::QuickbooksArAging | Shape::XeroAgedReceivables => unreachable!("reports are refused above"),
    };
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| GenError::Write { path, reason: e.to_string() })
    };
    write(shape.file(), &text)?;
    replace_canonical(shape, out, None)?;
    Ok((docs.len() + pays.len()) as u64)
}

/// Remove the canonical ledger and payments that `shape`'s export now holds, key the customer
/// master by name where the shape knows customers by name, and write the pipeline that reads
/// the export (with `analytics.to = as_of` for a snapshot).
pub(crate) fn replace_canonical(shape: Shape, out: &Path, as_of: Option<&str>) -> Result<(), GenError> {
    for name in ["ledger.csv", "payments.csv"] {
        let path = out.join(name);
        std::fs::remove_file(&path).map_err(|e| GenError::Write { path, reason: e.to_string() })?;
    }
    if shape.by_name() {
        // The master keyed by name, as the ERP's customer list is.
        let path = out.join("customers.csv");
        let mut master = read_csv(&path)?;
        let named: Vec<Option<String>> =
            texts(&master, "customer_id").iter().map(|c| c.as_deref().map(customer_name)).collect();
        master
            .with_column(StringChunked::from_iter_options("customer_id".into(), named.into_iter()).into_column())
            .map_err(|e| GenError::Write { path: path.clone(), reason: e.to_string() })?;
        let mut file =
            std::fs::File::create(&path).map_err(|e| GenError::Write { path: path.clone(), reason: e.to_string() })?;
        CsvWriter::new(&mut file)
            .finish(&mut master)
            .map_err(|e| GenError::Write { path: path.clone(), reason: e.to_string() })?;
    }
    let path = out.join("pipeline.toml");
    std::fs::write(&path, pipeline(shape, as_of)?).map_err(|e| GenError::Write { path, reason: e.to_string() })
}

/// The pipeline of a generated shape: canonical customers and fx_rates, the profile's source
/// reading the shaped file. Shapes whose profile assumes one currency carry the generated
/// currencies in a column the pipeline maps.
fn pipeline(shape: Shape, as_of: Option<&str>) -> Result<String, GenError> {
    let bad = |e: String| GenError::Params(format!("the profile of {}: {e}", shape.name()));
    let profile: toml::Table = toml::from_str(shape.profile()).map_err(|e| bad(e.to_string()))?;
    let mut source = profile
        .get("sources")
        .and_then(|s| s.get(shape.source()))
        .and_then(|s| s.as_table())
        .cloned()
        .ok_or_else(|| bad(format!("no [sources.{}]", shape.source())))?;
    source.insert("path".into(), shape.file().into());
    if matches!(
        shape,
        Shape::Odoo
            | Shape::QuickbooksTransactions
            | Shape::ErpnextGeneralLedger
            | Shape::InvoiceRegister
            | Shape::QuickbooksArAging
            | Shape::XeroAgedReceivables
    ) {
        // Their profiles read the home currency; the generated world has six, in a Currency
        // column (Odoo's journal items have one; the QuickBooks and ERPNext reports here add it).
        if let Some(toml::Value::Table(columns)) = source.get_mut("columns") {
            columns.insert("currency".into(), "Currency".into());
        }
    }
    let mut sources = toml::Table::new();
    sources.insert(shape.source().into(), toml::Value::Table(source));
    let mut doc = toml::Table::new();
    let mut run = toml::Table::new();
    run.insert("reporting_currency".into(), "USD".into());
    doc.insert("run".into(), toml::Value::Table(run));
    if let Some(as_of) = as_of {
        // A snapshot: its last month end is the report's date.
        let mut analytics = toml::Table::new();
        analytics.insert("to".into(), as_of.into());
        doc.insert("analytics".into(), toml::Value::Table(analytics));
    }
    let input = |path: &str| {
        let mut t = toml::Table::new();
        t.insert("path".into(), path.into());
        toml::Value::Table(t)
    };
    let mut inputs = toml::Table::new();
    inputs.insert("fx_rates".into(), input("fx_rates.csv"));
    inputs.insert("customers".into(), input("customers.csv"));
    doc.insert("inputs".into(), toml::Value::Table(inputs));
    doc.insert("sources".into(), toml::Value::Table(sources));
    let body = toml::to_string(&doc).map_err(|e| bad(e.to_string()))?;
    let what = match as_of {
        Some(d) => format!("the generated items open on {d} as that aging report"),
        None => "the generated ledger and payments as one\n# export in that layout".to_string(),
    };
    Ok(format!(
        "# Written by `ardent generate --shape {}`: {what},\n# read with pipelines/configs/sources/{}.toml.\n\n{body}",
        shape.name(),
        shape.name()
    ))
}

/// Rows of one customer at a time: its documents, then its payments (both files are in
/// customer order).
fn by_customer<'a>(docs: &'a [Doc], pays: &'a [Pay]) -> Vec<(&'a str, &'a [Doc], &'a [Pay])> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < docs.len() || j < pays.len() {
        let c = match (docs.get(i), pays.get(j)) {
            (Some(d), Some(p)) => d.customer.as_str().min(p.customer.as_str()),
            (Some(d), None) => d.customer.as_str(),
            (None, Some(p)) => p.customer.as_str(),
            (None, None) => break,
        };
        let i0 = i;
        while docs.get(i).is_some_and(|d| d.customer == c) {
            i += 1;
        }
        let j0 = j;
        while pays.get(j).is_some_and(|p| p.customer == c) {
            j += 1;
        }
        out.push((c, &docs[i0..i], &pays[j0..j]));
    }
    out
}

fn sap_type(kind: &str) -> &'static str {
    match kind {
        "invoice" => "RV",
        "debit_memo" => "DR",
        "credit_memo" => "DG",
        _ => "DA",
    }
}

/// A signed amount in the document's own sign convention (debits positive).
fn signed(d: &Doc) -> i64 {
    if matches!(d.kind.as_str(), "invoice" | "debit_memo") { d.cents } else { -d.cents }
}

fn fbl5n(docs: &[Doc], pays: &[Pay], links: &Links) -> String {
    let german = |c: i64| {
        let m = money(c, ',', Some('.'));
        if c < 0 { format!("{m}-") } else { m }
    };
    let de = |iso: &str| date(iso, |y, m, d| format!("{d}.{m}.{y}"));
    let mut s = String::from(
        "Customer Line Item Display;;;;;;;;;;;;;\nCompany code 1000;;;;;;;;;;;;;\n;;;;;;;;;;;;;\n\
         Company Code;Account;Document Number;Fiscal Year;Document Type;Posting Key;Document Date;Net Due Date;Payment terms;Amount in doc. curr.;Document currency;Clearing Document;Clearing date;Text\n",
    );
    let mut total = 0i64;
    for (customer, ds, ps) in by_customer(docs, pays) {
        let mut sub = 0i64;
        for d in ds {
            let clearing = links.doc_clearing(d).unwrap_or_default();
            let amount = signed(d);
            sub += amount;
            let key = if amount >= 0 { "01" } else { "11" };
            let _ = writeln!(
                s,
                "1000;{customer};{};{};{};{key};{};{};{};{};{};{clearing};;",
                d.id,
                &d.date[..4],
                sap_type(&d.kind),
                de(&d.date),
                d.due.as_deref().map(de).unwrap_or_default(),
                d.terms.as_deref().unwrap_or_default(),
                german(amount),
                d.currency
            );
        }
        for p in ps {
            sub -= p.cents;
            let clearing = links.pay_clearing(p).unwrap_or_default();
            let _ = writeln!(
                s,
                "1000;{customer};{};{};DZ;15;{};{};;{};{};{clearing};;Incoming payment",
                p.id,
                &p.date[..4],
                de(&p.date),
                de(&p.date),
                german(-p.cents),
                p.currency
            );
        }
        total += sub;
        let _ = writeln!(s, "*;{customer};;;;;;;;{};;;;", german(sub));
    }
    let _ = writeln!(s, "**;;;;;;;;;{};;;;", german(total));
    s
}

fn s4_json(docs: &[Doc], pays: &[Pay], links: &Links) -> String {
    let ts = |iso: &str| format!("{iso}T00:00:00.000Z");
    let mut items = Vec::with_capacity(docs.len() + pays.len());
    for (customer, ds, ps) in by_customer(docs, pays) {
        for (k, d) in ds.iter().enumerate() {
            let amount = signed(d);
            // Every other invoice leaves its due date to the payment terms.
            let due = if k % 2 == 0 || d.terms.is_none() { d.due.as_deref().map(ts) } else { None };
            items.push(serde_json::json!({
                "CompanyCode": "1000", "FiscalYear": &d.date[..4], "AccountingDocument": d.id,
                "AccountingDocumentItem": "001", "AccountingDocumentType": sap_type(&d.kind), "Customer": customer,
                "DocumentDate": ts(&d.date), "NetDueDate": due, "PaymentTerms": d.terms.clone().unwrap_or_default(),
                "DebitCreditCode": if amount >= 0 { "S" } else { "H" },
                "AmountInTransactionCurrency": money(amount, '.', None),
                "TransactionCurrency": d.currency,
                "ClearingAccountingDocument": links.doc_clearing(d).unwrap_or_default(),
            }));
        }
        for p in ps {
            items.push(serde_json::json!({
                "CompanyCode": "1000", "FiscalYear": &p.date[..4], "AccountingDocument": p.id,
                "AccountingDocumentItem": "001", "AccountingDocumentType": "DZ", "Customer": customer,
                "DocumentDate": ts(&p.date), "NetDueDate": ts(&p.date), "PaymentTerms": "",
                "DebitCreditCode": "H", "AmountInTransactionCurrency": format!("-{}", money(p.cents, '.', None)),
                "TransactionCurrency": p.currency,
                "ClearingAccountingDocument": links.pay_clearing(p).unwrap_or_default(),
            }));
        }
    }
    serde_json::json!({ "@odata.context": "$metadata#A_OperationalAcctgDocItemCube", "value": items }).to_string()
}

fn dynamics_bc(docs: &[Doc], pays: &[Pay]) -> String {
    let mut s = String::from(
        "Posting Date,Document Type,Document No.,Customer No.,Customer Name,Description,Currency Code,Original Amount,Amount,Remaining Amount,Due Date,Applies-to Doc. No.,Open,Entry No.\n",
    );
    let lcy = |c: &str| if c == "USD" { String::new() } else { c.to_string() };
    let mut entry = 1u64;
    for (customer, ds, ps) in by_customer(docs, pays) {
        let name = csv_field(&customer_name(customer));
        for d in ds {
            let kind = match d.kind.as_str() {
                "invoice" => "Invoice",
                "debit_memo" => "Finance Charge Memo",
                _ => "Credit Memo",
            };
            let amount = money(signed(d), '.', None);
            let amount = if signed(d) < 0 { format!("-{amount}") } else { amount };
            let applies =
                if d.kind == "credit_memo" { d.applies_to.clone().unwrap_or_default() } else { String::new() };
            let _ = writeln!(
                s,
                "{},{kind},{},{customer},{name},,{},{amount},{amount},0,{},{applies},No,{entry}",
                d.date,
                d.id,
                lcy(&d.currency),
                d.due.as_deref().unwrap_or(&d.date)
            );
            entry += 1;
        }
        for p in ps {
            let applies = if p.refs.len() == 1 { p.refs[0].as_str() } else { "" };
            let amount = format!("-{}", money(p.cents, '.', None));
            let _ = writeln!(
                s,
                "{},Payment,{},{customer},{name},,{},{amount},{amount},0,{},{applies},No,{entry}",
                p.date,
                p.id,
                lcy(&p.currency),
                p.date
            );
            entry += 1;
        }
    }
    s
}

fn netsuite(docs: &[Doc], pays: &[Pay]) -> String {
    let mut s = String::from(
        "Date,Type,Document Number,Name,Account,Amount (Debit),Amount (Credit),Due Date/Receive By,Currency,Memo\n",
    );
    let us = |c: i64| csv_field(&money(c, '.', Some(',')));
    for (customer, ds, ps) in by_customer(docs, pays) {
        let name = csv_field(&customer_name(customer));
        for d in ds {
            let (kind, debit, credit) = match d.kind.as_str() {
                "invoice" => ("Invoice", us(d.cents), String::new()),
                "debit_memo" => ("Statement Charge", us(d.cents), String::new()),
                _ => ("Credit Memo", String::new(), us(d.cents)),
            };
            let due = d.due.as_deref().map(us_date).unwrap_or_default();
            let _ = writeln!(
                s,
                "{},{kind},{},{name},11000 Accounts Receivable,{debit},{credit},{due},{},",
                us_date(&d.date),
                d.id,
                d.currency
            );
        }
        for p in ps {
            let _ = writeln!(
                s,
                "{},Payment,{},{name},11000 Accounts Receivable,,{},,{},",
                us_date(&p.date),
                p.id,
                us(p.cents),
                p.currency
            );
        }
    }
    s
}

fn odoo(docs: &[Doc], pays: &[Pay], links: &Links) -> String {
    let mut s =
        String::from("Date,Journal Entry,Journal,Account,Partner,Label,Debit,Credit,Matching,Due Date,Currency\n");
    // Matching numbers A1, A2, … in the order the reconciliations are first met.
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut matching = |clearing: Option<&str>| -> String {
        let Some(c) = clearing else { return String::new() };
        let next = numbers.len() + 1;
        format!("A{}", numbers.entry(c.to_string()).or_insert(next))
    };
    for (customer, ds, ps) in by_customer(docs, pays) {
        let name = csv_field(&customer_name(customer));
        for d in ds {
            let m = matching(links.doc_clearing(d));
            let (debit, credit) = if signed(d) >= 0 {
                (money(d.cents, '.', None), "0.00".to_string())
            } else {
                ("0.00".to_string(), money(d.cents, '.', None))
            };
            let _ = writeln!(
                s,
                "{},{},Customer Invoices,121000 Account Receivable,{name},{},{debit},{credit},{m},{},{}",
                d.date,
                d.id,
                d.id,
                d.due.as_deref().unwrap_or(&d.date),
                d.currency
            );
        }
        for p in ps {
            let m = matching(links.pay_clearing(p));
            let _ = writeln!(
                s,
                "{},{},Bank,121000 Account Receivable,{name},Customer payment,0.00,{},{m},{},{}",
                p.date,
                p.id,
                money(p.cents, '.', None),
                p.date,
                p.currency
            );
        }
    }
    s
}

fn quickbooks(docs: &[Doc], pays: &[Pay]) -> String {
    let mut s = String::from(
        "Transaction List by Customer\nGenerated Company\n\"All Dates\"\n\n,Date,Transaction Type,Num,Posting,Memo/Description,Account,Due Date,Amount,Currency\n",
    );
    let us = |c: i64| csv_field(&money(c, '.', Some(',')));
    let mut total = 0i64;
    for (customer, ds, ps) in by_customer(docs, pays) {
        let name = csv_field(&customer_name(customer));
        let _ = writeln!(s, "{name},,,,,,,,,");
        let mut sub = 0i64;
        for d in ds {
            // QuickBooks has no debit memo: a late fee is an invoice.
            let kind = if d.kind == "credit_memo" { "Credit Memo" } else { "Invoice" };
            sub += signed(d);
            let due = d.due.as_deref().map(us_date).unwrap_or_default();
            let _ = writeln!(
                s,
                ",{},{kind},{},Yes,,Accounts Receivable (A/R),{due},{},{}",
                us_date(&d.date),
                d.id,
                us(d.cents),
                d.currency
            );
        }
        for p in ps {
            sub -= p.cents;
            let _ = writeln!(
                s,
                ",{},Payment,{},Yes,,Accounts Receivable (A/R),,{},{}",
                us_date(&p.date),
                p.id,
                us(p.cents),
                p.currency
            );
        }
        total += sub;
        let _ = writeln!(
            s,
            "Total for {},,,,,,,,{},",
            customer_name(customer),
            csv_field(&format!("${}", money(sub, '.', Some(','))))
        );
    }
    let _ = writeln!(s, "TOTAL,,,,,,,,{},", csv_field(&format!("${}", money(total, '.', Some(',')))));
    s.push_str("\n\n\"Monday, January 05, 2026 09:12 AM GMT-08:00\"\n");
    s
}

fn erpnext(docs: &[Doc], pays: &[Pay]) -> String {
    let mut s = String::from(
        "Posting Date,Account,Debit (USD),Credit (USD),Balance (USD),Voucher Type,Voucher No,Against Account,Party Type,Party,Against Voucher Type,Against Voucher,Remarks,Currency\n",
    );
    let m = |c: i64| money(c, '.', None);
    for (customer, ds, ps) in by_customer(docs, pays) {
        let name = csv_field(&customer_name(customer));
        for d in ds {
            let (kind, debit, credit, against) = match d.kind.as_str() {
                "credit_memo" => ("Sales Invoice", 0, d.cents, d.applies_to.as_deref()),
                "write_off" => ("Journal Entry", 0, d.cents, d.applies_to.as_deref()),
                // ERPNext has no debit memo: a late fee is a sales invoice.
                _ => ("Sales Invoice", d.cents, 0, None),
            };
            let (against_type, against) = match against {
                Some(a) => ("Sales Invoice", a),
                None => ("", ""),
            };
            let _ = writeln!(
                s,
                "{},Debtors - GC,{},{},0.00,{kind},{},Sales - GC,Customer,{name},{against_type},{against},,{}",
                d.date,
                m(debit),
                m(credit),
                d.id,
                d.currency
            );
        }
        for p in ps {
            // One row per invoice paid, under one voucher; the amount on the first.
            let refs: Vec<Option<&str>> =
                if p.refs.is_empty() { vec![None] } else { p.refs.iter().map(|r| Some(r.as_str())).collect() };
            for (k, r) in refs.iter().enumerate() {
                let amount = if k == 0 { p.cents } else { 0 };
                let (against_type, against) = match r {
                    Some(r) => ("Sales Invoice", *r),
                    None => ("", ""),
                };
                let _ = writeln!(
                    s,
                    "{},Debtors - GC,0.00,{},0.00,Payment Entry,{},Bank - GC,Customer,{name},{against_type},{against},,{}",
                    p.date,
                    m(amount),
                    p.id,
                    p.currency
                );
            }
        }
    }
    s
}

/// An invoice register: invoices only, each with the date of the last payment that
/// referenced it as its settlement date (open when none did).
fn register(docs: &[Doc], pays: &[Pay]) -> String {
    let mut settled: HashMap<&str, &str> = HashMap::new();
    for p in pays {
        for r in &p.refs {
            settled.insert(r.as_str(), p.date.as_str());
        }
    }
    let mut s = String::from(
        "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate,Currency\n",
    );
    for d in docs.iter().filter(|d| d.kind == "invoice") {
        let settled = settled.get(d.id.as_str()).map(|date| us_date(date)).unwrap_or_default();
        let _ = writeln!(
            s,
            "0,{},,{},{},{},{},No,{settled},Paper,,,{}",
            d.customer,
            d.id,
            us_date(&d.date),
            d.due.as_deref().map(us_date).unwrap_or_default(),
            money(d.cents, '.', None),
            d.currency
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_in_each_locale_exactly() {
        assert_eq!(money(123_456, ',', Some('.')), "1.234,56");
        assert_eq!(money(-5, '.', None), "0.05");
        assert_eq!(money(100_000_000, '.', Some(',')), "1,000,000.00");
        assert_eq!(cents("1234.5"), 123_450);
        assert_eq!(cents("-0.07"), -7);
        assert_eq!(us_date("2025-01-09"), "1/9/2025");
    }

    #[test]
    fn every_shape_has_its_profile_section() {
        for shape in Shape::ALL.into_iter().chain(Shape::REPORTS) {
            let text = pipeline(shape, None).expect("profile parses");
            assert!(text.contains(&format!("[sources.{}]", shape.source())), "{text}");
            assert!(text.contains(shape.file()), "{text}");
            assert_eq!(Shape::parse(shape.name()), Some(shape));
        }
    }
}
