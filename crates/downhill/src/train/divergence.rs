//! The divergence policy: what counts as divergence (a non-finite or
//! exploding batch loss, a non-finite gradient, an epoch whose mean loss
//! rose far above the first), and the response (roll back to the start of
//! the epoch with halved learning rates, or stop naming a smaller rate).

use super::checkpoint::{Checkpoint, SavedAt};
use super::config::Schedule;
use super::progress::Progress;
use super::stopping::{DivergencePolicy, StopReason};
use super::trainer::Trainer;
use crate::{DType, Gradients, Result, Tensor};

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

/// The state a rollback returns to: the start of the epoch.
#[derive(Debug)]
pub(super) enum Snapshot {
    /// The epoch checkpoint already on disk holds it (written at the end of
    /// the previous epoch, nothing changed since): no copy in memory.
    File(SavedAt),
    /// A copy of the tensors (no serialization), when no file holds it.
    Memory(Box<Checkpoint>),
}

impl Trainer {
    /// The state to roll back to, taken at the start of every epoch when the
    /// policy may roll back: the checkpoint file written at the current step
    /// if there is one (the epoch checkpoint of the previous epoch, with
    /// `checkpoint_every` 1), else a copy of the tensors in memory (model
    /// and optimizer state: about 3× the parameter bytes for Adam).
    pub(super) fn rollback_snapshot(&self) -> Option<Snapshot> {
        if !matches!(self.config.divergence, DivergencePolicy::Rollback { .. }) {
            return None;
        }
        Some(match &self.saved {
            Some(s)
                if s.step == self.state.step
                    && s.epoch == self.state.epoch
                    && self.state.partial.is_none()
                    && s.path.is_file() =>
            {
                Snapshot::File(s.clone())
            }
            _ => Snapshot::Memory(Box::new(self.checkpoint())),
        })
    }

    /// Applies the policy to the divergence `what` in epoch `epoch`; returns
    /// whether the epoch is to be run again (after a rollback).
    ///
    /// # Errors
    /// If the snapshot cannot be restored (a snapshot in memory was taken
    /// from this trainer, so only a bug makes it fail; a file may have been
    /// removed or damaged since it was written).
    pub(super) fn on_divergence(
        &mut self,
        what: &str,
        epoch: usize,
        snapshot: Option<Snapshot>,
        progress: &Progress,
    ) -> Result<bool> {
        let lr = self.optimizer.lr(0);
        match (
            verdict(
                self.config.divergence,
                self.state.rollbacks,
                snapshot.is_some(),
            ),
            snapshot,
        ) {
            (Verdict::RollBack { attempt, max }, Some(snap)) => {
                match snap {
                    Snapshot::Memory(ck) => self.restore(&ck, std::path::Path::new("<memory>"))?,
                    Snapshot::File(saved) => {
                        self.resume_from(&saved.path)?;
                        self.saved = Some(saved);
                    }
                }
                self.state.rollbacks = attempt;
                self.halve_learning_rates();
                self.state.message = format!(
                    "{what}; rolled back to the start of epoch {epoch} and halved the learning rate to {:e} ({attempt} of {max})",
                    lr / 2.0
                );
                progress.set_position(self.state.step as u64);
                progress.message(self.state.message.clone());
                Ok(true)
            }
            _ => {
                self.state.stopped = Some(StopReason::Divergence);
                self.state.message = format!(
                    "{what}; the step was not applied. The learning rate {lr:e} is too large: try {:e}",
                    lr / 10.0
                );
                Ok(false)
            }
        }
    }

    /// Halves every group's learning rate and the schedule's base rates.
    fn halve_learning_rates(&mut self) {
        for g in 0..self.optimizer.num_groups() {
            let l = self.optimizer.lr(g);
            self.optimizer.set_lr(g, l / 2.0);
        }
        if let Schedule::PerEpoch(s) | Schedule::PerStep(s) = &mut self.schedule {
            let base: Vec<f64> = s.base_lrs().iter().map(|l| l / 2.0).collect();
            let last = s.last_epoch();
            s.reset(base, last);
        }
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
