//! Fuzzes the table reader (`parse_csv_frame`: text columns, missing
//! cells, parts read in parallel, the plain and the quoted reader): any
//! bytes give a frame or an error naming the line and column, never a panic
//! — with the default options, and with `;` as the delimiter.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.csv");
    let _ = downhill::data::parse_csv_frame(data, path, &Default::default());
    let opts = downhill::data::FrameOptions {
        delimiter: b';',
        na_values: Some(vec!["-".into(), "0".into()]),
    };
    let _ = downhill::data::parse_csv_frame(data, path, &opts);
});
