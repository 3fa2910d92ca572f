//! Every activation of the engine as a module, and Flatten.

use super::{Module, Visitor};
use crate::ops::GeluApproximate;
use crate::Tensor;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;
        impl Module for $name {
            fn forward(&self, $x: &Tensor) -> Tensor {
                $body
            }
            fn visit(&self, _v: &mut dyn Visitor) {}
        }
    };
    ($(#[$doc:meta])* $name:ident { $($field:ident : $t:ty = $default:expr),* }, |$s:ident, $x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name {
            $(
                #[doc = concat!("`", stringify!($field), "` (PyTorch's default: ", stringify!($default), ").")]
                pub $field: $t,
            )*
        }
        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default),* }
            }
        }
        impl Module for $name {
            fn forward(&self, $x: &Tensor) -> Tensor {
                let $s = self;
                $body
            }
            fn visit(&self, _v: &mut dyn Visitor) {}
        }
    };
}

activation!(
    /// max(x, 0).
    ///
    /// ```
    /// use downhill::nn::{Module, ReLU};
    /// assert_eq!(ReLU.forward(&downhill::Tensor::scalar(-1.0f32)).item(), 0.0);
    /// ```
    ReLU, |x| x.relu());
activation!(
    /// min(max(x, 0), 6).
    ReLU6, |x| x.relu6());
activation!(
    /// σ(x).
    Sigmoid, |x| x.sigmoid());
activation!(
    /// tanh x.
    Tanh, |x| x.tanh());
activation!(
    /// SELU.
    SELU, |x| x.selu());
activation!(
    /// x·σ(x).
    SiLU, |x| x.silu());
activation!(
    /// x·tanh(softplus(x)).
    Mish, |x| x.mish());
activation!(
    /// x/(1 + |x|).
    Softsign, |x| x.softsign());
activation!(
    /// relu6(x + 3)/6.
    Hardsigmoid, |x| x.hardsigmoid());
activation!(
    /// x·relu6(x + 3)/6.
    Hardswish, |x| x.hardswish());
activation!(
    /// ln σ(x).
    LogSigmoid, |x| x.logsigmoid());
activation!(
    /// x for x > 0, else negative_slope·x.
    LeakyReLU { negative_slope: f64 = 0.01 }, |s, x| x.leaky_relu(s.negative_slope));
activation!(
    /// x for x > 0, else α(eˣ − 1).
    ELU { alpha: f64 = 1.0 }, |s, x| x.elu(s.alpha));
activation!(
    /// max(0, x) + min(0, α(e^(x/α) − 1)).
    CELU { alpha: f64 = 1.0 }, |s, x| x.celu(s.alpha));
activation!(
    /// GELU, exact or tanh-approximated.
    GELU { approximate: GeluApproximate = GeluApproximate::None }, |s, x| x.gelu(s.approximate));
activation!(
    /// ln(1 + e^(βx))/β, linear above the threshold.
    Softplus { beta: f64 = 1.0, threshold: f64 = 20.0 }, |s, x| x.softplus(s.beta, s.threshold));
activation!(
    /// x clamped to [min_val, max_val].
    Hardtanh { min_val: f64 = -1.0, max_val: f64 = 1.0 }, |s, x| x.hardtanh(s.min_val, s.max_val));
activation!(
    /// softmax along `dim`.
    Softmax { dim: isize = -1 }, |s, x| x.softmax(s.dim));
activation!(
    /// log_softmax along `dim`.
    LogSoftmax { dim: isize = -1 }, |s, x| x.log_softmax(s.dim));
activation!(
    /// Flattens dimensions start_dim..=end_dim (PyTorch's default keeps the batch dimension).
    ///
    /// ```
    /// use downhill::nn::{Flatten, Module};
    /// assert_eq!(Flatten::default().forward(&downhill::Tensor::zeros(&[2, 3, 4])).shape(), &[2, 12]);
    /// ```
    Flatten { start_dim: isize = 1, end_dim: isize = -1 }, |s, x| x.flatten(s.start_dim, s.end_dim));
