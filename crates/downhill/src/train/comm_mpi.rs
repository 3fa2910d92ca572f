//! [`MpiCommunicator`]: the [`Communicator`] over MPI (cargo feature `mpi`).

use mpi::datatype::Equivalence;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
// rank(), size(), process_at_rank(): named apart from our own `Communicator`.
use mpi::traits::Communicator as _;
use mpi::Threading;
use std::sync::Mutex;

use super::comm::{sum_in_rank_order, Communicator};
use crate::{Error, Result};

/// MPI's world communicator. Create one per process with
/// [`MpiCommunicator::init`]; MPI is finalized when it is dropped.
///
/// The sums are computed in a fixed order: each process sends the `r`-th
/// slice of its buffer to rank `r` (`MPI_Alltoall`), rank `r` adds the
/// slices in rank order, and the sums are gathered back
/// (`MPI_Allgather`). That moves 2(N−1)/N of the buffer per process, like a
/// ring allreduce, and does not depend on the algorithm the MPI library
/// picks, so the same N gives bit-identical results.
///
/// The exchange buffers are kept between calls and reused, so a training
/// step allocates (and page-faults in) nothing after the first; when the
/// buffer's length is a multiple of N it is sent from and gathered into in
/// place.
pub struct MpiCommunicator {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    scratch32: Mutex<Scratch<f32>>,
    scratch64: Mutex<Scratch<f64>>,
    // Finalizes MPI when dropped, after `world`.
    _universe: Universe,
}

// SAFETY: MPI is initialized with `Threading::Serialized` (checked in
// `init`), which allows calls from any thread as long as no two are
// concurrent; every method takes `&self` on a value the trainer owns and
// drives from one thread at a time.
unsafe impl Send for MpiCommunicator {}
// SAFETY: as above; the collectives are issued in program order by the one
// thread that runs the training loop.
unsafe impl Sync for MpiCommunicator {}

/// The buffers of one all-reduce, grown to the largest call so far.
struct Scratch<T> {
    /// The padded send buffer (when the length is not a multiple of N) and
    /// the gathered sums.
    send: Vec<T>,
    /// Every rank's slice of this rank's part.
    recv: Vec<T>,
    /// This rank's part of the sums.
    mine: Vec<T>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            send: Vec::new(),
            recv: Vec::new(),
            mine: Vec::new(),
        }
    }
}

/// The first `len` values of `v`, grown with `T::default()` when shorter.
fn at_least<T: Copy + Default>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::default());
    }
    &mut v[..len]
}

fn mpi_error(message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: "MPI".into(),
        message: message.into(),
    }
}

impl MpiCommunicator {
    /// Initializes MPI (thread level `MPI_THREAD_SERIALIZED`) and returns the
    /// world communicator.
    ///
    /// # Errors
    /// If MPI was initialized already in this process, or the MPI library
    /// does not provide the serialized thread level.
    pub fn init() -> Result<MpiCommunicator> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| mpi_error("MPI is already initialized in this process"))?;
        if threading < Threading::Serialized {
            return Err(mpi_error(format!(
                "the MPI library provides thread level {threading:?}; downhill needs Serialized"
            )));
        }
        let world = universe.world();
        let rank = world.rank() as usize;
        let size = world.size() as usize;
        Ok(MpiCommunicator {
            world,
            rank,
            size,
            scratch32: Mutex::new(Scratch::default()),
            scratch64: Mutex::new(Scratch::default()),
            _universe: universe,
        })
    }

    fn all_reduce_sum<T>(&self, buf: &mut [T], scratch: &Mutex<Scratch<T>>)
    where
        T: Equivalence + Copy + Default + std::ops::AddAssign,
    {
        let n = self.size;
        if n == 1 || buf.is_empty() {
            return;
        }
        let mut guard = scratch.lock().unwrap_or_else(|e| e.into_inner());
        let Scratch { send, recv, mine } = &mut *guard;
        let len = buf.len();
        let chunk = len.div_ceil(n);
        let padded = chunk * n;
        let recv = at_least(recv, padded);
        let mine = at_least(mine, chunk);
        // recv = [rank 0's slice r, rank 1's slice r, …] on rank r.
        if len == padded {
            self.world.all_to_all_into(&buf[..], &mut recv[..]);
            sum_in_rank_order(recv, chunk, mine);
            self.world.all_gather_into(&mine[..], &mut buf[..]);
        } else {
            let send = at_least(send, padded);
            send[..len].copy_from_slice(buf);
            send[len..].fill(T::default());
            self.world.all_to_all_into(&send[..], &mut recv[..]);
            sum_in_rank_order(recv, chunk, mine);
            self.world.all_gather_into(&mine[..], &mut send[..]);
            buf.copy_from_slice(&send[..len]);
        }
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
        self.all_reduce_sum(buf, &self.scratch32);
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        self.all_reduce_sum(buf, &self.scratch64);
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) {
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) {
        self.world.process_at_rank(root as i32).broadcast_into(buf);
    }
    fn broadcast_bytes(&self, buf: &mut Vec<u8>, root: usize) {
        let mut len = buf.len() as u64;
        let process = self.world.process_at_rank(root as i32);
        process.broadcast_into(&mut len);
        buf.resize(len as usize, 0);
        process.broadcast_into(&mut buf[..]);
    }
    fn barrier(&self) {
        self.world.barrier();
    }
    fn all_gather_f64(&self, values: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; values.len() * self.size];
        self.world.all_gather_into(values, &mut out[..]);
        out
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
