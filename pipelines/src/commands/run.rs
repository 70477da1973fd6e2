//! `ardent run`: ingest, validate, analyse, train and score, publish.

use crate::cli::RunArgs;
use crate::printer::Printer;
use crate::publish::{Manifest, publish};
use crate::run::{analytics_stage, ingest_stage, report_quality};
use crate::settings::{Overrides, resolve};

/// Run the pipeline and publish its outputs.
pub fn run(args: RunArgs, printer: &Printer) -> anyhow::Result<Manifest> {
    let RunArgs { pipeline, out } = args;
    let settings =
        resolve(Overrides { config: pipeline.config, max_rejected_share: pipeline.max_rejected_share, out })?;
    printer.note(format!("pipeline {}", settings.config_path.display()));
    let (ingested, mut timings) = ingest_stage(&settings, printer)?;
    report_quality(&ingested, printer);
    ingested.check_rejected_share(settings.max_rejected_share)?;
    let analysed = analytics_stage(&settings, &ingested, true, printer)?;
    timings.extend(analysed.timings);
    let manifest =
        publish(&settings, ingested, analysed.dashboards, analysed.models, analysed.models_skipped, timings, printer)?;
    printer.line(format!("published {} tables to {}", manifest.outputs.len(), settings.out));
    Ok(manifest)
}
