//! `ardent run`: ingest, validate, analyse, train and score, publish.

use crate::cli::{PipelineArgs, RunArgs};
use crate::printer::Printer;
use crate::publish::{Manifest, publish};
use crate::run::{analytics_stage, ingest_stage, report_quality};
use crate::settings::{Overrides, resolve, show};

/// Run the pipeline and publish its outputs.
/// Returns the manifest, or `None` when only the settings were shown.
pub fn run(args: RunArgs, printer: &Printer) -> anyhow::Result<Option<Manifest>> {
    let RunArgs { pipeline, out } = args;
    let PipelineArgs { config, max_rejected_share, set, show_settings } = pipeline;
    let settings = resolve(Overrides { config, set, max_rejected_share, out })?;
    if show_settings {
        printer.line(show(&settings));
        return Ok(None);
    }
    printer.note(format!("pipeline {}", settings.config_path.display()));
    let (ingested, mut timings) = ingest_stage(&settings, printer)?;
    report_quality(&ingested, printer);
    ingested.check_rejected_share(settings.max_rejected_share)?;
    let analysed = if settings.analytics {
        let a = analytics_stage(&settings, &ingested, settings.models, printer)?;
        timings.extend(a.timings.iter().copied());
        Some(a)
    } else {
        None
    };
    let manifest = publish(&settings, ingested, analysed, timings, printer)?;
    printer.line(format!("published {} tables to {}", manifest.outputs.len(), settings.out));
    Ok(Some(manifest))
}
