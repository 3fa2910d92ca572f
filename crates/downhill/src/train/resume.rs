//! Checkpointing a [`Trainer`]: its complete state as a [`Checkpoint`], and
//! restoring it so a run continues bit-identically.

use serde_json::{json, Value};

use super::checkpoint::{list_checkpoints, Checkpoint};
use super::config::Schedule;
use super::trainer::{RunState, Trainer};
use crate::{DType, Error, Result, Tensor};

pub(super) fn deep_copy(t: &Tensor) -> Tensor {
    match t.dtype() {
        DType::F32 => Tensor::from_vec(t.to_vec::<f32>(), t.shape()),
        DType::F64 => Tensor::from_vec(t.to_vec::<f64>(), t.shape()),
    }
}

impl Trainer {
    /// The complete training state: model tensors, optimizer and schedule
    /// state, generators, loader, counters, history, best weights, extra.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut tensors: Vec<(String, Tensor)> = self
            .model
            .state_dict()
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), deep_copy(&t)))
            .collect();
        if let Some(best) = &self.best_weights {
            tensors.extend(best.iter().map(|(n, t)| (format!("best.{n}"), t.clone())));
        }
        let schedule = match &self.schedule {
            Schedule::None => json!({"kind": "none"}),
            Schedule::PerEpoch(s) => json!({"kind": "epoch", "state": s.state_dict()}),
            Schedule::PerStep(s) => json!({"kind": "step", "state": s.state_dict()}),
            Schedule::Plateau(s) => json!({"kind": "plateau", "state": s.state_dict()}),
        };
        let order: Vec<&String> = tensors.iter().map(|(n, _)| n).collect();
        let state = json!({
            "format": "downhill-checkpoint/1",
            "run": serde_json::to_value(&self.state).expect("run state serializes"),
            "optimizer": self.optimizer.state_dict(),
            "schedule": schedule,
            "generators": serde_json::to_value(self.model.named_generators()).expect("generators serialize"),
            "extra": self.extra,
            "tensor_order": order,
        });
        Checkpoint { tensors, state }
    }

    /// Restores a state taken by [`Trainer::checkpoint`] (from memory or a
    /// file) into this trainer, whose model, optimizer and schedule must have
    /// the same structure.
    ///
    /// **Errors** naming every mismatched tensor, or malformed state; the
    /// model is left untouched when the tensors do not match.
    pub fn restore(&mut self, ck: &Checkpoint, source: &std::path::Path) -> Result<()> {
        let bad = |m: String| Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            column: 0,
            message: m,
        };
        if ck.state.get("format").and_then(Value::as_str) != Some("downhill-checkpoint/1") {
            return Err(bad("not a downhill training checkpoint".into()));
        }
        let own = self.model.state_dict();
        let mut problems = vec![];
        let mut pairs = vec![];
        for (name, t) in &own {
            match ck
                .tensors
                .iter()
                .find(|(n, _)| n.strip_prefix("model.") == Some(name))
            {
                None => problems.push(format!("missing {name}")),
                Some((_, s)) if s.shape() != t.shape() || s.dtype() != t.dtype() => {
                    problems.push(format!(
                        "{name}: checkpoint {:?} {:?}, model {:?} {:?}",
                        s.shape(),
                        s.dtype(),
                        t.shape(),
                        t.dtype()
                    ))
                }
                Some((_, s)) => pairs.push((t.clone(), s.clone())),
            }
        }
        for (n, _) in &ck.tensors {
            if let Some(m) = n.strip_prefix("model.") {
                if !own.iter().any(|(o, _)| o == m) {
                    problems.push(format!("unexpected {m}"));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::StateMismatch {
                path: source.to_path_buf(),
                problems,
            });
        }
        let run: RunState = serde_json::from_value(ck.state["run"].clone())
            .map_err(|e| bad(format!("run state: {e}")))?;
        let gens: Vec<(String, crate::Generator)> =
            serde_json::from_value(ck.state["generators"].clone())
                .map_err(|e| bad(format!("generators: {e}")))?;
        self.optimizer.load_state_dict(&ck.state["optimizer"])?;
        let sched = &ck.state["schedule"];
        let kind = sched["kind"].as_str().unwrap_or("none");
        match (&mut self.schedule, kind) {
            (Schedule::None, "none") => {}
            (Schedule::PerEpoch(s), "epoch") | (Schedule::PerStep(s), "step") => {
                s.load_state_dict(&sched["state"])?
            }
            (Schedule::Plateau(s), "plateau") => s.load_state_dict(&sched["state"])?,
            _ => {
                return Err(bad(format!(
                    "the checkpoint's schedule ({kind}) differs from this run's"
                )))
            }
        }
        for (t, s) in pairs {
            t.assign_(&s);
        }
        self.model.load_generators(&gens)?;
        let best: Vec<(String, Tensor)> = ck
            .tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix("best.").map(|m| (m.to_string(), t.clone())))
            .collect();
        self.best_weights = (!best.is_empty()).then_some(best);
        self.state = run;
        self.extra = ck.state["extra"].clone();
        Ok(())
    }

    /// Loads a checkpoint file and restores it ([`Trainer::restore`]); a
    /// following [`Trainer::fit`] continues the run bit-identically.
    ///
    /// **Errors** if the file cannot be read or does not match.
    pub fn resume_from(&mut self, path: &std::path::Path) -> Result<()> {
        let ck = Checkpoint::load(path)?;
        self.restore(&ck, path)
    }

    pub(super) fn save_epoch_checkpoint(&self) -> Result<()> {
        let Some(dir) = &self.config.checkpoint_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        let path = dir.join(format!("epoch-{:06}.safetensors", self.state.epoch));
        self.checkpoint().save(&path)?;
        let all = list_checkpoints(dir);
        let keep = self.config.keep_last.max(1);
        if all.len() > keep {
            for old in &all[..all.len() - keep] {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(())
    }
}
