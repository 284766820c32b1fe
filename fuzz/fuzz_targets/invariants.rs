//! The `invariants` target: see `aiodiff::fuzzing::invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aiodiff::fuzzing::invariants(data));
