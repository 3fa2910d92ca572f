//! Helpers shared by the tests that run the `downhill` binary as a user
//! does: a scratch directory per test, the binary run in it, and its JSON
//! outputs read back.
// Each test file uses some of these helpers, not all.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `downhill` binary cargo built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_downhill")
}

/// A fresh, empty directory for the test `name` of the calling test file
/// (and process), under the system's temporary directory: the files of one
/// test binary may use the same names.
#[track_caller]
pub fn scratch(name: &str) -> PathBuf {
    let file = Path::new(std::panic::Location::caller().file())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    let d = std::env::temp_dir().join(format!(
        "downhill-{}-{file}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `downhill ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `downhill ARGS` in `dir`, which must succeed; its output.
pub fn ok_output(dir: &Path, args: &[&str]) -> Output {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "downhill {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs `downhill ARGS` in `dir`, which must succeed; its standard output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(ok_output(dir, args).stdout).unwrap()
}

/// A JSON file, parsed.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `metrics.json` of a run directory.
pub fn metrics(run_dir: &Path) -> serde_json::Value {
    json(&run_dir.join("metrics.json"))
}

/// The test accuracy in a run directory's `metrics.json`.
pub fn test_accuracy(run_dir: &Path) -> f64 {
    metrics(run_dir)["test"]["accuracy"]
        .as_f64()
        .expect("metrics.json has a test accuracy")
}

/// Bytes of a process's output as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
