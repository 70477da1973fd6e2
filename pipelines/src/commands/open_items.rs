//! What was open at a date, per document: the lines of the aging reports `ardent generate
//! --shape` writes (QuickBooks A/R Aging Detail, Xero Aged Receivables Detail). The generated
//! canonical export is ingested and its cash applied exactly as `ardent run` does, so a report
//! holds what ardent's own aging at that date holds.

use std::path::Path;

use ardent_engine::analytics::walk::settled_by;
use ardent_engine::calendar::from_epoch_days;
use ardent_engine::cash::apply_cash;
use ardent_engine::contracts::DocType;
use ardent_engine::ingest::ingest;
use ardent_sample::aging_reports::{OpenItem, OpenKind};
use chrono::{Datelike, NaiveDate};

use crate::settings::{Overrides, resolve};

/// The last month end on or before `day`: the date an aging report of generated data is
/// taken at.
pub fn report_date(day: NaiveDate) -> NaiveDate {
    match day.succ_opt() {
        Some(next) if next.day() == 1 => day,
        _ => day.with_day(1).and_then(|d| d.pred_opt()).unwrap_or(day),
    }
}

/// Every item of the canonical export in `dir` open at `as_of`: invoices and debit memos with
/// an open amount, payments and credits with an unapplied one, dated on or before it.
pub fn open_at(dir: &Path, as_of: NaiveDate) -> anyhow::Result<Vec<OpenItem>> {
    let settings = resolve(Overrides { config: Some(dir.join("pipeline.toml")), ..Default::default() })?;
    let ingested = ingest(&settings.ingest)?;
    let book = crate::run::index(&settings, &ingested)?;
    let apps = apply_cash(&book);
    let t = ardent_engine::calendar::epoch_days(as_of);
    let iso = |d: i32| from_epoch_days(d).to_string();
    let (docs, pays) = (&book.docs, &book.payments);
    let mut items = Vec::new();
    for d in 0..docs.len() {
        if docs.date[d] > t {
            continue;
        }
        let (kind, open) = match docs.kind[d] {
            DocType::Invoice | DocType::DebitMemo => {
                (OpenKind::Invoice, docs.amount[d] - settled_by(&apps, d, t).total())
            }
            DocType::CreditMemo | DocType::WriteOff => (OpenKind::Credit, apps.credit_unapplied[d]),
        };
        if open <= 0 {
            continue;
        }
        items.push(OpenItem {
            customer: book.customers.ids.get(docs.customer[d] as usize).to_string(),
            kind,
            id: docs.id.get(d).to_string(),
            date: iso(docs.date[d]),
            due: iso(docs.due[d].unwrap_or(docs.date[d])),
            amount: docs.amount[d],
            open,
            currency: book.currencies[docs.currency[d] as usize].clone(),
        });
    }
    for p in 0..pays.len() {
        let left = apps.payment_unapplied[p];
        if pays.date[p] > t || left <= 0 {
            continue;
        }
        items.push(OpenItem {
            customer: book.customers.ids.get(pays.customer[p] as usize).to_string(),
            kind: OpenKind::Payment,
            id: pays.id.get(p).to_string(),
            date: iso(pays.date[p]),
            due: iso(pays.date[p]),
            amount: pays.amount[p],
            open: left,
            currency: book.currencies[pays.currency[p] as usize].clone(),
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::report_date;
    use chrono::NaiveDate;

    #[test]
    fn reports_are_taken_at_the_last_month_end() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("an ISO date");
        assert_eq!(report_date(d("2025-03-31")), d("2025-03-31"));
        assert_eq!(report_date(d("2025-03-30")), d("2025-02-28"));
        assert_eq!(report_date(d("2024-03-01")), d("2024-02-29"));
    }
}
