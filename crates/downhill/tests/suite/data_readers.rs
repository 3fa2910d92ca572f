//! The CSV and NPY/NPZ readers: shipped datasets, format details, every
//! error (with its line and column), options, and fuzzing for panics.

use std::path::{Path, PathBuf};

use downhill::data::{
    parse_csv, parse_npy, read_csv, read_npy, read_npy_table, read_npz, write_npy, CsvOptions,
    NpyArray, Table, TargetColumn, Task,
};
use downhill::Error;
use proptest::prelude::*;

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn csv(s: &str) -> Result<Table, Error> {
    parse_csv(s.as_bytes(), Path::new("t.csv"), &CsvOptions::default())
}

fn csv_with(s: &str, opts: &CsvOptions) -> Result<Table, Error> {
    parse_csv(s.as_bytes(), Path::new("t.csv"), opts)
}

/// Asserts a parse error at `line`:`column` whose message contains `part`.
#[track_caller]
fn assert_parse_error(result: Result<Table, Error>, line: usize, column: usize, part: &str) {
    match result {
        Err(Error::Parse {
            line: l,
            column: c,
            message,
            path,
        }) => {
            assert_eq!((l, c), (line, column), "{message}");
            assert!(
                message.contains(part),
                "{message:?} does not contain {part:?}"
            );
            assert!(message.len() < 250, "message too long: {message}");
            assert_eq!(path, Path::new("t.csv"));
        }
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(t) => panic!("expected a parse error, got a table of {} rows", t.rows),
    }
}

fn classes(t: &Table) -> (&[usize], &[String]) {
    match &t.target {
        Some(TargetColumn::Classes { indices, labels }) => (indices, labels),
        other => panic!("not classes: {other:?}"),
    }
}

fn values(t: &Table) -> (&[f64], usize) {
    match &t.target {
        Some(TargetColumn::Values { values, width }) => (values, *width),
        other => panic!("not values: {other:?}"),
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "downhill-data-readers-{}-{name}",
        std::process::id()
    ))
}

// ---- shipped datasets ----

#[test]
fn iris_is_inferred_classification() {
    let t = read_csv(&dataset("iris.csv"), &CsvOptions::default()).unwrap();
    assert_eq!((t.rows, t.num_features()), (150, 4));
    assert_eq!(
        t.feature_names,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(t.target_names, ["species"]);
    assert_eq!(
        (t.task, t.task_inferred),
        (Some(Task::Classification), true)
    );
    let (indices, labels) = classes(&t);
    assert_eq!(labels, ["setosa", "versicolor", "virginica"]);
    assert_eq!((indices[0], indices[149]), (0, 2));
    assert_eq!(&t.features[..4], [5.1, 3.5, 1.4, 0.2]);
}

#[test]
fn digits_is_inferred_classification() {
    let start = std::time::Instant::now();
    let t = read_csv(&dataset("digits.csv"), &CsvOptions::default()).unwrap();
    eprintln!("digits.csv read in {:?}", start.elapsed());
    assert_eq!((t.rows, t.num_features()), (1797, 64));
    assert_eq!(t.features.len(), 1797 * 64);
    assert_eq!(
        (t.task, t.task_inferred),
        (Some(Task::Classification), true)
    );
    let (indices, labels) = classes(&t);
    let expected: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(labels, expected);
    assert_eq!((indices[0], indices[1]), (0, 1));
}

#[test]
fn diabetes_is_inferred_regression() {
    let t = read_csv(&dataset("diabetes.csv"), &CsvOptions::default()).unwrap();
    assert_eq!((t.rows, t.num_features()), (442, 10));
    assert_eq!((t.task, t.task_inferred), (Some(Task::Regression), true));
    let (v, width) = values(&t);
    assert_eq!((v.len(), width, v[0]), (442, 1, 151.0));
}

// ---- CSV format ----

#[test]
fn csv_quoted_fields() {
    let t =
        csv("\"a,1\",\"b \"\"q\"\"\",label\n\"1\",2,\"x, y\"\n3,\"4\",\"multi\nline\"\n").unwrap();
    assert_eq!(t.feature_names, ["a,1", "b \"q\""]);
    assert_eq!(t.features, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(classes(&t).1, ["multi\nline", "x, y"]);
}

#[test]
fn csv_crlf_and_bom() {
    let t = csv("\u{feff}a,y\r\n1,2.5\r\n2,3.5\r\n").unwrap();
    assert_eq!(t.feature_names, ["a"]);
    assert_eq!(t.features, [1.0, 2.0]);
    assert_eq!(values(&t).0, [2.5, 3.5]);
}

#[test]
fn csv_spaces_exponents_and_delimiter() {
    let opts = CsvOptions {
        delimiter: b';',
        ..Default::default()
    };
    let t = csv_with("a ; b;y\n 1e-3 ;-0.5 ;0.25\n+2;.5;1\n", &opts).unwrap();
    assert_eq!(t.feature_names, ["a", "b"]);
    assert_eq!(t.features, [1e-3, -0.5, 2.0, 0.5]);
    assert_eq!(values(&t).0, [0.25, 1.0]);
}

#[test]
fn csv_no_trailing_newline_and_blank_lines() {
    let t = csv("a,y\n1,x\n\n2,y").unwrap();
    assert_eq!(t.rows, 2);
}

// ---- CSV errors ----

#[test]
fn csv_error_empty_file() {
    assert_parse_error(csv(""), 1, 0, "empty file");
    assert_parse_error(csv("\u{feff}\n\n"), 1, 0, "empty file");
}

#[test]
fn csv_error_header_only() {
    assert_parse_error(csv("a,b\n"), 1, 0, "no data rows");
    assert_parse_error(csv("a,b"), 1, 0, "no data rows");
}

#[test]
fn csv_error_duplicate_column() {
    assert_parse_error(
        csv("a,b,a\n1,2,3\n"),
        1,
        3,
        "duplicate column name \"a\" (columns 1 and 3)",
    );
}

#[test]
fn csv_error_empty_column_name() {
    assert_parse_error(csv("a, ,b\n1,2,3\n"), 1, 2, "empty column name");
}

#[test]
fn csv_error_ragged_rows() {
    assert_parse_error(
        csv("a,b,c\n1,2,3\n1,2\n"),
        3,
        3,
        "expected 3 fields (as in the header), found 2",
    );
    assert_parse_error(
        csv("a,b,c\n1,2,3,4\n"),
        2,
        4,
        "expected 3 fields (as in the header), found 4",
    );
}

#[test]
fn csv_error_missing_cells() {
    assert_parse_error(
        csv("a,b,y\n1,2,0\n1, ,0\n"),
        3,
        2,
        "missing value in feature column \"b\"",
    );
    assert_parse_error(
        csv("a,b,y\n1,2,\n"),
        2,
        3,
        "missing value in target column \"y\"",
    );
}

#[test]
fn csv_error_non_numeric_feature() {
    assert_parse_error(
        csv("a,b,y\n1,abc,0\n"),
        2,
        2,
        "non-numeric value \"abc\" in feature column \"b\"",
    );
    let long = "z".repeat(200);
    let r = csv(&format!("a,y\n{long},1\n"));
    assert_parse_error(
        r,
        2,
        1,
        &format!("\"{}\"… in feature column \"a\"", "z".repeat(40)),
    );
}

#[test]
fn csv_error_non_finite() {
    assert_parse_error(
        csv("a,y\n1,0\nNaN,1\n"),
        3,
        1,
        "non-finite value \"NaN\" in feature column \"a\"",
    );
    assert_parse_error(csv("a,y\ninf,0\n"), 2, 1, "non-finite value \"inf\"");
    assert_parse_error(
        csv("a,y\n1,0.5\n2,-inf\n"),
        3,
        2,
        "non-finite value \"-inf\" in target column \"y\"",
    );
}

#[test]
fn csv_allow_non_finite() {
    let opts = CsvOptions {
        allow_non_finite: true,
        ..Default::default()
    };
    let t = csv_with("a,b,y\nnan,inf,0.5\n-inf,1,NaN\n", &opts).unwrap();
    assert!(t.features[0].is_nan());
    assert_eq!(&t.features[1..], [f64::INFINITY, f64::NEG_INFINITY, 1.0]);
    assert_eq!(t.task, Some(Task::Regression));
    assert!(values(&t).0[1].is_nan());
}

#[test]
fn csv_error_invalid_utf8() {
    let r = parse_csv(
        b"a,y\n1,0\n\xff\xfe,1\n",
        Path::new("t.csv"),
        &CsvOptions::default(),
    );
    assert_parse_error(r, 3, 1, "invalid UTF-8 in feature column \"a\"");
    let r = parse_csv(b"a,\xc3\n1,0\n", Path::new("t.csv"), &CsvOptions::default());
    assert_parse_error(r, 1, 2, "not valid UTF-8");
}

#[test]
fn csv_error_lines_count_quoted_newlines() {
    // Record 2 spans lines 2-3, so the bad record starts on line 5.
    let r = csv("a,y\n1,\"multi\nline\"\n2,b\n3,\n");
    assert_parse_error(r, 5, 2, "missing value in target column");
    let r = csv("a,y\r\n\"1\r\n\",x\r\nbad,y\r\n");
    assert_parse_error(r, 4, 1, "non-numeric value \"bad\"");
}

#[test]
fn csv_error_missing_target_column() {
    let opts = CsvOptions {
        targets: vec!["z".into()],
        ..Default::default()
    };
    assert_parse_error(
        csv_with("a,b\n1,2\n", &opts),
        1,
        0,
        "no target column \"z\" (columns: \"a\", \"b\")",
    );
    // A wide file: the list of columns is cut short.
    let header: Vec<String> = (0..500).map(|i| format!("feature_{i}")).collect();
    let row = vec!["1"; 500].join(",");
    let r = csv_with(&format!("{}\n{row}\n", header.join(",")), &opts);
    assert_parse_error(r, 1, 0, "more)");
}

#[test]
fn csv_error_unknown_feature() {
    let opts = CsvOptions {
        features: Some(vec!["a".into(), "q".into()]),
        ..Default::default()
    };
    assert_parse_error(
        csv_with("a,b,y\n1,2,3\n", &opts),
        1,
        0,
        "unknown feature column \"q\"",
    );
}

#[test]
fn csv_error_target_is_feature() {
    let opts = CsvOptions {
        targets: vec!["b".into()],
        features: Some(vec!["a".into(), "b".into()]),
        ..Default::default()
    };
    assert_parse_error(
        csv_with("a,b,c\n1,2,3\n", &opts),
        1,
        2,
        "column \"b\" is both a target and a feature",
    );
}

#[test]
fn csv_error_single_class() {
    assert_parse_error(csv("a,y\n1,x\n2,x\n"), 1, 2, "single class \"x\"");
    let opts = CsvOptions {
        task: Some(Task::Classification),
        ..Default::default()
    };
    assert_parse_error(
        csv_with("a,y\n1,3\n2,3\n", &opts),
        1,
        2,
        "single class \"3\"",
    );
}

#[test]
fn csv_error_multiple_targets_classification() {
    let opts = CsvOptions {
        targets: vec!["y1".into(), "y2".into()],
        task: Some(Task::Classification),
        ..Default::default()
    };
    let r = csv_with("a,y1,y2\n1,0,1\n2,1,0\n", &opts);
    assert_parse_error(r, 1, 3, "classification takes one target column, got 2");
}

#[test]
fn csv_error_non_numeric_regression_target() {
    let opts = CsvOptions {
        task: Some(Task::Regression),
        ..Default::default()
    };
    let r = csv_with("a,y\n1,2\n2,x\n", &opts);
    assert_parse_error(r, 3, 2, "non-numeric value \"x\" in target column \"y\"");
    // Several targets are inferred as regression.
    let opts = CsvOptions {
        targets: vec!["y1".into(), "y2".into()],
        ..Default::default()
    };
    assert_parse_error(
        csv_with("a,y1,y2\n1,0,1\n2,1,b\n", &opts),
        3,
        3,
        "non-numeric value \"b\"",
    );
}

#[test]
fn csv_huge_line_is_an_error_not_a_hang() {
    let start = std::time::Instant::now();
    let mut s = String::from("a,y\n");
    s.push_str(&"9".repeat(20_000_000));
    s.push_str("x,1\n");
    assert_parse_error(csv(&s), 2, 1, "non-numeric value \"9999");
    let mut s = String::from("a,y\n");
    s.push_str(&",".repeat(5_000_000));
    assert_parse_error(csv(&s), 2, 3, "found 5000001");
    assert!(start.elapsed().as_secs() < 10);
}

// ---- CSV options ----

#[test]
fn csv_select_target_and_features_by_name() {
    let opts = CsvOptions {
        targets: vec!["a".into()],
        features: Some(vec!["c".into(), "b".into()]),
        ..Default::default()
    };
    let t = csv_with("a,b,c,d\n1.5,2,3,x\n2.5,5,6,y\n", &opts).unwrap();
    assert_eq!(t.feature_names, ["c", "b"]);
    assert_eq!(t.target_names, ["a"]);
    assert_eq!(t.features, [3.0, 2.0, 6.0, 5.0]);
    assert_eq!(values(&t), (&[1.5, 2.5][..], 1));
}

#[test]
fn csv_two_regression_targets() {
    let opts = CsvOptions {
        targets: vec!["u".into(), "v".into()],
        ..Default::default()
    };
    let t = csv_with("u,a,v\n1,2,3\n4,5,6\n", &opts).unwrap();
    assert_eq!(t.feature_names, ["a"]);
    assert_eq!((t.task, t.task_inferred), (Some(Task::Regression), true));
    assert_eq!(values(&t), (&[1.0, 3.0, 4.0, 6.0][..], 2));
}

#[test]
fn csv_given_task_is_not_inferred() {
    let opts = CsvOptions {
        task: Some(Task::Regression),
        ..Default::default()
    };
    let opts = CsvOptions {
        targets: vec!["petal_width".into()],
        features: Some(vec!["sepal_length".into()]),
        ..opts
    };
    let t = read_csv(&dataset("iris.csv"), &opts).unwrap();
    assert_eq!((t.task, t.task_inferred), (Some(Task::Regression), false));
    // A numeric target forced to classification: labels sorted numerically.
    let opts = CsvOptions {
        task: Some(Task::Classification),
        ..Default::default()
    };
    let t = csv_with("a,y\n1,10\n2,9\n3,10.0\n4,-1\n", &opts).unwrap();
    assert_eq!(
        classes(&t),
        (
            &[2, 1, 2, 0][..],
            &["-1".to_string(), "9".into(), "10".into()][..]
        )
    );
}

#[test]
fn csv_class_labels_mapping() {
    let given = vec![
        "virginica".to_string(),
        "setosa".into(),
        "versicolor".into(),
    ];
    let opts = CsvOptions {
        class_labels: Some(given.clone()),
        ..Default::default()
    };
    let t = read_csv(&dataset("iris.csv"), &opts).unwrap();
    let (indices, labels) = classes(&t);
    assert_eq!(labels, given);
    assert_eq!((indices[0], indices[50], indices[149]), (1, 2, 0));
    assert_eq!(t.task, Some(Task::Classification));
    // Numeric labels match by value.
    let opts = CsvOptions {
        class_labels: Some(vec!["0".into(), "1".into()]),
        ..Default::default()
    };
    let t = csv_with("a,y\n1,1.0\n2,0\n", &opts).unwrap();
    assert_eq!(classes(&t).0, [1, 0]);
    // A label not in the list.
    let opts = CsvOptions {
        class_labels: Some(vec!["a".into(), "b".into()]),
        ..Default::default()
    };
    assert_parse_error(
        csv_with("x,y\n1,a\n2,c\n", &opts),
        3,
        2,
        "label \"c\" in column \"y\" is not one of the classes: \"a\", \"b\"",
    );
}

#[test]
fn csv_target_optional() {
    let opts = CsvOptions {
        targets: vec!["species".into()],
        target_optional: true,
        ..Default::default()
    };
    let t = csv_with("a,b\n1,2\n3,4\n", &opts).unwrap();
    assert_eq!(t.target, None);
    assert!(t.target_names.is_empty());
    assert_eq!(t.feature_names, ["a", "b"]);
    assert_eq!(t.rows, 2);
    // Present: read.
    let t = read_csv(&dataset("iris.csv"), &opts).unwrap();
    assert_eq!(t.class_labels().unwrap().len(), 3);
    assert_eq!(t.num_features(), 4);
}

// ---- NPY ----

fn npy_bytes(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[version, 0]);
    let mut dict = dict.to_string();
    dict.push('\n');
    if version == 1 {
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(dict.as_bytes());
    b.extend_from_slice(data);
    b
}

fn npy_error(bytes: &[u8], part: &str) {
    match parse_npy(bytes, Path::new("a.npy")) {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains(part), "{message:?} lacks {part:?}")
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn npy_round_trip() {
    for (shape, n) in [
        (vec![3, 4], 12),
        (vec![5], 5),
        (vec![], 1),
        (vec![2, 0], 0),
        (vec![2, 1, 3], 6),
    ] {
        let data: Vec<f64> = (0..n).map(|i| i as f64 * 0.5 - 1.0).collect();
        let path = temp("round.npy");
        write_npy(&path, &shape, &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let a = read_npy(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            a,
            NpyArray {
                shape,
                data,
                dtype: "<f8".into()
            }
        );
    }
    assert!(matches!(
        write_npy(&temp("bad.npy"), &[2, 2], &[1.0]),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn npy_f4_little_endian() {
    let data: Vec<u8> = [1.5f32, -2.0, 0.25]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let a = parse_npy(
        &npy_bytes(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            &data,
        ),
        Path::new("a"),
    )
    .unwrap();
    assert_eq!(
        a,
        NpyArray {
            shape: vec![3],
            data: vec![1.5, -2.0, 0.25],
            dtype: "<f4".into()
        }
    );
}

#[test]
fn npy_i8_big_endian() {
    let data: Vec<u8> = [-3i64, 1 << 40, 7, 0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let a = parse_npy(
        &npy_bytes(
            1,
            "{'descr': '>i8', 'fortran_order': False, 'shape': (2, 2), }",
            &data,
        ),
        Path::new("a"),
    )
    .unwrap();
    assert_eq!(a.shape, [2, 2]);
    assert_eq!(a.data, [-3.0, (1u64 << 40) as f64, 7.0, 0.0]);
    assert_eq!(a.dtype, ">i8");
}

#[test]
fn npy_other_dtypes() {
    let cases: [(&str, Vec<u8>, Vec<f64>); 6] = [
        ("|u1", vec![0, 255], vec![0.0, 255.0]),
        ("|i1", vec![0x80, 1], vec![-128.0, 1.0]),
        ("|b1", vec![0, 3], vec![0.0, 1.0]),
        ("<u2", vec![1, 1, 0, 0x80], vec![257.0, 32768.0]),
        (
            ">f8",
            [2.5f64, -1.0]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect(),
            vec![2.5, -1.0],
        ),
        (
            "<i4",
            [-7i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect(),
            vec![-7.0, 9.0],
        ),
    ];
    for (descr, bytes, expected) in cases {
        let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}");
        let a = parse_npy(&npy_bytes(1, &dict, &bytes), Path::new("a")).unwrap();
        assert_eq!(a.data, expected, "{descr}");
    }
}

#[test]
fn npy_fortran_order() {
    // [[1, 2, 3], [4, 5, 6]] stored column by column.
    let data: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let a = parse_npy(
        &npy_bytes(
            1,
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &data,
        ),
        Path::new("a"),
    )
    .unwrap();
    assert_eq!(a.shape, [2, 3]);
    assert_eq!(a.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

#[test]
fn npy_version_2_and_3_headers() {
    let data: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    for version in [2, 3] {
        let a = parse_npy(
            &npy_bytes(
                version,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                &data,
            ),
            Path::new("a"),
        )
        .unwrap();
        assert_eq!((a.shape, a.data), (vec![1, 2], vec![1.0, 2.0]));
    }
}

#[test]
fn npy_errors() {
    npy_error(b"hello", "magic");
    npy_error(b"\x93NUMPY", "no version");
    npy_error(b"\x93NUMPY\x04\x00\x10\x00", "unsupported NPY version 4.0");
    npy_error(b"\x93NUMPY\x01\x00\xff\x00{", "truncated NPY header");
    npy_error(
        &npy_bytes(
            1,
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
            &[0; 8],
        ),
        "unsupported dtype \"|O\"",
    );
    npy_error(
        &npy_bytes(
            1,
            "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
            &[0; 16],
        ),
        "unsupported dtype",
    );
    npy_error(
        &npy_bytes(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &[0; 20],
        ),
        "truncated NPY data",
    );
    npy_error(&npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536, 65536), }", &[]), "too large");
    npy_error(
        &npy_bytes(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1 2), }",
            &[],
        ),
        "malformed NPY header at byte",
    );
    npy_error(
        &npy_bytes(1, "{'descr': '<f8', 'shape': (1,), }", &[0; 8]),
        "no \"fortran_order\" key",
    );
    npy_error(
        &npy_bytes(1, "['descr']", &[]),
        "malformed NPY header at byte 10",
    );
}

#[test]
fn npy_table_last_column_is_target() {
    let path = temp("table.npy");
    // 6 rows: two features, an integer target with 2 classes.
    let data: Vec<f64> = (0..6)
        .flat_map(|r| [r as f64, -(r as f64), (r % 2) as f64])
        .collect();
    write_npy(&path, &[6, 3], &data).unwrap();
    let t = read_npy_table(&path, &CsvOptions::default()).unwrap();
    assert_eq!(t.feature_names, ["x0", "x1"]);
    assert_eq!(t.target_names, ["y"]);
    assert_eq!(&t.features[..4], [0.0, -0.0, 1.0, -1.0]);
    assert_eq!(
        (t.task, t.task_inferred),
        (Some(Task::Classification), true)
    );
    assert_eq!(
        classes(&t),
        (&[0, 1, 0, 1, 0, 1][..], &["0".to_string(), "1".into()][..])
    );
    // The same file as regression, and with a feature selected.
    let opts = CsvOptions {
        task: Some(Task::Regression),
        features: Some(vec!["x1".into()]),
        ..Default::default()
    };
    let t = read_npy_table(&path, &opts).unwrap();
    assert_eq!(
        (t.feature_names.as_slice(), t.features[1]),
        (&["x1".to_string()][..], -1.0)
    );
    assert_eq!(values(&t).0, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    // class_labels, with the model's order.
    let opts = CsvOptions {
        class_labels: Some(vec!["1".into(), "0".into()]),
        ..Default::default()
    };
    assert_eq!(
        classes(&read_npy_table(&path, &opts).unwrap()).0,
        [1, 0, 1, 0, 1, 0]
    );
    // Non-finite values are refused unless allowed.
    let mut bad = data.clone();
    bad[3] = f64::NAN;
    write_npy(&path, &[6, 3], &bad).unwrap();
    let e = read_npy_table(&path, &CsvOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("non-finite value NaN in feature x0 at row 1"),
        "{e}"
    );
    let opts = CsvOptions {
        allow_non_finite: true,
        ..Default::default()
    };
    assert!(read_npy_table(&path, &opts).unwrap().features[2].is_nan());
    // A 1-D array is not a table.
    write_npy(&path, &[3], &[1.0, 2.0, 3.0]).unwrap();
    let e = read_npy_table(&path, &CsvOptions::default()).unwrap_err();
    assert!(e.to_string().contains("must be 2-D"), "{e}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn npz_stored() {
    let arrays = read_npz(&fixture("table_stored.npz")).unwrap();
    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x", "y"]);
    assert_eq!(arrays[0].1.shape, [8, 2]);
    assert_eq!(arrays[1].1.dtype, "<i8");
    let t = read_npy_table(&fixture("table_stored.npz"), &CsvOptions::default()).unwrap();
    assert_eq!(
        (t.rows, t.feature_names.as_slice()),
        (8, &["x0".to_string(), "x1".into()][..])
    );
    assert_eq!(t.features[11], 11.0);
    assert_eq!(
        (t.task, t.task_inferred),
        (Some(Task::Classification), true)
    );
    assert_eq!(
        classes(&t),
        (
            &[2, 0, 1, 2, 0, 1, 0, 0][..],
            &["0".to_string(), "1".into(), "2".into()][..]
        )
    );
}

#[test]
fn npz_compressed_two_targets() {
    let arrays = read_npz(&fixture("table_compressed.npz")).unwrap();
    assert_eq!(arrays[0].1.dtype, "<f4");
    let t = read_npy_table(&fixture("table_compressed.npz"), &CsvOptions::default()).unwrap();
    assert_eq!((t.rows, t.num_features()), (4, 3));
    assert_eq!(t.features[..4], [0.0, 0.25, 0.5, 0.75]);
    assert_eq!(t.target_names, ["y0", "y1"]);
    assert_eq!((t.task, t.task_inferred), (Some(Task::Regression), true));
    assert_eq!(
        values(&t),
        (&[0.5, -1.0, 1.5, -2.0, 2.5, -3.0, 3.5, -4.0][..], 2)
    );
    let opts = CsvOptions {
        task: Some(Task::Classification),
        ..Default::default()
    };
    let e = read_npy_table(&fixture("table_compressed.npz"), &opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("classification takes one target column"),
        "{e}"
    );
}

#[test]
fn npz_errors() {
    let e = read_npy_table(&fixture("table_bad_rows.npz"), &CsvOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("table_bad_rows.npz")
            && e.to_string().contains("\"x\" has 3 rows but \"y\" has 2"),
        "{e}"
    );
    let e = read_npy_table(&fixture("table_no_y.npz"), &CsvOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("no array \"y\"") && e.to_string().contains("\"x\", \"z\""),
        "{e}"
    );
    let opts = CsvOptions {
        target_optional: true,
        ..Default::default()
    };
    let t = read_npy_table(&fixture("table_no_y.npz"), &opts).unwrap();
    assert_eq!((t.rows, t.target.is_none()), (3, true));
    // Not a zip archive.
    let path = temp("bad.npz");
    std::fs::write(&path, b"not a zip").unwrap();
    let e = read_npz(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(e.to_string().contains("not an NPZ (zip) archive"), "{e}");
    let e = read_npz(&temp("missing.npz")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
}

// ---- fuzzing: no input panics ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_csv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_csv(&bytes, Path::new("f.csv"), &CsvOptions::default());
    }

    #[test]
    fn parse_csv_csvish_never_panics(
        s in "[a-c0-9,\"\n\r .e\\-]{0,120}",
        task in 0..3u8,
        allow in any::<bool>(),
    ) {
        let opts = CsvOptions {
            task: [None, Some(Task::Classification), Some(Task::Regression)][task as usize],
            allow_non_finite: allow,
            ..Default::default()
        };
        let _ = parse_csv(s.as_bytes(), Path::new("f.csv"), &opts);
        let opts = CsvOptions { targets: vec!["a".into(), "b".into()], target_optional: true, ..opts };
        let _ = parse_csv(s.as_bytes(), Path::new("f.csv"), &opts);
    }

    #[test]
    fn parse_npy_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_npy(&bytes, Path::new("f.npy"));
    }

    #[test]
    fn parse_npy_after_magic_never_panics(
        version in 0..5u8,
        header in "[{}():,' a-z<>|0-9TrueFals]{0,80}",
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = parse_npy(&npy_bytes(version, &header, &data), Path::new("f.npy"));
        let dict = format!("{{'descr': '<f4', 'fortran_order': True, 'shape': ({}), }}", header.len());
        let _ = parse_npy(&npy_bytes(version, &dict, &data), Path::new("f.npy"));
    }
}

/// A single 100 MB line, in several shapes: an error in linear time.
/// `cargo test -p downhill --test data_readers -- --ignored`
#[test]
#[ignore = "slow: builds several 100 MB inputs"]
fn csv_100_mb_lines() {
    const N: usize = 100_000_000;
    let cases: [(Vec<u8>, &str); 6] = [
        (
            [&b"a,y\n"[..], &vec![b'7'; N], b"x,1\n"].concat(),
            "non-numeric value",
        ),
        ([&b"a,y\n"[..], &vec![b','; N]].concat(), "found 100000001"),
        (vec![b'h'; N], "no feature columns"),
        ([&vec![b'h'; N][..], b",y\n"].concat(), "no data rows"),
        (
            [&b"a,y\n\""[..], &vec![b'q'; N]].concat(),
            "expected 2 fields",
        ),
        (
            [&b"a,y\n"[..], &vec![b'1'; N], b",1\n"].concat(),
            "non-finite",
        ),
    ];
    for (bytes, part) in cases {
        let start = std::time::Instant::now();
        let e = parse_csv(&bytes, Path::new("big.csv"), &CsvOptions::default()).unwrap_err();
        eprintln!("{:?}: {e}", start.elapsed());
        assert!(e.to_string().contains(part), "{e}");
        assert!(e.to_string().len() < 300);
    }
}
