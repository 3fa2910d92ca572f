//! Adam on 10 million f32 parameters (10 tensors of 1M): one fused pass per
//! parameter. Bytes touched per element: read θ, g, m, v and write θ, m, v
//! = 28 bytes. Beside it, a STREAM-like triad a = b + s·c over the same
//! amount of memory gives the machine's attainable bandwidth.
//!
//! Run: `cargo bench -p downhill --bench adam`; PyTorch's side:
//! `python3 crates/downhill/benches/adam_torch.py`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use downhill::optim::{Adam, Optimizer};
use downhill::{Generator, Gradients, Tensor};
use rayon::prelude::*;

const N: usize = 1_000_000;
const TENSORS: usize = 10;

fn adam(c: &mut Criterion) {
    let mut g = Generator::new(0);
    let params: Vec<Tensor> = (0..TENSORS)
        .map(|_| Tensor::randn(&[N], &mut g).requires_grad_(true))
        .collect();
    let mut grads = Gradients::new();
    for p in &params {
        grads.insert(p, Tensor::randn(&[N], &mut g).mul_scalar(1e-3));
    }
    let mut opt = Adam::default().lr(1e-3).build(params).unwrap();
    opt.step(&grads); // allocate the state
    let mut group = c.benchmark_group("adam_10M_f32");
    group.sample_size(20);
    group.throughput(Throughput::Bytes((28 * N * TENSORS) as u64));
    group.bench_function("step", |b| b.iter(|| opt.step(&grads)));
    group.finish();
}

fn triad(c: &mut Criterion) {
    let n = N * TENSORS;
    let b: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let cc: Vec<f32> = (0..n).map(|i| (n - i) as f32).collect();
    let mut a = vec![0.0f32; n];
    let mut group = c.benchmark_group("stream_triad_10M_f32");
    group.sample_size(20);
    // read b, c; write a (12 bytes/element, not counting write-allocate)
    group.throughput(Throughput::Bytes((12 * n) as u64));
    group.bench_function("a=b+s*c", |bench| {
        bench.iter(|| {
            a.par_chunks_mut(1 << 16)
                .zip(b.par_chunks(1 << 16))
                .zip(cc.par_chunks(1 << 16))
                .for_each(|((a, b), c)| {
                    a.iter_mut()
                        .zip(b)
                        .zip(c)
                        .for_each(|((a, b), c)| *a = b + 3.0 * c)
                })
        })
    });
    group.finish();
}

criterion_group!(benches, adam, triad);
criterion_main!(benches);
