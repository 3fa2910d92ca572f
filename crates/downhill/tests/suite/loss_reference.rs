//! Every loss in tests/reference/loss/ (PyTorch's values, float64): the value
//! and the gradient with respect to the input within 1e-10 relative (1e-12
//! absolute near zero). Adding a file needs no new code.

use downhill::loss::{from_config, Target};
use downhill::Tensor;
use serde_json::Value;

use crate::common::{json_floats, json_shape, reference_cases};

fn json_tensor(v: &Value) -> Tensor {
    Tensor::from_vec(json_floats(v), &json_shape(v))
}

fn close(a: f64, e: f64) -> bool {
    (a - e).abs() <= f64::max(1e-10 * e.abs(), 1e-12)
}

#[test]
fn every_loss_matches_pytorch_value_and_input_gradient() {
    let mut failures = Vec::new();
    for (file, case) in reference_cases("loss", 23, "the reference folder holds every loss file") {
        let name = case["loss"].as_str().unwrap();
        let loss = from_config(name, &case["params"]).unwrap_or_else(|e| panic!("{file}: {e}"));
        let input = json_tensor(&case["input"]).requires_grad_(true);
        // Class indices: an integer target of one fewer dimension than the input.
        let tshape = json_shape(&case["target"]);
        let is_indices = tshape.len() + 1 == input.ndim()
            && case["params"]["target_kind"] != "probabilities"
            && json_floats(&case["target"])
                .iter()
                .all(|v| v.fract() == 0.0 && *v >= 0.0);
        let indices: Vec<usize> = json_floats(&case["target"])
            .iter()
            .map(|&v| v as usize)
            .collect();
        let target_t = json_tensor(&case["target"]);
        let target = if is_indices {
            Target::Indices(&indices)
        } else {
            Target::Tensor(&target_t)
        };
        let extras: Vec<Tensor> = ["var", "y", "negative"]
            .iter()
            .filter_map(|k| case["extra"].get(*k).map(json_tensor))
            .collect();
        let extra_refs: Vec<&Tensor> = extras.iter().collect();
        let value = loss.forward(&input, target, &extra_refs);
        let expected = case["value"].as_f64().unwrap();
        if !close(value.item(), expected) {
            failures.push(format!(
                "{file}: value {} vs PyTorch {expected}",
                value.item()
            ));
            continue;
        }
        let grads = value.backward();
        let g = grads
            .get(&input)
            .map(|g| g.to_vec_f64())
            .unwrap_or_else(|| vec![0.0; input.numel()]);
        let eg = json_floats(&case["grad_input"]);
        if let Some((i, (a, e))) = g
            .iter()
            .zip(&eg)
            .enumerate()
            .find(|(_, (a, e))| !close(**a, **e))
        {
            failures.push(format!("{file}: grad[{i}] {a} vs PyTorch {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} files disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
