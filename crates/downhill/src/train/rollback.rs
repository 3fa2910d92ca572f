//! The response to a divergence applied to the trainer: the snapshot of the
//! epoch's start taken before every epoch, and the rollback to it with
//! halved learning rates, or the stop naming a smaller rate (the policy's
//! [`verdict`]).

use super::checkpoint::{Checkpoint, SavedAt};
use super::config::Schedule;
use super::divergence::{verdict, Verdict};
use super::progress::Progress;
use super::stopping::{DivergencePolicy, StopReason};
use super::trainer::Trainer;
use crate::Result;

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
                    && (s.path.is_file() || self.is_pending(&s.path)) =>
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
                        self.finish_pending_write()?;
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
