//! Batch normalization in training mode matches PyTorch's float64 outputs,
//! gradients (input, weight, bias) and running statistics within 1e-10
//! (tests/fixtures/batch_norm.json, from make_batch_norm.py): BatchNorm2d,
//! BatchNorm1d on [N, C] and [N, C, L], without affine parameters and with
//! the cumulative average.

use crate::common;

use downhill::nn::{BatchNorm, Module};
use downhill::{DType, Tensor};
use serde_json::Value;

#[test]
fn batch_norm_matches_pytorch_in_training_mode() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/batch_norm.json"
    );
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for (i, c) in cases.iter().enumerate() {
        let vals = |k: &str| -> Vec<f64> { serde_json::from_value(c[k].clone()).unwrap() };
        let shape: Vec<usize> = serde_json::from_value(c["shape"].clone()).unwrap();
        let affine = c["affine"].as_bool().unwrap();
        let mut bn = BatchNorm::with_options(
            shape[1],
            1e-5,
            c["momentum"].as_f64(),
            affine,
            true,
            DType::F64,
        );
        if affine {
            bn.weight = Some(Tensor::from_vec(vals("weight"), &[shape[1]]).requires_grad_(true));
            bn.bias = Some(Tensor::from_vec(vals("bias"), &[shape[1]]).requires_grad_(true));
        }
        let x = Tensor::from_vec(vals("x"), &shape).requires_grad_(true);
        let r = Tensor::from_vec(vals("r"), &shape);
        let y = bn.forward(&x);
        common::assert_close(&y.to_vec_f64(), &vals("y"), 1e-10);
        let grads = (&y * &r).sum().backward();
        common::assert_close(&grads.get(&x).unwrap().to_vec_f64(), &vals("dx"), 1e-10);
        if affine {
            let (w, b) = (bn.weight.as_ref().unwrap(), bn.bias.as_ref().unwrap());
            common::assert_close(&grads.get(w).unwrap().to_vec_f64(), &vals("dweight"), 1e-10);
            common::assert_close(&grads.get(b).unwrap().to_vec_f64(), &vals("dbias"), 1e-10);
        }
        common::assert_close(&bn.running_mean.to_vec_f64(), &vals("running_mean"), 1e-10);
        common::assert_close(&bn.running_var.to_vec_f64(), &vals("running_var"), 1e-10);
        assert_eq!(bn.num_batches_tracked.item(), 1.0, "case {i}");
    }
}
