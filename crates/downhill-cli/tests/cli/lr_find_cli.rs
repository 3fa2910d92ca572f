//! `downhill lr-find` and `downhill train --lr auto`, run as a user would.
use crate::common;

use common::{run as downhill, scratch, test_accuracy, text};

#[test]
fn lr_find_prints_the_rule_and_the_suggestion_and_writes_the_sweep() {
    let dir = scratch("iris");
    let o = downhill(
        &dir,
        &[
            "lr-find",
            "--data",
            "iris",
            "--out",
            "sweep",
            "--num-iter",
            "60",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("lr range test: 60 steps of Adam, lr 1e-7 → 1e1 (exp)"),
        "{out}"
    );
    assert!(
        out.contains("rule: the learning rate where the smoothed loss falls fastest"),
        "{out}"
    );
    let lr: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("suggested lr: "))
        .expect("a suggestion line")
        .parse()
        .unwrap();
    assert!(lr > 1e-7 && lr < 10.0, "{lr}");
    let png = std::fs::read(dir.join("sweep/lr_find.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let csv = std::fs::read_to_string(dir.join("sweep/lr_find.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "step,lr,loss");
    assert!(rows.len() > 20 && rows.len() <= 61, "{} rows", rows.len());
    assert!(rows[1].starts_with("0,1e-7,"), "{}", rows[1]);
    // The suggestion is one of the swept learning rates.
    assert!(rows[1..].iter().any(|r| {
        let v: f64 = r.split(',').nth(1).unwrap().parse().unwrap();
        (v - lr).abs() <= 1e-3 * lr
    }));
    // Bad settings exit 2 with one line naming the flag.
    for (args, want) in [
        (vec!["--num-iter", "1"], "--num-iter: must be larger than 1"),
        (vec!["--smooth-f", "1"], "--smooth-f: must be in [0, 1)"),
        (
            vec!["--step-mode", "cubic"],
            "--step-mode: expected exp or linear",
        ),
        (
            vec!["--start-lr", "20"],
            "--start-lr: must be a number > 0 and below --end-lr",
        ),
        (
            vec!["--lr", "0.1"],
            "--lr: the range test sets the learning rate",
        ),
    ] {
        let mut all = vec!["lr-find", "--data", "iris", "--quiet"];
        all.extend(args);
        let o = downhill(&dir, &all);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{all:?}: {err}");
    }
    // A sweep too short to suggest is refused; nothing is left half-written.
    let o = downhill(
        &dir,
        &[
            "lr-find",
            "--data",
            "iris",
            "--num-iter",
            "10",
            "--out",
            "short",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("too few to suggest"),
        "{}",
        text(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn train_lr_auto_on_digits_reaches_the_accuracy_of_the_default_lr() {
    let dir = scratch("digits");
    let o = downhill(
        &dir,
        &["train", "--epochs", "30", "--out", "default", "--quiet"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = downhill(
        &dir,
        &[
            "train", "--epochs", "30", "--lr", "auto", "--out", "auto", "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("--lr auto: training with lr "))
        .unwrap_or_else(|| panic!("no --lr auto line in {out}"));
    let lr: f64 = line["--lr auto: training with lr ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let run = dir.join("auto");
    assert!(run.join("lr_find.png").is_file() && run.join("lr_find.csv").is_file());
    // It trains at that learning rate (history.csv: epoch,step,lr,...).
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    let first: f64 = history
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (first - lr).abs() <= 1e-3 * lr,
        "history lr {first} vs {lr}"
    );
    let (auto, default) = (test_accuracy(&run), test_accuracy(&dir.join("default")));
    assert!(
        auto >= default,
        "--lr auto ({lr:e}) reached test accuracy {auto}, the default lr {default}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
