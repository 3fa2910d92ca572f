//! The parts of the `downhill` command line that other targets (the fuzzers
//! under `fuzz/`) use: the expression language of `downhill minimize`.
#![warn(missing_docs)]

pub mod expr;
