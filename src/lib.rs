//! aiodiff: a differential harness for the fs/aio.c ring-page migration
//! cleanup. It runs the ports of fs/aio.c from before (`model-old`) and
//! after (`model-new`) the patch on one deterministic kernel simulation
//! (`kernel-sim`), under the same label-aligned schedule, and says whether
//! they agree.
//!
//! [`run_case`] is the one entry point every engine uses: fuzz targets, the
//! CLI and the tests.

pub mod bytes;
pub mod case;
pub mod catalogue;
pub mod explore;
pub mod minimize;
pub mod oracle;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod swimlane;
pub mod text;
pub mod verify;

use std::sync::OnceLock;

use kernel_sim::Segments;

pub use case::{Case, Class, Expect};
pub use model_new::New;
pub use model_old::Old;
pub use oracle::{classify, RefusalTable, Verdict};
pub use runner::{run_model, OpResult, Outcome, RunOptions};
pub use scenario::{MigrateFaults, Op, Scenario};

/// Both models' outcomes on one case, and the verdict.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The verdict.
    pub verdict: Verdict,
    /// What the pre-patch code did.
    pub old: Outcome,
    /// What the post-patch code did.
    pub new: Outcome,
}

/// Runs both models on `case` under its schedule and classifies the
/// outcomes with `table`. `tracing` keeps the full traces.
pub fn check_case(case: &Case, table: &RefusalTable, tracing: bool) -> Checked {
    let opts = if tracing {
        RunOptions::TRACED
    } else {
        RunOptions::QUIET
    };
    let old = run_model(
        &Old,
        &case.scenario,
        &mut Segments::new(case.schedule.clone()),
        opts,
    );
    let new = run_model(
        &New,
        &case.scenario,
        &mut Segments::new(case.schedule.clone()),
        opts,
    );
    let verdict = classify(&old, &new, table, None);
    Checked { verdict, old, new }
}

/// Decodes fuzzer bytes, runs both models and returns the verdict, with the
/// default allowed-refusal table and no tracing.
pub fn run_case(data: &[u8]) -> Verdict {
    static TABLE: OnceLock<RefusalTable> = OnceLock::new();
    let case = bytes::decode(data);
    check_case(&case, TABLE.get_or_init(RefusalTable::default), false).verdict
}
