//! Cross-entropy: log-softmax and negative log-likelihood fused into one op
//! (one pass over the logits forward, one backward), with PyTorch's weight,
//! ignore_index and label_smoothing; class-probability targets too.

use rayon::prelude::*;

use super::{as_dtype, Loss, Reduction, Target};
use crate::autograd::{Backward, GradSink};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::Element;
use crate::Tensor;

/// `CrossEntropyLoss`: for logits x (classes along dimension 1) and class
/// indices y, with pᵢ = log_softmax(xᵢ):
///
/// ℓᵢ = −(1 − ε)·w_{yᵢ}·pᵢ,yᵢ − (ε/C)·Σ_c w_c·pᵢ,c, and 0 where yᵢ = ignore_index;
/// `mean` divides the sum by Σ w_{yᵢ} over the samples not ignored.
///
/// With class-probability targets t: ℓᵢ = −Σ_c w_c·pᵢ,c·((1 − ε)tᵢ,c + ε/C),
/// `mean` divides by the number of samples.
///
/// Inputs are `[C]`, [N, C] or [N, C, d₁, …] (targets [N, d₁, …]).
///
/// ```
/// use downhill::loss::CrossEntropyLoss;
/// use downhill::Tensor;
/// let logits = Tensor::from_vec(vec![1000.0f32, -1000.0], &[1, 2]).requires_grad_(true);
/// let l = CrossEntropyLoss::default().label_smoothing(0.1).loss(&logits, &[1]);
/// assert!(l.item().is_finite());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Per-class weights `[C]`.
    pub weight: Option<Tensor>,
    /// A class index whose samples are skipped.
    pub ignore_index: Option<usize>,
    /// ε in [0, 1] (default 0).
    pub label_smoothing: f64,
}

impl CrossEntropyLoss {
    /// Sets the reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.reduction = r;
        self
    }
    /// Sets per-class weights.
    pub fn weight(mut self, w: Tensor) -> Self {
        self.weight = Some(w);
        self
    }
    /// Sets the ignored class index.
    pub fn ignore_index(mut self, i: usize) -> Self {
        self.ignore_index = Some(i);
        self
    }
    /// Sets the label smoothing ε.
    ///
    /// **Panics** unless 0 ≤ ε ≤ 1.
    pub fn label_smoothing(mut self, e: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&e),
            "CrossEntropyLoss: label_smoothing must be in [0, 1], got {e}"
        );
        self.label_smoothing = e;
        self
    }

    /// The loss for class-index targets.
    ///
    /// **Panics** if the number of targets does not match the input, or a
    /// target is out of range (and not `ignore_index`).
    #[track_caller]
    pub fn loss(&self, logits: &Tensor, targets: &[usize]) -> Tensor {
        let (rows, out_shape) = to_rows("CrossEntropyLoss", logits, targets.len());
        let c = rows.shape()[1];
        check_targets("CrossEntropyLoss", targets, c, self.ignore_index);
        let w = self.weight.as_ref().map(|w| {
            assert_eq!(
                w.shape(),
                [c],
                "CrossEntropyLoss: weight shape {:?} does not match {c} classes",
                w.shape()
            );
            w.to_vec_f64()
        });
        let mut op = FusedCe {
            targets: targets.to_vec(),
            weight: w,
            ignore: self.ignore_index,
            eps: self.label_smoothing,
            reduction: self.reduction,
            probs: Vec::new(),
        };
        let (storage, shape) = op.forward(&rows);
        let out = Tensor::from_op(storage, shape, &[&rows], op);
        if self.reduction == Reduction::None {
            out.reshape(&out_shape)
        } else {
            out
        }
    }

    /// The loss for class-probability targets (the input's shape).
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss_probs(&self, logits: &Tensor, probs: &Tensor) -> Tensor {
        assert_eq!(
            logits.shape(),
            probs.shape(),
            "CrossEntropyLoss: input shape {:?} and target shape {:?} differ",
            logits.shape(),
            probs.shape()
        );
        let class_dim = if logits.ndim() == 1 { 0 } else { 1 };
        let c = logits.shape()[class_dim];
        let logp = logits.log_softmax(class_dim as isize);
        let t = if self.label_smoothing > 0.0 {
            probs
                .mul_scalar(1.0 - self.label_smoothing)
                .add_scalar(self.label_smoothing / c as f64)
        } else {
            probs.clone()
        };
        let mut prod = &logp * &t;
        if let Some(w) = &self.weight {
            let mut shape = vec![1; logits.ndim()];
            shape[class_dim] = c;
            prod = &prod * &as_dtype(w, logits).reshape(&shape);
        }
        let per = -prod.sum_dims(&[class_dim as isize], false);
        match self.reduction {
            Reduction::Mean => per.sum().div_scalar((logits.numel() / c) as f64),
            r => r.apply(per),
        }
    }
}

impl Loss for CrossEntropyLoss {
    fn name(&self) -> &'static str {
        "CrossEntropyLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        match target {
            Target::Indices(i) => self.loss(input, i),
            Target::Tensor(t) => self.loss_probs(input, t),
        }
    }
}

/// The input as rows [M, C] (class dimension last) and the per-sample shape.
#[track_caller]
pub(crate) fn to_rows(name: &str, x: &Tensor, n_targets: usize) -> (Tensor, Vec<usize>) {
    let (rows, out_shape) = match x.ndim() {
        0 => panic!("{name}: input must have a class dimension, got a scalar"),
        1 => (x.unsqueeze(0), vec![]),
        2 => (x.clone(), vec![x.shape()[0]]),
        nd => {
            // [N, C, d…] → [N, d…, C] → [N·d…, C]
            let mut perm: Vec<usize> = vec![0];
            perm.extend(2..nd);
            perm.push(1);
            let c = x.shape()[1];
            let mut out: Vec<usize> = vec![x.shape()[0]];
            out.extend_from_slice(&x.shape()[2..]);
            (x.permute(&perm).reshape(&[x.numel() / c, c]), out)
        }
    };
    let m = rows.shape()[0];
    assert_eq!(
        m,
        n_targets,
        "{name}: input shape {:?} needs {m} targets, got {n_targets}",
        x.shape()
    );
    (rows, out_shape)
}

#[track_caller]
pub(crate) fn check_targets(name: &str, targets: &[usize], c: usize, ignore: Option<usize>) {
    if let Some(&bad) = targets.iter().find(|&&t| t >= c && Some(t) != ignore) {
        panic!("{name}: target {bad} is out of range for {c} classes");
    }
}

struct FusedCe {
    targets: Vec<usize>,
    weight: Option<Vec<f64>>,
    ignore: Option<usize>,
    eps: f64,
    reduction: Reduction,
    /// The softmax of each row (zeros for an ignored row), computed with
    /// the loss and kept for the backward when the op is recorded: the
    /// backward then takes no exponential.
    probs: Vec<f64>,
}

impl FusedCe {
    fn w(&self, c: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[c])
    }

    fn active(&self, i: usize) -> bool {
        Some(self.targets[i]) != self.ignore
    }

    /// Σ w_{yᵢ} over active samples: the mean's denominator.
    fn total_weight(&self) -> f64 {
        (0..self.targets.len())
            .filter(|&i| self.active(i))
            .map(|i| self.w(self.targets[i]))
            .sum()
    }

    /// The loss; the rows' softmax is kept for the backward if the op will
    /// be recorded.
    fn forward(&mut self, rows: &Tensor) -> (Storage, Vec<usize>) {
        let c = rows.shape()[1];
        let recorded = crate::is_grad_enabled() && rows.requires_grad();
        let mut probs = if recorded {
            vec![0.0; rows.numel()]
        } else {
            Vec::new()
        };
        let s = rows.read_storage();
        let per = match &*s {
            Storage::F32(x) => self.per_row(x, c, &mut probs),
            Storage::F64(x) => self.per_row(x, c, &mut probs),
        };
        self.probs = probs;
        let (vals, shape) = match self.reduction {
            Reduction::None => (per, vec![self.targets.len()]),
            Reduction::Sum => (vec![per.iter().sum()], vec![]),
            _ => (vec![per.iter().sum::<f64>() / self.total_weight()], vec![]),
        };
        let storage = match rows.dtype() {
            crate::DType::F32 => f32::wrap(vals.iter().map(|&v| v as f32).collect()),
            crate::DType::F64 => f64::wrap(vals),
        };
        (storage, shape)
    }

    /// ℓᵢ per row, accumulated in f64; each row's softmax into `probs`
    /// unless it is empty.
    fn per_row<T: Element>(&self, x: &[T], c: usize, probs: &mut [f64]) -> Vec<f64> {
        let f = |(i, (row, p)): (usize, (&[T], Option<&mut [f64]>))| -> f64 {
            if !self.active(i) {
                return 0.0;
            }
            let lse = softmax_row(row, p);
            let y = self.targets[i];
            let mut l = -(1.0 - self.eps) * self.w(y) * (row[y].to_f64() - lse);
            if self.eps > 0.0 {
                let smooth: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| self.w(k) * (v.to_f64() - lse))
                    .sum();
                l -= self.eps / c as f64 * smooth;
            }
            l
        };
        // Each row's softmax slot: its rows of `probs`, or none for the
        // rows past them (all of them when `probs` is empty).
        let (rows, kept) = (x.len() / c, probs.len() / c);
        if x.len() >= crate::ops::PAR_THRESHOLD {
            let slots = probs
                .par_chunks_mut(c)
                .map(Some)
                .chain((kept..rows).into_par_iter().map(|_| None));
            x.par_chunks(c).zip(slots).enumerate().map(f).collect()
        } else {
            let slots = probs
                .chunks_mut(c)
                .map(Some)
                .chain((kept..rows).map(|_| None));
            x.chunks(c).zip(slots).enumerate().map(f).collect()
        }
    }

    /// The input gradient (`n` elements of rows of `c`) for the output
    /// gradient `g`, from the softmax kept by the forward.
    fn grad<T: Element>(&self, n: usize, c: usize, g: &[T]) -> Vec<T> {
        assert_eq!(
            self.probs.len(),
            n,
            "cross_entropy backward: the forward kept no softmax (a bug in downhill)"
        );
        let scale_all = match self.reduction {
            Reduction::None | Reduction::Sum => 1.0,
            _ => 1.0 / self.total_weight(),
        };
        let sum_w: f64 = (0..c).map(|k| self.w(k)).sum();
        let mut out = vec![T::ZERO; n];
        let f = |(i, (o, probs)): (usize, (&mut [T], &[f64]))| {
            if !self.active(i) {
                return;
            }
            let gi = if self.reduction == Reduction::None {
                g[i].to_f64()
            } else {
                g[0].to_f64()
            };
            let s = gi * scale_all;
            let y = self.targets[i];
            let wy = self.w(y);
            for (k, (o, &p)) in o.iter_mut().zip(probs).enumerate() {
                let delta = if k == y { 1.0 } else { 0.0 };
                // d/dx: (1−ε)·w_y·(p − δ) + (ε/C)·(p·Σw − w_k)
                let mut d = (1.0 - self.eps) * wy * (p - delta);
                if self.eps > 0.0 {
                    d += self.eps / c as f64 * (p * sum_w - self.w(k));
                }
                *o = T::from_f64(s * d);
            }
        };
        if n >= crate::ops::PAR_THRESHOLD {
            out.par_chunks_mut(c)
                .zip(self.probs.par_chunks(c))
                .enumerate()
                .for_each(f);
        } else {
            out.chunks_mut(c)
                .zip(self.probs.chunks(c))
                .enumerate()
                .for_each(f);
        }
        out
    }
}

/// log Σ exp of `row` (shifted by its maximum), and its softmax into
/// `probs` if given: exp(v − max) / Σ, from the same exponentials.
fn softmax_row<T: Element>(row: &[T], probs: Option<&mut [f64]>) -> f64 {
    let m = row
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| a.max(b.to_f64()));
    let m = if m.is_finite() { m } else { 0.0 };
    let Some(p) = probs else {
        return m + row
            .iter()
            .map(|&v| (v.to_f64() - m).exp())
            .sum::<f64>()
            .ln();
    };
    for (p, &v) in p.iter_mut().zip(row) {
        *p = (v.to_f64() - m).exp();
    }
    // The same sum, in the same order, as the branch above.
    let sum = p.iter().sum::<f64>();
    p.iter_mut().for_each(|p| *p /= sum);
    m + sum.ln()
}

impl Backward for FusedCe {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    // d/dxᵢ,c = s·[(1−ε)·w_y·(softmax − onehot) + (ε/C)·(softmax·Σw − w_c)]
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let rows = &inputs[0];
        let (n, c) = (rows.numel(), rows.shape()[1]);
        // The output gradient has the input's dtype.
        let s = match &*grad.read_storage() {
            Storage::F32(g) => f32::wrap(self.grad(n, c, g)),
            Storage::F64(g) => f64::wrap(self.grad(n, c, g)),
        };
        sink.add(0, Tensor::from_storage(s, rows.shape().to_vec()));
    }
}
