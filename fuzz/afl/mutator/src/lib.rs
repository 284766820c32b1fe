//! AFL++'s custom mutator for the AFL++ targets: each call is
//! `aiodiff::mutation::preempt`, a switch to another task at a step the
//! input's run reaches, as the libFuzzer targets' mutator makes every other
//! mutation. AFL++ runs this stage before its own havoc stage, whose byte
//! mutations change the scenario. Load it with
//! `AFL_CUSTOM_MUTATOR_LIBRARY=.../libaiodiff_afl_mutator.so`; the run is
//! of the new code unless `AIODIFF_MODEL=old` (for the `old_model` target).

use std::ffi::{c_uint, c_void};

use aiodiff::{New, Old};

/// Which code the mutator runs, to find the steps an input reaches: the
/// code the target runs.
#[derive(Clone, Copy)]
enum Model {
    Old,
    New,
}

/// The mutator's state between calls.
struct Mutator {
    model: Model,
    seed: u32,
    out: Vec<u8>,
}

impl Mutator {
    fn new(model: Model, seed: u32) -> Mutator {
        Mutator {
            model,
            seed,
            out: Vec::new(),
        }
    }

    /// The input preempted, with a fresh seed; `None` where the run
    /// cannot be cut or the result is over `max_size`.
    fn mutate(&mut self, input: &[u8], max_size: usize) -> Option<&mut Vec<u8>> {
        self.seed = self
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mutated = match self.model {
            Model::Old => aiodiff::mutation::preempt(&Old, input, self.seed),
            Model::New => aiodiff::mutation::preempt(&New, input, self.seed),
        };
        self.out = mutated.filter(|m| m.len() <= max_size)?;
        Some(&mut self.out)
    }
}

/// AFL++'s `afl_custom_init`: the mutator's state, seeded by AFL++.
#[no_mangle]
pub extern "C" fn afl_custom_init(_afl: *mut c_void, seed: c_uint) -> *mut c_void {
    let model = match std::env::var("AIODIFF_MODEL").as_deref() {
        Ok("old") => Model::Old,
        Ok("new") | Err(_) => Model::New,
        Ok(other) => {
            eprintln!("aiodiff mutator: AIODIFF_MODEL={other}: expected old or new");
            std::process::exit(2);
        }
    };
    Box::into_raw(Box::new(Mutator::new(model, seed))).cast()
}

/// AFL++'s `afl_custom_splice_optout`: present so that AFL++ does not load
/// a second queue entry for each call (`add_buf`, which is not used).
#[no_mangle]
pub extern "C" fn afl_custom_splice_optout(_data: *mut c_void) {}

/// AFL++'s `afl_custom_fuzz`: points `out_buf` at the mutated input, which
/// stays valid until the next call, and returns its size; 0 (no input to
/// run) where the input cannot be preempted, or the mutation panicked (a
/// panic must not unwind into afl-fuzz).
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

    /// Through AFL++'s calls, the mutator preempts a corpus case: the
    /// scenario is kept, the schedule changes for some seeds, and each
    /// output fits `max_size`.
    #[test]
    fn the_mutator_preempts_through_afl_calls() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../corpus/b1-half-migrated-page.sched"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let case = aiodiff::text::parse("b1", &text).unwrap();
        let mut input = aiodiff::bytes::encode(&case).unwrap();
        let before = aiodiff::bytes::decode(&input);
        let state: *mut c_void = Box::into_raw(Box::new(Mutator::new(Model::Old, 7))).cast();
        let mut changed = 0;
        for _ in 0..20 {
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
            if size == 0 {
                continue;
            }
            assert!(size <= 4096);
            let mutated = unsafe { std::slice::from_raw_parts(out, size) };
            let decoded = aiodiff::bytes::decode(mutated);
            assert_eq!(decoded.scenario, before.scenario);
            changed += usize::from(decoded.schedule != before.schedule);
        }
        unsafe { afl_custom_deinit(state) };
        assert!(changed >= 10, "{changed} of 20 changed the schedule");
    }
}
