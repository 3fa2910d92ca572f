//! `Trainer::lr_find` reproduces torch-lr-finder 0.2.2's `LRFinder.range_test`
//! (tests/fixtures/make_lr_find.py, float64): the recorded (lr, loss)
//! sequence within 1e-6, where the sweep stops, the suggested lr of
//! `plot(suggest_lr=True)`, and the model and optimizer restored afterwards.

use crate::common;

use std::path::PathBuf;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::{CrossEntropyLoss, Loss, MseLoss};
use downhill::nn::{Linear, Module, Sequential, Tanh};
use downhill::train::{LrFindConfig, StepMode, SweepEnd, TrainConfig, Trainer};
use downhill::{DType, Generator, Tensor};
use serde_json::Value;

fn cases() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/lr_find");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reference directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the five reference sweeps");
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, v)
        })
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Tensor::from_vec(rows.into_iter().flatten().collect::<Vec<f64>>(), &[n, d])
}

fn dataset(case: &Value, x: &str, y: &str) -> TensorDataset {
    let xs = matrix(&case[x]);
    if case["task"] == "classification" {
        let classes: Vec<usize> = serde_json::from_value(case[y].clone()).unwrap();
        TensorDataset::classification(xs, classes)
    } else {
        TensorDataset::regression(xs, &matrix(&case[y]))
    }
}

fn trainer(case: &Value) -> Trainer {
    let outputs = if case["task"] == "classification" {
        3
    } else {
        1
    };
    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::with_dtype(4, 8, true, DType::F64, &mut g))
        .push(Tanh)
        .push(Linear::with_dtype(8, outputs, true, DType::F64, &mut g));
    let params = model.trainable_parameters();
    let init = case["params"].as_array().unwrap();
    assert_eq!(params.len(), init.len());
    for (p, v) in params.iter().zip(init) {
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
        p.assign_(&Tensor::from_vec(f64s(&v["values"]), &shape));
    }
    let opt =
        downhill::optim::from_config(case["optimizer"].as_str().unwrap(), &case["hyper"], params)
            .unwrap();
    let loss: Box<dyn Loss> = if case["task"] == "classification" {
        Box::new(CrossEntropyLoss::default())
    } else {
        Box::new(MseLoss::default())
    };
    let config = TrainConfig {
        batch_size: BatchSize::Size(case["batch_size"].as_u64().unwrap() as usize),
        shuffle: false,
        progress: false,
        ..TrainConfig::default()
    };
    Trainer::new(Box::new(model), loss, opt, config)
}

fn config(test: &Value) -> LrFindConfig {
    let d = LrFindConfig::default();
    LrFindConfig {
        start_lr: test["start_lr"].as_f64(),
        end_lr: test["end_lr"].as_f64().unwrap_or(d.end_lr),
        num_iter: test["num_iter"].as_u64().map_or(d.num_iter, |n| n as usize),
        step_mode: match test["step_mode"].as_str() {
            Some("linear") => StepMode::Linear,
            _ => StepMode::Exp,
        },
        smooth_f: test["smooth_f"].as_f64().unwrap_or(d.smooth_f),
        diverge_th: test["diverge_th"].as_f64().unwrap_or(d.diverge_th),
        accumulation_steps: test["accumulation_steps"]
            .as_u64()
            .map_or(1, |n| n as usize),
        ..d
    }
}

#[test]
fn lr_find_matches_torch_lr_finder() {
    for (name, case) in cases() {
        let mut t = trainer(&case);
        let train = dataset(&case, "x", "y");
        let val = case["x_val"]
            .is_array()
            .then(|| dataset(&case, "x_val", "y_val"));
        let before: Vec<Vec<f64>> = t
            .model()
            .state_dict()
            .iter()
            .map(|(_, p)| p.to_vec_f64())
            .collect();
        let lr_before = t.optimizer().lr(0);
        let cfg = config(&case["range_test"]);
        let found = t
            .lr_find(&train, val.as_ref().map(|v| v as _), &cfg)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (lrs, losses) = (f64s(&case["lr"]), f64s(&case["loss"]));
        assert_eq!(found.lrs.len(), lrs.len(), "{name}: sweep length");
        common::assert_close(&found.lrs, &lrs, 1e-12);
        for (i, (a, e)) in found.losses.iter().zip(&losses).enumerate() {
            assert!(
                (a - e).abs() <= 1e-6 * e.abs().max(1.0),
                "{name}: step {i}: loss {a} vs torch-lr-finder {e}"
            );
        }
        let stopped_early = lrs.len() < cfg.num_iter;
        assert_eq!(
            found.end,
            if stopped_early {
                SweepEnd::Diverged
            } else {
                SweepEnd::Completed
            },
            "{name}"
        );
        match case["suggestion"].as_f64() {
            Some(s) => {
                let got = found.suggested_lr().expect("a suggestion");
                assert!(
                    (got - s).abs() <= 1e-12 * s,
                    "{name}: suggested {got} vs {s}"
                );
            }
            None => assert_eq!(found.suggestion, None, "{name}"),
        }
        let after: Vec<Vec<f64>> = t
            .model()
            .state_dict()
            .iter()
            .map(|(_, p)| p.to_vec_f64())
            .collect();
        assert_eq!(after, before, "{name}: the model is restored");
        assert_eq!(t.optimizer().lr(0), lr_before, "{name}: the lr is restored");
    }
}

/// After the sweep the optimizer's state is back too: a training step from
/// the restored trainer equals one from a trainer that never swept.
#[test]
fn lr_find_leaves_training_unchanged() {
    let (_, case) = cases().remove(0);
    let train = dataset(&case, "x", "y");
    let fit = |sweep: bool| {
        let mut t = trainer(&case);
        t.config_mut().epochs = 2;
        if sweep {
            t.lr_find(&train, None, &LrFindConfig::default()).unwrap();
        }
        t.fit(&train, None).unwrap();
        t.model()
            .state_dict()
            .iter()
            .flat_map(|(_, p)| p.to_vec_f64())
            .collect::<Vec<f64>>()
    };
    assert_eq!(fit(true), fit(false));
}

#[cfg(feature = "plot")]
#[test]
fn lr_find_plot_marks_the_suggestion() {
    let (_, case) = cases().remove(0);
    let mut t = trainer(&case);
    let found = t
        .lr_find(&dataset(&case, "x", "y"), None, &LrFindConfig::default())
        .unwrap();
    let dir = std::env::temp_dir().join(format!("downhill-lr-find-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("lr.svg");
    found.plot(&svg, "lr range test").unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    let mark = format!("suggested lr {:.3e}", found.suggested_lr().unwrap());
    assert!(text.contains(&mark), "no '{mark}' in the SVG");
    assert!(text.contains("learning rate"));
    found.plot(&dir.join("lr.png"), "lr range test").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lr_find_refuses_an_optimizer_that_steps_only_with_a_closure() {
    use downhill::optim::{Lookahead, Optimizer, Sam, Sgd};
    let data = TensorDataset::regression(Tensor::ones(&[8, 1]), &Tensor::ones(&[8, 1]));
    let make = |wrap: fn(Box<dyn Optimizer>) -> Box<dyn Optimizer>| {
        let model = Linear::new(1, 1, true, &mut Generator::new(0));
        let sgd = Sgd::default()
            .lr(0.1)
            .build(model.trainable_parameters())
            .unwrap();
        let config = TrainConfig {
            batch_size: BatchSize::Size(4),
            progress: false,
            ..TrainConfig::default()
        };
        Trainer::new(
            Box::new(model),
            Box::new(MseLoss::default()),
            wrap(Box::new(sgd)),
            config,
        )
    };
    let sam: fn(Box<dyn Optimizer>) -> Box<dyn Optimizer> =
        |b| Box::new(Sam::default().wrap(b).unwrap());
    let look_sam: fn(Box<dyn Optimizer>) -> Box<dyn Optimizer> = |b| {
        let s: Box<dyn Optimizer> = Box::new(Sam::default().wrap(b).unwrap());
        Box::new(Lookahead::default().wrap(s).unwrap())
    };
    for (wrap, name) in [(sam, "SAM"), (look_sam, "Lookahead")] {
        let mut t = make(wrap);
        let before = t.model().state_dict()[0].1.to_vec_f64();
        let e = t
            .lr_find(&data, None, &LrFindConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("lr_find: {name} re-evaluates the loss")),
            "{e}"
        );
        assert_eq!(t.model().state_dict()[0].1.to_vec_f64(), before);
    }
    // Lookahead around plain SGD still sweeps.
    let look: fn(Box<dyn Optimizer>) -> Box<dyn Optimizer> =
        |b| Box::new(Lookahead::default().wrap(b).unwrap());
    assert!(make(look)
        .lr_find(&data, None, &LrFindConfig::default())
        .is_ok());
}
