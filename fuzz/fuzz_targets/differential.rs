//! The `differential` target: see `aiodiff::fuzzing::differential`.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};

mod interleavings;
mod mutator;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::differential(data)
);

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let (models, shares) = ((&aiodiff::New, &aiodiff::Old), aiodiff::mutation::NEW_CODE);
    mutator::mutate(models, shares, data, (size, max_size), seed)
});
