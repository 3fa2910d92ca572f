//! [`Embedding`]: a lookup table of vectors.

use super::{Module, Visitor};
use crate::{DType, Generator, Tensor};

/// `nn.Embedding`: row i of the weight [num_embeddings, dim] for index i,
/// initialized N(0, 1); the `padding_idx` row starts at zero and gets no gradient.
///
/// ```
/// use downhill::nn::Embedding;
/// use downhill::Generator;
/// let e = Embedding::new(10, 4, None, &mut Generator::new(0));
/// assert_eq!(e.lookup(&[1, 2, 3, 4, 5, 6], &[2, 3]).shape(), &[2, 3, 4]);
/// ```
pub struct Embedding {
    /// [num_embeddings, embedding_dim].
    pub weight: Tensor,
    /// A row that stays fixed (zero at start, no gradient).
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// An f32 table.
    pub fn new(
        num_embeddings: usize,
        dim: usize,
        padding_idx: Option<usize>,
        gen: &mut Generator,
    ) -> Self {
        Self::with_dtype(num_embeddings, dim, padding_idx, DType::F32, gen)
    }

    /// A table of the given dtype.
    pub fn with_dtype(
        num_embeddings: usize,
        dim: usize,
        padding_idx: Option<usize>,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        let mut v: Vec<f64> = (0..num_embeddings * dim).map(|_| gen.normal()).collect();
        if let Some(p) = padding_idx {
            v[p * dim..(p + 1) * dim].iter_mut().for_each(|x| *x = 0.0);
        }
        let weight = Tensor::from_f64_slice(&v, &[num_embeddings, dim], dtype).requires_grad_(true);
        Embedding {
            weight,
            padding_idx,
        }
    }

    /// The vectors of `indices` (row-major, of shape `shape`): shape + `[dim]`.
    ///
    /// **Panics** if an index is out of range or `shape` does not fit.
    #[track_caller]
    pub fn lookup(&self, indices: &[usize], shape: &[usize]) -> Tensor {
        assert_eq!(
            indices.len(),
            shape.iter().product::<usize>(),
            "Embedding: {} indices do not fill shape {shape:?}",
            indices.len()
        );
        let dim = self.weight.shape()[1];
        let mut rows = self.weight.index_select(0, indices);
        if let Some(p) = self.padding_idx {
            let mask: Vec<f64> = indices
                .iter()
                .map(|&i| if i == p { 1.0 } else { 0.0 })
                .collect();
            let m = Tensor::from_f64_slice(&mask, &[indices.len(), 1], rows.dtype());
            rows = Tensor::where_(&m, &rows.detach(), &rows);
        }
        let mut out_shape = shape.to_vec();
        out_shape.push(dim);
        rows.reshape(&out_shape)
    }
}

impl Module for Embedding {
    /// Reads the input's values as indices (they must be whole numbers ≥ 0).
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let idx: Vec<usize> = x
            .to_vec_f64()
            .iter()
            .map(|&v| {
                assert!(
                    v >= 0.0 && v.fract() == 0.0,
                    "Embedding: index {v} is not a whole number ≥ 0"
                );
                v as usize
            })
            .collect();
        self.lookup(&idx, x.shape())
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
    }
}
