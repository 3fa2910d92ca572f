//! PyTorch's range rules for optimizer hyperparameters, by hyperparameter
//! name (the `ValueError`s of `torch/optim/*.py`), applied to every config
//! [`super::from_config`] builds before the optimizer sees it.

use serde_json::Value;

use crate::validate::invalid;
use crate::Result;

/// One number of a hyperparameter (`betas` has two), `None` if it is not a
/// number (a non-finite `f64` serializes as `null`).
fn numbers(v: &Value) -> Vec<Option<f64>> {
    match v {
        Value::Array(a) => a.iter().map(Value::as_f64).collect(),
        other => vec![other.as_f64()],
    }
}

/// Checks `key = value` of `optimizer` against PyTorch's rule for that name.
fn check_one(optimizer: &str, key: &str, v: &Value) -> Result<()> {
    let bad = |rule: &str| invalid(key, format!("{rule}, got {v}"));
    let nums = numbers(v);
    let all = |ok: &dyn Fn(f64) -> bool| {
        nums.iter()
            .all(|x| x.is_some_and(|x| x.is_finite() && ok(x)))
    };
    let (ok, rule) = match key {
        "lr" if matches!(optimizer, "Prodigy" | "DAdaptAdam" | "DAdaptSGD") => {
            (all(&|x| x > 0.0), "must be a finite number > 0")
        }
        "eps" if matches!(optimizer, "Prodigy" | "DAdaptAdam") => {
            (all(&|x| x > 0.0), "must be a finite number > 0")
        }
        "d0" | "d_coef" => (all(&|x| x > 0.0), "must be a finite number > 0"),
        "growth_rate" => (
            v.is_null() || all(&|x| x >= 1.0),
            "must be a finite number ≥ 1 or null (unbounded)",
        ),
        "beta3" => (
            v.is_null() || all(&|x| (0.0..1.0).contains(&x)),
            "must be in [0, 1) or null (√β₂)",
        ),
        "momentum" if optimizer == "DAdaptSGD" => {
            (all(&|x| (0.0..1.0).contains(&x)), "must be in [0, 1)")
        }
        "rho" if optimizer == "SAM" => (all(&|x| x >= 0.0), "must be a finite number ≥ 0"),
        "perturb_eps" => (all(&|x| x >= 0.0), "must be a finite number ≥ 0"),
        "alpha" if optimizer == "Lookahead" => {
            (all(&|x| (0.0..=1.0).contains(&x)), "must be in [0, 1]")
        }
        "k" | "slice_p" => (all(&|x| x >= 1.0), "must be a whole number ≥ 1"),
        "momentum" if optimizer == "SGDScheduleFree" => {
            (all(&|x| 0.0 < x && x < 1.0), "must be in (0, 1)")
        }
        "lr"
        | "weight_decay"
        | "momentum"
        | "alpha"
        | "lr_decay"
        | "initial_accumulator_value"
        | "momentum_decay"
        | "lambd"
        | "t0"
        | "tolerance_grad"
        | "tolerance_change" => (all(&|x| x >= 0.0), "must be a finite number ≥ 0"),
        "eps" if optimizer == "Adafactor" => {
            // (eps1 or null, eps2), both ≥ 0.
            let ok = match v.as_array().map(Vec::as_slice) {
                Some([e1, e2]) => {
                    (e1.is_null() || e1.as_f64().is_some_and(|x| x >= 0.0))
                        && e2.as_f64().is_some_and(|x| x >= 0.0)
                }
                _ => false,
            };
            (ok, "must be [eps1 ≥ 0 or null, eps2 ≥ 0]")
        }
        "eps" => (all(&|x| x >= 0.0), "must be a finite number ≥ 0"),
        "warmup_steps" => (all(&|x| x >= 0.0), "must be a whole number ≥ 0"),
        "dampening" | "ns_coefficients" | "r" | "weight_lr_power" => {
            (all(&|_| true), "must be finite")
        }
        "betas" if optimizer == "Lion" => (
            nums.len() == 2 && all(&|x| (0.0..=1.0).contains(&x)),
            "must be two numbers in [0, 1]",
        ),
        "betas" => (
            nums.len() == 2 && all(&|x| (0.0..1.0).contains(&x)),
            "must be two numbers in [0, 1)",
        ),
        "rho" => (all(&|x| (0.0..=1.0).contains(&x)), "must be in [0, 1]"),
        "etas" => {
            let ok = matches!(nums[..], [Some(lo), Some(hi)] if 0.0 < lo && lo < 1.0 && 1.0 < hi && hi.is_finite());
            (ok, "must be two numbers with 0 < eta- < 1 < eta+")
        }
        "step_sizes" => {
            let ok =
                matches!(nums[..], [Some(lo), Some(hi)] if 0.0 <= lo && lo <= hi && hi.is_finite());
            (ok, "must be two numbers with 0 ≤ min ≤ max")
        }
        "beta2_decay" => (all(&|x| x <= 0.0), "must be a finite number ≤ 0"),
        "d" => (all(&|x| x >= 1.0), "must be a finite number ≥ 1"),
        "max_iter" | "history_size" => (all(&|x| x >= 1.0), "must be a whole number ≥ 1"),
        "max_eval" => (
            v.is_null() || all(&|x| x >= 1.0),
            "must be a whole number ≥ 1 (or null for max_iter·5/4)",
        ),
        "ns_steps" => (all(&|x| x < 100.0), "must be a whole number below 100"),
        _ => (true, ""),
    };
    if !ok {
        return Err(bad(rule));
    }
    Ok(())
}

/// Checks every hyperparameter of `optimizer`'s config (serialized to JSON)
/// against PyTorch's rule for its name.
///
/// **Errors** naming the first hyperparameter that breaks its rule.
pub(crate) fn check_config(optimizer: &str, config: &Value) -> Result<()> {
    if let Some(obj) = config.as_object() {
        for (k, v) in obj {
            check_one(optimizer, k, v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_follow_pytorch() {
        let c = |o: &str, v: Value| check_config(o, &v);
        assert!(c(
            "Adam",
            json!({"lr": 0.0, "betas": [0.0, 0.999], "eps": 0.0})
        )
        .is_ok());
        assert!(c("Adam", json!({"betas": [0.9, 1.0]})).is_err());
        assert!(c("Lion", json!({"betas": [0.9, 1.0]})).is_ok());
        assert!(c("Adam", json!({"lr": null})).is_err());
        assert!(c("Rprop", json!({"etas": [0.5, 1.0]})).is_err());
        assert!(c("Rprop", json!({"step_sizes": [1.0, 0.5]})).is_err());
        assert!(c("Adafactor", json!({"eps": [null, 1e-3]})).is_ok());
        assert!(c("Adafactor", json!({"eps": [-1.0, 1e-3]})).is_err());
        assert!(c("Adafactor", json!({"beta2_decay": 0.5})).is_err());
        assert!(c("LBFGS", json!({"max_eval": null, "max_iter": 0})).is_err());
        let e = c("SGD", json!({"momentum": -1})).unwrap_err().to_string();
        assert_eq!(e, "momentum: must be a finite number ≥ 0, got -1");
    }
}
