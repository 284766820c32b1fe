//! Helpers for the substrate's unit tests.

use std::future::Future;

use crate::exec::{RunEnd, RunToBlock, Scheduler, TaskFuture};
use crate::kernel::{Config, Kernel};
use crate::label::Func;
use crate::mm::PageId;
use crate::objects::InodeId;

/// A kernel with one empty mapping.
pub fn kernel_with_mapping() -> (Kernel, InodeId) {
    let k = Kernel::new(Config::default());
    let m = k.st.borrow_mut().new_inode();
    (k, m)
}

/// Runs one task body inside a frame of `func`.
pub fn run_one<'k>(k: &'k Kernel, body: impl Future<Output = ()> + 'k) -> RunEnd {
    k.run(vec![Box::pin(body)], &mut RunToBlock)
}

/// Runs several task bodies under `sched`.
pub fn run_many<'k>(
    k: &'k Kernel,
    tasks: Vec<TaskFuture<'k>>,
    sched: &mut dyn Scheduler,
) -> RunEnd {
    k.run(tasks, sched)
}

/// The current counts of `pages`.
pub fn counts(k: &Kernel, pages: &[PageId]) -> Vec<i32> {
    k.inspect(|st| pages.iter().map(|p| st.pages[p.index()].count).collect())
}

/// The trace as text lines.
pub fn lines(k: &Kernel) -> Vec<String> {
    k.trace().iter().map(|e| e.to_string()).collect()
}

/// The frame the helpers' task bodies run in.
pub const TEST_FUNC: Func = Func::IoSetup;
