//! aiodiff: a differential harness for the fs/aio.c ring-page migration
//! cleanup. It runs the ports of fs/aio.c from before (`model-old`) and
//! after (`model-new`) the patch on one deterministic kernel simulation
//! (`kernel-sim`), as one interleaving of the events both share, and says
//! whether they agree ([`judge`]).
//!
//! [`run_case`] is the one entry point every engine uses: fuzz targets, the
//! CLI and the tests.

pub mod bytes;
pub mod case;
pub mod catalogue;
pub mod exhaustive;
pub mod explore;
pub mod fuzzing;
pub mod hunt;
pub mod judge;
pub mod minimize;
pub mod mutation;
pub mod mutator;
pub mod races;
pub mod recorded;
pub mod report;
pub mod reshape;
pub mod runner;
pub mod scenario;
pub mod sites;
pub mod strategy;
pub mod swimlane;
pub mod text;
pub mod verify;

pub use case::{Case, Class, Expect};
pub use judge::classify::{classify, RefusalTable, Verdict};
pub use judge::{Judge, Judged};
pub use model_new::New;
pub use model_old::Old;
pub use runner::{run_model, OpResult, Outcome, RunOptions};
pub use scenario::{MigrateFaults, Op, Scenario};

/// Judges `case` with `table`, keeping the runs' traces if `tracing`.
pub fn judge_case(case: &Case, table: &RefusalTable, tracing: bool) -> Judged {
    let judge = Judge::new(table.clone());
    let mut judge = if tracing { judge.traced() } else { judge };
    judge.judge(case)
}

thread_local! {
    static JUDGE: std::cell::RefCell<Judge> =
        std::cell::RefCell::new(Judge::new(RefusalTable::default()));
}

/// Decodes fuzzer bytes and judges the case with the default refusal table
/// ([`Judge::judge`]). The thread's [`Judge`] keeps the scenario
/// explorations it made, which saves their repeats and changes no verdict.
pub fn run_case(data: &[u8]) -> Verdict {
    judge_bytes(data).verdict
}

/// [`run_case`] with the judge's runs beside the verdict.
pub fn judge_bytes(data: &[u8]) -> Judged {
    let case = bytes::decode(data);
    JUDGE.with(|judge| judge.borrow_mut().judge(&case))
}
