//! `downhill runs [DIR...]`: the runs found in run directories as one table
//! (date, data, model, optimizer, lr, batch, epochs, why training stopped,
//! the best validation metric, the test metric), sortable by any column or
//! metric, as JSON, or as one chart of their validation curves with a legend
//! naming what differs between them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use downhill::train::plot::{line_chart, Chart, Series};
use downhill::train::{latest_checkpoint, Checkpoint, Mode, Monitor};
use serde_json::{json, Map, Value};

use crate::error::{CliError, Result};

/// Flags of `downhill runs`.
#[derive(clap::Args)]
pub struct RunsArgs {
    /// Run directories, or directories holding them [default: runs]
    pub dirs: Vec<PathBuf>,
    /// Sort by a column (run, date, data, model, optimizer, lr, batch, epochs, stopped) or a
    /// metric: val_<metric> (its best epoch), test_<metric>, train_loss; metrics best first
    #[arg(long, value_name = "COLUMN")]
    pub sort: Option<String>,
    /// Print the runs as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Draw the runs' validation curves in one chart, PNG or SVG by extension
    #[arg(long, value_name = "FILE.png|FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The validation metric the plot draws [default: the --sort metric if it is val_*, else val_loss]
    #[arg(long, value_name = "val_METRIC")]
    pub metric: Option<String>,
}

/// What `downhill runs` knows about one run directory.
struct RunInfo {
    name: String,
    path: PathBuf,
    date: String,
    task: String,
    model: String,
    /// The run's settings (from its last checkpoint), `Null` if unknown.
    settings: Value,
    metrics: Value,
    /// Per epoch: `train_loss`, `val_<metric>`, … as history.csv has them.
    history: Vec<BTreeMap<String, f64>>,
}

const TEXT_COLUMNS: [&str; 9] = [
    "run",
    "date",
    "data",
    "model",
    "optimizer",
    "lr",
    "batch",
    "epochs",
    "stopped",
];

fn io(path: &Path, e: std::io::Error) -> CliError {
    CliError::Lib(downhill::Error::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn parse_error(path: &Path, message: String) -> CliError {
    CliError::Lib(downhill::Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
    })
}

/// The run directories in `dir`: itself if it holds `metrics.json`, else its
/// subdirectories that do (hidden ones, i.e. runs still being written, skipped).
fn find_runs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(CliError::Other(format!(
            "{}: no such directory (give run directories or a directory holding them)",
            dir.display()
        )));
    }
    if dir.join("metrics.json").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            !hidden && p.join("metrics.json").is_file()
        })
        .collect();
    found.sort();
    Ok(found)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        CliError::Lib(downhill::Error::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    })
}

/// history.csv as one map per epoch (empty cells left out).
fn read_history(path: &Path) -> Result<Vec<BTreeMap<String, f64>>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(vec![]);
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let mut rows = vec![];
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let mut row = BTreeMap::new();
        for (col, cell) in header.iter().zip(line.split(',')) {
            if cell.is_empty() {
                continue;
            }
            let v = cell.parse::<f64>().map_err(|_| {
                parse_error(
                    path,
                    format!("line {}: {col} = {cell:?} is not a number", i + 2),
                )
            })?;
            row.insert(col.to_string(), v);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// `YYYY-MM-DD HH:MM` (UTC) of the file's modification time.
fn modified(path: &Path) -> String {
    let Some(secs) = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
    else {
        return "-".into();
    };
    let (y, m, d, hh, mm, _) = crate::rundir::utc(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

fn read_run(path: &Path) -> Result<RunInfo> {
    let metrics = read_json(&path.join("metrics.json"))?;
    let spec = read_json(&path.join("model.json")).unwrap_or(Value::Null);
    let arch = &spec["architecture"];
    let model = match arch["inputs"].as_u64() {
        Some(inputs) => {
            let mut widths = vec![inputs.to_string()];
            widths.extend(
                arch["hidden"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| h.to_string()),
            );
            widths.push(arch["outputs"].to_string());
            format!(
                "MLP {} {}",
                widths.join("-"),
                arch["activation"].as_str().unwrap_or("")
            )
        }
        None => "-".into(),
    };
    let settings = latest_checkpoint(&path.join("checkpoints"))
        .and_then(|ck| Checkpoint::load(&ck).ok())
        .map_or(Value::Null, |ck| ck.state["extra"]["settings"].clone());
    Ok(RunInfo {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        path: path.to_path_buf(),
        date: modified(&path.join("metrics.json")),
        task: spec["task"].as_str().unwrap_or("-").to_string(),
        model: model.trim().to_string(),
        settings,
        metrics,
        history: read_history(&path.join("history.csv"))?,
    })
}

impl RunInfo {
    fn monitor(&self) -> String {
        self.settings["monitor"]
            .as_str()
            .unwrap_or("val_loss")
            .to_string()
    }

    /// The best value of a history column (`val_accuracy`, `train_loss`)
    /// and its epoch.
    fn best(&self, column: &str) -> Option<(f64, usize)> {
        let mode = Monitor::new(column).mode;
        self.history
            .iter()
            .filter_map(|r| Some((*r.get(column)?, *r.get("epoch")? as usize)))
            .filter(|(v, _)| v.is_finite())
            .reduce(|a, b| {
                let better = match mode {
                    Mode::Min => b.0 < a.0,
                    Mode::Max => b.0 > a.0,
                };
                if better {
                    b
                } else {
                    a
                }
            })
    }

    /// A metric for sorting: `val_*`/`train_loss` at its best epoch,
    /// `test_*` from metrics.json.
    fn metric(&self, name: &str) -> Option<f64> {
        match name.strip_prefix("test_") {
            Some(m) => self.metrics["test"][m].as_f64(),
            None => self.best(name).map(|(v, _)| v),
        }
    }

    /// The main test metric: accuracy or R².
    fn test_metric(&self) -> &'static str {
        if self.task == "regression" {
            "r2"
        } else {
            "accuracy"
        }
    }

    fn text(&self, column: &str) -> String {
        let s = &self.settings;
        let or_dash = |v: &Value| match v {
            Value::Null => "-".to_string(),
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        match column {
            "run" => self.name.clone(),
            "date" => self.date.clone(),
            "data" => or_dash(&s["data"]),
            "model" => self.model.clone(),
            "optimizer" => or_dash(&s["optimizer"]),
            "lr" => s["hyper"]["lr"]
                .as_f64()
                .map_or("-".into(), |v| format!("{v}")),
            "batch" => match &s["batch_size"] {
                Value::Null => "-".into(),
                Value::String(t) => t.to_lowercase(),
                Value::Object(o) => o.values().next().map_or("-".into(), |v| v.to_string()),
                other => other.to_string().to_lowercase(),
            },
            "epochs" => or_dash(&self.metrics["epochs_run"]),
            "stopped" => or_dash(&self.metrics["stopped_because"]),
            "best val" => {
                let m = self.monitor();
                self.best(&m)
                    .map_or("-".into(), |(v, e)| format!("{m} {v:.4} @{e}"))
            }
            "test" => {
                let m = self.test_metric();
                self.metrics["test"][m]
                    .as_f64()
                    .map_or("-".into(), |v| format!("{m} {v:.4}"))
            }
            metric => self
                .metric(metric)
                .map_or("-".into(), |v| format!("{v:.4}")),
        }
    }

    fn to_json(&self) -> Value {
        let best: Map<String, Value> = self
            .history
            .iter()
            .flat_map(|r| r.keys())
            .filter(|k| k.starts_with("val_") || *k == "train_loss")
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|k| {
                self.best(k)
                    .map(|(v, e)| (k.clone(), json!({"value": v, "epoch": e})))
            })
            .collect();
        json!({
            "run": self.name,
            "path": self.path,
            "date": self.date,
            "task": self.task,
            "model": self.model,
            "data": self.settings["data"],
            "optimizer": self.settings["optimizer"],
            "lr": self.settings["hyper"]["lr"],
            "batch_size": self.text("batch").parse::<u64>().map_or(json!(self.text("batch")), |n| json!(n)),
            "epochs": self.metrics["epochs_run"],
            "stopped_because": self.metrics["stopped_because"],
            "monitor": self.monitor(),
            "best": best,
            "test": self.metrics["test"],
            "settings": self.settings,
        })
    }
}

/// Sorts by `key`: text columns ascending (lr and epochs as numbers),
/// metrics best first; runs without the value last.
///
/// **Errors** naming `--sort` for an unknown column.
fn sort(runs: &mut [RunInfo], key: &str) -> Result<()> {
    let metric = key.starts_with("val_") || key.starts_with("test_") || key == "train_loss";
    if !metric && !TEXT_COLUMNS.contains(&key) {
        return Err(CliError::flag(
            "--sort",
            format!(
                "unknown column {key:?}; expected one of {}, or val_<metric>, test_<metric>, train_loss",
                TEXT_COLUMNS.join(", ")
            ),
        ));
    }
    let number = |r: &RunInfo| -> Option<f64> {
        match key {
            "lr" => r.settings["hyper"]["lr"].as_f64(),
            "epochs" => r.metrics["epochs_run"].as_f64(),
            "batch" => r.text("batch").parse().ok(),
            k if metric => r.metric(k),
            _ => None,
        }
    };
    let descending = metric && Monitor::new(key.trim_start_matches("test_")).mode == Mode::Max;
    runs.sort_by(|a, b| match (number(a), number(b)) {
        (Some(x), Some(y)) if descending => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) if metric => std::cmp::Ordering::Equal,
        (None, None) => a.text(key).cmp(&b.text(key)),
    });
    Ok(())
}

/// Prints a line; a closed pipe (`downhill runs | head`) is not an error.
fn out(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn print_table(runs: &[RunInfo], extra: Option<&str>) {
    let mut columns: Vec<&str> = TEXT_COLUMNS.to_vec();
    columns.extend(["best val", "test"]);
    if let Some(e) = extra.filter(|e| !columns.contains(e)) {
        columns.push(e);
    }
    let cells: Vec<Vec<String>> = runs
        .iter()
        .map(|r| columns.iter().map(|c| r.text(c)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: Vec<String>| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out(padded.join("  ").trim_end());
    };
    line(columns.iter().map(|c| c.to_string()).collect());
    for row in cells {
        line(row);
    }
}

/// Settings flattened to `key=value` text (`hyper.betas=[0.9,0.999]`).
fn flat_settings(s: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(o) = s.as_object() {
        for (k, v) in o {
            match v {
                Value::Object(inner) if k == "hyper" => {
                    for (hk, hv) in inner {
                        out.insert(hk.clone(), hv.to_string());
                    }
                }
                Value::String(t) => {
                    out.insert(k.clone(), t.clone());
                }
                other => {
                    out.insert(k.clone(), other.to_string());
                }
            }
        }
    }
    out
}

/// Legend entries: the settings whose values differ between the runs
/// (`lr=0.01 batch_size=64`), or the run names when nothing differs.
fn legend(runs: &[RunInfo]) -> Vec<String> {
    let flat: Vec<BTreeMap<String, String>> =
        runs.iter().map(|r| flat_settings(&r.settings)).collect();
    let keys: BTreeSet<&String> = flat.iter().flat_map(|f| f.keys()).collect();
    let differ: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            let values: BTreeSet<Option<&String>> = flat.iter().map(|f| f.get(*k)).collect();
            values.len() > 1
        })
        .collect();
    runs.iter()
        .zip(&flat)
        .map(|(r, f)| {
            if differ.is_empty() {
                return r.name.clone();
            }
            differ
                .iter()
                .map(|k| format!("{k}={}", f.get(*k).map_or("-", String::as_str)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn plot(path: &Path, runs: &[RunInfo], metric: &str) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png" | "svg")) {
        return Err(CliError::flag(
            "--plot",
            format!("{}: expected a .png or .svg file", path.display()),
        ));
    }
    if !metric.starts_with("val_") && metric != "train_loss" {
        return Err(CliError::flag(
            "--metric",
            format!(
                "expected val_<metric> (e.g. val_loss, val_accuracy) or train_loss, got {metric:?}"
            ),
        ));
    }
    let series: Vec<Series> = runs
        .iter()
        .zip(legend(runs))
        .map(|(r, name)| {
            let points = r
                .history
                .iter()
                .filter_map(|h| Some((*h.get("epoch")?, *h.get(metric)?)))
                .collect();
            Series::new(name, points)
        })
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let title = format!("{metric} per epoch");
    let chart = Chart {
        title: &title,
        x_label: "epoch",
        y_label: metric,
        log_y: metric.ends_with("loss") && lo > 0.0 && hi / lo > 100.0,
        ..Chart::default()
    };
    line_chart(path, &chart, &series).map_err(|e| CliError::flag("--plot", e.to_string()))
}

/// Runs `downhill runs`.
///
/// **Errors** naming the directory or file that cannot be read, or the flag
/// with an invalid value.
pub fn run(args: RunsArgs) -> Result<()> {
    let dirs = if args.dirs.is_empty() {
        vec![PathBuf::from("runs")]
    } else {
        args.dirs.clone()
    };
    let mut runs = vec![];
    for dir in &dirs {
        for path in find_runs(dir)? {
            runs.push(read_run(&path)?);
        }
    }
    if let Some(key) = &args.sort {
        sort(&mut runs, key)?;
    }
    if let Some(path) = &args.plot {
        let metric = args.metric.clone().unwrap_or_else(|| {
            args.sort
                .clone()
                .filter(|s| s.starts_with("val_"))
                .unwrap_or_else(|| "val_loss".into())
        });
        plot(path, &runs, &metric)?;
    }
    if args.json {
        let all: Vec<Value> = runs.iter().map(RunInfo::to_json).collect();
        out(&serde_json::to_string_pretty(&all).expect("JSON values serialize"));
    } else if runs.is_empty() {
        let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        eprintln!(
            "no runs (directories with metrics.json) in {}",
            names.join(", ")
        );
    } else {
        print_table(&runs, args.sort.as_deref());
    }
    if let Some(path) = &args.plot {
        if !args.json {
            out(&format!("plot: {}", path.display()));
        }
    }
    Ok(())
}
