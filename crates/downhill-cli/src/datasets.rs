//! The datasets built into the binary: iris, digits, diabetes and penguins
//! (sources and licenses in `data/README.md`).

/// `(file name, CSV bytes)` of an embedded dataset, by name.
pub fn embedded(name: &str) -> Option<(&'static str, &'static [u8])> {
    match name.to_ascii_lowercase().as_str() {
        "iris" => Some(("iris.csv", include_bytes!("../../../data/iris.csv"))),
        "digits" => Some(("digits.csv", include_bytes!("../../../data/digits.csv"))),
        "diabetes" => Some(("diabetes.csv", include_bytes!("../../../data/diabetes.csv"))),
        "penguins" => Some(("penguins.csv", include_bytes!("../../../data/penguins.csv"))),
        _ => None,
    }
}

/// The target of an embedded dataset when it is not the last column.
pub fn default_target(name: &str) -> Option<&'static str> {
    (name.eq_ignore_ascii_case("penguins")).then_some("species")
}

/// The embedded datasets' names.
pub const NAMES: [&str; 4] = ["iris", "digits", "diabetes", "penguins"];
