//! Every differentiable op's backward agrees with central finite differences
//! (f64) on random shapes, including broadcast shapes.

use crate::common;

use common::*;
use downhill::{gradcheck, ops::linear, ops::GeluApproximate, Generator, GradcheckOptions, Tensor};
use proptest::prelude::*;

fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), TestCaseError> {
    gradcheck(f, inputs, &GradcheckOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

type UnaryCase = (&'static str, fn(&Tensor) -> Tensor);

const UNARY: &[UnaryCase] = &[
    ("neg", |x| x.neg()),
    ("exp", |x| x.exp()),
    ("abs", |x| x.abs()),
    ("sin", |x| x.sin()),
    ("cos", |x| x.cos()),
    ("tan", |x| x.mul_scalar(0.4).tan()),
    ("tanh", |x| x.tanh()),
    ("sigmoid", |x| x.sigmoid()),
    ("relu", |x| x.relu()),
    ("relu6", |x| x.mul_scalar(2.5).relu6()),
    ("leaky_relu", |x| x.leaky_relu(0.1)),
    ("elu", |x| x.elu(0.7)),
    ("celu", |x| x.celu(1.3)),
    ("selu", |x| x.selu()),
    ("gelu_erf", |x| x.gelu(GeluApproximate::None)),
    ("gelu_tanh", |x| x.gelu(GeluApproximate::Tanh)),
    ("silu", |x| x.silu()),
    ("mish", |x| x.mish()),
    ("softplus", |x| x.softplus(1.5, 2.0)),
    ("softsign", |x| x.softsign()),
    ("hardtanh", |x| x.hardtanh(-1.0, 2.0)),
    ("hardsigmoid", |x| x.hardsigmoid()),
    ("hardswish", |x| x.hardswish()),
    ("logsigmoid", |x| x.logsigmoid()),
    ("clamp", |x| x.clamp(-1.0, 1.0)),
    ("powf", |x| x.powf(3.0)),
    ("square", |x| x.square()),
    ("add_scalar", |x| x.add_scalar(1.5)),
    ("sub_scalar", |x| x.sub_scalar(1.5)),
    ("rsub_scalar", |x| x.rsub_scalar(1.5)),
    ("mul_scalar", |x| x.mul_scalar(-2.5)),
    ("div_scalar", |x| x.div_scalar(4.0)),
];

const POSITIVE_UNARY: &[UnaryCase] = &[
    ("log", |x| x.log()),
    ("sqrt", |x| x.sqrt()),
    ("powf_frac", |x| x.powf(1.7)),
];

type BinaryCase = (&'static str, fn(&Tensor, &Tensor) -> Tensor);

const BINARY: &[BinaryCase] = &[
    ("add", |a, b| a + b),
    ("sub", |a, b| a - b),
    ("mul", |a, b| a * b),
    ("div", |a, b| a / b),
    ("maximum", |a, b| a.maximum(b)),
    ("minimum", |a, b| a.minimum(b)),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn unary_ops_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let shape = rand_shape(&mut g, 3);
        for (name, f) in UNARY {
            let x = away_from_kinks(&mut g, &shape);
            check(|v| f(&v[0]), &[x]).map_err(|e| TestCaseError::fail(format!("{name} {shape:?}: {e}")))?;
        }
        for (name, f) in POSITIVE_UNARY {
            let x = positive(&mut g, &shape);
            check(|v| f(&v[0]), &[x]).map_err(|e| TestCaseError::fail(format!("{name} {shape:?}: {e}")))?;
        }
    }

    #[test]
    fn binary_ops_pass_gradcheck_with_broadcasting(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let sa = rand_shape(&mut g, 3);
        let sb = broadcast_partner(&mut g, &sa);
        for (sa, sb) in [(sa.clone(), sb.clone()), (sb, sa)] {
            for (name, f) in BINARY {
                let a = away_from_kinks(&mut g, &sa);
                let b = away_from_kinks(&mut g, &sb);
                check(|v| f(&v[0], &v[1]), &[a, b]).map_err(|e| TestCaseError::fail(format!("{name} {sa:?} {sb:?}: {e}")))?;
            }
            let (a, b) = (positive(&mut g, &sa), away_from_kinks(&mut g, &sb));
            check(|v| v[0].pow(&v[1]), &[a, b]).map_err(|e| TestCaseError::fail(format!("pow {sa:?} {sb:?}: {e}")))?;
        }
    }

    #[test]
    fn reductions_pass_gradcheck(seed in any::<u64>(), keepdim in any::<bool>()) {
        let mut g = Generator::new(seed);
        let shape = rand_shape(&mut g, 3);
        let nd = shape.len() as isize;
        let axis = g.below(shape.len() as u64) as isize - if g.below(2) == 0 { nd } else { 0 };
        let x = away_from_kinks(&mut g, &shape);
        check(|v| v[0].sum(), std::slice::from_ref(&x))?;
        check(|v| v[0].sum_dims(&[axis], keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].mean(), std::slice::from_ref(&x))?;
        check(|v| v[0].mean_dims(&[axis], keepdim), std::slice::from_ref(&x))?;
        if shape.len() >= 2 {
            check(|v| v[0].sum_dims(&[0, -1], keepdim), std::slice::from_ref(&x))?;
        }
        if x.numel() > 1 {
            check(|v| v[0].var(1), std::slice::from_ref(&x))?;
        }
        if shape[axis.rem_euclid(nd) as usize] > 1 {
            check(|v| v[0].var_dims(&[axis], 1, keepdim), std::slice::from_ref(&x))?;
        }
        check(|v| v[0].var_dims(&[axis], 0, keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].max_dim(axis, keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].min_dim(axis, keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].max(), std::slice::from_ref(&x))?;
        check(|v| v[0].min(), std::slice::from_ref(&x))?;
        check(|v| v[0].logsumexp(&[axis], keepdim), std::slice::from_ref(&x))?;
        check(|v| v[0].logsumexp(&[], false), std::slice::from_ref(&x))?;
        check(|v| v[0].softmax(axis), std::slice::from_ref(&x))?;
        check(|v| v[0].log_softmax(axis), std::slice::from_ref(&x))?;
    }

    #[test]
    fn matmul_and_linear_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let (m, k, n) = (1 + g.below(4) as usize, 1 + g.below(4) as usize, 1 + g.below(4) as usize);
        let b1 = 1 + g.below(3) as usize;
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![m, k], vec![k, n]),
            (vec![b1, m, k], vec![k, n]),
            (vec![m, k], vec![b1, k, n]),
            (vec![b1, m, k], vec![b1, k, n]),
            (vec![2, 1, m, k], vec![b1, k, n]),
            (vec![k], vec![k, n]),
            (vec![m, k], vec![k]),
            (vec![k], vec![k]),
            (vec![b1, m, k], vec![k]),
        ];
        for (sa, sb) in cases {
            let (a, b) = (away_from_kinks(&mut g, &sa), away_from_kinks(&mut g, &sb));
            check(|v| v[0].matmul(&v[1]), &[a, b]).map_err(|e| TestCaseError::fail(format!("matmul {sa:?} {sb:?}: {e}")))?;
        }
        let x = away_from_kinks(&mut g, &[b1, m, k]);
        let w = away_from_kinks(&mut g, &[n, k]);
        let bias = away_from_kinks(&mut g, &[n]);
        check(|v| linear(&v[0], &v[1], Some(&v[2])), &[x.clone(), w.clone(), bias])?;
        check(|v| linear(&v[0], &v[1], None), &[x, w])?;
    }

    #[test]
    fn shape_and_index_ops_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let shape = rand_shape(&mut g, 3);
        let nd = shape.len();
        let x = away_from_kinks(&mut g, &shape);
        let one = std::slice::from_ref(&x);
        let n = x.numel();
        check(|v| v[0].reshape(&[n]), one)?;
        check(|v| v[0].flatten(0, -1), one)?;
        check(|v| v[0].unsqueeze(0).squeeze(0), one)?;
        let mut perm: Vec<usize> = (0..nd).collect();
        g.shuffle(&mut perm);
        check(|v| v[0].permute(&perm), one)?;
        if nd >= 2 {
            check(|v| v[0].t(), one)?;
        }
        let mut big = vec![2usize];
        big.extend_from_slice(&shape);
        let partner: Vec<usize> = shape.iter().map(|&d| if g.below(2) == 0 { 1 } else { d }).collect();
        let y = away_from_kinks(&mut g, &partner);
        check(|v| v[0].broadcast_to(&big), &[y])?;
        let d = g.below(nd as u64) as usize;
        let size = shape[d];
        let start = g.below(size as u64) as usize;
        let len = 1 + g.below((size - start) as u64) as usize;
        check(|v| v[0].narrow(d as isize, start, len), one)?;
        let z = away_from_kinks(&mut g, &shape);
        check(|v| Tensor::concat(&[&v[0], &v[1]], d as isize), &[x.clone(), z.clone()])?;
        check(|v| Tensor::stack(&[&v[0], &v[1]], d as isize), &[x.clone(), z.clone()])?;
        let idx: Vec<usize> = (0..5).map(|_| g.below(size as u64) as usize).collect();
        check(|v| v[0].index_select(d as isize, &idx), one)?;
        let rest = n / size;
        let gidx: Vec<usize> = (0..rest * 3).map(|_| g.below(size as u64) as usize).collect();
        check(|v| v[0].gather(d as isize, &gidx), one)?;
        let cond = away_from_kinks(&mut g, &partner).gt(&Tensor::scalar(0.0f64));
        check(|v| Tensor::where_(&cond, &v[0], &v[1]), &[x.clone(), z.clone()])?;
        check(|v| v[0].masked_fill(&cond, 2.5), one)?;
    }
}

#[test]
fn to_dtype_passes_gradient_back_in_the_input_dtype() {
    let x = Tensor::from_vec(vec![1.5f64, -2.0], &[2]).requires_grad_(true);
    let y = x.to_dtype(downhill::DType::F32).mul_scalar(3.0).sum();
    let g = y.backward();
    let gx = g.get(&x).unwrap();
    assert_eq!(gx.dtype(), downhill::DType::F64);
    assert_eq!(gx.to_vec_f64(), vec![3.0, 3.0]);
}
