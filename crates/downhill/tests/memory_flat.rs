//! A loop of 10⁶ small forward/backward/update steps keeps the resident set
//! flat: the graph is released after each backward and nothing accumulates.

#![cfg(target_os = "linux")]

use downhill::Tensor;

/// Resident set size in bytes, from /proc/self/statm.
fn rss_bytes() -> usize {
    let statm =
        std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm is readable on Linux");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("statm has a resident field")
        .parse()
        .expect("a number");
    pages * 4096
}

#[test]
fn a_million_steps_keep_memory_flat() {
    let w = Tensor::from_vec(vec![0.5f32, -0.25, 1.0], &[3]).requires_grad_(true);
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let step = || {
        // loss = Σ tanh(w·x)² — a few ops, a diamond-free chain, a gradient, an update
        let loss = (&w * &x).tanh().square().sum();
        let grads = loss.backward();
        let g = grads.get(&w).expect("w is trainable").to_vec_f32();
        w.update_::<f32, _>(|v| v.iter_mut().zip(&g).for_each(|(p, gi)| *p -= 1e-3 * gi));
    };
    for _ in 0..100_000 {
        step();
    }
    let before = rss_bytes();
    for _ in 0..1_000_000 {
        step();
    }
    let after = rss_bytes();
    let grown = after.saturating_sub(before);
    assert!(
        grown < 1 << 20,
        "resident set grew by {grown} bytes over 10^6 steps ({before} → {after})"
    );
}
