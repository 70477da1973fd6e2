//! `ardent run`: ingest, validate, analyse, train and score, publish.

use serde_json::json;

use crate::batches::{self, BatchState};
use crate::cli::{PipelineArgs, RunArgs};
use crate::files::Checksums;
use crate::lock::WriteLock;
use crate::printer::Printer;
use crate::publish::RunSink;
use crate::publish::{Manifest, RunWriter};
use crate::run::{CollectionsInput, Tee, analytics_stage, fetch_stage, index_stage, ingest_stage, report_quality};
use crate::settings::{Overrides, resolve, show};

/// Run the pipeline and publish its outputs.
/// Returns the manifest, or `None` when only the settings were shown.
pub fn run(args: RunArgs, printer: &Printer) -> anyhow::Result<Option<Manifest>> {
    run_with(args, printer, None)
}

/// [`run`], with `tee` given the validated rows too (and told the run's id first and when the
/// run is published).
pub fn run_with(args: RunArgs, printer: &Printer, mut tee: Option<&mut dyn Tee>) -> anyhow::Result<Option<Manifest>> {
    let RunArgs { pipeline, out } = args;
    let PipelineArgs { config, max_rejected_share, set, show_settings } = pipeline;
    let settings = resolve(Overrides { config, set, max_rejected_share, out })?;
    if show_settings {
        printer.line(show(&settings));
        return Ok(None);
    }
    printer.info(
        "pipeline",
        format!("pipeline {}", settings.config_path.display()),
        json!({"config": settings.config_path.display().to_string()}),
    );
    // An object store that refuses the credentials fails the run now, not after the work.
    if settings.out.is_remote() {
        settings.out.has_published()?;
    }
    // One writer per output: taken before any work, held until published or failed.
    let started = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let lock = WriteLock::acquire(&settings.out, &format!("starting at {started}"), printer)?;
    let mut settings = settings;
    let total = 2 + u64::from(settings.analytics) + u64::from(settings.models);
    printer.stage("ingest", 0, total);
    let mut timings = fetch_stage(&settings, printer)?;
    let batches = match settings.state.clone() {
        Some(dir) => {
            let state = BatchState::load(&dir)?;
            let plan = batches::plan(&settings, &state, &dir)?;
            for (input, b) in &plan.inputs {
                printer.line(format!(
                    "batches {input:<10} {} new, {} ingested before, {} delivered again (skipped){}",
                    b.new.len(),
                    b.earlier,
                    b.redelivered.len(),
                    if b.new.is_empty() { String::new() } else { format!(": {}", b.new.join(", ")) }
                ));
            }
            if !plan.has_new() && settings.out.has_published()? {
                printer.line(format!("no new export batch: the output at {} stays as it is", settings.out));
                printer.event(
                    "run_summary",
                    json!({"status": "unchanged", "out": settings.out.to_string(), "batches": plan}),
                );
                return Ok(None);
            }
            let (sums, reads) = batches::archive(&plan, &state, &dir, &settings.ingest)?;
            settings = settings.reading(reads);
            let archived: usize = plan.inputs.values().map(|b| b.new.len()).sum();
            // From here on the drop folder may be emptied: the archive keeps every new batch,
            // and a run that does not publish leaves them to the next one.
            printer.line(format!("archived {archived} new batch(es) in {}", dir.display()));
            Some((state, plan, dir, sums))
        }
        None => None,
    };
    let none = Checksums::new();
    let known = batches.as_ref().map_or(&none, |(.., sums)| sums);
    // The validated tables are written into the staging folder as ingest produces them; a
    // run that fails from here on removes it.
    let mut writer = RunWriter::open(&settings, known, printer)?;
    lock.name_run(writer.run_id());
    if let Some(t) = tee.as_deref_mut() {
        t.open(writer.run_id())?;
    }
    let mut sink = RunSink::new(&settings, Some(&mut writer), settings.analytics).with_progress(printer);
    if let Some(t) = tee.as_deref_mut() {
        sink = sink.with_also(t);
    }
    let (ingested, ingest_timings) = ingest_stage(&settings, &mut sink, printer)?;
    timings.extend(ingest_timings);
    report_quality(&ingested, printer);
    ingested.check_rejected_share(settings.max_rejected_share)?;
    let (book, activities, index_timings) = index_stage(sink)?;
    timings.extend(index_timings);
    let collections = match (&book, activities) {
        (Some(book), Some(log)) => Some(CollectionsInput::of(log, book, &ingested, &settings)?),
        _ => None,
    };
    writer.ingested(ingested, printer)?;
    if let Some(book) = book {
        printer.stage("analytics", 1, total);
        timings.extend(analytics_stage(&settings, book, collections, settings.models, Some(&mut writer), printer)?);
    }
    printer.stage("publish", total - 1, total);
    let plan = batches.as_ref().map(|(_, plan, ..)| plan);
    let manifest = writer.commit(&settings, timings, plan, &lock, printer)?;
    if let Some(t) = tee {
        t.finish()?;
    }
    // Only a published run records its batches: a failed or killed one is retried whole.
    if let Some((state, plan, dir, _)) = batches {
        state.record(&plan, &manifest.run_id, &dir)?;
    }
    printer.line(format!("published {} tables to {}", manifest.outputs.len(), settings.out));
    let mut summary = manifest.summary(&settings.out);
    summary.insert(
        "inputs".into(),
        manifest
            .inputs
            .iter()
            .map(|i| {
                json!({
                    "input": i.input,
                    "files": i.files.len(),
                    "rows_read": i.counts.rows_read,
                    "rows_accepted": i.counts.rows_accepted,
                    "rows_quarantined": i.counts.rows_quarantined,
                    "rows_flagged": i.counts.rows_flagged,
                    "rows_superseded": i.counts.rows_superseded,
                })
            })
            .collect::<Vec<_>>()
            .into(),
    );
    summary.insert("models".into(), json!(manifest.models.as_ref().map(|m| &m.champion)));
    summary.insert("models_skipped".into(), json!(manifest.models_skipped));
    printer.event("run_summary", summary.into());
    Ok(Some(manifest))
}
