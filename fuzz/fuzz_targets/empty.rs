//! A target that does nothing, built like the others: the libFuzzer
//! throughput ceiling the benchmarks compare against.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(data);
});
