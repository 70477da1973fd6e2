use std::process::ExitCode;

use clap::Parser;

use ardent::cli::Cli;
use ardent::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer;
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global()
    {
        printer.note(format!("warning: cannot set {n} threads: {e}"));
    }
    match ardent::commands::dispatch(cli, &printer) {
        Ok(()) => ExitCode::from(ardent::exit::OK),
        Err(err) => {
            printer.note(format!("error: {err:#}"));
            ExitCode::from(ardent::exit::code(&err))
        }
    }
}
