//! The crate's error type: everything that comes from outside (files,
//! configs, checkpoints) returns it; programmer mistakes panic instead.

use std::path::PathBuf;

/// An error from input downhill does not control.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents are not what was expected.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 if not applicable).
        line: usize,
        /// 1-based column (0 if not applicable).
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A value given by the user (flag, config key, hyperparameter) is invalid.
    #[error("{name}: {message}")]
    InvalidArgument {
        /// The flag, key or parameter.
        name: String,
        /// Why it is invalid.
        message: String,
    },
    /// Shapes in external data do not match what the model expects.
    #[error("{context}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// Where (a file, a tensor name).
        context: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// A checkpoint's tensors do not match the model: every mismatch is listed.
    #[error("{path}: does not match the model: {}", problems.join("; "))]
    StateMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// One line per missing, unexpected or misshapen tensor.
        problems: Vec<String>,
    },
    /// A loss, gradient or norm became NaN or infinite.
    #[error("non-finite value: {context}")]
    NonFinite {
        /// Where and what.
        context: String,
    },
    /// A run would need more memory than is available (refused before
    /// allocating), or a large allocation failed.
    #[error(
        "not enough memory: this needs about {} ({breakdown}) but {} is available ({available_from}); {advice}",
        crate::units::format_bytes(*needed),
        crate::units::format_bytes(*available)
    )]
    OutOfMemory {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// Where the available figure comes from (cgroup limit, MemAvailable).
        available_from: String,
        /// The needed bytes by part (`parameters 1.2 GB, gradients …`).
        breakdown: String,
        /// What to shrink.
        advice: String,
    },
    /// A large buffer could not be allocated (the system refused it).
    #[error(
        "could not allocate {} for {what}: not enough memory; shrink the model (fewer or smaller layers) or the batch",
        crate::units::format_bytes(*bytes)
    )]
    AllocationFailed {
        /// Bytes asked for.
        bytes: u64,
        /// What the buffer was for (a tensor and its shape).
        what: String,
    },
}

/// `Result` with downhill's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
