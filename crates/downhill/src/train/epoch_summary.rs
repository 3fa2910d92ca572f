//! [`EpochSummary`]: what one epoch's batches amounted to, the record the
//! epoch runner returns and every end-of-epoch decision reads.

/// What one epoch's batches amounted to; the end-of-epoch policies decide on
/// it (after [`Reducer::reduce_epoch`](super::Reducer::reduce_epoch)).
#[derive(Clone, Debug, PartialEq)]
pub struct EpochSummary {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Sum of the batch losses seen.
    pub loss_sum: f64,
    /// Batches seen.
    pub batches: usize,
    /// What diverged, if something did (the step was not applied).
    pub diverged: Option<String>,
    /// Whether the epoch stopped before its last batch (interrupted): the run
    /// can continue from the same batch.
    pub unfinished: bool,
}

impl EpochSummary {
    /// The mean training loss over the batches seen (NaN if none).
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.batches as f64
    }
}
