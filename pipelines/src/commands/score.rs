//! `ardent score`: score any feature table with a saved model.

use ardent_models::artifact;
use ardent_models::byo::{score_table, write_frame};
use ardent_models::matrix::Roles;

use crate::cli::ScoreArgs;
use crate::printer::Printer;

/// Score every row and write the scores.
pub fn score(args: ScoreArgs, printer: &Printer) -> anyhow::Result<()> {
    let ScoreArgs { model, table, out } = args;
    let file = artifact::read(&model)?;
    let df = super::read_feature_table(&table.table, &table.null_values)?;
    let source = table.table.display().to_string();
    let roles = Roles {
        source: &source,
        label: None,
        positive: None,
        time: None,
        id: table.id_column.as_deref(),
        segment: table.segment_column.as_deref(),
        categorical: &table.categorical,
    };
    let mut scores = score_table(&file, &df, &roles)?;
    write_frame(&mut scores, &out)?;
    printer.line(format!("scored {} rows with {} into {}", scores.height(), file.model.id, out.display()));
    Ok(())
}
