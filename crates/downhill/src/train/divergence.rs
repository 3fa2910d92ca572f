//! The divergence policy: what counts as divergence (a non-finite or
//! exploding batch loss, a non-finite gradient, an epoch whose mean loss
//! rose far above the first), and the response (roll back to the start of
//! the epoch with halved learning rates, or stop naming a smaller rate).

use super::stopping::DivergencePolicy;
use crate::{DType, Gradients, Tensor};

/// The thresholds of [`TrainConfig`](super::TrainConfig) that define divergence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Guard {
    /// A batch loss above this multiple of the run's first loss diverged.
    pub(super) explode_factor: f64,
    /// An epoch mean above this multiple of the run's first loss diverged.
    pub(super) epoch_explode_factor: f64,
}

impl Guard {
    /// The thresholds of `cfg`.
    pub(super) fn from_config(cfg: &super::TrainConfig) -> Self {
        Guard {
            explode_factor: cfg.explode_factor,
            epoch_explode_factor: cfg.epoch_explode_factor,
        }
    }

    /// Why the batch loss `lv` of step `step` (1-based) diverged, if it did.
    pub(super) fn batch_loss(&self, step: usize, lv: f64, first: Option<f64>) -> Option<String> {
        let exploded = first.is_some_and(|f| lv > self.explode_factor * f.abs().max(1e-12));
        (!lv.is_finite() || exploded).then(|| format!("step {step}: the loss is {lv:e}"))
    }

    /// Why an epoch whose mean training loss is `mean` diverged, if it did.
    pub(super) fn epoch_mean(&self, epoch: usize, mean: f64, first: Option<f64>) -> Option<String> {
        let f = first?;
        (mean > self.epoch_explode_factor * f.abs().max(1e-12)).then(|| {
            format!(
                "epoch {epoch}: the mean training loss {mean:e} is over {}× the first loss {f:e}",
                self.epoch_explode_factor
            )
        })
    }
}

/// Why the gradients of step `step` diverged (one is not finite), if they did.
pub(super) fn non_finite_gradient(step: usize, grads: &Gradients) -> Option<String> {
    grads.iter().find(|(_, g)| !all_finite(g)).map(|(_, g)| {
        format!(
            "step {step}: a gradient of shape {:?} is not finite",
            g.shape()
        )
    })
}

fn all_finite(t: &Tensor) -> bool {
    match t.dtype() {
        DType::F32 => t.with_data::<f32, _>(|d| d.iter().all(|x| x.is_finite())),
        DType::F64 => t.with_data::<f64, _>(|d| d.iter().all(|x| x.is_finite())),
    }
}

/// The response to a divergence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Restore the start of the epoch and halve the rates: rollback number
    /// `attempt` of at most `max`.
    RollBack { attempt: usize, max: usize },
    /// Stop the run.
    Stop,
}

/// What `policy` says after `rollbacks` earlier rollbacks in the run, given
/// whether a snapshot of the epoch's start exists.
pub(super) fn verdict(policy: DivergencePolicy, rollbacks: usize, snapshot: bool) -> Verdict {
    match policy {
        DivergencePolicy::Rollback { max_retries } if snapshot && rollbacks < max_retries => {
            Verdict::RollBack {
                attempt: rollbacks + 1,
                max: max_retries,
            }
        }
        _ => Verdict::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARD: Guard = Guard {
        explode_factor: 1e4,
        epoch_explode_factor: 10.0,
    };

    #[test]
    fn a_batch_loss_diverges_when_not_finite_or_exploding() {
        assert_eq!(GUARD.batch_loss(1, 3.0, None), None);
        assert_eq!(GUARD.batch_loss(2, 3.0e4, Some(3.0)), None);
        assert_eq!(
            GUARD.batch_loss(2, 3.1e4, Some(3.0)).as_deref(),
            Some("step 2: the loss is 3.1e4")
        );
        assert!(GUARD.batch_loss(1, f64::NAN, None).is_some());
        assert!(GUARD.batch_loss(1, f64::INFINITY, Some(1.0)).is_some());
        // A first loss of 0 still leaves room (|f| floored at 1e-12).
        assert_eq!(GUARD.batch_loss(5, 1e-9, Some(0.0)), None);
    }

    #[test]
    fn an_epoch_diverges_when_its_mean_rose_tenfold() {
        assert_eq!(GUARD.epoch_mean(1, 100.0, None), None);
        assert_eq!(GUARD.epoch_mean(1, 10.0, Some(1.0)), None);
        let m = GUARD.epoch_mean(3, 11.0, Some(1.0)).unwrap();
        assert_eq!(
            m,
            "epoch 3: the mean training loss 1.1e1 is over 10× the first loss 1e0"
        );
    }

    #[test]
    fn a_non_finite_gradient_is_named_by_its_shape() {
        let w = Tensor::zeros(&[2, 3]).requires_grad_(true);
        let mut g = Gradients::new();
        g.insert(&w, Tensor::zeros(&[2, 3]));
        assert_eq!(non_finite_gradient(1, &g), None);
        g.insert(
            &w,
            Tensor::from_vec(vec![0.0f32, 1.0, f32::NAN, 0.0, 0.0, 0.0], &[2, 3]),
        );
        assert_eq!(
            non_finite_gradient(4, &g).as_deref(),
            Some("step 4: a gradient of shape [2, 3] is not finite")
        );
    }

    #[test]
    fn rollbacks_are_counted_and_need_a_snapshot() {
        let p = DivergencePolicy::Rollback { max_retries: 2 };
        assert_eq!(
            verdict(p, 0, true),
            Verdict::RollBack { attempt: 1, max: 2 }
        );
        assert_eq!(
            verdict(p, 1, true),
            Verdict::RollBack { attempt: 2, max: 2 }
        );
        assert_eq!(verdict(p, 2, true), Verdict::Stop);
        assert_eq!(verdict(p, 0, false), Verdict::Stop);
        assert_eq!(verdict(DivergencePolicy::Stop, 0, true), Verdict::Stop);
    }
}
