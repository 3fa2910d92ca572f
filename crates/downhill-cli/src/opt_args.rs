//! Optimizer flags shared by `train` and `minimize`.
use crate::error::{CliError, Result};
use serde_json::{Map, Value};

/// `--optimizer`, `--lr`, `--momentum`, `--weight-decay` and `--opt NAME=VALUE`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct OptimizerArgs {
    /// Optimizer (PyTorch name: GD, SGD, Adam, AdamW, RMSprop, LBFGS, ...).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate (`minimize`: several, e.g. 0.01,0.1,0.5, one run each; `train`: auto, from a range test).
    #[arg(long, allow_hyphen_values = true, value_name = "LR")]
    pub lr: Option<LrArg>,
    /// Momentum (SGD, RMSprop).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Weight decay.
    #[arg(long = "weight-decay")]
    pub weight_decay: Option<f64>,
    /// Any hyperparameter by PyTorch's name: --opt betas=0.9,0.999 --opt amsgrad=true
    #[arg(long = "opt", value_name = "NAME=VALUE")]
    pub opt: Vec<String>,
    /// Sharpness-aware minimization around the optimizer (two gradients per
    /// step): --sam rho=0.05,adaptive=true,use_gc=true; --sam alone takes the defaults.
    #[arg(long, value_name = "NAME=VALUE,...", num_args = 0..=1, default_missing_value = "")]
    pub sam: Option<String>,
    /// Lookahead around the optimizer: --lookahead k=5,alpha=0.5,pullback_momentum=none|reset|pullback;
    /// alone, the defaults.
    #[arg(long, value_name = "NAME=VALUE,...", num_args = 0..=1, default_missing_value = "")]
    pub lookahead: Option<String>,
}

/// `--lr`: one learning rate, several separated by commas (`minimize` runs
/// one trajectory per value), or `auto` (`train` runs the range test first).
#[derive(Clone, Debug, PartialEq)]
pub enum LrArg {
    /// `--lr auto`.
    Auto,
    /// `--lr 0.1` or `--lr 0.01,0.1,0.5`.
    Values(Vec<f64>),
}

impl std::str::FromStr for LrArg {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(LrArg::Auto);
        }
        s.split(',')
            .map(|v| {
                v.trim().parse::<f64>().map_err(|_| {
                    format!(
                        "'{}' is not a number (expected e.g. 0.1, 0.01,0.1 or auto)",
                        v.trim()
                    )
                })
            })
            .collect::<std::result::Result<Vec<f64>, String>>()
            .map(LrArg::Values)
    }
}

impl OptimizerArgs {
    /// The optimizer's name and hyperparameters as JSON: `default_name` with
    /// `default_lr` when no optimizer is named; a named optimizer without
    /// `--lr` takes PyTorch's default learning rate for it.
    ///
    /// **Errors** (naming `--lr` or `--opt NAME=VALUE`) on a malformed pair,
    /// a negative or non-finite learning rate, or a key given twice. Unknown
    /// keys are caught when the optimizer is built: see [`build_error`].
    pub fn resolve(&self, default_name: &str, default_lr: f64) -> Result<(String, Value)> {
        let name = self
            .optimizer
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        let mut hyper = parse_key_values("--opt", &self.opt)?;
        let mut set = |key: &str, flag: &str, v: Option<f64>| -> Result<()> {
            let Some(v) = v else { return Ok(()) };
            if !v.is_finite() || v < 0.0 {
                return Err(CliError::flag(
                    flag,
                    format!("must be a finite number ≥ 0, got {v}"),
                ));
            }
            if hyper.contains_key(key) {
                return Err(CliError::flag(
                    format!("--opt {key}"),
                    format!("given twice (also as {flag})"),
                ));
            }
            hyper.insert(key.to_string(), number(v));
            Ok(())
        };
        let lr = match &self.lr {
            None | Some(LrArg::Auto) => None,
            Some(LrArg::Values(v)) if v.len() == 1 => Some(v[0]),
            Some(LrArg::Values(_)) => {
                return Err(CliError::flag(
                    "--lr",
                    "takes one learning rate here (several, --lr 0.01,0.1, are for `downhill minimize`)",
                ))
            }
        };
        set("lr", "--lr", lr)?;
        set("momentum", "--momentum", self.momentum)?;
        set("weight_decay", "--weight-decay", self.weight_decay)?;
        match hyper.get("lr") {
            // The default optimizer gets the default lr; a named one keeps
            // PyTorch's own default (LBFGS 1, RMSprop 0.01, Adamax 0.002, …).
            None if self.optimizer.is_none() => {
                hyper.insert("lr".into(), number(default_lr));
            }
            Some(v) if !v.as_f64().is_some_and(|lr| lr.is_finite() && lr >= 0.0) => {
                return Err(CliError::flag(
                    "--opt lr",
                    format!("must be a finite number ≥ 0, got {v}"),
                ));
            }
            None | Some(_) => {}
        }
        self.wrappers(&mut hyper)?;
        Ok((name, Value::Object(hyper)))
    }

    /// `--sam` and `--lookahead` as the reserved keys `sam`/`lookahead` of
    /// the hyperparameters (`optim::from_config` wraps the optimizer).
    ///
    /// **Errors** naming the flag on a malformed pair, on `--opt sam=…`,
    /// and on `--sam` with `--lr auto` (the range test steps without the
    /// second gradient).
    fn wrappers(&self, hyper: &mut Map<String, Value>) -> Result<()> {
        for (key, given) in [("sam", &self.sam), ("lookahead", &self.lookahead)] {
            let flag = format!("--{key}");
            if hyper.contains_key(key) {
                return Err(CliError::flag(
                    format!("--opt {key}"),
                    format!("is a wrapper: give it as {flag} NAME=VALUE,..."),
                ));
            }
            let Some(text) = given else { continue };
            if key == "sam" && self.lr == Some(LrArg::Auto) {
                return Err(CliError::flag(
                    "--sam",
                    "cannot be combined with --lr auto (the range test takes one gradient per step); give --lr",
                ));
            }
            let settings = parse_flag_pairs(&flag, text)?;
            hyper.insert(key.to_string(), Value::Object(settings));
        }
        Ok(())
    }
}

/// Turns the library's error from `optim::from_config(name, hyper, ..)` into
/// a flag error: `--opt KEY` for an unknown or invalid hyperparameter, the
/// flag that set it for `lr`/`momentum`/`weight_decay`, `--optimizer` for an
/// unknown optimizer.
pub fn build_error(name: &str, e: downhill::Error) -> CliError {
    let downhill::Error::InvalidArgument {
        name: what,
        message,
    } = e
    else {
        return CliError::Lib(e);
    };
    // `Adam.momentum` for an unknown key, `lr` for an invalid value, `Adam` for the rest.
    let key = what
        .strip_prefix(&format!("{name}."))
        .unwrap_or(&what)
        .to_string();
    // `sam.rho` → `--sam`: rho: …
    for w in downhill::optim::WRAPPERS {
        if key == *w {
            return CliError::flag(format!("--{w}"), message);
        }
        if let Some(k) = key.strip_prefix(&format!("{w}.")) {
            let message = message.replace("unknown hyperparameter", &format!("{w} has no {k}"));
            return CliError::flag(format!("--{w}"), format!("{k}: {message}"));
        }
    }
    if key == name {
        if message.starts_with("unknown optimizer") {
            return CliError::flag("--optimizer", format!("'{name}': {message}"));
        }
        return CliError::flag(format!("--optimizer {name}"), message);
    }
    let flag = match key.as_str() {
        "lr" => "--lr".to_string(),
        "momentum" => "--momentum".to_string(),
        "weight_decay" => "--weight-decay".to_string(),
        _ => format!("--opt {key}"),
    };
    let message = message.replace("unknown hyperparameter", &format!("{name} has no {key}"));
    CliError::flag(flag, message)
}

/// A number as JSON: an integer when it is one (so it fits `usize` fields).
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// One value: `true`/`false`, `null`/`none`, a number, a comma list of
/// numbers, else a string.
fn parse_value(text: &str) -> std::result::Result<Value, String> {
    let t = text.trim();
    match t {
        "true" | "True" => return Ok(Value::Bool(true)),
        "false" | "False" => return Ok(Value::Bool(false)),
        "null" | "none" | "None" => return Ok(Value::Null),
        "" => return Err("empty value".into()),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(v) = t.parse::<f64>() {
        return if v.is_finite() {
            Ok(number(v))
        } else {
            Err(format!("'{t}' is not a finite number"))
        };
    }
    if t.contains(',') {
        let items: std::result::Result<Vec<Value>, String> = t
            .split(',')
            .map(|item| match item.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(number(v)),
                _ => Err(format!(
                    "'{}' in the list is not a finite number",
                    item.trim()
                )),
            })
            .collect();
        return items.map(Value::Array);
    }
    Ok(Value::String(t.to_string()))
}

/// A flag's comma-separated `NAME=VALUE,...` text (`--sam`, `--lookahead`,
/// `--swa`, `--ema`) as [`parse_key_values`] reads it; empty pieces are skipped.
///
/// **Errors** as [`parse_key_values`].
pub fn parse_flag_pairs(flag: &str, text: &str) -> Result<Map<String, Value>> {
    let pairs: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    parse_key_values(flag, &pairs)
}

/// Parses `NAME=VALUE` pairs given with `flag` (`--opt`, `--sched`) into a
/// JSON object: `true`/`false` become booleans, a number a number, a comma
/// list a list of numbers, anything else a string.
///
/// **Errors** naming `flag NAME=VALUE` on a pair without `=`, an empty or
/// malformed name, an empty value, or a name given twice.
pub fn parse_key_values(flag: &str, pairs: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for pair in pairs {
        let bad = |message: String| CliError::flag(format!("{flag} {pair}"), message);
        let Some((key, value)) = pair.split_once('=') else {
            return Err(bad("expected NAME=VALUE".into()));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(format!("'{key}' is not a hyperparameter name")));
        }
        let value = parse_value(value).map_err(bad)?;
        if map.insert(key.to_string(), value).is_some() {
            return Err(bad(format!("'{key}' given twice")));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(opt: &[&str]) -> OptimizerArgs {
        OptimizerArgs {
            opt: opt.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn values() {
        let m = parse_key_values(
            "--opt",
            &[
                "betas=0.9,0.999",
                "amsgrad=true",
                "max_iter=20",
                "eps=1e-8",
                "line_search_fn=strong_wolfe",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"betas": [0.9, 0.999], "amsgrad": true, "max_iter": 20, "eps": 1e-8,
                   "line_search_fn": "strong_wolfe"})
        );
    }

    #[test]
    fn defaults_and_flags() {
        let (name, hyper) = args(&[]).resolve("GD", 0.01).unwrap();
        assert_eq!((name.as_str(), hyper), ("GD", json!({"lr": 0.01})));
        let a = OptimizerArgs {
            optimizer: Some("SGD".into()),
            lr: Some(LrArg::Values(vec![0.5])),
            momentum: Some(0.9),
            weight_decay: Some(1e-4),
            opt: vec!["nesterov=true".into()],
            ..Default::default()
        };
        let (name, hyper) = a.resolve("GD", 0.01).unwrap();
        assert_eq!(name, "SGD");
        assert_eq!(
            hyper,
            json!({"lr": 0.5, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": true})
        );
    }

    #[test]
    fn errors_name_the_flag() {
        let e = |a: OptimizerArgs| a.resolve("GD", 0.01).unwrap_err().to_string();
        assert!(e(args(&["betas"])).starts_with("--opt betas: expected NAME=VALUE"));
        assert!(e(args(&["=1"])).starts_with("--opt =1: "));
        assert!(e(args(&["eps="])).starts_with("--opt eps=: empty value"));
        assert!(e(args(&["eps=1", "eps=2"])).starts_with("--opt eps=2: 'eps' given twice"));
        assert!(e(args(&["betas=0.9,x"])).contains("not a finite number"));
        assert!(e(args(&["lr=-1"])).starts_with("--opt lr: must be"));
        let neg = OptimizerArgs {
            lr: Some(LrArg::Values(vec![-0.1])),
            ..Default::default()
        };
        assert!(e(neg).starts_with("--lr: must be a finite number ≥ 0, got -0.1"));
        let twice = OptimizerArgs {
            lr: Some(LrArg::Values(vec![0.1])),
            opt: vec!["lr=0.2".into()],
            ..Default::default()
        };
        assert!(e(twice).starts_with("--opt lr: given twice"));
    }

    #[test]
    fn library_errors_become_flag_errors() {
        let build = |name: &str, hyper: Value| {
            let w = downhill::Tensor::scalar(1.0f64).requires_grad_(true);
            match downhill::optim::from_config(name, &hyper, vec![w]) {
                Ok(_) => panic!("{name} {hyper} built"),
                Err(e) => build_error(name, e).to_string(),
            }
        };
        let m = build("Adam", json!({"lr": 0.1, "momentum": 0.9}));
        assert!(m.starts_with("--momentum: Adam has no momentum"), "{m}");
        let m = build("Adam", json!({"lr": 0.1, "foo": 1}));
        assert!(m.starts_with("--opt foo: Adam has no foo"), "{m}");
        let m = build("Adamm", json!({"lr": 0.1}));
        assert!(
            m.starts_with("--optimizer: 'Adamm': unknown optimizer"),
            "{m}"
        );
        let m = build("SGD", json!({"lr": 0.1, "sam": {"rho": -1}}));
        assert_eq!(m, "--sam: rho: must be a finite number ≥ 0, got -1.0");
        let m = build("SGD", json!({"lr": 0.1, "lookahead": {"q": 1}}));
        assert!(m.starts_with("--lookahead: q: lookahead has no q"), "{m}");
    }

    #[test]
    fn wrappers_become_reserved_keys() {
        let a = OptimizerArgs {
            optimizer: Some("SGD".into()),
            sam: Some("rho=0.1, adaptive=true".into()),
            lookahead: Some(String::new()),
            ..Default::default()
        };
        let (_, hyper) = a.resolve("GD", 0.01).unwrap();
        assert_eq!(
            hyper,
            json!({"sam": {"rho": 0.1, "adaptive": true}, "lookahead": {}})
        );
        let e = |a: OptimizerArgs| a.resolve("GD", 0.01).unwrap_err().to_string();
        let auto = OptimizerArgs {
            lr: Some(LrArg::Auto),
            sam: Some(String::new()),
            ..Default::default()
        };
        assert!(e(auto).starts_with("--sam: cannot be combined with --lr auto"));
        assert!(e(args(&["sam=1"])).starts_with("--opt sam: is a wrapper"));
        let bad = OptimizerArgs {
            lookahead: Some("k".into()),
            ..Default::default()
        };
        assert!(e(bad).starts_with("--lookahead k: expected NAME=VALUE"));
    }
}
