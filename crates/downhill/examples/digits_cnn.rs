//! A LeNet-5-sized CNN on the 8×8 digits reshaped as 1×8×8 images:
//! conv 3×3 (6) → ReLU → max-pool 2 → conv 3×3 (16) → ReLU → max-pool 2 →
//! 64 → 120 → 84 → 10, Adam lr 1e-3, batch 32, 30 epochs.
//!
//! Run: `cargo run --release -p downhill --example digits_cnn`

#[path = "common/digits.rs"]
mod digits;

use downhill::nn::{Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential};
use downhill::Generator;

fn main() {
    let data = digits::load(0);
    let mut g = Generator::new(7);
    let mut model = Sequential::new()
        .push(Conv2d::new(1, 6, 3, &mut g).padding(1))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Conv2d::new(6, 16, 3, &mut g).padding(1))
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten::default())
        .push(Linear::new(64, 120, true, &mut g))
        .push(ReLU)
        .push(Linear::new(120, 84, true, &mut g))
        .push(ReLU)
        .push(Linear::new(84, 10, true, &mut g));
    let t0 = std::time::Instant::now();
    let acc = digits::train(&mut model, &data, &[1, 8, 8], 30, 32, 1e-3, 11);
    println!(
        "LeNet-style CNN: test accuracy {:.2}% in {:.1} s",
        100.0 * acc,
        t0.elapsed().as_secs_f64()
    );
}
