//! Engine benchmarks: sgemm 2048×2048, forward+backward of an MLP
//! 784-512-256-10 at batch 128, and the per-op overhead of a scalar step.
//!
//! Run: `cargo bench -p downhill --bench engine`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use downhill::{ops::linear, Generator, Tensor};

fn sgemm(c: &mut Criterion) {
    let n = 2048;
    let mut g = Generator::new(0);
    let a = Tensor::randn(&[n, n], &mut g);
    let b = Tensor::randn(&[n, n], &mut g);
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(20);
    group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
    group.bench_function("2048", |bench| bench.iter(|| a.matmul(&b)));
    group.finish();
}

/// The MLP of ../shared/bench/torch_workloads.py's `mnist_mlp`, with
/// PyTorch's default Linear init, ReLU, and cross-entropy as log_softmax + NLL.
pub struct Mlp {
    layers: Vec<(Tensor, Tensor)>,
}

impl Mlp {
    pub fn new(sizes: &[usize], g: &mut Generator) -> Self {
        let layers = sizes
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                (
                    Tensor::uniform(&[w[1], w[0]], -bound, bound, g).requires_grad_(true),
                    Tensor::uniform(&[w[1]], -bound, bound, g).requires_grad_(true),
                )
            })
            .collect();
        Mlp { layers }
    }

    pub fn loss(&self, x: &Tensor, y: &[usize]) -> Tensor {
        let mut h = x.clone();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = linear(&h, w, Some(b));
            if i + 1 < self.layers.len() {
                h = h.relu();
            }
        }
        -h.log_softmax(-1).gather(1, y).mean()
    }
}

fn mlp(c: &mut Criterion) {
    let mut g = Generator::new(0);
    let sizes = [784, 512, 256, 10];
    let batch = 128;
    let model = Mlp::new(&sizes, &mut g);
    let x = Tensor::randn(&[batch, 784], &mut g);
    let y: Vec<usize> = (0..batch).map(|_| g.below(10) as usize).collect();
    let mut group = c.benchmark_group("mlp_784_512_256_10_b128");
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function("forward_backward", |bench| {
        bench.iter(|| model.loss(&x, &y).backward())
    });
    group.finish();
}

fn scalar(c: &mut Criterion) {
    let x = Tensor::scalar(1.0f32).requires_grad_(true);
    c.bench_function("scalar_2x2_step", |bench| {
        bench.iter(|| {
            let grads = x.square().mul_scalar(2.0).backward();
            let gv = grads.get(&x).expect("trainable").item() as f32;
            x.update_::<f32, _>(|v| v[0] = 1.0 - 1e-9 * gv);
        })
    });
}

fn conv(c: &mut Criterion) {
    use downhill::ops::{conv2d, Conv2dConfig};
    let mut g = Generator::new(0);
    let mut group = c.benchmark_group("conv2d_fwd_bwd_lenet");
    for (name, x, w) in [
        (
            "b64_1x28x28_k5x6",
            Tensor::randn(&[64, 1, 28, 28], &mut g),
            Tensor::randn(&[6, 1, 5, 5], &mut g),
        ),
        (
            "b64_6x12x12_k5x16",
            Tensor::randn(&[64, 6, 12, 12], &mut g),
            Tensor::randn(&[16, 6, 5, 5], &mut g),
        ),
    ] {
        let x = x.requires_grad_(true);
        let w = w.requires_grad_(true);
        let b = Tensor::zeros(&[w.shape()[0]]).requires_grad_(true);
        group.bench_function(name, |bench| {
            bench.iter(|| {
                conv2d(&x, &w, Some(&b), Conv2dConfig::default())
                    .sum()
                    .backward()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgemm, mlp, scalar, conv);
criterion_main!(benches);
