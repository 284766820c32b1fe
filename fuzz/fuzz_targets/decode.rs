//! The `decode` target: see `aiodiff::fuzzing::decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aiodiff::fuzzing::decode(data));
