//! `AveragedModel` reproduces `torch.optim.swa_utils.AveragedModel` (SWA and
//! EMA, float64): every file of tests/reference/averaging/ (made by
//! `fixtures/make_averaging.py`) feeds the recorded model weights in turn and
//! compares the average after each update within 1e-12 relative.

use downhill::optim::{AveragedModel, Averaging};
use downhill::Tensor;
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[test]
fn averages_match_torch_swa_utils() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/averaging");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "SWA twice, EMA twice");
    for path in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let averaging = match case["averaging"].as_str().unwrap() {
            "swa" => Averaging::Swa,
            _ => Averaging::Ema {
                decay: case["decay"].as_f64().unwrap(),
            },
        };
        let fed = case["params_fed"].as_array().unwrap();
        let expect = case["averaged_after_update"].as_array().unwrap();
        let theta = Tensor::from_vec(floats(&fed[0]), &[5]);
        let mut avg = AveragedModel::new(std::slice::from_ref(&theta), averaging).unwrap();
        for (i, (p, e)) in fed.iter().zip(expect).enumerate() {
            theta.assign_(&Tensor::from_vec(floats(p), &[5]));
            avg.update_parameters(std::slice::from_ref(&theta));
            for (a, e) in avg.averaged()[0].to_vec_f64().iter().zip(floats(e)) {
                assert!(
                    (a - e).abs() <= f64::max(1e-12 * e.abs(), 1e-15),
                    "{}: update {i}: {a} vs {e}",
                    path.display()
                );
            }
        }
        assert_eq!(avg.n_averaged() as usize, fed.len());
    }
}

#[test]
fn a_decay_outside_zero_one_is_refused() {
    let w = Tensor::zeros(&[2]);
    let e = AveragedModel::new(&[w], Averaging::Ema { decay: 1.5 }).unwrap_err();
    assert_eq!(e.to_string(), "decay: must be in [0, 1], got 1.5");
}
