//! TensorBoard event files, written without Python: TFRecord framing with
//! masked CRC-32C checksums (`record`), `Event`/`Summary` protocol
//! buffers encoded with `prost` ([`proto`]), scalars, histograms and the
//! HParams plugin's summaries, and the [`TensorBoard`] trainer callback.
//!
//! `tensorboard --logdir DIR` reads the files as it reads PyTorch's
//! `SummaryWriter` or Keras' output.

mod callback;
mod histogram;
mod hparams;
pub mod proto;
mod reader;
mod record;
mod writer;

pub use callback::TensorBoard;
pub use histogram::histogram;
pub use hparams::{
    session_end_value, HParam, HParams, SessionStatus, EXPERIMENT_TAG, SESSION_END_TAG,
    SESSION_START_TAG,
};
pub use reader::read_event_file;
pub use record::{append_record, masked_crc32c, read_records, RecordsEnd};
pub use writer::{scalar, wall_time, EventWriter};
