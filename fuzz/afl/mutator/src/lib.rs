//! AFL++'s custom mutator for the AFL++ targets: the libFuzzer targets'
//! structure-aware mutations, made by `aiodiff::mutator::Mutator` with
//! the same shares (for `old_model` preemptions, followed preemptions,
//! catalogue draws in its warm-up and scenario edits after it; for the
//! new code preemptions). Every call makes one of those, in the share's
//! proportions (`Mutator::mutate_structured`): AFL++'s havoc stage, which
//! runs after this one, makes the byte mutations that libFuzzer's
//! targets leave a part of their calls to. Load it with
//! `AFL_CUSTOM_MUTATOR_LIBRARY=.../libaiodiff_afl_mutator.so`; the run is
//! of the new code unless `AIODIFF_MODEL=old` (for the `old_model` target).

use std::ffi::{c_uint, c_void};

use aiodiff::mutator::{self as shared, Code};

/// The mutator's state between calls.
struct Mutator {
    shared: shared::Mutator,
    seed: u32,
    out: Vec<u8>,
}

impl Mutator {
    /// A mutator of `code`, the code the target runs.
    fn new(code: Code, seed: u32) -> Mutator {
        Mutator {
            shared: shared::Mutator::new(code),
            seed,
            out: Vec::new(),
        }
    }

    /// The input mutated, with a fresh seed; `None` where the mutation
    /// gave up or the result is over `max_size`.
    fn mutate(&mut self, input: &[u8], max_size: usize) -> Option<&mut Vec<u8>> {
        self.seed = self
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mutated = self.shared.mutate_structured(input, self.seed);
        self.out = mutated.filter(|m| m.len() <= max_size)?;
        Some(&mut self.out)
    }
}

/// AFL++'s `afl_custom_init`: the mutator's state, seeded by AFL++.
#[no_mangle]
pub extern "C" fn afl_custom_init(_afl: *mut c_void, seed: c_uint) -> *mut c_void {
    let code = match std::env::var("AIODIFF_MODEL").as_deref() {
        Ok("old") => Code::Old,
        Ok("new") | Err(_) => Code::New,
        Ok(other) => {
            eprintln!("aiodiff mutator: AIODIFF_MODEL={other}: expected old or new");
            std::process::exit(2);
        }
    };
    Box::into_raw(Box::new(Mutator::new(code, seed))).cast()
}

/// AFL++'s `afl_custom_splice_optout`: present so that AFL++ does not load
/// a second queue entry for each call (`add_buf`, which is not used).
#[no_mangle]
pub extern "C" fn afl_custom_splice_optout(_data: *mut c_void) {}

/// AFL++'s `afl_custom_fuzz`: points `out_buf` at the mutated input, which
/// stays valid until the next call, and returns its size; 0 (no input to
/// run) where the mutation gave up or its result is over `max_size`, or
/// the mutation panicked (a panic must not unwind into afl-fuzz).
///
/// # Safety
///
/// AFL++'s contract: `data` is what `afl_custom_init` returned, used by
/// no one else during the call; `buf` is non-null and holds `buf_size`
/// bytes; `out_buf` is writable.
#[no_mangle]
pub unsafe extern "C" fn afl_custom_fuzz(
    data: *mut c_void,
    buf: *mut u8,
    buf_size: usize,
    out_buf: *mut *mut u8,
    _add_buf: *mut u8,
    _add_buf_size: usize,
    max_size: usize,
) -> usize {
    // SAFETY: as the function's contract says.
    let (mutator, input) = unsafe {
        (
            &mut *data.cast::<Mutator>(),
            std::slice::from_raw_parts(buf, buf_size),
        )
    };
    let mutated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mutator
            .mutate(input, max_size)
            .map(|out| (out.as_mut_ptr(), out.len()))
    }));
    match mutated {
        Ok(Some((out, len))) => {
            // SAFETY: `out_buf` is writable; `out` lives in the state.
            unsafe { *out_buf = out };
            len
        }
        Ok(None) | Err(_) => 0,
    }
}

/// AFL++'s `afl_custom_deinit`: frees the state.
///
/// # Safety
///
/// `data` is what `afl_custom_init` returned, not used again.
#[no_mangle]
pub unsafe extern "C" fn afl_custom_deinit(data: *mut c_void) {
    // SAFETY: as the function's contract says.
    drop(unsafe { Box::from_raw(data.cast::<Mutator>()) });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases `calls` calls of AFL++'s on a mutator of `code` make of
    /// `input`, decoded; a call that makes none is left out. Each fits
    /// `max_size`.
    fn through_afl(code: Code, input: &[u8], calls: usize) -> Vec<aiodiff::Case> {
        let state: *mut c_void = Box::into_raw(Box::new(Mutator::new(code, 7))).cast();
        let mut input = input.to_vec();
        let mut cases = Vec::new();
        for _ in 0..calls {
            let mut out: *mut u8 = std::ptr::null_mut();
            let size = unsafe {
                afl_custom_fuzz(
                    state,
                    input.as_mut_ptr(),
                    input.len(),
                    &mut out,
                    std::ptr::null_mut(),
                    0,
                    4096,
                )
            };
            if size > 0 {
                assert!(size <= 4096);
                let mutated = unsafe { std::slice::from_raw_parts(out, size) };
                cases.push(aiodiff::bytes::decode(mutated));
            }
        }
        unsafe { afl_custom_deinit(state) };
        cases
    }

    /// Through AFL++'s calls, the new code's mutator preempts a corpus
    /// case: the scenario is kept and the schedule changes for most.
    #[test]
    fn the_new_codes_mutator_preempts_through_afl_calls() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../corpus/b1-half-migrated-page.sched"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let case = aiodiff::text::parse("b1", &text).unwrap();
        let cases = through_afl(Code::New, &aiodiff::bytes::encode(&case).unwrap(), 20);
        assert!(cases.iter().all(|c| c.scenario == case.scenario));
        let changed = cases.iter().filter(|c| c.schedule != case.schedule).count();
        assert!(changed >= 10, "{changed} of 20 changed the schedule");
    }

    /// From AFL++'s seed of one zero byte, which no preemption applies
    /// to, the old code's mutator draws catalogue scenarios whose runs
    /// interleave.
    #[test]
    fn from_one_zero_byte_the_old_codes_mutator_draws_scenarios_of_several_tasks() {
        let cases = through_afl(Code::Old, &[0], 32);
        let several = cases.iter().filter(|c| c.scenario.tasks.len() > 1).count();
        assert!(several >= 16, "{several} of 32 have several tasks");
    }
}
