//! Seeded train/validation/test splits, stratified for classification.

use serde::{Deserialize, Serialize};

use crate::{Error, Generator, Result};

/// Row indices of each part of a split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub val: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Splits `n` rows into train/validation/test with fractions `val` and
/// `test` (the rest trains). With `classes`, the split is stratified: each
/// class is split in the same proportions (rounded per class, like
/// scikit-learn's `train_test_split(stratify=...)`), so a rare class appears
/// in every part when it can. The parts' sizes are `round(fraction · n)`,
/// shared among classes by largest remainder so the totals are exact. Each
/// part lists its rows in shuffled order.
///
/// **Errors** if the fractions are not in [0, 1) or leave no training rows.
///
/// ```
/// use downhill::data::split;
/// let classes: Vec<usize> = (0..100).map(|i| i % 4).collect();
/// let s = split(100, Some(&classes), 0.1, 0.2, 42).unwrap();
/// assert_eq!((s.train.len(), s.val.len(), s.test.len()), (70, 10, 20));
/// assert_eq!(s.test.iter().filter(|&&r| classes[r] == 3).count(), 5);
/// ```
pub fn split(n: usize, classes: Option<&[usize]>, val: f64, test: f64, seed: u64) -> Result<Split> {
    let bad = |m: String| Error::InvalidArgument {
        name: "split".into(),
        message: m,
    };
    if !(0.0..1.0).contains(&val) || !(0.0..1.0).contains(&test) || val + test >= 1.0 {
        return Err(bad(format!(
            "validation {val} and test {test} fractions must be in [0, 1) and sum below 1"
        )));
    }
    let mut g = Generator::new(seed);
    let groups: Vec<Vec<usize>> = match classes {
        Some(c) => {
            assert_eq!(c.len(), n, "split: {n} rows but {} classes", c.len());
            let k = c.iter().copied().max().map_or(0, |m| m + 1);
            let mut groups = vec![vec![]; k];
            for (row, &cl) in c.iter().enumerate() {
                groups[cl].push(row);
            }
            groups
        }
        None => vec![(0..n).collect()],
    };
    let mut s = Split {
        train: vec![],
        val: vec![],
        test: vec![],
    };
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let n_test = allocate(&sizes, test, n);
    let rest: Vec<usize> = sizes.iter().zip(&n_test).map(|(m, t)| m - t).collect();
    let mut n_val = allocate(&sizes, val, n);
    for (v, r) in n_val.iter_mut().zip(&rest) {
        *v = (*v).min(*r);
    }
    for ((mut rows, nt), nv) in groups.into_iter().zip(n_test).zip(n_val) {
        g.shuffle(&mut rows);
        s.test.extend_from_slice(&rows[..nt]);
        s.val.extend_from_slice(&rows[nt..nt + nv]);
        s.train.extend_from_slice(&rows[nt + nv..]);
    }
    g.shuffle(&mut s.train);
    g.shuffle(&mut s.val);
    g.shuffle(&mut s.test);
    if s.train.is_empty() {
        return Err(bad(format!(
            "{n} rows leave no training rows after the split"
        )));
    }
    Ok(s)
}

/// `round(frac · n)` items shared among groups of `sizes` in proportion,
/// by largest remainder (ties to the earlier group).
fn allocate(sizes: &[usize], frac: f64, n: usize) -> Vec<usize> {
    let target = ((frac * n as f64).round() as usize).min(n);
    let exact: Vec<f64> = sizes.iter().map(|&m| frac * m as f64).collect();
    let mut out: Vec<usize> = exact
        .iter()
        .zip(sizes)
        .map(|(e, &m)| (e.floor() as usize).min(m))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        fb.partial_cmp(&fa)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut missing = target.saturating_sub(out.iter().sum());
    for &i in order.iter().cycle().take(order.len() * 2) {
        if missing == 0 {
            break;
        }
        if out[i] < sizes[i] {
            out[i] += 1;
            missing -= 1;
        }
    }
    out
}
