//! [`OptimizerState`]: what an optimizer saves — its state as named tensors
//! and a small JSON document of hyperparameters and counters.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{DType, Error, Result, Tensor};

/// An optimizer's state, as [`Optimizer::state_dict`](super::Optimizer::state_dict)
/// returns it: the large state (moments, momentum buffers, histories) as
/// named tensors in the dtype the optimizer keeps them in (the parameters'
/// own for the elementwise rules), and a small metadata document
/// (the optimizer's name, the groups' hyperparameters, step counts and other
/// scalars). No tensor passes through JSON numbers.
///
/// Tensor names follow one scheme: `"{i}.{slot}"` for the state of the
/// `i`-th parameter of [`Optimizer::params`](super::Optimizer::params)
/// (PyTorch's numbering across groups) with the slot named as in PyTorch
/// (`0.exp_avg`, `0.exp_avg_sq`, `3.momentum_buffer`); a name without a
/// dot is state shared by all parameters (L-BFGS's `old_dirs`).
///
/// Like PyTorch's `state_dict()`, the tensors share memory with the
/// optimizer: the next step changes them. Keep a snapshot with
/// [`OptimizerState::deep_copy`]. [`Optimizer::load_state_dict`](super::Optimizer::load_state_dict)
/// copies what it loads, so one snapshot can be restored many times.
///
/// It serializes (serde) with the tensors' bytes as hexadecimal text, exact
/// in every dtype, for callers that want the state as one JSON value.
///
/// ```
/// use downhill::optim::{Adam, Optimizer, OptimizerState};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f32, -2.0], &[2]).requires_grad_(true);
/// let mut opt = Adam::default().build(vec![w.clone()]).unwrap();
/// opt.step(&w.square().sum().backward());
/// let state = opt.state_dict();
/// let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["0.exp_avg", "0.exp_avg_sq"]);
/// assert_eq!(state.tensor("0.exp_avg").unwrap().dtype(), downhill::DType::F32);
/// assert_eq!(state.meta["state"][0][0]["step"], 1);
/// assert_eq!(OptimizerState::split_param_key("0.exp_avg"), Some((0, "exp_avg")));
/// ```
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    /// Named state tensors (see the key scheme above).
    pub tensors: Vec<(String, Tensor)>,
    /// Hyperparameters, step counts and other scalars.
    pub meta: Value,
}

impl OptimizerState {
    /// The name of slot `slot` of parameter `index`: `"{index}.{slot}"`.
    pub fn param_key(index: usize, slot: &str) -> String {
        format!("{index}.{slot}")
    }

    /// Splits a per-parameter name into the parameter's index and the slot;
    /// `None` for shared state (no dot, or no index before it).
    pub fn split_param_key(name: &str) -> Option<(usize, &str)> {
        let (i, slot) = name.split_once('.')?;
        Some((i.parse().ok()?, slot))
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// A copy that no later step changes (every tensor copied).
    pub fn deep_copy(&self) -> OptimizerState {
        OptimizerState {
            tensors: self
                .tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.detach()))
                .collect(),
            meta: self.meta.clone(),
        }
    }

    /// Bytes held by the tensors.
    pub fn nbytes(&self) -> usize {
        self.tensors
            .iter()
            .map(|(_, t)| t.numel() * t.dtype().size_in_bytes())
            .sum()
    }
}

/// `InvalidArgument` naming `"{optimizer} state"`: the error of every
/// `load_state_dict`.
pub(crate) fn state_error(optimizer: &str, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: format!("{optimizer} state"),
        message: message.into(),
    }
}

/// Takes the tensor `name` of `state` with the given shape and dtype, copied.
///
/// **Errors** if it is missing or of another shape or dtype.
pub(crate) fn take_tensor(
    optimizer: &str,
    state: &OptimizerState,
    name: &str,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    let t = state
        .tensor(name)
        .ok_or_else(|| state_error(optimizer, format!("tensor {name} is missing")))?;
    if t.shape() != shape || t.dtype() != dtype {
        return Err(state_error(
            optimizer,
            format!(
                "tensor {name} is {:?} {}, expected {shape:?} {dtype}",
                t.shape(),
                t.dtype()
            ),
        ));
    }
    Ok(t.detach())
}

/// Checks that `meta` was saved by `name`.
///
/// **Errors** naming both optimizers otherwise.
pub(crate) fn check_name(name: &str, meta: &Value) -> Result<()> {
    if meta["optimizer"] != name {
        return Err(state_error(
            name,
            format!("saved by {}, not {name}", meta["optimizer"]),
        ));
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct TensorText {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    /// Little-endian bytes, two hexadecimal digits each.
    data: String,
}

fn to_hex(t: &Tensor) -> String {
    let mut bytes = Vec::new();
    match t.dtype() {
        DType::F32 => t.with_data::<f32, _>(|v| crate::Element::extend_le_bytes(v, &mut bytes)),
        DType::F64 => t.with_data::<f64, _>(|v| crate::Element::extend_le_bytes(v, &mut bytes)),
    }
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn from_hex(t: &TensorText) -> std::result::Result<Tensor, String> {
    let hex = t.data.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(format!("{}: odd number of hexadecimal digits", t.name));
    }
    let bytes = hex
        .chunks_exact(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| format!("{}: not hexadecimal", t.name))?;
    let n = crate::tensor::shape::numel(&t.shape);
    if bytes.len() != n * t.dtype.size_in_bytes() {
        return Err(format!(
            "{}: {} bytes for shape {:?} {}",
            t.name,
            bytes.len(),
            t.shape,
            t.dtype
        ));
    }
    Ok(match t.dtype {
        DType::F32 => Tensor::from_vec(
            <f32 as crate::Element>::from_le_bytes_slice(&bytes),
            &t.shape,
        ),
        DType::F64 => Tensor::from_vec(
            <f64 as crate::Element>::from_le_bytes_slice(&bytes),
            &t.shape,
        ),
    })
}

impl Serialize for OptimizerState {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            tensors: Vec<TensorText>,
            meta: &'a Value,
        }
        Out {
            tensors: self
                .tensors
                .iter()
                .map(|(n, t)| TensorText {
                    name: n.clone(),
                    dtype: t.dtype(),
                    shape: t.shape().to_vec(),
                    data: to_hex(t),
                })
                .collect(),
            meta: &self.meta,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptimizerState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct In {
            tensors: Vec<TensorText>,
            meta: Value,
        }
        let i = In::deserialize(d)?;
        let tensors = i
            .tensors
            .iter()
            .map(|t| from_hex(t).map(|x| (t.name.clone(), x)))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(D::Error::custom)?;
        Ok(OptimizerState {
            tensors,
            meta: i.meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_exactly_in_both_dtypes() {
        let st = OptimizerState {
            tensors: vec![
                (
                    "0.a".into(),
                    Tensor::from_vec(vec![0.1f32, -3e-38, f32::MIN_POSITIVE], &[3]),
                ),
                (
                    "b".into(),
                    Tensor::from_vec(vec![1.0f64 / 3.0, 1e-310], &[1, 2]),
                ),
            ],
            meta: serde_json::json!({"optimizer": "X", "step": 3}),
        };
        let text = serde_json::to_string(&st).unwrap();
        let back: OptimizerState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.meta, st.meta);
        assert_eq!(back.tensors.len(), 2);
        for ((na, a), (nb, b)) in st.tensors.iter().zip(&back.tensors) {
            assert_eq!(na, nb);
            assert_eq!(a.shape(), b.shape());
            assert_eq!(a.dtype(), b.dtype());
            let bits = |t: &Tensor| {
                t.to_vec_f64()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(a), bits(b));
        }
        let bad = text.replace("\"data\":\"", "\"data\":\"zz");
        assert!(serde_json::from_str::<OptimizerState>(&bad).is_err());
    }

    #[test]
    fn deep_copies_do_not_follow_the_original() {
        let t = Tensor::from_vec(vec![1.0f32], &[1]);
        let st = OptimizerState {
            tensors: vec![("0.m".into(), t.clone())],
            meta: Value::Null,
        };
        let copy = st.deep_copy();
        t.update_::<f32, _>(|v| v[0] = 2.0);
        assert_eq!(st.tensors[0].1.to_vec_f64(), [2.0]);
        assert_eq!(copy.tensors[0].1.to_vec_f64(), [1.0]);
        assert_eq!(copy.nbytes(), 4);
    }
}
