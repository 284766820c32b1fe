//! Recorded runs of fuzzer inputs, kept so that a preemption of an input
//! need not run it again.
//!
//! A preemption ([`crate::mutation::preempt`]) starts from a run of its
//! input by the input's own schedule, recorded step by step: a run as
//! long as the target's own run of the result, which after `old_model`'s
//! warm-up most executions made (BENCHMARKS.md, "Recorded runs kept").
//! libFuzzer mutates each corpus
//! input many times, and with `-mutate_depth=2` the second mutation of a
//! sequence starts from the input the target just ran. So the mutator
//! keeps the recordings of the inputs it preempted more than once lately
//! ([`CAPACITY`] of each version, the least recently used dropped first),
//! and the single-model targets leave the recording of their last run
//! ([`run_keeping`]). A recording is a function of the version and the
//! input's bytes alone, so a kept one is the one a new run would make,
//! and the mutations are the same with or without it; only their cost
//! differs.

use std::cell::RefCell;
use std::hash::Hasher;
use std::num::NonZeroUsize;
use std::rc::Rc;

use kernel_sim::history::FastHasher;
use kernel_sim::{AioModel, Segments, TaskId};
use lru::LruCache;

use crate::bytes;
use crate::explore::{Recorder, View};
use crate::runner::{run_model, Outcome, RunOptions};

/// How many recordings of each version the mutator keeps: about twice
/// the corpus an `old_model` run builds from nothing in 30 s. A
/// recording takes about 50 bytes a step.
pub const CAPACITY: usize = 1024;

/// A version's run of an input by the input's schedule: the view of each
/// step and the task chosen at each.
#[derive(Debug, PartialEq, Eq)]
pub struct Recording {
    /// The view of each step, as [`Recorder`] records it.
    pub views: Vec<View>,
    /// The task chosen at each step.
    pub decisions: Vec<TaskId>,
}

/// The last run a single-model target made: the version, the input and
/// its recording.
type Last = (&'static str, Vec<u8>, Rc<Recording>);

/// The mutator's recordings of one version: those kept, by input, and
/// the hashes of the inputs preempted once, whose recordings are kept
/// the second time. Most inputs are preempted once, the mutants above
/// all, and keeping their recordings costs more than it saves early on
/// (BENCHMARKS.md, "Recorded runs kept").
struct Kept {
    recordings: LruCache<Vec<u8>, Rc<Recording>>,
    seen: LruCache<u64, ()>,
}

impl Kept {
    fn new() -> Kept {
        let capacity = |n| NonZeroUsize::new(n).expect("a capacity");
        Kept {
            recordings: LruCache::new(capacity(CAPACITY)),
            seen: LruCache::new(capacity(8 * CAPACITY)),
        }
    }

    /// Keeps `recording` of `data` if `data` was seen before.
    fn offer(&mut self, data: &[u8], recording: &Rc<Recording>) {
        let mut hasher = FastHasher::default();
        hasher.write(data);
        if self.seen.put(hasher.finish(), ()).is_some() {
            self.recordings.put(data.to_vec(), Rc::clone(recording));
        }
    }
}

thread_local! {
    /// The recordings kept, by version and input.
    static KEPT: RefCell<[Kept; 2]> = RefCell::new([(); 2].map(|()| Kept::new()));
    /// The last run of a single-model target.
    static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
}

/// Which of [`KEPT`]'s caches holds `M`'s recordings.
fn slot<M: AioModel>() -> usize {
    usize::from(M::NAME != "old")
}

/// `model`'s run of the case `data` decodes to, by its schedule, with
/// `opts`: the outcome, and the run recorded as the mutator's next
/// [`recording`] of this input. The last run's buffers are reused where
/// nothing holds them, as nearly always.
pub fn run_keeping<M: AioModel>(model: &M, data: &[u8], opts: RunOptions) -> Outcome {
    let (mut input, views) = LAST.with_borrow_mut(|last| emptied(last.take()));
    let (outcome, recording) = record(model, data, opts, views);
    input.extend_from_slice(data);
    LAST.set(Some((M::NAME, input, Rc::new(recording))));
    outcome
}

/// The buffers of the last run's input and views, emptied; new ones
/// where there was none, or the mutator still holds the recording.
fn emptied(last: Option<Last>) -> (Vec<u8>, Vec<View>) {
    let Some((_, mut input, recording)) = last else {
        return Default::default();
    };
    input.clear();
    let mut views = Rc::into_inner(recording).map_or_else(Vec::new, |r| r.views);
    views.clear();
    (input, views)
}

/// `model`'s run of the case `data` decodes to, by its schedule, recorded:
/// the mutator's kept recording where there is one, or the target's last
/// run's, else a new run's, kept if the input was preempted before. The target's last run is not kept
/// apart: it is nearly always a mutant that the fuzzer drops.
pub fn recording<M: AioModel>(model: &M, data: &[u8]) -> Rc<Recording> {
    KEPT.with_borrow_mut(|kept| {
        let kept = &mut kept[slot::<M>()];
        if let Some(r) = kept.recordings.get(data) {
            return Rc::clone(r);
        }
        if let Some(r) = last_run::<M>(data) {
            return r;
        }
        let r = Rc::new(record(model, data, RunOptions::QUIET, Vec::new()).1);
        kept.offer(data, &r);
        r
    })
}

/// The recording of the target's last run, where it was `M`'s of `data`.
fn last_run<M: AioModel>(data: &[u8]) -> Option<Rc<Recording>> {
    LAST.with_borrow(|last| match last {
        Some((version, input, r)) if *version == M::NAME && input == data => Some(Rc::clone(r)),
        _ => None,
    })
}

/// A new run of `model` on the case `data` decodes to, with `opts`, and
/// its recording, whose views go into `views`.
fn record<M: AioModel>(
    model: &M,
    data: &[u8],
    opts: RunOptions,
    views: Vec<View>,
) -> (Outcome, Recording) {
    let case = bytes::decode(data);
    let mut rec = Recorder {
        inner: Segments::new(case.schedule),
        views,
    };
    let outcome = run_model(model, &case.scenario, &mut rec, opts);
    let recording = Recording {
        views: rec.views,
        decisions: outcome.decisions.clone(),
    };
    (outcome, recording)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{New, Old};

    fn inputs() -> Vec<Vec<u8>> {
        let cases = crate::catalogue::default_cases();
        cases.into_iter().map(|(_, _, data)| data).collect()
    }

    /// A kept recording, from the mutator's cache or from a target's run,
    /// is the one a new run makes, for each version.
    #[test]
    fn a_kept_recording_is_a_new_runs() {
        for data in inputs() {
            let fresh = (
                record(&Old, &data, RunOptions::QUIET, Vec::new()).1,
                record(&New, &data, RunOptions::QUIET, Vec::new()).1,
            );
            assert_eq!(*recording(&Old, &data), fresh.0);
            assert_eq!(*recording(&New, &data), fresh.1);
            assert_eq!(*recording(&Old, &data), fresh.0);
        }
        for data in inputs().iter().rev() {
            let opts = RunOptions {
                interleaving: true,
                ..RunOptions::QUIET
            };
            run_keeping(&Old, data, opts);
            let fresh = record(&Old, data, RunOptions::QUIET, Vec::new()).1;
            assert_eq!(last_run::<Old>(data).as_deref(), Some(&fresh));
            assert_eq!(last_run::<New>(data), None);
        }
    }
}
