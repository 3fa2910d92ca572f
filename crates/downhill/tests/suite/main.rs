//! The integration tests of the library, in one binary: each module is
//! one concern (a reference comparison, a trainer feature, a reader).
//! Tests that need a process of their own stay apart: a counting
//! allocator (`alloc_per_step`, `memory_refusal`), the resident set
//! (`memory_flat`) and `mpirun` (`mpi`, `mpi_train`).

mod common;

mod activations_reference;
mod averaging_reference;
mod config_validation;
mod data_readers;
mod digits_convergence;
mod gradcheck_ops;
mod loss_gradcheck;
mod loss_reference;
mod lr_find_reference;
mod nn_layers;
mod ops_values;
mod optim_reference;
#[cfg(feature = "plot")]
mod plots;
mod safetensors_interop;
mod schedule_reference;
mod swalr_reference;
mod tables;
mod tensorboard_python;
mod tensorboard_records;
mod torch_batch_norm;
mod torch_conv_pool;
mod trainer_averaging;
mod trainer_interrupt;
mod trainer_lbfgs;
mod trainer_rollback;
mod trainer_schedule_free;
mod training;
