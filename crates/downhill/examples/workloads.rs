//! downhill's side of `bench/torch_workloads.py` (a copy of
//! `../shared/bench/torch_workloads.py` with `resnet_block` and the sweep
//! points added): the same workloads (shapes, batch sizes, ReLU +
//! cross-entropy + Adam(lr 1e-3), LeNet-5, a ResNet basic block), the same
//! warm-up and timing, the same JSON lines.
//!
//! Run: `cargo run --release -p downhill --example workloads [THREADS] [WORKLOAD...]`
//! (with workload names, only those run). A name `mlp:784-512-256-10:128`
//! trains that MLP at that batch size for about a second (the points of
//! `bench/scaling.sh`).

use std::time::Instant;

use downhill::loss::CrossEntropyLoss;
use downhill::nn::{BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
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

/// A sweep point `mlp:SIZES:BATCH` (sizes joined by `-`), if `name` is one.
fn mlp_point(name: &str) -> Option<(Vec<usize>, usize)> {
    let (sizes, batch) = name.strip_prefix("mlp:")?.split_once(':')?;
    let sizes: Vec<usize> = sizes
        .split('-')
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let batch = batch.parse().ok()?;
    (sizes.len() >= 2 && sizes.iter().all(|&s| s > 0) && batch > 0).then_some((sizes, batch))
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
    // The sweep's short points warm up less (a wide one takes 0.1 s a step).
    let warmup = if seconds < 2.0 { 3 } else { 20 };
    let rate = time(warmup, seconds, || {
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
    for name in &only {
        if let Some((sizes, batch)) = mlp_point(name) {
            train_bench("mlp", &sizes, batch, 1.0, &mut g);
        } else if name.starts_with("mlp:") {
            eprintln!("workloads: {name:?} is not mlp:SIZES:BATCH (e.g. mlp:784-512-256-10:128)");
            std::process::exit(2);
        }
    }
    if !only.is_empty() && only.iter().all(|o| o.starts_with("mlp:")) {
        return;
    }

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
    if want("lenet_cnn") {
        lenet_bench(&mut g);
    }
    if want("resnet_block") {
        resnet_block_bench(&mut g);
    }
}

/// Steps/s of a 10-class classifier's training step on the batch `x` (random
/// labels): cross-entropy, backward, Adam(lr 1e-3), timed by [`time`].
fn classifier_steps(
    params: Vec<Tensor>,
    forward: impl Fn(&Tensor) -> Tensor,
    x: &Tensor,
    warmup: usize,
    seconds: f64,
    g: &mut Generator,
) -> f64 {
    let y: Vec<usize> = (0..x.shape()[0]).map(|_| g.below(10) as usize).collect();
    let mut opt = Adam::default().lr(1e-3).build(params).expect("valid Adam");
    let ce = CrossEntropyLoss::default();
    time(warmup, seconds, || {
        let loss = ce.loss(&forward(x), &y);
        opt.step(&loss.backward());
    })
}

fn lenet_bench(g: &mut Generator) {
    let batch = 64;
    let model = Sequential::new()
        .push(Conv2d::new(1, 6, 5, g))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(6, 16, 5, g))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten::default())
        .push(Linear::new(256, 120, true, g))
        .push(ReLU)
        .push(Linear::new(120, 84, true, g))
        .push(ReLU)
        .push(Linear::new(84, 10, true, g));
    let x = Tensor::randn(&[batch, 1, 28, 28], g);
    let rate = classifier_steps(model.parameters(), |x| model.forward(x), &x, 10, 3.0, g);
    println!(
        "{{\"workload\": \"lenet_cnn\", \"batch\": {batch}, \"opt\": \"adam\", \"steps_per_s\": {rate}, \"samples_per_s\": {}}}",
        rate * batch as f64
    );
}

/// A residual block as in ResNet's basic block (conv 3×3 → BatchNorm → ReLU
/// → conv 3×3 → BatchNorm, plus the input, → ReLU; 64 channels, no conv
/// bias), then global average pooling and a 64 → 10 classifier head.
struct ResidualBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    head: Linear,
}

impl ResidualBlock {
    fn new(c: usize, g: &mut Generator) -> Self {
        let conv = |g: &mut Generator| {
            Conv2d::with_options(
                c,
                c,
                (3, 3),
                Default::default(),
                false,
                downhill::DType::F32,
                g,
            )
            .padding(1)
        };
        ResidualBlock {
            conv1: conv(g),
            bn1: BatchNorm2d::new(c),
            conv2: conv(g),
            bn2: BatchNorm2d::new(c),
            head: Linear::new(c, 10, true, g),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.bn1.forward(&self.conv1.forward(x)).relu();
        let h = self.bn2.forward(&self.conv2.forward(&h));
        let h = h.add(x).relu();
        self.head.forward(&h.mean_dims(&[2, 3], false))
    }

    fn parameters(&self) -> Vec<Tensor> {
        [
            self.conv1.parameters(),
            self.bn1.parameters(),
            self.conv2.parameters(),
            self.bn2.parameters(),
            self.head.parameters(),
        ]
        .concat()
    }
}

/// `resnet_block`: batch 32 of 64 × 32 × 32, cross-entropy, Adam(lr 1e-3).
fn resnet_block_bench(g: &mut Generator) {
    let (batch, c, side) = (32, 64, 32);
    let model = ResidualBlock::new(c, g);
    let x = Tensor::randn(&[batch, c, side, side], g);
    let rate = classifier_steps(model.parameters(), |x| model.forward(x), &x, 3, 5.0, g);
    // Two 3×3 convolutions, forward and the two backward products each.
    let flops = 2 * 3 * 2 * batch * side * side * c * c * 9;
    println!(
        "{{\"workload\": \"resnet_block\", \"batch\": {batch}, \"opt\": \"adam\", \"steps_per_s\": {rate}, \"samples_per_s\": {}, \"gflops\": {}}}",
        rate * batch as f64,
        flops as f64 * rate / 1e9
    );
}
