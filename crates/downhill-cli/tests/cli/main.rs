//! The command-line tests in one binary: each module runs the `downhill`
//! binary as a user does, for one concern. `mpi_cli` (under `mpirun`)
//! stays apart.

#[path = "../common/mod.rs"]
mod common;

mod averaging_cli;
mod bad_inputs;
mod interrupt_cli;
mod lr_find_cli;
mod minimize;
mod optimizers_cli;
mod runs_cli;
mod tables_cli;
mod train_cli;
