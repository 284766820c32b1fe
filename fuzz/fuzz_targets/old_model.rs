//! The `old_model` target: see `aiodiff::fuzzing::old_model`.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod interleavings;

fuzz_target!(
    init: interleavings::init(),
    |data: &[u8]| aiodiff::fuzzing::old_model(data)
);
