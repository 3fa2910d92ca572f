//! `--config run.toml`: the same keys as the flags (`batch-size` or
//! `batch_size`), flags override the file. The wrappers and averaging
//! (`sam`, `lookahead`, `swa`, `ema`) take a table (`[sam]` with `rho = 0.1`,
//! or `sam = { rho = 0.1 }`), their flag's text (`sam = "rho=0.1"`) or
//! `true` for the defaults; `lr` a number or `"auto"`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::settings::TrainArgs;

/// The keys a run file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    data: Option<String>,
    target: Option<Value>,
    categorical: Option<Value>,
    numeric: Option<Value>,
    drop: Option<Value>,
    #[serde(alias = "na_values")]
    na_values: Option<Value>,
    #[serde(alias = "max_categories")]
    max_categories: Option<usize>,
    task: Option<String>,
    hidden: Option<Value>,
    activation: Option<String>,
    dropout: Option<f64>,
    loss: Option<String>,
    #[serde(alias = "loss_opt")]
    loss_opt: Option<serde_json::Map<String, Value>>,
    optimizer: Option<String>,
    lr: Option<Value>,
    sam: Option<Value>,
    lookahead: Option<Value>,
    swa: Option<Value>,
    ema: Option<Value>,
    momentum: Option<f64>,
    #[serde(alias = "weight_decay")]
    weight_decay: Option<f64>,
    opt: Option<serde_json::Map<String, Value>>,
    schedule: Option<String>,
    sched: Option<serde_json::Map<String, Value>>,
    #[serde(alias = "batch_size")]
    batch_size: Option<Value>,
    epochs: Option<usize>,
    #[serde(alias = "max_steps")]
    max_steps: Option<usize>,
    #[serde(alias = "early_stopping")]
    early_stopping: Option<usize>,
    monitor: Option<String>,
    seed: Option<u64>,
    threads: Option<usize>,
    out: Option<PathBuf>,
    #[serde(alias = "val_split")]
    val_split: Option<f64>,
    #[serde(alias = "test_split")]
    test_split: Option<f64>,
    scaler: Option<String>,
    #[serde(alias = "clip_norm")]
    clip_norm: Option<f64>,
    accumulate: Option<usize>,
    #[serde(alias = "checkpoint_every")]
    checkpoint_every: Option<usize>,
    #[serde(alias = "keep_checkpoints")]
    keep_checkpoints: Option<usize>,
    #[serde(alias = "on_divergence")]
    on_divergence: Option<String>,
    quiet: Option<bool>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn pairs(map: Option<serde_json::Map<String, Value>>) -> Vec<String> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", text(&v)))
        .collect()
}

/// A wrapper's or averaging's key as its flag's text: a table as
/// `key=value,...`, `true` as the flag alone (the defaults), `false` as no flag.
fn flag_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(false) => None,
        Value::Bool(true) => Some(String::new()),
        Value::Object(m) => Some(pairs(Some(m.clone())).join(",")),
        other => Some(text(other)),
    }
}

/// `lr = 0.1` or `lr = "auto"`, read as `--lr` reads its text.
///
/// **Errors** naming the file and the key for anything else.
fn lr_value(path: &Path, v: &Value) -> Result<crate::opt_args::LrArg> {
    let given = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    given.parse().map_err(|e: String| {
        CliError::flag(
            format!("lr in {}", path.display()),
            format!("{e}; write lr = 0.01 or lr = \"auto\""),
        )
    })
}

/// `pairs` from the file, then the flags' (a flag's key replaces the file's).
fn merge_pairs(file: Vec<String>, flags: Vec<String>) -> Vec<String> {
    let key = |p: &String| p.split_once('=').map(|(k, _)| k.trim().to_string());
    let mut out: Vec<String> = file
        .into_iter()
        .filter(|p| !flags.iter().any(|f| key(f).is_some() && key(f) == key(p)))
        .collect();
    out.extend(flags);
    out
}

/// 1-based line and column of byte `offset` in `src`.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads `path` and fills every flag not given on the command line.
///
/// **Errors** naming the file, line and column for malformed TOML or an
/// unknown key.
pub fn apply(path: &Path, mut a: TrainArgs) -> Result<TrainArgs> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        CliError::Lib(downhill::Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })?;
    let f: ConfigFile = toml::from_str(&src).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(&src, s.start));
        CliError::Lib(downhill::Error::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().replace('\n', " "),
        })
    })?;
    a.data = a.data.or(f.data);
    a.target = a.target.or(f.target.as_ref().map(text));
    a.categorical = a.categorical.or(f.categorical.as_ref().map(text));
    a.numeric = a.numeric.or(f.numeric.as_ref().map(text));
    a.drop = a.drop.or(f.drop.as_ref().map(text));
    a.na_values = a.na_values.or(f.na_values.as_ref().map(text));
    a.max_categories = a.max_categories.or(f.max_categories);
    a.task = a.task.or(f.task);
    a.hidden = a.hidden.or(f.hidden.as_ref().map(text));
    a.activation = a.activation.or(f.activation);
    a.dropout = a.dropout.or(f.dropout);
    a.loss = a.loss.or(f.loss);
    a.loss_opt = merge_pairs(pairs(f.loss_opt), a.loss_opt);
    a.opt.optimizer = a.opt.optimizer.or(f.optimizer);
    if a.opt.lr.is_none() {
        a.opt.lr = f.lr.as_ref().map(|v| lr_value(path, v)).transpose()?;
    }
    a.opt.sam = a.opt.sam.or(f.sam.as_ref().and_then(flag_text));
    a.opt.lookahead = a.opt.lookahead.or(f.lookahead.as_ref().and_then(flag_text));
    a.swa = a.swa.or(f.swa.as_ref().and_then(flag_text));
    a.ema = a.ema.or(f.ema.as_ref().and_then(flag_text));
    a.opt.momentum = a.opt.momentum.or(f.momentum);
    a.opt.weight_decay = a.opt.weight_decay.or(f.weight_decay);
    a.opt.opt = merge_pairs(pairs(f.opt), a.opt.opt);
    a.schedule = a.schedule.or(f.schedule);
    a.sched = merge_pairs(pairs(f.sched), a.sched);
    a.batch_size = a.batch_size.or(f.batch_size.as_ref().map(text));
    a.epochs = a.epochs.or(f.epochs);
    a.max_steps = a.max_steps.or(f.max_steps);
    a.early_stopping = a.early_stopping.or(f.early_stopping);
    a.monitor = a.monitor.or(f.monitor);
    a.seed = a.seed.or(f.seed);
    a.threads = a.threads.or(f.threads);
    a.out = a.out.or(f.out);
    a.val_split = a.val_split.or(f.val_split);
    a.test_split = a.test_split.or(f.test_split);
    a.scaler = a.scaler.or(f.scaler);
    a.clip_norm = a.clip_norm.or(f.clip_norm);
    a.accumulate = a.accumulate.or(f.accumulate);
    a.checkpoint_every = a.checkpoint_every.or(f.checkpoint_every);
    a.keep_checkpoints = a.keep_checkpoints.or(f.keep_checkpoints);
    a.on_divergence = a.on_divergence.or(f.on_divergence);
    a.quiet = a.quiet || f.quiet.unwrap_or(false);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opt_args::LrArg;

    /// `apply` of `toml` over `flags`, from a file of its own.
    fn apply_text(name: &str, toml: &str, flags: TrainArgs) -> Result<TrainArgs> {
        let dir =
            std::env::temp_dir().join(format!("downhill-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.toml");
        std::fs::write(&path, toml).unwrap();
        let out = apply(&path, flags);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn wrappers_and_averaging_are_keys_of_the_file() {
        let toml = "lr = \"auto\"\nlookahead = true\nema = \"decay=0.99\"\n\
                    [sam]\nrho = 0.1\nuse_gc = true\n[swa]\nstart = 3\nlr = 0.05\n";
        let a = apply_text("keys", toml, TrainArgs::default()).unwrap();
        assert_eq!(a.opt.lr, Some(LrArg::Auto));
        assert_eq!(a.opt.sam.as_deref(), Some("rho=0.1,use_gc=true"));
        assert_eq!(a.opt.lookahead.as_deref(), Some(""), "true: the defaults");
        assert_eq!(a.swa.as_deref(), Some("lr=0.05,start=3"));
        assert_eq!(a.ema.as_deref(), Some("decay=0.99"));
        let off = apply_text("off", "sam = false\nlr = 0.5\n", TrainArgs::default()).unwrap();
        assert_eq!(off.opt.sam, None);
        assert_eq!(off.opt.lr, Some(LrArg::Values(vec![0.5])));
    }

    #[test]
    fn flags_override_the_files_wrappers() {
        let mut flags = TrainArgs::default();
        flags.opt.lookahead = Some("k=3".into());
        flags.opt.lr = Some(LrArg::Values(vec![0.2]));
        let a = apply_text("flags", "lookahead = { k = 7 }\nlr = \"auto\"\n", flags).unwrap();
        assert_eq!(a.opt.lookahead.as_deref(), Some("k=3"));
        assert_eq!(a.opt.lr, Some(LrArg::Values(vec![0.2])));
    }

    #[test]
    fn a_bad_lr_names_the_key_and_the_file() {
        let e = apply_text("badlr", "lr = \"fast\"\n", TrainArgs::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("lr in ") && e.contains("run.toml"), "{e}");
        assert!(e.contains("'fast' is not a number"), "{e}");
    }
}
