//! The walk test: every optimizer, schedule and loss the library builds from
//! a name (`optim::NAMES`, `schedule::NAMES`, `loss::NAMES`, so a newly added
//! one cannot be missed), every hyperparameter it takes, and for each a set of
//! out-of-range, zero, negative, huge, fractional and wrong-type values.
//!
//! Each build runs inside `catch_unwind`: the test fails on any panic, and on
//! any value accepted that this file's own statement of PyTorch's rules (the
//! `*_valid` oracles below, written independently of the library's checks)
//! says is invalid, or refused that it says is valid. A hyperparameter the
//! oracle does not know fails the test too, so a new one needs its rule here.
//!
//! JSON has no NaN or infinity: those reach a config only as the strings
//! `"NaN"`, `"inf"`, `"-inf"` (or from a CLI flag, which refuses them before
//! JSON is built), so they are sent as strings and must be refused as a
//! wrong type. Everything built is then stepped, and must not panic either.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use downhill::schedule::{LrScheduler, Lrs};
use downhill::{loss, optim, schedule, Tensor};
use serde_json::{json, Value};

/// The values tried for every hyperparameter.
fn probes() -> Vec<Value> {
    vec![
        json!(-1),
        json!(0),
        json!(0.5),
        json!(1),
        json!(2.5),
        json!(-1e308),
        json!(1e308),
        json!("NaN"),
        json!("inf"),
        json!("-inf"),
        json!("x"),
        json!(true),
        json!([0.5, 0.5]),
        json!([]),
        json!({}),
        Value::Null,
    ]
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// A whole number ≥ `lo` that fits a count.
fn whole(v: &Value, lo: f64) -> bool {
    num(v).is_some_and(|x| x.fract() == 0.0 && x >= lo && x <= (1u64 << 40) as f64)
}

fn pair(v: &Value) -> Option<(f64, f64)> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Some((a.as_f64()?, b.as_f64()?)),
        _ => None,
    }
}

/// PyTorch's rule for an optimizer hyperparameter (`torch/optim/*.py`), given
/// every other one at its default; `None` if this file does not know it.
fn optimizer_valid(opt: &str, key: &str, v: &Value) -> Option<bool> {
    if v.is_null() {
        return Some(true); // null keeps the default
    }
    let ge0 = num(v).is_some_and(|x| x >= 0.0);
    Some(match key {
        "lr" if matches!(opt, "LBFGS" | "Prodigy" | "DAdaptAdam" | "DAdaptSGD") => {
            num(v).is_some_and(|x| x > 0.0)
        }
        // The packages past torch.optim: prodigyopt, dadaptation, schedulefree.
        "eps" if matches!(opt, "Prodigy" | "DAdaptAdam") => num(v).is_some_and(|x| x > 0.0),
        "d0" | "d_coef" => num(v).is_some_and(|x| x > 0.0),
        "growth_rate" => num(v).is_some_and(|x| x >= 1.0),
        "beta3" => num(v).is_some_and(|x| (0.0..1.0).contains(&x)),
        "momentum" if opt == "SGDScheduleFree" => num(v).is_some_and(|x| 0.0 < x && x < 1.0),
        "momentum" if opt == "DAdaptSGD" => num(v).is_some_and(|x| (0.0..1.0).contains(&x)),
        "warmup_steps" => whole(v, 0.0),
        "slice_p" => whole(v, 1.0),
        "r" | "weight_lr_power" => num(v).is_some(),
        "decouple" | "use_bias_correction" | "safeguard_warmup" => v.is_boolean(),
        "lr"
        | "weight_decay"
        | "alpha"
        | "lr_decay"
        | "initial_accumulator_value"
        | "momentum_decay"
        | "lambd"
        | "t0"
        | "tolerance_grad"
        | "tolerance_change" => ge0,
        "momentum" => ge0,
        "eps" if opt == "Adafactor" => pair(v).is_some_and(|(a, b)| a >= 0.0 && b >= 0.0),
        "eps" => ge0,
        "dampening" => num(v).is_some(),
        "betas" if opt == "Lion" => {
            pair(v).is_some_and(|(a, b)| (0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b))
        }
        "betas" => pair(v).is_some_and(|(a, b)| (0.0..1.0).contains(&a) && (0.0..1.0).contains(&b)),
        "rho" => num(v).is_some_and(|x| (0.0..=1.0).contains(&x)),
        "etas" => pair(v).is_some_and(|(a, b)| 0.0 < a && a < 1.0 && 1.0 < b),
        "step_sizes" => pair(v).is_some_and(|(a, b)| 0.0 <= a && a <= b),
        "beta2_decay" => num(v).is_some_and(|x| x <= 0.0),
        "d" => num(v).is_some_and(|x| x >= 1.0),
        "max_iter" | "history_size" | "max_eval" => whole(v, 1.0),
        "ns_steps" => whole(v, 0.0) && num(v).is_some_and(|x| x < 100.0),
        "ns_coefficients" => v
            .as_array()
            .is_some_and(|a| a.len() == 3 && a.iter().all(Value::is_number)),
        "line_search_fn" => v
            .as_str()
            .is_some_and(|s| s == "none" || s == "strong_wolfe"),
        "adjust_lr_fn" => v
            .as_str()
            .is_some_and(|s| s == "original" || s == "match_rms_adamw"),
        // SGD's nesterov needs momentum > 0, which defaults to 0.
        "nesterov" if opt == "SGD" => v == &json!(false),
        "maximize" | "amsgrad" | "nesterov" | "centered" | "decoupled_weight_decay" => {
            v.is_boolean()
        }
        _ => return None,
    })
}

thread_local! {
    /// Whether a panic on this thread is one [`no_panic`] catches and reports.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once per process) a panic hook that stays silent for the
/// panics [`no_panic`] catches and prints every other one as before: the
/// other tests of this binary keep their panic messages.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                print(info)
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)` (reported by the caller,
/// so the panic hook stays silent for it).
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    quiet_panics();
    QUIET.with(|q| q.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Collects what went wrong; panics at the end with every problem listed.
#[derive(Default)]
struct Report {
    cases: usize,
    panics: Vec<String>,
    wrong: Vec<String>,
}

impl Report {
    fn finish(self, what: &str) {
        drop(std::panic::take_hook()); // the default hook again, for the verdict
        assert!(self.cases > 100, "{what}: only {} cases walked", self.cases);
        let mut all = self.panics.clone();
        all.extend(self.wrong.iter().cloned());
        assert!(
            all.is_empty(),
            "{what}: {} panics and {} wrong answers in {} cases:\n{}",
            self.panics.len(),
            self.wrong.len(),
            self.cases,
            all.join("\n")
        );
        eprintln!("{what}: {} cases, no panic", self.cases);
    }
}

#[test]
fn every_optimizer_hyperparameter_is_checked_and_nothing_panics() {
    let mut r = Report::default();
    assert!(optim::NAMES.len() >= 21);
    for &name in optim::NAMES {
        let defaults = optim::defaults(name).unwrap_or_else(|| panic!("{name}: no defaults"));
        let keys: Vec<String> = defaults.as_object().unwrap().keys().cloned().collect();
        assert!(keys.contains(&"lr".to_string()), "{name}: {keys:?}");
        for key in &keys {
            for v in probes() {
                r.cases += 1;
                let case = format!("{name} {key}={v}");
                let Some(expect_ok) = optimizer_valid(name, key, &v) else {
                    r.wrong
                        .push(format!("{case}: no rule in this test for {key}"));
                    continue;
                };
                let w =
                    Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 0.25], &[2, 2]).requires_grad_(true);
                let hyper = json!({ key.as_str(): v.clone() });
                let built = no_panic(|| optim::from_config(name, &hyper, vec![w.clone()]));
                match built {
                    Err(m) => r.panics.push(format!("{case}: build panicked: {m}")),
                    Ok(Ok(mut opt)) => {
                        if !expect_ok {
                            r.wrong.push(format!("{case}: accepted"));
                        }
                        let stepped = no_panic(|| {
                            for _ in 0..3 {
                                opt.step_with_closure(&mut || {
                                    let loss = w.square().sum();
                                    (loss.item(), loss.backward())
                                });
                            }
                        });
                        if let Err(m) = stepped {
                            r.panics.push(format!("{case}: step panicked: {m}"));
                        }
                    }
                    Ok(Err(e)) => {
                        if expect_ok {
                            r.wrong.push(format!("{case}: refused: {e}"));
                        } else if !e.to_string().contains(key.as_str()) {
                            r.wrong
                                .push(format!("{case}: the error does not name {key}: {e}"));
                        }
                    }
                }
            }
        }
    }
    r.finish("optimizers");
}

/// A minimal valid configuration of every schedule; `None` if this file does not know it.
fn schedule_base(name: &str) -> Option<Value> {
    Some(match name {
        "StepLR" => json!({"step_size": 2}),
        "MultiStepLR" => json!({"milestones": [2, 4]}),
        "ExponentialLR" => json!({"gamma": 0.9}),
        "CosineAnnealingLR" => json!({"T_max": 3}),
        "CosineAnnealingWarmRestarts" => json!({"T_0": 2}),
        "CyclicLR" => json!({"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2}),
        "OneCycleLR" => json!({"max_lr": 0.1, "total_steps": 10}),
        "SequentialLR" => json!({
            "schedulers": [["ConstantLR", {}], ["ExponentialLR", {"gamma": 0.9}]],
            "milestones": [2]
        }),
        "ChainedScheduler" => json!({"schedulers": [["ConstantLR", {}]]}),
        "SWALR" => json!({"swa_lr": 0.05}),
        "ConstantLR" | "LinearLR" | "PolynomialLR" | "ReduceLROnPlateau" => json!({}),
        _ => return None,
    })
}

/// The rule for a schedule parameter (`torch/optim/lr_scheduler.py`, and a
/// positive count wherever PyTorch divides by it), the others at `schedule_base`.
fn schedule_valid(sched: &str, key: &str, v: &Value) -> Option<bool> {
    let required = matches!(
        (sched, key),
        ("StepLR", "step_size")
            | ("MultiStepLR", "milestones")
            | ("ExponentialLR", "gamma")
            | ("CosineAnnealingLR", "T_max")
            | ("CosineAnnealingWarmRestarts", "T_0")
            | ("CyclicLR", "base_lr" | "max_lr")
            | ("OneCycleLR", "max_lr")
            | ("SequentialLR" | "ChainedScheduler", "schedulers")
            | ("SequentialLR", "milestones")
            | ("SWALR", "swa_lr")
    );
    if v.is_null() {
        // Null means "not given": fine unless the key is required (OneCycleLR's
        // total_steps is required unless epochs and steps_per_epoch are given).
        return Some(!(required || (sched == "OneCycleLR" && key == "total_steps")));
    }
    let x = num(v);
    let gt0 = x.is_some_and(|x| x > 0.0);
    let ge0 = x.is_some_and(|x| x >= 0.0);
    let unit =
        |lo_open: bool| x.is_some_and(|x| x <= 1.0 && if lo_open { x > 0.0 } else { x >= 0.0 });
    Some(match (sched, key) {
        (_, "gamma") => gt0,
        ("StepLR", "step_size") => whole(v, 1.0),
        ("CosineAnnealingLR", "T_max") | ("CosineAnnealingWarmRestarts", "T_0" | "T_mult") => {
            whole(v, 1.0)
        }
        ("ConstantLR", "total_iters") | ("SWALR", "anneal_epochs") => whole(v, 0.0),
        ("SWALR", "swa_lr") => ge0,
        ("SWALR", "anneal_strategy") => false, // no probe is "cos" or "linear"
        ("LinearLR" | "PolynomialLR", "total_iters") => whole(v, 1.0),
        ("OneCycleLR", "total_steps" | "epochs" | "steps_per_epoch") => whole(v, 1.0),
        ("ReduceLROnPlateau", "patience" | "cooldown") => whole(v, 0.0),
        ("ConstantLR", "factor") | ("LinearLR", "start_factor") => unit(true),
        ("LinearLR", "end_factor") | ("OneCycleLR", "pct_start") => unit(false),
        ("ReduceLROnPlateau", "factor") => x.is_some_and(|x| (0.0..1.0).contains(&x)),
        ("PolynomialLR", "power") => ge0,
        (_, "eta_min" | "base_lr" | "max_lr" | "base_momentum" | "max_momentum") => ge0,
        (_, "threshold" | "min_lr" | "eps" | "step_size_down") => ge0,
        ("CyclicLR", "step_size_up") => gt0,
        ("OneCycleLR", "div_factor" | "final_div_factor") => gt0,
        (_, "cycle_momentum" | "three_phase") => v.is_boolean(),
        ("CyclicLR", "mode") => v == "triangular",
        ("CyclicLR", "scale_mode") => false, // no probe is "cycle" or "iterations"
        ("OneCycleLR", "anneal_strategy") | ("ReduceLROnPlateau", "mode" | "threshold_mode") => {
            false
        }
        // [0.5, 0.5] is not whole numbers; [] is no milestones (one schedule: not SequentialLR's two).
        ("MultiStepLR", "milestones") => v == &json!([]),
        ("SequentialLR", "milestones") | (_, "schedulers") => false,
        _ => return None,
    })
}

/// Builds `name` from `params` on `t` (ReduceLROnPlateau through its own builder).
fn build_schedule(
    name: &str,
    params: &Value,
    t: &mut Lrs,
) -> Result<Option<Box<dyn LrScheduler>>, String> {
    if name == "ReduceLROnPlateau" {
        return schedule::plateau_from_config(params, t)
            .map(|_| None)
            .map_err(|e| e.to_string());
    }
    schedule::from_config(name, params, t)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[test]
fn every_schedule_parameter_is_checked_and_nothing_panics() {
    let mut r = Report::default();
    let mut names: Vec<&str> = schedule::NAMES.to_vec();
    names.push("ReduceLROnPlateau");
    for name in names {
        let base =
            schedule_base(name).unwrap_or_else(|| panic!("{name}: no base config in this test"));
        let keys =
            schedule::parameters(name).unwrap_or_else(|| panic!("{name}: no parameter list"));
        {
            let mut t = Lrs::new(vec![0.1, 0.2], Some(vec![0.9, 0.9]));
            assert!(
                build_schedule(name, &base, &mut t).is_ok(),
                "{name}: its base config fails"
            );
        }
        for &key in keys {
            for v in probes() {
                r.cases += 1;
                let case = format!("{name} {key}={v}");
                let Some(expect_ok) = schedule_valid(name, key, &v) else {
                    r.wrong
                        .push(format!("{case}: no rule in this test for {key}"));
                    continue;
                };
                let mut params = base.clone();
                params[key] = v.clone();
                let mut t = Lrs::new(vec![0.1, 0.2], Some(vec![0.9, 0.9]));
                match no_panic(|| build_schedule(name, &params, &mut t)) {
                    Err(m) => r.panics.push(format!("{case}: build panicked: {m}")),
                    Ok(Ok(s)) => {
                        if !expect_ok {
                            r.wrong.push(format!("{case}: accepted"));
                        }
                        if let Some(mut s) = s {
                            // Past any cycle's end, and through a checkpoint.
                            let stepped = no_panic(|| {
                                for _ in 0..25 {
                                    s.step(&mut t);
                                }
                                let state = s.state_dict();
                                s.load_state_dict(&state).map_err(|e| e.to_string())?;
                                s.step(&mut t);
                                Ok::<_, String>(s.last_lr())
                            });
                            // A multiplier of 1e308 overflows f64 within a few steps: the
                            // rates become infinite (and a checkpoint cannot hold them);
                            // that is arithmetic, not a missed rule, so only panics count.
                            let overflows = num(&v).is_some_and(|x| x.abs() >= 1e300);
                            match stepped {
                                Err(m) => r.panics.push(format!("{case}: step panicked: {m}")),
                                Ok(_) if overflows => {}
                                Ok(Err(e)) => r
                                    .wrong
                                    .push(format!("{case}: its own state is refused: {e}")),
                                Ok(Ok(lrs)) if lrs.iter().any(|l| !l.is_finite()) => {
                                    r.wrong.push(format!("{case}: non-finite rates {lrs:?}"))
                                }
                                Ok(Ok(_)) => {}
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        if expect_ok {
                            r.wrong.push(format!("{case}: refused: {e}"));
                        } else if !e.contains(key) && !e.contains("schedulers") {
                            r.wrong
                                .push(format!("{case}: the error does not name {key}: {e}"));
                        }
                    }
                }
            }
        }
    }
    r.finish("schedules");
}

/// The rule for a loss parameter (`torch/nn/modules/loss.py`, `functional.py`
/// and ATen's checks), the others at their defaults.
fn loss_valid(l: &str, key: &str, v: &Value) -> Option<bool> {
    if v.is_null() {
        return Some(true);
    }
    let x = num(v);
    let weights = |v: &Value| match v {
        Value::Array(a) => !a.is_empty() && a.iter().all(|w| w.as_f64().is_some_and(|w| w >= 0.0)),
        Value::Number(n) => n.as_f64().is_some_and(|w| w >= 0.0),
        _ => false,
    };
    Some(match key {
        "reduction" => false, // no probe is none/mean/sum
        "weight" | "pos_weight" => weights(v),
        "ignore_index" => x.is_some_and(|x| x.fract() == 0.0 && x.abs() < 9e18),
        "label_smoothing" => x.is_some_and(|x| (0.0..=1.0).contains(&x)),
        "target_kind" => false,
        "beta" => x.is_some_and(|x| x >= 0.0),
        "delta" => x.is_some_and(|x| x > 0.0),
        "eps" if l == "GaussianNLLLoss" => x.is_some_and(|x| x > 0.0),
        "eps" => x.is_some_and(|x| x >= 0.0),
        "p" if l == "MultiMarginLoss" => x == Some(1.0) || x == Some(2.0),
        "p" => x.is_some_and(|x| x > 0.0),
        "margin" if l == "TripletMarginLoss" => x.is_some_and(|x| x > 0.0),
        "margin" => x.is_some(),
        "log_target" | "log_input" | "full" | "swap" => v.is_boolean(),
        _ => return None,
    })
}

#[test]
fn every_loss_parameter_is_checked_and_nothing_panics() {
    let mut r = Report::default();
    for &name in loss::NAMES {
        assert!(
            loss::from_config(name, &json!({})).is_ok(),
            "{name}: defaults fail"
        );
        let keys = loss::parameters(name).unwrap_or_else(|| panic!("{name}: no parameter list"));
        assert!(keys.contains(&"reduction"), "{name}");
        for &key in keys {
            for v in probes() {
                r.cases += 1;
                let case = format!("{name} {key}={v}");
                let Some(expect_ok) = loss_valid(name, key, &v) else {
                    r.wrong
                        .push(format!("{case}: no rule in this test for {key}"));
                    continue;
                };
                let params = json!({ key: v.clone() });
                match no_panic(|| loss::from_config(name, &params)) {
                    Err(m) => r.panics.push(format!("{case}: panicked: {m}")),
                    Ok(Ok(_)) if !expect_ok => r.wrong.push(format!("{case}: accepted")),
                    Ok(Err(e)) if expect_ok => r.wrong.push(format!("{case}: refused: {e}")),
                    Ok(Err(e)) if !e.to_string().contains(key) => r
                        .wrong
                        .push(format!("{case}: the error does not name {key}: {e}")),
                    Ok(_) => {}
                }
            }
        }
        // The reductions PyTorch names are accepted, others refused.
        for red in ["none", "mean", "sum"] {
            assert!(
                loss::from_config(name, &json!({"reduction": red})).is_ok(),
                "{name} {red}"
            );
        }
        let bm = loss::from_config(name, &json!({"reduction": "batchmean"})).is_ok();
        assert_eq!(bm, name == "KLDivLoss", "{name} batchmean");
    }
    r.finish("losses");
}

#[test]
fn unknown_names_and_keys_are_refused() {
    let w = || vec![Tensor::zeros(&[2, 2]).requires_grad_(true)];
    assert!(optim::from_config("Adamm", &json!({}), w()).is_err());
    assert!(optim::from_config("Adam", &json!({"foo": 1}), w()).is_err());
    assert!(optim::from_config("Adam", &json!([1]), w()).is_err());
    let mut t = Lrs::new(vec![0.1], None);
    assert!(schedule::from_config("StepLLR", &json!({}), &mut t).is_err());
    assert!(schedule::from_config("StepLR", &json!({"step_size": 1, "foo": 1}), &mut t).is_err());
    assert!(schedule::from_config("StepLR", &json!(3), &mut t).is_err());
    assert!(loss::from_config("MSELosss", &json!({})).is_err());
    assert!(loss::from_config("MSELoss", &json!({"foo": 1})).is_err());
    // A wrong type names its key, not the optimizer.
    let e = optim::from_config("LBFGS", &json!({"max_iter": 2.5}), w())
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "max_iter: expected a whole number ≥ 0, got 2.5"
    );
}
