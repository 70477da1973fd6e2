//! Spreadsheet exports (xlsx, xlsm, xlsb, xls, ods) through calamine: one sheet becomes a
//! grid of text cells, written the way the rest of ingest reads text. Numbers keep every
//! digit they were stored with (`1234.5` is "1234.5", `2960623488.0` is "2960623488"), with
//! the export's decimal separator so that one setting reads both CSV and spreadsheet exports of
//! a vendor; date cells become ISO dates (`2025-01-31`), which every date format also
//! accepts; formula errors are kept as their text (`#N/A`) so a row holding one is
//! quarantined, not guessed.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use polars::prelude::*;

use crate::error::{EngineError, Result};

/// The cells of one sheet: the named one, or the first. Rows are as the sheet stores them
/// (from its first used row), each as long as the widest.
pub fn read_grid(
    path: &Path,
    sheet: Option<&str>,
    decimal: u8,
) -> std::result::Result<Vec<Vec<Option<String>>>, String> {
    let mut workbook = open_workbook_auto(path).map_err(|e| e.to_string())?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(s)))
            .cloned()
            .ok_or_else(|| format!("no sheet \"{s}\"; the workbook's sheets are: {}", names.join(", ")))?,
        None => names.first().cloned().ok_or_else(|| "the workbook has no sheet".to_string())?,
    };
    let range = workbook.worksheet_range(&name).map_err(|e| e.to_string())?;
    Ok(range.rows().map(|row| row.iter().map(|cell| cell_text(cell, decimal)).collect()).collect())
}

/// One cell as text, `None` when empty.
fn cell_text(cell: &Data, decimal: u8) -> Option<String> {
    let number = |text: String| if decimal == b',' { text.replace('.', ",") } else { text };
    match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        // Display gives the shortest text that reads back as the same float: what the
        // spreadsheet shows at full precision, never a binary expansion.
        Data::Float(f) => Some(number(f.to_string())),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) if d.is_datetime() => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            Some(format!("{y:04}-{m:02}-{day:02}"))
        }
        Data::DateTime(d) => Some(number(d.as_f64().to_string())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(e.to_string()),
    }
}

/// A frame of text columns from `grid`, its header at row `header` (cells above it are
/// skipped). Empty header cells are named `column_<n>` (1-based), repeated names get `_2`,
/// `_3`. Entirely empty rows at the end are not rows (a sheet's used range often ends in
/// formatted blank cells); empty rows between rows stay, for the rules to count.
pub fn grid_frame(grid: &[Vec<Option<String>>], header: usize, path: &Path) -> Result<DataFrame> {
    let width = grid.iter().map(Vec::len).max().unwrap_or(0);
    let mut names: Vec<String> = Vec::with_capacity(width);
    for k in 0..width {
        let cell = grid.get(header).and_then(|r| r.get(k)).cloned().flatten();
        let base = cell
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| super::source::report::unnamed(k));
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        names.push(name);
    }
    let filled = |r: &Vec<Option<String>>| r.iter().any(|c| c.as_deref().is_some_and(|c| !c.trim().is_empty()));
    let end = grid.iter().rposition(filled).map_or(0, |last| last + 1).max(header + 1);
    let rows: Vec<&Vec<Option<String>>> = grid.iter().take(end).skip(header + 1).collect();
    let columns: Vec<Column> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            StringChunked::from_iter_options(name.as_str().into(), rows.iter().map(|r| r.get(k).cloned().flatten()))
                .into_column()
        })
        .collect();
    DataFrame::new(rows.len(), columns)
        .map_err(EngineError::polars(format!("building a frame of the sheet in {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_the_text_the_rest_of_ingest_reads() {
        assert_eq!(cell_text(&Data::Float(1234.5), b'.'), Some("1234.5".into()));
        assert_eq!(cell_text(&Data::Float(0.1), b'.'), Some("0.1".into()));
        assert_eq!(cell_text(&Data::Float(-1234.56), b','), Some("-1234,56".into()));
        assert_eq!(cell_text(&Data::Float(2_960_623_488.0), b'.'), Some("2960623488".into()));
        assert_eq!(cell_text(&Data::Int(42), b'.'), Some("42".into()));
        assert_eq!(cell_text(&Data::Empty, b'.'), None);
        let date = calamine::ExcelDateTime::new(45_292.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date), b'.'), Some("2024-01-01".into()));
        let date_1904 = calamine::ExcelDateTime::new(43_830.0, calamine::ExcelDateTimeType::DateTime, true);
        assert_eq!(cell_text(&Data::DateTime(date_1904), b'.'), Some("2024-01-01".into()));
    }

    #[test]
    fn a_grid_becomes_columns_under_its_header() {
        let s = |v: &str| Some(v.to_string());
        let grid = vec![
            vec![s("Transaction List by Customer"), None, None],
            vec![s("Type"), None, s("Type")],
            vec![s("Invoice"), s("x"), s("1")],
            vec![None, None, None],
            vec![s("Payment"), None, s("2")],
        ];
        let df = grid_frame(&grid, 1, Path::new("t.xlsx")).expect("frame");
        let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
        assert_eq!(names, ["Type", "column_2", "Type_2"]);
        assert_eq!(df.height(), 3, "a blank row between rows stays");
        let trailing = [grid.clone(), vec![vec![None, None, None]]].concat();
        assert_eq!(grid_frame(&trailing, 1, Path::new("t.xlsx")).expect("frame").height(), 3, "a blank tail does not");
    }
}
