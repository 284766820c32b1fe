//! The `differential` target: see `aiodiff::fuzzing::differential`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aiodiff::fuzzing::differential(data));
