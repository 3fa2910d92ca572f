//! Activation values and derivatives match PyTorch's (tests/reference/ops/activations.json)
//! to 1e-12 in f64.

use downhill::{ops::GeluApproximate, Tensor};
use serde_json::Value;

fn apply(name: &str, x: &Tensor) -> Tensor {
    match name {
        "relu" => x.relu(),
        "leaky_relu(0.01)" => x.leaky_relu(0.01),
        "elu(1.0)" => x.elu(1.0),
        "selu" => x.selu(),
        "celu(1.0)" => x.celu(1.0),
        "gelu(erf)" => x.gelu(GeluApproximate::None),
        "gelu(tanh)" => x.gelu(GeluApproximate::Tanh),
        "silu" => x.silu(),
        "mish" => x.mish(),
        "sigmoid" => x.sigmoid(),
        "tanh" => x.tanh(),
        "softplus(beta=1,threshold=20)" => x.softplus(1.0, 20.0),
        "softplus(beta=2,threshold=20)" => x.softplus(2.0, 20.0),
        "softsign" => x.softsign(),
        "hardtanh" => x.hardtanh(-1.0, 1.0),
        "hardsigmoid" => x.hardsigmoid(),
        "hardswish" => x.hardswish(),
        "relu6" => x.relu6(),
        "logsigmoid" => x.logsigmoid(),
        other => panic!("activations.json names an activation downhill does not map: {other}"),
    }
}

#[test]
fn every_activation_matches_pytorch_values_and_derivatives() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/ops/activations.json"
    ))
    .unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let xs: Vec<f64> = serde_json::from_value(data["x"].clone()).unwrap();
    let acts = data["activations"].as_object().unwrap();
    assert!(acts.len() >= 19, "the reference lists every activation");
    for (name, v) in acts {
        let y: Vec<f64> = serde_json::from_value(v["y"].clone()).unwrap();
        let dy: Vec<f64> = serde_json::from_value(v["dy_dx"].clone()).unwrap();
        let x = Tensor::from_vec(xs.clone(), &[xs.len()]).requires_grad_(true);
        let out = apply(name, &x);
        let grads = out.sum().backward();
        for i in 0..xs.len() {
            let (a, e) = (out.to_vec_f64()[i], y[i]);
            assert!(
                (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                "{name}({}) = {a}, PyTorch {e}",
                xs[i]
            );
            let (a, e) = (grads.get(&x).unwrap().to_vec_f64()[i], dy[i]);
            assert!(
                (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                "{name}'({}) = {a}, PyTorch {e}",
                xs[i]
            );
        }
    }
}
