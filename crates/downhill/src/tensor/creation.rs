//! Creating tensors: constants, ranges, data, and seeded random draws.

use super::element::DType;
use super::random::Generator;
use super::shape::numel;
use super::storage::{HasStorage, Storage};
use super::Tensor;

fn filled(shape: &[usize], value: f64, dtype: DType) -> Tensor {
    let n = numel(shape);
    let s = match dtype {
        DType::F32 => Storage::F32(vec![value as f32; n]),
        DType::F64 => Storage::F64(vec![value; n]),
    };
    Tensor::from_storage(s, shape.to_vec())
}

fn from_f64_iter(shape: &[usize], dtype: DType, it: impl Iterator<Item = f64>) -> Tensor {
    let s = match dtype {
        DType::F32 => Storage::F32(it.map(|x| x as f32).collect()),
        DType::F64 => Storage::F64(it.collect()),
    };
    Tensor::from_storage(s, shape.to_vec())
}

/// Like [`from_f64_iter`], reserving the buffer fallibly first: an
/// allocation the system refuses (or a size that overflows) is an error.
fn try_from_f64_iter(
    shape: &[usize],
    dtype: DType,
    it: impl Iterator<Item = f64>,
) -> crate::Result<Tensor> {
    let size = match dtype {
        DType::F32 => 4u64,
        DType::F64 => 8,
    };
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let failed = || crate::Error::AllocationFailed {
        bytes: n.map_or(u64::MAX, |n| (n as u64).saturating_mul(size)),
        what: format!("a {dtype:?} tensor of shape {shape:?}"),
    };
    let n = n.ok_or_else(failed)?;
    let s = match dtype {
        DType::F32 => {
            let mut v: Vec<f32> = Vec::new();
            v.try_reserve_exact(n).map_err(|_| failed())?;
            v.extend(it.map(|x| x as f32));
            Storage::F32(v)
        }
        DType::F64 => {
            let mut v: Vec<f64> = Vec::new();
            v.try_reserve_exact(n).map_err(|_| failed())?;
            v.extend(it);
            Storage::F64(v)
        }
    };
    Ok(Tensor::from_storage(s, shape.to_vec()))
}

impl Tensor {
    /// A tensor of zeros (`f32`).
    ///
    /// ```
    /// let t = downhill::Tensor::zeros(&[2, 3]);
    /// assert_eq!(t.shape(), &[2, 3]);
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        filled(shape, 0.0, DType::F32)
    }

    /// A tensor of ones (`f32`).
    pub fn ones(shape: &[usize]) -> Tensor {
        filled(shape, 1.0, DType::F32)
    }

    /// A tensor filled with `value`, of the given dtype.
    ///
    /// ```
    /// use downhill::{DType, Tensor};
    /// let t = Tensor::full(&[2], 0.5, DType::F64);
    /// assert_eq!(t.to_vec_f64(), vec![0.5, 0.5]);
    /// ```
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        filled(shape, value, dtype)
    }

    /// Zeros with this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        filled(self.shape(), 0.0, self.dtype())
    }

    /// Ones with this tensor's shape and dtype.
    pub fn ones_like(&self) -> Tensor {
        filled(self.shape(), 1.0, self.dtype())
    }

    /// `value` everywhere, with this tensor's shape and dtype.
    pub fn full_like(&self, value: f64) -> Tensor {
        filled(self.shape(), value, self.dtype())
    }

    /// A 0-d tensor holding `value`; its dtype is `T`'s.
    ///
    /// ```
    /// let x = downhill::Tensor::scalar(1.5f64);
    /// assert_eq!(x.shape(), &[] as &[usize]);
    /// assert_eq!(x.item(), 1.5);
    /// ```
    #[allow(private_bounds)]
    pub fn scalar<T: HasStorage>(value: T) -> Tensor {
        Tensor::from_storage(T::wrap(vec![value]), Vec::new())
    }

    /// A tensor owning `data` with the given shape; its dtype is `T`'s.
    ///
    /// **Panics** if `data.len()` is not the product of `shape`.
    ///
    /// ```
    /// let t = downhill::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(t.to_vec_f32(), vec![1.0, 2.0, 3.0, 4.0]);
    /// ```
    #[track_caller]
    #[allow(private_bounds)]
    pub fn from_vec<T: HasStorage>(data: Vec<T>, shape: &[usize]) -> Tensor {
        assert_eq!(
            data.len(),
            numel(shape),
            "from_vec: {} values do not fill shape {shape:?} ({} elements)",
            data.len(),
            numel(shape)
        );
        Tensor::from_storage(T::wrap(data), shape.to_vec())
    }

    /// A tensor copying `data` with the given shape; its dtype is `T`'s.
    ///
    /// **Panics** if `data.len()` is not the product of `shape`.
    #[track_caller]
    #[allow(private_bounds)]
    pub fn from_slice<T: HasStorage>(data: &[T], shape: &[usize]) -> Tensor {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// `[start, start+step, …]` up to but excluding `end` (`f32`), like `torch.arange`.
    ///
    /// **Panics** if `step` is 0 or has the wrong sign to reach `end`.
    ///
    /// ```
    /// let t = downhill::Tensor::arange(0.0, 1.0, 0.25);
    /// assert_eq!(t.to_vec_f64(), vec![0.0, 0.25, 0.5, 0.75]);
    /// ```
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64) -> Tensor {
        assert!(
            step != 0.0 && (end - start) * step >= 0.0,
            "arange: step {step} cannot go from {start} to {end}"
        );
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        from_f64_iter(&[n], DType::F32, (0..n).map(|i| start + i as f64 * step))
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive (`f32`), like `torch.linspace`.
    ///
    /// ```
    /// let t = downhill::Tensor::linspace(0.0, 1.0, 5);
    /// assert_eq!(t.to_vec_f64(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// ```
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        // Like PyTorch: the second half counts back from `end`, so both ends are exact.
        let half = steps / 2;
        from_f64_iter(
            &[steps],
            DType::F32,
            (0..steps).map(|i| {
                if i < half {
                    start + step * i as f64
                } else {
                    end - step * (steps - 1 - i) as f64
                }
            }),
        )
    }

    /// The n×n identity matrix (`f32`).
    pub fn eye(n: usize) -> Tensor {
        from_f64_iter(
            &[n, n],
            DType::F32,
            (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }),
        )
    }

    /// Uniform draws from [0, 1) (`f32`), from the generator `gen`.
    pub fn rand(shape: &[usize], gen: &mut Generator) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, gen)
    }

    /// Uniform draws from [lo, hi) (`f32`), from the generator `gen`.
    pub fn uniform(shape: &[usize], lo: f64, hi: f64, gen: &mut Generator) -> Tensor {
        from_f64_iter(
            shape,
            DType::F32,
            (0..numel(shape)).map(|_| gen.uniform(lo, hi)),
        )
    }

    /// Standard normal draws (`f32`), from the generator `gen`.
    pub fn randn(shape: &[usize], gen: &mut Generator) -> Tensor {
        from_f64_iter(shape, DType::F32, (0..numel(shape)).map(|_| gen.normal()))
    }

    /// Normal draws with the given mean and standard deviation, of the given dtype.
    pub fn normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Tensor {
        from_f64_iter(
            shape,
            dtype,
            (0..numel(shape)).map(|_| mean + std * gen.normal()),
        )
    }

    /// Uniform draws from [lo, hi) of the given dtype.
    pub fn uniform_dtype(
        shape: &[usize],
        lo: f64,
        hi: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Tensor {
        from_f64_iter(shape, dtype, (0..numel(shape)).map(|_| gen.uniform(lo, hi)))
    }

    /// [`Tensor::uniform_dtype`] that reports a refused allocation instead of
    /// aborting the process (layer constructors of huge layers use it): the
    /// same draws, in the same order.
    ///
    /// ```
    /// use downhill::{DType, Generator, Tensor};
    /// let t = Tensor::try_uniform_dtype(&[2, 3], -1.0, 1.0, DType::F32, &mut Generator::new(0)).unwrap();
    /// assert_eq!(t.shape(), &[2, 3]);
    /// let huge = Tensor::try_uniform_dtype(&[1 << 40, 1 << 30], 0.0, 1.0, DType::F64, &mut Generator::new(0));
    /// assert!(huge.is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) if the
    /// buffer cannot be allocated or its size overflows.
    pub fn try_uniform_dtype(
        shape: &[usize],
        lo: f64,
        hi: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> crate::Result<Tensor> {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        try_from_f64_iter(shape, dtype, (0..n).map(|_| gen.uniform(lo, hi)))
    }

    /// A tensor from `f64` values converted to `dtype`.
    ///
    /// **Panics** if `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_f64_slice(data: &[f64], shape: &[usize], dtype: DType) -> Tensor {
        assert_eq!(
            data.len(),
            numel(shape),
            "from_f64_slice: {} values do not fill shape {shape:?}",
            data.len()
        );
        from_f64_iter(shape, dtype, data.iter().copied())
    }
}
