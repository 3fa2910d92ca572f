//! Checkpoint files: named tensors and a small JSON document in one
//! safetensors file, streamed to disk atomically.
//!
//! Format 2 (`"format": "downhill-checkpoint/2"` in the document) keeps every
//! tensor in its own dtype under one key scheme, readable by Python's
//! `safetensors.safe_open` / `safetensors.torch.load_file`:
//!
//! | key | what |
//! |---|---|
//! | `model.{name}` | the model's parameters and buffers (`{name}` as in its `state_dict`, PyTorch's) |
//! | `best.{name}` | the best weights kept for `restore_best` (absent when they equal the model's: the document then says `"best": "model"`) |
//! | `optim.{name}.{slot}` | the optimizer's state for parameter `{name}`, slot named as PyTorch names it (`optim.0.weight.exp_avg`, `optim.0.weight.exp_avg_sq`) |
//! | `optim.{slot}` | optimizer state shared by all parameters (L-BFGS's `old_dirs`) |
//!
//! The document (metadata key `downhill.state`) holds the optimizer's
//! hyperparameters and step counts, the schedule, the generators, the
//! loader, counters and history. Format 1 (an older JSON optimizer state,
//! its long arrays moved into f64 tensors `__state__.N`) still loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::file::{write_atomic_deferred, PendingWrite};
use crate::nn::{tensors_from_bytes, write_atomic_with, write_safetensors};
use crate::{Error, Result, Tensor};

/// The metadata key holding the JSON state.
const STATE_KEY: &str = "downhill.state";
/// Prefix of the tensors that hold format 1's externalized JSON arrays.
const ARRAY_PREFIX: &str = "__state__.";

/// What a checkpoint holds: named tensors and a JSON document.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Named tensors (model parameters and buffers, best weights, …).
    pub tensors: Vec<(String, Tensor)>,
    /// Everything else (optimizer and schedule state, counters, generators).
    pub state: Value,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (temporary file, fsync,
    /// rename): a crash at any moment leaves the previous file intact. The
    /// tensors are streamed from their memory, not copied.
    ///
    /// **Errors** on I/O failure or a duplicate tensor name.
    pub fn save(&self, path: &Path) -> Result<()> {
        let meta = self.metadata();
        write_atomic_with(path, |w| write_safetensors(w, &self.tensors, Some(&meta)))
    }

    /// Writes the checkpoint like [`Checkpoint::save`], but returns once the
    /// bytes are written: the sync, the rename and then `after` run on a
    /// thread of their own ([`write_atomic_deferred`]), so the file appears
    /// under `path` only when it is on disk.
    ///
    /// # Errors
    /// On I/O failure while writing or a duplicate tensor name; the sync's
    /// and rename's errors come from [`PendingWrite::wait`].
    pub fn save_deferred(
        &self,
        path: &Path,
        after: impl FnOnce() + Send + 'static,
    ) -> Result<PendingWrite> {
        let meta = self.metadata();
        write_atomic_deferred(
            path,
            |w| write_safetensors(w, &self.tensors, Some(&meta)),
            after,
        )
    }

    /// The safetensors metadata: the JSON state under [`STATE_KEY`].
    fn metadata(&self) -> HashMap<String, String> {
        let mut meta = HashMap::new();
        meta.insert(
            STATE_KEY.to_string(),
            serde_json::to_string(&self.state).expect("JSON values serialize"),
        );
        meta
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// **Errors** if the file cannot be read, is not a safetensors file, or
    /// carries no downhill state.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let bad = |m: String| Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: m,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let text = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(STATE_KEY))
            .ok_or_else(|| bad("not a downhill checkpoint (no training state inside)".into()))?;
        let mut state: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("training state: {e}")))?;
        let all = tensors_from_bytes(&bytes, path)?;
        let mut arrays = HashMap::new();
        let mut tensors = Vec::new();
        for (name, t) in all {
            match name.strip_prefix(ARRAY_PREFIX) {
                Some(k) => {
                    arrays.insert(k.to_string(), t);
                }
                None => tensors.push((name, t)),
            }
        }
        internalize(&mut state, &arrays).map_err(bad)?;
        // Keep the order the model visits in: sort by the recorded order if present.
        if let Some(order) = state.get("tensor_order").and_then(Value::as_array) {
            let pos: HashMap<&str, usize> = order
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.as_str().map(|n| (n, i)))
                .collect();
            tensors.sort_by_key(|(n, _)| pos.get(n.as_str()).copied().unwrap_or(usize::MAX));
        }
        Ok(Checkpoint { tensors, state })
    }
}

/// Puts format 1's arrays (`{"$array": key}` placeholders) back into the
/// JSON state.
fn internalize(v: &mut Value, arrays: &HashMap<String, Tensor>) -> std::result::Result<(), String> {
    if let Value::Object(o) = v {
        if o.len() == 1 {
            if let Some(Value::String(key)) = o.get("$array") {
                let t = arrays
                    .get(key)
                    .ok_or_else(|| format!("state array {key} is missing"))?;
                let items = t
                    .to_vec_f64()
                    .into_iter()
                    .map(|x| serde_json::Number::from_f64(x).map(Value::Number))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("state array {key} holds a non-finite value"))?;
                *v = Value::Array(items);
                return Ok(());
            }
        }
        for x in o.values_mut() {
            internalize(x, arrays)?;
        }
    } else if let Value::Array(a) = v {
        for x in a {
            internalize(x, arrays)?;
        }
    }
    Ok(())
}

/// The checkpoint file this trainer wrote last, and the step and epoch whose
/// state it holds.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SavedAt {
    pub(super) path: PathBuf,
    pub(super) step: usize,
    pub(super) epoch: usize,
}

/// The checkpoint files of a run directory, oldest first (`epoch-NNNNNN.safetensors`).
pub fn list_checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("epoch-") && n.ends_with(".safetensors"))
        })
        .collect();
    files.sort();
    files
}

/// The newest checkpoint of a directory, if any.
pub fn latest_checkpoint(dir: &Path) -> Option<PathBuf> {
    list_checkpoints(dir).pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_keep_their_dtype_and_the_state_its_values() {
        let state =
            serde_json::json!({"format": "x", "ints": (0..20).collect::<Vec<u32>>(), "f": 0.1});
        let ck = Checkpoint {
            tensors: vec![
                (
                    "model.w".into(),
                    Tensor::from_vec(vec![0.1f32, 0.2, 0.3, 0.4], &[2, 2]),
                ),
                (
                    "optim.w.m".into(),
                    Tensor::from_vec(vec![1.0f64 / 3.0], &[1]),
                ),
            ],
            state: state.clone(),
        };
        let dir = std::env::temp_dir().join(format!("downhill-ck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("epoch-000001.safetensors");
        ck.save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back.state, state);
        assert_eq!(back.tensors.len(), 2);
        for ((na, a), (nb, b)) in ck.tensors.iter().zip(&back.tensors) {
            assert_eq!((na, a.dtype(), a.shape()), (nb, b.dtype(), b.shape()));
            assert_eq!(a.to_vec_f64(), b.to_vec_f64());
        }
        // The file is what the safetensors crate reads: 4·4 + 8 bytes of data.
        let bytes = std::fs::read(&p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("model.w").unwrap().data().len(), 16);
        assert_eq!(
            st.tensor("optim.w.m").unwrap().dtype(),
            safetensors::Dtype::F64
        );
        assert_eq!(latest_checkpoint(&dir), Some(p));
        // A duplicate name is refused and leaves nothing behind.
        let dup = Checkpoint {
            tensors: vec![
                ("a".into(), Tensor::zeros(&[1])),
                ("a".into(), Tensor::zeros(&[1])),
            ],
            state: serde_json::json!({}),
        };
        assert!(dup.save(&dir.join("dup.safetensors")).is_err());
        assert!(!dir.join("dup.safetensors").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
