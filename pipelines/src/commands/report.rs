//! `ardent report OUT`: the report page of a published output.

use crate::cli::ReportArgs;
use crate::location::Location;
use crate::printer::Printer;

/// Write the report of the output at `out` to `to`.
pub fn report(args: ReportArgs, printer: &Printer) -> anyhow::Result<()> {
    let ReportArgs { out, to } = args;
    let out = Location::parse(&out, std::path::Path::new("."))?;
    let html = crate::report::of_output(&out)?;
    crate::report::write(&to, &html)?;
    printer.line(format!("wrote the report of {out} to {} ({} KB)", to.display(), html.len() / 1024));
    Ok(())
}
