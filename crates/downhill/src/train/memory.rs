//! The memory a run needs, estimated before anything large is allocated,
//! and the memory the machine can give it; a run that does not fit is
//! refused with [`Error::OutOfMemory`] naming what to shrink.
//!
//! Two ways in: from an architecture description, before the model exists
//! ([`RunPlan`], e.g. [`RunPlan::mlp`] from layer sizes), or from a built
//! [`Trainer`] ([`Trainer::memory_estimate`], checked by
//! [`Trainer::fit`]).
//!
//! ```
//! use downhill::train::memory::{available_memory, RunPlan};
//! use downhill::DType;
//!
//! // 64 → 10⁹ → 10 with Adam: about 1.2 TB before a single step.
//! let plan = RunPlan::mlp(&[64, 1_000_000_000, 10], DType::F32, 32, "Adam");
//! let need = plan.estimate();
//! assert!(need.total() > 1_000_000_000_000);
//! let err = need.check(1 << 30, "a test limit").unwrap_err().to_string();
//! assert!(err.contains("needs about") && err.contains("shrink"), "{err}");
//! // What this machine offers (cgroup limit or MemAvailable, the smaller).
//! if let Some(avail) = available_memory() {
//!     assert!(avail.bytes > 0);
//! }
//! ```

use std::path::Path;

use super::stopping::DivergencePolicy;
use super::trainer::Trainer;
use crate::data::{BatchSize, Dataset};
pub use crate::units::format_bytes;
use crate::{DType, Error, Result};

/// Bytes of each part of a run, estimated. Every figure is an estimate of
/// the live heap at the peak of a step, not an exact count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// The parameters (and buffers) of the model.
    pub parameters: u64,
    /// One gradient per parameter.
    pub gradients: u64,
    /// The optimizer's state (moments, histories).
    pub optimizer_state: u64,
    /// One batch's activations kept for backward, and their gradients.
    pub activations: u64,
    /// The divergence guard's rollback snapshot and the best-weight copy.
    pub snapshots: u64,
}

impl MemoryEstimate {
    /// The sum of the parts.
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.gradients)
            .saturating_add(self.optimizer_state)
            .saturating_add(self.activations)
            .saturating_add(self.snapshots)
    }

    /// `Ok` if the run fits in `available` bytes (`source` says where that
    /// figure comes from, for the message).
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] with what is needed (by part), what is
    /// available, and what to shrink first (the largest part).
    pub fn check(&self, available: u64, source: &str) -> Result<()> {
        if self.total() <= available {
            return Ok(());
        }
        Err(Error::OutOfMemory {
            needed: self.total(),
            available,
            available_from: source.to_string(),
            breakdown: self.breakdown(),
            advice: self.advice(),
        })
    }

    fn breakdown(&self) -> String {
        let parts = [
            ("parameters", self.parameters),
            ("gradients", self.gradients),
            ("optimizer state", self.optimizer_state),
            ("activations", self.activations),
            ("snapshots", self.snapshots),
        ];
        parts
            .iter()
            .filter(|(_, b)| *b > 0)
            .map(|(n, b)| format!("{n} {}", format_bytes(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn advice(&self) -> String {
        let model = self.parameters.saturating_add(self.gradients);
        let largest = [
            model,
            self.optimizer_state,
            self.activations,
            self.snapshots,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if largest == self.activations {
            "shrink the batch size (or the layers)".into()
        } else if largest == self.optimizer_state {
            "choose an optimizer with less state (SGD without momentum keeps none), or shrink the layers".into()
        } else if largest == self.snapshots {
            "turn off the rollback guard or the best-weight restore, or shrink the layers".into()
        } else {
            "shrink the layers (fewer or smaller hidden layers)".into()
        }
    }
}

/// A run described before it is built: what [`RunPlan::estimate`] needs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// Trainable parameters (elements).
    pub parameters: u64,
    /// Activation elements one sample keeps for backward (the outputs of
    /// every layer and activation).
    pub activations_per_sample: u64,
    /// The parameters' dtype.
    pub dtype: DType,
    /// Samples per batch (for full-batch training: the training set's size).
    pub batch_size: u64,
    /// The optimizer's PyTorch name (`"Adam"`); unknown names count two
    /// moments per parameter.
    pub optimizer: String,
    /// The divergence guard rolls back (keeps a snapshot of the state).
    pub rollback: bool,
    /// Early stopping restores the best weights (keeps a copy).
    pub restore_best: bool,
}

impl RunPlan {
    /// A multilayer perceptron `sizes[0] → sizes[1] → … → sizes[n]`
    /// (`Linear` layers with bias, an activation between them), with no
    /// snapshots (set `rollback` / `restore_best` after). Counts saturate
    /// instead of overflowing, so absurd sizes give huge estimates.
    pub fn mlp(sizes: &[usize], dtype: DType, batch_size: usize, optimizer: &str) -> Self {
        let mut parameters = 0u64;
        let mut activations = sizes.first().map_or(0, |&s| s as u64);
        for w in sizes.windows(2) {
            let (i, o) = (w[0] as u64, w[1] as u64);
            parameters = parameters.saturating_add(i.saturating_mul(o).saturating_add(o));
            // The layer's output, and the activation's output after it.
            activations = activations.saturating_add(o.saturating_mul(2));
        }
        RunPlan {
            parameters,
            activations_per_sample: activations,
            dtype,
            batch_size: batch_size as u64,
            optimizer: optimizer.to_string(),
            rollback: false,
            restore_best: false,
        }
    }

    /// The bytes this run needs.
    pub fn estimate(&self) -> MemoryEstimate {
        let size = dtype_bytes(self.dtype);
        let params = self.parameters.saturating_mul(size);
        let state = optimizer_state_bytes(&self.optimizer, self.parameters, self.dtype);
        // Forward values kept for backward, plus their gradients during backward.
        let activations = self
            .activations_per_sample
            .saturating_mul(self.batch_size)
            .saturating_mul(size)
            .saturating_mul(2);
        let mut snapshots = 0u64;
        if self.rollback {
            snapshots = snapshots.saturating_add(params).saturating_add(state);
        }
        if self.restore_best {
            snapshots = snapshots.saturating_add(params);
        }
        MemoryEstimate {
            parameters: params,
            gradients: params,
            optimizer_state: state,
            activations,
            snapshots,
        }
    }
}

fn dtype_bytes(dtype: DType) -> u64 {
    match dtype {
        DType::F32 => 4,
        DType::F64 => 8,
    }
}

/// The bytes of optimizer state for `parameters` elements of `dtype`, with
/// the optimizer's default hyperparameters (`name` as `from_config` takes
/// it, any case): Adam-family two moments, SGD/RMSprop/Adagrad/Lion/Muon/
/// ASGD one buffer, Adadelta and Rprop two, plain gradient descent none,
/// Adafactor at most one (factored moments are far smaller), L-BFGS its
/// f64 history of `history_size` = 100 pairs plus three flat vectors, the
/// schedule-free, D-Adaptation and Prodigy optimizers their 1–4 f64 slots.
/// Unknown names count two moments.
pub fn optimizer_state_bytes(name: &str, parameters: u64, dtype: DType) -> u64 {
    let key = name.to_ascii_lowercase().replace(['_', '-'], "");
    let buffers: u64 = match key.as_str() {
        "gd" | "gradientdescent" => 0,
        "sgd" | "rmsprop" | "adagrad" | "lion" | "muon" | "asgd" | "adafactor" => 1,
        "lbfgs" => return parameters.saturating_mul(8).saturating_mul(2 * 100 + 3),
        // The optimizers past torch.optim keep their state in f64.
        "sgdschedulefree" => return parameters.saturating_mul(8),
        "adamwschedulefree" => return parameters.saturating_mul(8 * 2),
        "dadaptadam" | "dadaptsgd" => return parameters.saturating_mul(8 * 3),
        "prodigy" => return parameters.saturating_mul(8 * 4),
        _ => 2,
    };
    parameters
        .saturating_mul(dtype_bytes(dtype))
        .saturating_mul(buffers)
}

/// Memory the process can still use, and where the figure comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Available {
    /// Bytes.
    pub bytes: u64,
    /// `"the cgroup limit (/sys/fs/cgroup/memory.max)"`, `"MemAvailable (/proc/meminfo)"`.
    pub source: String,
}

/// The memory available to this process: the smaller of what its cgroup
/// still allows (v2 `memory.max` − usage, v1 `memory.limit_in_bytes` −
/// usage, reclaimable page cache not counted as used) and the kernel's
/// `MemAvailable`; `None` where neither can be read (not Linux).
pub fn available_memory() -> Option<Available> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo(&t))
        .map(|bytes| Available {
            bytes,
            source: "MemAvailable in /proc/meminfo".into(),
        });
    let cgroup = cgroup_available();
    match (meminfo, cgroup) {
        (Some(m), Some(c)) => Some(if c.bytes < m.bytes { c } else { m }),
        (m, c) => m.or(c),
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// A cgroup limit file's value; `None` for "max" or v1's "no limit" (≥ 2⁶²).
fn parse_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    (v < 1 << 62).then_some(v)
}

/// One field of a cgroup `memory.stat` text.
fn parse_stat(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// limit − (usage − inactive page cache), for a cgroup directory's files.
fn cgroup_headroom(dir: &Path, limit: &str, usage: &str, inactive: &str) -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let limit = parse_limit(&read(limit)?)?;
    let usage: u64 = read(usage).and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let cache = read("memory.stat")
        .and_then(|t| parse_stat(&t, inactive))
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(cache)))
}

fn cgroup_available() -> Option<Available> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v2_path = own.lines().find_map(|l| l.strip_prefix("0::"));
    let v1_path = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p));
    let root = Path::new("/sys/fs/cgroup");
    let mut candidates = vec![];
    if let Some(p) = v2_path {
        candidates.push((root.join(p.trim_start_matches('/')), true));
    }
    candidates.push((root.to_path_buf(), true));
    if let Some(p) = v1_path {
        candidates.push((root.join("memory").join(p.trim_start_matches('/')), false));
    }
    candidates.push((root.join("memory"), false));
    candidates.into_iter().find_map(|(dir, v2)| {
        let (limit, usage, inactive) = if v2 {
            ("memory.max", "memory.current", "inactive_file")
        } else {
            (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        };
        cgroup_headroom(&dir, limit, usage, inactive).map(|bytes| Available {
            bytes,
            source: format!("the cgroup limit {}", dir.join(limit).display()),
        })
    })
}

impl Trainer {
    /// The bytes this trainer's run needs on `train`: its parameters and
    /// buffers, their gradients, the optimizer's state (by its name), one
    /// batch's activations (estimated from the input size and the output
    /// size of every weight matrix), the rollback snapshot and best-weight
    /// copy its configuration keeps.
    pub fn memory_estimate(&self, train: &dyn Dataset) -> MemoryEstimate {
        let tensors = self.model.state_dict();
        let dtype = tensors.first().map_or(DType::F32, |(_, t)| t.dtype());
        let parameters: u64 = tensors.iter().map(|(_, t)| t.numel() as u64).sum();
        let sample = if train.is_empty() {
            0
        } else {
            let b = train.batch(&[0]);
            b.inputs.numel() as u64
        };
        // Every weight matrix (ndim ≥ 2) produces shape[0] features per
        // position; a convolution's positions are at most the input's.
        let outputs: u64 = tensors
            .iter()
            .filter(|(_, t)| t.ndim() >= 2)
            .map(|(_, t)| {
                let positions = if t.ndim() > 2 { sample.max(1) } else { 1 };
                (t.shape()[0] as u64).saturating_mul(positions)
            })
            .fold(0, u64::saturating_add);
        let batch = match self.config.batch_size {
            BatchSize::Full => train.len(),
            BatchSize::Size(n) => n.min(train.len().max(1)),
        };
        let es = self.config.early_stopping.as_ref();
        RunPlan {
            parameters,
            activations_per_sample: sample.saturating_add(outputs.saturating_mul(2)),
            dtype,
            batch_size: batch as u64,
            optimizer: self.optimizer.name().to_string(),
            rollback: matches!(self.config.divergence, DivergencePolicy::Rollback { .. }),
            restore_best: es.is_some_and(|e| e.restore_best),
        }
        .estimate()
    }

    /// Refuses a run whose estimate exceeds [`TrainConfig::memory_limit`]
    /// (the whole run), or else what is still available (the run without
    /// the parameters, which are allocated already).
    ///
    /// [`TrainConfig::memory_limit`]: super::TrainConfig::memory_limit
    pub(super) fn check_memory(&self, train: &dyn Dataset) -> Result<()> {
        let limit = match self.config.memory_limit {
            Some(bytes) => Some(Available {
                bytes,
                source: "TrainConfig::memory_limit".into(),
            }),
            None => available_memory(),
        };
        let Some(limit) = limit else {
            return Ok(());
        };
        let need = self.memory_estimate(train);
        if self.config.memory_limit.is_some() {
            return need.check(limit.bytes, &limit.source);
        }
        // The model is built: its parameters are already taken from what is
        // available, so only the rest has to fit.
        MemoryEstimate {
            parameters: 0,
            ..need
        }
        .check(limit.bytes, &limit.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mlp_counts_weights_biases_and_activations() {
        let p = RunPlan::mlp(&[4, 3, 2], DType::F32, 10, "SGD");
        assert_eq!(p.parameters, 4 * 3 + 3 + 3 * 2 + 2);
        assert_eq!(p.activations_per_sample, 4 + 2 * 3 + 2 * 2);
        let e = p.estimate();
        assert_eq!(e.parameters, 23 * 4);
        assert_eq!(e.gradients, 23 * 4);
        assert_eq!(e.optimizer_state, 23 * 4);
        assert_eq!(e.activations, 14 * 10 * 4 * 2);
        assert_eq!(e.snapshots, 0);
        assert_eq!(e.total(), 3 * 92 + 1120);
    }

    #[test]
    fn snapshots_count_the_rollback_state_and_the_best_weights() {
        let mut p = RunPlan::mlp(&[10, 10], DType::F64, 1, "Adam");
        p.rollback = true;
        p.restore_best = true;
        let e = p.estimate();
        assert_eq!(e.optimizer_state, 110 * 8 * 2);
        assert_eq!(e.snapshots, 110 * 8 + 110 * 8 * 2 + 110 * 8);
    }

    #[test]
    fn optimizer_state_follows_the_name() {
        let n = 1000;
        assert_eq!(optimizer_state_bytes("GradientDescent", n, DType::F32), 0);
        assert_eq!(optimizer_state_bytes("sgd", n, DType::F32), 4000);
        assert_eq!(optimizer_state_bytes("AdamW", n, DType::F32), 8000);
        assert_eq!(
            optimizer_state_bytes("LBFGS", n, DType::F32),
            1000 * 8 * 203
        );
        assert_eq!(optimizer_state_bytes("NewThing", n, DType::F64), 16000);
    }

    #[test]
    fn absurd_sizes_saturate_instead_of_overflowing() {
        let p = RunPlan::mlp(&[usize::MAX, usize::MAX, 3], DType::F64, usize::MAX, "Adam");
        assert_eq!(p.estimate().total(), u64::MAX);
    }

    #[test]
    fn the_refusal_says_what_is_needed_available_and_what_to_shrink() {
        let e = RunPlan::mlp(&[64, 1_000_000, 10], DType::F32, 32, "Adam").estimate();
        assert!(e.check(e.total(), "x").is_ok());
        let msg = e.check(1_000_000, "a 1 MB limit").unwrap_err().to_string();
        assert!(msg.contains(&format_bytes(e.total())), "{msg}");
        assert!(msg.contains("1.0 MB is available (a 1 MB limit)"), "{msg}");
        assert!(msg.contains("optimizer state 600.0 MB"), "{msg}");
        assert!(msg.contains("shrink the layers"), "{msg}");
        // A huge batch of a small model: the batch is what to shrink.
        let big_batch = RunPlan::mlp(&[64, 10], DType::F32, 10_000_000, "SGD").estimate();
        let msg = big_batch.check(1, "x").unwrap_err().to_string();
        assert!(msg.contains("shrink the batch size"), "{msg}");
    }

    #[test]
    fn proc_and_cgroup_files_parse() {
        let meminfo =
            "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   21340572 kB\n";
        assert_eq!(parse_meminfo(meminfo), Some(21_340_572 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("2147483648\n"), Some(2 << 30));
        let stat = "active_file 5\ninactive_file 300\ntotal_inactive_file 700\n";
        assert_eq!(parse_stat(stat, "inactive_file"), Some(300));
        assert_eq!(parse_stat(stat, "total_inactive_file"), Some(700));
    }

    #[test]
    fn a_cgroup_directory_gives_limit_minus_non_cache_usage() {
        let d = std::env::temp_dir().join(format!("downhill-cgroup-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("memory.max"), "1000000\n").unwrap();
        std::fs::write(d.join("memory.current"), "600000\n").unwrap();
        std::fs::write(d.join("memory.stat"), "anon 1\ninactive_file 200000\n").unwrap();
        let got = cgroup_headroom(&d, "memory.max", "memory.current", "inactive_file");
        assert_eq!(got, Some(1_000_000 - (600_000 - 200_000)));
        std::fs::write(d.join("memory.max"), "max\n").unwrap();
        assert_eq!(
            cgroup_headroom(&d, "memory.max", "memory.current", "inactive_file"),
            None
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn this_machine_reports_some_available_memory() {
        if cfg!(target_os = "linux") {
            let a = available_memory().expect("Linux has /proc/meminfo");
            assert!(a.bytes > 1 << 20, "{a:?}");
        }
    }
}
