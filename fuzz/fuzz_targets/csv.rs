//! Fuzzes the CSV reader: any bytes must give a table or an error naming the
//! line and column, never a panic. (Disabled in Cargo.toml until
//! `downhill::data::parse_csv` lands on this branch.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = downhill::data::parse_csv(data, Path::new("fuzz.csv"), &Default::default());
});
