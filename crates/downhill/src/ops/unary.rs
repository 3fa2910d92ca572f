//! Elementwise unary ops and activations. One generic path wires them all
//! into the graph: each op supplies only `f` and its derivative `df`.

use crate::autograd::{Backward, GradSink};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

use super::{map, zip3_map};

/// An elementwise function and its derivative.
pub(crate) trait UnaryFn: Send + Sync + 'static {
    const NAME: &'static str;
    /// y = f(x).
    fn f<T: Element>(&self, x: T) -> T;
    /// dy/dx, given x and y = f(x).
    fn df<T: Element>(&self, x: T, y: T) -> T;
    /// A cheaper backward when the derivative does not depend on x (e.g. x·c).
    fn backward_shortcut(&self, _grad: &Tensor) -> Option<Tensor> {
        None
    }
}

struct Unary<U>(U);

fn unary<U: UnaryFn>(x: &Tensor, u: U) -> Tensor {
    let s = {
        let s = x.read_storage();
        match &*s {
            Storage::F32(v) => f32::wrap(map(v, |a| u.f(a))),
            Storage::F64(v) => f64::wrap(map(v, |a| u.f(a))),
        }
    };
    Tensor::from_op(s, x.shape().to_vec(), &[x], Unary(u))
}

impl<U: UnaryFn> Backward for Unary<U> {
    fn name(&self) -> &'static str {
        U::NAME
    }

    // dL/dx = dL/dy · f'(x)
    fn backward(&self, inputs: &[Tensor], out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        if let Some(g) = self.0.backward_shortcut(grad) {
            sink.add(0, g);
            return;
        }
        let x = &inputs[0];
        let s = {
            let (g, xs, ys) = (grad.read_storage(), x.read_storage(), out.read_storage());
            match (&*g, &*xs, &*ys) {
                (Storage::F32(g), Storage::F32(x), Storage::F32(y)) => {
                    f32::wrap(zip3_map(g, x, y, |g, x, y| g * self.0.df(x, y)))
                }
                (Storage::F64(g), Storage::F64(x), Storage::F64(y)) => {
                    f64::wrap(zip3_map(g, x, y, |g, x, y| g * self.0.df(x, y)))
                }
                _ => unreachable!("{}: gradient dtype matches the input", U::NAME),
            }
        };
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}

#[inline(always)]
fn c<T: Element>(v: f64) -> T {
    T::from_f64(v)
}

#[inline(always)]
fn sigmoid<T: Element>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// Declares a parameterless unary op: `unit_op!(Name, "name", |x| f, |x, y| df)`.
macro_rules! unit_op {
    ($name:ident, $s:literal, |$x:ident| $f:expr, |$dx:ident, $y:ident| $df:expr) => {
        struct $name;
        impl UnaryFn for $name {
            const NAME: &'static str = $s;
            #[inline(always)]
            fn f<T: Element>(&self, $x: T) -> T {
                $f
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn df<T: Element>(&self, $dx: T, $y: T) -> T {
                $df
            }
        }
    };
}

// d(−x) = −1
unit_op!(Neg, "neg", |x| -x, |x, y| -T::ONE);
// d eˣ = eˣ
unit_op!(Exp, "exp", |x| x.exp(), |x, y| y);
// d ln x = 1/x
unit_op!(Log, "log", |x| x.ln(), |x, y| T::ONE / x);
// d √x = 1/(2√x)
unit_op!(Sqrt, "sqrt", |x| x.sqrt(), |x, y| c::<T>(0.5) / y);
// d |x| = sign(x), 0 at 0
unit_op!(Abs, "abs", |x| x.abs(), |x, y| if x > T::ZERO {
    T::ONE
} else if x < T::ZERO {
    -T::ONE
} else {
    T::ZERO
});
// d sin x = cos x
unit_op!(Sin, "sin", |x| x.sin(), |x, y| x.cos());
// d cos x = −sin x
unit_op!(Cos, "cos", |x| x.cos(), |x, y| -x.sin());
// d tan x = 1 + tan²x
unit_op!(Tan, "tan", |x| x.tan(), |x, y| T::ONE + y * y);
// d tanh x = 1 − tanh²x
unit_op!(Tanh, "tanh", |x| x.tanh(), |x, y| T::ONE - y * y);
// d σ(x) = σ(x)(1 − σ(x))
unit_op!(Sigmoid, "sigmoid", |x| sigmoid(x), |x, y| (T::ONE - y) * y);
// d relu = 1 for x > 0, else 0 (0 at 0, like PyTorch)
unit_op!(
    Relu,
    "relu",
    |x| if x > T::ZERO { x } else { T::ZERO },
    |x, y| if x > T::ZERO { T::ONE } else { T::ZERO }
);
// d relu6 = 1 on (0, 6), else 0
unit_op!(
    Relu6,
    "relu6",
    |x| if x <= T::ZERO {
        T::ZERO
    } else if x >= c(6.0) {
        c(6.0)
    } else {
        x
    },
    |x, y| if x > T::ZERO && x < c(6.0) {
        T::ONE
    } else {
        T::ZERO
    }
);
// SELU: scale·(x if x > 0 else α(eˣ − 1)); d = scale if x > 0 else scale·α·eˣ
const SELU_ALPHA: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
const SELU_SCALE: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;
unit_op!(
    Selu,
    "selu",
    |x| if x > T::ZERO {
        c::<T>(SELU_SCALE) * x
    } else {
        c::<T>(SELU_SCALE * SELU_ALPHA) * x.exp_m1()
    },
    |x, y| if x > T::ZERO {
        c(SELU_SCALE)
    } else {
        c::<T>(SELU_SCALE * SELU_ALPHA) * x.exp()
    }
);
// SiLU: x·σ(x); d = σ(x)(1 + x(1 − σ(x)))
unit_op!(Silu, "silu", |x| x * sigmoid(x), |x, y| {
    let s = sigmoid(x);
    s * (T::ONE + x * (T::ONE - s))
});
// Mish: x·tanh(ln(1 + eˣ)); d = tanh(sp) + x·σ(x)·(1 − tanh²(sp))
unit_op!(Mish, "mish", |x| x * x.exp().ln_1p().tanh(), |x, y| {
    let t = x.exp().ln_1p().tanh();
    t + x * sigmoid(x) * (T::ONE - t * t)
});
// softsign: x/(1 + |x|); d = 1/(1 + |x|)²
unit_op!(Softsign, "softsign", |x| x / (T::ONE + x.abs()), |x, y| {
    let d = T::ONE + x.abs();
    T::ONE / (d * d)
});
// hardsigmoid: relu6(x + 3)/6; d = 1/6 on (−3, 3) — PyTorch's constant is the f32 1/6.
unit_op!(
    Hardsigmoid,
    "hardsigmoid",
    |x| if x <= c(-3.0) {
        T::ZERO
    } else if x >= c(3.0) {
        T::ONE
    } else {
        x / c(6.0) + c(0.5)
    },
    |x, y| if x > c(-3.0) && x < c(3.0) {
        c((1.0f32 / 6.0f32) as f64)
    } else {
        T::ZERO
    }
);
// hardswish: x·relu6(x + 3)/6; d = 0 (x ≤ −3), x/3 + 1/2 (−3 < x < 3), 1 (x ≥ 3)
unit_op!(
    Hardswish,
    "hardswish",
    |x| if x <= c(-3.0) {
        T::ZERO * x
    } else if x >= c(3.0) {
        x
    } else {
        x * (x + c(3.0)) / c(6.0)
    },
    |x, y| if x <= c(-3.0) {
        T::ZERO
    } else if x < c(3.0) {
        x / c(3.0) + c(0.5)
    } else {
        T::ONE
    }
);
// log σ(x) = min(x, 0) − ln(1 + e^−|x|); d = 1 − σ(x)
unit_op!(
    LogSigmoid,
    "logsigmoid",
    |x| (if x < T::ZERO { x } else { T::ZERO }) - (-x.abs()).exp().ln_1p(),
    |x, y| T::ONE - sigmoid(x)
);

/// Which form of GELU: exact (erf) or the tanh approximation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum GeluApproximate {
    /// x·Φ(x) with Φ from erf.
    #[default]
    None,
    /// 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
    Tanh,
}

struct Gelu(GeluApproximate);
impl UnaryFn for Gelu {
    const NAME: &'static str = "gelu";
    fn f<T: Element>(&self, x: T) -> T {
        match self.0 {
            GeluApproximate::None => {
                x * c(0.5) * (T::ONE + (x * c(std::f64::consts::FRAC_1_SQRT_2)).erf())
            }
            GeluApproximate::Tanh => {
                let inner = c::<T>((2.0 / std::f64::consts::PI).sqrt())
                    * (x + c::<T>(0.044715) * x * x * x);
                c::<T>(0.5) * x * (T::ONE + inner.tanh())
            }
        }
    }
    // erf: d = Φ(x) + x·φ(x); tanh: PyTorch's expansion of the product rule.
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        match self.0 {
            GeluApproximate::None => {
                let cdf = c::<T>(0.5) * (T::ONE + (x * c(std::f64::consts::FRAC_1_SQRT_2)).erf());
                let pdf = (c::<T>(-0.5) * x * x).exp()
                    * c(0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2);
                cdf + x * pdf
            }
            GeluApproximate::Tanh => {
                let k_beta =
                    c::<T>(std::f64::consts::SQRT_2 * std::f64::consts::FRAC_2_SQRT_PI * 0.5);
                let k_kappa = c::<T>(0.044715);
                let x_sq = x * x;
                let x_cube = x_sq * x;
                let inner = k_beta * (x + k_kappa * x_cube);
                let t = inner.tanh();
                let left = c::<T>(0.5) * x;
                let right = T::ONE + t;
                let left_derivative = c::<T>(0.5) * right;
                let right_derivative =
                    left * (T::ONE - t * t) * k_beta * (T::ONE + c::<T>(3.0) * k_kappa * x_sq);
                left_derivative + right_derivative
            }
        }
    }
}

struct LeakyRelu(f64);
impl UnaryFn for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            x * c(self.0)
        }
    }
    // d = 1 for x > 0, else the slope
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            c(self.0)
        }
    }
}

struct Elu(f64);
impl UnaryFn for Elu {
    const NAME: &'static str = "elu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            c::<T>(self.0) * x.exp_m1()
        }
    }
    // d = 1 for x > 0, else α·eˣ
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            c::<T>(self.0) * x.exp()
        }
    }
}

struct Celu(f64);
impl UnaryFn for Celu {
    const NAME: &'static str = "celu";
    fn f<T: Element>(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            c::<T>(self.0) * (x / c(self.0)).exp_m1()
        }
    }
    // d = 1 for x > 0, else e^(x/α)
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else {
            (x / c(self.0)).exp()
        }
    }
}

struct Softplus {
    beta: f64,
    threshold: f64,
}
impl UnaryFn for Softplus {
    const NAME: &'static str = "softplus";
    // ln(1 + e^(βx))/β, linear above the threshold
    fn f<T: Element>(&self, x: T) -> T {
        let bx = x * c(self.beta);
        if bx > c(self.threshold) {
            x
        } else {
            bx.exp().ln_1p() / c(self.beta)
        }
    }
    // d = e^(βx)/(1 + e^(βx)), 1 above the threshold
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        let bx = x * c(self.beta);
        if bx > c(self.threshold) {
            T::ONE
        } else {
            let z = bx.exp();
            z / (z + T::ONE)
        }
    }
}

struct Hardtanh(f64, f64);
impl UnaryFn for Hardtanh {
    const NAME: &'static str = "hardtanh";
    fn f<T: Element>(&self, x: T) -> T {
        if x <= c(self.0) {
            c(self.0)
        } else if x >= c(self.1) {
            c(self.1)
        } else {
            x
        }
    }
    // d = 1 strictly inside (min, max), else 0
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if x > c(self.0) && x < c(self.1) {
            T::ONE
        } else {
            T::ZERO
        }
    }
}

struct Clamp(f64, f64);
impl UnaryFn for Clamp {
    const NAME: &'static str = "clamp";
    fn f<T: Element>(&self, x: T) -> T {
        if x.is_nan() {
            x
        } else if x < c(self.0) {
            c(self.0)
        } else if x > c(self.1) {
            c(self.1)
        } else {
            x
        }
    }
    // d = 1 on [min, max] (inclusive, like PyTorch), else 0
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if x >= c(self.0) && x <= c(self.1) {
            T::ONE
        } else {
            T::ZERO
        }
    }
}

struct Powf(f64);
impl UnaryFn for Powf {
    const NAME: &'static str = "powf";
    fn f<T: Element>(&self, x: T) -> T {
        if self.0 == 2.0 {
            x * x
        } else {
            x.powf(c(self.0))
        }
    }
    // d xᵖ = p·xᵖ⁻¹ (0 for p = 0)
    fn df<T: Element>(&self, x: T, _y: T) -> T {
        if self.0 == 0.0 {
            T::ZERO
        } else if self.0 == 2.0 {
            c::<T>(2.0) * x
        } else {
            c::<T>(self.0) * x.powf(c(self.0 - 1.0))
        }
    }
}

/// x + c, x − c, c − x, x·c, x/c: derivatives that do not depend on x.
struct Affine {
    kind: AffineKind,
    c: f64,
}
#[derive(Clone, Copy)]
enum AffineKind {
    Add,
    RSub,
    Mul,
    Div,
}
impl UnaryFn for Affine {
    const NAME: &'static str = "scalar";
    #[inline(always)]
    fn f<T: Element>(&self, x: T) -> T {
        match self.kind {
            AffineKind::Add => x + c(self.c),
            AffineKind::RSub => c::<T>(self.c) - x,
            AffineKind::Mul => x * c(self.c),
            AffineKind::Div => x / c(self.c),
        }
    }
    fn df<T: Element>(&self, _x: T, _y: T) -> T {
        match self.kind {
            AffineKind::Add => T::ONE,
            AffineKind::RSub => -T::ONE,
            AffineKind::Mul => c(self.c),
            AffineKind::Div => T::ONE / c(self.c),
        }
    }
    // d(x+c) = 1, d(c−x) = −1, d(x·c) = c, d(x/c) = 1/c
    fn backward_shortcut(&self, grad: &Tensor) -> Option<Tensor> {
        Some(match self.kind {
            AffineKind::Add => grad.clone(),
            AffineKind::RSub => grad.neg(),
            AffineKind::Mul => grad.mul_scalar(self.c),
            AffineKind::Div => grad.div_scalar(self.c),
        })
    }
}

impl Tensor {
    /// −x.
    pub fn neg(&self) -> Tensor {
        unary(self, Neg)
    }
    /// eˣ.
    pub fn exp(&self) -> Tensor {
        unary(self, Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Tensor {
        unary(self, Log)
    }
    /// √x.
    pub fn sqrt(&self) -> Tensor {
        unary(self, Sqrt)
    }
    /// |x| (gradient 0 at 0).
    pub fn abs(&self) -> Tensor {
        unary(self, Abs)
    }
    /// sin x.
    pub fn sin(&self) -> Tensor {
        unary(self, Sin)
    }
    /// cos x.
    pub fn cos(&self) -> Tensor {
        unary(self, Cos)
    }
    /// tan x.
    pub fn tan(&self) -> Tensor {
        unary(self, Tan)
    }
    /// tanh x.
    pub fn tanh(&self) -> Tensor {
        unary(self, Tanh)
    }
    /// σ(x) = 1/(1 + e⁻ˣ).
    pub fn sigmoid(&self) -> Tensor {
        unary(self, Sigmoid)
    }
    /// max(x, 0) (gradient 0 at 0).
    pub fn relu(&self) -> Tensor {
        unary(self, Relu)
    }
    /// min(max(x, 0), 6).
    pub fn relu6(&self) -> Tensor {
        unary(self, Relu6)
    }
    /// x for x > 0, else `negative_slope`·x (PyTorch's default slope is 0.01).
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        unary(self, LeakyRelu(negative_slope))
    }
    /// x for x > 0, else α(eˣ − 1).
    pub fn elu(&self, alpha: f64) -> Tensor {
        unary(self, Elu(alpha))
    }
    /// max(0, x) + min(0, α(e^(x/α) − 1)).
    pub fn celu(&self, alpha: f64) -> Tensor {
        unary(self, Celu(alpha))
    }
    /// scale·elu(x, α) with the self-normalizing constants.
    pub fn selu(&self) -> Tensor {
        unary(self, Selu)
    }
    /// GELU, exact (erf) or tanh-approximated.
    pub fn gelu(&self, approximate: GeluApproximate) -> Tensor {
        unary(self, Gelu(approximate))
    }
    /// x·σ(x) (also called swish).
    pub fn silu(&self) -> Tensor {
        unary(self, Silu)
    }
    /// x·tanh(softplus(x)).
    pub fn mish(&self) -> Tensor {
        unary(self, Mish)
    }
    /// ln(1 + e^(βx))/β, and x where βx > `threshold` (PyTorch: β = 1, threshold = 20).
    pub fn softplus(&self, beta: f64, threshold: f64) -> Tensor {
        unary(self, Softplus { beta, threshold })
    }
    /// x/(1 + |x|).
    pub fn softsign(&self) -> Tensor {
        unary(self, Softsign)
    }
    /// x clamped to [min, max] (gradient 1 strictly inside).
    pub fn hardtanh(&self, min: f64, max: f64) -> Tensor {
        unary(self, Hardtanh(min, max))
    }
    /// relu6(x + 3)/6.
    pub fn hardsigmoid(&self) -> Tensor {
        unary(self, Hardsigmoid)
    }
    /// x·relu6(x + 3)/6.
    pub fn hardswish(&self) -> Tensor {
        unary(self, Hardswish)
    }
    /// ln σ(x), computed stably.
    pub fn logsigmoid(&self) -> Tensor {
        unary(self, LogSigmoid)
    }
    /// x limited to [min, max]; gradient 1 on the closed interval, like PyTorch.
    /// Pass `f64::NEG_INFINITY`/`f64::INFINITY` for a one-sided clamp.
    pub fn clamp(&self, min: f64, max: f64) -> Tensor {
        unary(self, Clamp(min, max))
    }
    /// xᵖ for a scalar exponent.
    ///
    /// ```
    /// let x = downhill::Tensor::scalar(3.0f64);
    /// assert_eq!(x.powf(2.0).item(), 9.0);
    /// ```
    pub fn powf(&self, p: f64) -> Tensor {
        unary(self, Powf(p))
    }
    /// x².
    pub fn square(&self) -> Tensor {
        unary(self, Powf(2.0))
    }
    /// x + c.
    pub fn add_scalar(&self, c: f64) -> Tensor {
        unary(
            self,
            Affine {
                kind: AffineKind::Add,
                c,
            },
        )
    }
    /// x − c.
    pub fn sub_scalar(&self, c: f64) -> Tensor {
        unary(
            self,
            Affine {
                kind: AffineKind::Add,
                c: -c,
            },
        )
    }
    /// c − x.
    pub fn rsub_scalar(&self, c: f64) -> Tensor {
        unary(
            self,
            Affine {
                kind: AffineKind::RSub,
                c,
            },
        )
    }
    /// x·c.
    pub fn mul_scalar(&self, c: f64) -> Tensor {
        unary(
            self,
            Affine {
                kind: AffineKind::Mul,
                c,
            },
        )
    }
    /// x/c.
    pub fn div_scalar(&self, c: f64) -> Tensor {
        unary(
            self,
            Affine {
                kind: AffineKind::Div,
                c,
            },
        )
    }
}
