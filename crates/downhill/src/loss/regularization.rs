//! Regularization penalties added to any loss, over a chosen subset of parameters.

use crate::Tensor;

/// An elastic-net penalty on parameters: λ₁·Σ|θ| + λ₂·Σθ² over the selected
/// parameters (PyTorch has no built-in; this is the textbook definition, with
/// no ½ on the L2 term). Weight decay inside optimizers is separate.
///
/// ```
/// use downhill::loss::Penalty;
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let b = Tensor::from_vec(vec![5.0f64], &[1]).requires_grad_(true);
/// let named = vec![("fc.weight".to_string(), w.clone()), ("fc.bias".to_string(), b.clone())];
/// // L2 with λ = 0.1 on weights only: 0.1·(1 + 4)
/// let p = Penalty::l2(0.1).of(&named).unwrap();
/// assert!((p.item() - 0.5).abs() < 1e-15);
/// let g = p.backward();
/// assert_eq!(g.get(&w).unwrap().to_vec_f64(), vec![0.2, -0.4]);
/// assert!(g.get(&b).is_none()); // biases excluded by default
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Penalty {
    /// λ₁, the L1 (lasso) strength.
    pub l1: f64,
    /// λ₂, the L2 (ridge) strength.
    pub l2: f64,
    /// Penalize only parameters whose dotted name ends in `weight` (the
    /// usual choice: not biases). Default true.
    pub weights_only: bool,
}

impl Penalty {
    /// λ·Σ|θ|.
    pub fn l1(lambda: f64) -> Self {
        Penalty {
            l1: lambda,
            l2: 0.0,
            weights_only: true,
        }
    }
    /// λ·Σθ².
    pub fn l2(lambda: f64) -> Self {
        Penalty {
            l1: 0.0,
            l2: lambda,
            weights_only: true,
        }
    }
    /// λ·(α·Σ|θ| + (1 − α)·Σθ²).
    pub fn elastic_net(lambda: f64, alpha: f64) -> Self {
        Penalty {
            l1: lambda * alpha,
            l2: lambda * (1.0 - alpha),
            weights_only: true,
        }
    }
    /// Applies to every parameter, biases included.
    pub fn all_parameters(mut self) -> Self {
        self.weights_only = false;
        self
    }

    /// The penalty over `named` parameters (`Module::named_parameters()`),
    /// filtered as configured; `None` if nothing is selected or both strengths are 0.
    pub fn of(&self, named: &[(String, Tensor)]) -> Option<Tensor> {
        self.of_filtered(named, |n| !self.weights_only || n.ends_with("weight"))
    }

    /// The penalty over the parameters whose names pass `keep`.
    pub fn of_filtered(
        &self,
        named: &[(String, Tensor)],
        keep: impl Fn(&str) -> bool,
    ) -> Option<Tensor> {
        let mut total: Option<Tensor> = None;
        for (name, t) in named {
            if !keep(name) {
                continue;
            }
            let mut term: Option<Tensor> = None;
            if self.l1 != 0.0 {
                term = Some(t.abs().sum().mul_scalar(self.l1));
            }
            if self.l2 != 0.0 {
                let l2 = t.square().sum().mul_scalar(self.l2);
                term = Some(match term {
                    Some(a) => a + l2,
                    None => l2,
                });
            }
            if let Some(term) = term {
                total = Some(match total {
                    Some(a) => a + term,
                    None => term,
                });
            }
        }
        total
    }
}
