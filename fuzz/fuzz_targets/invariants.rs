//! The `invariants` target: see `aiodiff::fuzzing::invariants`.
#![no_main]

use aiodiff::mutator::Mutator;
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

mod interleavings;
mod mutator;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::invariants(data)
);

/// The target's custom mutator, with `aiodiff::mutator::NEW_CODE`.
static MUTATOR: Mutator = Mutator::new(aiodiff::mutator::NEW_CODE);

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let models = (&aiodiff::New, &aiodiff::Old);
    mutator::mutate(&MUTATOR, models, data, (size, max_size), seed)
});
