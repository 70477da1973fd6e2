//! One file per command. Each takes its parsed arguments and a [`Printer`], resolves its
//! settings, and returns an error whose class decides the exit code (see [`crate::exit`]).

pub mod analytics;
pub mod generate;
pub mod inspect;
pub mod open_items;
pub mod report;
pub mod run;
pub mod schema;
pub mod score;
pub mod shard;
pub mod train;
pub mod validate;
pub mod verify;

use std::path::Path;

use polars::prelude::DataFrame;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// The feature table of `train` and `score`: a CSV or Parquet file, or a Delta table folder
/// (such as a published `features/`), read at its latest version.
fn read_feature_table(path: &Path, nulls: &[String]) -> anyhow::Result<DataFrame> {
    let Some(files) = crate::delta::latest_files(path)? else {
        return Ok(ardent_models::byo::read_table(path, nulls)?);
    };
    let mut frames = files.iter().map(|f| ardent_models::byo::read_table(f, nulls));
    let Some(first) = frames.next() else {
        anyhow::bail!("{}: the Delta table holds no data file at its latest version", path.display());
    };
    let mut all = first?;
    for df in frames {
        all.vstack_mut(&df?)?;
    }
    Ok(all)
}

/// Run the command the user asked for.
pub fn dispatch(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => generate::generate(args, printer),
        Command::Validate(args) => validate::validate(args, printer),
        Command::Run(args) => run::run(args, printer).map(|_| ()),
        Command::Schema(args) => schema::schema(args, printer),
        Command::Train(args) => train::train(args, printer),
        Command::Score(args) => score::score(args, printer),
        Command::Verify(args) => verify::verify(args, printer),
        Command::Report(args) => report::report(args, printer),
        Command::Analytics(args) => analytics::analytics(args, printer),
        Command::Inspect(args) => inspect::inspect(args, printer),
        Command::Shard(step) => shard::shard(step, printer),
    }
}
