//! The range checks every config builder (optimizers, schedules, losses)
//! applies to the values it is given, with one wording for each rule, so an
//! error always states the rule and the value that broke it.

use crate::{Error, Result};

/// The largest step or epoch count a config accepts (2⁴⁰): larger counts
/// would overflow the schedules' arithmetic, and no run takes that many steps.
pub(crate) const MAX_COUNT: u64 = 1 << 40;

/// `Err(InvalidArgument { name, message })`.
pub(crate) fn invalid(name: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: name.into(),
        message: message.into(),
    }
}

/// `v` unless it is NaN or infinite.
pub(crate) fn finite(name: &str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid(name, format!("must be a finite number, got {v}")))
    }
}

/// `v` if it is finite and ≥ `lo`.
pub(crate) fn at_least(name: &str, v: f64, lo: f64) -> Result<f64> {
    if v.is_finite() && v >= lo {
        Ok(v)
    } else {
        Err(invalid(
            name,
            format!("must be a finite number ≥ {lo}, got {v}"),
        ))
    }
}

/// `v` if it is finite and > `lo`.
pub(crate) fn above(name: &str, v: f64, lo: f64) -> Result<f64> {
    if v.is_finite() && v > lo {
        Ok(v)
    } else {
        Err(invalid(
            name,
            format!("must be a finite number > {lo}, got {v}"),
        ))
    }
}

/// `v` if it lies in `[lo, hi]` (the brackets say which ends are included:
/// `"[0, 1)"`), checked by `ok`.
pub(crate) fn within(name: &str, v: f64, range: &str, ok: bool) -> Result<f64> {
    if v.is_finite() && ok {
        Ok(v)
    } else {
        Err(invalid(name, format!("must be in {range}, got {v}")))
    }
}

/// `n` if `lo ≤ n ≤ MAX_COUNT`.
pub(crate) fn count(name: &str, n: u64, lo: u64) -> Result<usize> {
    if n >= lo && n <= MAX_COUNT {
        Ok(n as usize)
    } else {
        Err(invalid(
            name,
            format!("must be a whole number between {lo} and 2^40, got {n}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_state_themselves() {
        assert!(at_least("lr", 0.0, 0.0).is_ok());
        let e = at_least("lr", -1.0, 0.0).unwrap_err().to_string();
        assert_eq!(e, "lr: must be a finite number ≥ 0, got -1");
        assert!(at_least("lr", f64::NAN, 0.0).is_err());
        assert!(above("T", 0.0, 0.0).is_err());
        assert!(above("T", f64::INFINITY, 0.0).is_err());
        assert!(within("b", 1.0, "[0, 1)", 1.0 < 1.0).is_err());
        assert!(within("b", f64::NAN, "[0, 1)", true).is_err());
        assert!(count("n", 0, 1).is_err());
        assert!(count("n", MAX_COUNT + 1, 0).is_err());
        assert_eq!(count("n", 3, 1).unwrap(), 3);
        assert!(finite("x", f64::NEG_INFINITY).is_err());
    }
}
