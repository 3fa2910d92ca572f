//! [`Sequential`]: modules applied one after another.

use super::{Module, Visitor};
use crate::Tensor;

/// Applies its modules in order; the i-th module's names are prefixed `i.`
/// (PyTorch's `nn.Sequential` naming).
///
/// ```
/// use downhill::nn::{Module, Sequential};
/// use downhill::Tensor;
/// struct Double;
/// impl Module for Double {
///     fn forward(&self, x: &Tensor) -> Tensor { x * 2.0 }
///     fn visit(&self, _v: &mut dyn downhill::nn::Visitor) {}
/// }
/// let m = Sequential::new().push(Double).push(Double);
/// assert_eq!(m.forward(&Tensor::scalar(1.0f32)).item(), 4.0);
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a module (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn push(mut self, m: impl Module + 'static) -> Self {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push_boxed(&mut self, m: Box<dyn Module>) {
        self.layers.push(m);
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True if there are no modules.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The i-th module.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|m| &**m)
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        for m in &self.layers {
            y = m.forward(&y);
        }
        y
    }

    fn visit(&self, v: &mut dyn Visitor) {
        for (i, m) in self.layers.iter().enumerate() {
            v.child(&i.to_string(), &**m);
        }
    }

    fn set_training(&mut self, training: bool) {
        for m in &mut self.layers {
            m.set_training(training);
        }
    }

    fn for_each_batch_norm(&mut self, f: &mut dyn FnMut(&mut super::BatchNorm)) {
        for m in &mut self.layers {
            m.for_each_batch_norm(f);
        }
    }
}
