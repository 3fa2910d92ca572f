//! Saving and loading parameters and buffers as safetensors, with PyTorch's
//! names and layouts (row-major, little-endian), so files go both ways.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::Module;
use crate::{DType, Error, Result, Tensor};

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub use crate::file::{write_atomic, write_atomic_with};

/// Streams named tensors as a safetensors file to `w`: the header, then
/// each tensor's little-endian bytes straight from its memory (one
/// `write_all` per tensor on a little-endian machine, converted in small
/// pieces on a big-endian one: no copy of the data is made). Tensors are
/// laid out f64 first, then by name, as the `safetensors` crate does, so
/// every tensor is aligned to its element size.
///
/// **Errors** on a duplicate name or I/O failure.
pub fn write_safetensors(
    w: &mut dyn Write,
    named: &[(String, Tensor)],
    metadata: Option<&HashMap<String, String>>,
) -> std::io::Result<()> {
    let mut order: Vec<&(String, Tensor)> = named.iter().collect();
    order.sort_by(|(a, ta), (b, tb)| {
        tb.dtype()
            .size_in_bytes()
            .cmp(&ta.dtype().size_in_bytes())
            .then(a.cmp(b))
    });
    let mut header = serde_json::Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), serde_json::json!(m));
    }
    let mut offset = 0usize;
    for (name, t) in &order {
        let (dtype, size) = match t.dtype() {
            DType::F32 => ("F32", 4),
            DType::F64 => ("F64", 8),
        };
        let end = offset + t.numel() * size;
        let info =
            serde_json::json!({"dtype": dtype, "shape": t.shape(), "data_offsets": [offset, end]});
        if header.insert(name.clone(), info).is_some() || name == "__metadata__" {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("tensor name {name} is used twice"),
            ));
        }
        offset = end;
    }
    let mut head = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    head.resize(head.len().next_multiple_of(8), b' ');
    w.write_all(&(head.len() as u64).to_le_bytes())?;
    w.write_all(&head)?;
    let mut buf = Vec::new();
    for (_, t) in order {
        match t.dtype() {
            DType::F32 => t.with_data::<f32, _>(|v| write_le(w, v, &mut buf))?,
            DType::F64 => t.with_data::<f64, _>(|v| write_le(w, v, &mut buf))?,
        }
    }
    Ok(())
}

/// Writes `values` as little-endian bytes: their memory itself where that
/// is the machine's order, else converted through `buf` in 64 KiB pieces.
fn write_le<T: crate::Element + bytemuck::Pod>(
    w: &mut dyn Write,
    values: &[T],
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    if cfg!(target_endian = "little") {
        return w.write_all(bytemuck::cast_slice(values));
    }
    for piece in values.chunks(8192) {
        buf.clear();
        T::extend_le_bytes(piece, buf);
        w.write_all(buf)?;
    }
    Ok(())
}

/// Serializes named tensors to safetensors bytes.
///
/// **Errors** if the serializer rejects the data (duplicate names).
pub fn tensors_to_bytes(named: &[(String, Tensor)]) -> Result<Vec<u8>> {
    tensors_to_bytes_with_metadata(named, None)
}

/// Like [`tensors_to_bytes`], with string metadata in the header
/// (`__metadata__`, which PyTorch's loader ignores).
///
/// **Errors** if the serializer rejects the data (duplicate names).
pub fn tensors_to_bytes_with_metadata(
    named: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(n, t)| {
            let mut b = Vec::new();
            let dt = match t.dtype() {
                DType::F32 => {
                    t.with_data::<f32, _>(|v| crate::Element::extend_le_bytes(v, &mut b));
                    Dtype::F32
                }
                DType::F64 => {
                    t.with_data::<f64, _>(|v| crate::Element::extend_le_bytes(v, &mut b));
                    Dtype::F64
                }
            };
            (n.clone(), dt, t.shape().to_vec(), b)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, dt, s, b)| {
            (
                n.clone(),
                TensorView::new(*dt, s.clone(), b).expect("sizes agree by construction"),
            )
        })
        .collect();
    safetensors::serialize(views, metadata).map_err(|e| Error::InvalidArgument {
        name: "safetensors".into(),
        message: e.to_string(),
    })
}

/// Saves `named` tensors to a safetensors file, atomically.
///
/// **Errors** on I/O failure.
pub fn save_tensors(named: &[(String, Tensor)], path: impl AsRef<Path>) -> Result<()> {
    write_atomic_with(path.as_ref(), |w| write_safetensors(w, named, None))
}

/// Reads every tensor of a safetensors file (f32 and f64 kept; f16, bf16 and
/// integer types converted to f32; the order is the file's).
///
/// **Errors** if the file cannot be read or is not valid safetensors.
pub fn load_tensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    tensors_from_bytes(&bytes, path)
}

/// Parses safetensors bytes (`path` names the source in errors), the tensors
/// in name order.
///
/// **Errors** if the bytes are not valid safetensors or hold an unsupported dtype.
pub fn tensors_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bad = |m: String| Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: m,
    };
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let d = view.data();
        let t = match view.dtype() {
            Dtype::F32 => Tensor::from_vec(f32::from_le_bytes_slice(d), &shape),
            Dtype::F64 => Tensor::from_vec(f64::from_le_bytes_slice(d), &shape),
            Dtype::I64 => Tensor::from_vec(
                d.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect::<Vec<_>>(),
                &shape,
            ),
            Dtype::I32 => Tensor::from_vec(
                d.chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f32)
                    .collect::<Vec<_>>(),
                &shape,
            ),
            other => {
                return Err(bad(format!(
                    "tensor {name}: dtype {other:?} is not supported (f32, f64, i32, i64)"
                )))
            }
        };
        out.push((name, t));
    }
    // The header is a map: order by name so every reader sees the same list.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

use crate::Element as _;

/// Saves a module's parameters and buffers (its `state_dict`) to a
/// safetensors file that PyTorch's `model.load_state_dict(safetensors.torch.load_file(path))`
/// accepts for the same architecture. Written atomically.
///
/// **Errors** on I/O failure.
///
/// ```
/// use downhill::nn::{save_safetensors, load_safetensors, Linear, Module};
/// use downhill::Generator;
/// let dir = std::env::temp_dir().join(format!("downhill-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let a = Linear::new(3, 2, true, &mut Generator::new(1));
/// save_safetensors(&a, dir.join("m.safetensors")).unwrap();
/// let b = Linear::new(3, 2, true, &mut Generator::new(2));
/// load_safetensors(&b, dir.join("m.safetensors")).unwrap();
/// assert_eq!(a.weight.to_vec_f64(), b.weight.to_vec_f64());
/// ```
pub fn save_safetensors(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    save_tensors(&module.state_dict(), path)
}

/// Loads parameters and buffers saved by downhill or PyTorch into `module`.
/// Values of another float dtype are converted (as PyTorch's `copy_` does).
///
/// **Errors** with every mismatch listed (missing names, unexpected names,
/// shape differences), leaving the module untouched; or on I/O and format errors.
pub fn load_safetensors(module: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let file: HashMap<String, Tensor> = load_tensors(path)?.into_iter().collect();
    let ours = module.state_dict();
    let mut problems = Vec::new();
    for (name, t) in &ours {
        match file.get(name) {
            None => problems.push(format!("missing {name} {:?}", t.shape())),
            Some(f) if f.shape() != t.shape() => problems.push(format!(
                "{name}: shape {:?} in the file, {:?} in the model",
                f.shape(),
                t.shape()
            )),
            Some(_) => {}
        }
    }
    let mut unexpected: Vec<&String> = file
        .keys()
        .filter(|k| !ours.iter().any(|(n, _)| n == *k))
        .collect();
    unexpected.sort();
    for k in unexpected {
        problems.push(format!("unexpected {k} {:?}", file[k].shape()));
    }
    if !problems.is_empty() {
        return Err(Error::StateMismatch {
            path: path.to_path_buf(),
            problems,
        });
    }
    for (name, t) in &ours {
        t.assign_(&file[name]);
    }
    Ok(())
}
