//! [`Dataset`]: samples the training loop reads in batches; [`TensorDataset`],
//! the in-memory one.

use super::{Scaler, Table, TargetColumn};
use crate::loss::Target;
use crate::{DType, Tensor};

/// The targets of a batch: class indices or a tensor of values.
#[derive(Clone, Debug)]
pub enum Targets {
    /// One class index per sample.
    Classes(Vec<usize>),
    /// Values, `batch × width` (or the shape the loss expects).
    Values(Tensor),
}

impl Targets {
    /// The targets as a loss [`Target`].
    pub fn as_target(&self) -> Target<'_> {
        match self {
            Targets::Classes(c) => Target::Indices(c),
            Targets::Values(t) => Target::Tensor(t),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(t) => t.shape().first().copied().unwrap_or(1),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch: inputs (`batch × sample shape`) and their targets.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The inputs.
    pub inputs: Tensor,
    /// The targets.
    pub targets: Targets,
}

/// Samples addressed by index, gathered into batches.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The samples at `indices`, in that order, as one batch.
    ///
    /// **Panics** if an index is out of range.
    fn batch(&self, indices: &[usize]) -> Batch;
    /// How value targets were scaled for training, if they were: metrics
    /// such as RMSE and MAE are reported in the target's own units by
    /// undoing it ([`Scaler::inverse_transform`]). `None` by default.
    fn target_scaler(&self) -> Option<&Scaler> {
        None
    }
}

#[derive(Clone, Debug)]
enum TargetStore {
    Classes(Vec<usize>),
    Values { values: Vec<f64>, width: usize },
}

/// An in-memory dataset: one contiguous feature array (`n × sample shape`)
/// in `f32` or `f64`, and class indices or value targets.
///
/// ```
/// use downhill::data::{Dataset, Targets, TensorDataset};
/// use downhill::{DType, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
/// let ds = TensorDataset::classification(x, vec![0, 1, 0]);
/// let b = ds.batch(&[2, 0]);
/// assert_eq!(b.inputs.to_vec_f64(), vec![5.0, 6.0, 1.0, 2.0]);
/// assert!(matches!(b.targets, Targets::Classes(ref c) if c == &[0, 0]));
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    x: Tensor,
    targets: TargetStore,
    target_scaler: Option<Scaler>,
}

impl TensorDataset {
    /// Features `x` (`n × …`) with one class index per sample.
    ///
    /// **Panics** if the counts differ.
    pub fn classification(x: Tensor, classes: Vec<usize>) -> Self {
        assert!(
            x.ndim() >= 1 && x.shape()[0] == classes.len(),
            "TensorDataset: inputs {:?} but {} targets",
            x.shape(),
            classes.len()
        );
        TensorDataset {
            x,
            targets: TargetStore::Classes(classes),
            target_scaler: None,
        }
    }

    /// Features `x` (`n × …`) with `y` (`n × width`) value targets.
    ///
    /// **Panics** if the counts differ.
    pub fn regression(x: Tensor, y: &Tensor) -> Self {
        assert!(
            x.ndim() >= 1 && y.ndim() >= 1 && x.shape()[0] == y.shape()[0],
            "TensorDataset: inputs {:?} but targets {:?}",
            x.shape(),
            y.shape()
        );
        let width = y.numel() / y.shape()[0].max(1);
        TensorDataset {
            x,
            targets: TargetStore::Values {
                values: y.to_vec_f64(),
                width,
            },
            target_scaler: None,
        }
    }

    /// The rows `rows` of a table (features already scaled as wanted), as
    /// `dtype`, with `sample_shape` per sample (e.g. `[1, 8, 8]` for images;
    /// `None` = flat features).
    ///
    /// **Panics** if the table has no target, a row is out of range, or the
    /// sample shape does not hold the features.
    pub fn from_table(
        table: &Table,
        features: &[f64],
        rows: &[usize],
        dtype: DType,
        sample_shape: Option<&[usize]>,
    ) -> Self {
        let d = table.num_features();
        let mut x = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            x.extend_from_slice(&features[r * d..(r + 1) * d]);
        }
        let mut shape = vec![rows.len()];
        match sample_shape {
            Some(s) => {
                assert_eq!(
                    s.iter().product::<usize>(),
                    d,
                    "TensorDataset::from_table: sample shape {s:?} does not hold {d} features"
                );
                shape.extend_from_slice(s);
            }
            None => shape.push(d),
        }
        let x = Tensor::from_f64_slice(&x, &shape, dtype);
        let targets = match table.target.as_ref().expect("the table has no target") {
            TargetColumn::Classes { indices, .. } => {
                TargetStore::Classes(rows.iter().map(|&r| indices[r]).collect())
            }
            TargetColumn::Values { values, width } => {
                let mut v = Vec::with_capacity(rows.len() * width);
                for &r in rows {
                    v.extend_from_slice(&values[r * width..(r + 1) * width]);
                }
                TargetStore::Values {
                    values: v,
                    width: *width,
                }
            }
        };
        TensorDataset {
            x,
            targets,
            target_scaler: None,
        }
    }

    /// Records how the (value) targets were scaled, so evaluation reports
    /// metrics in the target's own units (see [`Dataset::target_scaler`]).
    pub fn with_target_scaler(mut self, scaler: Scaler) -> Self {
        self.target_scaler = (!matches!(scaler, Scaler::None)).then_some(scaler);
        self
    }

    /// All inputs.
    pub fn inputs(&self) -> &Tensor {
        &self.x
    }

    /// The class index of every sample (classification datasets).
    pub fn classes(&self) -> Option<&[usize]> {
        match &self.targets {
            TargetStore::Classes(c) => Some(c),
            TargetStore::Values { .. } => None,
        }
    }

    /// Every target value, row-major, and the width (regression datasets).
    pub fn values(&self) -> Option<(&[f64], usize)> {
        match &self.targets {
            TargetStore::Values { values, width } => Some((values, *width)),
            TargetStore::Classes(_) => None,
        }
    }

    /// All samples as one batch, in order.
    pub fn all(&self) -> Batch {
        Batch {
            inputs: self.x.clone(),
            targets: match &self.targets {
                TargetStore::Classes(c) => Targets::Classes(c.clone()),
                TargetStore::Values { values, width } => Targets::Values(Tensor::from_f64_slice(
                    values,
                    &[values.len() / width.max(&1), *width],
                    self.x.dtype(),
                )),
            },
        }
    }
}

fn gather_rows<T: crate::Element>(src: &[T], row: usize, indices: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(indices.len() * row);
    for &i in indices {
        out.extend_from_slice(&src[i * row..(i + 1) * row]);
    }
    out
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.x.shape()[0]
    }

    fn target_scaler(&self) -> Option<&Scaler> {
        self.target_scaler.as_ref()
    }

    fn batch(&self, indices: &[usize]) -> Batch {
        let n = self.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            panic!("TensorDataset::batch: index {bad} out of range for {n} samples");
        }
        let row = self.x.numel() / n.max(1);
        let mut shape = self.x.shape().to_vec();
        shape[0] = indices.len();
        let inputs = match self.x.dtype() {
            DType::F32 => Tensor::from_vec(
                self.x.with_data::<f32, _>(|d| gather_rows(d, row, indices)),
                &shape,
            ),
            DType::F64 => Tensor::from_vec(
                self.x.with_data::<f64, _>(|d| gather_rows(d, row, indices)),
                &shape,
            ),
        };
        let targets = match &self.targets {
            TargetStore::Classes(c) => Targets::Classes(indices.iter().map(|&i| c[i]).collect()),
            TargetStore::Values { values, width } => {
                let v = gather_rows(values, *width, indices);
                Targets::Values(Tensor::from_f64_slice(
                    &v,
                    &[indices.len(), *width],
                    self.x.dtype(),
                ))
            }
        };
        Batch { inputs, targets }
    }
}
