//! [`update_bn`]: batch-norm statistics re-estimated for new weights
//! (`torch.optim.swa_utils.update_bn`).

use super::Module;
use crate::Tensor;

/// Re-estimates the running statistics of every [`BatchNorm`](super::BatchNorm)
/// layer of `model` by one pass over `inputs`, as
/// `torch.optim.swa_utils.update_bn` does after weight averaging (the
/// averaged weights never produced the statistics the layers hold): each
/// layer's statistics are reset (mean 0, variance 1), its momentum set to
/// `None` — a cumulative average, so after k batches running_mean is the
/// mean of the k batch means (and running_var of the k unbiased batch
/// variances) — the model is run forward in training mode on every input
/// (without building a graph), and then each layer's momentum and the
/// model's mode are put back. The model's random generators (Dropout's) are
/// restored too, so the pass draws nothing from a run's streams.
///
/// Returns false, touching nothing, if the model has no batch norm.
///
/// ```
/// use downhill::nn::{update_bn, BatchNorm, Module, Sequential};
/// use downhill::Tensor;
/// let mut m = Sequential::new().push(BatchNorm::new(1));
/// let batches = [vec![1.0f32, 3.0], vec![5.0, 7.0, 9.0]]
///     .map(|b| { let n = b.len(); Tensor::from_vec(b, &[n, 1]) });
/// assert!(update_bn(&mut m, batches));
/// let mean = m.named_buffers()[0].1.to_vec_f64()[0];
/// assert!((mean - 4.5).abs() < 1e-6); // (2 + 7)/2: batch means averaged
/// ```
pub fn update_bn(model: &mut dyn Module, inputs: impl IntoIterator<Item = Tensor>) -> bool {
    let mut momenta = vec![];
    let mut was_training = None;
    model.for_each_batch_norm(&mut |bn| {
        bn.reset_running_stats();
        was_training.get_or_insert(bn.is_training());
        momenta.push(bn.momentum.take());
    });
    let Some(was_training) = was_training else {
        return false;
    };
    let generators = model.named_generators();
    model.train();
    crate::no_grad(|| {
        for x in inputs {
            model.forward(&x);
        }
    });
    let mut saved = momenta.into_iter();
    model.for_each_batch_norm(&mut |bn| {
        bn.momentum = saved.next().expect("the same layers are visited twice");
    });
    model.set_training(was_training);
    model
        .load_generators(&generators)
        .expect("the model's own generators are restored");
    true
}
