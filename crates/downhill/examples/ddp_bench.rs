//! Data-parallel training speed (bench/ddp.sh runs it): `Trainer::fit` on
//! a synthetic MNIST-shaped set (mnist_mlp 784-512-256-10, global batch
//! 128, Adam lr 1e-3, as in `examples/workloads.rs`), one process or, under
//! `mpirun -np N` (feature `mpi`), N; then the allreduce time of a sweep of
//! buffer sizes, for the α–β model. Prints JSON lines from rank 0.
//!
//! Run: `RAYON_NUM_THREADS=1 mpirun -np 2 target/release/examples/ddp_bench [WORKLOAD] [SECONDS]`
//! (WORKLOAD `mnist_mlp` (default) or `wide_mlp`; `DDP_BENCH_BATCH=N` sets another global batch).

#[path = "common/mlp.rs"]
mod mlp;

use std::sync::Arc;
use std::time::Instant;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::Module;
use downhill::optim::Adam;
use downhill::train::{Communicator, SingleProcess, TrainConfig, Trainer};
use downhill::{Generator, Tensor};
use mlp::mlp;

fn communicator() -> Arc<dyn Communicator> {
    #[cfg(feature = "mpi")]
    if downhill::train::launched_size().is_some_and(|n| n > 1) {
        return Arc::new(downhill::train::MpiCommunicator::init().expect("MPI initializes"));
    }
    Arc::new(SingleProcess)
}

/// Steps per second of `fit` over `epochs` epochs of `steps` global batches.
fn fit_rate(
    comm: &Arc<dyn Communicator>,
    sizes: &[usize],
    batch: usize,
    steps: usize,
    epochs: usize,
) -> f64 {
    let mut g = Generator::new(0);
    let n = batch * steps;
    let x = Tensor::randn(&[n, sizes[0]], &mut g);
    let y: Vec<usize> = (0..n)
        .map(|_| g.below(sizes[sizes.len() - 1] as u64) as usize)
        .collect();
    let data = TensorDataset::classification(x, y);
    let model = mlp(sizes, &mut g);
    let opt = Adam::default()
        .lr(1e-3)
        .build(model.trainable_parameters())
        .expect("valid Adam");
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(batch),
        monitor: downhill::train::Monitor::new("train_loss"),
        progress: false,
        memory_limit: Some(u64::MAX),
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
    .with_communicator(comm.clone());
    // One warm-up epoch, then the timed ones.
    t.config_mut().epochs = 1;
    t.fit(&data, None).expect("fit");
    t.config_mut().epochs = 1 + epochs;
    comm.barrier();
    let t0 = Instant::now();
    let r = t.fit(&data, None).expect("fit");
    comm.barrier();
    (r.steps - steps) as f64 / t0.elapsed().as_secs_f64()
}

/// Seconds per `all_reduce_sum_f32` of `len` floats (median of rounds).
fn allreduce_seconds(comm: &dyn Communicator, len: usize) -> f64 {
    let mut buf = vec![1.0f32; len];
    let reps = (20_000_000 / len.max(1)).clamp(5, 2000);
    let mut times = vec![];
    for _ in 0..5 {
        comm.barrier();
        let t0 = Instant::now();
        for _ in 0..reps {
            comm.all_reduce_sum_f32(&mut buf);
        }
        times.push(t0.elapsed().as_secs_f64() / reps as f64);
    }
    times.sort_by(f64::total_cmp);
    times[2]
}

fn main() {
    let comm = communicator();
    let workload = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mnist_mlp".into());
    let seconds: f64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let (sizes, batch): (Vec<usize>, usize) = match workload.as_str() {
        "wide_mlp" => (vec![1024, 4096, 4096, 10], 512),
        _ => (vec![784, 512, 256, 10], 128),
    };
    // DDP_BENCH_BATCH overrides the global batch (e.g. 64: one rank's share
    // of mnist_mlp's 128 on 2 processes, the compute a rank does per step).
    let batch = std::env::var("DDP_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(batch);
    let params: usize = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    // Steps per epoch sized so the timed part takes about `seconds`.
    let probe = fit_rate(&comm, &sizes, batch, 10, 1);
    // Rank 0's count for everyone (the ranks' probes differ).
    let steps =
        comm.all_gather_f64(&[((probe * seconds) as usize).clamp(10, 2000) as f64])[0] as usize;
    let rate = fit_rate(&comm, &sizes, batch, steps, 1);
    let grad_seconds = allreduce_seconds(comm.as_ref(), params);
    if comm.is_root() {
        println!(
            "{{\"workload\": \"{workload}\", \"processes\": {}, \"threads\": {}, \"batch\": {batch}, \"steps_per_s\": {rate:.2}, \"params\": {params}, \"grad_bytes\": {}, \"allreduce_s_per_step\": {grad_seconds:.6}, \"allreduce_share\": {:.4}}}",
            comm.size(),
            rayon::current_num_threads(),
            params * 4,
            grad_seconds * rate
        );
    }
    if comm.size() > 1 && std::env::args().nth(3).as_deref() == Some("sweep") {
        for len in [256usize, 4096, 65_536, 262_144, 1 << 20, 4 << 20] {
            let s = allreduce_seconds(comm.as_ref(), len);
            if comm.is_root() {
                println!(
                    "{{\"allreduce_bytes\": {}, \"processes\": {}, \"seconds\": {s:.7}}}",
                    len * 4,
                    comm.size()
                );
            }
        }
    }
}
