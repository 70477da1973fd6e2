//! `ardent validate`: check the config and every input, build the analytics, write nothing.

use crate::batches::{self, BatchState};
use crate::cli::PipelineArgs;
use crate::printer::Printer;
use crate::publish::RunSink;
use crate::run::{analytics_stage, fetch_stage, index_stage, ingest_stage, report_quality};
use crate::settings::{Overrides, resolve, show};

/// Validate config and inputs; fails like `run` would.
pub fn validate(args: PipelineArgs, printer: &Printer) -> anyhow::Result<()> {
    let PipelineArgs { config, max_rejected_share, set, show_settings } = args;
    let settings = resolve(Overrides { config, set, max_rejected_share, out: None })?;
    if show_settings {
        printer.line(show(&settings));
        return Ok(());
    }
    fetch_stage(&settings, printer)?;
    let mut settings = settings;
    // Incremental runs: check what the next run would read — the batches ingested so far and
    // the new ones — in a scratch copy of the archive; the state is left as it is.
    let _scratch = match settings.state.clone() {
        Some(dir) => {
            let state = BatchState::load(&dir)?;
            let plan = batches::plan(&settings, &state, &dir)?;
            let scratch = tempfile::Builder::new().prefix("ardent-validate-").tempdir().map_err(
                ardent_engine::EngineError::temp(
                    "creating a scratch copy of the batch archive",
                    "the size of the archived batches",
                ),
            )?;
            batches::copy_archive(&dir, scratch.path())?;
            let (_, reads) = batches::archive(&plan, &state, scratch.path(), &settings.ingest)?;
            settings = settings.reading(reads);
            let new: usize = plan.inputs.values().map(|b| b.new.len()).sum();
            printer.info(
                "batches_checked",
                format!("incremental: {new} new batch(es) checked with the batches ingested before"),
                serde_json::json!({"new_batches": new}),
            );
            Some(scratch)
        }
        None => None,
    };
    let mut sink = RunSink::new(&settings, None, settings.analytics).with_progress(printer);
    let (ingested, _) = ingest_stage(&settings, &mut sink, printer)?;
    report_quality(&ingested, printer);
    ingested.check_rejected_share(settings.max_rejected_share)?;
    // The analytics can still fail (a rate missing for revaluation, a reconciliation check),
    // so they run too: `validate` exits with the code `run` would.
    // Models are not trained (their parameters were checked with the settings).
    if let (Some(book), _, _) = index_stage(sink)? {
        analytics_stage(&settings, book, None, false, None, printer)?;
    }
    printer.line("valid: the inputs can be published (nothing was written)");
    Ok(())
}
