use std::process::ExitCode;

// glibc's malloc kept the pages of dropped tables resident (on `l`: 21.5 GB after the
// dashboards were written, against 10.7 GB with large blocks mmap'd); mimalloc returns them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use ardent::cli::{Cli, LogFormatArg};
use ardent::printer::{LogFormat, Printer};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(match cli.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    })
    .quiet(cli.quiet);
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global()
    {
        printer.warn(format!("cannot set {n} threads: {e}"));
    }
    match ardent::commands::dispatch(cli, &printer) {
        Ok(()) => {
            printer.finish();
            ExitCode::from(ardent::exit::OK)
        }
        Err(err) => {
            let code = ardent::exit::code(&err);
            printer.error(&format!("{err:#}"), code);
            ExitCode::from(code)
        }
    }
}
