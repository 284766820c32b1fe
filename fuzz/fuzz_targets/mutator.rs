//! The targets' custom mutator: most mutations are structure-aware, made
//! by `aiodiff::mutator::Mutator` (preemptions of the target's run or of
//! the other version's, which the target's code follows, catalogue draws
//! and scenario edits, as the target's shares say). The rest are
//! libFuzzer's own, which change any byte. `AIODIFF_PREEMPT=0` leaves
//! libFuzzer's alone, for comparison.

use std::sync::OnceLock;

use aiodiff::mutator::Mutator;

/// `data[..size]` mutated in place, as `fuzz_mutator!` asks, by `mutator`;
/// the new size.
pub fn mutate(
    mutator: &Mutator,
    data: &mut [u8],
    (size, max_size): (usize, usize),
    seed: u32,
) -> usize {
    static ON: OnceLock<bool> = OnceLock::new();
    let on = ON.get_or_init(|| std::env::var_os("AIODIFF_PREEMPT").is_none_or(|v| v != "0"));
    let mutated = match on {
        true => mutator.mutate(&data[..size], seed),
        false => None,
    };
    if let Some(m) = mutated.filter(|m| m.len() <= max_size) {
        data[..m.len()].copy_from_slice(&m);
        return m.len();
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
}
