//! Every learning-rate schedule in tests/reference/sched/ (PyTorch's) is
//! reproduced: lrs[k] after the k-th step (and the cycled momentum), within
//! 1e-9 relative. Adding a file needs no new code. Every schedule is also
//! saved mid-run and restored into a fresh one, which must continue identically.

use downhill::schedule::{
    from_config, LrScheduler, Lrs, PlateauMode, ReduceLROnPlateau, ThresholdMode,
};
use serde_json::Value;

use crate::common::reference_cases;

fn close(a: f64, e: f64) -> bool {
    (a - e).abs() <= f64::max(1e-9 * e.abs(), 1e-12)
}

fn plateau(case: &Value, t: &Lrs) -> ReduceLROnPlateau {
    let p = &case["params"];
    let mut s = ReduceLROnPlateau::new(t);
    if let Some(m) = p["mode"].as_str() {
        s = s.mode(if m == "max" {
            PlateauMode::Max
        } else {
            PlateauMode::Min
        });
    }
    if let Some(f) = p["factor"].as_f64() {
        s = s.factor(f);
    }
    if let Some(n) = p["patience"].as_u64() {
        s = s.patience(n as usize);
    }
    let tm = if p["threshold_mode"].as_str() == Some("abs") {
        ThresholdMode::Abs
    } else {
        ThresholdMode::Rel
    };
    s = s.threshold(p["threshold"].as_f64().unwrap_or(1e-4), tm);
    if let Some(c) = p["cooldown"].as_u64() {
        s = s.cooldown(c as usize);
    }
    if let Some(m) = p["min_lr"].as_f64() {
        s = s.min_lr(m);
    }
    s
}

/// (lr, momentum) after construction and after each of `n` steps.
fn trajectory(case: &Value, n: usize, resume_at: Option<usize>) -> Vec<(f64, f64)> {
    let name = case["scheduler"].as_str().unwrap();
    let mut t = Lrs::new(vec![case["base_lr"].as_f64().unwrap()], Some(vec![0.9]));
    let mut out = Vec::new();
    if name == "ReduceLROnPlateau" {
        let metrics: Vec<f64> = serde_json::from_value(case["metrics"].clone()).unwrap();
        let mut s = plateau(case, &t);
        out.push((t.lrs[0], t.momenta.as_ref().unwrap()[0]));
        for (k, &metric) in metrics.iter().take(n).enumerate() {
            if Some(k) == resume_at {
                let saved = s.state_dict().to_string();
                s = plateau(case, &t);
                s.load_state_dict(&serde_json::from_str(&saved).unwrap())
                    .unwrap();
            }
            s.step(metric, &mut t);
            out.push((t.lrs[0], t.momenta.as_ref().unwrap()[0]));
        }
        return out;
    }
    let mut s: Box<dyn LrScheduler> = from_config(name, &case["params"], &mut t).unwrap();
    out.push((t.lrs[0], t.momenta.as_ref().unwrap()[0]));
    for k in 0..n {
        if Some(k) == resume_at {
            let saved = s.state_dict().to_string();
            let mut scratch = Lrs::new(vec![case["base_lr"].as_f64().unwrap()], Some(vec![0.9]));
            s = from_config(name, &case["params"], &mut scratch).unwrap();
            s.load_state_dict(&serde_json::from_str(&saved).unwrap())
                .unwrap();
        }
        s.step(&mut t);
        out.push((t.lrs[0], t.momenta.as_ref().unwrap()[0]));
    }
    out
}

fn cases() -> Vec<(String, Value)> {
    reference_cases(
        "sched",
        12,
        "the reference folder holds every schedule file",
    )
}

#[test]
fn every_schedule_reproduces_pytorchs_learning_rates() {
    let mut failures = Vec::new();
    for (file, case) in cases() {
        let lrs: Vec<f64> = serde_json::from_value(case["lrs"].clone()).unwrap();
        let momenta: Option<Vec<f64>> = serde_json::from_value(case["momentum"].clone()).ok();
        let got = trajectory(&case, lrs.len() - 1, None);
        for (k, (lr, m)) in got.iter().enumerate() {
            if !close(*lr, lrs[k]) {
                failures.push(format!("{file} step {k}: lr {lr} vs PyTorch {}", lrs[k]));
                break;
            }
            if let Some(ms) = &momenta {
                if !close(*m, ms[k]) {
                    failures.push(format!(
                        "{file} step {k}: momentum {m} vs PyTorch {}",
                        ms[k]
                    ));
                    break;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} files disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn schedules_resume_from_saved_state_identically() {
    for (file, case) in cases() {
        let n = case["lrs"].as_array().unwrap().len() - 1;
        let straight = trajectory(&case, n, None);
        let resumed = trajectory(&case, n, Some(n / 2));
        assert_eq!(
            straight, resumed,
            "{file}: a schedule restored mid-run diverges"
        );
    }
}
