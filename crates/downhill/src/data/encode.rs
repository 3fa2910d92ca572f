//! Encoding a [`Frame`]'s rows with a [`Schema`](super::Schema)'s columns: each used column resolved
//! once, then the rows encoded a block at a time in file order (chunks in
//! parallel above a size threshold), so columns are read forwards and a
//! block of the output stays in cache while every column writes into it.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use super::columns::numeric_cells;
use super::features::{DroppedColumn, FeatureColumn, TransformNotes};
use super::frame::{Column, ColumnValues, Frame, MISSING};
use super::target::{name_list, number_label, quote};
use crate::{Element, Result};

/// Rows per block: a block of f64 rows of a few hundred inputs stays in L2.
const BLOCK: usize = 256;
/// Rows encoded into the buffer before it is copied out (a few tens of MB).
const GROUP: usize = 256 * BLOCK;
/// Below this many rows the blocks are written on the calling thread.
const PARALLEL_ROWS: usize = 16 * BLOCK;

/// A category lookup's outcome: `Ok(slot)`, or `Err(true)` for a missing
/// cell, `Err(false)` for an unseen category.
type Slot = std::result::Result<usize, bool>;

/// How one used column writes its inputs.
enum Plan<'a> {
    /// A numeric input at `offset` (and the missing indicator after it).
    Numeric {
        values: Cow<'a, [f64]>,
        median: f64,
        indicator: bool,
    },
    /// One-hot from dictionary codes: the slot of each code.
    Codes {
        codes: &'a [u32],
        slots: Vec<Option<usize>>,
        other: Option<usize>,
        missing: Option<usize>,
    },
    /// One-hot from numbers, looked up by their label.
    Labels {
        values: &'a [f64],
        index: HashMap<&'a str, usize>,
        other: Option<usize>,
        missing: Option<usize>,
    },
}

/// Per used column: cells imputed (or missing categories) and unseen categories.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    imputed: usize,
    unseen: usize,
}

/// A schema bound to one frame: every used column found, its cells and
/// lookups prepared, ready to encode any rows.
pub(crate) struct Encoder<'a> {
    columns: &'a [FeatureColumn],
    plans: Vec<(usize, Plan<'a>)>,
    width: usize,
    extra_columns: Vec<String>,
}

impl<'a> Encoder<'a> {
    /// Resolves a schema's used `columns` in `frame` (`dropped`: the
    /// columns it leaves out, which are not extra).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`](crate::Error::Parse) naming a used column that is
    /// missing from the file, or a non-number in a numeric column.
    pub(crate) fn new(
        columns: &'a [FeatureColumn],
        dropped: &[DroppedColumn],
        frame: &'a Frame,
    ) -> Result<Self> {
        let mut plans = Vec::with_capacity(columns.len());
        let mut offset = 0;
        for spec in columns {
            let col = frame.column(spec.name()).ok_or_else(|| {
                frame.header_error(
                    0,
                    format!(
                        "the model's feature column {} is missing from the file (columns: {})",
                        quote(spec.name()),
                        name_list(&frame.names())
                    ),
                )
            })?;
            plans.push((offset, plan(frame, spec, col)?));
            offset += spec.width();
        }
        let extra_columns = frame
            .columns
            .iter()
            .filter(|c| {
                !columns.iter().any(|f| f.name() == c.name)
                    && !dropped.iter().any(|d| d.name == c.name)
            })
            .map(|c| c.name.clone())
            .collect();
        Ok(Encoder {
            columns,
            plans,
            width: offset,
            extra_columns,
        })
    }

    /// The rows `rows` encoded, each input `j` mapped to
    /// `(x − affine[j].0) / affine[j].1`: row-major, `rows.len() × width`,
    /// with the notes of what was imputed or unseen.
    ///
    /// The rows are visited in file order whatever order `rows` is in (a
    /// shuffled split, say), so each column is read forwards: a group of
    /// them is encoded a block at a time into a buffer (blocks in parallel
    /// above a size threshold), then each encoded row is copied to its
    /// place (destination ranges in parallel).
    pub(crate) fn encode<T: Element>(
        &self,
        rows: &[usize],
        affine: &[(f64, f64)],
    ) -> (Vec<T>, TransformNotes) {
        let mut x: Vec<T> = vec![T::default(); rows.len() * self.width];
        let counts = self.encode_into(rows, affine, &mut x);
        (x, self.notes(counts))
    }

    /// [`Encoder::encode`] into `x` (`rows.len() × width`, overwritten);
    /// the per-column counts.
    pub(crate) fn encode_into<T: Element>(
        &self,
        rows: &[usize],
        affine: &[(f64, f64)],
        x: &mut [T],
    ) -> Vec<Counts> {
        let w = self.width;
        debug_assert_eq!(affine.len(), w, "one affine map per input");
        debug_assert_eq!(x.len(), rows.len() * w, "one output row per row");
        let zero_row: Vec<T> = affine
            .iter()
            .map(|&(s, d)| T::from_f64((0.0 - s) / d))
            .collect();
        let parallel = rows.len() >= PARALLEL_ROWS;
        let mut total = vec![Counts::default(); self.plans.len()];
        let mut add = |counts: Vec<Vec<Counts>>| {
            for c in counts {
                for (t, c) in total.iter_mut().zip(c) {
                    t.imputed += c.imputed;
                    t.unseen += c.unseen;
                }
            }
        };
        let encode = |out: &mut [T], positions: &[usize]| {
            let sources: Vec<usize> = positions.iter().map(|&i| rows[i]).collect();
            self.block(&sources, affine, &zero_row, out)
        };
        if rows.windows(2).all(|p| p[0] <= p[1]) {
            // Already in file order: straight into place.
            let positions: Vec<usize> = (0..rows.len()).collect();
            add(self.blocks(x, &positions, parallel, &encode));
            return total;
        }
        let order = file_order(rows);
        let mut buffer: Vec<T> = vec![T::default(); GROUP.min(rows.len()) * w];
        for group in order.chunks(GROUP) {
            let buffer = &mut buffer[..group.len() * w];
            add(self.blocks(buffer, group, parallel, &encode));
            if w > 0 {
                scatter(x, w, group, buffer, parallel);
            }
        }
        total
    }

    /// Runs `encode` on each block of `positions` and its rows of `out`.
    fn blocks<T: Element, F>(
        &self,
        out: &mut [T],
        positions: &[usize],
        parallel: bool,
        encode: &F,
    ) -> Vec<Vec<Counts>>
    where
        F: Fn(&mut [T], &[usize]) -> Vec<Counts> + Sync,
    {
        let w = self.width;
        if w == 0 {
            positions
                .chunks(BLOCK)
                .map(|p| encode(&mut [], p))
                .collect()
        } else if parallel {
            out.par_chunks_mut(BLOCK * w)
                .zip(positions.par_chunks(BLOCK))
                .map(|(o, p)| encode(o, p))
                .collect()
        } else {
            out.chunks_mut(BLOCK * w)
                .zip(positions.chunks(BLOCK))
                .map(|(o, p)| encode(o, p))
                .collect()
        }
    }

    /// Folds the encoded inputs of each used column over the rows `rows`,
    /// in their order, without making the whole encoded matrix: `init(k)`
    /// starts column `k`'s accumulator, `fold` takes one row of its inputs
    /// (unscaled). Columns are folded in parallel; each sees the rows in
    /// order, so a sum per input adds exactly as over the encoded rows.
    pub(crate) fn fold_columns<A, I, F>(&self, rows: &[usize], init: I, fold: F) -> Vec<A>
    where
        A: Send,
        I: Fn(usize) -> A + Sync,
        F: Fn(&mut A, &[f64]) + Sync,
    {
        let widths: Vec<usize> = self.columns.iter().map(FeatureColumn::width).collect();
        let identity = vec![(0.0, 1.0); widths.iter().copied().max().unwrap_or(0)];
        self.plans
            .par_iter()
            .enumerate()
            .map(|(k, (_, plan))| {
                let w = widths[k];
                let mut acc = init(k);
                if w == 0 {
                    return acc;
                }
                let mut buffer = vec![0.0; BLOCK.min(rows.len()) * w];
                for block in rows.chunks(BLOCK) {
                    let out = &mut buffer[..block.len() * w];
                    out.fill(0.0);
                    let mut cells = Cells {
                        out,
                        w,
                        affine: &identity[..w],
                    };
                    cells.column(plan, 0, block);
                    for row in cells.out.chunks_exact(w) {
                        fold(&mut acc, row);
                    }
                }
                acc
            })
            .collect()
    }

    /// Per input, the mean over the rows `rows` (in their order) and the
    /// sum of squared deviations from it: exactly the sums
    /// [`Encoder::fold_columns`] gives over the encoded (unscaled) inputs, in
    /// the same order, but read straight from each column (columns in
    /// parallel) without encoding a row.
    pub(crate) fn moments(&self, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let n = rows.len().max(1) as f64;
        let per_column: Vec<(Vec<f64>, Vec<f64>)> = self
            .plans
            .par_iter()
            .zip(self.columns)
            .map(|((_, plan), spec)| plan.moments(rows, spec.width(), n))
            .collect();
        let (mean, var): (Vec<Vec<f64>>, Vec<Vec<f64>>) = per_column.into_iter().unzip();
        (mean.concat(), var.concat())
    }

    /// The notes of an encoding with these per-column counts.
    pub(crate) fn notes(&self, counts: Vec<Counts>) -> TransformNotes {
        let mut notes = TransformNotes {
            extra_columns: self.extra_columns.clone(),
            ..TransformNotes::default()
        };
        for (spec, c) in self.columns.iter().zip(counts) {
            if c.imputed > 0 {
                notes.imputed.push((spec.name().to_string(), c.imputed));
            }
            if c.unseen > 0 {
                notes.unseen.push((spec.name().to_string(), c.unseen));
            }
        }
        notes
    }

    /// Writes the rows `rows` (in order) into `out` (`rows.len() × width`).
    fn block<T: Element>(
        &self,
        rows: &[usize],
        affine: &[(f64, f64)],
        zero_row: &[T],
        out: &mut [T],
    ) -> Vec<Counts> {
        let w = self.width;
        if w > 0 {
            for row in out.chunks_exact_mut(w) {
                row.copy_from_slice(zero_row);
            }
        }
        let mut cells = Cells { out, w, affine };
        self.plans
            .iter()
            .map(|(offset, plan)| cells.column(plan, *offset, rows))
            .collect()
    }
}

impl Plan<'_> {
    /// The one-hot slot of each of the rows `rows` of a categorical
    /// column (`None`: all zeros, a missing or unseen category without a
    /// column of its own).
    fn slots(&self, rows: &[usize]) -> Vec<Option<usize>> {
        let (Plan::Codes { other, missing, .. } | Plan::Labels { other, missing, .. }) = self
        else {
            unreachable!("a numeric column has no slots")
        };
        let mut labels = HashMap::new();
        rows.iter()
            .map(|&r| match self.slot(r, &mut labels) {
                Ok(s) => Some(s),
                Err(true) => *missing,
                Err(false) => *other,
            })
            .collect()
    }

    /// The category slot of row `r` of a categorical column (`labels`
    /// remembers each distinct number's lookup).
    fn slot(&self, r: usize, labels: &mut HashMap<u64, Slot>) -> Slot {
        match self {
            Plan::Numeric { .. } => unreachable!("a numeric column has no slots"),
            Plan::Codes { codes, slots, .. } => {
                let c = codes[r];
                if c == MISSING {
                    Err(true)
                } else {
                    slots[c as usize].ok_or(false)
                }
            }
            Plan::Labels { values, index, .. } => {
                let value = values[r];
                if value.is_nan() {
                    return Err(true);
                }
                *labels.entry(value.to_bits()).or_insert_with(|| {
                    index
                        .get(number_label(value).as_str())
                        .copied()
                        .ok_or(false)
                })
            }
        }
    }

    /// This column's `w` inputs over the rows `rows` (`n` of them, at
    /// least 1): their means and sums of squared deviations, each sum taken
    /// in row order as over the encoded inputs (a one-hot input's sum of
    /// ones is its count, exactly).
    fn moments(&self, rows: &[usize], w: usize, n: f64) -> (Vec<f64>, Vec<f64>) {
        let mut sum = vec![0.0; w];
        let mut var = vec![0.0; w];
        match self {
            Plan::Numeric {
                values,
                median,
                indicator,
            } => {
                let value = |r: usize| {
                    let v = values[r];
                    if v.is_nan() {
                        (*median, 1.0)
                    } else {
                        (v, 0.0)
                    }
                };
                for &r in rows {
                    let (v, m) = value(r);
                    sum[0] += v;
                    if *indicator {
                        sum[1] += m;
                    }
                }
                let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
                for &r in rows {
                    let (v, m) = value(r);
                    var[0] += (v - mean[0]) * (v - mean[0]);
                    if *indicator {
                        var[1] += (m - mean[1]) * (m - mean[1]);
                    }
                }
                (mean, var)
            }
            _ => {
                let slots = self.slots(rows);
                for s in slots.iter().flatten() {
                    sum[*s] += 1.0;
                }
                let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
                // (x − m)² for x = 0 and x = 1, added in row order.
                let zero: Vec<f64> = mean.iter().map(|m| (0.0 - m) * (0.0 - m)).collect();
                let one: Vec<f64> = mean.iter().map(|m| (1.0 - m) * (1.0 - m)).collect();
                for s in &slots {
                    let s = s.unwrap_or(usize::MAX);
                    for (j, ((v, z), o)) in var.iter_mut().zip(&zero).zip(&one).enumerate() {
                        *v += if j == s { *o } else { *z };
                    }
                }
                (mean, var)
            }
        }
    }
}

/// The positions `0..rows.len()` ordered by their row `rows[i]` (equal rows
/// by position): a counting sort when the rows are dense, as a split's are.
pub(crate) fn file_order(rows: &[usize]) -> Vec<usize> {
    let end = rows.iter().max().map_or(0, |&m| m + 1);
    if end > 4 * rows.len() + 1024 {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i]);
        return order;
    }
    // starts[r]: where row r's positions begin in the order.
    let mut starts = vec![0usize; end + 1];
    for &r in rows {
        starts[r + 1] += 1;
    }
    for r in 0..end {
        starts[r + 1] += starts[r];
    }
    let mut order = vec![0; rows.len()];
    for (i, &r) in rows.iter().enumerate() {
        order[starts[r]] = i;
        starts[r] += 1;
    }
    order
}

/// Copies row `k` of `encoded` to row `positions[k]` of `x` (rows of `w`);
/// in parallel, each thread copies the rows that land in its own range of `x`.
fn scatter<T: Element>(x: &mut [T], w: usize, positions: &[usize], encoded: &[T], parallel: bool) {
    let copy = |(slab, xs): (usize, &mut [T]), slab_rows: usize| {
        let lo = slab * slab_rows;
        let hi = lo + xs.len() / w;
        for (k, &p) in positions.iter().enumerate() {
            if (lo..hi).contains(&p) {
                xs[(p - lo) * w..(p - lo + 1) * w].copy_from_slice(&encoded[k * w..(k + 1) * w]);
            }
        }
    };
    let rows = x.len() / w;
    if parallel {
        let slab_rows = rows.div_ceil(rayon::current_num_threads().max(1)).max(1);
        x.par_chunks_mut(slab_rows * w)
            .enumerate()
            .for_each(|s| copy(s, slab_rows));
    } else {
        copy((0, x), rows.max(1));
    }
}

/// One block of output rows being written.
struct Cells<'o, 'f, T> {
    out: &'o mut [T],
    w: usize,
    affine: &'f [(f64, f64)],
}

impl<T: Element> Cells<'_, '_, T> {
    fn set(&mut self, k: usize, j: usize, v: f64) {
        let (shift, divisor) = self.affine[j];
        self.out[k * self.w + j] = T::from_f64((v - shift) / divisor);
    }

    /// Writes one column's inputs (from input `offset`) for the rows `rows`.
    fn column(&mut self, plan: &Plan<'_>, offset: usize, rows: &[usize]) -> Counts {
        let mut counts = Counts::default();
        match plan {
            Plan::Numeric {
                values,
                median,
                indicator,
            } => {
                for (k, &r) in rows.iter().enumerate() {
                    let value = values[r];
                    if value.is_nan() {
                        self.set(k, offset, *median);
                        if *indicator {
                            self.set(k, offset + 1, 1.0);
                        }
                        counts.imputed += 1;
                    } else {
                        self.set(k, offset, value);
                    }
                }
            }
            Plan::Codes { other, missing, .. } | Plan::Labels { other, missing, .. } => {
                // Each distinct number is labelled once per block.
                let mut labels = HashMap::new();
                for (k, &r) in rows.iter().enumerate() {
                    let slot = plan.slot(r, &mut labels);
                    self.one_hot(k, offset, slot, *other, *missing, &mut counts);
                }
            }
        }
        counts
    }

    fn one_hot(
        &mut self,
        k: usize,
        offset: usize,
        slot: Slot,
        other: Option<usize>,
        missing: Option<usize>,
        counts: &mut Counts,
    ) {
        let s = match slot {
            Ok(s) => Some(s),
            Err(true) => {
                counts.imputed += 1;
                missing
            }
            Err(false) => {
                counts.unseen += 1;
                other
            }
        };
        if let Some(s) = s {
            self.set(k, offset + s, 1.0);
        }
    }
}

/// How `spec` encodes the column `col` of `frame`.
fn plan<'a>(frame: &Frame, spec: &'a FeatureColumn, col: &'a Column) -> Result<Plan<'a>> {
    Ok(match spec {
        FeatureColumn::Numeric {
            median,
            missing_indicator,
            ..
        } => Plan::Numeric {
            values: numeric_cells(frame, col)?,
            median: *median,
            indicator: *missing_indicator,
        },
        FeatureColumn::Categorical {
            categories,
            other,
            missing,
            ..
        } => {
            let index: HashMap<&str, usize> = categories
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            let other_slot = other.then_some(categories.len());
            let missing_slot = missing.then_some(categories.len() + usize::from(*other));
            match &col.values {
                ColumnValues::Text(t) => Plan::Codes {
                    codes: &t.codes,
                    slots: t
                        .dictionary
                        .iter()
                        .map(|s| index.get(s.as_str()).copied())
                        .collect(),
                    other: other_slot,
                    missing: missing_slot,
                },
                ColumnValues::Numbers(v) => Plan::Labels {
                    values: v,
                    index,
                    other: other_slot,
                    missing: missing_slot,
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::file_order;

    /// The counting sort orders as a stable sort by row does: dense rows
    /// (a shuffled split), repeated rows, and a few rows far apart.
    #[test]
    fn file_order_is_a_stable_sort_by_row() {
        let dense: Vec<usize> = (0..1000).map(|i| i * 617 % 1000).collect();
        let repeated: Vec<usize> = (0..500).map(|i| i * 7 % 13).collect();
        let sparse = vec![900_000, 3, 70_000, 3, 5];
        for rows in [dense, repeated, sparse, vec![], vec![0]] {
            let mut expected: Vec<usize> = (0..rows.len()).collect();
            expected.sort_by_key(|&i| rows[i]);
            assert_eq!(file_order(&rows), expected, "{rows:?}");
        }
    }
}
