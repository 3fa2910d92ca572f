//! `downhill minimize EXPR`.
use crate::error::Result;

/// Flags of `downhill minimize`.
#[derive(clap::Args)]
pub struct MinimizeArgs {
    /// The expression, e.g. "2*x^2".
    pub expr: String,
}

/// Runs the command.
pub fn run(_args: MinimizeArgs) -> Result<()> {
    Err(crate::error::CliError::Other(
        "minimize: not built yet".into(),
    ))
}
