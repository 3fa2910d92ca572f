//! [`Trainer::fit`]: the training loop — epochs run by the epoch runner,
//! each followed by the divergence policy or the end-of-epoch policies,
//! until a stop condition — and the checks before it and the report after.

use std::time::Instant;

use super::config::{FitInfo, Report};
use super::data_parallel::{broadcast_model, check_same_run};
use super::divergence::Guard;
use super::epoch::EpochContext;
use super::progress::Progress;
use super::stopping::{Monitor, StopReason};
use super::trainer::Trainer;
use crate::data::{DataLoader, Dataset};
use crate::{Error, Result};

impl Trainer {
    /// Trains on `train`, evaluating on `val` after every epoch, until a stop
    /// condition; continues from the current state (a resumed checkpoint or
    /// an earlier `fit`), so raising `epochs` and calling again goes on.
    ///
    /// **Errors** on I/O failure writing checkpoints or the history, or if
    /// the monitored metric needs a validation set that is missing.
    pub fn fit(&mut self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<Report> {
        if rayon::current_thread_index().is_none() {
            // Run the loop on a pool thread: each parallel op then shares its
            // work with the other workers instead of being handed to the pool
            // and waited for (LeNet step, 1 thread: 273 → 319 steps/s).
            return rayon::scope(|_| self.fit_and_flush(train, val));
        }
        self.fit_and_flush(train, val)
    }

    /// [`Trainer::fit_on_pool`], then the wait for the last checkpoint's
    /// sync and rename, so every file is in place when `fit` returns
    /// (the run's own error, if any, wins over a failed sync).
    fn fit_and_flush(&mut self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<Report> {
        let report = self.fit_on_pool(train, val);
        let flushed = self.finish_pending_write();
        let report = report?;
        flushed?;
        Ok(report)
    }

    fn fit_on_pool(&mut self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<Report> {
        self.check_monitor(val.is_some())?;
        self.check_memory(train)?;
        self.swap_out_average();
        self.start_data_parallel(train, val)?;
        let started = Instant::now();
        let base_seconds = self.state.seconds;
        let clock = || base_seconds + started.elapsed().as_secs_f64();
        let c = &self.config;
        let loader = self.state.loader.get_or_insert_with(|| {
            DataLoader::new(train.len(), c.batch_size, c.shuffle, c.drop_last, c.seed)
        });
        let per_epoch = loader.num_batches().div_ceil(c.accumulate.max(1));
        let total = c
            .max_steps
            .map_or(per_epoch * c.epochs, |s| s.min(per_epoch * c.epochs));
        let progress = Progress::new(total as u64, c.progress && self.comm.is_root());
        progress.set_position(self.state.step as u64);
        if self.state.stopped.take() == Some(StopReason::Interrupted) {
            self.state.message.clear();
        }
        let fit_info = FitInfo {
            samples_per_epoch: (loader.num_batches() * loader.batch_size()).min(train.len()),
            steps_per_epoch: per_epoch,
            epochs: c.epochs,
            start_epoch: self.state.epoch,
            start_step: self.state.step,
            start_seconds: base_seconds,
            monitor: c.monitor.metric.clone(),
        };
        for cb in &mut self.callbacks {
            cb.on_fit_start(&fit_info);
        }
        let guard = Guard::from_config(&self.config);
        let mut ctx = EpochContext {
            train,
            params: self.optimizer.params(),
            progress: &progress,
            last_val: String::new(),
        };
        // Train from the training point (schedule-free: y; a run resumed
        // from a checkpoint saved in eval mode, or a second fit, holds x).
        self.optimizer.train();
        while self.state.epoch < self.config.epochs && self.state.stopped.is_none() {
            let snapshot = self.rollback_snapshot();
            let mut summary = self.run_epoch(&mut ctx)?;
            self.reducer.reduce_epoch(&mut summary);
            if summary.diverged.is_none() && summary.batches > 0 {
                let first = self.state.first_loss;
                summary.diverged = guard.epoch_mean(summary.epoch, summary.mean_loss(), first);
            }
            if let Some(what) = &summary.diverged {
                if self.on_divergence(what, summary.epoch, snapshot, &progress)? {
                    continue;
                }
                break;
            }
            if summary.unfinished {
                self.save_partial_checkpoint()?;
                break;
            }
            if summary.batches == 0 {
                break;
            }
            self.end_epoch(&summary, val, &clock, &progress, &mut ctx.last_val)?;
        }
        progress.finish();
        // The report names the checkpoint on disk: let its write finish.
        self.finish_pending_write()?;
        let report = self.finish_run();
        self.swap_in_average(train);
        for cb in &mut self.callbacks {
            cb.on_fit_end(&report);
        }
        Ok(report)
    }

    /// A data-parallel run's start: every rank checks it was given the same
    /// run, then takes rank 0's parameters and buffers.
    fn start_data_parallel(&self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<()> {
        let batch = match self.config.batch_size {
            crate::data::BatchSize::Full => 0,
            crate::data::BatchSize::Size(n) => n,
        };
        let params: usize = self.model.state_dict().iter().map(|(_, t)| t.numel()).sum();
        check_same_run(
            self.comm.as_ref(),
            &[
                ("training samples", train.len() as f64),
                ("validation samples", val.map_or(0, |v| v.len()) as f64),
                ("model elements", params as f64),
                ("batch size", batch as f64),
                ("seed", self.config.seed as f64),
                ("accumulate", self.config.accumulate as f64),
                ("epochs done", self.state.epoch as f64),
                ("steps done", self.state.step as f64),
            ],
        )?;
        broadcast_model(self.model.as_ref(), self.comm.as_ref());
        Ok(())
    }

    /// A `val_` monitor needs a validation set; without one `val_loss` falls
    /// back to `train_loss`.
    fn check_monitor(&mut self, has_val: bool) -> Result<()> {
        let metric = &self.config.monitor.metric;
        if has_val || !metric.starts_with("val_") {
            return Ok(());
        }
        if metric == "val_loss" {
            self.config.monitor = Monitor::new("train_loss");
            return Ok(());
        }
        Err(Error::InvalidArgument {
            name: "monitor".into(),
            message: format!("{metric} needs a validation set"),
        })
    }

    /// The report of a run that ended: why, with the best weights put back
    /// when early stopping asks for them.
    fn finish_run(&mut self) -> Report {
        // The model a run leaves is the one to evaluate (schedule-free: x).
        self.optimizer.eval();
        let stopped = self.state.stopped.clone().unwrap_or(StopReason::Budget);
        if stopped == StopReason::Budget && self.state.message.is_empty() {
            self.state.message = match self.config.max_steps {
                Some(m) if self.state.step >= m => format!("step budget ({m} steps)"),
                _ => format!("epoch budget ({} epochs)", self.config.epochs),
            };
        }
        if stopped == StopReason::Interrupted {
            self.state.message = self.interrupted_message();
        }
        let restore = self
            .config
            .early_stopping
            .as_ref()
            .is_some_and(|e| e.restore_best);
        if let (Some(best), true) = (&self.best_weights, restore) {
            for (n, t) in &self.model.state_dict() {
                if let Some((_, b)) = best.iter().find(|(m, _)| m == n) {
                    t.assign_(b);
                }
            }
        }
        Report {
            stopped_because: stopped,
            message: self.state.message.clone(),
            epochs_run: self.state.epoch,
            steps: self.state.step,
            best_epoch: self.state.best_epoch,
            best_value: self.state.best,
            history: self.state.history.clone(),
        }
    }
}
