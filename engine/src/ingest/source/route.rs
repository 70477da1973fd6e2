//! Routing the rows of one combined export: what each row is (a ledger document of a type, a
//! payment, or deliberately ignored), its amount with the sign taken off by the configured
//! convention, and the values derived from several columns (composite ids, due dates from
//! terms, settlement payments). Every row of the file ends in exactly one [`Target`].

use polars::prelude::*;

use super::super::columns::clean;
use super::super::parse::{DECIMAL18_MAX, DateParser, DecimalError, NumberFormat};
use super::super::quarantine::Rule;
use super::params::{MissingId, Reversal, Route, SignRule, SourceSpec};
use super::report::{Ignored, fill_down, missing, text, total_rows};
use crate::contracts::{DocType, MONEY_SCALE};
use crate::error::{EngineError, Result};

/// Where a row of a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Ledger(DocType),
    Payment,
    Ignored(Ignored),
    /// Its type has no route: quarantined with the ledger (`unmapped_type`).
    Unmapped,
}

/// One file of a source, parsed and routed. Columns are row-aligned with `frame`.
#[derive(Debug)]
pub struct Parsed {
    pub frame: DataFrame,
    pub target: Vec<Target>,
    /// The first rule the row failed in the source, on a canonical ledger column name.
    pub fail: Vec<Option<(Rule, &'static str)>>,
    pub doc_id: Vec<Option<String>>,
    pub payment_id: Vec<Option<String>>,
    pub customer: Vec<Option<String>>,
    /// Amount without its sign, in cents.
    pub amount: Vec<Option<i64>>,
    pub currency: Vec<Option<String>>,
    /// Due date derived from terms (days since the epoch), when terms are configured.
    pub due: Vec<Option<i32>>,
    /// The date text of a payment row as the export writes it.
    pub pay_date: Vec<Option<String>>,
    pub applies_to: Vec<Option<String>>,
    pub refs: Vec<Option<String>>,
    pub clearing: Vec<Option<String>>,
    /// Settlement date text and amount (cents) of invoice rows that were settled.
    pub settled: Vec<Option<(String, Option<i64>)>>,
    /// The type value as written (for messages and counts).
    pub type_value: Vec<Option<String>>,
}

/// An id as a spreadsheet may have written it: `2960623488.0` is `2960623488`.
pub fn normalise_id(s: &str) -> &str {
    match s.split_once('.') {
        Some((whole, zeros))
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && !zeros.is_empty()
                && zeros.bytes().all(|b| b == b'0') =>
        {
            whole
        }
        _ => s,
    }
}

/// The days of a terms code: from the map, else `NET30`, `Net 30`, `N30`, `30`.
pub fn terms_days(code: &str, map: &std::collections::BTreeMap<String, u16>) -> Option<u16> {
    if let Some(d) = map.get(code).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(code)).map(|(_, d)| d)) {
        return Some(*d);
    }
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let digits = compact.strip_prefix("NET").or_else(|| compact.strip_prefix('N')).unwrap_or(&compact);
    (!digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Text values of an export column, trimmed (`None` when empty); filled down when listed.
fn values(spec: &SourceSpec, frame: &DataFrame, column: &str, skip: &[bool]) -> Option<Vec<Option<String>>> {
    let ca = text(frame, column)?;
    let mut v: Vec<Option<String>> = ca.iter().map(|s| clean(s).map(str::to_string)).collect();
    if spec.fill_down.iter().any(|f| f == column) {
        fill_down(&mut v, skip);
    }
    Some(v)
}

/// Amounts of an export column in cents, signed as written; a column where most values are
/// not numbers is a structural error naming the setting to change.
fn amounts(
    spec: &SourceSpec,
    frame: &DataFrame,
    column: &str,
    path: &std::path::Path,
) -> Result<Option<Vec<Option<std::result::Result<i64, ()>>>>> {
    let Ok(col) = frame.column(column) else { return Ok(None) };
    // Typed numbers (Parquet, NDJSON) are read through their text with a '.' decimal point.
    let numbers = if col.dtype().is_primitive_numeric() || matches!(col.dtype(), DataType::Decimal(_, _)) {
        NumberFormat::default()
    } else {
        spec.numbers
    };
    let ca = text(frame, column).unwrap_or_else(|| StringChunked::full_null("".into(), frame.height()));
    let (mut present, mut syntax, mut first_bad) = (0usize, 0usize, None);
    let out: Vec<Option<std::result::Result<i64, ()>>> = ca
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let s = clean(v)?;
            present += 1;
            match numbers.parse_scaled(s, MONEY_SCALE as u32) {
                Ok(x) if x.abs() <= DECIMAL18_MAX => Some(Ok(x as i64)),
                Ok(_) => Some(Err(())),
                Err(e) => {
                    if e == DecimalError::Syntax {
                        syntax += 1;
                        first_bad.get_or_insert((i, s.to_string()));
                    }
                    Some(Err(()))
                }
            }
        })
        .collect();
    if syntax > 0 && syntax * 2 > present {
        let (row, value) = first_bad.unwrap_or_default();
        let other = if numbers.decimal == b'.' { ',' } else { '.' };
        return Err(EngineError::ColumnFormat {
            input: format!("sources.{}", spec.name),
            path: path.to_path_buf(),
            column: format!("`{column}`"),
            message: format!(
                "{syntax} of {present} values are not amounts with decimal separator '{}' (first: \"{value}\" at row {}); if the export writes decimals with '{other}', set `sources.{}.decimal_separator = \"{other}\"` (and `thousands_separator`)",
                numbers.decimal as char,
                row + 1,
                spec.name
            ),
        });
    }
    Ok(Some(out))
}

/// Dates of an export column as days since the epoch (`Err` for a value that is not one).
fn dates(frame: &DataFrame, column: &str, parser: &DateParser) -> Option<Vec<Option<std::result::Result<i32, ()>>>> {
    let col = frame.column(column).ok()?;
    if let Ok(d) = col.cast(&DataType::Date).and_then(|d| d.date().map(|d| d.phys.clone()))
        && matches!(col.dtype(), DataType::Date | DataType::Datetime(_, _))
    {
        return Some(d.iter().map(|v| v.map(Ok)).collect());
    }
    let ca = text(frame, column)?;
    Some(ca.iter().map(|v| clean(v).map(|s| parser.parse(s).ok_or(()))).collect())
}

/// Parse and route every row of one file.
pub fn route_file(spec: &SourceSpec, frame: DataFrame, path: &std::path::Path) -> Result<Parsed> {
    let n = frame.height();
    let need = |column: &str, field: &str| -> Result<Vec<Option<String>>> {
        values(spec, &frame, column, &[]).ok_or_else(|| missing(spec, path, column, &frame, field))
    };
    let total = total_rows(spec, &frame, path)?;
    let opt = |name: &str| values(spec, &frame, spec.column(name), &total);
    let type_value = match &spec.type_column {
        Some(c) => values(spec, &frame, c, &total).ok_or_else(|| missing(spec, path, c, &frame, "type_column"))?,
        None => vec![None; n],
    };
    // The document id: one column, or a composite key.
    let doc_id: Vec<Option<String>> = if spec.key.is_empty() {
        let ids = values(spec, &frame, spec.column("doc_id"), &total)
            .ok_or_else(|| missing(spec, path, spec.column("doc_id"), &frame, "columns.doc_id"))?;
        ids.into_iter().map(|v| v.map(|s| normalise_id(&s).to_string())).collect()
    } else {
        let parts: Vec<Vec<Option<String>>> =
            spec.key.iter().map(|k| need(k, "key")).collect::<Result<_>>()?;
        (0..n)
            .map(|i| {
                let p: Option<Vec<&str>> = parts.iter().map(|p| p[i].as_deref().map(normalise_id)).collect();
                p.map(|p| p.join("-"))
            })
            .collect()
    };
    let payment_id = match spec.maps("payment_id") {
        true => need(spec.column("payment_id"), "columns.payment_id")?
            .into_iter()
            .map(|v| v.map(|s| normalise_id(&s).to_string()))
            .collect(),
        false => doc_id.clone(),
    };
    let customer: Vec<Option<String>> = values(spec, &frame, spec.column("customer_id"), &total)
        .ok_or_else(|| missing(spec, path, spec.column("customer_id"), &frame, "columns.customer_id"))?
        .into_iter()
        .map(|v| v.map(|s| if spec.customer_names { s } else { normalise_id(&s).to_string() }))
        .collect();
    let currency: Vec<Option<String>> = match opt("currency") {
        Some(c) => c.into_iter().map(|v| v.or_else(|| spec.currency.clone())).collect(),
        None if spec.maps("currency") => return Err(missing(spec, path, spec.column("currency"), &frame, "columns.currency")),
        None => vec![spec.currency.clone(); n],
    };
    // Amounts, signed as the convention says.
    let signed: Vec<Option<std::result::Result<i64, ()>>> = match spec.sign {
        SignRule::Columns => {
            let (d, c) = (spec.debit_column.as_deref().unwrap_or_default(), spec.credit_column.as_deref().unwrap_or_default());
            let debit = amounts(spec, &frame, d, path)?.ok_or_else(|| missing(spec, path, d, &frame, "debit_column"))?;
            let credit = amounts(spec, &frame, c, path)?.ok_or_else(|| missing(spec, path, c, &frame, "credit_column"))?;
            debit
                .into_iter()
                .zip(credit)
                .map(|(d, c)| match (d, c) {
                    (None, None) => None,
                    (Some(Err(())), _) | (_, Some(Err(()))) => Some(Err(())),
                    (d, c) => Some(Ok(d.and_then(|x| x.ok()).unwrap_or(0) - c.and_then(|x| x.ok()).unwrap_or(0))),
                })
                .collect()
        }
        _ => amounts(spec, &frame, spec.column("amount"), path)?
            .ok_or_else(|| missing(spec, path, spec.column("amount"), &frame, "columns.amount"))?,
    };
    let indicator: Option<Vec<Option<String>>> = match &spec.indicator {
        Some(i) if spec.sign == SignRule::Indicator => Some(need(&i.column, "indicator.column")?),
        _ => None,
    };
    let doc_date_text = values(spec, &frame, spec.column("doc_date"), &total);
    let pay_date_text = match spec.maps("payment_date") {
        true => Some(need(spec.column("payment_date"), "columns.payment_date")?),
        false => doc_date_text.clone(),
    };
    let applies = opt("applies_to");
    let refs_col = opt("invoice_refs");
    let clearing: Vec<Option<String>> = match &spec.clearing_column {
        Some(c) => need(c, "clearing_column")?.into_iter().map(|v| v.map(|s| normalise_id(&s).to_string())).collect(),
        None => vec![None; n],
    };
    // Due dates from terms where the export gives none.
    let baseline_is_doc_date =
        spec.terms.as_ref().is_some_and(|t| t.baseline.as_deref().is_none_or(|b| b == spec.column("doc_date")));
    let mut due: Vec<Option<i32>> = vec![None; n];
    let mut due_fail: Vec<Option<Rule>> = vec![None; n];
    if let Some(terms) = &spec.terms {
        let given = dates(&frame, spec.column("due_date"), &spec.date);
        let baseline_column = terms.baseline.as_deref().unwrap_or(spec.column("doc_date"));
        let baseline = dates(&frame, baseline_column, &spec.date)
            .ok_or_else(|| missing(spec, path, baseline_column, &frame, "terms.baseline"))?;
        let code_column = terms.column.as_deref().unwrap_or(spec.column("terms"));
        let codes = values(spec, &frame, code_column, &total);
        for i in 0..n {
            match given.as_ref().and_then(|g| g[i]) {
                Some(Ok(d)) => due[i] = Some(d),
                Some(Err(())) => due_fail[i] = Some(Rule::InvalidDate),
                None => {
                    let code = codes.as_ref().and_then(|c| c[i].as_deref());
                    match (baseline[i], code.map(|c| terms_days(c, &terms.days))) {
                        (Some(Ok(b)), Some(Some(days))) => due[i] = Some(b + i32::from(days)),
                        (Some(Err(())), _) => due_fail[i] = Some(Rule::InvalidDate),
                        (_, Some(None)) => due_fail[i] = Some(Rule::UnknownTerms),
                        // No baseline date or no terms: the ledger's rules report the missing due date.
                        _ => {}
                    }
                }
            }
        }
    }
    let settlement = match &spec.settlement {
        Some(s) => {
            let date = need(&s.date, "settlement.date")?;
            let paid = match &s.amount {
                Some(a) => Some(amounts(spec, &frame, a, path)?.ok_or_else(|| missing(spec, path, a, &frame, "settlement.amount"))?),
                None => None,
            };
            Some((date, paid))
        }
        None => None,
    };

    let mut parsed = Parsed {
        target: Vec::with_capacity(n),
        fail: vec![None; n],
        doc_id,
        payment_id,
        customer,
        amount: vec![None; n],
        currency,
        due,
        pay_date: pay_date_text.unwrap_or_else(|| vec![None; n]),
        applies_to: applies.unwrap_or_else(|| vec![None; n]),
        refs: refs_col.unwrap_or_else(|| vec![None; n]),
        clearing,
        settled: vec![None; n],
        type_value,
        frame,
    };
    for i in 0..n {
        let blank = parsed.doc_id[i].is_none()
            && signed[i].is_none()
            && doc_date_text.as_ref().is_none_or(|d| d[i].is_none());
        if spec.missing_id == MissingId::RowNumber && !blank && !total[i] {
            for id in [&mut parsed.doc_id[i], &mut parsed.payment_id[i]] {
                if id.is_none() {
                    *id = Some(format!("row-{}", i + 1));
                }
            }
        }
        let target = if total[i] {
            Target::Ignored(Ignored::TotalRow)
        } else if parsed.type_value[i].is_none() && blank {
            Target::Ignored(Ignored::BlankRow)
        } else {
            // An empty type takes the route of `""` when one is configured.
            match spec.route_of(parsed.type_value[i].as_deref().unwrap_or_default()) {
                None => Target::Unmapped,
                Some(Route::Ignore) => Target::Ignored(Ignored::Type),
                Some(Route::Payment) => Target::Payment,
                Some(r) => Target::Ledger(r.doc_type().unwrap_or(DocType::Invoice)),
            }
        };
        let (target, fail, amount) = sign(spec, target, signed[i], indicator.as_ref().and_then(|v| v[i].as_deref()));
        parsed.target.push(target);
        parsed.amount[i] = amount;
        let mut fail = fail;
        if target == Target::Unmapped {
            fail = Some((Rule::UnmappedType, "doc_type"));
        }
        if let (Target::Ledger(t), None, Some(rule)) = (target, fail, due_fail[i])
            && t.is_receivable()
        {
            // A baseline that is the document date fails as the document date.
            let column = match (rule, baseline_is_doc_date) {
                (Rule::InvalidDate, true) => "doc_date",
                _ => "due_date",
            };
            fail = Some((rule, column));
        }
        parsed.fail[i] = fail;
        if let (Target::Ledger(DocType::Invoice), Some((date, paid))) = (target, &settlement)
            && let Some(d) = &date[i]
        {
            let paid_amount = match paid {
                Some(p) => match p[i] {
                    Some(Ok(x)) => Some(x.abs()),
                    Some(Err(())) => None,
                    None => amount,
                },
                None => amount,
            };
            parsed.settled[i] = Some((d.clone(), paid_amount));
        }
    }
    Ok(parsed)
}

/// Take the sign off an amount by the convention: the row's final target (a negative invoice
/// may become a credit memo), the failure if any, and the amount without its sign.
fn sign(
    spec: &SourceSpec,
    target: Target,
    signed: Option<std::result::Result<i64, ()>>,
    indicator: Option<&str>,
) -> (Target, Option<(Rule, &'static str)>, Option<i64>) {
    let (Target::Ledger(_) | Target::Payment) = target else { return (target, None, None) };
    let value = match signed {
        None => return (target, None, None),
        Some(Err(())) => return (target, Some((Rule::InvalidAmount, "amount")), None),
        Some(Ok(v)) => v,
    };
    let debit = match target {
        Target::Ledger(t) => t.is_receivable(),
        _ => false,
    };
    // The amount as a debit (+) or credit (−) of the customer's account.
    let as_debit = match spec.sign {
        // Positive amounts expected, the route gives the side: a negative one has the
        // opposite sign of its type.
        SignRule::Type if debit => value,
        SignRule::Type => -value,
        SignRule::Amount | SignRule::Columns => value,
        SignRule::Indicator => {
            let Some(ind) = spec.indicator.as_ref() else { return (target, None, Some(value.abs())) };
            let is = |list: &[String]| indicator.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)));
            // The indicator decides the side, whether the amount is written signed or not.
            if is(&ind.debit) {
                value.abs()
            } else if is(&ind.credit) {
                -value.abs()
            } else {
                return (target, Some((Rule::InvalidSign, "amount")), None);
            }
        }
    };
    let magnitude = as_debit.abs();
    let agrees = as_debit == 0 || (as_debit > 0) == debit;
    if agrees {
        return (target, None, Some(magnitude));
    }
    match target {
        Target::Ledger(_) if debit && spec.negative_invoices == Reversal::CreditMemo => {
            (Target::Ledger(DocType::CreditMemo), None, Some(magnitude))
        }
        _ => (target, Some((Rule::OppositeSign, "amount")), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_float_ids_lose_their_zero_decimals_only() {
        assert_eq!(normalise_id("2960623488.0"), "2960623488");
        assert_eq!(normalise_id("0042.00"), "0042");
        assert_eq!(normalise_id("42.5"), "42.5");
        assert_eq!(normalise_id("INV.0"), "INV.0");
        assert_eq!(normalise_id(".0"), ".0");
        assert_eq!(normalise_id("100"), "100");
    }

    #[test]
    fn terms_codes_read_from_the_map_then_from_their_digits() {
        let map = [("Z030".to_string(), 30u16), ("EOM".to_string(), 25)].into_iter().collect();
        assert_eq!(terms_days("Z030", &map), Some(30));
        assert_eq!(terms_days("eom", &map), Some(25));
        assert_eq!(terms_days("NET45", &map), Some(45));
        assert_eq!(terms_days("Net 15", &map), Some(15));
        assert_eq!(terms_days("N60", &map), Some(60));
        assert_eq!(terms_days("30", &map), Some(30));
        assert_eq!(terms_days("Due on receipt", &map), None);
        assert_eq!(terms_days("NET", &map), None);
    }
}
