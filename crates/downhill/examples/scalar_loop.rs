//! Per-op overhead: the loop "loss = 2x², backward, x ← x − 0.1·grad" as
//! fast as it goes, printed as the `scalar_2x2` line of
//! ../shared/bench/torch_workloads.py so the two compare side by side.
//!
//! Run: `cargo run --release -p downhill --example scalar_loop`

use std::time::Instant;

use downhill::Tensor;

fn main() {
    let x = Tensor::scalar(1.0f32).requires_grad_(true);
    let step = || {
        let loss = x.square().mul_scalar(2.0);
        let grads = loss.backward();
        let g = grads.get(&x).expect("x is trainable");
        let gv = g.item() as f32;
        x.update_::<f32, _>(|v| v[0] -= 0.1 * gv);
    };
    for _ in 0..10_000 {
        step();
    }
    let (mut n, t0) = (0u64, Instant::now());
    while t0.elapsed().as_secs_f64() < 2.0 {
        for _ in 0..1000 {
            step();
        }
        n += 1000;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    println!("{{\"workload\": \"scalar_2x2\", \"steps_per_s\": {rate:.1}}}");
}
