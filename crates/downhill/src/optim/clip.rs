//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`.

use crate::{Error, Gradients, Result, Tensor};

fn p_norm(values: &[f64], p: f64) -> f64 {
    if p == f64::INFINITY {
        values.iter().fold(0.0, |m, v| f64::max(m, v.abs()))
    } else if p == 2.0 {
        values.iter().map(|v| v * v).sum::<f64>().sqrt()
    } else if p == 1.0 {
        values.iter().map(|v| v.abs()).sum()
    } else {
        values
            .iter()
            .map(|v| v.abs().powf(p))
            .sum::<f64>()
            .powf(1.0 / p)
    }
}

/// Scales the gradients of `params` so that their joint `norm_type`-norm is
/// at most `max_norm`, and returns the norm before clipping:
///
/// N = ‖(‖g₁‖, …, ‖gₖ‖)‖ₚ;  every g ← g·min(1, max_norm/(N + 10⁻⁶))
///
/// `norm_type` is p ≥ 1 or `f64::INFINITY`. Parameters without a gradient are
/// skipped. The order of `params` fixes the summation order, so the result is
/// deterministic.
///
/// **Errors** if `error_if_nonfinite` and the norm is NaN or infinite (the
/// gradients are then left untouched).
///
/// ```
/// use downhill::{optim::clip_grad_norm, Tensor};
/// let w = Tensor::from_vec(vec![3.0f64, 4.0], &[2]).requires_grad_(true);
/// let grads = (&w * &w).sum().mul_scalar(0.5).backward(); // g = w = (3, 4), ‖g‖ = 5
/// let norm = clip_grad_norm(&[w.clone()], &grads, 1.0, 2.0, false).unwrap();
/// assert_eq!(norm, 5.0);
/// let g = grads.get(&w).unwrap().to_vec_f64();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(
    params: &[Tensor],
    grads: &Gradients,
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<f64> {
    let present: Vec<&Tensor> = params.iter().filter_map(|p| grads.get(p)).collect();
    if present.is_empty() {
        return Ok(0.0);
    }
    let norms: Vec<f64> = present
        .iter()
        .map(|g| p_norm(&g.to_vec_f64(), norm_type))
        .collect();
    let total = p_norm(&norms, norm_type);
    if error_if_nonfinite && !total.is_finite() {
        return Err(Error::NonFinite {
            context: format!("the total {norm_type}-norm of the gradients is {total}; the step would corrupt the parameters"),
        });
    }
    let coef = f64::min(max_norm / (total + 1e-6), 1.0);
    for g in present {
        scale(g, coef);
    }
    Ok(total)
}

fn scale(g: &Tensor, k: f64) {
    match g.dtype() {
        crate::DType::F32 => g.update_::<f32, _>(|v| v.iter_mut().for_each(|x| *x *= k as f32)),
        crate::DType::F64 => g.update_::<f64, _>(|v| v.iter_mut().for_each(|x| *x *= k)),
    }
}

/// Clamps every gradient element of `params` to [−clip_value, clip_value].
///
/// ```
/// use downhill::{optim::clip_grad_value, Tensor};
/// let w = Tensor::from_vec(vec![3.0f64, -0.5], &[2]).requires_grad_(true);
/// let grads = (&w * &w).sum().mul_scalar(0.5).backward();
/// clip_grad_value(&[w.clone()], &grads, 1.0);
/// assert_eq!(grads.get(&w).unwrap().to_vec_f64(), vec![1.0, -0.5]);
/// ```
pub fn clip_grad_value(params: &[Tensor], grads: &Gradients, clip_value: f64) {
    for g in params.iter().filter_map(|p| grads.get(p)) {
        match g.dtype() {
            crate::DType::F32 => {
                let c = clip_value as f32;
                g.update_::<f32, _>(|v| v.iter_mut().for_each(|x| *x = x.clamp(-c, c)))
            }
            crate::DType::F64 => g.update_::<f64, _>(|v| {
                v.iter_mut()
                    .for_each(|x| *x = x.clamp(-clip_value, clip_value))
            }),
        }
    }
}
