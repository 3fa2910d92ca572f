//! Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm.

use super::{Module, Visitor};
use crate::{DType, Tensor};

/// Batch normalization over the channel dimension 1 (`nn.BatchNorm1d` for
/// [N, C] or [N, C, L], `nn.BatchNorm2d` for [N, C, H, W]):
///
/// y = (x − μ_B)/√(σ²_B + ε)·γ + β in training (biased batch variance), and
/// running ← (1 − momentum)·running + momentum·batch (unbiased variance for
/// `running_var`); evaluation uses the running statistics.
///
/// ```
/// use downhill::nn::{BatchNorm, Module};
/// use downhill::Tensor;
/// let bn = BatchNorm::new(2);
/// let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2]);
/// let y = bn.forward(&x);
/// assert!((y.to_vec_f64()[0] + 1.0).abs() < 1e-3); // (1 − 2)/1
/// let rm = bn.running_mean.to_vec_f64(); // 0.9·0 + 0.1·batch mean
/// assert!((rm[0] - 0.2).abs() < 1e-6 && (rm[1] - 2.0).abs() < 1e-6);
/// ```
pub struct BatchNorm {
    /// γ `[C]` (if affine).
    pub weight: Option<Tensor>,
    /// β `[C]` (if affine).
    pub bias: Option<Tensor>,
    /// Running mean `[C]` (buffer).
    pub running_mean: Tensor,
    /// Running variance `[C]` (buffer).
    pub running_var: Tensor,
    /// Batches seen (buffer; PyTorch keeps it as int64, here a 0-d float tensor).
    pub num_batches_tracked: Tensor,
    /// ε (default 1e-5).
    pub eps: f64,
    /// Running-average factor (default 0.1); `None` is a cumulative average.
    pub momentum: Option<f64>,
    /// Keep running statistics (default true).
    pub track_running_stats: bool,
    training: bool,
}

/// `nn.BatchNorm1d`.
pub type BatchNorm1d = BatchNorm;
/// `nn.BatchNorm2d`.
pub type BatchNorm2d = BatchNorm;

impl BatchNorm {
    /// Batch norm over `num_features` channels, f32, PyTorch's defaults.
    pub fn new(num_features: usize) -> Self {
        Self::with_options(num_features, 1e-5, Some(0.1), true, true, DType::F32)
    }

    /// With every option.
    pub fn with_options(
        num_features: usize,
        eps: f64,
        momentum: Option<f64>,
        affine: bool,
        track_running_stats: bool,
        dtype: DType,
    ) -> Self {
        let c = num_features;
        BatchNorm {
            weight: affine.then(|| Tensor::full(&[c], 1.0, dtype).requires_grad_(true)),
            bias: affine.then(|| Tensor::full(&[c], 0.0, dtype).requires_grad_(true)),
            running_mean: Tensor::full(&[c], 0.0, dtype),
            running_var: Tensor::full(&[c], 1.0, dtype),
            num_batches_tracked: Tensor::full(&[], 0.0, dtype),
            eps,
            momentum,
            track_running_stats,
            training: true,
        }
    }

    /// Running statistics back to their start (`reset_running_stats`): mean
    /// 0, variance 1, no batches tracked.
    pub fn reset_running_stats(&self) {
        let (c, dtype) = (self.running_mean.numel(), self.running_mean.dtype());
        self.running_mean.assign_(&Tensor::full(&[c], 0.0, dtype));
        self.running_var.assign_(&Tensor::full(&[c], 1.0, dtype));
        self.num_batches_tracked
            .assign_(&Tensor::full(&[], 0.0, self.num_batches_tracked.dtype()));
    }

    /// True in training mode (batch statistics, running ones updated).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Folds a training batch's per-channel `mean` and biased `var` into
    /// the running statistics (the variance made unbiased, as PyTorch does).
    fn track(&self, x: &Tensor, mean: &[f64], var: &[f64]) {
        crate::no_grad(|| {
            let c = x.shape()[1];
            let n = (x.numel() / c.max(1)) as f64;
            let nbt = self.num_batches_tracked.item() + 1.0;
            self.num_batches_tracked.assign_(&Tensor::full(
                &[],
                nbt,
                self.num_batches_tracked.dtype(),
            ));
            let m = self.momentum.unwrap_or(1.0 / nbt);
            let dtype = self.running_mean.dtype();
            let bm = Tensor::from_vec(mean.to_vec(), &[c]).to_dtype(dtype);
            let unbiased = n / (n - 1.0).max(1.0);
            let bv = Tensor::from_vec(var.iter().map(|v| v * unbiased).collect::<Vec<f64>>(), &[c])
                .to_dtype(dtype);
            self.running_mean
                .assign_(&(self.running_mean.mul_scalar(1.0 - m) + bm.mul_scalar(m)));
            self.running_var
                .assign_(&(self.running_var.mul_scalar(1.0 - m) + bv.mul_scalar(m)));
        });
    }

    /// Shape [1, C, 1, …] that broadcasts a per-channel vector over `x`.
    fn channel_shape(x: &Tensor) -> Vec<usize> {
        let mut s = vec![1; x.ndim()];
        s[1] = x.shape()[1];
        s
    }
}

impl Module for BatchNorm {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        assert!(
            x.ndim() >= 2 && x.shape()[1] == self.running_mean.numel(),
            "BatchNorm: input shape {:?} does not have {} channels in dimension 1",
            x.shape(),
            self.running_mean.numel()
        );
        let cs = Self::channel_shape(x);
        let use_batch = self.training || !self.track_running_stats;
        if use_batch {
            // One op: the batch's moments, the normalized output and its backward.
            let (y, mean, var) = crate::ops::norm::batch_norm_train(
                x,
                self.weight.as_ref(),
                self.bias.as_ref(),
                self.eps,
            );
            if self.training && self.track_running_stats {
                self.track(x, &mean, &var);
            }
            return y;
        }
        let (mean, var) = (
            self.running_mean.reshape(&cs),
            self.running_var.reshape(&cs),
        );
        let mut y = &(x - &mean) / &var.add_scalar(self.eps).sqrt();
        if let Some(w) = &self.weight {
            y = &y * &w.reshape(&cs);
        }
        if let Some(b) = &self.bias {
            y = &y + &b.reshape(&cs);
        }
        y
    }

    fn visit(&self, v: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
        if self.track_running_stats {
            v.buffer("running_mean", &self.running_mean);
            v.buffer("running_var", &self.running_var);
            v.buffer("num_batches_tracked", &self.num_batches_tracked);
        }
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn for_each_batch_norm(&mut self, f: &mut dyn FnMut(&mut BatchNorm)) {
        f(self)
    }
}

/// `nn.LayerNorm` over the last dimensions `normalized_shape`:
/// y = (x − E`[x]`)/√(Var`[x]` + ε)·γ + β (biased variance).
///
/// ```
/// use downhill::nn::{LayerNorm, Module};
/// use downhill::Tensor;
/// let ln = LayerNorm::new(&[2], 1e-5, true);
/// let y = ln.forward(&Tensor::from_vec(vec![1.0f32, 3.0], &[1, 2]));
/// assert!((y.to_vec_f64()[1] - 1.0).abs() < 1e-4);
/// ```
pub struct LayerNorm {
    /// The normalized trailing shape.
    pub normalized_shape: Vec<usize>,
    /// ε (default 1e-5).
    pub eps: f64,
    /// γ (if elementwise_affine).
    pub weight: Option<Tensor>,
    /// β (if elementwise_affine and bias).
    pub bias: Option<Tensor>,
}

impl LayerNorm {
    /// f32 LayerNorm with weight and bias if `elementwise_affine`.
    pub fn new(normalized_shape: &[usize], eps: f64, elementwise_affine: bool) -> Self {
        Self::with_dtype(normalized_shape, eps, elementwise_affine, true, DType::F32)
    }

    /// With every option.
    pub fn with_dtype(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
        dtype: DType,
    ) -> Self {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight: elementwise_affine
                .then(|| Tensor::full(normalized_shape, 1.0, dtype).requires_grad_(true)),
            bias: (elementwise_affine && bias)
                .then(|| Tensor::full(normalized_shape, 0.0, dtype).requires_grad_(true)),
        }
    }
}

impl Module for LayerNorm {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.normalized_shape.len();
        assert!(
            x.ndim() >= k && x.shape()[x.ndim() - k..] == self.normalized_shape[..],
            "LayerNorm: input shape {:?} does not end with normalized shape {:?}",
            x.shape(),
            self.normalized_shape
        );
        let axes: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
        let mean = x.mean_dims(&axes, true);
        let centered = x - &mean;
        let var = centered.square().mean_dims(&axes, true);
        let mut y = &centered / &var.add_scalar(self.eps).sqrt();
        if let Some(w) = &self.weight {
            y = &y * w;
        }
        if let Some(b) = &self.bias {
            y = &y + b;
        }
        y
    }
    fn visit(&self, v: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            v.param("weight", w);
        }
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}
