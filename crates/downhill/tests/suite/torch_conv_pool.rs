//! Convolution and pooling match PyTorch's float64 outputs and input
//! gradients (tests/fixtures/conv_pool.json, from make_torch_fixtures.py)
//! within 1e-10.

use crate::common;

use downhill::ops::{
    adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d, Conv2dConfig, Pool2dConfig,
};
use downhill::Tensor;
use serde_json::Value;

fn pair(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(a) => (
            a[0].as_u64().unwrap() as usize,
            a[1].as_u64().unwrap() as usize,
        ),
        n => (n.as_u64().unwrap() as usize, n.as_u64().unwrap() as usize),
    }
}

#[test]
fn conv_and_pools_match_pytorch() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conv_pool.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 17);
    for (i, c) in cases.iter().enumerate() {
        // A convolution twice: with constant weights (3×3 stride-1 ones with
        // enough channels then run by Winograd's algorithm) and with weights
        // that take gradients (whose small patch matrices are kept for them).
        let trained = if c["kind"] == "conv2d" {
            &[false, true][..]
        } else {
            &[false][..]
        };
        for &train_others in trained {
            check_case(i, c, train_others);
        }
    }
}

/// Runs fixture case `c` and compares its output and input gradient (and,
/// when `train_others`, the weight and bias gradients) with PyTorch's.
fn check_case(i: usize, c: &Value, train_others: bool) {
    let shape = |k: &str| -> Vec<usize> { serde_json::from_value(c[k].clone()).unwrap() };
    let vals = |k: &Value| -> Vec<f64> { serde_json::from_value(k.clone()).unwrap() };
    let what = format!("case {i} ({}, trained weights: {train_others})", c["kind"]);
    let x = Tensor::from_vec(vals(&c["input"]), &shape("input_shape")).requires_grad_(true);
    let oshapes: Vec<Vec<usize>> = serde_json::from_value(c["other_shapes"].clone()).unwrap();
    let others: Vec<Tensor> = oshapes
        .iter()
        .enumerate()
        .map(|(k, s)| Tensor::from_vec(vals(&c["others"][k]), s).requires_grad_(train_others))
        .collect();
    let p = &c["params"];
    let out = match c["kind"].as_str().unwrap() {
        "conv2d" => {
            let cfg = Conv2dConfig {
                stride: pair(&p["stride"]),
                padding: pair(&p["padding"]),
                dilation: pair(&p["dilation"]),
                groups: p["groups"].as_u64().unwrap() as usize,
            };
            conv2d(&x, &others[0], Some(&others[1]), cfg)
        }
        "max_pool2d" | "avg_pool2d" => {
            let cfg = Pool2dConfig {
                kernel: pair(&p["kernel"]),
                stride: pair(&p["stride"]),
                padding: pair(&p["padding"]),
                dilation: if p["dilation"].is_null() {
                    (1, 1)
                } else {
                    pair(&p["dilation"])
                },
                ceil_mode: p["ceil_mode"].as_bool().unwrap(),
            };
            if c["kind"] == "max_pool2d" {
                max_pool2d(&x, cfg)
            } else {
                avg_pool2d(
                    &x,
                    cfg,
                    p["count_include_pad"].as_bool().unwrap(),
                    p["divisor_override"].as_u64().map(|d| d as usize),
                )
            }
        }
        "adaptive_avg_pool2d" => adaptive_avg_pool2d(&x, pair(&p["output"])),
        k => panic!("unknown kind {k}"),
    };
    assert_eq!(
        out.shape(),
        shape("output_shape").as_slice(),
        "{what}: output shape"
    );
    common::assert_close(&out.to_vec_f64(), &vals(&c["output"]), 1e-10);
    let v = Tensor::from_vec(vals(&c["cotangent"]), out.shape());
    let g = (&out * &v).sum().backward();
    common::assert_close(
        &g.get(&x).unwrap().to_vec_f64(),
        &vals(&c["grad_input"]),
        1e-10,
    );
    for (k, o) in others.iter().enumerate() {
        let grad = g.get(o);
        assert_eq!(
            grad.is_some(),
            train_others,
            "{what}: gradient of input {k}"
        );
        if let Some(grad) = grad {
            common::assert_close(&grad.to_vec_f64(), &vals(&c["grad_others"][k]), 1e-10);
        }
    }
}
