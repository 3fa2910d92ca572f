//! A loss on log-probabilities fed by a model that emits logits.

use super::{Loss, Target};
use crate::Tensor;

/// `inner` applied to `log_softmax(input)` over the last dimension: how a
/// model that emits logits (every MLP the [`crate::data::ModelSpec`]
/// pipeline and the command line build) meets `NLLLoss`, which PyTorch
/// users pair with a `LogSoftmax` output layer. With `NllLoss` inside it
/// equals `CrossEntropyLoss` without label smoothing.
///
/// ```
/// use downhill::loss::{CrossEntropyLoss, LogSoftmaxThen, Loss, NllLoss, Target};
/// use downhill::Tensor;
/// let logits = Tensor::from_vec(vec![2.0f64, -1.0, 0.5, 0.0, 3.0, -2.0], &[2, 3]);
/// let target = Target::Indices(&[0, 1]);
/// let nll = LogSoftmaxThen::new(Box::new(NllLoss::default()));
/// let a = nll.forward(&logits, target, &[]).item();
/// let b = CrossEntropyLoss::default().forward(&logits, target, &[]).item();
/// assert!((a - b).abs() < 1e-12);
/// ```
pub struct LogSoftmaxThen(Box<dyn Loss>);

impl LogSoftmaxThen {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Loss>) -> Self {
        LogSoftmaxThen(inner)
    }
}

impl Loss for LogSoftmaxThen {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor {
        self.0.forward(&input.log_softmax(-1), target, extra)
    }
}
