//! Every loss passes finite-difference gradient checks on random shapes with
//! each reduction and option, and the logit losses stay finite at ±1000.

use crate::common;

use common::*;
use downhill::loss::*;
use downhill::{gradcheck, Generator, GradcheckOptions, Tensor};
use proptest::prelude::*;

fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), TestCaseError> {
    gradcheck(f, inputs, &GradcheckOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn classification_losses_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let (n, c) = (1 + g.below(4) as usize, 2 + g.below(4) as usize);
        let x = away_from_kinks(&mut g, &[n, c]);
        let y: Vec<usize> = (0..n).map(|_| g.below(c as u64) as usize).collect();
        let w = positive(&mut g, &[c]);
        for r in REDUCTIONS {
            for (smooth, weight, ignore) in [(0.0, false, None), (0.2, true, None), (0.1, false, Some(y[0])), (0.0, true, Some(y[0]))] {
                let mut ce = CrossEntropyLoss::default().reduction(r).label_smoothing(smooth);
                if weight { ce = ce.weight(w.clone()); }
                if let Some(i) = ignore { if n > 1 && y.iter().any(|&t| t != i) { ce = ce.ignore_index(i); } }
                check(|v| ce.loss(&v[0], &y), std::slice::from_ref(&x))?;
            }
            let probs = positive(&mut g, &[n, c]).softmax(-1);
            check(|v| CrossEntropyLoss::default().reduction(r).label_smoothing(0.1).loss_probs(&v[0], &probs), std::slice::from_ref(&x))?;
            let nll = NllLoss { reduction: r, weight: Some(w.clone()), ignore_index: None };
            check(|v| nll.loss(&v[0].log_softmax(1), &y), std::slice::from_ref(&x))?;
            let mm = MultiMarginLoss { reduction: r, p: 1 + g.below(2) as u32, margin: 0.7, weight: Some(w.clone()) };
            check(|v| mm.loss(&v[0], &y), std::slice::from_ref(&x))?;
            let t01 = Tensor::from_vec((0..n * c).map(|_| g.below(2) as f64).collect::<Vec<_>>(), &[n, c]);
            let pw = positive(&mut g, &[c]);
            let bcel = BceWithLogitsLoss { reduction: r, weight: Some(w.clone()), pos_weight: Some(pw) };
            check(|v| bcel.loss(&v[0], &t01), std::slice::from_ref(&x))?;
            let probs_in = x.sigmoid();
            check(|v| BceLoss { reduction: r, weight: None }.loss(&v[0], &t01), &[probs_in])?;
            check(|v| MultiLabelSoftMarginLoss { reduction: r, weight: Some(w.clone()) }.loss(&v[0], &t01), std::slice::from_ref(&x))?;
            let pm1 = t01.mul_scalar(2.0).sub_scalar(1.0);
            check(|v| SoftMarginLoss { reduction: r }.loss(&v[0], &pm1), std::slice::from_ref(&x))?;
            let q = positive(&mut g, &[n, c]).softmax(-1);
            let kl = KlDivLoss { reduction: if r == Reduction::Mean { Reduction::BatchMean } else { r }, log_target: false };
            check(|v| kl.loss(&v[0].log_softmax(1), &q), std::slice::from_ref(&x))?;
            check(|v| KlDivLoss { reduction: r, log_target: true }.loss(&v[0].log_softmax(1), &q.log()), std::slice::from_ref(&x))?;
        }
        // K-dimensional cross-entropy: [N, C, d]
        let d = 1 + g.below(3) as usize;
        let xk = away_from_kinks(&mut g, &[n, c, d]);
        let yk: Vec<usize> = (0..n * d).map(|_| g.below(c as u64) as usize).collect();
        check(|v| CrossEntropyLoss::default().loss(&v[0], &yk), &[xk])?;
    }

    #[test]
    fn regression_and_embedding_losses_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let shape = rand_shape(&mut g, 2);
        let x = away_from_kinks(&mut g, &shape);
        let y = away_from_kinks(&mut g, &shape);
        for r in REDUCTIONS {
            check(|v| MseLoss { reduction: r }.loss(&v[0], &v[1]), &[x.clone(), y.clone()])?;
            check(|v| L1Loss { reduction: r }.loss(&v[0], &y), std::slice::from_ref(&x))?;
            check(|v| SmoothL1Loss { reduction: r, beta: 0.37 }.loss(&v[0], &y), std::slice::from_ref(&x))?;
            check(|v| HuberLoss { reduction: r, delta: 0.61 }.loss(&v[0], &y), std::slice::from_ref(&x))?;
            let counts = positive(&mut g, &shape).mul_scalar(2.0);
            check(|v| PoissonNllLoss { reduction: r, ..Default::default() }.loss(&v[0], &counts), std::slice::from_ref(&x))?;
            let rate = positive(&mut g, &shape);
            check(|v| PoissonNllLoss { reduction: r, log_input: false, full: true, eps: 1e-8 }.loss(&v[0], &counts), &[rate])?;
            let var = positive(&mut g, &shape);
            check(|v| GaussianNllLoss { reduction: r, full: true, eps: 1e-6 }.loss(&v[0], &y, &v[1]), &[x.clone(), var])?;
        }
        let (n, dim) = (1 + g.below(4) as usize, 1 + g.below(4) as usize);
        let a = away_from_kinks(&mut g, &[n, dim]);
        let p = away_from_kinks(&mut g, &[n, dim]);
        let q = away_from_kinks(&mut g, &[n, dim]);
        let ypm = Tensor::from_vec((0..n).map(|_| if g.below(2) == 0 { -1.0 } else { 1.0 }).collect::<Vec<f64>>(), &[n]);
        for r in REDUCTIONS {
            check(|v| CosineEmbeddingLoss { reduction: r, margin: -0.3 }.loss(&v[0], &v[1], &ypm), &[a.clone(), p.clone()])?;
            check(|v| TripletMarginLoss { reduction: r, margin: 5.0, ..Default::default() }.loss(&v[0], &v[1], &v[2]), &[a.clone(), p.clone(), q.clone()])?;
            check(|v| TripletMarginLoss { reduction: r, margin: 5.0, p: 1.5, swap: true, ..Default::default() }.loss(&v[0], &v[1], &v[2]), &[a.clone(), p.clone(), q.clone()])?;
            let x1 = a.sum_dims(&[1], false);
            let x2 = p.sum_dims(&[1], false);
            check(|v| MarginRankingLoss { reduction: r, margin: 0.05 }.loss(&v[0], &v[1], &ypm), &[x1, x2])?;
        }
    }
}

#[test]
fn logit_losses_are_finite_at_plus_minus_1000() {
    let x =
        Tensor::from_vec(vec![1000.0f32, -1000.0, -1000.0, 1000.0], &[2, 2]).requires_grad_(true);
    let ce = CrossEntropyLoss::default()
        .label_smoothing(0.1)
        .loss(&x, &[1, 0]);
    let g = ce.backward();
    assert!(ce.item().is_finite() && ce.item() > 1000.0);
    assert!(g
        .get(&x)
        .unwrap()
        .to_vec_f64()
        .iter()
        .all(|v| v.is_finite()));
    let x = Tensor::from_vec(vec![1000.0f32, -1000.0], &[2]).requires_grad_(true);
    let t = Tensor::from_vec(vec![0.0f32, 1.0], &[2]);
    let b = BceWithLogitsLoss::default().loss(&x, &t);
    let g = b.backward();
    assert!((b.item() - 1000.0).abs() < 1e-3, "{}", b.item());
    assert!(g
        .get(&x)
        .unwrap()
        .to_vec_f64()
        .iter()
        .all(|v| v.is_finite()));
}

#[test]
#[should_panic(expected = "CrossEntropyLoss: target 7 is out of range for 3 classes")]
fn out_of_range_class_names_index_and_count() {
    CrossEntropyLoss::default().loss(&Tensor::zeros(&[2, 3]), &[0, 7]);
}

#[test]
#[should_panic(expected = "MSELoss: input shape [2, 3] and target shape [3, 2] differ")]
fn loss_shape_mismatch_names_both_shapes() {
    MseLoss::default().loss(&Tensor::zeros(&[2, 3]), &Tensor::zeros(&[3, 2]));
}
