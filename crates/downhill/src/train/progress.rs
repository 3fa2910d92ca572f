//! The progress bar: epoch, loss, validation metric, learning rate, ETA.
//! Without the `progress` feature no bar is drawn; log lines still print.

#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Stands in for indicatif's bar when the `progress` feature is off: never
/// constructed, so every method below sees `None`.
#[cfg(not(feature = "progress"))]
enum ProgressBar {}

#[cfg(not(feature = "progress"))]
impl ProgressBar {
    fn set_position(&self, _: u64) {
        match *self {}
    }
    fn inc(&self, _: u64) {
        match *self {}
    }
    fn set_message(&self, _: String) {
        match *self {}
    }
    fn println(&self, _: String) {
        match *self {}
    }
    fn finish_and_clear(&self) {
        match *self {}
    }
}

/// A progress bar over a run's steps, drawn on standard error only when it
/// is a terminal (and not at all when quiet).
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    #[cfg(not(feature = "progress"))]
    pub(crate) fn new(_total_steps: u64, _enabled: bool) -> Self {
        Progress { bar: None }
    }

    #[cfg(feature = "progress")]
    pub(crate) fn new(total_steps: u64, enabled: bool) -> Self {
        use std::io::IsTerminal;
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:16}] {pos}/{len} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is drawn (skip formatting messages otherwise).
    pub(crate) fn visible(&self) -> bool {
        self.bar.is_some()
    }

    pub(crate) fn set_position(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    pub(crate) fn inc(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub(crate) fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg);
        }
    }

    /// Prints a line above the bar (or to standard error without one).
    pub(crate) fn println(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
