//! `ardent verify OUT`: check a published output against its manifest and contracts.

use crate::cli::VerifyArgs;
use crate::location::Location;
use crate::printer::Printer;
use crate::verify::{VerifyFailed, verify as check};

/// Print every check; fail (exit 7) when one did not pass.
pub fn verify(args: VerifyArgs, printer: &Printer) -> anyhow::Result<()> {
    let VerifyArgs { out } = args;
    let out = Location::parse(&out, std::path::Path::new("."))?;
    let report = check(&out)?;
    printer.line(format!("run {} at {out}", report.run_id));
    for c in &report.checks {
        let mark = if c.problems.is_empty() { "ok  " } else { "FAIL" };
        printer.line(format!("{mark} {}", c.name));
        for p in c.problems.iter().take(20) {
            printer.line(format!("       {p}"));
        }
        if c.problems.len() > 20 {
            printer.line(format!("       … and {} more", c.problems.len() - 20));
        }
    }
    if report.passed() {
        printer.line("verified: the published output matches its manifest");
        return Ok(());
    }
    let failed = report.checks.iter().filter(|c| !c.problems.is_empty()).count();
    Err(VerifyFailed { out: out.to_string(), run_id: report.run_id, failed, total: report.checks.len() }.into())
}
