//! `ardent schema`: the contract of every input and output table, and the validation rules.

use ardent_engine::analytics::default_output_tables;
use ardent_engine::contracts::InputKind;
use ardent_engine::ingest::quarantine::Rule;

use crate::cli::SchemaArgs;
use crate::printer::Printer;
use crate::settings::ConfigError;

/// The schema text, optionally of one table.
pub fn schema_text(table: Option<&str>) -> Result<String, ConfigError> {
    let mut out = String::new();
    let mut found = false;
    for kind in InputKind::ALL {
        if table.is_some_and(|t| t != kind.name()) {
            continue;
        }
        found = true;
        out.push_str(&format!(
            "input {}{}\n  {}\n",
            kind.name(),
            if kind.required() { "" } else { " (optional)" },
            kind.doc()
        ));
        for c in kind.columns() {
            let need = match (c.required, c.nullable) {
                (true, false) => "required",
                (true, true) => "column required, may be empty",
                (false, _) => "optional",
            };
            out.push_str(&format!("  {:<18} {:<12} {:<30} {}\n", c.name, c.ty.name(), need, c.doc));
        }
        out.push('\n');
    }
    let mut outputs = default_output_tables();
    outputs.extend(ardent_models::tables::contracts());
    for t in &outputs {
        if table.is_some_and(|x| x != t.name) {
            continue;
        }
        found = true;
        match t.partition {
            Some(key) => out.push_str(&format!(
                "output {}/{key}=<value>/part-0.parquet (Hive-partitioned by {key})\n  {}\n",
                t.name, t.doc
            )),
            None => out.push_str(&format!("output {}.parquet\n  {}\n", t.name, t.doc)),
        }
        for c in t.columns.iter() {
            out.push_str(&format!(
                "  {:<24} {:<22} {:<9} {}\n",
                c.name,
                c.ty.parquet_name(),
                if c.nullable { "nullable" } else { "" },
                c.doc
            ));
        }
        out.push('\n');
    }
    if table.is_none() || table == Some("rules") {
        found = true;
        out.push_str("validation rules (quarantine.rule)\n");
        for r in Rule::ALL {
            out.push_str(&format!("  {:<20} {:<12} {}\n", r.name(), r.outcome().name(), r.doc()));
        }
    }
    if !found {
        let mut names: Vec<&str> = InputKind::ALL.iter().map(|k| k.name()).collect();
        for t in &outputs {
            if !names.contains(&t.name) {
                names.push(t.name);
            }
        }
        names.push("rules");
        return Err(ConfigError(format!(
            "no table named `{}`; the tables are: {}",
            table.unwrap_or_default(),
            names.join(", ")
        )));
    }
    Ok(out.trim_end().to_string())
}

/// Print the schema.
pub fn schema(args: SchemaArgs, printer: &Printer) -> anyhow::Result<()> {
    printer.line(schema_text(args.table.as_deref())?);
    Ok(())
}
