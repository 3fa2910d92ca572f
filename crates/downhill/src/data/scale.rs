//! Feature scaling fitted on the training rows only.

use serde::{Deserialize, Serialize};

/// How features are scaled before training; saved with the model so
/// prediction applies the same transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Scaler {
    /// Features used as they are.
    None,
    /// `(x − mean) / std` per feature (population std; a constant feature
    /// gets std 1), scikit-learn's `StandardScaler`.
    Standard {
        /// Mean of each feature over the training rows.
        mean: Vec<f64>,
        /// Standard deviation of each feature over the training rows.
        std: Vec<f64>,
    },
    /// `(x − min) / (max − min)` per feature into [0, 1] (a constant
    /// feature maps to 0), scikit-learn's `MinMaxScaler`.
    MinMax {
        /// Minimum of each feature over the training rows.
        min: Vec<f64>,
        /// Maximum of each feature over the training rows.
        max: Vec<f64>,
    },
}

/// Which scaler to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalerKind {
    /// No scaling.
    None,
    /// Standardization.
    Standard,
    /// Min-max scaling.
    MinMax,
}

impl std::str::FromStr for ScalerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "none" => Ok(ScalerKind::None),
            "standard" | "standardize" | "zscore" => Ok(ScalerKind::Standard),
            "minmax" => Ok(ScalerKind::MinMax),
            _ => Err(format!(
                "unknown scaler {s:?}; expected none, standard or minmax"
            )),
        }
    }
}

impl Scaler {
    /// Fits `kind` on the rows `rows` of `features` (row-major, `cols` wide).
    ///
    /// ```
    /// use downhill::data::{Scaler, ScalerKind};
    /// let x = vec![1.0, 10.0, 3.0, 10.0, 100.0, 0.0];
    /// let s = Scaler::fit(ScalerKind::Standard, &x, 2, &[0, 1]); // row 2 is not training data
    /// let mut y = x.clone();
    /// s.transform(&mut y, 2);
    /// assert_eq!(&y[..4], &[-1.0, 0.0, 1.0, 0.0]);
    /// ```
    pub fn fit(kind: ScalerKind, features: &[f64], cols: usize, rows: &[usize]) -> Scaler {
        let n = rows.len().max(1) as f64;
        match kind {
            ScalerKind::None => Scaler::None,
            ScalerKind::Standard => {
                let mut mean = vec![0.0; cols];
                for &r in rows {
                    for (m, x) in mean.iter_mut().zip(&features[r * cols..(r + 1) * cols]) {
                        *m += x;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= n);
                let mut var = vec![0.0; cols];
                for &r in rows {
                    for ((v, m), x) in var
                        .iter_mut()
                        .zip(&mean)
                        .zip(&features[r * cols..(r + 1) * cols])
                    {
                        *v += (x - m) * (x - m);
                    }
                }
                let std = var
                    .iter()
                    .map(|v| {
                        let s = (v / n).sqrt();
                        if s > 0.0 && s.is_finite() {
                            s
                        } else {
                            1.0
                        }
                    })
                    .collect();
                Scaler::Standard { mean, std }
            }
            ScalerKind::MinMax => {
                let mut min = vec![f64::INFINITY; cols];
                let mut max = vec![f64::NEG_INFINITY; cols];
                for &r in rows {
                    for (j, &x) in features[r * cols..(r + 1) * cols].iter().enumerate() {
                        min[j] = min[j].min(x);
                        max[j] = max[j].max(x);
                    }
                }
                Scaler::MinMax { min, max }
            }
        }
    }

    /// Scales `features` (row-major, `cols` wide) in place.
    ///
    /// **Panics** if `cols` differs from the fitted width.
    pub fn transform(&self, features: &mut [f64], cols: usize) {
        match self {
            Scaler::None => {}
            Scaler::Standard { mean, std } => {
                assert_eq!(
                    mean.len(),
                    cols,
                    "Scaler: fitted on {} features, got {cols}",
                    mean.len()
                );
                for row in features.chunks_mut(cols) {
                    for ((x, m), s) in row.iter_mut().zip(mean).zip(std) {
                        *x = (*x - m) / s;
                    }
                }
            }
            Scaler::MinMax { min, max } => {
                assert_eq!(
                    min.len(),
                    cols,
                    "Scaler: fitted on {} features, got {cols}",
                    min.len()
                );
                for row in features.chunks_mut(cols) {
                    for ((x, lo), hi) in row.iter_mut().zip(min).zip(max) {
                        let range = hi - lo;
                        *x = if range > 0.0 { (*x - lo) / range } else { 0.0 };
                    }
                }
            }
        }
    }
}

impl Scaler {
    /// Undoes [`Scaler::transform`] in place (`cols` wide, row-major): for
    /// predictions in the target's own units.
    ///
    /// ```
    /// use downhill::data::{Scaler, ScalerKind};
    /// let y = vec![10.0, 20.0, 30.0];
    /// let s = Scaler::fit(ScalerKind::Standard, &y, 1, &[0, 1, 2]);
    /// let mut z = y.clone();
    /// s.transform(&mut z, 1);
    /// s.inverse_transform(&mut z, 1);
    /// assert!(z.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-12));
    /// ```
    ///
    /// **Panics** if `cols` differs from the fitted width.
    pub fn inverse_transform(&self, values: &mut [f64], cols: usize) {
        let check = |n: usize| assert_eq!(n, cols, "Scaler: fitted on {n} features, got {cols}");
        match self {
            Scaler::None => {}
            Scaler::Standard { mean, std } => {
                check(mean.len());
                for row in values.chunks_mut(cols.max(1)) {
                    for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                        *v = *v * s + m;
                    }
                }
            }
            Scaler::MinMax { min, max } => {
                check(min.len());
                for row in values.chunks_mut(cols.max(1)) {
                    for ((v, lo), hi) in row.iter_mut().zip(min).zip(max) {
                        *v = *v * (hi - lo) + lo;
                    }
                }
            }
        }
    }
}
