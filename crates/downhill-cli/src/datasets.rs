//! The datasets built into the binary: iris, digits and diabetes (sources
//! and licenses in `data/README.md`).

/// `(file name, CSV bytes)` of an embedded dataset, by name.
pub fn embedded(name: &str) -> Option<(&'static str, &'static [u8])> {
    match name.to_ascii_lowercase().as_str() {
        "iris" => Some(("iris.csv", include_bytes!("../../../data/iris.csv"))),
        "digits" => Some(("digits.csv", include_bytes!("../../../data/digits.csv"))),
        "diabetes" => Some(("diabetes.csv", include_bytes!("../../../data/diabetes.csv"))),
        _ => None,
    }
}

/// The embedded datasets' names.
pub const NAMES: [&str; 3] = ["iris", "digits", "diabetes"];
