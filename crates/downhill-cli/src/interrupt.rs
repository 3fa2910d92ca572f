//! Ctrl-C and SIGTERM: the first one asks the run to stop after the current
//! step (with a checkpoint and a resumable run directory); a second one
//! stops the process at once, leaving the temporary directory that
//! `--resume` recovers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The exit code of a run stopped by a signal (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Installs the handler once per process and returns the flag it sets.
///
/// The handler runs on its own thread (the `ctrlc` crate), so it may print
/// and exit. If no handler can be installed (one already exists, e.g. in a
/// test harness), the flag is returned unset and signals keep their default
/// action.
pub fn install() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        let _ = ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted again: stopping now (the last checkpoint is kept; resume with --resume)");
                std::process::exit(EXIT_INTERRUPTED);
            }
            eprintln!("interrupt: finishing the current step and saving a checkpoint (press Ctrl-C again to stop at once)");
        });
        flag
    })
    .clone()
}
