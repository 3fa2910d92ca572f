//! `mpirun -np N downhill train ...`: data-parallel training over MPI.
//!
//! Built with the cargo feature `mpi`, a process started by an MPI launcher
//! with N > 1 joins the job ([`communicator`]); rank 0 writes the run
//! directory and prints, the others write nothing (their scratch run
//! directory lives in the system's temporary directory and is removed).
//! Built without it, such a process refuses to run, so N independent copies
//! never write one run directory.

use std::path::PathBuf;
use std::sync::Arc;

use downhill::train::{Communicator, SingleProcess};

use crate::error::{CliError, Result};

/// The processes this run trains on: MPI's world when started by `mpirun`
/// with more than one process (feature `mpi`), else this one process.
///
/// # Errors
/// Under a launcher with N > 1 when built without MPI (one line saying how
/// to build with it), or when MPI fails to initialize.
pub fn communicator() -> Result<Arc<dyn Communicator>> {
    match downhill::train::launched_size() {
        Some(n) if n > 1 => join(n),
        _ => Ok(Arc::new(SingleProcess)),
    }
}

#[cfg(feature = "mpi")]
fn join(_n: usize) -> Result<Arc<dyn Communicator>> {
    Ok(Arc::new(downhill::train::MpiCommunicator::init()?))
}

#[cfg(not(feature = "mpi"))]
fn join(n: usize) -> Result<Arc<dyn Communicator>> {
    Err(CliError::Other(format!(
        "started by an MPI launcher as one of {n} processes, but this build of downhill trains in one process only; build it with MPI (apt-get install -y openmpi-bin libopenmpi-dev libclang-dev pkg-config; cargo install --path crates/downhill-cli --features mpi) or run it without mpirun ({n} independent copies would write one run directory)"
    )))
}

/// Every process's setup must succeed before rank 0 creates the run
/// directory: each says whether its own did, and if one failed, all return
/// an error (the failed one its own, the others one naming it), so every
/// process ends cleanly and nothing is written.
///
/// # Errors
/// As described.
pub fn agree<T>(comm: &dyn Communicator, mine: Result<T>) -> Result<T> {
    if comm.size() == 1 {
        return mine;
    }
    let failed = comm.all_gather_f64(&[f64::from(u8::from(mine.is_err()))]);
    match (mine, failed.iter().position(|&f| f > 0.0)) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(r)) => Err(CliError::Other(format!(
            "process {r} of {} failed before training (see its message); nothing was written",
            comm.size()
        ))),
        (Ok(v), None) => Ok(v),
    }
}

/// The run directory a process other than rank 0 uses: a scratch
/// directory in the system's temporary directory, never finished.
pub fn scratch_out(comm: &dyn Communicator) -> PathBuf {
    std::env::temp_dir().join(format!(
        "downhill-rank-{}-{}",
        comm.rank(),
        std::process::id()
    ))
}

/// Runs `body`; when it fails in a run of several processes, prints the
/// error and ends the whole job with exit code 2 (`MPI_Abort`), since the
/// other processes may be waiting in a collective.
pub fn or_abort(comm: &dyn Communicator, body: impl FnOnce() -> Result<i32>) -> Result<i32> {
    let result = body();
    match result {
        Err(e) if comm.size() > 1 => {
            eprintln!("error: {e} (process {} of {})", comm.rank(), comm.size());
            comm.abort(2)
        }
        other => other,
    }
}
