//! One file per command. Each takes its parsed arguments and a [`Printer`], resolves its
//! settings, and returns an error whose class decides the exit code (see [`crate::exit`]).

pub mod generate;
pub mod inspect;
pub mod open_items;
pub mod run;
pub mod schema;
pub mod score;
pub mod train;
pub mod validate;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

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
        Command::Inspect(args) => inspect::inspect(args, printer),
    }
}
