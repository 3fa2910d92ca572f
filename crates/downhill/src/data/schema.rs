//! [`Schema`]: the preprocessing fitted on the training split — column
//! kinds, imputation values, category lists, the feature scaler — saved
//! with a model and applied to any table with the same columns.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::columns::{numeric_cells, ColumnReport, Kind};
use super::encode::{file_order, Encoder};
use super::features::{DroppedColumn, FeatureColumn, TransformNotes};
use super::frame::{Column, ColumnValues, Frame, MISSING};
use super::target::{name_list, number_label};
use super::{Scaler, ScalerKind};
use crate::{Element, Result};

/// The preprocessing of a model's inputs: fitted on the training split,
/// serialized into `model.json`, applied to any table with the same columns
/// (in any order; extra columns ignored).
///
/// ```
/// use downhill::data::{infer_columns, parse_csv_frame, FrameOptions, Schema, SchemaOptions, ScalerKind};
/// use std::path::Path;
///
/// let csv = b"size,island,y\n1,Biscoe,0\nNA,Dream,1\n3,Biscoe,0\n5,Dream,1\n";
/// let f = parse_csv_frame(csv, Path::new("t.csv"), &FrameOptions::default())?;
/// let kinds = infer_columns(&f, &["y".into()], &SchemaOptions::default())?;
/// let s = Schema::fit(&f, &kinds, &[0, 1, 2, 3], &SchemaOptions::default(), ScalerKind::None)?;
/// assert_eq!(s.feature_names(), ["size", "size=<missing>", "island=Biscoe", "island=Dream"]);
/// let (x, _) = s.transform(&f)?;
/// assert_eq!(&x[4..8], &[3.0, 1.0, 0.0, 1.0]); // the median of 1, 3, 5, imputed
/// # Ok::<(), downhill::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The used columns, in input order.
    pub columns: Vec<FeatureColumn>,
    /// The columns left out at training.
    pub dropped: Vec<DroppedColumn>,
    /// Feature scaling of the encoded inputs, fitted on the training split.
    pub scaler: Scaler,
}

impl Schema {
    /// Fits the schema on the rows `train` of `frame`: medians, category
    /// lists (frequency order, `opts.max_categories` limit), then `scaler`
    /// on the encoded training rows. `kinds` comes from
    /// [`infer_columns`](super::infer_columns) on this frame's columns.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`](crate::Error::Parse) at a non-number of a numeric
    /// column; [`Error::InvalidArgument`](crate::Error::InvalidArgument) if
    /// no feature column is left.
    pub fn fit(
        frame: &Frame,
        kinds: &[ColumnReport],
        train: &[usize],
        opts: &super::SchemaOptions,
        scaler: ScalerKind,
    ) -> Result<Schema> {
        // Medians and category counts do not depend on the rows' order:
        // they are read in file order, which reads each column forwards.
        let sorted: Vec<usize> = file_order(train).into_iter().map(|i| train[i]).collect();
        let train = &sorted[..];
        let mut columns = Vec::new();
        let mut dropped = Vec::new();
        // Columns are fitted in parallel; the first error in column order wins.
        let fitted: Vec<Result<Option<FeatureColumn>>> = kinds
            .par_iter()
            // One buffer of present values per worker, reused column after
            // column: no fresh memory per numeric column.
            .map_init(Vec::new, |present, k| {
                let col = frame
                    .column(&k.name)
                    .expect("infer_columns reports the frame's own columns");
                Ok(match k.kind {
                    Kind::Dropped => None,
                    Kind::Numeric => Some(fit_numeric(frame, col, train, present)?),
                    Kind::Categorical => {
                        Some(fit_categorical(col, train, opts.max_categories.max(1)))
                    }
                })
            })
            .collect();
        for (k, f) in kinds.iter().zip(fitted) {
            match f? {
                Some(c) => columns.push(c),
                None => dropped.push(DroppedColumn {
                    name: k.name.clone(),
                    why: k.why.clone(),
                }),
            }
        }
        if columns.is_empty() {
            return Err(crate::Error::InvalidArgument {
                name: "features".into(),
                message: format!(
                    "{}: no feature column left (dropped: {})",
                    frame.path.display(),
                    name_list(
                        &dropped
                            .iter()
                            .map(|d| format!("{} ({})", d.name, d.why))
                            .collect::<Vec<_>>()
                    )
                ),
            });
        }
        let mut s = Schema {
            columns,
            dropped,
            scaler: Scaler::None,
        };
        s.scaler = s.fit_scaler(frame, train, scaler)?;
        Ok(s)
    }

    /// The model's input names, in order (`NAME`, `NAME=<missing>`,
    /// `NAME=CATEGORY`, `NAME=<other>`).
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(FeatureColumn::input_names)
            .collect()
    }

    /// Number of model inputs.
    pub fn width(&self) -> usize {
        self.columns.iter().map(FeatureColumn::width).sum()
    }

    /// Every row of `frame` encoded and scaled: row-major, `rows × width()`.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`](crate::Error::Parse) naming a used column that is
    /// missing from the file, or a non-number in a numeric column.
    pub fn transform(&self, frame: &Frame) -> Result<(Vec<f64>, TransformNotes)> {
        let all: Vec<usize> = (0..frame.rows).collect();
        Ok(Encoder::new(&self.columns, &self.dropped, frame)?.encode(&all, &self.affine()))
    }

    /// The rows `rows` of `frame` encoded and scaled, as `f32` or `f64`
    /// (computed in `f64`, then rounded): row-major, `rows.len() × width()`.
    /// No `f64` copy of the whole table is made.
    ///
    /// # Errors
    ///
    /// As [`Schema::transform`].
    pub fn transform_rows<T: Element>(
        &self,
        frame: &Frame,
        rows: &[usize],
    ) -> Result<(Vec<T>, TransformNotes)> {
        Ok(Encoder::new(&self.columns, &self.dropped, frame)?.encode(rows, &self.affine()))
    }

    /// Per input, `(shift, divisor)` with `scaled = (x − shift) / divisor`
    /// exactly as [`Scaler::transform`] computes it (a constant min-max
    /// input divides by ∞, giving 0).
    fn affine(&self) -> Vec<(f64, f64)> {
        let w = self.width();
        match &self.scaler {
            Scaler::None => vec![(0.0, 1.0); w],
            Scaler::Standard { mean, std } => {
                mean.iter().copied().zip(std.iter().copied()).collect()
            }
            Scaler::MinMax { min, max } => min
                .iter()
                .zip(max)
                .map(|(&lo, &hi)| {
                    (
                        lo,
                        if hi - lo > 0.0 {
                            hi - lo
                        } else {
                            f64::INFINITY
                        },
                    )
                })
                .collect(),
        }
    }

    /// The feature scaler of kind `kind` over the encoded training rows
    /// `train` (in file order), encoded a chunk at a time; the same numbers
    /// as [`Scaler::fit`] on the whole encoded matrix of those rows.
    fn fit_scaler(&self, frame: &Frame, train: &[usize], kind: ScalerKind) -> Result<Scaler> {
        let encoder = Encoder::new(&self.columns, &self.dropped, frame)?;
        let widths: Vec<usize> = self.columns.iter().map(FeatureColumn::width).collect();
        let n = train.len().max(1) as f64;
        Ok(match kind {
            ScalerKind::None => Scaler::None,
            ScalerKind::Standard => {
                let (mean, var) = encoder.moments(train);
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
                let min = fold_inputs(&encoder, &widths, train, f64::INFINITY, |a, x| {
                    *a = a.min(x)
                });
                let max = fold_inputs(&encoder, &widths, train, f64::NEG_INFINITY, |a, x| {
                    *a = a.max(x)
                });
                Scaler::MinMax { min, max }
            }
        })
    }
}

/// Every input's `fold(acc, x)` over the training rows `train` in order,
/// from `start`: a column at a time (columns in parallel).
fn fold_inputs<F>(
    encoder: &Encoder,
    widths: &[usize],
    train: &[usize],
    start: f64,
    fold: F,
) -> Vec<f64>
where
    F: Fn(&mut f64, f64) + Sync,
{
    encoder
        .fold_columns(
            train,
            |k| vec![start; widths[k]],
            |acc: &mut Vec<f64>, row| acc.iter_mut().zip(row).for_each(|(a, &x)| fold(a, x)),
        )
        .concat()
}

/// A numeric column's median and missing indicator over the training rows
/// (`present`: a buffer for their values).
fn fit_numeric(
    frame: &Frame,
    col: &Column,
    train: &[usize],
    present: &mut Vec<f64>,
) -> Result<FeatureColumn> {
    let v = numeric_cells(frame, col)?;
    present.clear();
    present.extend(train.iter().map(|&r| v[r]).filter(|x| !x.is_nan()));
    let missing_indicator = present.len() < train.len();
    Ok(FeatureColumn::Numeric {
        name: col.name.clone(),
        median: median(present),
        missing_indicator,
    })
}

/// The median (mean of the two middle values for an even count; 0 if empty).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len();
    let (lower, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        // The lower part holds the n/2 smallest values: its largest is the
        // other middle value.
        let below = lower
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .expect("an even count >= 2 leaves a lower half");
        (below + upper) / 2.0
    }
}

fn fit_categorical(col: &Column, train: &[usize], max_categories: usize) -> FeatureColumn {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut missing = false;
    match &col.values {
        ColumnValues::Text(t) => {
            let mut by_code = vec![0usize; t.dictionary.len()];
            for &r in train {
                match t.codes[r] {
                    MISSING => missing = true,
                    c => by_code[c as usize] += 1,
                }
            }
            for (s, n) in t.dictionary.iter().zip(by_code).filter(|(_, n)| *n > 0) {
                counts.insert(s.clone(), n);
            }
        }
        ColumnValues::Numbers(v) => {
            // Counted by value, then labelled once per distinct value.
            let mut by_value: HashMap<u64, usize> = HashMap::new();
            for &r in train {
                if v[r].is_nan() {
                    missing = true;
                } else {
                    *by_value.entry(v[r].to_bits()).or_insert(0) += 1;
                }
            }
            for (bits, n) in by_value {
                *counts
                    .entry(number_label(f64::from_bits(bits)))
                    .or_insert(0) += n;
            }
        }
    }
    let mut cats: Vec<(String, usize)> = counts.into_iter().collect();
    cats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let other = cats.len() > max_categories;
    if other {
        cats.truncate(max_categories - 1);
    }
    FeatureColumn::Categorical {
        name: col.name.clone(),
        categories: cats.into_iter().map(|(s, _)| s).collect(),
        other,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{infer_columns, parse_csv_frame, FrameOptions, SchemaOptions};
    use std::path::Path;

    fn frame(s: &str) -> Frame {
        parse_csv_frame(s.as_bytes(), Path::new("t.csv"), &FrameOptions::default()).unwrap()
    }

    fn fit(f: &Frame, opts: &SchemaOptions) -> Schema {
        let kinds = infer_columns(f, &["y".into()], opts).unwrap();
        let rows: Vec<usize> = (0..f.rows).collect();
        Schema::fit(f, &kinds, &rows, opts, ScalerKind::None).unwrap()
    }

    /// The scaler fitted a column at a time equals the two passes over the
    /// encoded training rows (in their order) bit for bit.
    #[test]
    fn the_scaler_is_fitted_as_over_the_encoded_training_rows() {
        let mut csv = String::from("n,m,c,k,y\n");
        for i in 0..700 {
            let n = if i % 7 == 0 {
                "NA".into()
            } else {
                format!("{}.{}", i % 13, i % 10)
            };
            let c = ["a", "b", "c", ""][i % 4];
            csv.push_str(&format!(
                "{n},{},{c},{},{}\n",
                (i * 37 % 101) as f64 / 3.0,
                i % 5,
                i % 2
            ));
        }
        let f = frame(&csv);
        let opts = SchemaOptions {
            categorical: vec!["k".into()],
            ..Default::default()
        };
        let kinds = infer_columns(&f, &["y".into()], &opts).unwrap();
        // Rows in a shuffled order, as a split gives them.
        let train: Vec<usize> = (0..600).map(|i| i * 373 % 700).collect();
        let plain = Schema::fit(&f, &kinds, &train, &opts, ScalerKind::None).unwrap();
        let mut sorted = train.clone();
        sorted.sort_unstable();
        let w = plain.width();
        let (x, _) = plain.transform(&f).unwrap();
        let rows = || sorted.iter().map(|&r| &x[r * w..(r + 1) * w]);
        let n = sorted.len() as f64;
        let mut mean = vec![0.0; w];
        rows().for_each(|row| mean.iter_mut().zip(row).for_each(|(m, v)| *m += v));
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; w];
        rows().for_each(|row| {
            for ((s, m), v) in var.iter_mut().zip(&mean).zip(row) {
                *s += (v - m) * (v - m);
            }
        });
        let std: Vec<f64> = var.iter().map(|v| (v / n).sqrt()).collect();
        let standard = Schema::fit(&f, &kinds, &train, &opts, ScalerKind::Standard).unwrap();
        assert_eq!(standard.scaler, Scaler::Standard { mean, std });
        let mut min = vec![f64::INFINITY; w];
        let mut max = vec![f64::NEG_INFINITY; w];
        rows().for_each(|row| {
            for (j, &v) in row.iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        });
        let minmax = Schema::fit(&f, &kinds, &train, &opts, ScalerKind::MinMax).unwrap();
        assert_eq!(minmax.scaler, Scaler::MinMax { min, max });
    }

    #[test]
    fn categories_by_frequency_then_text_with_an_other_column_above_the_limit() {
        let f = frame("c,y\nb,0\na,0\nc,1\nb,1\nd,0\na,1\nb,0\n");
        let s = fit(
            &f,
            &SchemaOptions {
                max_categories: 3,
                ..Default::default()
            },
        );
        assert_eq!(s.feature_names(), ["c=b", "c=a", "c=<other>"]);
        let (x, _) = s.transform(&f).unwrap();
        assert_eq!(&x[..9], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn predict_time_rules_order_extra_unseen_missing() {
        let f = frame("n,c,y\n1,a,0\n2,b,1\n4,a,0\nNA,b,1\n");
        let s = fit(&f, &SchemaOptions::default());
        assert_eq!(s.feature_names(), ["n", "n=<missing>", "c=a", "c=b"]);
        let new = frame("extra,c,n\n9,zzz,NA\n9,,5\n");
        let (x, notes) = s.transform(&new).unwrap();
        assert_eq!(x, [2.0, 1.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0]);
        assert_eq!(notes.extra_columns, ["extra"]);
        assert_eq!(notes.unseen, [("c".to_string(), 1)]);
        assert_eq!(notes.imputed, [("n".to_string(), 1), ("c".to_string(), 1)]);
        let e = s.transform(&frame("c\na\n")).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:1:0: the model's feature column \"n\" is missing"),
            "{e}"
        );
    }

    #[test]
    fn medians_and_categories_come_from_the_training_rows_only() {
        let f = frame("n,c,y\n1,a,0\n3,a,1\n100,b,0\n100,b,1\n");
        let kinds = infer_columns(&f, &["y".into()], &SchemaOptions::default()).unwrap();
        let s = Schema::fit(
            &f,
            &kinds,
            &[0, 1],
            &SchemaOptions::default(),
            ScalerKind::None,
        )
        .unwrap();
        assert_eq!(
            s.columns,
            [
                FeatureColumn::Numeric {
                    name: "n".into(),
                    median: 2.0,
                    missing_indicator: false
                },
                FeatureColumn::Categorical {
                    name: "c".into(),
                    categories: vec!["a".into()],
                    other: false,
                    missing: false
                }
            ]
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Schema>(&json).unwrap(), s);
    }
}
