//! The update of one optimizer step: gradient accumulation over micro-batches,
//! the reduction seam (where a distributed run averages gradients across
//! workers), clipping, and the optimizer's step — through
//! [`Optimizer::step_with_closure`], so closure-based optimizers (L-BFGS)
//! can re-evaluate the step's batches.

use super::divergence::non_finite_gradient;
use super::epoch_summary::EpochSummary;
use crate::optim::{clip_grad_norm, clip_grad_value, Optimizer};
use crate::{Gradients, Result, Tensor};

/// Where the numbers of several workers are combined before anything is
/// decided on them. A single process uses [`LocalReducer`], which leaves
/// everything as it is; a data-parallel run (one process per shard, PyTorch
/// DDP / Horovod style) sums them with an allreduce
/// ([`Trainer::with_communicator`](super::Trainer::with_communicator)).
///
/// The trainer calls [`Reducer::reduce_step`] once per optimizer step, after
/// backward and accumulation and before the divergence checks, clipping and
/// the step (and again for every re-evaluation of a closure-based
/// optimizer), and [`Reducer::reduce_epoch`] once per epoch before any
/// end-of-epoch decision (divergence, validation, schedule, early stopping).
///
/// Each worker's numbers are already weighted by its share of the step's
/// samples, so the sum over workers is the global mean.
///
/// ```
/// use downhill::train::{EpochSummary, Reducer};
/// use downhill::Gradients;
///
/// /// Counts the steps it sees (a real one would allreduce).
/// struct Counting(usize);
/// impl Reducer for Counting {
///     fn reduce_step(&mut self, _grads: &mut Gradients, _losses: &mut [f64]) {
///         self.0 += 1;
///     }
///     fn reduce_epoch(&mut self, _summary: &mut EpochSummary) {}
/// }
/// let mut r = Counting(0);
/// let (mut g, mut losses) = (Gradients::new(), [0.5]);
/// r.reduce_step(&mut g, &mut losses);
/// assert_eq!(r.0, 1);
/// ```
pub trait Reducer: Send {
    /// Sums, in place and over every worker, one step's accumulated
    /// gradients and the loss of each of its micro-batches (each worker's
    /// loss weighted by its share of the micro-batch's samples).
    fn reduce_step(&mut self, grads: &mut Gradients, losses: &mut [f64]);
    /// Combines an epoch's summary (loss sum, batch count, divergence) in place.
    fn reduce_epoch(&mut self, summary: &mut EpochSummary);
}

/// The single-process [`Reducer`]: changes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalReducer;

impl Reducer for LocalReducer {
    fn reduce_step(&mut self, _grads: &mut Gradients, _losses: &mut [f64]) {}
    fn reduce_epoch(&mut self, _summary: &mut EpochSummary) {}
}

/// Sums the gradients of `k` micro-batches (each loss scaled by 1/k) into one
/// step's gradients, and keeps each micro-batch's loss value.
pub(super) struct Accumulator {
    k: usize,
    pending: Option<Gradients>,
    losses: Vec<f64>,
}

impl Accumulator {
    /// Accumulates over `k` batches per step (0 and 1 both mean no accumulation).
    pub(super) fn new(k: usize) -> Self {
        Accumulator {
            k: k.max(1),
            pending: None,
            losses: Vec::with_capacity(k.max(1)),
        }
    }

    /// Backward of one micro-batch's loss, scaled by 1/k when accumulating.
    pub(super) fn backward(&self, loss: &Tensor) -> Gradients {
        scaled_backward(loss, self.k)
    }

    /// Adds one micro-batch's gradients and loss value.
    pub(super) fn add(&mut self, grads: Gradients, loss: f64) {
        match self.pending.as_mut() {
            None => self.pending = Some(grads),
            Some(p) => p.accumulate(grads),
        }
        self.losses.push(loss);
    }

    /// Whether a step is due: `k` batches are in, or the epoch's last batch is.
    pub(super) fn ready(&self, last_batch: bool) -> bool {
        self.losses.len() >= self.k || last_batch
    }

    /// Micro-batches accumulated since the last step.
    pub(super) fn micro(&self) -> usize {
        self.losses.len()
    }

    /// The step's gradients and its micro-batches' losses; starts the next
    /// step empty.
    ///
    /// # Panics
    /// If no batch was added since the last call.
    pub(super) fn take(&mut self) -> (Gradients, Vec<f64>) {
        let grads = self
            .pending
            .take()
            .expect("Accumulator::take: no batch added");
        (grads, std::mem::take(&mut self.losses))
    }
}

/// The mean of a step's micro-batch losses (summed in order).
pub(super) fn mean_loss(losses: &[f64]) -> f64 {
    losses.iter().sum::<f64>() / losses.len() as f64
}

fn scaled_backward(loss: &Tensor, k: usize) -> Gradients {
    if k > 1 {
        loss.mul_scalar(1.0 / k as f64).backward()
    } else {
        loss.backward()
    }
}

/// Gradient clipping before each step (value first, then norm, as PyTorch
/// recipes apply them).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Clip {
    pub(super) value: Option<f64>,
    pub(super) norm: Option<f64>,
}

impl Clip {
    fn apply(&self, params: &[Tensor], grads: &Gradients) -> Result<()> {
        if let Some(v) = self.value {
            clip_grad_value(params, grads, v);
        }
        if let Some(n) = self.norm {
            clip_grad_norm(params, grads, n, 2.0, false)?;
        }
        Ok(())
    }
}

/// One optimizer step from the accumulated gradients, already reduced
/// ([`Reducer::reduce_step`]): refuse non-finite gradients (returning what
/// diverged, the step not applied), clip, show the gradients to
/// `before_step` (the callbacks), step. `reevaluate` recomputes the step's
/// (this worker's weighted) loss and accumulated gradients at the current
/// parameters; only closure-based optimizers call it (every call is reduced
/// and clipped like the first).
///
/// Returns the step's mean loss, or the divergence message.
///
/// # Errors
/// Only from clipping (never, as it runs with `error_if_nonfinite = false`).
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_update(
    optimizer: &mut dyn Optimizer,
    params: &[Tensor],
    grads: Gradients,
    loss: f64,
    step: usize,
    clip: Clip,
    reducer: &mut dyn Reducer,
    reevaluate: &mut dyn FnMut() -> (f64, Gradients),
    before_step: &mut dyn FnMut(&Gradients),
) -> Result<std::result::Result<f64, String>> {
    if let Some(what) = non_finite_gradient(step, &grads) {
        return Ok(Err(what));
    }
    clip.apply(params, &grads)?;
    before_step(&grads);
    let mut first = Some((loss, grads));
    let mut closure = || match first.take() {
        Some(evaluated) => evaluated,
        None => {
            let (l, mut g) = reevaluate();
            let mut losses = [l];
            reducer.reduce_step(&mut g, &mut losses);
            clip.apply(params, &g)
                .expect("clip_grad_norm only errs with error_if_nonfinite");
            (losses[0], g)
        }
    };
    optimizer.step_with_closure(&mut closure);
    Ok(Ok(loss))
}

/// The closure's re-evaluation of one step: forward, loss and (scaled)
/// backward over every batch of the step, accumulated like the first pass;
/// the loss is the mean over the batches. `forward_loss` gives this
/// worker's (weighted) loss of a batch, or `None` when its share of the
/// batch is empty.
pub(super) fn evaluate_step(
    batches: &[&[usize]],
    k: usize,
    forward_loss: &mut dyn FnMut(&[usize]) -> Option<Tensor>,
) -> (f64, Gradients) {
    let mut acc = Accumulator::new(k);
    for idx in batches {
        match forward_loss(idx) {
            Some(loss) => {
                let lv = loss.item();
                acc.add(scaled_backward(&loss, k), lv);
            }
            None => acc.add(Gradients::new(), 0.0),
        }
    }
    let (g, losses) = acc.take();
    (mean_loss(&losses), g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Lbfgs, Sgd};

    fn quadratic(w: &Tensor, c: f64) -> Tensor {
        // ½‖w − c‖², gradient w − c.
        (w - c).square().sum().mul_scalar(0.5)
    }

    #[test]
    fn accumulating_k_scaled_batches_sums_their_gradients() {
        let w = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).requires_grad_(true);
        let mut acc = Accumulator::new(2);
        let l1 = quadratic(&w, 0.0);
        acc.add(acc.backward(&l1), l1.item());
        assert!(!acc.ready(false));
        let l2 = quadratic(&w, 1.0);
        acc.add(acc.backward(&l2), l2.item());
        assert!(acc.ready(false));
        let (g, losses) = acc.take();
        // (w/2) + (w − 1)/2 = (0.5, 1.5)
        assert_eq!(g.get(&w).unwrap().to_vec_f64(), vec![0.5, 1.5]);
        assert_eq!(losses, vec![2.5, 0.5]);
        assert_eq!(mean_loss(&losses), (2.5 + 0.5) / 2.0);
        assert_eq!(acc.micro(), 0);
    }

    #[test]
    fn the_last_batch_of_an_epoch_closes_a_short_step() {
        let mut acc = Accumulator::new(4);
        acc.add(Gradients::new(), 1.0);
        assert!(!acc.ready(false));
        assert!(acc.ready(true));
    }

    #[test]
    fn non_finite_gradients_are_refused_before_the_step() {
        let w = Tensor::from_vec(vec![1.0f64], &[1]).requires_grad_(true);
        let mut opt = Sgd::default().lr(0.1).build(vec![w.clone()]).unwrap();
        let mut g = Gradients::new();
        g.insert(&w, Tensor::from_vec(vec![f64::NAN], &[1]));
        let out = apply_update(
            &mut opt,
            std::slice::from_ref(&w),
            g,
            1.0,
            7,
            Clip::default(),
            &mut LocalReducer,
            &mut || unreachable!("SGD does not re-evaluate"),
            &mut |_: &Gradients| {},
        )
        .unwrap();
        assert!(out.unwrap_err().starts_with("step 7: a gradient"));
        assert_eq!(w.to_vec_f64(), vec![1.0]);
    }

    /// Doubles every gradient: stands in for a sum over two identical workers.
    struct Doubling(usize);
    impl Reducer for Doubling {
        fn reduce_step(&mut self, grads: &mut Gradients, losses: &mut [f64]) {
            self.0 += 1;
            let pairs: Vec<(Tensor, Tensor)> = grads
                .iter()
                .map(|(p, g)| (p.clone(), g.mul_scalar(2.0)))
                .collect();
            for (p, g) in pairs {
                grads.insert(&p, g);
            }
            for l in losses {
                *l *= 2.0;
            }
        }
        fn reduce_epoch(&mut self, _summary: &mut EpochSummary) {}
    }

    #[test]
    fn clipping_acts_on_the_reduced_gradients() {
        let w = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).requires_grad_(true);
        let mut opt = Sgd::default().lr(1.0).build(vec![w.clone()]).unwrap();
        let mut grads = quadratic(&w, 0.0).backward(); // g = (3, 4)
        let mut r = Doubling(0);
        let mut losses = [12.5];
        r.reduce_step(&mut grads, &mut losses);
        let clip = Clip {
            value: Some(7.0),
            norm: None,
        };
        let loss = apply_update(
            &mut opt,
            std::slice::from_ref(&w),
            grads,
            losses[0],
            1,
            clip,
            &mut r,
            &mut || unreachable!(),
            &mut |_: &Gradients| {},
        )
        .unwrap()
        .unwrap();
        // Reduced (6, 8), clipped to (6, 7), stepped with lr 1.
        assert_eq!(w.to_vec_f64(), vec![-3.0, -3.0]);
        assert_eq!((loss, r.0), (25.0, 1));
    }

    #[test]
    fn a_closure_optimizer_re_evaluates_through_the_reducer() {
        let w = Tensor::from_vec(vec![3.0f64, -1.0], &[2]).requires_grad_(true);
        let mut opt = Lbfgs::default().build(vec![w.clone()]).unwrap();
        let l = quadratic(&w, 1.0);
        let (mut lv, mut grads) = ([l.item()], l.backward());
        let mut r = Doubling(0);
        r.reduce_step(&mut grads, &mut lv);
        let mut evals = 0;
        let mut reeval = || {
            evals += 1;
            evaluate_step(&[&[0]], 1, &mut |_| Some(quadratic(&w, 1.0)))
        };
        apply_update(
            &mut opt,
            std::slice::from_ref(&w),
            grads,
            lv[0],
            1,
            Clip::default(),
            &mut r,
            &mut reeval,
            &mut |_: &Gradients| {},
        )
        .unwrap()
        .unwrap();
        assert!(evals >= 1, "L-BFGS re-evaluated {evals} times");
        assert_eq!(r.0, evals + 1);
        // The minimum of 2·½‖w − 1‖² is w = 1.
        for v in w.to_vec_f64() {
            assert!((v - 1.0).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn evaluating_a_step_averages_the_loss_and_scales_the_gradients() {
        let w = Tensor::from_vec(vec![2.0f64], &[1]).requires_grad_(true);
        let cs = [0.0, 2.0];
        let (loss, g) = evaluate_step(&[&[0], &[1]], 2, &mut |idx| Some(quadratic(&w, cs[idx[0]])));
        assert_eq!(loss, (2.0 + 0.0) / 2.0);
        assert_eq!(g.get(&w).unwrap().to_vec_f64(), vec![1.0]);
        // A worker whose share of a batch is empty adds no gradient and 0 loss.
        let (loss, g) = evaluate_step(&[&[0], &[1]], 2, &mut |idx| {
            (idx[0] == 0).then(|| quadratic(&w, 0.0))
        });
        assert_eq!(loss, 1.0);
        assert_eq!(g.get(&w).unwrap().to_vec_f64(), vec![1.0]);
    }
}
