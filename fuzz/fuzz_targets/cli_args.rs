//! `downhill` on any argument vector (train, minimize, predict, evaluate),
//! in-process through `downhill_cli::run`: it returns an exit code (0, 1 or
//! 2) and never panics. See `argv.rs` for how the bytes become arguments.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "argv.rs"]
mod argv;

static CONTEXT: OnceLock<argv::Context> = OnceLock::new();
static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let ctx = CONTEXT.get_or_init(argv::context);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let (args, out) = argv::argv(data, ctx, run);
    let code = downhill_cli::run(args.clone());
    let _ = std::fs::remove_dir_all(&out);
    assert!(matches!(code, 0..=2), "{args:?} exited {code}");
});
