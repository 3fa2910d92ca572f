//! The expression language of `downhill minimize`.
