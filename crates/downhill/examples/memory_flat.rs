//! Resident memory over a long run of training steps: the scalar step of
//! `workloads`' `scalar_2x2` (f(x) = 2x², SGD) and the `tiny_mlp_digits`
//! step (64-32-10 MLP, batch 32, ReLU, cross-entropy, Adam), each for
//! `STEPS` steps (default 1,000,000), printing the resident set size after
//! 10³, 10⁴, … steps. Flat memory means nothing accumulates per step: no
//! graph kept alive, no optimizer state growing, no allocator drift.
//! Used by `bench/memory_flat.sh`.
//!
//! Run: `cargo run --release -p downhill --example memory_flat [STEPS]`
//! (Linux: the resident size is read from `/proc/self/status`).

use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::{Adam, Optimizer, Sgd};
use downhill::{Generator, Tensor};

/// The resident set size in KiB, where the system tells it.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `step` `steps` times, printing one JSON line per power of ten
/// reached (and at the end) with the resident size then.
fn run(name: &str, steps: u64, mut step: impl FnMut()) {
    let start = std::time::Instant::now();
    let mut next = 1_000;
    for i in 1..=steps {
        step();
        if i == next || i == steps {
            let rss = rss_kib().map_or("null".to_string(), |k| k.to_string());
            println!(
                "{{\"workload\": \"{name}\", \"steps\": {i}, \"rss_kib\": {rss}, \"seconds\": {:.2}}}",
                start.elapsed().as_secs_f64()
            );
            next = next.saturating_mul(10);
        }
    }
}

fn main() {
    let steps = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: memory_flat [STEPS] (a positive number of steps)");
            std::process::exit(2);
        }
    };

    let x = Tensor::scalar(1.0f32).requires_grad_(true);
    let mut sgd = Sgd::default()
        .lr(0.1)
        .build(vec![x.clone()])
        .expect("valid SGD");
    run("scalar_2x2", steps, || {
        let loss = x.square().mul_scalar(2.0);
        sgd.step(&loss.backward());
    });

    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::new(64, 32, true, &mut g))
        .push(ReLU)
        .push(Linear::new(32, 10, true, &mut g));
    let inputs = Tensor::randn(&[32, 64], &mut g);
    let labels: Vec<usize> = (0..32).map(|_| g.below(10) as usize).collect();
    let mut adam = Adam::default()
        .lr(1e-3)
        .build(model.parameters())
        .expect("valid Adam");
    let ce = CrossEntropyLoss::default();
    run("tiny_mlp_digits", steps, || {
        let loss = ce.loss(&model.forward(&inputs), &labels);
        adam.step(&loss.backward());
    });
}
