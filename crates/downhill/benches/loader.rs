//! Preparing a batch versus taking a step: the loader must not dominate.
//!
//! `cargo bench -p downhill --bench loader`

use criterion::{criterion_group, criterion_main, Criterion};
use downhill::data::{BatchSize, DataLoader, Dataset, TensorDataset};
use downhill::loss::{CrossEntropyLoss, Loss};
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::{Adam, Optimizer};
use downhill::{Generator, Tensor};

fn bench(c: &mut Criterion, name: &str, rows: usize, features: usize, hidden: usize, batch: usize) {
    let mut g = Generator::new(0);
    let x = Tensor::randn(&[rows, features], &mut g);
    let y: Vec<usize> = (0..rows).map(|i| i % 10).collect();
    let data = TensorDataset::classification(x, y);
    let mut loader = DataLoader::new(rows, BatchSize::Size(batch), true, false, 0);
    let batches: Vec<Vec<usize>> = loader.epoch().map(|b| b.to_vec()).collect();
    let mut i = 0;
    c.bench_function(&format!("{name}/prepare_batch_{batch}"), |b| {
        b.iter(|| {
            i = (i + 1) % batches.len();
            data.batch(&batches[i])
        })
    });
    c.bench_function(&format!("{name}/shuffle_epoch"), |b| {
        b.iter(|| loader.epoch().count())
    });
    let model = Sequential::new()
        .push(Linear::new(features, hidden, true, &mut g))
        .push(ReLU)
        .push(Linear::new(hidden, 10, true, &mut g));
    let mut opt = Adam::default().build(model.trainable_parameters()).unwrap();
    let ce = CrossEntropyLoss::default();
    let fixed = data.batch(&batches[0]);
    c.bench_function(&format!("{name}/train_step_{batch}"), |b| {
        b.iter(|| {
            let l = ce.forward(
                &model.forward(&fixed.inputs),
                fixed.targets.as_target(),
                &[],
            );
            opt.step(&l.backward());
        })
    });
}

fn loader(c: &mut Criterion) {
    bench(c, "digits", 1437, 64, 128, 32);
    bench(c, "mnist", 60_000, 784, 512, 128);
}

criterion_group!(benches, loader);
criterion_main!(benches);
