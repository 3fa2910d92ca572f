//! The flat, contiguous buffer behind a tensor, tagged with its element type.

use super::element::{DType, Element};

/// Row-major contiguous elements of one dtype.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Storage {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Storage {
    pub(crate) fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
        }
    }

    /// Converts to another dtype (a copy even when the dtype is the same).
    pub(crate) fn to_dtype(&self, dtype: DType) -> Storage {
        match (self, dtype) {
            (Storage::F32(v), DType::F32) => Storage::F32(v.clone()),
            (Storage::F64(v), DType::F64) => Storage::F64(v.clone()),
            (Storage::F32(v), DType::F64) => Storage::F64(v.iter().map(|&x| x as f64).collect()),
            (Storage::F64(v), DType::F32) => Storage::F32(v.iter().map(|&x| x as f32).collect()),
        }
    }

    pub(crate) fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Storage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Storage::F64(v) => v.clone(),
        }
    }
}

/// Conversion between a typed `Vec` and [`Storage`]; lets kernels be generic.
pub(crate) trait HasStorage: Element {
    fn wrap(v: Vec<Self>) -> Storage;
    /// The elements back out of a storage of this dtype (None for the other).
    fn unwrap(s: Storage) -> Option<Vec<Self>>;
}

impl HasStorage for f32 {
    fn wrap(v: Vec<Self>) -> Storage {
        Storage::F32(v)
    }
    fn unwrap(s: Storage) -> Option<Vec<Self>> {
        match s {
            Storage::F32(v) => Some(v),
            Storage::F64(_) => None,
        }
    }
}

impl HasStorage for f64 {
    fn wrap(v: Vec<Self>) -> Storage {
        Storage::F64(v)
    }
    fn unwrap(s: Storage) -> Option<Vec<Self>> {
        match s {
            Storage::F64(v) => Some(v),
            Storage::F32(_) => None,
        }
    }
}

/// Runs a generic block on the typed slice of a storage: `dispatch!(storage, |s| ...)`
/// where `s: &[T]` and `T` is bound to the element type inside the block.
macro_rules! dispatch {
    ($storage:expr, |$s:ident : $T:ident| $body:expr) => {
        match $storage {
            $crate::tensor::storage::Storage::F32($s) => {
                #[allow(unused)]
                type $T = f32;
                let $s: &[f32] = &$s[..];
                $body
            }
            $crate::tensor::storage::Storage::F64($s) => {
                #[allow(unused)]
                type $T = f64;
                let $s: &[f64] = &$s[..];
                $body
            }
        }
    };
}
pub(crate) use dispatch;
