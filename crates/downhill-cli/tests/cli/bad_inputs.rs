//! The bad-input corpus: every case exits with code 2 and one clear line on
//! standard error, never panics, and leaves no run directory behind.

use std::path::Path;
use std::process::Command;

use crate::common::{bin, scratch};

/// A good model (`good/`) and one whose weights do not fit its description (`mismatched/`).
fn models(tmp: &Path, corpus: &Path) {
    let good = tmp.join("good");
    let st = Command::new(bin())
        .args(["train", "--quiet", "--epochs", "2", "--hidden", "8"])
        .arg("--data")
        .arg(corpus.join("animals.csv"))
        .arg("--out")
        .arg(&good)
        .status()
        .unwrap();
    assert!(st.success());
    let bad = tmp.join("mismatched");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(
        good.join("model.safetensors"),
        bad.join("model.safetensors"),
    )
    .unwrap();
    let spec = std::fs::read_to_string(good.join("model.json")).unwrap();
    let spec = spec.replacen(
        "\"hidden\": [\n      8\n    ]",
        "\"hidden\": [\n      7\n    ]",
        1,
    );
    assert!(spec.contains("\"hidden\": [\n      7"), "{spec}");
    std::fs::write(bad.join("model.json"), spec).unwrap();
}

/// A CSV whose second line is 100 MB long.
fn huge_line(tmp: &Path) {
    let mut s = String::from("a,b,y\n");
    s.reserve(100 << 20);
    while s.len() < 100 << 20 {
        s.push_str("1234567890");
    }
    s.push_str(",1,0\n");
    std::fs::write(tmp.join("huge_line.csv"), s).unwrap();
}

#[test]
fn every_bad_input_exits_2_with_one_line_and_leaves_nothing_behind() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    let tmp = scratch("corpus");
    models(&tmp, &corpus);
    huge_line(&tmp);
    let cases = std::fs::read_to_string(corpus.join("cases.txt")).unwrap();
    let mut count = 0;
    let mut failures = vec![];
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, args, expected] = parts[..] else {
            panic!("malformed case line: {line}");
        };
        count += 1;
        let out = tmp.join(format!("out-{count}"));
        let args: Vec<String> = args
            .split_whitespace()
            .map(|a| {
                a.replace("{dir}", &corpus.to_string_lossy())
                    .replace("{out}", &out.to_string_lossy())
                    .replace("{tmp}", &tmp.to_string_lossy())
            })
            .collect();
        let o = Command::new(bin()).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let mut problems = vec![];
        if o.status.code() != Some(2) {
            problems.push(format!("exit code {:?}", o.status.code()));
        }
        if lines.len() != 1 {
            problems.push(format!("{} stderr lines", lines.len()));
        }
        if !stderr.contains(expected) {
            problems.push(format!("no {expected:?}"));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if out.exists() {
            problems.push("left a run directory".into());
        }
        let stray = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".tmp-"));
        if stray {
            problems.push("left a temporary directory".into());
        }
        eprintln!("{name:<28} {}", stderr.trim());
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {} — stderr: {}",
                problems.join(", "),
                stderr.trim()
            ));
        }
    }
    assert!(count >= 25, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
