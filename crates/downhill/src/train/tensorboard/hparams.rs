//! Hyperparameters for TensorBoard's HParams plugin: an experiment summary
//! (the table's columns), a session-start summary (the run's values) and a
//! session-end summary (how it ended), each an empty summary value whose
//! metadata carries an `HParamsPluginData` message.

use std::collections::BTreeMap;

use prost::Message;

use super::proto::{
    Experiment, HParamInfo, HParamsData, HParamsPluginData, MetricInfo, MetricName, PluginData,
    ProtoKind, ProtoValue, SessionEndInfo, SessionStartInfo, SummaryMetadata, Value,
};

/// One hyperparameter's value: a number, a string or a boolean.
#[derive(Clone, Debug, PartialEq)]
pub enum HParam {
    /// A number (learning rate, batch size, …).
    Number(f64),
    /// A string (optimizer name, hidden sizes, …).
    Text(String),
    /// A flag.
    Bool(bool),
}

impl From<f64> for HParam {
    fn from(v: f64) -> Self {
        HParam::Number(v)
    }
}

impl From<usize> for HParam {
    fn from(v: usize) -> Self {
        HParam::Number(v as f64)
    }
}

impl From<&str> for HParam {
    fn from(v: &str) -> Self {
        HParam::Text(v.to_string())
    }
}

impl From<String> for HParam {
    fn from(v: String) -> Self {
        HParam::Text(v)
    }
}

impl From<bool> for HParam {
    fn from(v: bool) -> Self {
        HParam::Bool(v)
    }
}

/// How a run (an HParams "session") ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// Finished normally (budget, plateau, callback).
    Success,
    /// Diverged or failed.
    Failure,
    /// Still running (or interrupted).
    Running,
}

/// A run's hyperparameters, and the scalar tags the HParams table shows as
/// metric columns.
///
/// ```
/// use downhill::train::tensorboard::HParams;
///
/// let hp = HParams::new()
///     .with("optimizer", "Adam")
///     .with("lr", 1e-3)
///     .with("batch_size", 32usize)
///     .metric("val/accuracy");
/// assert_eq!(hp.values().len(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HParams {
    values: BTreeMap<String, HParam>,
    metrics: Vec<String>,
    first: Vec<String>,
}

const PLUGIN: &str = "hparams";
/// Tag of the experiment summary.
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// Tag of the session-start summary.
pub const SESSION_START_TAG: &str = "_hparams_/session_start_info";
/// Tag of the session-end summary.
pub const SESSION_END_TAG: &str = "_hparams_/session_end_info";

impl HParams {
    /// No hyperparameters, no metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a hyperparameter.
    pub fn with(mut self, name: &str, value: impl Into<HParam>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    /// Adds a metric column: a scalar tag of the run (e.g. `val/accuracy`;
    /// the table shows its last value). Without any, no experiment summary
    /// is written and TensorBoard lists every scalar tag as a metric.
    pub fn metric(mut self, tag: &str) -> Self {
        if !self.metrics.iter().any(|m| m == tag) {
            self.metrics.push(tag.to_string());
        }
        self
    }

    /// Marks hyperparameters to list first in the HParams tab (TensorBoard
    /// shows the first few columns and hides the rest until ticked).
    pub fn first(mut self, names: &[&str]) -> Self {
        self.first.extend(names.iter().map(|n| n.to_string()));
        self
    }

    /// The hyperparameters by name.
    pub fn values(&self) -> &BTreeMap<String, HParam> {
        &self.values
    }

    /// The metric tags.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// The experiment summary value (the table's columns), or `None` without
    /// metric columns.
    pub fn experiment_value(&self, wall_time: f64) -> Option<Value> {
        if self.metrics.is_empty() {
            return None;
        }
        let hparam_infos = self
            .values
            .iter()
            .map(|(name, v)| HParamInfo {
                name: name.clone(),
                r#type: match v {
                    HParam::Text(_) => 1,
                    HParam::Bool(_) => 2,
                    HParam::Number(_) => 3,
                },
                differs: self.first.contains(name),
            })
            .collect();
        let metric_infos = self
            .metrics
            .iter()
            .map(|tag| MetricInfo {
                name: Some(MetricName {
                    group: String::new(),
                    tag: tag.clone(),
                }),
            })
            .collect();
        Some(plugin_value(
            EXPERIMENT_TAG,
            HParamsData::Experiment(Experiment {
                time_created_secs: wall_time,
                hparam_infos,
                metric_infos,
            }),
        ))
    }

    /// The session-start summary value (the run's hyperparameters).
    pub fn session_start_value(&self, wall_time: f64) -> Value {
        let hparams = self
            .values
            .iter()
            .map(|(name, v)| {
                let kind = match v {
                    HParam::Number(x) => ProtoKind::NumberValue(*x),
                    HParam::Text(s) => ProtoKind::StringValue(s.clone()),
                    HParam::Bool(b) => ProtoKind::BoolValue(*b),
                };
                (name.clone(), ProtoValue { kind: Some(kind) })
            })
            .collect();
        plugin_value(
            SESSION_START_TAG,
            HParamsData::SessionStartInfo(SessionStartInfo {
                hparams,
                group_name: String::new(),
                start_time_secs: wall_time,
            }),
        )
    }
}

/// The session-end summary value.
pub fn session_end_value(status: SessionStatus, wall_time: f64) -> Value {
    let status = match status {
        SessionStatus::Success => 1,
        SessionStatus::Failure => 2,
        SessionStatus::Running => 3,
    };
    plugin_value(
        SESSION_END_TAG,
        HParamsData::SessionEndInfo(SessionEndInfo {
            status,
            end_time_secs: wall_time,
        }),
    )
}

fn plugin_value(tag: &str, data: HParamsData) -> Value {
    let content = HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    Value {
        tag: tag.to_string(),
        metadata: Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: PLUGIN.to_string(),
                content,
            }),
        }),
        kind: None,
    }
}
