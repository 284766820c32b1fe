//! The `differential` target: see `aiodiff::fuzzing::differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod interleavings;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::differential(data)
);
