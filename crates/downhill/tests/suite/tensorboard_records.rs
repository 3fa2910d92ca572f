//! Event files as written by `EventWriter`, read back in Rust: every record
//! decodes to the event that was logged, and a file cut at any byte reads up
//! to its last complete record (as a crash mid-write would leave it).

use downhill::train::tensorboard::proto::{Event, Kind, What};
use downhill::train::tensorboard::{append_record, read_records, EventWriter, RecordsEnd};
use proptest::prelude::*;
use prost::Message;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("downhill-tbrec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn every_record_decodes_to_the_logged_event() {
    let dir = temp_dir("decode");
    let mut w = EventWriter::create(&dir).unwrap();
    for step in 1..=50 {
        w.add_scalar("loss", 1.0 / step as f64, step);
    }
    w.add_histogram("w", &[1.0, 2.0, 3.0], 50);
    w.flush().unwrap();
    let name = w.path().file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let bytes = std::fs::read(w.path()).unwrap();
    let (records, end) = read_records(&bytes);
    assert_eq!(end, RecordsEnd::Clean);
    assert_eq!(records.len(), 52);
    let first = Event::decode(records[0]).unwrap();
    assert_eq!(first.what, Some(What::FileVersion("brain.Event:2".into())));
    let mut last_time = first.wall_time;
    for (i, r) in records[1..51].iter().enumerate() {
        let e = Event::decode(*r).unwrap();
        assert_eq!(e.step, i as i64 + 1);
        assert!(e.wall_time >= last_time);
        last_time = e.wall_time;
        let Some(What::Summary(s)) = e.what else {
            panic!("a summary")
        };
        assert_eq!(s.value[0].tag, "loss");
        assert_eq!(
            s.value[0].kind,
            Some(Kind::SimpleValue((1.0 / (i + 1) as f64) as f32))
        );
    }
    let e = Event::decode(records[51]).unwrap();
    let Some(What::Summary(s)) = e.what else {
        panic!("a summary")
    };
    let Some(Kind::Histo(h)) = &s.value[0].kind else {
        panic!("a histogram")
    };
    assert_eq!(
        (h.num, h.sum, h.bucket.iter().sum::<f64>()),
        (3.0, 6.0, 3.0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_cut_at_any_byte_reads_up_to_its_last_complete_record() {
    let dir = temp_dir("cut");
    let mut w = EventWriter::create(&dir).unwrap();
    for step in 1..=20 {
        w.add_scalar("step/loss", step as f64, step);
        if step % 5 == 0 {
            w.add_histogram("weights/w", &[0.1 * step as f64, -1.0, 2.0], step);
        }
    }
    w.flush().unwrap();
    let bytes = std::fs::read(w.path()).unwrap();
    let (all, _) = read_records(&bytes);
    let ends: Vec<usize> = all
        .iter()
        .scan(0, |at, r| {
            *at += r.len() + 16;
            Some(*at)
        })
        .collect();
    assert_eq!(*ends.last().unwrap(), bytes.len());
    for cut in 0..=bytes.len() {
        let (records, end) = read_records(&bytes[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(records, all[..complete], "cut at byte {cut}");
        let clean = cut == 0 || ends.contains(&cut);
        assert_eq!(
            end == RecordsEnd::Clean,
            clean,
            "cut at byte {cut}: {end:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    /// Any payloads, any cut: the complete records come back unchanged and
    /// the rest is reported as truncated, never as data.
    #[test]
    fn random_records_survive_any_cut(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..12),
        cut_frac in 0.0f64..=1.0,
    ) {
        let mut file = Vec::new();
        let mut ends = vec![];
        for p in &payloads {
            append_record(&mut file, p);
            ends.push(file.len());
        }
        let cut = (file.len() as f64 * cut_frac) as usize;
        let (records, end) = read_records(&file[..cut]);
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        prop_assert_eq!(records.len(), complete);
        for (r, p) in records.iter().zip(&payloads) {
            prop_assert_eq!(*r, p.as_slice());
        }
        let at_boundary = cut == 0 || ends.contains(&cut);
        prop_assert_eq!(end == RecordsEnd::Clean, at_boundary);
    }
}
