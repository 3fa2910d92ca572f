//! Every optimizer trajectory in tests/reference/optim/ (PyTorch's, float64)
//! is reproduced: each loss before a step and each θ after it, within 1e-9
//! relative (1e-12 absolute near zero). Adding a file needs no new code.
//! Each run is also interrupted halfway, saved, restored into a fresh
//! optimizer and continued: the result must be bit-identical.
//!
//! The files of the optimizers past torch.optim (60 and up, from their
//! authors' packages: see `fixtures/make_optim_beyond.py`) may also say
//! `"closure": true` (the step re-evaluates the loss: SAM) and carry
//! `theta_eval_after_step` (schedule-free: the averaged weights that
//! `eval()` puts in the parameters, checked after every step and switched
//! back with `train()`).

use downhill::optim::{from_config, Optimizer};
use downhill::{Gradients, Tensor};
use serde_json::Value;

use crate::common::{json_floats, json_shape, reference_cases};

/// The loss of the file's problem at θ.
fn loss_fn(case: &Value) -> impl Fn(&Tensor) -> Tensor {
    let problem = case["problem"].as_str().expect("problem").to_string();
    let data = case["problem_data"].clone();
    let mat = |k: &str| Tensor::from_vec(json_floats(&data[k]), &json_shape(&data[k]));
    let (a, b) = match problem.as_str() {
        "quadratic" => (Some(mat("A")), Some(mat("b"))),
        "matrix_lsq" => (Some(mat("X")), Some(mat("Y"))),
        _ => (None, None),
    };
    move |theta: &Tensor| match problem.as_str() {
        // 0.5·θᵀAθ − bᵀθ
        "quadratic" => {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            (theta * &a.matmul(theta)).sum().mul_scalar(0.5) - (b * theta).sum()
        }
        // (1 − x)² + 100(y − x²)²
        "rosenbrock" => {
            let x = theta.narrow(0, 0, 1);
            let y = theta.narrow(0, 1, 1);
            ((1.0 - &x).square() + (&y - &x.square()).square().mul_scalar(100.0)).sum()
        }
        // 0.5·Σ(WX − Y)²
        "matrix_lsq" => {
            let (x, y) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            (&theta.matmul(x) - y).square().sum().mul_scalar(0.5)
        }
        other => panic!("unknown problem {other}"),
    }
}

fn close(a: f64, e: f64) -> bool {
    (a - e).abs() <= f64::max(1e-9 * e.abs(), 1e-12)
}

/// Runs `steps` steps from the optimizer's current state; returns the losses.
fn run(
    opt: &mut dyn Optimizer,
    theta: &Tensor,
    f: &dyn Fn(&Tensor) -> Tensor,
    steps: usize,
    use_closure: bool,
) -> Vec<(f64, Vec<f64>)> {
    run_with(opt, theta, f, steps, use_closure, &mut |_, _| {})
}

/// [`run`], calling `after(opt, i)` after step `i`.
fn run_with(
    opt: &mut dyn Optimizer,
    theta: &Tensor,
    f: &dyn Fn(&Tensor) -> Tensor,
    steps: usize,
    use_closure: bool,
    after: &mut dyn FnMut(&mut dyn Optimizer, usize),
) -> Vec<(f64, Vec<f64>)> {
    let mut out = Vec::new();
    for i in 0..steps {
        let mut closure = || -> (f64, Gradients) {
            let l = f(theta);
            (l.item(), l.backward())
        };
        let loss = if use_closure || opt.name() == "LBFGS" {
            opt.step_with_closure(&mut closure)
        } else {
            let (l, g) = closure();
            opt.step(&g);
            l
        };
        out.push((loss, theta.to_vec_f64()));
        after(&mut *opt, i);
    }
    out
}

fn closure_of(case: &Value) -> bool {
    case["closure"].as_bool().unwrap_or(false)
}

fn cases() -> Vec<(String, Value)> {
    reference_cases(
        "optim",
        44,
        "the reference folder holds every optimizer file",
    )
}

#[test]
fn every_optimizer_reproduces_pytorchs_trajectory() {
    let mut failures = Vec::new();
    for (file, case) in cases() {
        let name = case["optimizer"].as_str().unwrap();
        let theta = Tensor::from_vec(json_floats(&case["theta0"]), &json_shape(&case["theta0"]))
            .requires_grad_(true);
        let mut opt = from_config(name, &case["hyperparameters"], vec![theta.clone()])
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let f = loss_fn(&case);
        let losses = case["loss_before_step"].as_array().unwrap();
        let thetas = case["theta_after_step"].as_array().unwrap();
        let evals = case["theta_eval_after_step"].as_array();
        let mut eval_failure = None;
        let got = run_with(
            &mut *opt,
            &theta,
            &f,
            losses.len(),
            closure_of(&case),
            &mut |opt, i| {
                let Some(evals) = evals else { return };
                opt.eval();
                for (j, (a, e)) in theta
                    .to_vec_f64()
                    .iter()
                    .zip(json_floats(&evals[i]))
                    .enumerate()
                {
                    if !close(*a, e) && eval_failure.is_none() {
                        eval_failure = Some(format!("{file} step {i} eval θ[{j}]: {a} vs {e}"));
                    }
                }
                opt.train();
            },
        );
        failures.extend(eval_failure);
        'steps: for (i, (loss, th)) in got.iter().enumerate() {
            let el = losses[i].as_f64().unwrap();
            if !close(*loss, el) {
                failures.push(format!("{file} step {i}: loss {loss} vs PyTorch {el}"));
                break;
            }
            for (j, (a, e)) in th.iter().zip(json_floats(&thetas[i])).enumerate() {
                if !close(*a, e) {
                    failures.push(format!("{file} step {i} θ[{j}]: {a} vs PyTorch {e}"));
                    break 'steps;
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
fn resuming_from_saved_state_is_bit_identical() {
    for (file, case) in cases() {
        let name = case["optimizer"].as_str().unwrap();
        let hyper = &case["hyperparameters"];
        let n = case["loss_before_step"].as_array().unwrap().len();
        let f = loss_fn(&case);
        let theta0 = Tensor::from_vec(json_floats(&case["theta0"]), &json_shape(&case["theta0"]));

        let straight = theta0.detach().requires_grad_(true);
        let mut opt = from_config(name, hyper, vec![straight.clone()]).unwrap();
        let expect = run(&mut *opt, &straight, &f, n, closure_of(&case));

        let first = theta0.detach().requires_grad_(true);
        let mut opt = from_config(name, hyper, vec![first.clone()]).unwrap();
        run(&mut *opt, &first, &f, n / 2, closure_of(&case));
        let saved = serde_json::to_string(&opt.state_dict()).unwrap();
        drop(opt);
        let resumed = first.detach().requires_grad_(true);
        let mut opt = from_config(name, hyper, vec![resumed.clone()]).unwrap();
        opt.load_state_dict(&serde_json::from_str(&saved).unwrap())
            .unwrap();
        let rest = run(&mut *opt, &resumed, &f, n - n / 2, closure_of(&case));
        for (a, b) in rest.iter().zip(&expect[n / 2..]) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&a.1),
                bits(&b.1),
                "{file}: resumed run differs from the straight run"
            );
        }
    }
}
