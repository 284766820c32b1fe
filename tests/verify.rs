//! The verdict on the patch as a test: `verify` over the whole catalogue
//! reports no regression and no divergence. Ignored by default, as it
//! takes half a minute in release and longer in the test profile; run it
//! with `cargo test --release --test verify -- --ignored`. It is the test
//! the mutation testing of model-new runs (BENCHMARKS.md).

use aiodiff::explore::ExploreOptions;
use aiodiff::{catalogue::catalogue, verify::verify, RefusalTable};

#[test]
#[ignore]
fn the_patch_introduces_no_regression_and_no_divergence() {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let budget = ExploreOptions::default().max_executions;
    let v = verify(
        &catalogue(),
        &RefusalTable::default(),
        jobs,
        budget,
        None,
        &|_| {},
    );
    let reported: Vec<&str> = v
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.class,
                aiodiff::Class::NewOnly | aiodiff::Class::Divergence
            )
        })
        .map(|f| f.signature.as_str())
        .collect();
    assert!(!v.failed, "verify reports {reported:?}");
    assert!(
        v.complete(),
        "the budget stopped {} scenario(s)",
        v.stopped()
    );
}
