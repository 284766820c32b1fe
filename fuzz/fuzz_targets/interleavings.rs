//! libFuzzer's extra counters, filled with each run's interleaving
//! features (`aiodiff::fuzzing::count_interleavings`), so that libFuzzer
//! keeps an input that interleaves the tasks in a new way even where it
//! covers no new code. On when `AIODIFF_INTERLEAVINGS` is set, and always
//! in a build by `without-sancov.sh`.

use std::sync::atomic::{AtomicU8, Ordering};

/// How many counters: features are hashed onto them, so that features
/// sharing a counter count as one. The targets' corpora hold a few
/// thousand distinct features (1 882 in a grown corpus of 999 inputs).
/// 2 048 counters merge many of them, and the bare simulator's build
/// then keeps half the corpus that 16 384 kept, which finds the rows
/// that need five or more switches sooner (BENCHMARKS.md, "Fewer
/// interleaving counters").
const COUNTERS: usize = 1 << 11;

/// libFuzzer reads this section as coverage beside the compiler's counters
/// and clears it before each run.
#[used]
#[link_section = "__libfuzzer_extra_counters"]
static EXTRA: [AtomicU8; COUNTERS] = [const { AtomicU8::new(0) }; COUNTERS];

fn count(features: &[u32]) {
    for &f in features {
        let c = &EXTRA[f as usize % COUNTERS];
        c.store(
            c.load(Ordering::Relaxed).saturating_add(1),
            Ordering::Relaxed,
        );
    }
}

/// Registers the counters with the targets, if `AIODIFF_INTERLEAVINGS` is
/// set or the simulator was built without coverage (`without-sancov.sh`),
/// where they are the fuzzer's only view of what a run did.
pub fn init() {
    if cfg!(aiodiff_bare_simulator) || std::env::var_os("AIODIFF_INTERLEAVINGS").is_some() {
        aiodiff::fuzzing::count_interleavings(count);
    }
}
