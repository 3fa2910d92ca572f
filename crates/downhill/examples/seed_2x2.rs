//! The seeds' example: minimize f(x) = 2x² from x = 1 by θ ← θ − α·∇f,
//! with a learning rate that is too small, right, and too large.
//!
//! Run: `cargo run --release -p downhill --example seed_2x2`

use downhill::Tensor;

fn descend(lr: f64, steps: usize) -> Vec<f64> {
    let x = Tensor::scalar(1.0f64).requires_grad_(true);
    let mut path = vec![x.item()];
    for _ in 0..steps {
        let loss = x.square().mul_scalar(2.0); // f(x) = 2x²
        let grads = loss.backward(); // ∇f = 4x
        let g = grads.get(&x).expect("x is trainable").item();
        x.update_::<f64, _>(|v| v[0] -= lr * g); // θ ← θ − α∇f
        path.push(x.item());
    }
    path
}

fn main() {
    for (label, lr) in [("too small", 0.01), ("right", 0.1), ("too large", 0.6)] {
        let path = descend(lr, 5);
        let shown: Vec<String> = path.iter().map(|v| format!("{v:.4}")).collect();
        println!("lr = {lr:<5} ({label:>9}): x = {}", shown.join(" → "));
    }
    // With α = 0.1 each step multiplies x by 1 − 4α = 0.6: 1 → 0.6 → 0.36.
    // With α = 0.6 the factor is −1.4: |x| grows, the descent diverges.
}
