//! Checkpointing a [`Trainer`]: its complete state as a [`Checkpoint`]
//! (format 2, see [`super::checkpoint`]), and restoring it — from memory
//! or from a file of format 1 or 2 — so a run continues bit-identically.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::checkpoint::{list_checkpoints, Checkpoint, SavedAt};
use super::config::Schedule;
use super::trainer::{RunState, Trainer};
use crate::optim::OptimizerState;
use crate::{Error, Result, Tensor};

const FORMAT_1: &str = "downhill-checkpoint/1";
const FORMAT_2: &str = "downhill-checkpoint/2";
/// Prefix of the optimizer's state tensors in a checkpoint.
const OPTIM: &str = "optim.";

/// How the tensors of a checkpoint relate to the trainer's.
#[derive(Clone, Copy, PartialEq)]
enum Tensors {
    /// Shared with the trainer (the next step changes them): for writing at once.
    Shared,
    /// Copies: a snapshot that outlives later steps.
    Copied,
}

impl Trainer {
    /// The complete training state — model tensors, optimizer state,
    /// schedule, generators, loader, counters, history, best weights, extra —
    /// as a snapshot: the tensors are copied (no serialization), so it can be
    /// restored with [`Trainer::restore`] after any number of steps (the
    /// divergence guard's rollback point).
    pub fn checkpoint(&self) -> Checkpoint {
        self.capture(Tensors::Copied)
    }

    /// The name of each of the optimizer's parameters in the model (`#i`
    /// for one the model does not hold).
    fn param_names(&self) -> Vec<String> {
        let own = self.model.state_dict();
        self.optimizer
            .params()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                own.iter()
                    .find(|(_, t)| t.same(p))
                    .map_or_else(|| format!("#{i}"), |(n, _)| n.clone())
            })
            .collect()
    }

    fn capture(&self, how: Tensors) -> Checkpoint {
        let copy = |t: &Tensor| match how {
            Tensors::Shared => t.clone(),
            Tensors::Copied => t.detach(),
        };
        let mut tensors: Vec<(String, Tensor)> = self
            .model
            .state_dict()
            .iter()
            .map(|(n, t)| (format!("model.{n}"), copy(t)))
            .collect();
        let mut best_is_model = false;
        if let Some(best) = &self.best_weights {
            // Best weights are private copies, never changed in place: share them.
            if how == Tensors::Shared && self.best_equals_model(best) {
                best_is_model = true;
            } else {
                tensors.extend(best.iter().map(|(n, t)| (format!("best.{n}"), t.clone())));
            }
        }
        let names = self.param_names();
        let opt = self.optimizer.state_dict();
        for (key, t) in &opt.tensors {
            let name = match OptimizerState::split_param_key(key) {
                Some((i, slot)) => match names.get(i) {
                    Some(p) => format!("{OPTIM}{p}.{slot}"),
                    None => format!("{OPTIM}#{i}.{slot}"),
                },
                None => format!("{OPTIM}{key}"),
            };
            tensors.push((name, copy(t)));
        }
        let schedule = match &self.schedule {
            Schedule::None => json!({"kind": "none"}),
            Schedule::PerEpoch(s) => json!({"kind": "epoch", "state": s.state_dict()}),
            Schedule::PerStep(s) => json!({"kind": "step", "state": s.state_dict()}),
            Schedule::Plateau(s) => json!({"kind": "plateau", "state": s.state_dict()}),
        };
        let averaging = self.averaging_checkpoint(&copy);
        if let Some((avg, _)) = &averaging {
            tensors.extend(avg.iter().cloned());
        }
        let order: Vec<&String> = tensors.iter().map(|(n, _)| n).collect();
        let mut state = json!({
            "format": FORMAT_2,
            "run": serde_json::to_value(&self.state).expect("run state serializes"),
            "optimizer": opt.meta,
            "schedule": schedule,
            "generators": serde_json::to_value(self.model.named_generators()).expect("generators serialize"),
            "extra": self.extra,
            "tensor_order": order,
        });
        if best_is_model {
            state["best"] = json!("model");
        }
        if let Some((_, doc)) = averaging {
            state["averaging"] = doc;
        }
        Checkpoint { tensors, state }
    }

    /// True if every best weight has the model's current bits (the best
    /// epoch is the last one): the file then stores them once.
    fn best_equals_model(&self, best: &[(String, Tensor)]) -> bool {
        let own = self.model.state_dict();
        own.len() == best.len()
            && own.iter().zip(best).all(|((na, a), (nb, b))| {
                na == nb
                    && a.shape() == b.shape()
                    && a.dtype() == b.dtype()
                    && match a.dtype() {
                        crate::DType::F32 => a.with_data::<f32, _>(|x| {
                            b.with_data::<f32, _>(|y| {
                                x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
                            })
                        }),
                        crate::DType::F64 => a.with_data::<f64, _>(|x| {
                            b.with_data::<f64, _>(|y| {
                                x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
                            })
                        }),
                    }
            })
    }

    /// Restores a state taken by [`Trainer::checkpoint`] (from memory) or
    /// read from a checkpoint file of format 1 or 2 into this trainer, whose
    /// model, optimizer and schedule must have the same structure. Tensors
    /// are copied in, so a snapshot can be restored more than once.
    ///
    /// **Errors** naming every mismatched tensor, or malformed state; the
    /// model is left untouched when the tensors do not match.
    pub fn restore(&mut self, ck: &Checkpoint, source: &Path) -> Result<()> {
        let bad = |m: String| Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            column: 0,
            message: m,
        };
        let format = ck.state.get("format").and_then(Value::as_str);
        if format != Some(FORMAT_1) && format != Some(FORMAT_2) {
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
        let averaging = self.averaging_of(&ck.tensors, &ck.state["averaging"], &mut problems);
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
        if format == Some(FORMAT_1) {
            self.optimizer.load_state_dict_v1(&ck.state["optimizer"])?;
        } else {
            let opt = self.optimizer_state_of(ck).map_err(bad)?;
            self.optimizer.load_state_dict(&opt)?;
        }
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
        if let Some(r) = averaging {
            self.restore_averaging(r)?;
        }
        self.model.load_generators(&gens)?;
        let best: Vec<(String, Tensor)> = if ck.state["best"] == "model" {
            own.iter().map(|(n, t)| (n.clone(), t.detach())).collect()
        } else {
            ck.tensors
                .iter()
                .filter_map(|(n, t)| n.strip_prefix("best.").map(|m| (m.to_string(), t.clone())))
                .collect()
        };
        self.best_weights = (!best.is_empty()).then_some(best);
        self.state = run;
        // A file written before holds another state now.
        self.saved = None;
        self.extra = ck.state["extra"].clone();
        Ok(())
    }

    /// The optimizer's state of a format-2 checkpoint, its tensors renamed
    /// from parameter names back to the optimizer's indices.
    fn optimizer_state_of(&self, ck: &Checkpoint) -> std::result::Result<OptimizerState, String> {
        let index: HashMap<String, usize> = self
            .param_names()
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        let mut tensors = Vec::new();
        for (name, t) in &ck.tensors {
            let Some(rest) = name.strip_prefix(OPTIM) else {
                continue;
            };
            let key = match rest.rsplit_once('.') {
                None => rest.to_string(),
                Some((param, slot)) => {
                    let i = index
                        .get(param)
                        .copied()
                        .or_else(|| param.strip_prefix('#').and_then(|i| i.parse().ok()))
                        .ok_or_else(|| {
                            format!("optimizer state {name} names no parameter of this model")
                        })?;
                    OptimizerState::param_key(i, slot)
                }
            };
            tensors.push((key, t.clone()));
        }
        Ok(OptimizerState {
            tensors,
            meta: ck.state["optimizer"].clone(),
        })
    }

    /// Loads a checkpoint file and restores it ([`Trainer::restore`]); a
    /// following [`Trainer::fit`] continues the run bit-identically.
    ///
    /// **Errors** if the file cannot be read or does not match.
    pub fn resume_from(&mut self, path: &Path) -> Result<()> {
        let ck = Checkpoint::load(path)?;
        self.restore(&ck, path)
    }

    /// Writes `epoch-NNNNNN.safetensors` (streamed from the trainer's own
    /// tensors, no copy) and removes all but the newest `keep_last`.
    pub(super) fn save_epoch_checkpoint(&mut self) -> Result<()> {
        let name = format!("epoch-{:06}.safetensors", self.state.epoch);
        self.save_checkpoint_file(&name)
    }

    /// Writes the checkpoint file `name` into the checkpoint directory (if
    /// one is set), streamed from the trainer's own tensors (no copy), and
    /// remembers the file as the state of the current step (a rollback
    /// point, see [`Trainer::rollback_snapshot`]). The one writer of the
    /// epoch and the mid-epoch checkpoints.
    ///
    /// Only the writing happens here: the file's sync and rename, then the
    /// removal of all checkpoints but the newest `keep_last`, run on a
    /// thread while training goes on ([`Checkpoint::save_deferred`]); the
    /// next checkpoint, a rollback to this one and the end of
    /// [`Trainer::fit`] wait for them ([`Trainer::finish_pending_write`]).
    ///
    /// # Errors
    /// On I/O failure, this write's or the previous one's.
    pub(super) fn save_checkpoint_file(&mut self, name: &str) -> Result<()> {
        let Some(dir) = self.checkpoint_dir().cloned() else {
            return Ok(());
        };
        self.finish_pending_write()?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        let path = dir.join(name);
        let keep = self.config.keep_last.max(1);
        let (prune_dir, newest) = (dir.clone(), path.clone());
        let prune = move || {
            let all = list_checkpoints(&prune_dir);
            for old in all.iter().take(all.len().saturating_sub(keep)) {
                if *old != newest {
                    let _ = std::fs::remove_file(old);
                }
            }
        };
        let pending = self.capture(Tensors::Shared).save_deferred(&path, prune)?;
        self.pending_write = Some(pending);
        self.saved = Some(SavedAt {
            path,
            step: self.state.step,
            epoch: self.state.epoch,
        });
        Ok(())
    }

    /// Waits for the checkpoint whose sync and rename are still running
    /// (nothing when there is none).
    ///
    /// # Errors
    /// If that sync or rename failed (the file is then absent, and the
    /// previous checkpoints are kept).
    pub(super) fn finish_pending_write(&mut self) -> Result<()> {
        match self.pending_write.take() {
            Some(p) => p.wait(),
            None => Ok(()),
        }
    }

    /// Whether `path` is the checkpoint still being made durable.
    pub(super) fn is_pending(&self, path: &Path) -> bool {
        self.pending_write
            .as_ref()
            .is_some_and(|p| p.path() == path)
    }
}
