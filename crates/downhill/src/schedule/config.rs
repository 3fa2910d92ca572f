//! Schedules from their PyTorch names and JSON parameters, every value
//! checked against PyTorch's rules before a constructor sees it.

use serde_json::{Map, Value};

use super::{
    AnnealStrategy, ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
    CyclicLR, CyclicMode, ExponentialLR, LinearLR, LrScheduler, LrTarget, MultiStepLR, OneCycleLR,
    PlateauMode, PolynomialLR, ReduceLROnPlateau, SequentialLR, StepLR, SwaLR, ThresholdMode,
};
use crate::validate::{count, invalid, MAX_COUNT};
use crate::{Error, Result};

/// Every schedule [`from_config`] builds, by PyTorch's name
/// (ReduceLROnPlateau, which needs a metric, is built by [`plateau_from_config`]).
pub const NAMES: &[&str] = &[
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
    "SWALR",
];

/// The parameters a schedule takes (PyTorch's names), for [`NAMES`] and
/// `"ReduceLROnPlateau"`; `None` for an unknown name.
///
/// ```
/// assert_eq!(downhill::schedule::parameters("StepLR"), Some(&["step_size", "gamma"][..]));
/// ```
pub fn parameters(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "StepLR" => &["step_size", "gamma"],
        "MultiStepLR" => &["milestones", "gamma"],
        "ConstantLR" => &["factor", "total_iters"],
        "LinearLR" => &["start_factor", "end_factor", "total_iters"],
        "ExponentialLR" => &["gamma"],
        "PolynomialLR" => &["total_iters", "power"],
        "CosineAnnealingLR" => &["T_max", "eta_min"],
        "CosineAnnealingWarmRestarts" => &["T_0", "T_mult", "eta_min"],
        "CyclicLR" => &[
            "base_lr",
            "max_lr",
            "step_size_up",
            "step_size_down",
            "mode",
            "gamma",
            "scale_mode",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
        ],
        "OneCycleLR" => &[
            "max_lr",
            "total_steps",
            "epochs",
            "steps_per_epoch",
            "pct_start",
            "anneal_strategy",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
            "div_factor",
            "final_div_factor",
            "three_phase",
        ],
        "SequentialLR" => &["schedulers", "milestones"],
        "ChainedScheduler" => &["schedulers"],
        "SWALR" => &["swa_lr", "anneal_epochs", "anneal_strategy"],
        "ReduceLROnPlateau" => &[
            "mode",
            "factor",
            "patience",
            "threshold",
            "threshold_mode",
            "cooldown",
            "min_lr",
            "eps",
        ],
        _ => return None,
    })
}

/// Reads a schedule's parameters, each by its rule; `null` counts as not given.
struct Params<'a> {
    owner: &'a str,
    map: Map<String, Value>,
}

impl<'a> Params<'a> {
    fn new(owner: &'a str, p: &Value) -> Result<Self> {
        let known = parameters(owner).unwrap_or(&[]);
        let map = match p {
            Value::Object(m) => m.clone(),
            Value::Null => Map::new(),
            _ => return Err(invalid(owner, "parameters must be a JSON object")),
        };
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(
                format!("{owner}.{k}"),
                format!("unknown parameter; {owner} takes {known:?}"),
            ));
        }
        Ok(Params { owner, map })
    }
    fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.owner)
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn required(&self, key: &str) -> Error {
        invalid(self.name(key), "is required")
    }
    /// A number (the caller checks its range).
    fn num(&self, key: &str, default: Option<f64>) -> Result<f64> {
        match self.get(key) {
            Some(v) => v
                .as_f64()
                .ok_or_else(|| invalid(self.name(key), format!("must be a number, got {v}"))),
            None => default.ok_or_else(|| self.required(key)),
        }
    }
    fn opt_num(&self, key: &str) -> Result<Option<f64>> {
        self.get(key).map(|_| self.num(key, None)).transpose()
    }
    /// A whole number between `lo` and 2⁴⁰.
    fn whole(&self, key: &str, default: Option<u64>, lo: u64) -> Result<usize> {
        let Some(v) = self.get(key) else {
            return default
                .map(|d| d as usize)
                .ok_or_else(|| self.required(key));
        };
        whole_number(&self.name(key), v, lo)
    }
    fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            Some(v) => v
                .as_bool()
                .ok_or_else(|| invalid(self.name(key), format!("must be true or false, got {v}"))),
            None => Ok(default),
        }
    }
    /// One of `options` (the first is the default).
    fn choice(&self, key: &str, options: &[&'static str]) -> Result<&'static str> {
        let Some(v) = self.get(key) else {
            return Ok(options[0]);
        };
        v.as_str()
            .and_then(|s| options.iter().find(|o| **o == s).copied())
            .ok_or_else(|| {
                invalid(
                    self.name(key),
                    format!("must be one of {}, got {v}", options.join(", ")),
                )
            })
    }
    /// A list of whole numbers ≥ 0 in increasing order.
    fn milestones(&self, key: &str) -> Result<Vec<usize>> {
        let v = self.get(key).ok_or_else(|| self.required(key))?;
        let rule = "must be a list of whole numbers ≥ 0 in increasing order";
        let list = v
            .as_array()
            .ok_or_else(|| invalid(self.name(key), format!("{rule}, got {v}")))?;
        let m: Vec<usize> = list
            .iter()
            .map(|x| whole_number(&self.name(key), x, 0))
            .collect::<Result<_>>()?;
        if m.windows(2).any(|w| w[0] > w[1]) {
            return Err(invalid(self.name(key), format!("{rule}, got {v}")));
        }
        Ok(m)
    }
}

/// `v` as a whole number in `[lo, 2⁴⁰]` (`3.0` counts as 3).
fn whole_number(name: &str, v: &Value, lo: u64) -> Result<usize> {
    if let Some(n) = v.as_u64() {
        return count(name, n, lo);
    }
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x >= lo as f64 && x <= MAX_COUNT as f64 => Ok(x as usize),
        _ => Err(invalid(
            name,
            format!("must be a whole number ≥ {lo}, got {v}"),
        )),
    }
}

/// Builds a schedule from its PyTorch name (one of [`NAMES`]) and
/// parameters as JSON (`{"step_size": 3, "gamma": 0.5}`), PyTorch's
/// defaults for the rest. Closure schedules (LambdaLR, MultiplicativeLR)
/// are built directly; ReduceLROnPlateau by [`plateau_from_config`].
/// SequentialLR takes `{"schedulers": [[name, params], …], "milestones": [...]}`.
///
/// # Errors
///
/// `InvalidArgument` naming `Schedule.key` and the rule on an unknown name
/// or parameter, a value of the wrong type, or one PyTorch refuses (and the
/// few it accepts but then divides by: `step_size` 0, `T_max` 0, …).
///
/// ```
/// use downhill::schedule::{from_config, Lrs};
/// let mut t = Lrs::new(vec![0.1], None);
/// let s = from_config("CosineAnnealingLR", &serde_json::json!({"T_max": 10}), &mut t).unwrap();
/// assert_eq!(s.last_lr(), vec![0.1]);
/// let e = from_config("StepLR", &serde_json::json!({"step_size": 0}), &mut t).err().unwrap();
/// assert_eq!(e.to_string(), "StepLR.step_size: must be a whole number between 1 and 2^40, got 0");
/// ```
pub fn from_config(name: &str, p: &Value, opt: &mut dyn LrTarget) -> Result<Box<dyn LrScheduler>> {
    if !NAMES.contains(&name) {
        let hint = if name == "ReduceLROnPlateau" {
            "ReduceLROnPlateau steps on a metric; build it with plateau_from_config"
        } else {
            "unknown schedule"
        };
        return Err(invalid(
            name,
            format!("{hint}; expected one of {}", NAMES.join(", ")),
        ));
    }
    let p = Params::new(name, p)?;
    Ok(match name {
        "StepLR" => {
            let (step_size, gamma) = (p.whole("step_size", None, 1)?, p.num("gamma", Some(0.1))?);
            StepLR::check(step_size, gamma)?;
            Box::new(StepLR::new(opt, step_size, gamma))
        }
        "MultiStepLR" => {
            let (m, gamma) = (p.milestones("milestones")?, p.num("gamma", Some(0.1))?);
            MultiStepLR::check(gamma)?;
            Box::new(MultiStepLR::new(opt, m, gamma))
        }
        "ConstantLR" => {
            let factor = p.num("factor", Some(1.0 / 3.0))?;
            let total = p.whole("total_iters", Some(5), 0)?;
            ConstantLR::check(factor)?;
            Box::new(ConstantLR::new(opt, factor, total))
        }
        "LinearLR" => {
            let start = p.num("start_factor", Some(1.0 / 3.0))?;
            let end = p.num("end_factor", Some(1.0))?;
            let total = p.whole("total_iters", Some(5), 1)?;
            LinearLR::check(start, end, total)?;
            Box::new(LinearLR::new(opt, start, end, total))
        }
        "ExponentialLR" => {
            let gamma = p.num("gamma", None)?;
            ExponentialLR::check(gamma)?;
            Box::new(ExponentialLR::new(opt, gamma))
        }
        "PolynomialLR" => {
            let total = p.whole("total_iters", Some(5), 1)?;
            let power = p.num("power", Some(1.0))?;
            PolynomialLR::check(total, power)?;
            Box::new(PolynomialLR::new(opt, total, power))
        }
        "CosineAnnealingLR" => {
            let (t_max, eta_min) = (p.whole("T_max", None, 1)?, p.num("eta_min", Some(0.0))?);
            CosineAnnealingLR::check(t_max, eta_min)?;
            Box::new(CosineAnnealingLR::new(opt, t_max, eta_min))
        }
        "CosineAnnealingWarmRestarts" => {
            let t_0 = p.whole("T_0", None, 1)?;
            let t_mult = p.whole("T_mult", Some(1), 1)?;
            let eta_min = p.num("eta_min", Some(0.0))?;
            CosineAnnealingWarmRestarts::check(t_0, t_mult, eta_min)?;
            Box::new(CosineAnnealingWarmRestarts::new(opt, t_0, t_mult, eta_min))
        }
        "CyclicLR" => cyclic(&p, opt)?,
        "OneCycleLR" => Box::new(OneCycleLR::new(opt, one_cycle(&p)?)?),
        "SWALR" => {
            let swa_lr = p.num("swa_lr", None)?;
            let epochs = p.whole("anneal_epochs", Some(10), 0)?;
            let strategy = match p.choice("anneal_strategy", &["cos", "linear"])? {
                "cos" => AnnealStrategy::Cos,
                _ => AnnealStrategy::Linear,
            };
            SwaLR::check(&[swa_lr], epochs)?;
            Box::new(SwaLR::new(opt, swa_lr, epochs, strategy))
        }
        _ => composed(name, &p, opt)?,
    })
}

fn cyclic(p: &Params, opt: &mut dyn LrTarget) -> Result<Box<dyn LrScheduler>> {
    // γ is checked even when the mode does not use it, as a typo guard.
    let gamma = crate::validate::above(&p.name("gamma"), p.num("gamma", Some(1.0))?, 0.0)?;
    let mode = match p.choice("mode", &["triangular", "triangular2", "exp_range"])? {
        "triangular" => CyclicMode::Triangular,
        "triangular2" => CyclicMode::Triangular2,
        _ => CyclicMode::ExpRange { gamma },
    };
    // PyTorch ignores scale_mode unless a custom scale_fn is given (not possible here).
    p.choice("scale_mode", &["cycle", "iterations"])?;
    let (base_lr, max_lr) = (p.num("base_lr", None)?, p.num("max_lr", None)?);
    let up = p.num("step_size_up", Some(2000.0))?;
    let down = p.opt_num("step_size_down")?;
    let on = p.flag("cycle_momentum", true)?;
    let momenta = (
        p.num("base_momentum", Some(0.8))?,
        p.num("max_momentum", Some(0.9))?,
    );
    CyclicLR::check(base_lr, max_lr, up, down, mode, momenta)?;
    Ok(Box::new(
        CyclicLR::new(opt, base_lr, max_lr, up, down, mode)
            .cycle_momentum(opt, on, momenta.0, momenta.1),
    ))
}

fn one_cycle(p: &Params) -> Result<super::cyclic::OneCycleConfig> {
    let epochs = p.get("epochs").map(|_| p.whole("epochs", None, 1));
    let per = p
        .get("steps_per_epoch")
        .map(|_| p.whole("steps_per_epoch", None, 1));
    let (epochs, per) = (epochs.transpose()?, per.transpose()?);
    let total = match (p.get("total_steps"), epochs, per) {
        (Some(_), _, _) => p.whole("total_steps", None, 1)?,
        (None, Some(e), Some(s)) => count(
            &p.name("total_steps"),
            (e as u64).saturating_mul(s as u64),
            1,
        )?,
        _ => {
            return Err(invalid(
                p.name("total_steps"),
                "is required (or both epochs and steps_per_epoch)",
            ))
        }
    };
    let mut c = OneCycleLR::config(p.num("max_lr", None)?, total);
    c.pct_start = p.num("pct_start", Some(0.3))?;
    c.anneal_strategy = match p.choice("anneal_strategy", &["cos", "linear"])? {
        "cos" => AnnealStrategy::Cos,
        _ => AnnealStrategy::Linear,
    };
    c.cycle_momentum = p.flag("cycle_momentum", true)?;
    c.base_momentum = p.num("base_momentum", Some(0.85))?;
    c.max_momentum = p.num("max_momentum", Some(0.95))?;
    c.div_factor = p.num("div_factor", Some(25.0))?;
    c.final_div_factor = p.num("final_div_factor", Some(1e4))?;
    c.three_phase = p.flag("three_phase", false)?;
    c.check()?;
    Ok(c)
}

fn composed(name: &str, p: &Params, opt: &mut dyn LrTarget) -> Result<Box<dyn LrScheduler>> {
    let rule = "must be a non-empty list of [name, params]";
    let list = p
        .get("schedulers")
        .ok_or_else(|| p.required("schedulers"))?
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid(p.name("schedulers"), rule))?;
    let mut children = Vec::new();
    for item in list {
        let (Some(n), Some(params)) = (item.get(0).and_then(|v| v.as_str()), item.get(1)) else {
            return Err(invalid(p.name("schedulers"), rule));
        };
        children.push(from_config(n, params, opt)?);
    }
    if name == "SequentialLR" {
        let m = p.milestones("milestones")?;
        let m = m.into_iter().map(|x| x as i64).collect();
        Ok(Box::new(SequentialLR::new(opt, children, m)?))
    } else {
        Ok(Box::new(ChainedScheduler::new(opt, children)))
    }
}

/// Builds a ReduceLROnPlateau from PyTorch's parameters as JSON (`mode`
/// min/max, `factor`, `patience`, `threshold`, `threshold_mode` rel/abs,
/// `cooldown`, `min_lr`, `eps`), PyTorch's defaults for the rest.
///
/// # Errors
///
/// `InvalidArgument` naming `ReduceLROnPlateau.key` and the rule on an
/// unknown parameter, a value of the wrong type, or one out of range
/// (PyTorch's factor < 1; and factor, threshold, min_lr, eps ≥ 0).
///
/// ```
/// use downhill::schedule::{plateau_from_config, Lrs};
/// let t = Lrs::new(vec![0.1], None);
/// let s = plateau_from_config(&serde_json::json!({"factor": 0.5}), &t).unwrap();
/// assert_eq!(s.factor, 0.5);
/// assert!(plateau_from_config(&serde_json::json!({"factor": 1.0}), &t).is_err());
/// ```
pub fn plateau_from_config(p: &Value, opt: &dyn LrTarget) -> Result<ReduceLROnPlateau> {
    let p = Params::new("ReduceLROnPlateau", p)?;
    let mode = match p.choice("mode", &["min", "max"])? {
        "min" => PlateauMode::Min,
        _ => PlateauMode::Max,
    };
    let threshold_mode = match p.choice("threshold_mode", &["rel", "abs"])? {
        "rel" => ThresholdMode::Rel,
        _ => ThresholdMode::Abs,
    };
    let factor = p.num("factor", Some(0.1))?;
    let threshold = p.num("threshold", Some(1e-4))?;
    let min_lr = p.num("min_lr", Some(0.0))?;
    let eps = p.num("eps", Some(1e-8))?;
    ReduceLROnPlateau::check(factor, threshold, min_lr, eps)?;
    Ok(ReduceLROnPlateau::new(opt)
        .mode(mode)
        .factor(factor)
        .patience(p.whole("patience", Some(10), 0)?)
        .threshold(threshold, threshold_mode)
        .cooldown(p.whole("cooldown", Some(0), 0)?)
        .min_lr(min_lr)
        .eps(eps))
}
