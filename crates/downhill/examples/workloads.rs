//! downhill's side of ../shared/bench/torch_workloads.py: the same workloads
//! (shapes, batch sizes, ReLU + cross-entropy + Adam(lr 1e-3), LeNet-5),
//! the same warm-up and timing, the same JSON lines.
//!
//! Run: `cargo run --release -p downhill --example workloads [THREADS] [WORKLOAD...]`
//! (with workload names, only those run).

use std::time::Instant;

use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
use downhill::optim::{Adam, Optimizer, Sgd};
use downhill::{Generator, Tensor};

fn mlp(sizes: &[usize], g: &mut Generator) -> Sequential {
    let mut m = Sequential::new();
    for i in 0..sizes.len() - 1 {
        m.push_boxed(Box::new(Linear::new(sizes[i], sizes[i + 1], true, g)));
        if i + 2 < sizes.len() {
            m.push_boxed(Box::new(ReLU));
        }
    }
    m
}

/// Runs `step` after `warmup` calls for at least `seconds`; returns steps/s.
fn time(warmup: usize, seconds: f64, mut step: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        step();
    }
    let (mut n, t0) = (0u64, Instant::now());
    while t0.elapsed().as_secs_f64() < seconds {
        step();
        n += 1;
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn train_bench(name: &str, sizes: &[usize], batch: usize, seconds: f64, g: &mut Generator) {
    let model = mlp(sizes, g);
    let x = Tensor::randn(&[batch, sizes[0]], g);
    let y: Vec<usize> = (0..batch)
        .map(|_| g.below(sizes[sizes.len() - 1] as u64) as usize)
        .collect();
    let mut opt = Adam::default()
        .lr(1e-3)
        .build(model.parameters())
        .expect("valid Adam");
    let ce = CrossEntropyLoss::default();
    let rate = time(20, seconds, || {
        let loss = ce.loss(&model.forward(&x), &y);
        opt.step(&loss.backward());
    });
    let flops: usize = 6 * batch * sizes.windows(2).map(|w| w[0] * w[1]).sum::<usize>();
    println!(
        "{{\"workload\": \"{name}\", \"sizes\": {sizes:?}, \"batch\": {batch}, \"opt\": \"adam\", \"steps_per_s\": {rate}, \"samples_per_s\": {}, \"gflops\": {}}}",
        rate * batch as f64,
        flops as f64 * rate / 1e9
    );
}

fn main() {
    // Run on a pool thread (as `Trainer::fit` does): parallel ops then split
    // work with the other workers instead of handing every op to the pool.
    if let Some(t) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .expect("thread pool set once");
    }
    rayon::scope(|_| run());
}

fn run() {
    let only: Vec<String> = std::env::args().skip(2).collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut g = Generator::new(0);

    let n = 2048;
    if want("sgemm_2048") {
        let (a, b) = (
            Tensor::randn(&[n, n], &mut g),
            Tensor::randn(&[n, n], &mut g),
        );
        let rate = time(3, 3.0, || {
            a.matmul(&b);
        });
        println!(
            "{{\"workload\": \"sgemm_{n}\", \"gflops\": {}}}",
            2.0 * (n as f64).powi(3) * rate / 1e9
        );
    }
    if want("scalar_2x2") {
        let x = Tensor::scalar(1.0f32).requires_grad_(true);
        let mut sgd = Sgd::default()
            .lr(0.1)
            .build(vec![x.clone()])
            .expect("valid SGD");
        let rate = time(0, 2.0, || {
            let loss = x.square().mul_scalar(2.0);
            sgd.step(&loss.backward());
        });
        println!("{{\"workload\": \"scalar_2x2\", \"steps_per_s\": {rate}}}");
    }

    if want("tiny_mlp_digits") {
        train_bench("tiny_mlp_digits", &[64, 32, 10], 32, 3.0, &mut g);
    }
    if want("mnist_mlp") {
        train_bench("mnist_mlp", &[784, 512, 256, 10], 128, 3.0, &mut g);
    }
    if want("wide_mlp") {
        train_bench("wide_mlp", &[1024, 4096, 4096, 10], 512, 6.0, &mut g);
    }
    if !want("lenet_cnn") {
        return;
    }

    let batch = 64;
    let model = Sequential::new()
        .push(Conv2d::new(1, 6, 5, &mut g))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(6, 16, 5, &mut g))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten::default())
        .push(Linear::new(256, 120, true, &mut g))
        .push(ReLU)
        .push(Linear::new(120, 84, true, &mut g))
        .push(ReLU)
        .push(Linear::new(84, 10, true, &mut g));
    let x = Tensor::randn(&[batch, 1, 28, 28], &mut g);
    let y: Vec<usize> = (0..batch).map(|_| g.below(10) as usize).collect();
    let mut opt = Adam::default()
        .lr(1e-3)
        .build(model.parameters())
        .expect("valid Adam");
    let ce = CrossEntropyLoss::default();
    let rate = time(10, 3.0, || {
        let loss = ce.loss(&model.forward(&x), &y);
        opt.step(&loss.backward());
    });
    println!(
        "{{\"workload\": \"lenet_cnn\", \"batch\": {batch}, \"opt\": \"adam\", \"steps_per_s\": {rate}, \"samples_per_s\": {}}}",
        rate * batch as f64
    );
}
