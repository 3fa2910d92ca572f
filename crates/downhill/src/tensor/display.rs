//! Printing tensors the way PyTorch does: `tensor([[1.0000, 2.5000], ...])`.

use std::fmt;

use super::{DType, Tensor};

/// Above this many elements only the first and last `EDGE` along each dimension print.
const SUMMARIZE: usize = 1000;
const EDGE: usize = 3;

/// How every element is formatted, chosen from all of them (like PyTorch's `_Formatter`).
enum Style {
    Int,
    Fixed,
    Sci,
}

fn style(values: &[f64]) -> Style {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) {
        let max = finite.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        return if max > 1e8 { Style::Sci } else { Style::Int };
    }
    let nonzero: Vec<f64> = finite
        .iter()
        .map(|v| v.abs())
        .filter(|&v| v != 0.0)
        .collect();
    let max = nonzero.iter().cloned().fold(0.0, f64::max);
    let min = nonzero.iter().cloned().fold(f64::INFINITY, f64::min);
    if !nonzero.is_empty() && (max / min > 1000.0 || max > 1e8 || min < 1e-4) {
        Style::Sci
    } else {
        Style::Fixed
    }
}

fn fmt_one(v: f64, style: &Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Int => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Sci => {
            let s = format!("{v:.4e}");
            // Rust prints 1.0000e-5; PyTorch prints 1.0000e-05.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = e.strip_prefix('-').map(|d| ('-', d)).unwrap_or(('+', e));
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_dim(
    out: &mut String,
    values: &[f64],
    shape: &[usize],
    offset: usize,
    indent: usize,
    width: usize,
    style: &Style,
    summarize: bool,
) {
    if shape.is_empty() {
        out.push_str(&format!("{:>width$}", fmt_one(values[offset], style)));
        return;
    }
    let n = shape[0];
    let stride: usize = shape[1..].iter().product();
    let idx: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain([None])
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    for (j, i) in idx.iter().enumerate() {
        if j > 0 {
            if shape.len() == 1 {
                out.push_str(", ");
            } else {
                out.push(',');
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match i {
            Some(i) => write_dim(
                out,
                values,
                &shape[1..],
                offset + i * stride,
                indent + 1,
                width,
                style,
                summarize,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec_f64();
        let summarize = values.len() > SUMMARIZE;
        let style = style(&values);
        let width = values
            .iter()
            .map(|&v| fmt_one(v, &style).len())
            .max()
            .unwrap_or(0);
        let mut s = String::from("tensor(");
        if values.is_empty() {
            s.push_str(&format!("[], size={:?}", self.shape()));
        } else {
            write_dim(
                &mut s,
                &values,
                self.shape(),
                0,
                "tensor(".len(),
                width,
                &style,
                summarize,
            );
        }
        if self.dtype() == DType::F64 {
            s.push_str(", dtype=f64");
        }
        if self.requires_grad() {
            s.push_str(", requires_grad=true");
        }
        s.push(')');
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        let t = Tensor::from_vec(vec![0.1f32, 2.5, -3.0, 4.0], &[2, 2]);
        assert_eq!(
            t.to_string(),
            "tensor([[ 0.1000,  2.5000],\n        [-3.0000,  4.0000]])"
        );
        assert_eq!(
            Tensor::from_vec(vec![1.0f64, 2.0], &[2]).to_string(),
            "tensor([1., 2.], dtype=f64)"
        );
        assert_eq!(Tensor::scalar(1.5f32).to_string(), "tensor(1.5000)");
        assert_eq!(
            Tensor::from_vec(vec![1e-5f64, 1.0], &[2]).to_string(),
            "tensor([1.0000e-05, 1.0000e+00], dtype=f64)"
        );
    }

    #[test]
    fn summarizes_large_tensors() {
        let s = Tensor::arange(0.0, 2000.0, 1.0).to_string();
        assert_eq!(s, "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.])");
    }
}
