//! Writing tables as Parquet for BI tools (DESIGN §5): zstd, full statistics, money as
//! `DECIMAL(18,2)`, dates as `DATE`. [`write_table`] first checks the frame against its
//! [`TableContract`], so a table never leaves ardent with a column its documentation does
//! not promise.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::contracts::TableContract;
use crate::error::{EngineError, Result};

/// Check that `df` has exactly the contract's columns, in order, with their types.
pub fn check_contract(df: &DataFrame, contract: &TableContract) -> Result<()> {
    let actual: Vec<(String, DataType)> =
        df.columns().iter().map(|c| (c.name().to_string(), c.dtype().clone())).collect();
    let expected: Vec<(String, DataType)> =
        contract.file_columns().map(|c| (c.name.to_string(), c.ty.dtype())).collect();
    if actual != expected {
        return Err(EngineError::Polars {
            context: format!("table `{}` does not match its contract", contract.name),
            source: polars::error::PolarsError::SchemaMismatch(format!("expected {expected:?}, got {actual:?}").into()),
        });
    }
    Ok(())
}

/// Write `df` to `path` as one Parquet file; returns the number of rows written.
pub fn write_table(df: &mut DataFrame, contract: &TableContract, path: &Path) -> Result<u64> {
    check_contract(df, contract)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(EngineError::io("creating", parent))?;
    }
    let file = File::create(path).map_err(EngineError::io("creating", path))?;
    let mut writer = BufWriter::new(file);
    ParquetWriter::new(&mut writer)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .finish(df)
        .map_err(|e| match e {
            PolarsError::IO { error, .. } => EngineError::Io {
                action: "writing",
                path: path.to_path_buf(),
                source: std::io::Error::new(error.kind(), error.to_string()),
            },
            other => EngineError::Polars { context: format!("writing {}", path.display()), source: other },
        })?;
    use std::io::Write;
    writer.flush().map_err(EngineError::io("writing", path))?;
    Ok(df.height() as u64)
}
