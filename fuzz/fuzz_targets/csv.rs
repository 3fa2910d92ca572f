//! Fuzzes the CSV reader: any bytes must give a table or an error naming the
//! line and column, never a panic — with the default options, and with a
//! named target, class labels and non-finite values allowed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.csv");
    let _ = downhill::data::parse_csv(data, path, &Default::default());
    let opts = downhill::data::CsvOptions {
        targets: vec!["y".into()],
        allow_non_finite: true,
        target_optional: true,
        class_labels: Some(vec!["0".into(), "a".into()]),
        ..Default::default()
    };
    let _ = downhill::data::parse_csv(data, path, &opts);
});
