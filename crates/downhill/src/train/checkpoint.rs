//! Checkpoint files: tensors and JSON state in one safetensors file, written
//! atomically; large float arrays of the JSON state (optimizer moments) are
//! stored as exact `f64` tensors instead of text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::nn::{tensors_from_bytes, tensors_to_bytes_with_metadata, write_atomic};
use crate::{Error, Result, Tensor};

/// The metadata key holding the JSON state.
const STATE_KEY: &str = "downhill.state";
/// Arrays at least this long move from JSON into tensors.
const EXTERNALIZE_MIN: usize = 16;
/// Prefix of the tensors that hold externalized JSON arrays.
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
    /// rename): a crash at any moment leaves the previous file intact.
    ///
    /// **Errors** on I/O failure.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut state = self.state.clone();
        let mut tensors = self.tensors.clone();
        let mut counter = 0;
        externalize(&mut state, &mut tensors, &mut counter);
        let mut meta = HashMap::new();
        meta.insert(
            STATE_KEY.to_string(),
            serde_json::to_string(&state).expect("JSON values serialize"),
        );
        let bytes = tensors_to_bytes_with_metadata(&tensors, Some(meta))?;
        write_atomic(path, &bytes)
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

fn externalize(v: &mut Value, tensors: &mut Vec<(String, Tensor)>, counter: &mut usize) {
    match v {
        Value::Array(a) if a.len() >= EXTERNALIZE_MIN && a.iter().all(|x| x.is_f64()) => {
            let data: Vec<f64> = a.iter().map(|x| x.as_f64().expect("checked")).collect();
            let key = format!("{counter}");
            *counter += 1;
            let n = data.len();
            tensors.push((format!("{ARRAY_PREFIX}{key}"), Tensor::from_vec(data, &[n])));
            *v = serde_json::json!({ "$array": key });
        }
        Value::Array(a) => a.iter_mut().for_each(|x| externalize(x, tensors, counter)),
        Value::Object(o) => o
            .values_mut()
            .for_each(|x| externalize(x, tensors, counter)),
        _ => {}
    }
}

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
    fn state_arrays_round_trip_exactly_through_tensors() {
        let small: Vec<f32> = (0..40).map(|i| (i as f32 * 0.1).sin() / 3.0).collect();
        let big: Vec<f64> = (0..100).map(|i| (i as f64).sqrt() * 1e-7).collect();
        let state = serde_json::json!({"a": small, "nested": [{"b": big, "step": 3}], "ints": (0..20).collect::<Vec<u32>>()});
        let ck = Checkpoint {
            tensors: vec![("w".into(), Tensor::ones(&[2, 2]))],
            state: state.clone(),
        };
        let dir = std::env::temp_dir().join(format!("downhill-ck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("epoch-000001.safetensors");
        ck.save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back.state, state);
        let a: Vec<f32> = serde_json::from_value(back.state["a"].clone()).unwrap();
        assert_eq!(a, small);
        assert_eq!(back.tensors.len(), 1);
        assert_eq!(latest_checkpoint(&dir), Some(p));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
