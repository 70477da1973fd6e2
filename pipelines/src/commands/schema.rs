//! `ardent schema`: the contract of every input and output table, and the validation rules,
//! as text to read or as JSON for tools (`--format json`).

use ardent_engine::analytics::default_output_tables;
use ardent_engine::contracts::InputKind;
use ardent_engine::ingest::quarantine::Rule;
use serde::Serialize;

use crate::cli::{SchemaArgs, SchemaFormat};
use crate::printer::Printer;
use crate::settings::ConfigError;

/// The contracts asked for: every input, output and rule, or those of one table.
#[derive(Debug, Serialize)]
pub struct Schema {
    pub inputs: Vec<InputTable>,
    pub outputs: Vec<OutputTable>,
    pub rules: Vec<RuleDoc>,
}

#[derive(Debug, Serialize)]
pub struct InputTable {
    pub name: &'static str,
    pub optional: bool,
    pub doc: &'static str,
    pub columns: Vec<InputColumn>,
}

#[derive(Debug, Serialize)]
pub struct InputColumn {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The column must be in the export.
    pub required: bool,
    /// Its values may be empty.
    pub nullable: bool,
    pub doc: &'static str,
}

#[derive(Debug, Serialize)]
pub struct OutputTable {
    pub name: String,
    /// Its Delta table folder under the output (`run.table_format = "delta"`, the default).
    pub path: String,
    /// Its file, or partition files, in the run folder with `run.table_format = "parquet"`.
    pub parquet_path: String,
    pub partitioned_by: Option<&'static str>,
    pub doc: String,
    pub columns: Vec<OutputColumn>,
}

#[derive(Debug, Serialize)]
pub struct OutputColumn {
    pub name: String,
    /// The Parquet (logical) type, as BI tools show it.
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub nullable: bool,
    pub doc: String,
}

#[derive(Debug, Serialize)]
pub struct RuleDoc {
    pub name: &'static str,
    pub outcome: &'static str,
    pub doc: &'static str,
}

/// The contracts of every table, or of `table` only (an input, an output, or `rules`).
pub fn schema_of(table: Option<&str>) -> Result<Schema, ConfigError> {
    let wanted = |name: &str| table.is_none_or(|t| t == name);
    let inputs: Vec<InputTable> = InputKind::ALL
        .iter()
        .filter(|k| wanted(k.name()))
        .map(|k| InputTable {
            name: k.name(),
            optional: !k.required(),
            doc: k.doc(),
            columns: k
                .columns()
                .iter()
                .map(|c| InputColumn {
                    name: c.name,
                    ty: c.ty.name(),
                    required: c.required,
                    nullable: c.nullable,
                    doc: c.doc,
                })
                .collect(),
        })
        .collect();
    let mut all = default_output_tables();
    all.extend(ardent_models::tables::contracts());
    let outputs: Vec<OutputTable> = all
        .iter()
        .filter(|t| wanted(t.name))
        .map(|t| OutputTable {
            name: t.name.to_string(),
            path: format!("{}/", t.name),
            parquet_path: match t.partition {
                Some(key) => format!("{}/{key}=<value>/part-0.parquet", t.name),
                None => format!("{}.parquet", t.name),
            },
            partitioned_by: t.partition,
            doc: t.doc.to_string(),
            columns: t
                .columns
                .iter()
                .map(|c| OutputColumn {
                    name: c.name.to_string(),
                    ty: c.ty.parquet_name(),
                    nullable: c.nullable,
                    doc: c.doc.to_string(),
                })
                .collect(),
        })
        .collect();
    let rules: Vec<RuleDoc> = match wanted("rules") {
        true => {
            Rule::ALL.iter().map(|r| RuleDoc { name: r.name(), outcome: r.outcome().name(), doc: r.doc() }).collect()
        }
        false => Vec::new(),
    };
    if inputs.is_empty() && outputs.is_empty() && rules.is_empty() {
        let mut names: Vec<&str> = InputKind::ALL.iter().map(|k| k.name()).collect();
        for t in &all {
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
    Ok(Schema { inputs, outputs, rules })
}

/// The schema as text, optionally of one table.
pub fn schema_text(table: Option<&str>) -> Result<String, ConfigError> {
    let schema = schema_of(table)?;
    let mut out = String::new();
    for t in &schema.inputs {
        out.push_str(&format!("input {}{}\n  {}\n", t.name, if t.optional { " (optional)" } else { "" }, t.doc));
        for c in &t.columns {
            let need = match (c.required, c.nullable) {
                (true, false) => "required",
                (true, true) => "column required, may be empty",
                (false, _) => "optional",
            };
            out.push_str(&format!("  {:<18} {:<12} {:<30} {}\n", c.name, c.ty, need, c.doc));
        }
        out.push('\n');
    }
    for t in &schema.outputs {
        match t.partitioned_by {
            Some(key) => out.push_str(&format!(
                "output {} (Delta table partitioned by {key}; plain Parquet: {})\n  {}\n",
                t.path, t.parquet_path, t.doc
            )),
            None => out.push_str(&format!(
                "output {} (Delta table; plain Parquet: {})\n  {}\n",
                t.path, t.parquet_path, t.doc
            )),
        }
        for c in &t.columns {
            let nullable = if c.nullable { "nullable" } else { "" };
            out.push_str(&format!("  {:<24} {:<22} {:<9} {}\n", c.name, c.ty, nullable, c.doc));
        }
        out.push('\n');
    }
    if !schema.rules.is_empty() {
        out.push_str("validation rules (quarantine.rule)\n");
        for r in &schema.rules {
            out.push_str(&format!("  {:<20} {:<12} {}\n", r.name, r.outcome, r.doc));
        }
    }
    Ok(out.trim_end().to_string())
}

/// Print the schema.
pub fn schema(args: SchemaArgs, printer: &Printer) -> anyhow::Result<()> {
    match args.format {
        SchemaFormat::Text => printer.line(schema_text(args.table.as_deref())?),
        SchemaFormat::Json => printer.line(serde_json::to_string_pretty(&schema_of(args.table.as_deref())?)?),
    }
    Ok(())
}
