//! Checking analytic gradients against central finite differences in f64.

use crate::tensor::{DType, Generator, Tensor};

/// Tolerances and step of [`gradcheck`].
#[derive(Clone, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step (PyTorch's default: 1e-6).
    pub eps: f64,
    /// Absolute tolerance (PyTorch's default: 1e-5).
    pub atol: f64,
    /// Relative tolerance (PyTorch's default: 1e-3).
    pub rtol: f64,
    /// Seed of the random projection used for non-scalar outputs.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

/// An analytic gradient that disagrees with its finite-difference estimate.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("gradcheck: input {input}, element {index}: analytic {analytic:e} vs numeric {numeric:e} (|diff| {diff:e} > atol + rtol·|numeric|)")]
pub struct GradcheckError {
    /// Which input tensor.
    pub input: usize,
    /// Which element of it (row-major).
    pub index: usize,
    /// The gradient from backward.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
    /// |analytic − numeric|.
    pub diff: f64,
}

/// Checks the gradients `backward` computes for `f` at `inputs` against
/// central differences `(f(x+ε) − f(x−ε))/2ε`, in f64.
///
/// The inputs are converted to f64 trainable leaves. A non-scalar output is
/// reduced to a scalar by a fixed random projection Σ f(x)·v, which checks the
/// whole vector–Jacobian product. Returns the first disagreement, if any.
///
/// ```
/// use downhill::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]);
/// gradcheck(|v| v[0].tanh().mul(&v[0]).sum(), &[x], &GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError> {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            t.detach()
                .to_dtype(DType::F64)
                .detach()
                .requires_grad_(true)
        })
        .collect();
    let out = f(&leaves);
    let mut gen = Generator::new(opts.seed);
    let v = Tensor::normal(out.shape(), 0.0, 1.0, DType::F64, &mut gen);
    let project = |y: &Tensor| -> f64 {
        let yv = y.to_dtype(DType::F64).to_vec_f64();
        yv.iter().zip(v.to_vec_f64()).map(|(a, b)| a * b).sum()
    };
    let scalar = out.to_dtype(DType::F64).mul(&v).sum();
    let grads = scalar.backward();
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = grads
            .get(leaf)
            .map(|g| g.to_vec_f64())
            .unwrap_or_else(|| vec![0.0; leaf.numel()]);
        let base = leaf.to_vec_f64();
        for j in 0..base.len() {
            let eval = |delta: f64| -> f64 {
                let mut p = base.clone();
                p[j] += delta;
                let shifted: Vec<Tensor> = leaves
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        if k == i {
                            Tensor::from_vec(p.clone(), l.shape())
                        } else {
                            l.detach()
                        }
                    })
                    .collect();
                crate::no_grad(|| project(&f(&shifted)))
            };
            let numeric = (eval(opts.eps) - eval(-opts.eps)) / (2.0 * opts.eps);
            let a = analytic[j];
            let diff = (a - numeric).abs();
            let within = diff <= opts.atol + opts.rtol * numeric.abs();
            if !within {
                return Err(GradcheckError {
                    input: i,
                    index: j,
                    analytic: a,
                    numeric,
                    diff,
                });
            }
        }
    }
    Ok(())
}
