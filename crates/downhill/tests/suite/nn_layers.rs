//! Layers: gradients checked by finite differences (f64), convolution against
//! a direct loop, PyTorch's parameter names, freezing, train/eval behaviour,
//! and the statistics of the initializers.

use crate::common;

use common::*;
use downhill::nn::*;
use downhill::ops::{
    adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d, max_pool2d, Conv2dConfig, Pool2dConfig,
};
use downhill::{gradcheck, DType, Generator, GradcheckOptions, Tensor};
use proptest::prelude::*;

fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), TestCaseError> {
    gradcheck(f, inputs, &GradcheckOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

/// out[n, o, y, x] = b[o] + Σ_{c, i, j} x[n, g·Cg + c, y·s − p + i·d, x·s − p + j·d]·w[o, c, i, j]
fn naive_conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cfg: Conv2dConfig) -> Vec<f64> {
    let (xv, wv) = (x.to_vec_f64(), w.to_vec_f64());
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, cg, kh, kw) = (w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]);
    let og = o / cfg.groups;
    let oh = (h + 2 * cfg.padding.0 - cfg.dilation.0 * (kh - 1) - 1) / cfg.stride.0 + 1;
    let ow = (wd + 2 * cfg.padding.1 - cfg.dilation.1 * (kw - 1) - 1) / cfg.stride.1 + 1;
    let mut out = vec![0.0; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            let g = oi / og;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut s = b.map_or(0.0, |b| b.to_vec_f64()[oi]);
                    for ci in 0..cg {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (y * cfg.stride.0 + i * cfg.dilation.0) as isize
                                    - cfg.padding.0 as isize;
                                let ix = (xx * cfg.stride.1 + j * cfg.dilation.1) as isize
                                    - cfg.padding.1 as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    let xc = g * cg + ci;
                                    s += xv[((ni * c + xc) * h + iy as usize) * wd + ix as usize]
                                        * wv[((oi * cg + ci) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    out[((ni * o + oi) * oh + y) * ow + xx] = s;
                }
            }
        }
    }
    out
}

fn conv_case(g: &mut Generator) -> (Tensor, Tensor, Tensor, Conv2dConfig) {
    let groups = 1 + g.below(2) as usize;
    let cg = 1 + g.below(2) as usize;
    let og = 1 + g.below(2) as usize;
    let (kh, kw) = (1 + g.below(3) as usize, 1 + g.below(3) as usize);
    let cfg = Conv2dConfig {
        stride: (1 + g.below(2) as usize, 1 + g.below(2) as usize),
        padding: (g.below(2) as usize, g.below(2) as usize),
        dilation: (1 + g.below(2) as usize, 1 + g.below(2) as usize),
        groups,
    };
    let h = cfg.dilation.0 * (kh - 1) + 1 + g.below(3) as usize;
    let w = cfg.dilation.1 * (kw - 1) + 1 + g.below(3) as usize;
    let n = 1 + g.below(2) as usize;
    let x = away_from_kinks(g, &[n, cg * groups, h, w]);
    let wt = away_from_kinks(g, &[og * groups, cg, kh, kw]);
    let b = away_from_kinks(g, &[og * groups]);
    (x, wt, b, cfg)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_a_direct_loop_and_passes_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let (x, w, b, cfg) = conv_case(&mut g);
        assert_close(&conv2d(&x, &w, Some(&b), cfg).to_vec_f64(), &naive_conv2d(&x, &w, Some(&b), cfg), 1e-12);
        check(|v| conv2d(&v[0], &v[1], Some(&v[2]), cfg), &[x.clone(), w.clone(), b])?;
        check(|v| conv2d(&v[0], &v[1], None, cfg), &[x, w])?;
    }

    #[test]
    fn conv1d_and_pools_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let x = away_from_kinks(&mut g, &[2, 2, 7]);
        let w = away_from_kinks(&mut g, &[4, 1, 3]);
        let b = away_from_kinks(&mut g, &[4]);
        let (s, p, d) = (1 + g.below(2) as usize, g.below(2) as usize, 1 + g.below(2) as usize);
        check(|v| conv1d(&v[0], &v[1], Some(&v[2]), s, p, d, 2), &[x, w, b])?;
        let (ih, iw) = (5 + g.below(3) as usize, 5 + g.below(3) as usize);
        let img = away_from_kinks(&mut g, &[2, 2, ih, iw]);
        let k = 2 + g.below(2) as usize;
        let cfg = Pool2dConfig {
            kernel: (k, k),
            stride: (1 + g.below(2) as usize, 1 + g.below(3) as usize),
            padding: (g.below(2) as usize, g.below(2) as usize),
            dilation: (1 + g.below(2) as usize, 1),
            ceil_mode: g.below(2) == 0,
        };
        check(|v| max_pool2d(&v[0], cfg), std::slice::from_ref(&img))?;
        let avg_cfg = Pool2dConfig { dilation: (1, 1), ..cfg };
        for (cip, div) in [(true, None), (false, None), (true, Some(3))] {
            check(|v| avg_pool2d(&v[0], avg_cfg, cip, div), std::slice::from_ref(&img))?;
        }
        let out = (1 + g.below(4) as usize, 1 + g.below(4) as usize);
        check(|v| adaptive_avg_pool2d(&v[0], out), std::slice::from_ref(&img))?;
    }

    #[test]
    fn dense_and_norm_layers_pass_gradcheck(seed in any::<u64>()) {
        let mut g = Generator::new(seed);
        let (n, i, o) = (2 + g.below(3) as usize, 1 + g.below(4) as usize, 1 + g.below(4) as usize);
        let x = away_from_kinks(&mut g, &[n, i]);
        let fc = Linear::with_dtype(i, o, true, DType::F64, &mut g);
        check(|v| fc.forward(&v[0]), std::slice::from_ref(&x))?;
        check(|v| downhill::ops::linear(&x, &v[0], Some(&v[1])), &[fc.weight.clone(), fc.bias.clone().unwrap()])?;
        let bn = BatchNorm::with_options(i, 1e-5, Some(0.1), true, true, DType::F64);
        check(|v| bn.forward(&v[0]), std::slice::from_ref(&x))?;
        let x4 = away_from_kinks(&mut g, &[2, i, 2, 3]);
        let bn2 = BatchNorm::with_options(i, 1e-5, Some(0.1), true, true, DType::F64);
        check(|v| bn2.forward(&v[0]), std::slice::from_ref(&x4))?;
        // γ and β too (random, not the initial ones and zeros).
        let (gamma, beta) = (away_from_kinks(&mut g, &[i]), away_from_kinks(&mut g, &[i]));
        check(|v| {
            let mut bn = BatchNorm::with_options(i, 1e-5, Some(0.1), true, true, DType::F64);
            bn.weight = Some(v[1].clone());
            bn.bias = Some(v[2].clone());
            bn.forward(&v[0])
        }, &[x4, gamma, beta])?;
        let ln = LayerNorm::with_dtype(&[i], 1e-5, true, true, DType::F64);
        check(|v| ln.forward(&v[0]), std::slice::from_ref(&x))?;
        let emb = Embedding::with_dtype(5, 3, Some(0), DType::F64, &mut g);
        let idx: Vec<usize> = (0..6).map(|_| g.below(5) as usize).collect();
        let gr = emb.lookup(&idx, &[2, 3]).sum().backward();
        let gw = gr.get(&emb.weight).unwrap().to_vec_f64();
        prop_assert!(gw[0..3].iter().all(|&v| v == 0.0), "the padding row gets no gradient");
        for r in 1..5 {
            let count = idx.iter().filter(|&&k| k == r).count() as f64;
            prop_assert!(gw[r * 3..r * 3 + 3].iter().all(|&v| v == count));
        }
        for act in [Box::new(GELU::default()) as Box<dyn Module>, Box::new(Softplus::default()), Box::new(LeakyReLU::default()), Box::new(LogSoftmax::default())] {
            check(|v| act.forward(&v[0]), std::slice::from_ref(&x))?;
        }
    }
}

#[test]
fn sequential_names_match_pytorch_and_freezing_stops_gradients() {
    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::new(4, 8, true, &mut g))
        .push(ReLU)
        .push(Linear::new(8, 3, true, &mut g));
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(model.freeze("0.", true), 2);
    let grads = model.forward(&Tensor::ones(&[2, 4])).sum().backward();
    let params = model.named_parameters();
    assert!(grads.get(&params[0].1).is_none() && grads.get(&params[1].1).is_none());
    assert!(grads.get(&params[2].1).is_some() && grads.get(&params[3].1).is_some());
    assert_eq!(model.trainable_parameters().len(), 2);
}

#[test]
fn batchnorm_tracks_running_statistics_and_uses_them_in_eval() {
    let mut bn = BatchNorm::with_options(1, 1e-5, Some(0.1), true, true, DType::F64);
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[4, 1]);
    bn.forward(&x);
    // mean 2.5; unbiased variance 5/3
    assert_close(&bn.running_mean.to_vec_f64(), &[0.25], 1e-15);
    assert_close(
        &bn.running_var.to_vec_f64(),
        &[0.9 + 0.1 * 5.0 / 3.0],
        1e-15,
    );
    assert_eq!(bn.num_batches_tracked.item(), 1.0);
    let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked"
        ]
    );
    bn.eval();
    let y = bn.forward(&Tensor::from_vec(vec![0.25f64], &[1, 1]));
    assert_close(&y.to_vec_f64(), &[0.0], 1e-15);
}

#[test]
fn dropout_is_seeded_and_scales_the_kept_elements() {
    let a = Dropout::new(0.3, 42).forward(&Tensor::ones(&[10_000]));
    let b = Dropout::new(0.3, 42).forward(&Tensor::ones(&[10_000]));
    assert_eq!(a.to_vec_f64(), b.to_vec_f64());
    let kept = a.to_vec_f64().iter().filter(|&&v| v > 0.0).count() as f64 / 10_000.0;
    assert!((kept - 0.7).abs() < 0.02, "kept fraction {kept}");
    assert!(a
        .to_vec_f64()
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
}

#[test]
fn initializers_have_the_right_statistics() {
    let mut g = Generator::new(3);
    let t = Tensor::zeros(&[400, 500]);
    let stats = |t: &Tensor| {
        let v = t.to_vec_f64();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (
            m,
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt(),
        )
    };
    init::xavier_normal(&t, 1.0, &mut g);
    let (m, s) = stats(&t);
    assert!(
        m.abs() < 0.003 && (s - (2.0 / 900.0f64).sqrt()).abs() < 0.001,
        "xavier_normal {m} {s}"
    );
    init::kaiming_normal(
        &t,
        0.0,
        init::FanMode::FanIn,
        init::Nonlinearity::Relu,
        &mut g,
    );
    let (_, s) = stats(&t);
    assert!(
        (s - (2.0 / 500.0f64).sqrt()).abs() < 0.001,
        "kaiming_normal {s}"
    );
    init::xavier_uniform(&t, 1.0, &mut g);
    let bound = (6.0 / 900.0f64).sqrt();
    assert!(t.to_vec_f64().iter().all(|v| v.abs() <= bound));
    init::trunc_normal(&t, 0.0, 1.0, -2.0, 2.0, &mut g);
    let (m, s) = stats(&t);
    assert!(
        t.to_vec_f64().iter().all(|v| v.abs() <= 2.0)
            && m.abs() < 0.01
            && (s - 0.8796).abs() < 0.01,
        "trunc_normal {m} {s}"
    );
    let q = Tensor::zeros(&[6, 4]);
    init::orthogonal(&q, 1.0, &mut g);
    let qtq = q.t().matmul(&q).to_vec_f64();
    for i in 0..4 {
        for j in 0..4 {
            assert!((qtq[i * 4 + j] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
        }
    }
    assert_eq!(
        init::calculate_gain(init::Nonlinearity::LeakyRelu, 5f64.sqrt()),
        (1.0f64 / 3.0).sqrt()
    );
}

#[test]
#[should_panic(
    expected = "conv2d: input shape [1, 3, 8, 8] and weight shape [4, 2, 3, 3] do not fit with groups = 1"
)]
fn conv_channel_mismatch_names_both_shapes() {
    conv2d(
        &Tensor::zeros(&[1, 3, 8, 8]),
        &Tensor::zeros(&[4, 2, 3, 3]),
        None,
        Conv2dConfig::default(),
    );
}
