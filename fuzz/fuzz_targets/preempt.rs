//! The targets' custom mutator: every other mutation is
//! `aiodiff::mutation::preempt` (a switch to another task at a conflict
//! the run reaches), the rest libFuzzer's own. For comparison,
//! `AIODIFF_PREEMPT=0` leaves libFuzzer's alone and
//! `AIODIFF_PREEMPT=uniform` switches at any step instead.

use std::sync::OnceLock;

use aiodiff::mutation::Cut;

/// `data[..size]` mutated in place, as `fuzz_mutator!` asks, preempting
/// runs of `model`, the code the target runs; the new size.
pub fn mutate<M: kernel_sim::AioModel>(
    model: &M,
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
) -> usize {
    static CUT: OnceLock<Option<Cut>> = OnceLock::new();
    let cut = CUT.get_or_init(|| match std::env::var("AIODIFF_PREEMPT").as_deref() {
        Ok("0") => None,
        Ok("uniform") => Some(Cut::Uniform),
        _ => Some(Cut::Conflicts),
    });
    if let (Some(cut), 0) = (cut, seed % 2) {
        if let Some(m) = aiodiff::mutation::preempt(model, &data[..size], seed / 2, *cut) {
            if m.len() <= max_size {
                data[..m.len()].copy_from_slice(&m);
                return m.len();
            }
        }
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
}
