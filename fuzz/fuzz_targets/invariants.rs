//! The `invariants` target: see `aiodiff::fuzzing::invariants`.
#![no_main]

use aiodiff::mutator::{Code, Mutator};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};

mod interleavings;
mod mutator;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::invariants(data)
);

/// The target's custom mutator, of the new code, with
/// `aiodiff::mutator::NEW_CODE`.
static MUTATOR: Mutator = Mutator::new(Code::New);

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    mutator::mutate(&MUTATOR, data, (size, max_size), seed)
});
