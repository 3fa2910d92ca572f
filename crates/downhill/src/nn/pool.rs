//! Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.

use super::{Module, Visitor};
use crate::ops::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2dConfig};
use crate::Tensor;

/// `nn.MaxPool2d`.
///
/// ```
/// use downhill::nn::{MaxPool2d, Module};
/// let pool = MaxPool2d::new(2);
/// assert_eq!(pool.forward(&downhill::Tensor::zeros(&[1, 3, 8, 8])).shape(), &[1, 3, 4, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPool2d {
    /// Window, stride, padding, dilation, ceil_mode.
    pub config: Pool2dConfig,
}

impl MaxPool2d {
    /// A k×k window with stride k.
    pub fn new(kernel: usize) -> Self {
        MaxPool2d {
            config: Pool2dConfig::new(kernel),
        }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        max_pool2d(x, self.config)
    }
    fn visit(&self, _v: &mut dyn Visitor) {}
}

/// `nn.AvgPool2d`.
///
/// ```
/// use downhill::nn::{AvgPool2d, Module};
/// assert_eq!(AvgPool2d::new(2).forward(&downhill::Tensor::ones(&[1, 1, 2, 2])).item(), 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AvgPool2d {
    /// Window, stride, padding, ceil_mode (dilation unused).
    pub config: Pool2dConfig,
    /// Padding counts in the divisor (default true).
    pub count_include_pad: bool,
    /// A fixed divisor.
    pub divisor_override: Option<usize>,
}

impl AvgPool2d {
    /// A k×k window with stride k.
    pub fn new(kernel: usize) -> Self {
        AvgPool2d {
            config: Pool2dConfig::new(kernel),
            count_include_pad: true,
            divisor_override: None,
        }
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        avg_pool2d(
            x,
            self.config,
            self.count_include_pad,
            self.divisor_override,
        )
    }
    fn visit(&self, _v: &mut dyn Visitor) {}
}

/// `nn.AdaptiveAvgPool2d`.
///
/// ```
/// use downhill::nn::{AdaptiveAvgPool2d, Module};
/// assert_eq!(AdaptiveAvgPool2d { output: (1, 1) }.forward(&downhill::Tensor::zeros(&[2, 3, 5, 7])).shape(), &[2, 3, 1, 1]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveAvgPool2d {
    /// Output (height, width).
    pub output: (usize, usize),
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        adaptive_avg_pool2d(x, self.output)
    }
    fn visit(&self, _v: &mut dyn Visitor) {}
}
