//! Communicators for data-parallel training: a process's rank among `size`
//! processes, and the collectives a data-parallel trainer needs (sum a
//! buffer over all processes, broadcast one, wait for all, gather a few
//! numbers from each).
//!
//! [`SingleProcess`] is the trivial one; with the cargo feature `mpi`,
//! [`MpiCommunicator`](super::MpiCommunicator) runs over MPI (Open MPI
//! through the `mpi` crate).
//!
//! **Determinism.** [`Communicator::all_reduce_sum_f32`] sums in rank order
//! (`((x₀ + x₁) + x₂) + …` for every element), whatever the transport does
//! internally, so the same number of processes gives bit-identical sums
//! from run to run.

/// The collectives of data-parallel training. Every process calls the same
/// collective in the same order with buffers of the same length.
pub trait Communicator: Send + Sync {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` with the element-wise sum of every process's `buf`,
    /// summed in rank order.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]);
    /// [`Communicator::all_reduce_sum_f32`] for `f64`.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` on every process with rank `root`'s `buf`.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize);
    /// [`Communicator::broadcast_f32`] for `f64`.
    fn broadcast_f64(&self, buf: &mut [f64], root: usize);
    /// Replaces `buf` on every process with rank `root`'s bytes (any length:
    /// the others' lengths are adjusted).
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize);
    /// Returns when every process has called it.
    fn barrier(&self);
    /// Every process's `values` (all of the same length), concatenated in
    /// rank order.
    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64>;
    /// Whether this process writes files and prints (rank 0).
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
    /// Ends every process with exit code `code` (`MPI_Abort`: the launcher
    /// kills the others, which may be waiting in a collective). One
    /// process: [`std::process::exit`].
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// One process: every collective is the identity.
///
/// ```
/// use downhill::train::{Communicator, SingleProcess};
/// let c = SingleProcess;
/// let mut g = vec![1.0f32, 2.0];
/// c.all_reduce_sum_f32(&mut g);
/// assert_eq!((c.rank(), c.size(), g), (0, 1, vec![1.0, 2.0]));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum_f32(&self, _buf: &mut [f32]) {}
    fn all_reduce_sum_f64(&self, _buf: &mut [f64]) {}
    fn broadcast_f32(&self, _buf: &mut [f32], _root: usize) {}
    fn broadcast_f64(&self, _buf: &mut [f64], _root: usize) {}
    fn broadcast_bytes(&self, _buf: &mut Vec<u8>, _root: usize) {}
    fn barrier(&self) {}
    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }
}

/// The launcher's process count when this process was started by `mpirun`,
/// `mpiexec` or `srun` (Open MPI's `OMPI_COMM_WORLD_SIZE`, MPICH/PMI's
/// `PMI_SIZE`, PMIx's `PMIX_SIZE`... ), else `None`. A build without MPI
/// support uses it to refuse to run as N independent copies.
pub fn launched_size() -> Option<usize> {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS",
    ]
    .iter()
    .filter(|v| **v != "SLURM_NTASKS" || std::env::var_os("SLURM_STEP_ID").is_some())
    .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// Sums `parts` (each of length `len`, in rank order) element by element:
/// the fixed-order reduction of every communicator.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn sum_in_rank_order<T: Copy + std::ops::AddAssign>(
    parts: &[T],
    len: usize,
    out: &mut [T],
) {
    debug_assert_eq!(out.len(), len);
    out.copy_from_slice(&parts[..len]);
    for part in parts[len..].chunks_exact(len) {
        for (o, p) in out.iter_mut().zip(part) {
            *o += *p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_order_sum_is_the_left_fold() {
        let parts = [1e16f64, 1.0, -1e16, 1.0, 2.0, 3.0];
        let mut out = [0.0; 2];
        sum_in_rank_order(&parts, 2, &mut out);
        // ((1e16 + -1e16) + 2) and ((1 + 1) + 3): the order is fixed.
        assert_eq!(out, [2.0, 5.0]);
    }

    #[test]
    fn single_process_collectives_are_the_identity() {
        let c = SingleProcess;
        let mut b = vec![3u8, 4];
        c.broadcast_bytes(&mut b, 0);
        c.barrier();
        assert_eq!(b, vec![3, 4]);
        assert_eq!(c.all_gather_f64(&[1.5]), vec![1.5]);
        assert!(c.is_root());
    }
}
