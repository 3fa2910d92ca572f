//! The CLI's error: one line naming the file, line/column or flag; exit code 2.

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the library: a file, a checkpoint, a hyperparameter.
    #[error(transparent)]
    Lib(#[from] downhill::Error),
    /// A flag (or config key) with an invalid value.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--lr`.
        flag: String,
        /// Why it is invalid.
        message: String,
    },
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// A flag error.
    pub fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        CliError::Flag {
            flag: flag.into(),
            message: message.into(),
        }
    }
}

/// `Result` with [`CliError`].
pub type Result<T, E = CliError> = std::result::Result<T, E>;
