//! The memory of the divergence guard's two rollback points, measured in one
//! run: a 64 → H → H → 10 MLP with Adam, epoch checkpoints on, the default
//! rollback policy. At the start of epoch 1 no checkpoint exists yet, so the
//! guard holds a copy of the model and optimizer tensors in memory; from
//! epoch 2 on the epoch checkpoint already on disk is the rollback point and
//! nothing is copied. The same run with `DivergencePolicy::Stop` (no guard)
//! is the baseline. Prints, per epoch, the largest resident set seen after
//! any step (VmRSS from /proc/self/status, Linux).
//!
//!     cargo run --release -p downhill --example rollback_memory -- [H] [DIR]

use std::sync::{Arc, Mutex};

#[path = "common/mlp.rs"]
mod mlp;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::Module;
use downhill::optim::Adam;
use downhill::train::{Callback, Control, DivergencePolicy, StepInfo, TrainConfig, Trainer};
use downhill::{Generator, Tensor};
use mlp::mlp;

/// The process's resident set now, in bytes (0 where /proc is missing).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The largest RSS seen after a step, per epoch.
struct PeakPerEpoch(Arc<Mutex<Vec<u64>>>);

impl Callback for PeakPerEpoch {
    fn on_step_end(&mut self, info: &StepInfo) -> Control {
        let mut peaks = self.0.lock().unwrap();
        if peaks.len() < info.epoch {
            peaks.resize(info.epoch, 0);
        }
        let rss = rss_bytes();
        let e = &mut peaks[info.epoch - 1];
        *e = (*e).max(rss);
        Control::Continue
    }
}

/// Peak RSS per epoch of 3 epochs with `policy`, checkpoints in `dir`.
fn run(h: usize, policy: DivergencePolicy, dir: &std::path::Path) -> Vec<u64> {
    let mut g = Generator::new(0);
    let model = mlp(&[64, h, h, 10], &mut g);
    let opt = Adam::default()
        .lr(1e-4)
        .build(model.trainable_parameters())
        .expect("valid Adam");
    let n = 256;
    let x = Tensor::randn(&[n, 64], &mut g);
    let data = TensorDataset::classification(x, (0..n).map(|i| i % 10).collect());
    let config = TrainConfig {
        epochs: 3,
        batch_size: BatchSize::Size(32),
        divergence: policy,
        checkpoint_dir: Some(dir.to_path_buf()),
        monitor: downhill::train::Monitor::new("train_loss"),
        progress: false,
        log_every: 0,
        memory_limit: Some(u64::MAX),
        ..TrainConfig::default()
    };
    let peaks = Arc::new(Mutex::new(Vec::new()));
    let mut trainer = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
    .with_callback(Box::new(PeakPerEpoch(peaks.clone())));
    trainer.fit(&data, None).expect("fit");
    let out = peaks.lock().unwrap().clone();
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let h: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let dir = std::path::PathBuf::from(args.get(2).map_or("target/rollback-memory", |s| s));
    let params = 64 * h + h + h * h + h + 10 * h + 10;
    let p = 4 * params as u64;
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "H = {h}: {params} parameters, P = {:.1} MB (model + Adam's two moments = 3P = {:.1} MB)",
        mb(p),
        mb(3 * p)
    );
    for (name, policy) in [
        ("stop (no guard)", DivergencePolicy::Stop),
        (
            "rollback (default)",
            DivergencePolicy::Rollback { max_retries: 3 },
        ),
    ] {
        let d = dir.join(name.split(' ').next().unwrap());
        let _ = std::fs::remove_dir_all(&d);
        let peaks = run(h, policy, &d);
        let cells: Vec<String> = peaks.iter().map(|&b| format!("{:.1}", mb(b))).collect();
        println!("{name:20} peak RSS per epoch (MB): {}", cells.join(" | "));
        let _ = std::fs::remove_dir_all(&d);
    }
}
