//! Weight averaging through `Trainer::with_averaging` against torch's SWA
//! and EMA recipes (tests/reference/averaging_trainer/, made by
//! `fixtures/make_averaging_trainer.py`): a small MLP (with and without
//! BatchNorm1d), SGD with momentum, fixed batches; after training the
//! model holds the averaged weights — and, with batch norm, the statistics
//! `update_bn` re-estimated — equal to torch's within 1e-9 (f64), and the
//! learning rates (the schedule, then SWALR) equal torch's. A run resumed
//! from a mid-anneal checkpoint ends with the same bits as a straight one.

use std::path::PathBuf;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::MseLoss;
use downhill::nn::{BatchNorm, Linear, Module, ReLU, Sequential};
use downhill::optim::Sgd;
use downhill::schedule::{from_config, AnnealStrategy};
use downhill::train::{Schedule, SwaConfig, TrainConfig, Trainer, WeightAveraging};
use downhill::{DType, Generator, Tensor};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).expect("a list of numbers")
}

fn case(name: &str) -> Value {
    let p = format!(
        "{}/tests/reference/averaging_trainer/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn dataset(c: &Value) -> TensorDataset {
    let shape: Vec<usize> = serde_json::from_value(c["shape"].clone()).unwrap();
    let x = Tensor::from_vec(floats(&c["x"]), &shape);
    let y = Tensor::from_vec(floats(&c["y"]), &[shape[0], 1]);
    TensorDataset::regression(x, &y)
}

/// torch's Sequential(Linear(3, 8), [BatchNorm1d(8)], ReLU, Linear(8, 1)),
/// its initial weights from the fixture.
fn model(c: &Value) -> Sequential {
    let g = &mut Generator::new(0);
    let mut m = Sequential::new().push(Linear::with_dtype(3, 8, true, DType::F64, g));
    if c["bn"].as_bool().unwrap() {
        m = m.push(BatchNorm::with_options(
            8,
            1e-5,
            Some(0.1),
            true,
            true,
            DType::F64,
        ));
    }
    let m = m
        .push(ReLU)
        .push(Linear::with_dtype(8, 1, true, DType::F64, g));
    for (name, t) in m.state_dict() {
        let v = floats(&c["init"][&name]);
        t.assign_(&Tensor::from_vec(v, t.shape()));
    }
    m
}

fn averaging(c: &Value) -> WeightAveraging {
    if c["averaging"] == "ema" {
        return WeightAveraging::Ema {
            decay: c["decay"].as_f64().unwrap(),
        };
    }
    let mut swa = SwaConfig::new(c["start"].as_u64().unwrap() as usize)
        .anneal_epochs(c["anneal_epochs"].as_u64().unwrap() as usize)
        .anneal_strategy(if c["anneal_strategy"] == "linear" {
            AnnealStrategy::Linear
        } else {
            AnnealStrategy::Cos
        });
    if let Some(lr) = c["swa_lr"].as_f64() {
        swa = swa.lr(lr);
    }
    WeightAveraging::Swa(swa)
}

fn trainer(c: &Value, epochs: usize, dir: Option<PathBuf>) -> Trainer {
    let m = model(c);
    let mut opt = Sgd::default()
        .lr(c["lr"].as_f64().unwrap())
        .momentum(0.9)
        .build(m.trainable_parameters())
        .unwrap();
    let schedule = match c["schedule"].as_array() {
        Some(s) => {
            Schedule::PerEpoch(from_config(s[0].as_str().unwrap(), &s[1], &mut opt).unwrap())
        }
        None => Schedule::None,
    };
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(c["batch_size"].as_u64().unwrap() as usize),
        shuffle: false,
        progress: false,
        log_every: 0,
        checkpoint_dir: dir,
        ..TrainConfig::default()
    };
    Trainer::new(
        Box::new(m),
        Box::new(MseLoss::default()),
        Box::new(opt),
        config,
    )
    .with_schedule(schedule)
    .with_averaging(averaging(c))
    .unwrap()
}

const CASES: [&str; 4] = [
    "swa_mlp_cosine_then_swalr_cos.json",
    "swa_bn_mlp_swalr_linear.json",
    "swa_mlp_no_swalr_steplr.json",
    "ema_bn_mlp.json",
];

#[test]
fn the_averaged_model_matches_torchs_swa_and_ema_recipes() {
    for name in CASES {
        let c = case(name);
        let epochs = c["epochs"].as_u64().unwrap() as usize;
        let mut t = trainer(&c, epochs, None);
        let report = t.fit(&dataset(&c), None).unwrap();
        assert!(t.averaged_weights_in_use(), "{name}");
        assert_eq!(
            t.averaged_model().unwrap().n_averaged(),
            c["n_averaged"].as_u64().unwrap(),
            "{name}"
        );
        // history[e].lr is the lr epoch e trained with: torch's after epoch e − 1.
        let lrs = floats(&c["lrs"]);
        for (e, r) in report.history.iter().enumerate().skip(1) {
            assert!(
                (r.lr - lrs[e - 1]).abs() <= 1e-12 * lrs[e - 1],
                "{name}: epoch {}: lr {} vs torch {}",
                e + 1,
                r.lr,
                lrs[e - 1]
            );
        }
        let sd = t.model().state_dict();
        assert_eq!(sd.len(), c["averaged"].as_object().unwrap().len(), "{name}");
        for (n, tensor) in sd {
            let expect = floats(&c["averaged"][&n]);
            for (a, e) in tensor.to_vec_f64().iter().zip(&expect) {
                assert!(
                    (a - e).abs() <= 1e-9 * e.abs().max(1.0),
                    "{name}: {n}: {a} vs torch {e}"
                );
            }
        }
    }
}

fn bits(m: &dyn Module) -> Vec<(String, Vec<u64>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.to_vec_f64().iter().map(|x| x.to_bits()).collect()))
        .collect()
}

#[test]
fn a_run_resumed_mid_anneal_ends_with_the_same_bits() {
    for name in ["swa_bn_mlp_swalr_linear.json", "ema_bn_mlp.json", CASES[0]] {
        let c = case(name);
        let data = dataset(&c);
        let epochs = c["epochs"].as_u64().unwrap() as usize;
        let dir = std::env::temp_dir().join(format!(
            "downhill-avg-resume-{}-{}",
            std::process::id(),
            &name[..8]
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut straight = trainer(&c, epochs, None);
        straight.fit(&data, None).unwrap();

        let mut first = trainer(&c, 3, Some(dir.clone()));
        first.fit(&data, None).unwrap();
        let ck = dir.join("epoch-000003.safetensors");
        let mut second = trainer(&c, epochs, None);
        second.resume_from(&ck).unwrap();
        second.fit(&data, None).unwrap();
        assert_eq!(
            bits(straight.model()),
            bits(second.model()),
            "{name}: resumed at epoch 3"
        );
        assert_eq!(
            straight.averaged_model().unwrap().n_averaged(),
            second.averaged_model().unwrap().n_averaged()
        );
        // The checkpoint holds every averaged parameter under `averaged.`.
        let saved = downhill::train::Checkpoint::load(&ck).unwrap();
        let averaged = saved
            .tensors
            .iter()
            .filter(|(n, _)| n.starts_with("averaged."))
            .count();
        assert_eq!(averaged, first.model().named_parameters().len(), "{name}");
        assert!(saved.state["averaging"]["n_averaged"].as_u64().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_second_fit_trains_on_from_the_trained_weights_not_the_average() {
    let c = case("swa_bn_mlp_swalr_linear.json");
    let data = dataset(&c);
    let mut straight = trainer(&c, 8, None);
    straight.fit(&data, None).unwrap();
    let mut twice = trainer(&c, 4, None);
    twice.fit(&data, None).unwrap();
    assert!(twice.averaged_weights_in_use());
    twice.config_mut().epochs = 8;
    twice.fit(&data, None).unwrap();
    assert_eq!(bits(straight.model()), bits(twice.model()));
}

#[test]
fn bad_settings_are_refused_with_the_parameter_named() {
    let c = case("ema_bn_mlp.json");
    let t = |a| {
        trainer(&c, 1, None)
            .with_averaging(a)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        t(WeightAveraging::Ema { decay: 1.5 }).as_deref(),
        Some("ema.decay: must be in [0, 1], got 1.5")
    );
    assert_eq!(
        t(WeightAveraging::Swa(SwaConfig::new(1).lr(f64::NAN))).as_deref(),
        Some("swa.lr: must be a finite number ≥ 0, got NaN")
    );
}

#[test]
fn update_bn_reproduces_torchs_statistics_for_the_averaged_weights() {
    let c = case("swa_bn_mlp_swalr_linear.json");
    let mut m = model(&c);
    for (n, t) in m.named_parameters() {
        t.assign_(&Tensor::from_vec(floats(&c["averaged"][&n]), t.shape()));
    }
    // Statistics from elsewhere, which update_bn must discard.
    for (_, t) in m.named_buffers() {
        t.assign_(&Tensor::full(t.shape(), 3.0, DType::F64));
    }
    m.eval();
    let data = dataset(&c);
    let batches = (0..4).map(|b| {
        let idx: Vec<usize> = (8 * b..8 * b + 8).collect();
        downhill::data::Dataset::batch(&data, &idx).inputs
    });
    assert!(downhill::nn::update_bn(&mut m, batches));
    for (n, t) in m.named_buffers() {
        let expect = floats(&c["averaged"][&n]);
        for (a, e) in t.to_vec_f64().iter().zip(&expect) {
            assert!(
                (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                "{n}: {a} vs torch {e}"
            );
        }
    }
    // The momentum and the evaluation mode are back.
    let mut seen = vec![];
    m.for_each_batch_norm(&mut |bn| seen.push((bn.momentum, bn.is_training())));
    assert_eq!(seen, vec![(Some(0.1), false)]);
    // Without batch norm nothing happens.
    let mut plain = Sequential::new().push(ReLU);
    assert!(!downhill::nn::update_bn(
        &mut plain,
        [Tensor::ones(&[2, 1])]
    ));
}
