//! Argument vectors for `downhill` built from fuzz bytes: a subcommand, then
//! flags drawn from the real flag list with values from a table of
//! interesting ones (zero, negative, huge, fractional, non-finite, wrong
//! names, every optimizer/schedule/loss, bad `KEY=VALUE` pairs) or raw
//! strings cut from the input. What would only test the machine's memory or
//! patience (`--out`, `--max-steps`, widths and epoch counts) is forced
//! small: every train run stops after at most 2 optimizer steps and writes
//! into a fresh directory under `scratch`.

use std::path::{Path, PathBuf};

const TRAIN_FLAGS: &[&str] = &[
    "--data",
    "--target",
    "--task",
    "--hidden",
    "--activation",
    "--dropout",
    "--loss",
    "--loss-opt",
    "--schedule",
    "--sched",
    "--batch-size",
    "--epochs",
    "--early-stopping",
    "--monitor",
    "--seed",
    "--threads",
    "--val-split",
    "--test-split",
    "--scaler",
    "--clip-norm",
    "--accumulate",
    "--checkpoint-every",
    "--keep-checkpoints",
    "--on-divergence",
    "--optimizer",
    "--lr",
    "--momentum",
    "--weight-decay",
    "--opt",
    "--config",
    "--resume",
    "--categorical",
    "--numeric",
    "--drop",
    "--na-values",
    "--max-categories",
    "--no-tensorboard",
    "--tensorboard-histograms",
];
/// `lr-find` takes every `train` flag and its own.
const LR_FIND_FLAGS: &[&str] = &[
    "--start-lr",
    "--end-lr",
    "--num-iter",
    "--step-mode",
    "--smooth-f",
    "--diverge-th",
];
const INSPECT_FLAGS: &[&str] = &[
    "--target",
    "--categorical",
    "--numeric",
    "--drop",
    "--na-values",
    "--max-categories",
    "--json",
];
const RUNS_FLAGS: &[&str] = &["--sort", "--json", "--plot", "--metric"];
const MINIMIZE_FLAGS: &[&str] = &[
    "--init",
    "--steps",
    "--tol",
    "--optimizer",
    "--lr",
    "--momentum",
    "--weight-decay",
    "--opt",
    "--trace",
    "--quiet",
    "--restarts",
    "--bounds",
    "--basin-hopping",
    "--stepsize",
    "--temperature",
    "--noise",
    "--seed",
    "--max-evals",
    "--plot",
    "--tensorboard",
];
const PREDICT_FLAGS: &[&str] = &["--model", "--data", "--out"];
/// Flags without a value.
const SWITCHES: &[&str] = &["--quiet", "--no-tensorboard", "--json"];
/// Flags whose value is a path the run may write: always under its own
/// scratch directory.
const WRITES: &[&str] = &["--trace", "--plot", "--tensorboard", "--out"];

/// Flags whose value is taken from `SMALL` only (sizes that allocate or loop).
const SIZED: &[&str] = &[
    "--hidden",
    "--epochs",
    "--batch-size",
    "--threads",
    "--accumulate",
    "--steps",
    "--checkpoint-every",
    "--keep-checkpoints",
    "--early-stopping",
    "--restarts",
    "--basin-hopping",
    "--max-evals",
    "--num-iter",
    "--tensorboard-histograms",
    "--max-categories",
];
const SMALL: &[&str] = &[
    "0", "1", "2", "3", "8", "full", "-1", "2.5", "8,8", "4,0", "x", "",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "2.5",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "",
    "x",
    "=",
    "none",
    "true",
    "iris",
    "diabetes",
    "digits",
    "classification",
    "regression",
    "relu",
    "tanh",
    "gelu",
    "val_loss",
    "val_accuracy",
    "val_rmse",
    "stop",
    "rollback",
    "standard",
    "minmax",
    "GD",
    "SGD",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "ASGD",
    "Rprop",
    "Lion",
    "LBFGS",
    "Adafactor",
    "Muon",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "ChainedScheduler",
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "SmoothL1Loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "MultiMarginLoss",
    "BCELoss",
    "KLDivLoss",
    "lr=0",
    "lr=1e308",
    "lr=-1",
    "betas=0.9,1.0",
    "betas=0.9",
    "betas=x,y",
    "eps=-1",
    "momentum=2",
    "nesterov=true",
    "dampening=0.5",
    "max_iter=2.5",
    "max_iter=0",
    "history_size=0",
    "line_search_fn=strong_wolfe",
    "line_search_fn=x",
    "etas=0.5,1.2",
    "step_sizes=1,0",
    "rho=2",
    "amsgrad=true",
    "amsgrad=2",
    "ns_steps=100",
    "step_size=0",
    "step_size=2",
    "step_size=2.5",
    "gamma=0",
    "gamma=-1",
    "gamma=nan",
    "T_max=0",
    "T_max=3",
    "T_0=0",
    "T_mult=0",
    "milestones=3,1",
    "milestones=1,2",
    "factor=1",
    "factor=0",
    "factor=0.5",
    "total_iters=0",
    "power=-1",
    "total_steps=1",
    "total_steps=0",
    "pct_start=2",
    "pct_start=1",
    "pct_start=0",
    "max_lr=0.1",
    "base_lr=0.01",
    "step_size_up=0",
    "mode=exp_range",
    "mode=x",
    "div_factor=0",
    "three_phase=true",
    "anneal_strategy=x",
    "patience=0",
    "cooldown=2.5",
    "min_lr=-1",
    "label_smoothing=2",
    "label_smoothing=0.1",
    "delta=0",
    "beta=-1",
    "p=3",
    "margin=-1",
    "reduction=sum",
    "reduction=avg",
    "reduction=batchmean",
    "weight=1,2",
    "weight=1,1,1",
    "weight=-1,1,1",
    "ignore_index=0",
    "ignore_index=1.5",
    "x=1",
    "x=1,y=2",
    "x=nan",
    "x^2",
    "(x-3)^2",
    "-x^2",
    "exp(x)",
    "x*y",
    "1/x",
    "log(x)",
    "sqrt(x)",
    "x^^2",
    "foo(x)",
    "auto",
    "x=-5:5",
    "x=-5:5,y=-5:5",
    "x=5:-5",
    "x=nan:1",
    "y=-1:1",
    "island,sex",
    "species",
    "sepal_length",
    "NA,?",
    "exp",
    "linear",
    "0.05",
    "1e-7",
    "10",
];

/// Where the run writes, and the model and data files it may read.
pub struct Context {
    /// A fresh directory per run goes under it.
    pub scratch: PathBuf,
    /// A trained model directory (for predict/evaluate).
    pub model: PathBuf,
    /// CSV files to point `--data` at.
    pub files: Vec<PathBuf>,
}

/// Reads the fuzz input a byte at a time.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn pick<'t>(&mut self, table: &[&'t str]) -> Option<&'t str> {
        self.byte().map(|b| table[b as usize % table.len()])
    }
    /// Up to 15 raw bytes as a (lossy) string.
    fn raw(&mut self) -> Option<String> {
        let n = (self.byte()? % 16) as usize;
        let n = n.min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

fn path_value(b: &mut Bytes, ctx: &Context) -> Option<String> {
    let i = b.byte()? as usize;
    let choices: Vec<&Path> = ctx
        .files
        .iter()
        .map(PathBuf::as_path)
        .chain([ctx.model.as_path(), ctx.scratch.as_path()])
        .collect();
    Some(choices[i % choices.len()].to_string_lossy().into_owned())
}

/// The argument vector (`argv[0]` included) that `data` spells, and the run
/// directory it may create (to be removed after the run).
pub fn argv(data: &[u8], ctx: &Context, run: u64) -> (Vec<String>, PathBuf) {
    let mut b = Bytes(data);
    let out = ctx.scratch.join(format!("run-{run}"));
    let sub = b.byte().unwrap_or(0) % 7;
    let (name, flags): (&str, Vec<&str>) = match sub {
        0 => ("train", TRAIN_FLAGS.to_vec()),
        1 => ("minimize", MINIMIZE_FLAGS.to_vec()),
        2 => ("predict", PREDICT_FLAGS.to_vec()),
        3 => ("evaluate", PREDICT_FLAGS[..2].to_vec()),
        4 => ("inspect", INSPECT_FLAGS.to_vec()),
        5 => ("runs", RUNS_FLAGS.to_vec()),
        _ => ("lr-find", [TRAIN_FLAGS, LR_FIND_FLAGS].concat()),
    };
    let mut args = vec!["downhill".to_string(), name.to_string()];
    match name {
        "minimize" => match b.byte() {
            Some(x) if x % 2 == 0 => args.push(b.raw().unwrap_or_default()),
            _ => args.push(b.pick(VALUES).unwrap_or("x^2").to_string()),
        },
        "inspect" => args.push(path_value(&mut b, ctx).unwrap_or_else(|| "iris".into())),
        "runs" => {
            if let Some(p) = path_value(&mut b, ctx) {
                args.push(p);
            }
        }
        _ => {}
    }
    let mut gave_data = false;
    let mut files = 0;
    while let Some(x) = b.byte() {
        if x >= 240 {
            // A raw token: a positional, a typo'd flag, anything.
            if let Some(t) = b.raw() {
                args.push(t);
            }
            continue;
        }
        let flag = flags[x as usize % flags.len()];
        // `--out` of train and lr-find is forced below.
        if flag == "--out" && name != "predict" {
            continue;
        }
        args.push(flag.to_string());
        if SWITCHES.contains(&flag) {
            continue;
        }
        let value = if SIZED.contains(&flag) {
            b.pick(SMALL).map(str::to_string)
        } else if WRITES.contains(&flag) {
            files += 1;
            b.byte().map(|y| {
                let ext = ["png", "svg", "csv", "txt", ""][y as usize % 5];
                out.join(format!("file-{files}.{ext}"))
                    .to_string_lossy()
                    .into_owned()
            })
        } else if matches!(flag, "--data" | "--model" | "--config" | "--resume") {
            gave_data |= flag == "--data";
            match b.byte() {
                Some(y) if y % 4 == 0 => b.pick(VALUES).map(str::to_string),
                Some(_) => path_value(&mut b, ctx),
                None => None,
            }
        } else {
            match b.byte() {
                Some(y) if y < 200 => b.pick(VALUES).map(str::to_string),
                Some(_) => b.raw(),
                None => None,
            }
        };
        match value {
            Some(v) => args.push(v),
            None => break,
        }
    }
    match name {
        "train" | "lr-find" => {
            if !gave_data {
                args.extend(["--data".into(), "iris".into()]);
            }
            args.extend([
                "--max-steps".into(),
                "2".into(),
                "--quiet".into(),
                "--out".into(),
                out.to_string_lossy().into_owned(),
            ]);
            if name == "lr-find" && !args.iter().any(|a| a == "--num-iter") {
                args.extend(["--num-iter".into(), "3".into()]);
            }
        }
        "predict" | "evaluate" => {
            if !args.iter().any(|a| a == "--model") {
                args.extend(["--model".into(), ctx.model.to_string_lossy().into_owned()]);
            }
            if !gave_data {
                args.extend(["--data".into(), "iris".into()]);
            }
        }
        "minimize" => {
            for (flag, value) in [("--steps", "3"), ("--max-evals", "50")] {
                if !args.iter().any(|a| a == flag) {
                    args.extend([flag.into(), value.into()]);
                }
            }
        }
        _ => {}
    }
    // Files written by a flag land in `out`, which must exist for them.
    if files > 0 {
        let _ = std::fs::create_dir_all(&out);
    }
    (args, out)
}

/// Makes the scratch directory, a small trained model and a few data files
/// (the bad-input corpus of the CLI's tests).
pub fn context() -> Context {
    let scratch = std::env::temp_dir().join(format!("downhill-fuzz-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let model = scratch.join("model");
    let code = downhill_cli::run(
        [
            "downhill", "train", "--data", "iris", "--epochs", "1", "--hidden", "4", "--quiet",
            "--out",
        ]
        .into_iter()
        .map(String::from)
        .chain([model.to_string_lossy().into_owned()]),
    );
    assert_eq!(code, 0, "the fixture model trains");
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/downhill-cli/tests/bad_inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.metadata().map(|m| m.len() < 1 << 20).unwrap_or(false));
    files.sort();
    Context {
        scratch,
        model,
        files,
    }
}
