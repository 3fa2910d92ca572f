//! Parameter initialization, PyTorch's `torch.nn.init`, every draw from an
//! explicit [`Generator`]. Each function fills a tensor in place (keeping its
//! shape and dtype) and returns nothing, like PyTorch's trailing-underscore forms.
//!
//! ```
//! use downhill::nn::init;
//! use downhill::{Generator, Tensor};
//! let w = Tensor::zeros(&[64, 32]);
//! init::kaiming_uniform(&w, 5f64.sqrt(), init::FanMode::FanIn, init::Nonlinearity::LeakyRelu, &mut Generator::new(0));
//! let bound = 1.0 / 32f64.sqrt();
//! assert!(w.to_vec_f64().iter().all(|v| v.abs() <= bound));
//! ```

use crate::{Generator, Tensor};

/// Which fan scales the variance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum FanMode {
    /// Inputs per output (preserves the forward variance).
    #[default]
    FanIn,
    /// Outputs per input (preserves the backward variance).
    FanOut,
}

/// The nonlinearity that follows, for [`calculate_gain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Nonlinearity {
    /// Identity, linear and convolution layers: gain 1.
    Linear,
    /// Sigmoid: gain 1.
    Sigmoid,
    /// tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with the given slope parameter: gain √(2/(1 + a²)).
    #[default]
    LeakyRelu,
    /// SELU: gain 3/4.
    Selu,
}

/// PyTorch's recommended gain for a nonlinearity (`param` is the leaky-ReLU slope).
pub fn calculate_gain(nonlinearity: Nonlinearity, param: f64) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu => (2.0 / (1.0 + param * param)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// (fan_in, fan_out) of a weight [out, in, k…]: in·∏k and out·∏k.
///
/// **Panics** for tensors of fewer than 2 dimensions.
#[track_caller]
pub fn fans(t: &Tensor) -> (usize, usize) {
    assert!(
        t.ndim() >= 2,
        "init: fan in and fan out need at least 2 dimensions, got shape {:?}",
        t.shape()
    );
    let receptive: usize = t.shape()[2..].iter().product();
    (t.shape()[1] * receptive, t.shape()[0] * receptive)
}

fn fill(t: &Tensor, values: impl Iterator<Item = f64>) {
    let v: Vec<f64> = values.collect();
    t.assign_(&Tensor::from_vec(v, t.shape()));
}

/// U(lo, hi).
pub fn uniform(t: &Tensor, lo: f64, hi: f64, gen: &mut Generator) {
    fill(t, (0..t.numel()).map(|_| gen.uniform(lo, hi)));
}

/// N(mean, std²).
pub fn normal(t: &Tensor, mean: f64, std: f64, gen: &mut Generator) {
    fill(t, (0..t.numel()).map(|_| mean + std * gen.normal()));
}

/// The constant `value`.
pub fn constant(t: &Tensor, value: f64) {
    fill(t, std::iter::repeat_n(value, t.numel()));
}

/// Zeros.
pub fn zeros(t: &Tensor) {
    constant(t, 0.0);
}

/// Ones.
pub fn ones(t: &Tensor) {
    constant(t, 1.0);
}

/// Glorot uniform: U(±gain·√(6/(fan_in + fan_out))).
pub fn xavier_uniform(t: &Tensor, gain: f64, gen: &mut Generator) {
    let (fi, fo) = fans(t);
    let a = gain * (6.0 / (fi + fo) as f64).sqrt();
    uniform(t, -a, a, gen);
}

/// Glorot normal: N(0, gain²·2/(fan_in + fan_out)).
pub fn xavier_normal(t: &Tensor, gain: f64, gen: &mut Generator) {
    let (fi, fo) = fans(t);
    normal(t, 0.0, gain * (2.0 / (fi + fo) as f64).sqrt(), gen);
}

fn kaiming_std(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity) -> f64 {
    let (fi, fo) = fans(t);
    let fan = if mode == FanMode::FanIn { fi } else { fo };
    calculate_gain(nl, a) / (fan as f64).sqrt()
}

/// He uniform: U(±√3·gain/√fan). With a = √5, fan_in and leaky ReLU this is
/// PyTorch's default for Linear and Conv weights, U(±1/√fan_in).
pub fn kaiming_uniform(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity, gen: &mut Generator) {
    let bound = 3f64.sqrt() * kaiming_std(t, a, mode, nl);
    uniform(t, -bound, bound, gen);
}

/// He normal: N(0, (gain/√fan)²).
pub fn kaiming_normal(t: &Tensor, a: f64, mode: FanMode, nl: Nonlinearity, gen: &mut Generator) {
    normal(t, 0.0, kaiming_std(t, a, mode, nl), gen);
}

/// N(mean, std²) truncated to [a, b], by inverting the normal CDF of a
/// uniform draw between the bounds' CDF values (PyTorch's method).
pub fn trunc_normal(t: &Tensor, mean: f64, std: f64, a: f64, b: f64, gen: &mut Generator) {
    let cdf = |x: f64| (1.0 + libm::erf(x / 2f64.sqrt())) / 2.0;
    let (l, u) = (cdf((a - mean) / std), cdf((b - mean) / std));
    fill(
        t,
        (0..t.numel()).map(|_| {
            let p = gen.uniform(2.0 * l - 1.0, 2.0 * u - 1.0);
            let v = erfinv(p) * std * 2f64.sqrt() + mean;
            v.clamp(a, b)
        }),
    );
}

/// Inverse error function (Giles' approximation refined by two Newton steps).
fn erfinv(y: f64) -> f64 {
    if y <= -1.0 {
        return f64::NEG_INFINITY;
    }
    if y >= 1.0 {
        return f64::INFINITY;
    }
    let w = -((1.0 - y) * (1.0 + y)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * y
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * y
    };
    for _ in 0..2 {
        let err = libm::erf(x) - y;
        x -= err / (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp());
    }
    x
}

/// A (semi-)orthogonal matrix from the QR decomposition of a normal draw,
/// signs fixed by R's diagonal as PyTorch does, times `gain`. Tensors of more
/// than two dimensions are flattened to [rows, rest].
///
/// **Panics** for tensors of fewer than 2 dimensions.
#[track_caller]
pub fn orthogonal(t: &Tensor, gain: f64, gen: &mut Generator) {
    assert!(
        t.ndim() >= 2,
        "orthogonal: needs at least 2 dimensions, got shape {:?}",
        t.shape()
    );
    let rows = t.shape()[0];
    let cols = t.numel() / rows;
    // Work on the tall orientation m×n (m ≥ n), transposing back if needed.
    let (m, n, transpose) = if rows < cols {
        (cols, rows, true)
    } else {
        (rows, cols, false)
    };
    let mut a: Vec<f64> = (0..m * n).map(|_| gen.normal()).collect(); // row-major m×n
                                                                      // Modified Gram–Schmidt on the columns: a becomes Q, r holds R's diagonal.
    let mut rdiag = vec![0.0; n];
    for j in 0..n {
        for k in 0..j {
            let dot: f64 = (0..m).map(|i| a[i * n + k] * a[i * n + j]).sum();
            for i in 0..m {
                a[i * n + j] -= dot * a[i * n + k];
            }
        }
        let norm = (0..m)
            .map(|i| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        rdiag[j] = norm;
        for i in 0..m {
            a[i * n + j] /= norm;
        }
    }
    // PyTorch multiplies Q by sign(diag(R)); Gram–Schmidt's diagonal is positive.
    let q: Vec<f64> = if transpose {
        (0..n)
            .flat_map(|j| (0..m).map(move |i| (i, j)))
            .map(|(i, j)| a[i * n + j] * gain)
            .collect()
    } else {
        a.iter().map(|v| v * gain).collect()
    };
    t.assign_(&Tensor::from_vec(q, t.shape()));
}
