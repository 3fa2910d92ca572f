//! `SwaLR` reproduces `torch.optim.swa_utils.SWALR` (tests/reference/swalr/,
//! made by `fixtures/make_swalr.py`): alone and taking over from another
//! schedule after `swa_start` epochs as torch's SWA recipe does, every
//! group's lr after every epoch within 1e-12 relative; and a run whose
//! schedules are saved and restored mid-anneal continues bit-identically.

use downhill::schedule::{from_config, LrScheduler, Lrs};
use serde_json::Value;

use crate::common::reference_cases;

fn swalr_cases() -> Vec<(String, Value)> {
    let cases = reference_cases("swalr", 6, "six SWALR settings");
    assert_eq!(cases.len(), 6, "six SWALR settings");
    cases
}

fn target(case: &Value) -> Lrs {
    let (lr, groups) = (
        case["base_lr"].as_f64().unwrap(),
        case["groups"].as_u64().unwrap(),
    );
    Lrs::new((0..groups).map(|g| lr * (g + 1) as f64).collect(), None)
}

type Pair = (Option<Box<dyn LrScheduler>>, Box<dyn LrScheduler>);

/// The `before` schedule (if any), then SWALR, built on `t` in that order.
fn schedules(case: &Value, t: &mut Lrs) -> Pair {
    let before = case["before"]
        .as_array()
        .map(|b| from_config(b[0].as_str().unwrap(), &b[1], t).expect("a valid schedule"));
    let swa = from_config("SWALR", &case["swalr"], t).expect("a valid SWALR");
    (before, swa)
}

/// Every group's lr after construction and after each epoch; the schedules
/// are saved and rebuilt from their state before epoch `resume_at`.
fn trajectory(case: &Value, resume_at: Option<usize>) -> Vec<Vec<f64>> {
    let epochs = case["lrs"].as_array().unwrap().len() - 1;
    let start = case["swa_start"].as_u64().map(|s| s as usize);
    let mut t = target(case);
    let (mut before, mut swa) = schedules(case, &mut t);
    let mut out = vec![t.lrs.clone()];
    for i in 0..epochs {
        if Some(i) == resume_at {
            let saved = (
                before.as_ref().map(|b| b.state_dict().to_string()),
                swa.state_dict().to_string(),
            );
            let mut scratch = target(case);
            (before, swa) = schedules(case, &mut scratch);
            if let (Some(b), Some(s)) = (before.as_mut(), saved.0) {
                b.load_state_dict(&serde_json::from_str(&s).unwrap())
                    .unwrap();
            }
            swa.load_state_dict(&serde_json::from_str(&saved.1).unwrap())
                .unwrap();
        }
        match (&mut before, start) {
            (Some(b), Some(s)) if i <= s => b.step(&mut t),
            _ => swa.step(&mut t),
        }
        out.push(t.lrs.clone());
    }
    out
}

#[test]
fn swalr_matches_torch_alone_and_after_another_schedule() {
    for (file, case) in swalr_cases() {
        let expect: Vec<Vec<f64>> = serde_json::from_value(case["lrs"].clone()).unwrap();
        let got = trajectory(&case, None);
        assert_eq!(got.len(), expect.len());
        for (k, (g, e)) in got.iter().zip(&expect).enumerate() {
            for (a, b) in g.iter().zip(e) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs(),
                    "{file}: epoch {k}: lr {a} vs torch {b}"
                );
            }
        }
    }
}

#[test]
fn swalr_resumed_mid_anneal_continues_bit_identically() {
    for (file, case) in swalr_cases() {
        // Two epochs into the annealing (or into the run, without a `before`).
        let at = case["swa_start"].as_u64().map_or(2, |s| s as usize + 3);
        let straight = trajectory(&case, None);
        let resumed = trajectory(&case, Some(at));
        let bits = |v: &[Vec<f64>]| -> Vec<Vec<u64>> {
            v.iter()
                .map(|g| g.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        assert_eq!(
            bits(&straight),
            bits(&resumed),
            "{file}: restored at epoch {at}"
        );
    }
}

#[test]
fn swalr_config_errors_name_the_parameter() {
    let mut t = Lrs::new(vec![0.1], None);
    let err = |p: Value, t: &mut Lrs| from_config("SWALR", &p, t).err().unwrap().to_string();
    assert_eq!(
        err(serde_json::json!({}), &mut t),
        "SWALR.swa_lr: is required"
    );
    assert_eq!(
        err(serde_json::json!({"swa_lr": -0.1}), &mut t),
        "SWALR.swa_lr: must be a finite number ≥ 0, got -0.1"
    );
    assert_eq!(
        err(
            serde_json::json!({"swa_lr": 0.1, "anneal_strategy": "step"}),
            &mut t
        ),
        "SWALR.anneal_strategy: must be one of cos, linear, got \"step\""
    );
}
