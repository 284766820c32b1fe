//! The `old_model` target: see `aiodiff::fuzzing::old_model`.
#![no_main]

use aiodiff::mutator::Mutator;
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

mod interleavings;
mod mutator;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::old_model(data)
);

/// The target's custom mutator, with `aiodiff::mutator::OLD_CODE`.
static MUTATOR: Mutator = Mutator::new(aiodiff::mutator::OLD_CODE);

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let models = (&aiodiff::Old, &aiodiff::New);
    mutator::mutate(&MUTATOR, models, data, (size, max_size), seed)
});
