//! The targets' custom mutator: three mutations in four are
//! `aiodiff::mutation::preempt` (a switch to another task at a step the
//! run reaches), the rest libFuzzer's own, which change the scenario.
//! `AIODIFF_PREEMPT=0` leaves libFuzzer's alone, for comparison.

use std::sync::OnceLock;

/// `data[..size]` mutated in place, as `fuzz_mutator!` asks, preempting
/// runs of `model`, the code the target runs; the new size.
pub fn mutate<M: kernel_sim::AioModel>(
    model: &M,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
) -> usize {
    static ON: OnceLock<bool> = OnceLock::new();
    let on = ON.get_or_init(|| std::env::var_os("AIODIFF_PREEMPT").is_none_or(|v| v != "0"));
    if *on && !seed.is_multiple_of(4) {
        if let Some(m) = aiodiff::mutation::preempt(model, &data[..size], seed / 4) {
            if m.len() <= max_size {
                data[..m.len()].copy_from_slice(&m);
                return m.len();
            }
        }
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
}
