//! The end-of-epoch policies, in the order they run on an [`EpochSummary`]:
//! validation, the epoch record, the learning-rate schedule, the best value
//! (best weights, `best.safetensors`), early stopping, the log line, the
//! history (in memory and CSV), callbacks, and the epoch checkpoint.

use super::config::{Control, Schedule, TrainConfig};
use super::data_parallel::any_process;
use super::epoch_summary::EpochSummary;
use super::history::{write_history_csv, EpochRecord};
use super::metrics::evaluate;
use super::progress::Progress;
use super::reduced_metrics::evaluate_sharded;
use super::stopping::{Monitor, StopReason};
use super::trainer::Trainer;
use super::Metrics;
use crate::data::Dataset;
use crate::{Error, Result};

/// The monitored value of `record`: `train_loss`, or `val_<metric>` when the
/// validation set gave that metric.
pub(super) fn monitored(monitor: &Monitor, record: &EpochRecord) -> Option<f64> {
    let m = &monitor.metric;
    if m == "train_loss" {
        return Some(record.train_loss);
    }
    m.strip_prefix("val_")
        .and_then(|k| record.val.get(k).copied())
}

/// The summary line printed every `log_every` epochs (and for the last), or
/// `None` when this epoch is not logged.
pub(super) fn log_line(cfg: &TrainConfig, record: &EpochRecord, stopping: bool) -> Option<String> {
    let epoch = record.epoch;
    let due = epoch.is_multiple_of(cfg.log_every.max(1)) || epoch == cfg.epochs || stopping;
    if cfg.log_every == 0 || !due {
        return None;
    }
    let mut line = format!(
        "epoch {epoch:>w$}/{}  train_loss {:.4}",
        cfg.epochs,
        record.train_loss,
        w = cfg.epochs.to_string().len()
    );
    for (k, v) in &record.val {
        if matches!(k.as_str(), "loss" | "accuracy" | "f1_macro" | "rmse" | "r2") {
            line.push_str(&format!("  val_{k} {v:.4}"));
        }
    }
    line.push_str(&format!("  lr {:.3e}", record.lr));
    Some(line)
}

/// Whether an epoch checkpoint is due: every `checkpoint_every` epochs and
/// for the run's last epoch.
pub(super) fn checkpoint_due(cfg: &TrainConfig, epoch: usize, last: bool) -> bool {
    last || epoch.is_multiple_of(cfg.checkpoint_every.max(1))
}

impl Trainer {
    /// Closes the epoch of `summary`: every policy in order. `clock` gives the
    /// run's wall-clock seconds so far; `last_val` receives the monitored
    /// value for the progress bar.
    ///
    /// # Errors
    /// On I/O failure writing `best.safetensors`, the history CSV or the
    /// checkpoint.
    pub(super) fn end_epoch(
        &mut self,
        summary: &EpochSummary,
        val: Option<&dyn Dataset>,
        clock: &dyn Fn() -> f64,
        progress: &Progress,
        last_val: &mut String,
    ) -> Result<()> {
        let epoch = summary.epoch;
        self.state.epoch = epoch;
        // Validate, keep and save the weights to evaluate (schedule-free: x).
        self.optimizer.eval();
        let val = self.validate(val);
        let record = EpochRecord {
            epoch,
            step: self.state.step,
            lr: self.optimizer.lr(0),
            train_loss: summary.mean_loss(),
            val,
            seconds: clock(),
        };
        self.state.seconds = record.seconds;
        let value = monitored(&self.config.monitor, &record);
        if !self.average_after_epoch(epoch) && !self.swalr_in_charge() {
            self.step_schedule(value);
        }
        if let Some(v) = value {
            self.track_best(epoch, v)?;
        }
        self.check_plateau();
        *last_val = value.map_or(String::new(), |m| {
            format!(" {} {m:.4}", self.config.monitor.metric)
        });
        let root = self.comm.is_root();
        if let Some(line) = log_line(&self.config, &record, self.state.stopped.is_some()) {
            if root {
                progress.println(line);
            }
        }
        self.state.history.push(record.clone());
        if let (Some(p), true) = (&self.config.history_csv, root) {
            write_history_csv(p, &self.state.history, self.config.loss_is_scaled)?;
        }
        let mut stop = [false, self.interrupted()];
        for cb in &mut self.callbacks {
            stop[0] |= cb.on_epoch_end(&record) == Control::Stop;
        }
        any_process(self.comm.as_ref(), &mut stop);
        if stop[0] {
            self.state.stopped.get_or_insert(StopReason::Callback);
        }
        if stop[1] {
            self.state.stopped.get_or_insert(StopReason::Interrupted);
        }
        let last = self.state.stopped.is_some() || self.state.epoch >= self.config.epochs;
        if root && checkpoint_due(&self.config, epoch, last) {
            self.save_epoch_checkpoint()?;
        }
        self.optimizer.train();
        Ok(())
    }

    /// Metrics of the model (in eval mode) on the validation set, if any.
    fn validate(&mut self, val: Option<&dyn Dataset>) -> Metrics {
        let Some(v) = val else {
            return Metrics::default();
        };
        self.model.eval();
        let m = if self.comm.size() == 1 {
            evaluate(self.model.as_ref(), self.loss.as_ref(), v)
        } else {
            evaluate_sharded(
                self.model.as_ref(),
                self.loss.as_ref(),
                v,
                self.comm.as_ref(),
            )
        };
        self.model.train();
        m
    }

    /// Steps a per-epoch schedule, or feeds ReduceLROnPlateau the monitored value.
    fn step_schedule(&mut self, value: Option<f64>) {
        match &mut self.schedule {
            Schedule::PerEpoch(s) => s.step(self.optimizer.as_mut()),
            Schedule::Plateau(s) => {
                if let Some(m) = value {
                    s.step(m, self.optimizer.as_mut())
                }
            }
            _ => {}
        }
    }

    /// Records `value` of `epoch` as the best if it improves: keeps the
    /// weights (when they are to be restored) and writes `best.safetensors`
    /// (when checkpointing); otherwise counts a bad epoch.
    fn track_best(&mut self, epoch: usize, value: f64) -> Result<()> {
        let es = self.config.early_stopping.as_ref();
        let min_delta = es.map_or(0.0, |e| e.min_delta);
        if !self
            .config
            .monitor
            .improves(value, self.state.best, min_delta)
        {
            self.state.bad_epochs += 1;
            return Ok(());
        }
        self.state.best = Some(value);
        self.state.best_epoch = epoch;
        self.state.bad_epochs = 0;
        if es.is_some_and(|e| e.restore_best) {
            let own = self.model.state_dict();
            self.best_weights = Some(own.iter().map(|(n, t)| (n.clone(), t.detach())).collect());
        }
        if let Some(dir) = self.checkpoint_dir() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: dir.clone(),
                source: e,
            })?;
            crate::nn::save_safetensors(self.model.as_ref(), dir.join("best.safetensors"))?;
        }
        Ok(())
    }

    /// Early stopping: stops on a plateau of `patience` bad epochs.
    fn check_plateau(&mut self) {
        let Some(es) = &self.config.early_stopping else {
            return;
        };
        if self.state.bad_epochs >= es.patience.max(1) {
            self.state.stopped.get_or_insert(StopReason::Plateau);
            self.state.message = format!(
                "{} did not improve for {} epochs (best {:.6} at epoch {})",
                self.config.monitor.metric,
                self.state.bad_epochs,
                self.state.best.unwrap_or(f64::NAN),
                self.state.best_epoch
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TensorDataset;
    use crate::loss::MseLoss;
    use crate::nn::{Linear, Module};
    use crate::optim::Sgd;
    use crate::train::EarlyStopping;
    use crate::{Generator, Tensor};

    fn record(epoch: usize, train_loss: f64, val: &[(&str, f64)]) -> EpochRecord {
        EpochRecord {
            epoch,
            step: epoch * 3,
            lr: 0.01,
            train_loss,
            val: val.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            seconds: 0.0,
        }
    }

    #[test]
    fn the_monitored_value_comes_from_training_or_validation() {
        let r = record(1, 0.5, &[("accuracy", 0.9)]);
        assert_eq!(monitored(&Monitor::new("train_loss"), &r), Some(0.5));
        assert_eq!(monitored(&Monitor::new("val_accuracy"), &r), Some(0.9));
        assert_eq!(monitored(&Monitor::new("val_loss"), &r), None);
    }

    #[test]
    fn log_lines_come_every_n_epochs_the_last_and_when_stopping() {
        let cfg = TrainConfig {
            epochs: 10,
            log_every: 3,
            ..TrainConfig::default()
        };
        let r = |e| record(e, 0.25, &[("accuracy", 0.5), ("precision", 0.1)]);
        assert_eq!(log_line(&cfg, &r(1), false), None);
        assert_eq!(
            log_line(&cfg, &r(3), false).as_deref(),
            Some("epoch  3/10  train_loss 0.2500  val_accuracy 0.5000  lr 1.000e-2")
        );
        assert!(log_line(&cfg, &r(10), false).is_some());
        assert!(log_line(&cfg, &r(4), true).is_some());
        let silent = TrainConfig {
            log_every: 0,
            ..cfg
        };
        assert_eq!(log_line(&silent, &r(10), true), None);
    }

    #[test]
    fn checkpoints_are_due_every_k_epochs_and_at_the_end() {
        let cfg = TrainConfig {
            checkpoint_every: 2,
            ..TrainConfig::default()
        };
        assert!(!checkpoint_due(&cfg, 1, false));
        assert!(checkpoint_due(&cfg, 2, false));
        assert!(checkpoint_due(&cfg, 3, true));
    }

    fn trainer(config: TrainConfig) -> Trainer {
        let model = Linear::new(1, 1, true, &mut Generator::new(0));
        let opt = Sgd::default()
            .lr(0.1)
            .build(model.trainable_parameters())
            .unwrap();
        Trainer::new(
            Box::new(model),
            Box::new(MseLoss::default()),
            Box::new(opt),
            config,
        )
    }

    fn summary(epoch: usize, loss: f64) -> EpochSummary {
        EpochSummary {
            epoch,
            loss_sum: loss * 2.0,
            batches: 2,
            diverged: None,
            unfinished: false,
        }
    }

    #[test]
    fn early_stopping_counts_bad_epochs_keeps_the_best_and_stops_on_a_plateau() {
        let mut t = trainer(TrainConfig {
            epochs: 100,
            monitor: Monitor::new("train_loss"),
            early_stopping: Some(EarlyStopping::new(2)),
            progress: false,
            ..TrainConfig::default()
        });
        let p = Progress::new(0, false);
        let mut last_val = String::new();
        for (e, loss) in [(1, 1.0), (2, 0.5), (3, 0.7)] {
            t.end_epoch(&summary(e, loss), None, &|| 0.0, &p, &mut last_val)
                .unwrap();
        }
        assert_eq!(
            (t.state.best, t.state.best_epoch, t.state.bad_epochs),
            (Some(0.5), 2, 1)
        );
        assert!(t.state.stopped.is_none() && t.best_weights.is_some());
        assert_eq!(last_val, " train_loss 0.7000");
        t.end_epoch(&summary(4, 0.6), None, &|| 0.0, &p, &mut last_val)
            .unwrap();
        assert_eq!(t.state.stopped, Some(StopReason::Plateau));
        assert_eq!(
            t.state.message,
            "train_loss did not improve for 2 epochs (best 0.500000 at epoch 2)"
        );
        assert_eq!(t.history().len(), 4);
        assert_eq!(t.history()[3].train_loss, 0.6);
    }

    #[test]
    fn validation_fills_the_record_and_leaves_the_model_in_training_mode() {
        let mut t = trainer(TrainConfig {
            progress: false,
            ..TrainConfig::default()
        });
        let val = TensorDataset::regression(
            Tensor::from_vec(vec![0.0f32, 1.0], &[2, 1]),
            &Tensor::from_vec(vec![0.0f32, 1.0], &[2, 1]),
        );
        let p = Progress::new(0, false);
        let mut last_val = String::new();
        t.end_epoch(&summary(1, 1.0), Some(&val), &|| 1.5, &p, &mut last_val)
            .unwrap();
        let r = &t.history()[0];
        assert!(
            r.val.contains_key("loss") && r.val.contains_key("rmse"),
            "{:?}",
            r.val
        );
        assert_eq!(
            (r.seconds, t.state.seconds, t.state.best_epoch),
            (1.5, 1.5, 1)
        );
        assert!(last_val.starts_with(" val_loss "));
    }
}
