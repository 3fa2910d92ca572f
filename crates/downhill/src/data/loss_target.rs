//! [`Target`]: what a loss compares its input with, class indices or a
//! tensor. Batches produce it ([`Targets::as_target`](super::Targets::as_target))
//! and losses consume it, so it lives here, below both (re-exported as
//! `downhill::loss::Target`).

use crate::Tensor;

/// What a loss compares the input with: class indices or a tensor.
///
/// ```
/// use downhill::data::Target;
/// use downhill::Tensor;
/// let labels = vec![0usize, 2];
/// assert!(matches!(Target::from(&labels), Target::Indices(i) if i == [0, 2]));
/// let t = Tensor::zeros(&[2]);
/// assert!(matches!(Target::from(&t), Target::Tensor(_)));
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// One class index per sample (classification).
    Indices(&'a [usize]),
    /// Values, probabilities or labels with the input's shape.
    Tensor(&'a Tensor),
}

impl<'a> From<&'a Tensor> for Target<'a> {
    fn from(t: &'a Tensor) -> Self {
        Target::Tensor(t)
    }
}

impl<'a> From<&'a [usize]> for Target<'a> {
    fn from(t: &'a [usize]) -> Self {
        Target::Indices(t)
    }
}

impl<'a> From<&'a Vec<usize>> for Target<'a> {
    fn from(t: &'a Vec<usize>) -> Self {
        Target::Indices(t)
    }
}
