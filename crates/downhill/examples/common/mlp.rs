//! The MLP the benchmark examples build: `Linear` layers of the given
//! sizes with ReLU between them, drawn from `g` layer by layer.

use downhill::nn::{Linear, ReLU, Sequential};
use downhill::Generator;

/// `sizes[0] → sizes[1] → … → sizes[n-1]`, ReLU after every layer but the last.
pub fn mlp(sizes: &[usize], g: &mut Generator) -> Sequential {
    let mut m = Sequential::new();
    for i in 0..sizes.len() - 1 {
        m.push_boxed(Box::new(Linear::new(sizes[i], sizes[i + 1], true, g)));
        if i + 2 < sizes.len() {
            m.push_boxed(Box::new(ReLU));
        }
    }
    m
}
