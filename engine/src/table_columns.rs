//! How is a column of a canonical or output table read as Rust values? Text, money as integer
//! cents (the contracts bound money to DECIMAL(18, s)), and dates as days since the epoch, each
//! failing with the table and column named. The book builder and the applications reader use them.

use polars::prelude::*;

use crate::error::{EngineError, Result};

pub(crate) fn column<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(EngineError::polars(format!("reading column `{name}` of table `{table}`")))
}

pub(crate) fn texts<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<&'a StringChunked> {
    column(df, table, name)?.str().map_err(EngineError::polars(format!("column `{name}` of `{table}` as text")))
}

pub(crate) fn cents<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<impl Iterator<Item = Option<i64>> + 'a> {
    let ca = column(df, table, name)?
        .decimal()
        .map_err(EngineError::polars(format!("column `{name}` of `{table}` as decimal")))?;
    // Contracts bound money to DECIMAL(18, s), which fits i64.
    Ok(ca.physical().iter().map(|v| v.map(|x| x as i64)))
}

pub(crate) fn days<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<impl Iterator<Item = Option<i32>> + 'a> {
    let ca = column(df, table, name)?
        .date()
        .map_err(EngineError::polars(format!("column `{name}` of `{table}` as date")))?;
    Ok(ca.physical().iter())
}
