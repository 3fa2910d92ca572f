//! The parts of the `downhill` command line that other targets (the fuzzers
//! under `fuzz/`) use: the expression language of `downhill minimize`, and
//! [`run`], the whole command line on an argument vector, in-process.
#![warn(missing_docs)]

// The binary's modules refer to the expression parser as `downhill_cli::expr`.
extern crate self as downhill_cli;

pub mod expr;

// The binary's module tree (every subcommand) and `run`, compiled into the
// library too: `main.rs` is included here, at the crate root, so its
// modules' `crate::` paths mean the same in both targets.
include!("main.rs");
