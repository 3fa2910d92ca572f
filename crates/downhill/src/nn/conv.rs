//! Convolution layers: Conv1d and Conv2d.

use super::{Module, Visitor};
use crate::ops::{conv1d, conv2d, Conv2dConfig};
use crate::{DType, Generator, Tensor};

/// `nn.Conv2d`: weight [O, C/groups, kH, kW], bias `[O]`, PyTorch's default
/// initialization (uniform in ±1/√fan_in, fan_in = C/groups·kH·kW).
///
/// ```
/// use downhill::nn::{Conv2d, Module};
/// use downhill::{Generator, Tensor};
/// let conv = Conv2d::new(1, 6, 5, &mut Generator::new(0)).padding(2);
/// assert_eq!(conv.forward(&Tensor::zeros(&[2, 1, 28, 28])).shape(), &[2, 6, 28, 28]);
/// ```
pub struct Conv2d {
    /// [out, in/groups, kH, kW].
    pub weight: Tensor,
    /// `[out]`, if any.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups.
    pub config: Conv2dConfig,
}

impl Conv2d {
    /// A square-kernel f32 convolution with bias, stride 1, no padding.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        gen: &mut Generator,
    ) -> Self {
        Self::with_options(
            in_channels,
            out_channels,
            (kernel, kernel),
            Conv2dConfig::default(),
            true,
            DType::F32,
            gen,
        )
    }

    /// Every option.
    ///
    /// **Panics** if the channels are not divisible by `groups`.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        config: Conv2dConfig,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        assert!(
            config.groups > 0 && in_channels.is_multiple_of(config.groups) && out_channels.is_multiple_of(config.groups),
            "Conv2d: {in_channels} in and {out_channels} out channels are not divisible by groups = {}",
            config.groups
        );
        let cg = in_channels / config.groups;
        let bound = 1.0 / ((cg * kernel.0 * kernel.1).max(1) as f64).sqrt();
        let weight = Tensor::uniform_dtype(
            &[out_channels, cg, kernel.0, kernel.1],
            -bound,
            bound,
            dtype,
            gen,
        )
        .requires_grad_(true);
        let bias = bias.then(|| {
            Tensor::uniform_dtype(&[out_channels], -bound, bound, dtype, gen).requires_grad_(true)
        });
        Conv2d {
            weight,
            bias,
            config,
        }
    }

    /// Sets the stride (both directions).
    pub fn stride(mut self, s: usize) -> Self {
        self.config.stride = (s, s);
        self
    }
    /// Sets the padding (both directions).
    pub fn padding(mut self, p: usize) -> Self {
        self.config.padding = (p, p);
        self
    }
    /// Sets the dilation (both directions).
    pub fn dilation(mut self, d: usize) -> Self {
        self.config.dilation = (d, d);
        self
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        conv2d(x, &self.weight, self.bias.as_ref(), self.config)
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}

/// `nn.Conv1d`: weight [O, C/groups, K], bias `[O]`, PyTorch's default init.
///
/// ```
/// use downhill::nn::{Conv1d, Module};
/// use downhill::{DType, Generator, Tensor};
/// let conv = Conv1d::new(3, 4, 3, 1, 1, 1, 1, true, DType::F32, &mut Generator::new(0));
/// assert_eq!(conv.forward(&Tensor::zeros(&[2, 3, 10])).shape(), &[2, 4, 10]);
/// ```
pub struct Conv1d {
    /// [out, in/groups, K].
    pub weight: Tensor,
    /// `[out]`, if any.
    pub bias: Option<Tensor>,
    /// Step.
    pub stride: usize,
    /// Zeros on each side.
    pub padding: usize,
    /// Tap spacing.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Conv1d {
    /// Every option.
    ///
    /// **Panics** if the channels are not divisible by `groups`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
        bias: bool,
        dtype: DType,
        gen: &mut Generator,
    ) -> Self {
        assert!(
            groups > 0 && in_channels.is_multiple_of(groups) && out_channels.is_multiple_of(groups),
            "Conv1d: {in_channels} in and {out_channels} out channels are not divisible by groups = {groups}"
        );
        let cg = in_channels / groups;
        let bound = 1.0 / ((cg * kernel).max(1) as f64).sqrt();
        let weight = Tensor::uniform_dtype(&[out_channels, cg, kernel], -bound, bound, dtype, gen)
            .requires_grad_(true);
        let bias = bias.then(|| {
            Tensor::uniform_dtype(&[out_channels], -bound, bound, dtype, gen).requires_grad_(true)
        });
        Conv1d {
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
        }
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Tensor {
        conv1d(
            x,
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            v.param("bias", b);
        }
    }
}
