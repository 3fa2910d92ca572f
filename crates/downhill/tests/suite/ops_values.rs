//! Forward values of the ops on hand-checked inputs, the seeds' 2x² example,
//! numerical stability, and the panic messages of shape mistakes.

use crate::common;

use common::assert_close;
use downhill::{no_grad, DType, Generator, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape)
}

#[test]
fn seed_example_2x_squared_gives_0_6_then_0_36() {
    // f(x) = 2x², x₀ = 1, θ ← θ − 0.1·∇f
    let x = Tensor::scalar(1.0f64).requires_grad_(true);
    let mut path = Vec::new();
    for _ in 0..2 {
        let loss = x.square().mul_scalar(2.0);
        let g = loss.backward().get(&x).expect("x is trainable").item();
        x.update_::<f64, _>(|v| v[0] -= 0.1 * g);
        path.push(x.item());
    }
    assert_close(&path, &[0.6, 0.36], 1e-15);
}

#[test]
fn broadcasting_arithmetic_values() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = t(&[10.0, 20.0, 30.0], &[3]);
    let c = t(&[100.0, 200.0], &[2, 1]);
    assert_eq!(
        (&a + &b).to_vec_f64(),
        vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
    );
    assert_eq!(
        (&a * &c).to_vec_f64(),
        vec![100.0, 200.0, 300.0, 800.0, 1000.0, 1200.0]
    );
    assert_eq!((&b - &c).shape(), &[2, 3]);
    assert_eq!((&b / &t(&[2.0], &[1])).to_vec_f64(), vec![5.0, 10.0, 15.0]);
    assert_eq!((2.0 * &b).to_vec_f64(), vec![20.0, 40.0, 60.0]);
    assert_eq!((1.0 - &t(&[0.25], &[1])).to_vec_f64(), vec![0.75]);
}

#[test]
fn broadcast_gradients_sum_back_to_input_shapes() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).requires_grad_(true);
    let b = t(&[10.0, 20.0, 30.0], &[3]).requires_grad_(true);
    let g = (&a * &b).sum().backward();
    assert_eq!(g.get(&b).unwrap().to_vec_f64(), vec![5.0, 7.0, 9.0]);
    assert_eq!(g.get(&a).unwrap().shape(), &[2, 3]);
}

#[test]
fn reductions_values() {
    let x = t(&[1.0, 5.0, 3.0, 4.0, 2.0, 6.0], &[2, 3]);
    assert_eq!(x.sum().item(), 21.0);
    assert_eq!(x.sum_dims(&[0], false).to_vec_f64(), vec![5.0, 7.0, 9.0]);
    assert_eq!(x.sum_dims(&[1], true).shape(), &[2, 1]);
    assert_eq!(x.mean_dims(&[-1], false).to_vec_f64(), vec![3.0, 4.0]);
    assert_close(&x.var(1).to_vec_f64(), &[3.5], 1e-15);
    assert_eq!(
        x.var_dims(&[1], 0, false).to_vec_f64(),
        vec![8.0 / 3.0, 8.0 / 3.0]
    );
    assert_eq!(x.max_dim(1, false).to_vec_f64(), vec![5.0, 6.0]);
    assert_eq!(x.min_dim(0, false).to_vec_f64(), vec![1.0, 2.0, 3.0]);
    assert_eq!(x.argmax(1), vec![1, 2]);
    assert_eq!(x.max().item(), 6.0);
    let lse = x.logsumexp(&[1], false).to_vec_f64();
    assert_close(
        &lse,
        &[
            (1f64.exp() + 5f64.exp() + 3f64.exp()).ln(),
            (4f64.exp() + 2f64.exp() + 6f64.exp()).ln(),
        ],
        1e-14,
    );
}

#[test]
fn large_sums_are_exact_enough_and_thread_count_independent() {
    let n = 1 << 20;
    let x = Tensor::ones(&[n]);
    assert_eq!(x.sum().item(), n as f64);
    let mut g = Generator::new(5);
    let r = Tensor::randn(&[n], &mut g);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let a = one.install(|| r.sum().item());
    let b = r.sum().item();
    assert_eq!(
        a.to_bits(),
        b.to_bits(),
        "sum must not depend on the thread count"
    );
}

#[test]
fn softmax_is_stable_at_plus_minus_1000() {
    let x = t(&[1000.0, -1000.0, 0.0, 1000.0], &[4]).requires_grad_(true);
    let y = x.softmax(0);
    assert_close(&y.to_vec_f64(), &[0.5, 0.0, 0.0, 0.5], 1e-15);
    let ly = x.log_softmax(0);
    assert!(ly.to_vec_f64().iter().all(|v| v.is_finite()));
    assert_close(&ly.to_vec_f64()[..1], &[-(2f64.ln())], 1e-15);
    let w = t(&[1.0, 2.0, 3.0, 4.0], &[4]);
    let g = (&ly * &w).sum().backward();
    assert!(g
        .get(&x)
        .unwrap()
        .to_vec_f64()
        .iter()
        .all(|v| v.is_finite()));
    let x32 = Tensor::from_vec(vec![-1000.0f32, 1000.0], &[1, 2]).requires_grad_(true);
    let g = x32.softmax(-1).narrow(1, 1, 1).sum().backward();
    assert!(g
        .get(&x32)
        .unwrap()
        .to_vec_f64()
        .iter()
        .all(|v| v.is_finite()));
    let lse = t(&[1000.0, 1000.0], &[2]).logsumexp(&[0], false).item();
    assert_close(&[lse], &[1000.0 + 2f64.ln()], 1e-15);
}

#[test]
fn matmul_values_and_batch_broadcast() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = t(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
    assert_eq!(a.matmul(&b).to_vec_f64(), vec![4.0, 5.0, 10.0, 11.0]);
    let batch = Tensor::stack(&[&a, &a.mul_scalar(2.0)], 0); // [2, 2, 3]
    let c = batch.matmul(&b);
    assert_eq!(c.shape(), &[2, 2, 2]);
    assert_eq!(
        c.to_vec_f64(),
        vec![4.0, 5.0, 10.0, 11.0, 8.0, 10.0, 20.0, 22.0]
    );
    assert_eq!(
        t(&[1.0, 2.0], &[2]).matmul(&t(&[3.0, 4.0], &[2])).item(),
        11.0
    );
}

#[test]
fn large_matmul_agrees_with_a_naive_product() {
    let mut g = Generator::new(9);
    let (m, k, n) = (67, 300, 45);
    let a = Tensor::randn(&[m, k], &mut g).to_dtype(DType::F64);
    let b = Tensor::randn(&[k, n], &mut g).to_dtype(DType::F64);
    let (av, bv) = (a.to_vec_f64(), b.to_vec_f64());
    let mut expect = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            expect[i * n + j] = (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum();
        }
    }
    assert_close(&a.matmul(&b).to_vec_f64(), &expect, 1e-12);
}

#[test]
fn shape_ops_values() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(x.t().to_vec_f64(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(x.narrow(1, 1, 2).to_vec_f64(), vec![2.0, 3.0, 5.0, 6.0]);
    assert_eq!(Tensor::concat(&[&x, &x], 1).shape(), &[2, 6]);
    assert_eq!(Tensor::stack(&[&x, &x], 0).shape(), &[2, 2, 3]);
    assert_eq!(
        t(&[1.0, 2.0], &[2, 1]).broadcast_to(&[2, 2]).to_vec_f64(),
        vec![1.0, 1.0, 2.0, 2.0]
    );
    assert_eq!(x.reshape_infer(&[-1, 2]).shape(), &[3, 2]);
    assert_eq!(x.permute(&[1, 0]).to_vec_f64(), x.t().to_vec_f64());
    let y = x.masked_fill(&t(&[0.0, 1.0, 0.0], &[3]), -1.0);
    assert_eq!(y.to_vec_f64(), vec![1.0, -1.0, 3.0, 4.0, -1.0, 6.0]);
}

#[test]
fn creation_functions() {
    assert_eq!(Tensor::eye(2).to_vec_f64(), vec![1.0, 0.0, 0.0, 1.0]);
    assert_eq!(
        Tensor::linspace(-1.0, 1.0, 3).to_vec_f64(),
        vec![-1.0, 0.0, 1.0]
    );
    assert_eq!(
        Tensor::arange(0.0, 5.0, 2.0).to_vec_f64(),
        vec![0.0, 2.0, 4.0]
    );
    assert_eq!(Tensor::zeros(&[2, 0]).numel(), 0);
    assert_eq!(Tensor::ones(&[3]).dtype(), DType::F32);
    let mut a = Generator::new(1);
    let mut b = Generator::new(1);
    let u = Tensor::uniform(&[1000], -2.0, 3.0, &mut a);
    assert_eq!(
        u.to_vec_f64(),
        Tensor::uniform(&[1000], -2.0, 3.0, &mut b).to_vec_f64()
    );
    assert!(u.to_vec_f64().iter().all(|&v| (-2.0..3.0).contains(&v)));
}

#[test]
fn no_grad_scope_restores_on_exit() {
    let x = Tensor::scalar(2.0f32).requires_grad_(true);
    let y = no_grad(|| x.square());
    assert!(!y.requires_grad());
    assert!(x.square().requires_grad());
}

#[test]
#[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] do not chain")]
fn matmul_shape_mistake_names_op_and_both_shapes() {
    Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
#[should_panic(expected = "mul: shapes [2, 3] and [2] cannot be broadcast")]
fn broadcast_mistake_names_op_and_both_shapes() {
    let _ = &Tensor::zeros(&[2, 3]) * &Tensor::zeros(&[2]);
}

#[test]
#[should_panic(expected = "add: dtypes differ")]
fn mixing_dtypes_panics_with_both() {
    let _ = &Tensor::zeros(&[2]) + &Tensor::zeros(&[2]).to_dtype(DType::F64);
}

#[test]
#[should_panic(expected = "linear: input shape [4, 3] does not match weight shape [2, 5]")]
fn linear_shape_mistake_names_both_shapes() {
    downhill::ops::linear(&Tensor::zeros(&[4, 3]), &Tensor::zeros(&[2, 5]), None);
}
