//! `train::plot` end to end: every function writes a PNG (signature, IHDR
//! size) and an SVG (`<svg`, series names), and survives awkward input.
//!
//! With `DOWNHILL_PLOT_SAMPLES=DIR` set, `samples` also writes one plot of
//! each kind to DIR for a person to look at.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use downhill::train::plot::{
    bounding_box, contour_path, line_chart, training_curves, Chart, Series,
};
use downhill::Error;

/// A fresh, empty directory under the system temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("downhill-plots-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks the PNG signature and returns the IHDR width and height.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    assert_eq!(b[24], 8, "bit depth");
    assert!(b.len() > 1000, "suspiciously small PNG");
    (be(16), be(20))
}

fn svg_text(path: &Path, names: &[&str]) -> String {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains("<svg"), "{}: not an SVG", path.display());
    assert!(s.trim_end().ends_with("</svg>"));
    for n in names {
        assert!(s.contains(n), "{}: no {n:?}", path.display());
    }
    s
}

/// The directory holds only `names` (no stray temp files).
fn only_files(dir: &Path, names: &[&str]) {
    let mut got: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

fn curves() -> (Vec<Series>, Vec<Series>) {
    let train: Vec<f64> = (0..40)
        .map(|e| 2.0 * (-0.12 * e as f64).exp() + 0.05)
        .collect();
    let val: Vec<f64> = train
        .iter()
        .enumerate()
        .map(|(e, l)| l * 1.1 + 0.002 * e as f64)
        .collect();
    let acc: Vec<f64> = train.iter().map(|l| 1.0 - l / 2.5).collect();
    (
        vec![
            Series::per_epoch("train loss", &train),
            Series::per_epoch("validation loss", &val),
        ],
        vec![Series::per_epoch("validation accuracy", &acc)],
    )
}

/// A function of two variables, as `contour_path` takes it.
type Field = dyn Fn(f64, f64) -> f64;

fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn gd_trail() -> Vec<(f64, f64)> {
    let (mut x, mut y) = (-1.5f64, 2.0f64);
    let mut trail = vec![(x, y)];
    for _ in 0..3000 {
        let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
        let gy = 200.0 * (y - x * x);
        x -= 1e-3 * gx;
        y -= 1e-3 * gy;
        trail.push((x, y));
    }
    trail
}

#[test]
fn line_chart_png_and_svg() {
    let dir = temp_dir("line");
    let (loss, _) = curves();
    let chart = Chart {
        title: "loss",
        x_label: "epoch",
        y_label: "loss",
        ..Chart::default()
    };
    line_chart(&dir.join("a.png"), &chart, &loss).unwrap();
    assert_eq!(png_size(&dir.join("a.png")), (900, 560));
    line_chart(&dir.join("a.svg"), &chart, &loss).unwrap();
    svg_text(
        &dir.join("a.svg"),
        &["train loss", "validation loss", "epoch"],
    );
    let custom = Chart {
        width: 640,
        height: 480,
        log_y: true,
        ..chart
    };
    line_chart(&dir.join("b.PNG"), &custom, &loss).unwrap();
    assert_eq!(png_size(&dir.join("b.PNG")), (640, 480));
    only_files(&dir, &["a.png", "a.svg", "b.PNG"]);
}

#[test]
fn line_chart_edge_cases_draw_without_panicking() {
    let dir = temp_dir("edge");
    let cases: Vec<(&str, Vec<Series>)> = vec![
        ("no-series", vec![]),
        ("empty", vec![Series::new("nothing", vec![])]),
        ("one-point", vec![Series::new("single", vec![(3.0, 0.5)])]),
        ("constant", vec![Series::per_epoch("flat", &[2.0; 10])]),
        ("zeros", vec![Series::per_epoch("zero", &[0.0; 5])]),
        (
            "nan",
            vec![Series::new(
                "holes",
                vec![
                    (1.0, 1.0),
                    (2.0, f64::NAN),
                    (f64::INFINITY, 3.0),
                    (4.0, f64::NEG_INFINITY),
                    (5.0, 2.0),
                ],
            )],
        ),
        (
            "all-nan",
            vec![Series::new("void", vec![(f64::NAN, f64::NAN)])],
        ),
        (
            "huge",
            vec![Series::new("huge", vec![(0.0, -1e308), (1.0, 1e308)])],
        ),
        (
            "negative-log",
            vec![Series::per_epoch("neg", &[-1.0, 2.0, 5.0])],
        ),
    ];
    for (tag, series) in &cases {
        for ext in ["png", "svg"] {
            let path = dir.join(format!("{tag}.{ext}"));
            let chart = Chart {
                title: tag,
                log_y: true,
                ..Chart::default()
            };
            line_chart(&path, &chart, series).unwrap_or_else(|e| panic!("{tag}.{ext}: {e}"));
            if ext == "png" {
                assert_eq!(png_size(&path), (900, 560));
            } else {
                let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
                svg_text(&path, &names);
            }
        }
    }
}

#[test]
fn training_curves_png_and_svg() {
    let dir = temp_dir("curves");
    let (loss, metrics) = curves();
    training_curves(&dir.join("c.png"), "digits MLP", &loss, &metrics).unwrap();
    assert_eq!(png_size(&dir.join("c.png")), (1400, 560));
    training_curves(&dir.join("c.svg"), "digits MLP", &loss, &metrics).unwrap();
    svg_text(
        &dir.join("c.svg"),
        &[
            "digits MLP",
            "train loss",
            "validation loss",
            "validation accuracy",
        ],
    );
    // A panel with no series is omitted: one panel, narrower image.
    training_curves(&dir.join("loss-only.png"), "", &loss, &[]).unwrap();
    assert_eq!(png_size(&dir.join("loss-only.png")), (900, 560));
    training_curves(&dir.join("metrics-only.svg"), "t", &[], &metrics).unwrap();
    let s = svg_text(&dir.join("metrics-only.svg"), &["validation accuracy"]);
    assert!(!s.contains("train loss"));
    training_curves(&dir.join("nothing.png"), "empty", &[], &[]).unwrap();
    assert_eq!(png_size(&dir.join("nothing.png")), (900, 560));
}

#[test]
fn contour_path_png_and_svg() {
    let dir = temp_dir("contour");
    let trail = gd_trail();
    let (xr, yr) = bounding_box(&trail, 0.15);
    assert!(
        xr.0 < -1.5 && xr.1 > 1.0 && yr.0 < 1.0 && yr.1 > 2.0,
        "{xr:?} {yr:?}"
    );
    contour_path(
        &dir.join("r.png"),
        "Rosenbrock",
        &rosenbrock,
        xr,
        yr,
        ("x", "y"),
        &trail,
    )
    .unwrap();
    assert_eq!(png_size(&dir.join("r.png")), (900, 720));
    contour_path(
        &dir.join("r.svg"),
        "Rosenbrock",
        &rosenbrock,
        xr,
        yr,
        ("x", "y"),
        &trail,
    )
    .unwrap();
    let s = svg_text(&dir.join("r.svg"), &["Rosenbrock", "start", "end"]);
    assert!(s.len() < 3_000_000, "SVG of {} bytes", s.len());
}

#[test]
fn contour_path_edge_cases() {
    let dir = temp_dir("contour-edge");
    let nan_half = |x: f64, y: f64| if x < 0.0 { f64::NAN } else { x * x + y * y };
    let flat = |_: f64, _: f64| 1.0;
    let never = |_: f64, _: f64| f64::INFINITY;
    let fs: [(&str, &Field); 3] = [("nan-half", &nan_half), ("flat", &flat), ("never", &never)];
    let trails: [&[(f64, f64)]; 3] = [
        &[],
        &[(0.5, 0.5)],
        &[(f64::NAN, 0.0), (0.1, 0.2), (9.0, 9.0)],
    ];
    for (tag, f) in fs {
        for (k, trail) in trails.iter().enumerate() {
            for ext in ["png", "svg"] {
                let path = dir.join(format!("{tag}-{k}.{ext}"));
                contour_path(&path, tag, f, (-1.0, 1.0), (-1.0, 1.0), ("a", "b"), trail)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
    let bad = contour_path(
        &dir.join("bad.png"),
        "",
        &flat,
        (1.0, 1.0),
        (0.0, 1.0),
        ("a", "b"),
        &[],
    );
    assert!(
        matches!(bad, Err(Error::InvalidArgument { ref name, .. }) if name == "x_range"),
        "{bad:?}"
    );
    let bad = contour_path(
        &dir.join("bad.svg"),
        "",
        &flat,
        (0.0, 1.0),
        (0.0, f64::NAN),
        ("a", "b"),
        &[],
    );
    assert!(
        matches!(bad, Err(Error::InvalidArgument { ref name, .. }) if name == "y_range"),
        "{bad:?}"
    );
}

#[test]
fn bounding_box_cases() {
    assert_eq!(bounding_box(&[], 0.1), ((-1.0, 1.0), (-1.0, 1.0)));
    assert_eq!(
        bounding_box(&[(0.0, 0.0), (2.0, 4.0)], 0.5),
        ((-1.0, 3.0), (-2.0, 6.0))
    );
    let ((x0, x1), (y0, y1)) = bounding_box(&[(3.0, -2.0), (f64::NAN, 100.0)], 0.1);
    assert!(x0 < 3.0 && x1 > 3.0 && y0 < -2.0 && y1 > -2.0 && y1 < 0.0);
}

#[test]
fn bad_extension_is_invalid_argument() {
    let dir = temp_dir("ext");
    for name in ["plot.jpg", "plot", "plot.png.txt"] {
        let path = dir.join(name);
        let e = line_chart(&path, &Chart::default(), &[]).unwrap_err();
        match e {
            Error::InvalidArgument { name, message } => {
                assert_eq!(name, path.display().to_string());
                assert!(message.contains(".png"), "{message}");
            }
            e => panic!("{e:?}"),
        }
        let (l, m) = curves();
        assert!(matches!(
            training_curves(&path, "", &l, &m),
            Err(Error::InvalidArgument { .. })
        ));
        let r = contour_path(
            &path,
            "",
            &rosenbrock,
            (0.0, 1.0),
            (0.0, 1.0),
            ("x", "y"),
            &[],
        );
        assert!(matches!(r, Err(Error::InvalidArgument { .. })));
    }
    only_files(&dir, &[]);
}

#[test]
fn unwritable_target_is_io_error_without_stray_files() {
    let dir = temp_dir("io");
    let (loss, metrics) = curves();
    // The directory does not exist.
    let missing = dir.join("no-such-dir").join("plot.png");
    match line_chart(&missing, &Chart::default(), &loss) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        r => panic!("{r:?}"),
    }
    // The target is a directory: the temp file is written, the rename fails, and it is removed.
    std::fs::create_dir(dir.join("taken.svg")).unwrap();
    std::fs::create_dir(dir.join("taken.png")).unwrap();
    let taken = dir.join("taken.svg");
    match training_curves(&taken, "t", &loss, &metrics) {
        Err(Error::Io { path, .. }) => assert_eq!(path, taken),
        r => panic!("{r:?}"),
    }
    let taken = dir.join("taken.png");
    let r = contour_path(
        &taken,
        "",
        &rosenbrock,
        (0.0, 1.0),
        (0.0, 1.0),
        ("x", "y"),
        &[],
    );
    assert!(
        matches!(r, Err(Error::Io { ref path, .. }) if *path == taken),
        "{r:?}"
    );
    let msg = line_chart(&taken, &Chart::default(), &loss)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("taken.png"), "{msg}");
    only_files(&dir, &["taken.png", "taken.svg"]);
}

#[test]
fn overwrites_an_existing_plot() {
    let dir = temp_dir("overwrite");
    let path = dir.join("p.svg");
    std::fs::write(&path, "old").unwrap();
    line_chart(
        &path,
        &Chart::default(),
        &[Series::per_epoch("fresh", &[1.0, 2.0])],
    )
    .unwrap();
    svg_text(&path, &["fresh"]);
    only_files(&dir, &["p.svg"]);
}

#[test]
fn samples() {
    let dir = match std::env::var_os("DOWNHILL_PLOT_SAMPLES") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            PathBuf::from(d)
        }
        None => temp_dir("samples"),
    };
    let (loss, metrics) = curves();
    for ext in ["png", "svg"] {
        let chart = Chart {
            title: "Loss (log scale)",
            x_label: "epoch",
            y_label: "loss",
            log_y: true,
            ..Chart::default()
        };
        line_chart(&dir.join(format!("line.{ext}")), &chart, &loss).unwrap();
        training_curves(
            &dir.join(format!("curves.{ext}")),
            "digits: MLP 64-32-10, Adam",
            &loss,
            &metrics,
        )
        .unwrap();
        let trail = gd_trail();
        let (xr, yr) = bounding_box(&trail, 0.15);
        let path = dir.join(format!("contour.{ext}"));
        contour_path(
            &path,
            "Rosenbrock, gradient descent α = 0.001",
            &rosenbrock,
            xr,
            yr,
            ("x", "y"),
            &trail,
        )
        .unwrap();
        let bowl = |x: f64, y: f64| x * x + 4.0 * y * y;
        let trail: Vec<(f64, f64)> = (0..15)
            .map(|k| (2.0 * 0.8f64.powi(k), 1.5 * (-0.6f64).powi(k)))
            .collect();
        let (xr, yr) = bounding_box(&trail, 0.2);
        contour_path(
            &dir.join(format!("bowl.{ext}")),
            "x² + 4y²",
            &bowl,
            xr,
            yr,
            ("x", "y"),
            &trail,
        )
        .unwrap();
    }
}
