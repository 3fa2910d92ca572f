//! The loss of `--loss NAME --loss-opt KEY=VALUE`, built for a model that
//! emits raw outputs (logits for classification).
use downhill::loss::{LogSoftmaxThen, Loss};
use serde_json::Value;

use crate::error::{CliError, Result};

/// Builds `--loss name` with `--loss-opt` options for a model that emits
/// logits (NLLLoss gets a LogSoftmax in front: [`LogSoftmaxThen`]).
///
/// **Errors** naming `--loss` (unknown loss) or `--loss-opt KEY` and the rule.
pub fn build(name: &str, options: &Value) -> Result<Box<dyn Loss>> {
    let loss = downhill::loss::from_config(name, options).map_err(|e| match e {
        downhill::Error::InvalidArgument {
            name: what,
            message,
        } => match what.strip_prefix(&format!("{name}.")) {
            Some(key) => CliError::flag(format!("--loss-opt {key}"), message),
            None => CliError::flag("--loss", format!("'{name}': {message}")),
        },
        other => CliError::Lib(other),
    })?;
    Ok(if name == "NLLLoss" {
        Box::new(LogSoftmaxThen::new(loss))
    } else {
        loss
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use downhill::loss::Target;
    use downhill::Tensor;
    use serde_json::json;

    #[test]
    fn nll_on_logits_is_cross_entropy() {
        let logits = Tensor::from_vec(vec![2.0f64, -1.0, 0.5, 0.0, 3.0, -2.0], &[2, 3]);
        let target = [0usize, 1];
        let nll = build("NLLLoss", &json!({})).unwrap();
        let ce = build("CrossEntropyLoss", &json!({})).unwrap();
        let a = nll.forward(&logits, Target::Indices(&target), &[]).item();
        let b = ce.forward(&logits, Target::Indices(&target), &[]).item();
        assert!(a > 0.0, "a loss on log-probabilities is positive: {a}");
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn errors_name_the_flag_and_the_rule() {
        let e = |n: &str, o: Value| build(n, &o).err().unwrap().to_string();
        assert_eq!(
            e("CrossEntropyLoss", json!({"label_smoothing": 2})),
            "--loss-opt label_smoothing: must be in [0, 1], got 2"
        );
        assert!(e("HuberLoss", json!({"delta": 0})).starts_with("--loss-opt delta: must be"));
        assert!(e("MSELosss", json!({})).starts_with("--loss: 'MSELosss': unknown loss"));
    }
}
