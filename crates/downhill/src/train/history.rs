//! The per-epoch record of a run, and its CSV file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Metrics;
use crate::Result;

/// One epoch of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: usize,
    /// Learning rate (first group) during the epoch.
    pub lr: f64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Validation metrics (empty without a validation set).
    pub val: Metrics,
    /// Wall-clock seconds since training started (resumed runs continue the count).
    pub seconds: f64,
}

/// Writes the history as CSV: `epoch,step,lr,train_loss,val_<metric>…,seconds`
/// (validation columns in name order), atomically. With `loss_is_scaled`
/// the loss columns are `train_loss_scaled` and `val_loss_scaled`: the loss
/// was computed on standardized targets, the other metrics are in the
/// target's units.
///
/// **Errors** on I/O failure.
pub fn write_history_csv(path: &Path, history: &[EpochRecord], loss_is_scaled: bool) -> Result<()> {
    let metric_names: Vec<&String> = history
        .iter()
        .flat_map(|r| r.val.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let suffix = if loss_is_scaled { "_scaled" } else { "" };
    let mut s = format!("epoch,step,lr,train_loss{suffix}");
    for m in &metric_names {
        s.push_str(",val_");
        s.push_str(m);
        if m.as_str() == "loss" {
            s.push_str(suffix);
        }
    }
    s.push_str(",seconds\n");
    for r in history {
        s.push_str(&format!("{},{},{},{}", r.epoch, r.step, r.lr, r.train_loss));
        for m in &metric_names {
            s.push(',');
            if let Some(v) = r.val.get(*m) {
                s.push_str(&v.to_string());
            }
        }
        s.push_str(&format!(",{:.3}\n", r.seconds));
    }
    crate::nn::write_atomic(path, s.as_bytes())
}
