//! `downhill inspect FILE`: each column's inferred kind, missing and
//! distinct counts, examples, and what `train` will do with it; the target
//! and the inferred task.

use downhill::data::{
    frame_target, infer_columns, rows_with_target, ColumnReport, CsvOptions, Kind, SchemaOptions,
    TargetColumn,
};
use serde_json::json;

use crate::error::Result;
use crate::prepare::{flag_error, frame_options};
use crate::source::{load_frame, targets};

/// Flags of `downhill inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A CSV/NPY/NPZ/Parquet file or a built-in dataset
    pub data: String,
    /// Target column name(s), comma-separated [default: the last column; penguins: species]
    #[arg(long)]
    pub target: Option<String>,
    /// Columns to one-hot encode whatever they hold, comma-separated
    #[arg(long, value_name = "COL,...")]
    pub categorical: Option<String>,
    /// Columns to read as numbers, comma-separated
    #[arg(long, value_name = "COL,...")]
    pub numeric: Option<String>,
    /// Columns to leave out, comma-separated
    #[arg(long, value_name = "COL,...")]
    pub drop: Option<String>,
    /// Cell texts read as missing, comma-separated [default: "",NA,N/A,NaN,nan,null,NULL,None,?]
    #[arg(long = "na-values", value_name = "TOKENS")]
    pub na_values: Option<String>,
    /// Most one-hot columns per text column [default: 32]
    #[arg(long = "max-categories", value_name = "N")]
    pub max_categories: Option<usize>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

fn list(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// What `train` does with a column, in a few words.
fn action(c: &ColumnReport, max_categories: usize) -> String {
    match c.kind {
        Kind::Dropped => format!("drop: {}", c.why),
        Kind::Numeric if c.missing > 0 => {
            "impute the median, add a was-missing input, standardize".into()
        }
        Kind::Numeric => "standardize".into(),
        Kind::Categorical => {
            let missing = if c.missing > 0 {
                " + a missing input"
            } else {
                ""
            };
            if c.distinct > max_categories {
                format!(
                    "one-hot: the {} most frequent + other{missing}",
                    max_categories - 1
                )
            } else {
                format!("one-hot: {} inputs{missing}", c.distinct)
            }
        }
    }
}

/// Runs `downhill inspect`.
pub fn run(args: InspectArgs) -> Result<()> {
    let na = args.na_values.as_deref().map(|t| {
        t.split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()
    });
    let frame = load_frame(&args.data, &frame_options(na.as_deref()))?;
    let mut target = targets(&args.data, &list(&args.target));
    if target.is_empty() {
        target.push(
            frame
                .columns
                .last()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
        );
    }
    let max_categories = args
        .max_categories
        .unwrap_or(downhill::data::DEFAULT_MAX_CATEGORIES)
        .max(1);
    let opts = SchemaOptions {
        categorical: list(&args.categorical),
        numeric: list(&args.numeric),
        drop: list(&args.drop),
        max_categories,
    };
    if let Some(t) = target.iter().find(|t| frame.column(t).is_none()) {
        return Err(flag_error(downhill::Error::InvalidArgument {
            name: "targets".into(),
            message: format!(
                "no column {t:?} in {} (columns: {})",
                args.data,
                frame.names().join(", ")
            ),
        }));
    }
    let columns = infer_columns(&frame, &target, &opts).map_err(flag_error)?;
    let keep = rows_with_target(&frame, &target)?;
    let labelled = frame.take_rows(&keep);
    let (t, task, inferred) = frame_target(&labelled, &target, &CsvOptions::default())?;
    let target_what = match &t {
        TargetColumn::Classes { labels, .. } => format!("{} classes", labels.len()),
        TargetColumn::Values { width, .. } => format!("{width} value column(s)"),
    };
    let missing_target = frame.rows - keep.len();
    if args.json {
        let cols: Vec<_> = columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "kind": c.kind, "why": c.why, "missing": c.missing,
                    "distinct": c.distinct, "distinct_at_least": c.distinct_capped,
                    "examples": c.examples, "action": action(c, max_categories),
                })
            })
            .collect();
        let out = json!({
            "file": args.data, "rows": frame.rows, "columns": cols,
            "target": {"names": target, "task": task, "inferred": inferred,
                       "missing": missing_target, "classes": match &t {
                           TargetColumn::Classes { labels, .. } => json!(labels),
                           TargetColumn::Values { .. } => json!(null) }},
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON serializes")
        );
        return Ok(());
    }
    println!(
        "{}: {} rows, {} columns",
        args.data,
        frame.rows,
        frame.columns.len()
    );
    let w = columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 28);
    println!(
        "{:<w$}  {:<11}  {:>7}  {:>8}  {:<28}  train will",
        "column", "kind", "missing", "distinct", "examples"
    );
    for c in &columns {
        let distinct = if c.distinct_capped {
            format!("{}+", c.distinct)
        } else {
            c.distinct.to_string()
        };
        let mut examples = c.examples.join(", ");
        if examples.chars().count() > 28 {
            examples = examples.chars().take(27).collect::<String>() + "…";
        }
        println!(
            "{:<w$}  {:<11}  {:>7}  {:>8}  {:<28}  {}",
            c.name,
            c.kind.to_string(),
            c.missing,
            distinct,
            examples,
            action(c, max_categories)
        );
    }
    println!(
        "target: {} ({target_what}), {task}{}{}",
        target.join(","),
        if inferred {
            " (inferred; set --task to override)"
        } else {
            ""
        },
        if missing_target > 0 {
            format!("; {missing_target} rows without a target will be dropped")
        } else {
            String::new()
        }
    );
    Ok(())
}
