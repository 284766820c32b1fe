//! The `old_model` target: see `aiodiff::fuzzing::old_model`.
#![no_main]

use aiodiff::mutator::{Code, Mutator};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

mod interleavings;
mod mutator;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::old_model(data)
);

/// The target's custom mutator, of the old code, with
/// `aiodiff::mutator::OLD_CODE`.
static MUTATOR: Mutator = Mutator::new(Code::Old);

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    mutator::mutate(&MUTATOR, data, (size, max_size), seed)
});
