//! [`Dropout`]: random zeroing in training, identity in evaluation.

use std::sync::Mutex;

use super::{Module, Visitor};
use crate::{Generator, Tensor};

/// `nn.Dropout`: in training each element is zeroed with probability p and the
/// rest scaled by 1/(1 − p); in evaluation mode it is the identity. The mask
/// comes from the layer's own seeded generator.
///
/// ```
/// use downhill::nn::{Dropout, Module};
/// use downhill::Tensor;
/// let mut d = Dropout::new(0.5, 7);
/// let y = d.forward(&Tensor::ones(&[1000]));
/// assert!(y.to_vec_f64().iter().all(|&v| v == 0.0 || v == 2.0));
/// d.eval();
/// assert_eq!(d.forward(&Tensor::ones(&[3])).to_vec_f64(), vec![1.0; 3]);
/// ```
pub struct Dropout {
    /// Probability of zeroing an element.
    pub p: f64,
    training: bool,
    gen: Mutex<Generator>,
}

impl Dropout {
    /// Dropout with probability `p`, its mask generator seeded with `seed`.
    ///
    /// **Panics** unless 0 ≤ p ≤ 1.
    pub fn new(p: f64, seed: u64) -> Self {
        assert!(
            (0.0..=1.0).contains(&p),
            "Dropout: p must be in [0, 1], got {p}"
        );
        Dropout {
            p,
            training: true,
            gen: Mutex::new(Generator::new(seed)),
        }
    }

    /// The generator's state (for checkpoints).
    pub fn generator(&self) -> Generator {
        self.gen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Restores the generator's state.
    pub fn set_generator(&self, g: Generator) {
        *self.gen.lock().unwrap_or_else(|e| e.into_inner()) = g;
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        if self.p == 1.0 {
            return x * 0.0;
        }
        let keep = 1.0 - self.p;
        let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
        let mask: Vec<f64> = (0..x.numel())
            .map(|_| if g.next_f64() < keep { 1.0 / keep } else { 0.0 })
            .collect();
        x * &Tensor::from_f64_slice(&mask, x.shape(), x.dtype())
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.generator("generator", &self.gen);
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
