//! `ardent inspect FILE`: what an unknown export holds, the ready profile it matches, and a
//! config for it. Stdout is a config `ardent validate` accepts (what was found is written
//! in its comments), so `ardent inspect FILE > export.toml` is a first pipeline.

use ardent_engine::ingest::inspect::{Inspection, inspect as look};

use crate::cli::InspectArgs;
use crate::printer::Printer;

/// The ready source profiles: (file stem, text).
pub const PROFILES: &[(&str, &str)] = &[
    ("sap_fbl5n", include_str!("../../configs/sources/sap_fbl5n.toml")),
    ("sap_s4_journal_entry_items", include_str!("../../configs/sources/sap_s4_journal_entry_items.toml")),
    ("quickbooks_transactions", include_str!("../../configs/sources/quickbooks_transactions.toml")),
    ("netsuite_ar_register", include_str!("../../configs/sources/netsuite_ar_register.toml")),
    ("dynamics_bc_ledger_entries", include_str!("../../configs/sources/dynamics_bc_ledger_entries.toml")),
    ("odoo_journal_items", include_str!("../../configs/sources/odoo_journal_items.toml")),
    ("invoice_register", include_str!("../../configs/sources/invoice_register.toml")),
    ("erpnext_general_ledger", include_str!("../../configs/sources/erpnext_general_ledger.toml")),
    ("xero_aged_receivables_detail", include_str!("../../configs/sources/xero_aged_receivables_detail.toml")),
    ("quickbooks_ar_aging_detail", include_str!("../../configs/sources/quickbooks_ar_aging_detail.toml")),
];

/// The export column names a profile's source names, and the source's name.
fn profile_columns(text: &str) -> Option<(String, Vec<String>)> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let (name, source) = table.get("sources")?.as_table()?.iter().next()?;
    let mut names = Vec::new();
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        match v {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            Some(toml::Value::Table(t)) => t.values().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    for key in ["columns", "key", "type_column", "clearing_column", "debit_column", "credit_column"] {
        names.extend(strings(source.get(key)));
    }
    if let Some(i) = source.get("indicator").and_then(|i| i.get("column")) {
        names.extend(strings(Some(i)));
    }
    names.retain(|n| !n.starts_with("column_"));
    names.sort();
    names.dedup();
    Some((name.clone(), names))
}

/// Profiles whose named columns the file has: (profile, source name, found, named), best first.
fn matches(found: &Inspection) -> Vec<(&'static str, String, usize, usize)> {
    let header: Vec<&str> = found.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out: Vec<(&'static str, String, usize, usize)> = PROFILES
        .iter()
        .filter_map(|(stem, text)| {
            let (source, names) = profile_columns(text)?;
            let hits = names.iter().filter(|n| header.contains(&n.as_str())).count();
            Some((*stem, source, hits, names.len()))
        })
        .filter(|(_, _, hits, named)| *named > 0 && hits * 10 >= named * 8)
        .collect();
    // The larger share of a profile's columns first; of equal shares, the profile that names more.
    out.sort_by(|a, b| (b.2 * a.3).cmp(&(a.2 * b.3)).then(b.2.cmp(&a.2)));
    out
}

/// Inspect the file and print the report and the proposal.
pub fn inspect(args: InspectArgs, printer: &Printer) -> anyhow::Result<()> {
    let found = look(&args.file)?;
    let shown = args.file.display().to_string();
    let mut head = vec![format!("# {shown}: {}, {} rows sampled", found.format, found.rows)];
    if found.format == "csv" {
        head.push(format!(
            "#   encoding {}, delimiter {:?}, header on line {}",
            found.encoding.name(),
            found.delimiter.unwrap_or(','),
            found.skip_rows + 1
        ));
    }
    head.push(format!(
        "#   numbers: decimal {:?}, thousands {}",
        found.decimal,
        found.thousands.map_or("none".to_string(), |t| format!("{t:?}"))
    ));
    head.push("# columns (filled, what the values are):".into());
    for c in &found.columns {
        let mut what = Vec::new();
        if let Some(f) = &c.date_format {
            what.push(format!("dates {f}"));
        }
        if c.amount {
            what.push(if c.negative { "signed amounts".into() } else { "amounts".into() });
        }
        if let Some(v) = &c.values
            && c.date_format.is_none()
            && !c.amount
        {
            let list: Vec<String> = v.iter().take(8).map(|(v, n)| format!("{v} {n}")).collect();
            what.push(format!("{} values: {}{}", v.len(), list.join(", "), if v.len() > 8 { ", ..." } else { "" }));
        }
        let role =
            found.roles.iter().find(|(_, col)| **col == c.name).map(|(r, _)| format!(" -> {r}")).unwrap_or_default();
        head.push(format!("#   {:<28} {:>8}  {}{role}", c.name, c.filled, what.join("; ")));
    }
    for n in &found.notes {
        head.push(format!("# note: {n}"));
    }
    let best = matches(&found);
    match best.first() {
        Some((stem, source, hits, named)) => {
            head.push(format!(
                "# matches the ready profile {stem} ({hits} of its {named} columns); to use it as it is:"
            ));
            head.push(format!(
                "#   ardent run --config pipelines/configs/sources/{stem}.toml --set sources.{source}.path={shown}"
            ));
        }
        None => head.push("# no ready profile matches; the proposal below is made from the file alone".into()),
    }
    head.push(
        "# Save this output as a config (relative paths start at its folder) and run `ardent validate --config` on it."
            .into(),
    );
    for line in head {
        printer.line(line);
    }
    printer.line(found.proposal(&shown));
    Ok(())
}
