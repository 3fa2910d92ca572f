//! `--swa start=E[,lr=X][,anneal_epochs=K][,anneal=cos|linear]` and
//! `--ema decay=D` of `downhill train`: weight averaging in the trainer.

use downhill::schedule::AnnealStrategy;
use downhill::train::{SwaConfig, WeightAveraging};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{CliError, Result};
use crate::opt_args::parse_flag_pairs;

/// The averaging a run keeps, as saved in its settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AveragingSetting {
    /// `--swa`.
    Swa {
        /// Epochs before averaging begins.
        start: usize,
        /// SWALR's learning rate (none: the schedule goes on).
        lr: Option<f64>,
        /// SWALR's annealing epochs.
        anneal_epochs: usize,
        /// SWALR's annealing: `cos` or `linear`.
        anneal: String,
    },
    /// `--ema`.
    Ema {
        /// The decay.
        decay: f64,
    },
}

impl AveragingSetting {
    /// The library's description of it.
    pub fn to_library(&self) -> WeightAveraging {
        match self {
            AveragingSetting::Swa {
                start,
                lr,
                anneal_epochs,
                anneal,
            } => {
                let mut c = SwaConfig::new(*start)
                    .anneal_epochs(*anneal_epochs)
                    .anneal_strategy(if anneal == "linear" {
                        AnnealStrategy::Linear
                    } else {
                        AnnealStrategy::Cos
                    });
                c.lr = *lr;
                WeightAveraging::Swa(c)
            }
            AveragingSetting::Ema { decay } => WeightAveraging::Ema { decay: *decay },
        }
    }
}

/// The comma-separated `NAME=VALUE` pairs of `flag`, only `keys` allowed.
fn settings(flag: &str, text: &str, keys: &[&str]) -> Result<Map<String, Value>> {
    let map = parse_flag_pairs(flag, text)?;
    if let Some(k) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(CliError::flag(
            flag,
            format!("unknown setting '{k}'; expected {}", keys.join(", ")),
        ));
    }
    Ok(map)
}

/// A whole number ≥ 0 named `key` of `flag`.
fn whole(flag: &str, key: &str, v: &Value) -> Result<usize> {
    v.as_u64()
        .filter(|&n| n <= 1 << 40)
        .map(|n| n as usize)
        .ok_or_else(|| CliError::flag(flag, format!("{key} must be a whole number ≥ 0, got {v}")))
}

/// A finite number named `key` of `flag` in `range`, checked by `ok`.
fn number(flag: &str, key: &str, v: &Value, range: &str, ok: fn(f64) -> bool) -> Result<f64> {
    v.as_f64()
        .filter(|&x| x.is_finite() && ok(x))
        .ok_or_else(|| CliError::flag(flag, format!("{key} must be in {range}, got {v}")))
}

/// `--swa` and `--ema` (at most one) against an epoch budget of `epochs`.
///
/// **Errors** naming the flag: both given, an unknown or malformed
/// setting, a missing `start`/`decay`, a value out of range, or an SWA
/// start at or past the last epoch (nothing would be averaged).
pub fn resolve(
    swa: Option<&str>,
    ema: Option<&str>,
    epochs: usize,
) -> Result<Option<AveragingSetting>> {
    match (swa, ema) {
        (Some(_), Some(_)) => Err(CliError::flag(
            "--ema",
            "cannot be combined with --swa (one average of the weights per run)",
        )),
        (Some(text), None) => swa_setting(text, epochs).map(Some),
        (None, Some(text)) => {
            let m = settings("--ema", text, &["decay"])?;
            let v = m
                .get("decay")
                .ok_or_else(|| CliError::flag("--ema", "decay is required: --ema decay=0.999"))?;
            let decay = number("--ema", "decay", v, "[0, 1]", |d| (0.0..=1.0).contains(&d))?;
            Ok(Some(AveragingSetting::Ema { decay }))
        }
        (None, None) => Ok(None),
    }
}

fn swa_setting(text: &str, epochs: usize) -> Result<AveragingSetting> {
    let flag = "--swa";
    let m = settings(flag, text, &["start", "lr", "anneal_epochs", "anneal"])?;
    let start = m
        .get("start")
        .ok_or_else(|| CliError::flag(flag, "start is required: --swa start=EPOCH"))?;
    let start = whole(flag, "start", start)?;
    if start >= epochs {
        return Err(CliError::flag(
            flag,
            format!("start={start} leaves nothing to average within --epochs {epochs}; give a start below it"),
        ));
    }
    let lr = m
        .get("lr")
        .map(|v| number(flag, "lr", v, "[0, ∞)", |x| x >= 0.0))
        .transpose()?;
    let anneal_epochs = m
        .get("anneal_epochs")
        .map_or(Ok(10), |v| whole(flag, "anneal_epochs", v))?;
    let anneal = match m.get("anneal") {
        None => "cos".to_string(),
        Some(Value::String(s)) if s == "cos" || s == "linear" => s.clone(),
        Some(v) => {
            return Err(CliError::flag(
                flag,
                format!("anneal must be cos or linear, got {v}"),
            ))
        }
    };
    if lr.is_none() && (m.contains_key("anneal_epochs") || m.contains_key("anneal")) {
        return Err(CliError::flag(
            flag,
            "anneal_epochs and anneal shape SWALR's learning rate: give lr= too",
        ));
    }
    Ok(AveragingSetting::Swa {
        start,
        lr,
        anneal_epochs,
        anneal,
    })
}

/// The line saying which weights `model.safetensors` holds.
pub fn saved_line(t: &downhill::train::Trainer) -> Option<String> {
    if !t.averaged_weights_in_use() {
        return None;
    }
    let n = t.averaged_model()?.n_averaged();
    let what = match t.averaging()? {
        WeightAveraging::Swa(_) => format!("the SWA average of {n} epochs' weights"),
        WeightAveraging::Ema { decay } => {
            format!("the EMA (decay {decay}) of the weights over {n} steps")
        }
    };
    let bn = t
        .model()
        .named_buffers()
        .iter()
        .any(|(n, _)| n.ends_with("running_mean"));
    Some(format!(
        "model.safetensors holds {what}{}; the trained weights are in checkpoints/ (model.*)",
        if bn {
            ", batch-norm statistics re-estimated"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(swa: Option<&str>, ema: Option<&str>) -> String {
        resolve(swa, ema, 10).unwrap_err().to_string()
    }

    #[test]
    fn swa_and_ema_settings_parse_with_defaults() {
        assert_eq!(
            resolve(
                Some("start=3,lr=0.05,anneal=linear,anneal_epochs=2"),
                None,
                10
            )
            .unwrap(),
            Some(AveragingSetting::Swa {
                start: 3,
                lr: Some(0.05),
                anneal_epochs: 2,
                anneal: "linear".into()
            })
        );
        assert_eq!(
            resolve(Some("start=0"), None, 10).unwrap(),
            Some(AveragingSetting::Swa {
                start: 0,
                lr: None,
                anneal_epochs: 10,
                anneal: "cos".into()
            })
        );
        assert_eq!(
            resolve(None, Some("decay=0.99"), 10).unwrap(),
            Some(AveragingSetting::Ema { decay: 0.99 })
        );
        assert_eq!(resolve(None, None, 10).unwrap(), None);
    }

    #[test]
    fn bad_settings_name_the_flag() {
        assert!(err(Some("start=1"), Some("decay=0.9")).starts_with("--ema: cannot be combined"));
        assert!(err(Some(""), None).starts_with("--swa: start is required"));
        assert!(err(Some("start=-1"), None).starts_with("--swa: start must be a whole number"));
        assert!(err(Some("start=10"), None).starts_with("--swa: start=10 leaves nothing"));
        assert!(err(Some("start=1,lr=-1"), None).starts_with("--swa: lr must be in"));
        assert!(err(Some("start=1,lr=1,anneal=step"), None).starts_with("--swa: anneal must be"));
        assert!(err(Some("start=1,anneal=cos"), None).contains("give lr= too"));
        assert!(err(Some("start=1,q=2"), None).starts_with("--swa: unknown setting 'q'"));
        assert!(err(Some("start"), None).starts_with("--swa start: expected NAME=VALUE"));
        assert!(err(None, Some("")).starts_with("--ema: decay is required"));
        assert!(err(None, Some("decay=1.5")).starts_with("--ema: decay must be in [0, 1]"));
    }
}
