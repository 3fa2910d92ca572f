//! The parts of the `downhill` command line that other targets (the fuzzers
//! under `fuzz/`) use: the expression language of `downhill minimize`, and
//! [`run`], the whole command line on an argument vector, in-process.
#![warn(missing_docs)]

// The binary's modules refer to the expression parser as `downhill_cli::expr`.
extern crate self as downhill_cli;

pub mod expr;

/// The binary's module tree (`main.rs` and every subcommand), compiled
/// into the library too.
#[allow(dead_code)]
#[path = "main.rs"]
mod cli;

/// Runs `downhill ARGS…` in-process: `argv[0]` is the program's name, the
/// rest are the arguments. Returns the exit code the binary would exit with
/// (0 success, 1 diverged, 2 bad input); errors are printed as one line on
/// standard error, output goes where the binary's goes.
///
/// ```
/// assert_eq!(downhill_cli::run(["downhill", "minimize", "(x-3)^2", "--init", "x=0"]), 0);
/// assert_eq!(downhill_cli::run(["downhill", "train", "--epochs", "0"]), 2);
/// ```
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    cli::run(argv)
}
