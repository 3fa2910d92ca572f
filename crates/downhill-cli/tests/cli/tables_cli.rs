//! Tables as they come: text columns, missing cells, a row index, Parquet,
//! and predicting on files that differ from the training file — run as a
//! user runs the binary.

use std::path::{Path, PathBuf};

use crate::common;
use common::{json, ok_output, scratch};

#[cfg(feature = "parquet")]
fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// A penguins model trained with defaults only (shared by the tests).
fn penguins_model(dir: &Path) -> PathBuf {
    let out = dir.join("penguins");
    let o = ok_output(
        dir,
        &[
            "train",
            "--data",
            "penguins",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("data: penguins — 344 rows, "), "{stdout}");
    out
}

#[test]
fn penguins_with_defaults_reach_97_percent_and_predict_follows_the_rules() {
    let dir = scratch("penguins");
    let model = penguins_model(&dir);
    let m = json(&model.join("metrics.json"));
    let acc = m["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.97, "penguins test accuracy {acc}");

    // model.json documents the encoded inputs and the schema.
    let spec = json(&model.join("model.json"));
    assert_eq!(spec["format"], "downhill-model/2");
    let names: Vec<&str> = spec["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for n in [
        "island=Biscoe",
        "island=Dream",
        "island=Torgersen",
        "sex=male",
        "sex=female",
        "sex=<missing>",
        "bill_length_mm",
        "year",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    assert_eq!(
        spec["architecture"]["inputs"].as_u64().unwrap() as usize,
        names.len()
    );

    // Reordered columns, an extra column, an unseen category, missing cells
    // and a target column with a label the model never saw.
    let new = dir.join("new.csv");
    std::fs::write(
        &new,
        "sex,year,body_mass_g,flipper_length_mm,bill_depth_mm,bill_length_mm,island,comment,species\n\
         male,2007,3750,181,18.7,39.1,Torgersen,first row,Adelie\n\
         female,2009,5000,220,14,NA,Biscoe,,Emperor\n\
         NA,2008,4000,200,17,45,Atlantis,?,Gentoo\n",
    )
    .unwrap();
    let o = ok_output(
        &dir,
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            new.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        rows[0], "prediction,p_Adelie,p_Chinstrap,p_Gentoo",
        "{stdout}"
    );
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        rows[1].starts_with("Adelie,"),
        "the first penguin of the file is an Adelie: {stdout}"
    );
    assert!(
        rows[2].starts_with("Gentoo,"),
        "heavy, long flippers, Biscoe: {stdout}"
    );
    assert!(
        stderr.contains("ignored 2 column(s) the model does not use: comment, species"),
        "{stderr}"
    );
    assert!(
        stderr.contains("column \"island\": 1 cell(s) with a category not seen in training"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 missing cell(s) imputed (bill_length_mm 1, sex 1)"),
        "{stderr}"
    );

    // The same row in the training file's order gives the same probabilities.
    let same = dir.join("same.csv");
    std::fs::write(
        &same,
        "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n\
         Adelie,Torgersen,39.1,18.7,181,3750,male,2007\n",
    )
    .unwrap();
    let o = ok_output(
        &dir,
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            same.to_str().unwrap(),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().nth(1),
        Some(rows[1])
    );

    // evaluate on the built-in file reproduces the run's figures on all rows.
    let o = ok_output(
        &dir,
        &[
            "evaluate",
            "--model",
            model.to_str().unwrap(),
            "--data",
            "penguins",
        ],
    );
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(e["accuracy"].as_f64().unwrap() > 0.97, "{e}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing cell(s) imputed"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_reports_kinds_missing_counts_and_the_target() {
    let dir = scratch("inspect");
    let o = ok_output(&dir, &["inspect", "penguins"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("penguins: 344 rows, 8 columns"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {text}"))
            .to_string()
    };
    assert!(
        line("island").contains("categorical") && line("island").contains("one-hot: 3 inputs"),
        "{text}"
    );
    assert!(
        line("sex").contains("11") && line("sex").contains("+ a missing input"),
        "{text}"
    );
    assert!(
        line("bill_length_mm").contains("impute the median"),
        "{text}"
    );
    assert!(
        text.contains("target: species (3 classes), classification (inferred"),
        "{text}"
    );

    let o = ok_output(&dir, &["inspect", "penguins", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sex = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sex")
        .unwrap();
    assert_eq!(
        (
            sex["kind"].as_str(),
            sex["missing"].as_u64(),
            sex["distinct"].as_u64()
        ),
        (Some("categorical"), Some(11), Some(2))
    );
    assert_eq!(
        j["target"]["classes"],
        serde_json::json!(["Adelie", "Chinstrap", "Gentoo"])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_row_index_and_an_id_column_are_dropped_with_a_notice_and_overrides_apply() {
    let dir = scratch("index");
    let mut csv = String::from(",name,x,code,y\n");
    for i in 0..60 {
        csv.push_str(&format!(
            "{i},bird{i},{},{},{}\n",
            i % 7,
            i % 3,
            if i % 2 == 0 { "a" } else { "b" }
        ));
    }
    std::fs::write(dir.join("t.csv"), csv).unwrap();
    let o = ok_output(
        &dir,
        &["train", "--data", "t.csv", "--epochs", "1", "--out", "r1"],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("note: column \"Unnamed: 0\" dropped: counts the rows (0, 1, 2, …)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "note: column \"name\" dropped: text with a distinct value in nearly every row"
        ),
        "{stdout}"
    );
    let spec = json(&dir.join("r1/model.json"));
    assert_eq!(spec["feature_names"], serde_json::json!(["x", "code"]));

    let o = ok_output(
        &dir,
        &[
            "train",
            "--data",
            "t.csv",
            "--epochs",
            "1",
            "--categorical",
            "code",
            "--drop",
            "x",
            "--out",
            "r2",
        ],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("note: column \"x\" dropped: set by --drop")
    );
    let spec = json(&dir.join("r2/model.json"));
    let mut names: Vec<String> = serde_json::from_value(spec["feature_names"].clone()).unwrap();
    names.sort();
    assert_eq!(
        names,
        ["code=0", "code=1", "code=2"],
        "one-hot by frequency, then text"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_written_by_pandas_trains_like_the_csv() {
    let dir = scratch("parquet");
    let pq = repo("crates/downhill/tests/fixtures/tables/penguins.parquet");
    let csv = repo("data/penguins.csv");
    let common = ["train", "--target", "species", "--epochs", "3", "--quiet"];
    let mut a: Vec<&str> = common.to_vec();
    a.extend(["--data", &pq, "--out", "pq"]);
    ok_output(&dir, &a);
    let mut b: Vec<&str> = common.to_vec();
    b.extend(["--data", &csv, "--out", "csv"]);
    ok_output(&dir, &b);
    let (sa, sb) = (
        json(&dir.join("pq/model.json")),
        json(&dir.join("csv/model.json")),
    );
    assert_eq!(
        sa["schema"], sb["schema"],
        "the same schema from Parquet and CSV"
    );
    assert_eq!(
        json(&dir.join("pq/metrics.json"))["test"],
        json(&dir.join("csv/metrics.json"))["test"]
    );
    // predict and inspect read Parquet too.
    ok_output(
        &dir,
        &["predict", "--model", "csv", "--data", &pq, "--out", "p.csv"],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("p.csv"))
            .unwrap()
            .lines()
            .count(),
        345
    );
    let o = ok_output(&dir, &["inspect", &pq, "--target", "species"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("island"));
    let _ = std::fs::remove_dir_all(&dir);
}
