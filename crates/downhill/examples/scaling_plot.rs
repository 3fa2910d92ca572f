//! The plots and tables of `bench/scaling.sh`: reads the JSON lines of both
//! sides' sweep points (`examples/workloads` and `bench/torch_workloads.py`
//! given `mlp:SIZES:BATCH` names), keeps each point's best rate over the
//! rounds, prints one Markdown table per sweep with the ratio downhill /
//! PyTorch, and draws them with the project's own plotting:
//! `DIR/scaling-batch.png` (µs per sample against the batch size, log–log)
//! and `DIR/scaling-width.png` (GFLOP/s against the hidden width, log x).
//!
//! Run: `cargo run --release -p downhill --example scaling_plot -- DOWNHILL.jsonl TORCH.jsonl DIR`

use std::collections::BTreeMap;
use std::path::Path;

use downhill::train::plot::{line_chart, Chart, Series};

/// A sweep point: the layer sizes and the batch size.
type Point = (Vec<usize>, usize);
/// Steps/s, samples/s and GFLOP/s.
type Rate = (f64, f64, f64);
/// Each point's best rate.
type Rates = BTreeMap<Point, Rate>;

/// One sweep's table and chart.
struct Sweep<'a> {
    title: &'a str,
    x_name: &'a str,
    y_name: &'a str,
    higher_is_better: bool,
}

/// Best rate of each `mlp` point in a JSON-lines file.
fn best(path: &str) -> Result<Rates, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut best = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let r: serde_json::Value = serde_json::from_str(line)?;
        if r["workload"] != "mlp" {
            continue;
        }
        let sizes: Vec<usize> = serde_json::from_value(r["sizes"].clone())?;
        let batch = r["batch"].as_u64().ok_or("batch")? as usize;
        let num = |k: &str| r[k].as_f64().ok_or(format!("{path}: {k} is not a number"));
        let rate = (num("steps_per_s")?, num("samples_per_s")?, num("gflops")?);
        let e = best.entry((sizes, batch)).or_insert(rate);
        if rate.0 > e.0 {
            *e = rate;
        }
    }
    Ok(best)
}

/// One sweep: the points of `ours` that `pick` maps to an x value, as a
/// table and two series (`y` of each side's figures).
fn sweep(
    sw: &Sweep,
    ours: &Rates,
    theirs: &Rates,
    pick: impl Fn(&Point) -> Option<f64>,
    y: impl Fn(&Rate) -> f64,
) -> Vec<Series> {
    let Sweep {
        title,
        x_name,
        y_name,
        higher_is_better,
    } = *sw;
    let mut rows: Vec<(f64, f64, Option<f64>)> = ours
        .iter()
        .filter_map(|(p, r)| pick(p).map(|x| (x, y(r), theirs.get(p).map(&y))))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("\n{title}\n");
    println!("| {x_name} | PyTorch {y_name} | downhill {y_name} | downhill ahead by |");
    println!("|---|---|---|---|");
    let mut behind = Vec::new();
    for &(x, d, t) in &rows {
        let ahead = t.map(|t| if higher_is_better { d / t } else { t / d });
        if ahead.is_some_and(|a| a < 1.0) {
            behind.push(x);
        }
        println!(
            "| {x} | {} | {d:.3} | {} |",
            t.map_or("-".into(), |t| format!("{t:.3}")),
            ahead.map_or("-".into(), |a| format!("{a:.2}×"))
        );
    }
    if behind.is_empty() {
        println!("\nno point slower than PyTorch");
    } else {
        println!("\nslower than PyTorch at {x_name} = {behind:?}");
    }
    let mut series = vec![Series::new(
        "downhill",
        rows.iter().map(|&(x, d, _)| (x, d)).collect(),
    )];
    let torch: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|&(x, _, t)| t.map(|t| (x, t)))
        .collect();
    if !torch.is_empty() {
        series.push(Series::new("PyTorch", torch));
    }
    series
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, ours, theirs, dir] = &args[..] else {
        eprintln!("usage: scaling_plot DOWNHILL.jsonl TORCH.jsonl DIR");
        std::process::exit(2);
    };
    let (ours, theirs) = (best(ours)?, best(theirs)?);
    let dir = Path::new(dir);

    let batch = sweep(
        &Sweep {
            title: "µs per sample against the batch size (784-512-256-10, Adam)",
            x_name: "batch",
            y_name: "µs/sample",
            higher_is_better: false,
        },
        &ours,
        &theirs,
        |(sizes, b)| (sizes == &[784, 512, 256, 10]).then_some(*b as f64),
        |r| 1e6 / r.1,
    );
    let chart = Chart {
        title: "784-512-256-10 MLP, Adam: cost per sample",
        x_label: "batch size",
        y_label: "µs per sample (fwd + bwd + step)",
        log_x: true,
        log_y: true,
        ..Chart::default()
    };
    line_chart(&dir.join("scaling-batch.png"), &chart, &batch)?;

    let width = sweep(
        &Sweep {
            title: "GFLOP/s against the hidden width (784-W-W-10, batch 128, Adam)",
            x_name: "width",
            y_name: "GFLOP/s",
            higher_is_better: true,
        },
        &ours,
        &theirs,
        |(sizes, b)| {
            (*b == 128
                && sizes.len() == 4
                && sizes[0] == 784
                && sizes[1] == sizes[2]
                && sizes[3] == 10)
                .then_some(sizes[1] as f64)
        },
        |r| r.2,
    );
    let chart = Chart {
        title: "784-W-W-10 MLP, batch 128, Adam: throughput",
        x_label: "hidden width W",
        y_label: "GFLOP/s (6 × batch × weights per step)",
        log_x: true,
        ..Chart::default()
    };
    line_chart(&dir.join("scaling-width.png"), &chart, &width)?;
    println!(
        "\nwrote {} and {}",
        dir.join("scaling-batch.png").display(),
        dir.join("scaling-width.png").display()
    );
    Ok(())
}
