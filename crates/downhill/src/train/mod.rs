//! Training: the loop (forward, loss, backward, update, repeat until the
//! loss plateaus), its metrics, early stopping, the divergence guard,
//! checkpoints that resume bit-identically, the history file and plots.
//!
//! ```
//! use downhill::data::{BatchSize, TensorDataset};
//! use downhill::loss::MseLoss;
//! use downhill::nn::{Linear, Module};
//! use downhill::optim::Sgd;
//! use downhill::train::{StopReason, TrainConfig, Trainer};
//! use downhill::{Generator, Tensor};
//!
//! // y = 3x − 1 from 64 points, full-batch gradient descent.
//! let xs: Vec<f32> = (0..64).map(|i| i as f32 / 32.0 - 1.0).collect();
//! let ys: Vec<f32> = xs.iter().map(|x| 3.0 * x - 1.0).collect();
//! let data = TensorDataset::regression(Tensor::from_vec(xs, &[64, 1]), &Tensor::from_vec(ys, &[64, 1]));
//! let model = Linear::new(1, 1, true, &mut Generator::new(0));
//! let opt = Sgd::default().lr(0.5).build(model.trainable_parameters()).unwrap();
//! let config = TrainConfig { epochs: 200, batch_size: BatchSize::Full, progress: false, ..TrainConfig::default() };
//! let mut trainer = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config);
//! let report = trainer.fit(&data, None).unwrap();
//! assert_eq!(report.stopped_because, StopReason::Budget);
//! assert!(report.history.last().unwrap().train_loss < 1e-6);
//! ```

mod averaging;
mod checkpoint;
mod comm;
#[cfg(feature = "mpi")]
mod comm_mpi;
mod config;
mod data_parallel;
mod divergence;
mod epoch;
mod epoch_end;
mod epoch_summary;
mod fit;
mod history;
mod lr_find;
pub mod memory;
mod metrics;
mod model_metrics;
#[cfg(feature = "plot")]
pub mod plot;
mod progress;
mod reduced_metrics;
mod resume;
mod rollback;
mod stopping;
pub mod tensorboard;
mod trainer;
mod trainer_averaging;
mod update;

pub use averaging::{SwaConfig, WeightAveraging};
pub use checkpoint::{latest_checkpoint, list_checkpoints, Checkpoint};
pub use comm::{launched_size, Communicator, SingleProcess};
#[cfg(feature = "mpi")]
pub use comm_mpi::MpiCommunicator;
pub use config::{
    Callback, Control, FitInfo, GradientInfo, Report, Schedule, StepInfo, TrainConfig,
};
pub use data_parallel::shard_range;
pub use epoch_summary::EpochSummary;
pub use history::{write_history_csv, EpochRecord};
pub use lr_find::{LrFindConfig, LrFinding, StepMode, SweepEnd};
pub use metrics::{classification_metrics, evaluate, predict, regression_metrics, Metrics};
pub use model_metrics::metrics_on;
pub use reduced_metrics::evaluate_sharded;
pub use stopping::{DivergencePolicy, EarlyStopping, Mode, Monitor, StopReason};
pub use tensorboard::TensorBoard;
pub use trainer::Trainer;
pub use update::{LocalReducer, Reducer};
