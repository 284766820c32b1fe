//! aiodiff: a differential harness for the fs/aio.c ring-page migration
//! cleanup. It runs the ports of fs/aio.c from before (`model-old`) and
//! after (`model-new`) the patch on one deterministic kernel simulation
//! (`kernel-sim`) and compares what they do.

pub mod case;
pub mod runner;
pub mod scenario;
pub mod text;

pub use model_new::New;
pub use model_old::Old;
pub use runner::{run_model, OpResult, Outcome};
pub use scenario::{MigrateFaults, Op, Scenario};
