//! `ardent shard validate | split | run | draw | train | score | merge`: a run split by customer, one step per
//! command, so that a cluster scheduler (the Ray driver in `pipelines/ray/`) can run the
//! shards on other machines. The steps and their work folder are described in
//! `docs/scale-out.md` and [`crate::shards`]; the published tables equal `ardent run`'s.

mod cash;
mod merge;
mod models;
mod run;
mod sorted;
mod split;

use crate::cli::{PipelineArgs, RunArgs, ShardStep, ShardValidateArgs};
use crate::printer::Printer;
use crate::settings::{Overrides, Settings, resolve};
use crate::shards::{self, StepError};

/// Run one step of a sharded run.
pub fn shard(step: ShardStep, printer: &Printer) -> anyhow::Result<()> {
    match step {
        ShardStep::Validate(args) => validate(args, printer),
        ShardStep::Split(args) => split::split(args, printer),
        ShardStep::Run(args) => run::run(args, printer),
        ShardStep::Draw(args) => models::draw(args, printer),
        ShardStep::Train(args) => models::train(args, printer),
        ShardStep::Score(args) => models::score(args, printer),
        ShardStep::Merge(args) => merge::merge(args, printer),
    }
}

/// The settings every step resolves the same way (`out` only for the merge), refusing what a
/// sharded run does not do yet.
fn settings(pipeline: PipelineArgs, out: Option<String>) -> anyhow::Result<Settings> {
    let PipelineArgs { config, max_rejected_share, set, show_settings: _ } = pipeline;
    let settings = resolve(Overrides { config, set, max_rejected_share, out })?;
    if settings.state.is_some() {
        let why = "sharded runs are not incremental yet: set `run.incremental = false`, or use `ardent run` for incremental runs";
        return Err(StepError::Usage(why.into()).into());
    }
    if !settings.analytics {
        let why = "a sharded run is for the analytics: `run.stages` must include \"analytics\"";
        return Err(StepError::Usage(why.into()).into());
    }
    if settings.models && settings.training.clusters.is_some() {
        let why = "behavioural clusters (`models.clusters`) are not built for sharded runs yet: leave them out, or use `ardent run`";
        return Err(StepError::Usage(why.into()).into());
    }
    Ok(settings)
}

/// `validate`: ingest and validate once, publishing the validated tables (plain Parquet) to
/// WORK/validated with the ordinary run machinery (a retried attempt publishes again); with
/// `--shards N`, the validated rows are cut into the N shards as they are validated, so `split`
/// has nothing left to do.
fn validate(args: ShardValidateArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardValidateArgs { mut pipeline, work, shards } = args;
    let checked = PipelineArgs { set: pipeline.set.clone(), show_settings: false, ..pipeline.clone() };
    let settings = settings(checked, None)?;
    if settings.ingest.inputs.iter().any(|i| i.kind == ardent_engine::contracts::InputKind::Activities) {
        return Err(crate::settings::ConfigError(
            "a sharded run does not take an activities input yet (docs/scale-out.md, \"Not yet sharded\"): run the pipeline with `ardent run`, or leave `[inputs.activities]` out of the sharded run".into(),
        )
        .into());
    }
    pipeline.set.push(r#"run.stages=["ingest"]"#.to_string());
    pipeline.set.push(r#"run.table_format="parquet""#.to_string());
    let out = shards::validated(&work).display().to_string();
    let args = RunArgs { pipeline, out: Some(out) };
    match shards {
        Some(0) => return Err(StepError::Usage("--shards must be at least 1".into()).into()),
        Some(n) => {
            let mut cut = split::CutWhileValidating {
                work: work.clone(),
                shards: n,
                settings: &settings,
                printer,
                cutter: None,
                clock: std::time::Instant::now(),
            };
            crate::commands::run::run_with(args, printer, Some(&mut cut))?;
        }
        None => {
            crate::commands::run::run(args, printer)?;
        }
    }
    // Splits of earlier validations are of no use any more.
    let removed = shards::prune(&work, &shards::validated_run(&work)?)?;
    if removed > 0 {
        printer.info(
            "splits_pruned",
            format!("removed {removed} split folder(s) of earlier validations"),
            serde_json::json!({"removed": removed}),
        );
    }
    Ok(())
}
