//! A deterministic simulation of the Linux v3.14 kernel pieces that
//! fs/aio.c's ring code uses.
//!
//! Simulated kernel threads are `async` tasks on a single-threaded executor
//! ([`exec`]). Every operation on shared kernel state is a labelled
//! scheduling point ([`label`]) performed through [`Kernel::act`], so a
//! [`exec::Scheduler`] decides every interleaving, and a run is a pure
//! function of the scheduler's decisions. The mm/ substrate (page lock,
//! refcounts, page cache, LRU, truncate, migration) exists once here, under
//! the kernel's function names, and both ports of fs/aio.c call it.
//!
//! Checks never panic: they record a [`violation::Violation`] with the task
//! and label that revealed it. See [`check`] for the end-of-run oracles.

pub mod check;
pub mod errno;
pub mod exec;
pub mod filemap;
pub mod fingerprint;
pub mod fs;
pub mod history;
pub mod interleaving;
pub mod kernel;
pub mod label;
pub mod ledger;
pub mod locks;
pub mod migrate;
pub mod mm;
pub mod model;
pub mod objects;
pub mod segments;
pub mod site;
pub mod swap;
#[cfg(test)]
mod testing;
pub mod trace;
pub mod truncate;
pub mod violation;

pub use exec::{Replay, RunEnd, RunToBlock, SchedView, Scheduler, TaskFuture, TaskId, TaskSet};
pub use fingerprint::Observations;
pub use history::{
    Access, Call, EventKey, FastMap, Footprint, History, Obj, Pool, SharedEvent, Touch,
};
pub use kernel::{Config, Faults, Kernel, Note, State, Status, TaskSlot};
pub use label::{Arg, Field, Func, Label, LockName, OpKind, PageFlag, PageRole};
pub use ledger::{Holder, Leaked, Reference};
pub use migrate::{AddressSpaceOps, MigrateMode, MigrateResult};
pub use mm::PageId;
pub use model::AioModel;
pub use objects::{CtxId, FileId, InodeId, RingPagesPtr};
pub use segments::{LabelPattern, Segment, Segments};
pub use site::ReturnSite;
pub use trace::{Effect, Event};
pub use violation::{Violation, ViolationKind};
