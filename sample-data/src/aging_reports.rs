//! The aging reports finance teams export as a snapshot of what is open at a date: QuickBooks
//! "A/R Aging Detail" and Xero "Aged Receivables Detail". They hold open items, not
//! transactions, so they are written from what a run's cash application left open at the
//! report date ([`OpenItem`], computed by `ardent generate`, which owns the engine), in the
//! layout of the fixtures in `pipelines/configs/sources/fixtures/`.
//!
//! What a report cannot carry: the transactions before the date (earlier month ends know
//! only the open items), disputes, and why a payment or credit is unapplied. Read back, an
//! unapplied payment or credit is applied by ardent's rules to the customer's older open
//! items, as any unreferenced payment is; Xero's report has no type column, so its
//! unapplied payments (overpayments) read as credits.

use std::fmt::Write as _;
use std::path::Path;

use crate::GenError;
use crate::shapes::{Shape, csv_field, customer_name, money, replace_canonical};

/// What an open item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// An invoice or debit memo with an open amount.
    Invoice,
    /// A payment with an unapplied amount.
    Payment,
    /// A credit memo or write-off with an unapplied amount.
    Credit,
}

/// One line of an aging report: an item open at the report date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenItem {
    pub customer: String,
    pub kind: OpenKind,
    pub id: String,
    /// ISO dates.
    pub date: String,
    pub due: String,
    /// The original amount and what is open (invoices) or unapplied (payments, credits) at
    /// the report date, both positive, in `currency` cents.
    pub amount: i64,
    pub open: i64,
    pub currency: String,
}

impl OpenItem {
    /// The open amount as the reports sign it: credits to the customer negative.
    fn signed(&self, cents: i64) -> i64 {
        if self.kind == OpenKind::Invoice { cents } else { -cents }
    }
}

/// Days from ISO date `from` to ISO date `to`.
fn days(from: &str, to: &str) -> i64 {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    (d(to) - d(from)).num_days()
}

fn amount(cents: i64) -> String {
    let m = money(cents, '.', Some(','));
    csv_field(&if cents < 0 { format!("-{m}") } else { m })
}

/// Write `items` (open at `as_of`, ISO) as `shape`'s report in `out`, replacing the canonical
/// ledger and payments, with the pipeline that reads it. Returns the lines of open items.
pub fn write_aging_report(shape: Shape, items: &[OpenItem], as_of: &str, out: &Path) -> Result<u64, GenError> {
    let text = match shape {
        Shape::QuickbooksArAging => quickbooks(items, as_of),
        Shape::XeroAgedReceivables => xero(items, as_of),
        other => return Err(GenError::Params(format!("{} is not an aging report", other.name()))),
    };
    let path = out.join(shape.file());
    std::fs::write(&path, text).map_err(|e| GenError::Write { path, reason: e.to_string() })?;
    replace_canonical(shape, out, Some(as_of))?;
    Ok(items.len() as u64)
}

/// QuickBooks Online "A/R Aging Detail": lines grouped by how far past due they are, each
/// group headed by its name in the unnamed first column and closed by a "Total for" line.
fn quickbooks(items: &[OpenItem], as_of: &str) -> String {
    let us = |iso: &str| format!("{}/{}/{}", &iso[5..7], &iso[8..10], &iso[..4]);
    let when = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").unwrap_or_default();
    let mut s = format!(
        "A/R Aging Detail\nGenerated Company\nAs of {}\n\n,Date,Transaction Type,Num,Customer,Due Date,Past Due,Amount,Open Balance,Currency\n",
        when.format("%B %-d, %Y")
    );
    const GROUPS: [(&str, i64, i64); 5] = [
        ("Current", i64::MIN, 0),
        ("1 - 30 days past due", 1, 30),
        ("31 - 60 days past due", 31, 60),
        ("61 - 90 days past due", 61, 90),
        ("91 or more days past due", 91, i64::MAX),
    ];
    let (mut all_amount, mut all_open) = (0i64, 0i64);
    for (name, low, high) in GROUPS {
        let mut lines: Vec<&OpenItem> = items.iter().filter(|i| (low..=high).contains(&days(&i.due, as_of))).collect();
        if lines.is_empty() {
            continue;
        }
        lines.sort_by(|a, b| (&a.date, &a.customer, &a.id).cmp(&(&b.date, &b.customer, &b.id)));
        let _ = writeln!(s, "{name},,,,,,,,,");
        let (mut total_amount, mut total_open) = (0i64, 0i64);
        for i in lines {
            let kind = match i.kind {
                OpenKind::Invoice => "Invoice",
                OpenKind::Payment => "Payment",
                OpenKind::Credit => "Credit Memo",
            };
            let (a, o) = (i.signed(i.amount), i.signed(i.open));
            total_amount += a;
            total_open += o;
            let _ = writeln!(
                s,
                ",{},{kind},{},{},{},{},{},{},{}",
                us(&i.date),
                csv_field(&i.id),
                csv_field(&customer_name(&i.customer)),
                us(&i.due),
                days(&i.due, as_of),
                amount(a),
                amount(o),
                i.currency
            );
        }
        let _ = writeln!(s, "Total for {name},,,,,,,{},{},", amount(total_amount), amount(total_open));
        all_amount += total_amount;
        all_open += total_open;
    }
    let _ = writeln!(s, "TOTAL,,,,,,,{},{},", amount(all_amount), amount(all_open));
    s
}

/// Xero "Aged Receivables Detail": lines grouped by contact (the name alone on a line above
/// them, a "Total <name>" line below), what is owed spread over the aging columns and in Total.
fn xero(items: &[OpenItem], as_of: &str) -> String {
    let uk = |iso: &str| {
        chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").map(|d| d.format("%d %b %Y").to_string()).unwrap_or_default()
    };
    let mut s = format!(
        "Aged Receivables Detail\nGenerated Company\nAs at {}\nAgeing by due date\n\nInvoice Date,Invoice Number,Invoice Reference,Due Date,Current,< 1 Month,1 Month,2 Months,Older,Total,Currency\n",
        chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d")
            .map(|d| d.format("%-d %B %Y").to_string())
            .unwrap_or_default()
    );
    let mut lines: Vec<&OpenItem> = items.iter().collect();
    lines.sort_by(|a, b| (&a.customer, &a.date, &a.id).cmp(&(&b.customer, &b.date, &b.id)));
    let column = |late: i64| match late {
        ..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    };
    let mut grand = [0i64; 6];
    let mut k = 0;
    while k < lines.len() {
        let customer = &lines[k].customer;
        let name = customer_name(customer);
        let _ = writeln!(s, "{},,,,,,,,,,", csv_field(&name));
        let mut totals = [0i64; 6];
        while k < lines.len() && &lines[k].customer == customer {
            let i = lines[k];
            let o = i.signed(i.open);
            let mut cells = [0i64; 5];
            cells[column(days(&i.due, as_of))] = o;
            for (t, c) in totals.iter_mut().zip(cells.iter().chain([&o])) {
                *t += c;
            }
            let reference = if i.kind == OpenKind::Payment { "Overpayment" } else { "" };
            let cells: Vec<String> = cells.iter().map(|&c| amount(c)).collect();
            let _ = writeln!(
                s,
                "{},{},{reference},{},{},{},{}",
                uk(&i.date),
                csv_field(&i.id),
                uk(&i.due),
                cells.join(","),
                amount(o),
                i.currency
            );
            k += 1;
        }
        let cells: Vec<String> = totals.iter().map(|&c| amount(c)).collect();
        let _ = writeln!(s, "{},,,,{},", csv_field(&format!("Total {name}")), cells.join(","));
        for (g, t) in grand.iter_mut().zip(totals) {
            *g += t;
        }
    }
    let cells: Vec<String> = grand.iter().map(|&c| amount(c)).collect();
    let _ = writeln!(s, "Total,,,,{},", cells.join(","));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: OpenKind, id: &str, due: &str, open: i64) -> OpenItem {
        OpenItem {
            customer: "C0001".into(),
            kind,
            id: id.into(),
            date: "2025-01-10".into(),
            due: due.into(),
            amount: open + 100,
            open,
            currency: "USD".into(),
        }
    }

    #[test]
    fn quickbooks_groups_by_days_past_due_and_signs_credits_negative() {
        let items = [
            item(OpenKind::Invoice, "1001", "2025-02-09", 123_456),
            item(OpenKind::Payment, "P-9", "2025-01-10", 500),
            item(OpenKind::Invoice, "1002", "2025-04-30", 100),
        ];
        let text = quickbooks(&items, "2025-03-31");
        assert!(text.starts_with("A/R Aging Detail\nGenerated Company\nAs of March 31, 2025\n"), "{text}");
        assert!(
            text.contains("Current,,,,,,,,,\n,01/10/2025,Invoice,1002,Customer 0001 Ltd,04/30/2025,-30,2.00,1.00,USD")
        );
        assert!(
            text.contains(",01/10/2025,Invoice,1001,Customer 0001 Ltd,02/09/2025,50,\"1,235.56\",\"1,234.56\",USD")
        );
        assert!(text.contains("Payment,P-9,Customer 0001 Ltd,01/10/2025,80,-6.00,-5.00,USD"), "{text}");
        assert!(text.ends_with("TOTAL,,,,,,,\"1,231.56\",\"1,230.56\",\n"), "{text}");
    }

    #[test]
    fn xero_spreads_each_line_over_its_aging_column_under_its_contact() {
        let items = [
            item(OpenKind::Invoice, "INV-1", "2025-02-15", 250_000),
            item(OpenKind::Credit, "CN-1", "2025-03-31", 1_000),
        ];
        let text = xero(&items, "2025-03-31");
        assert!(text.contains("\nAs at 31 March 2025\n"), "{text}");
        assert!(text.contains("\nCustomer 0001 Ltd,,,,,,,,,,\n"), "{text}");
        assert!(
            text.contains("10 Jan 2025,INV-1,,15 Feb 2025,0.00,0.00,\"2,500.00\",0.00,0.00,\"2,500.00\",USD"),
            "{text}"
        );
        assert!(text.contains("10 Jan 2025,CN-1,,31 Mar 2025,-10.00,0.00,0.00,0.00,0.00,-10.00,USD"), "{text}");
        assert!(text.contains("Total Customer 0001 Ltd,,,,-10.00,0.00,\"2,500.00\",0.00,0.00,\"2,490.00\","), "{text}");
    }
}
