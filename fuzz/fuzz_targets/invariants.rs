//! The `invariants` target: see `aiodiff::fuzzing::invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod interleavings;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::invariants(data)
);
