//! Frames from CSV and Parquet (fixtures written by pyarrow and pandas:
//! `tests/fixtures/tables/make_tables.py`), the schema saved in
//! `model.json`, and a run directory loaded back by the library.

use std::path::{Path, PathBuf};

use downhill::data::{
    prepare, read_frame, Frame, FrameOptions, ModelSpec, Output, PrepareOptions, TrainedModel,
};

fn penguins_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/penguins.csv")
}

fn frame(path: &Path) -> Frame {
    read_frame(path, &FrameOptions::default()).unwrap()
}

#[test]
fn a_saved_model_reloads_and_predicts_on_reordered_columns_with_the_same_numbers() {
    let f = frame(&penguins_csv());
    let data = prepare(&f, &PrepareOptions::target("species"), None).unwrap();
    assert_eq!(
        data.class_labels.as_ref().unwrap(),
        &["Adelie", "Chinstrap", "Gentoo"]
    );
    let spec = data.mlp(&[8], "tanh");
    let model = spec.architecture.build(3);
    let trained = TrainedModel::new(spec.clone(), Box::new(model));
    let dir = std::env::temp_dir().join(format!("downhill-tables-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    trained.save(&dir).unwrap();
    let loaded = TrainedModel::load(&dir).unwrap();
    assert_eq!(loaded.spec, spec, "model.json round-trips the schema");
    let a = trained.predict(&f).unwrap();
    // The same file with its columns reversed.
    let mut rev = f.clone();
    rev.columns.reverse();
    let b = loaded.predict(&rev).unwrap();
    assert_eq!(a.output, b.output);
    let Output::Classes { probabilities, .. } = &a.output else {
        panic!("classification")
    };
    assert_eq!(probabilities.len(), 344 * 3);
    assert_eq!(a.notes.imputed.iter().map(|(_, n)| n).sum::<usize>(), 19);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nll_loss_of_a_model_description_takes_the_mlps_logits() {
    let json = r#"{"format":"downhill-model/1","task":"classification",
        "architecture":{"kind":"mlp","inputs":2,"hidden":[],"outputs":3,"activation":"relu","dropout":0.0},
        "feature_names":["a","b"],"target_names":["y"],"class_labels":["p","q","r"],
        "scaler":{"kind":"standard","mean":[0.0,0.0],"std":[1.0,1.0]},
        "target_scaler":{"kind":"none"},"loss":"NLLLoss","loss_options":{}}"#;
    let mut spec = ModelSpec::from_json(json, Path::new("model.json")).unwrap();
    let logits = downhill::Tensor::from_vec(vec![2.0f64, -1.0, 0.5, 0.0, 3.0, -2.0], &[2, 3]);
    let target = downhill::loss::Target::Indices(&[0, 1]);
    let nll = spec
        .build_loss()
        .unwrap()
        .forward(&logits, target, &[])
        .item();
    spec.loss = "CrossEntropyLoss".into();
    let ce = spec
        .build_loss()
        .unwrap()
        .forward(&logits, target, &[])
        .item();
    assert!(nll > 0.0, "a loss on log-probabilities is positive: {nll}");
    assert!((nll - ce).abs() < 1e-12, "{nll} vs {ce}");
}

#[test]
fn a_version_1_model_description_still_loads() {
    let v1 = r#"{"format":"downhill-model/1","task":"regression",
        "architecture":{"kind":"mlp","inputs":2,"hidden":[],"outputs":1,"activation":"relu","dropout":0.0},
        "feature_names":["a","b"],"target_names":["y"],"class_labels":null,
        "scaler":{"kind":"standard","mean":[1.0,2.0],"std":[1.0,1.0]},
        "target_scaler":{"kind":"none"},"loss":"MSELoss","loss_options":{}}"#;
    let spec = ModelSpec::from_json(v1, Path::new("model.json")).unwrap();
    assert_eq!(spec.schema.feature_names(), ["a", "b"]);
    let bad = v1.replace("\"inputs\":2", "\"inputs\":3");
    let e = ModelSpec::from_json(&bad, Path::new("model.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 inputs for 2 encoded features"), "{e}");
}

/// Parquet files written by pyarrow and pandas (the `parquet` feature).
#[cfg(feature = "parquet")]
mod parquet {
    use super::*;
    use downhill::data::ColumnValues;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tables")
            .join(name)
    }

    /// Cells equal, numbers within `tol` (NaN = NaN, as missing).
    fn same_columns(a: &Frame, b: &Frame, tol: f64) {
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.names(), b.names());
        for (x, y) in a.columns.iter().zip(&b.columns) {
            match (&x.values, &y.values) {
                (ColumnValues::Numbers(u), ColumnValues::Numbers(v)) => {
                    for (i, (p, q)) in u.iter().zip(v).enumerate() {
                        assert!(
                            (p.is_nan() && q.is_nan()) || (p - q).abs() <= tol,
                            "{}: row {i}: {p} vs {q}",
                            x.name
                        );
                    }
                }
                (ColumnValues::Text(_), ColumnValues::Text(_)) => {
                    for r in 0..a.rows {
                        assert_eq!(x.text(r), y.text(r), "{} row {r}", x.name);
                    }
                }
                _ => panic!("column {}: {:?} vs {:?}", x.name, x.values, y.values),
            }
        }
    }

    #[test]
    fn parquet_types_and_nulls_read_like_the_same_csv() {
        // int64 and float32 with nulls and a NaN, bool with a null, dictionary
        // strings, large strings with an "NA" token.
        let pq = frame(&fixture("mixed.parquet"));
        let csv = frame(&fixture("mixed.csv"));
        same_columns(&pq, &csv, 0.0);
        assert_eq!(pq.columns[0].missing(), 1);
        assert_eq!(pq.columns[2].text(0).as_deref(), Some("true"));
        assert!(pq.columns[3].is_missing(2) && pq.columns[4].is_missing(2));
    }

    #[test]
    fn penguins_parquet_from_pandas_matches_the_csv() {
        let pq = frame(&fixture("penguins.parquet"));
        let csv = frame(&penguins_csv());
        same_columns(&pq, &csv, 1e-12);
        assert_eq!(csv.columns.iter().map(|c| c.missing()).sum::<usize>(), 19);
    }

    #[test]
    fn bad_parquet_files_are_errors_naming_the_file() {
        for name in ["not_parquet.parquet", "truncated.parquet"] {
            let e = read_frame(&fixture(name), &FrameOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(name) && e.contains("not a readable Parquet file"),
                "{e}"
            );
        }
    }
}
