//! Shared helpers for the integration tests: random shapes and values.
#![allow(dead_code)]

use downhill::{DType, Generator, Tensor};

/// A shape of 1 to `max_dims` dimensions, each of size 1..=4.
pub fn rand_shape(g: &mut Generator, max_dims: usize) -> Vec<usize> {
    let nd = 1 + g.below(max_dims as u64) as usize;
    (0..nd).map(|_| 1 + g.below(4) as usize).collect()
}

/// A shape that broadcasts with `shape`: some dimensions set to 1, maybe leading ones dropped.
pub fn broadcast_partner(g: &mut Generator, shape: &[usize]) -> Vec<usize> {
    let drop = g.below(shape.len() as u64 + 1) as usize;
    shape[drop..]
        .iter()
        .map(|&d| if g.below(3) == 0 { 1 } else { d })
        .collect()
}

/// f64 values in (−3, 3) that stay at least 0.05 away from every integer,
/// where all the kinks of relu, abs, clamp, hardtanh, … lie.
pub fn away_from_kinks(g: &mut Generator, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| (g.below(6) as f64 - 3.0) + 0.05 + 0.9 * g.next_f64())
        .collect();
    Tensor::from_vec(v, shape)
}

/// Positive f64 values in [0.3, 2.3).
pub fn positive(g: &mut Generator, shape: &[usize]) -> Tensor {
    Tensor::uniform_dtype(shape, 0.3, 2.3, DType::F64, g)
}

/// Asserts two slices agree within `tol` (relative to max(1, |expected|)).
#[track_caller]
pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * e.abs().max(1.0),
            "element {i}: {a} vs expected {e} (tol {tol})"
        );
    }
}

/// A fresh, empty directory for the test `name` of the calling test file
/// (and process), under the system's temporary directory: the files of
/// this binary may use the same names.
#[track_caller]
pub fn scratch(name: &str) -> std::path::PathBuf {
    let file = std::path::Path::new(std::panic::Location::caller().file())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("test");
    let d = std::env::temp_dir().join(format!("downhill-{file}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The reference cases in `tests/reference/{dir}`: each JSON file's name
/// and contents, sorted by name; `what` names them if fewer than `min`.
pub fn reference_cases(dir: &str, min: usize, what: &str) -> Vec<(String, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= min, "{what}");
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

/// Every number of a (nested) JSON array, in order.
pub fn json_floats(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(json_floats).collect(),
        serde_json::Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("expected numbers, found {other}"),
    }
}

/// The shape of a nested JSON array (`[]` for a number).
pub fn json_shape(v: &serde_json::Value) -> Vec<usize> {
    match v {
        serde_json::Value::Array(a) => {
            let mut s = vec![a.len()];
            if let Some(first) = a.first() {
                s.extend(json_shape(first));
            }
            s
        }
        _ => vec![],
    }
}
