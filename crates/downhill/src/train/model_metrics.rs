//! The metrics of a [`TrainedModel`]: its loss and metrics on a data set
//! encoded by its schema, regression metrics in the target's units.
//!
//! Here rather than in `data` (which defines [`TrainedModel`]) because the
//! loss comes from `loss`, which builds on `data`.

use super::metrics::{evaluate, predict, regression_metrics, Metrics};
use crate::data::{ModelSpec, Task, TensorDataset, TrainedModel};
use crate::nn::Module;
use crate::Result;

impl TrainedModel {
    /// Loss and metrics on a dataset encoded by this model's schema:
    /// accuracy, F1, precision, recall (classification) or RMSE, MAE, R² in
    /// the target's units (regression; the loss is on scaled targets).
    ///
    /// # Errors
    ///
    /// As [`ModelSpec::build_loss`].
    pub fn metrics(&self, data: &TensorDataset) -> Result<Metrics> {
        metrics_on(self.model.as_ref(), &self.spec, data)
    }
}

/// Loss and metrics of `model` (described by `spec`) on `data`: see
/// [`TrainedModel::metrics`].
///
/// # Errors
///
/// As [`ModelSpec::build_loss`].
pub fn metrics_on(model: &dyn Module, spec: &ModelSpec, data: &TensorDataset) -> Result<Metrics> {
    let loss = spec.build_loss()?;
    let mut m = evaluate(model, loss.as_ref(), data);
    if spec.task == Task::Regression {
        let (mut pred, width) = predict(model, data);
        let (truth, w) = data.values().expect("regression data has values");
        let mut truth = truth.to_vec();
        spec.target_scaler.inverse_transform(&mut pred, width);
        spec.target_scaler.inverse_transform(&mut truth, w);
        m.extend(regression_metrics(&pred, &truth, w));
    }
    Ok(m)
}
