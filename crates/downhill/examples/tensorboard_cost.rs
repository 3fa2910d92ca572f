//! What TensorBoard logging costs per training step on the fastest workload,
//! `tiny_mlp_digits` (MLP 64-32-10, batch 32, Adam, through the `Trainer`):
//! epochs with and without the `TensorBoard` callback, alternated over
//! several rounds (the machine may be shared), plus the callback's own
//! per-step cost measured alone.
//!
//! `cargo run --release -p downhill --example tensorboard_cost [ROUNDS]`

use std::time::Instant;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::train::tensorboard::HParams;
use downhill::train::{Callback, StepInfo, TensorBoard, TrainConfig, Trainer};
use downhill::{Generator, Tensor};

#[allow(dead_code)] // only the loader is used here
#[path = "common/digits.rs"]
mod digits;

fn seconds_per_step(data: &TensorDataset, tb: Option<&TensorBoard>, epochs: usize) -> f64 {
    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::new(64, 32, true, &mut g))
        .push(ReLU)
        .push(Linear::new(32, 10, true, &mut g));
    let opt = Adam::default()
        .lr(1e-3)
        .build(model.trainable_parameters())
        .expect("valid Adam");
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(32),
        progress: false,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    );
    if let Some(tb) = tb {
        t = t.with_callback(Box::new(tb.clone()));
    }
    let start = Instant::now();
    let report = t.fit(data, None).expect("in-memory training");
    start.elapsed().as_secs_f64() / report.steps as f64
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let split = digits::load(0);
    let n = split.y_train.len();
    let data = TensorDataset::classification(
        Tensor::from_vec(split.x_train.clone(), &[n, digits::FEATURES]),
        split.y_train.clone(),
    );
    let dir = std::env::temp_dir().join(format!("downhill-tb-cost-{}", std::process::id()));
    let epochs = 20;
    let (mut off, mut on) = (vec![], vec![]);
    for _ in 0..rounds {
        off.push(seconds_per_step(&data, None, epochs));
        let tb = TensorBoard::new(&dir)
            .expect("temp dir")
            .with_hparams(HParams::new().with("lr", 1e-3).metric("train/loss"));
        on.push(seconds_per_step(&data, Some(&tb), epochs));
        tb.finish().expect("temp dir writable");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off_m, on_m) = (median(&mut off), median(&mut on));
    // The callback alone: the per-step events (loss, lr), no training.
    let mut tb = TensorBoard::new(&dir).expect("temp dir");
    let calls = 200_000;
    let start = Instant::now();
    for step in 1..=calls {
        let info = StepInfo {
            epoch: 1,
            step,
            loss: 1.0 / step as f64,
            lr: 1e-3,
        };
        tb.on_step_end(&info);
        if step % 40 == 0 {
            tb.finish().expect("temp dir writable");
        }
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "tiny_mlp_digits through the Trainer, {rounds} alternated rounds of {epochs} epochs:\n\
         without TensorBoard {:.2} µs/step, with {:.2} µs/step: {:+.2}% (median of rounds)\n\
         callback alone: {:.3} µs per step ({:.2}% of a step)",
        off_m * 1e6,
        on_m * 1e6,
        (on_m / off_m - 1.0) * 100.0,
        per_call * 1e6,
        per_call / off_m * 100.0
    );
}
