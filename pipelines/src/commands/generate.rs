//! `ardent generate`: write a synthetic export set and a ready `pipeline.toml` for it.

use ardent_sample::{GenError, GenParams, OutFormat, Preset};

use crate::cli::{FormatArg, GenerateArgs, PresetArg};
use crate::printer::Printer;
use crate::settings::ConfigError;

/// Generate the exports.
pub fn generate(args: GenerateArgs, printer: &Printer) -> anyhow::Result<()> {
    let GenerateArgs { out, preset, customers, months, end, seed, format, dirty, activities, activity_rate, shape } =
        args;
    let shape = shape.as_deref().and_then(ardent_sample::shapes::Shape::parse);
    if shape.is_some() && (dirty > 0.0 || !matches!(format, FormatArg::Csv)) {
        return Err(ConfigError(
            "generate: --shape writes the vendor's own format from clean data; leave out --dirty and --format".into(),
        )
        .into());
    }
    let params = GenParams {
        preset: match preset {
            PresetArg::S => Preset::S,
            PresetArg::M => Preset::M,
            PresetArg::L => Preset::L,
        },
        customers,
        months,
        end,
        seed,
        format: match format {
            FormatArg::Csv => OutFormat::Csv,
            FormatArg::Parquet => OutFormat::Parquet,
        },
        dirty,
        activities,
        activity_rate,
    };
    let spec = params.check().map_err(|e| match e {
        GenError::Params(m) => anyhow::Error::new(ConfigError(format!("generate: {m}"))),
        other => other.into(),
    })?;
    printer.info(
        "generating",
        format!(
            "generating {} customers over {} months to {} (seed {}) into {}",
            spec.customers,
            spec.months,
            spec.end,
            spec.seed,
            out.display()
        ),
        serde_json::json!({
            "customers": spec.customers,
            "months": spec.months,
            "end": spec.end.to_string(),
            "seed": spec.seed,
            "out": out.display().to_string(),
        }),
    );
    let report = ardent_sample::generate(&spec, &out)?;
    for (file, rows) in &report.files {
        let shaped = shape.is_some() && (file.starts_with("ledger") || file.starts_with("payments"));
        if !shaped {
            printer.line(format!("{:<18} {:>12} rows", file, rows));
        }
    }
    match shape {
        Some(shape) if shape.is_report() => {
            // A snapshot of what ardent's cash application left open at the last month end.
            let as_of = super::open_items::report_date(spec.end);
            let items = super::open_items::open_at(&out, as_of)?;
            let as_of = as_of.to_string();
            let rows = ardent_sample::aging_reports::write_aging_report(shape, &items, &as_of, &out)?;
            printer.line(format!(
                "{:<18} {:>12} rows ({} layout: the items open on {as_of})",
                shape.file(),
                rows,
                shape.name()
            ));
        }
        Some(shape) => {
            let rows = ardent_sample::shapes::write_shape(shape, &out)?;
            printer.line(format!("{:<18} {:>12} rows ({} layout)", shape.file(), rows, shape.name()));
        }
        None => {}
    }
    printer.line(format!(
        "{} invoices, {} ledger documents, {} payments{} in {:.1} s",
        report.invoices,
        report.documents,
        report.payments,
        if report.injected > 0 {
            format!(", {} dirty rows (truth/injected.csv)", report.injected)
        } else {
            String::new()
        },
        report.seconds
    ));
    if report.activities > 0 {
        printer.line(format!(
            "{} collections activities, {} compliance violations injected (truth/compliance_violations.csv)",
            report.activities, report.violations
        ));
    }
    printer.line(format!("run it: ardent run --config {}", out.join("pipeline.toml").display()));
    Ok(())
}
