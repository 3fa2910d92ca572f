//! Checkpoints go both ways with PyTorch: files written by PyTorch
//! (tests/fixtures/make_torch_fixtures.py) load into the same downhill model
//! and reproduce PyTorch's outputs within 1e-5; a file that does not match
//! the model is refused with every mismatch listed, and the model is untouched.

use crate::common;

use downhill::nn::*;
use downhill::{Error, Generator, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn input_output(name: &str) -> (Tensor, Vec<f64>) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    let x: Vec<Vec<f64>> = serde_json::from_value(v["input"].clone()).unwrap();
    let y: Vec<Vec<f64>> = serde_json::from_value(v["output"].clone()).unwrap();
    let flat: Vec<f32> = x.iter().flatten().map(|&a| a as f32).collect();
    (
        Tensor::from_vec(flat, &[x.len(), x[0].len()]),
        y.into_iter().flatten().collect(),
    )
}

fn mlp(g: &mut Generator) -> Sequential {
    Sequential::new()
        .push(Linear::new(4, 8, true, g))
        .push(ReLU)
        .push(Linear::new(8, 3, true, g))
}

#[test]
fn a_pytorch_mlp_loads_and_reproduces_pytorchs_outputs() {
    let model = mlp(&mut Generator::new(9));
    load_safetensors(&model, fixture("torch_mlp.safetensors")).unwrap();
    let (x, expected) = input_output("torch_mlp.json");
    let y = model.forward(&x).to_vec_f64();
    common::assert_close(&y, &expected, 1e-5);
}

#[test]
fn a_pytorch_batchnorm_model_loads_with_its_running_statistics() {
    let mut g = Generator::new(9);
    let mut model = Sequential::new()
        .push(Linear::new(4, 8, true, &mut g))
        .push(BatchNorm1d::new(8))
        .push(ReLU)
        .push(Linear::new(8, 3, true, &mut g));
    load_safetensors(&model, fixture("torch_bn_mlp.safetensors")).unwrap();
    model.eval();
    let (x, expected) = input_output("torch_bn_mlp.json");
    common::assert_close(&model.forward(&x).to_vec_f64(), &expected, 1e-5);
    let names: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("torch_bn_mlp.json")).unwrap())
            .unwrap();
    let torch_names: Vec<String> = serde_json::from_value(v["names"].clone()).unwrap();
    let (mut a, mut b) = (names.clone(), torch_names);
    a.sort();
    b.sort();
    assert_eq!(a, b, "downhill's state_dict names are PyTorch's");
}

#[test]
fn save_then_load_round_trips_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("downhill-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = mlp(&mut Generator::new(1));
    save_safetensors(&a, dir.join("m.safetensors")).unwrap();
    let b = mlp(&mut Generator::new(2));
    load_safetensors(&b, dir.join("m.safetensors")).unwrap();
    for ((na, ta), (nb, tb)) in a.state_dict().iter().zip(b.state_dict().iter()) {
        assert_eq!(na, nb);
        assert_eq!(ta.to_vec_f32(), tb.to_vec_f32());
    }
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp")),
        "no temporary file is left behind"
    );
}

#[test]
fn a_mismatched_file_is_refused_with_every_problem_listed() {
    let mut g = Generator::new(3);
    let other = Sequential::new()
        .push(Linear::new(4, 6, true, &mut g))
        .push(ReLU)
        .push(Linear::new(6, 3, false, &mut g));
    let before: Vec<Vec<f32>> = other.parameters().iter().map(|t| t.to_vec_f32()).collect();
    let err = load_safetensors(&other, fixture("torch_mlp.safetensors")).unwrap_err();
    let msg = err.to_string();
    match &err {
        Error::StateMismatch { problems, .. } => {
            assert_eq!(problems.len(), 4, "{msg}");
        }
        other => panic!("expected StateMismatch, got {other:?}"),
    }
    assert!(
        msg.contains("0.weight: shape [8, 4] in the file, [6, 4] in the model"),
        "{msg}"
    );
    assert!(msg.contains("unexpected 2.bias [3]"), "{msg}");
    assert!(msg.contains("torch_mlp.safetensors"), "{msg}");
    let after: Vec<Vec<f32>> = other.parameters().iter().map(|t| t.to_vec_f32()).collect();
    assert_eq!(before, after, "the model is untouched");
    let garbage = std::env::temp_dir().join(format!(
        "downhill-garbage-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&garbage, b"\x00\x01not safetensors").unwrap();
    assert!(matches!(
        load_safetensors(&other, &garbage),
        Err(Error::Parse { .. })
    ));
    assert!(matches!(
        load_safetensors(&other, "/nonexistent/x.safetensors"),
        Err(Error::Io { .. })
    ));
}
