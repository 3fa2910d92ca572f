//! [`Linear`]: y = x·Wᵀ + b.

use super::{Module, Visitor};
use crate::{DType, Generator, Tensor};

/// A dense layer, `nn.Linear`: y = x·Wᵀ + b with W [out, in] and b `[out]`,
/// initialized like PyTorch (W and b uniform in ±1/√in).
///
/// ```
/// use downhill::nn::{Linear, Module};
/// use downhill::{Generator, Tensor};
/// let fc = Linear::new(3, 2, true, &mut Generator::new(0));
/// assert_eq!(fc.forward(&Tensor::zeros(&[5, 3])).shape(), &[5, 2]);
/// assert_eq!(fc.num_parameters(), 8);
/// ```
pub struct Linear {
    /// [out_features, in_features].
    pub weight: Tensor,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// An f32 layer with PyTorch's default initialization.
    pub fn new(in_features: usize, out_features: usize, bias: bool, gen: &mut Generator) -> Self {
        Self::with_dtype(in_features, out_features, bias, DType::F32, gen)
    }

    /// The same in the given dtype (f64 for gradient checks).
    pub fn with_dtype(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight = Tensor::uniform_dtype(&[out_features, in_features], -bound, bound, dtype, gen)
            .requires_grad_(true);
        let bias = bias.then(|| {
            Tensor::uniform_dtype(&[out_features], -bound, bound, dtype, gen).requires_grad_(true)
        });
        Linear { weight, bias }
    }

    /// [`Linear::with_dtype`] for sizes that come from outside (a command
    /// line, a config): the same layer and draws, but a weight too large to
    /// allocate is an error instead of an abort.
    ///
    /// ```
    /// use downhill::nn::Linear;
    /// use downhill::{DType, Generator};
    /// let mut g = Generator::new(0);
    /// assert!(Linear::try_with_dtype(64, 10, true, DType::F32, &mut g).is_ok());
    /// assert!(Linear::try_with_dtype(1 << 40, 1 << 30, true, DType::F32, &mut g).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) naming the
    /// shape that could not be allocated.
    pub fn try_with_dtype(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> crate::Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight =
            Tensor::try_uniform_dtype(&[out_features, in_features], -bound, bound, dtype, gen)?
                .requires_grad_(true);
        let bias = match bias {
            true => Some(
                Tensor::try_uniform_dtype(&[out_features], -bound, bound, dtype, gen)?
                    .requires_grad_(true),
            ),
            false => None,
        };
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        crate::ops::linear(x, &self.weight, self.bias.as_ref())
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}
