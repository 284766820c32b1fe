//! The targets' custom mutator: most mutations are structure-aware,
//! `aiodiff::mutation::preempt` (a switch to another task at a step the
//! run reaches) and, for `old_model`, `aiodiff::mutation::preempt_followed`
//! (the same switch in the new code's run, which the old code follows),
//! `aiodiff::mutation::drawn_followed` (the same of a scenario drawn from
//! the catalogue) and `aiodiff::reshape::reshape` (one edit of the
//! scenario); where a preemption finds no switch to make, `old_model`
//! draws a scenario from the catalogue (`aiodiff::reshape::from_catalogue`)
//! instead. The rest are libFuzzer's own, which change any byte.
//! `AIODIFF_PREEMPT=0` leaves libFuzzer's alone, for comparison.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// `data[..size]` mutated in place, as `fuzz_mutator!` asks: preempting
/// runs of `model`, the code the target runs, or of `other`, which
/// `model` then follows, as `shares` says after the preemptions the
/// process has made; the new size.
pub fn mutate<M: kernel_sim::AioModel, O: kernel_sim::AioModel>(
    (model, other): (&M, &O),
    shares: aiodiff::mutation::Shares,
    data: &mut [u8],
    (size, max_size): (usize, usize),
    seed: u32,
) -> usize {
    static ON: OnceLock<bool> = OnceLock::new();
    let on = ON.get_or_init(|| std::env::var_os("AIODIFF_PREEMPT").is_none_or(|v| v != "0"));
    static PREEMPTIONS: AtomicU64 = AtomicU64::new(0);
    let share = shares.at(PREEMPTIONS.load(Ordering::Relaxed));
    let (kind, seed) = (seed % 16, seed / 16);
    let input = &data[..size];
    let preempts = share.preempt + share.followed + share.drawn;
    let mutated = if !*on {
        None
    } else if kind < share.preempt {
        aiodiff::mutation::preempt(model, input, seed)
    } else if kind < share.preempt + share.followed {
        aiodiff::mutation::preempt_followed(other, model, input, seed)
    } else if kind < preempts {
        aiodiff::mutation::drawn_followed(other, model, input, seed)
    } else if kind < preempts + share.reshape {
        aiodiff::reshape::reshape(input, seed)
    } else {
        None
    };
    if kind < preempts && mutated.is_some() {
        PREEMPTIONS.fetch_add(1, Ordering::Relaxed);
    }
    // A preemption that found no switch to make: where no step has another
    // task to run, the scenario needs another task or operation before its
    // runs can interleave. Draw one from the catalogue, as `aiodiff hunt`
    // does.
    let mutated = match mutated {
        None if *on && kind < preempts && shares.catalogue => {
            aiodiff::reshape::from_catalogue(input, seed)
        }
        m => m,
    };
    if let Some(m) = mutated.filter(|m| m.len() <= max_size) {
        data[..m.len()].copy_from_slice(&m);
        return m.len();
    }
    libfuzzer_sys::fuzzer_mutate(data, size, max_size)
}
