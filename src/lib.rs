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
pub mod fuzzing;
pub mod hunt;
pub mod minimize;
pub mod nearby;
pub mod oracle;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod strategy;
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
/// outcomes with `table`. `tracing` keeps the full traces. A divergence
/// between safe outcomes stays unconfirmed; see [`check_case_with_skew`].
pub fn check_case(case: &Case, table: &RefusalTable, tracing: bool) -> Checked {
    check(case, table, tracing, None)
}

/// [`check_case`], confirming or ruling out skew with `skew`: a divergence
/// between safe outcomes is skew when the old code reaches the new outcome
/// under another schedule.
pub fn check_case_with_skew(
    case: &Case,
    table: &RefusalTable,
    tracing: bool,
    skew: &mut explore::SkewCache,
) -> Checked {
    check(case, table, tracing, Some(skew))
}

fn check(
    case: &Case,
    table: &RefusalTable,
    tracing: bool,
    skew: Option<&mut explore::SkewCache>,
) -> Checked {
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
    let verdict = match skew {
        None => classify(&old, &new, table, None),
        Some(cache) => classify(
            &old,
            &new,
            table,
            Some(&mut cache.check(&case.scenario, &case.schedule)),
        ),
    };
    Checked { verdict, old, new }
}

/// Preemption bound of the skew check in [`run_case`].
pub const SKEW_PREEMPTIONS: u32 = 1;

/// Executions the skew check's exploration spends on one scenario at most
/// (it adds 256 PCT runs).
pub const SKEW_BUDGET: usize = 4_000;

thread_local! {
    static SKEW: std::cell::RefCell<explore::SkewCache> = std::cell::RefCell::new(
        explore::SkewCache::new(SKEW_PREEMPTIONS, SKEW_BUDGET, RefusalTable::default()),
    );
}

/// Decodes fuzzer bytes, runs both models and returns the verdict, with the
/// default allowed-refusal table and no tracing. A divergence between safe
/// outcomes, or a violation only the new code shows, is checked against the
/// old code's outcomes on the scenario under other schedules (explored once
/// per scenario, with at most [`SKEW_PREEMPTIONS`] preemptions, plus PCT
/// samples, then schedules near the case's): the first becomes skew, the
/// second shared, when the old code gets there too.
pub fn run_case(data: &[u8]) -> Verdict {
    static TABLE: OnceLock<RefusalTable> = OnceLock::new();
    let case = bytes::decode(data);
    let table = TABLE.get_or_init(RefusalTable::default);
    let Checked { verdict, old, new } = check_case(&case, table, false);
    if !matches!(verdict.class, Class::Divergence | Class::NewOnly) {
        return verdict;
    }
    SKEW.with(|cache| {
        let mut cache = cache.borrow_mut();
        let mut check = cache.check(&case.scenario, &case.schedule);
        classify(&old, &new, table, Some(&mut check))
    })
}
