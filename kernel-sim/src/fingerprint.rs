//! State fingerprints, for a search that stores the states it explored.
//!
//! An exhaustive search prunes a schedule prefix that reaches a state it
//! has already explored from. Tasks are futures and cannot be compared, but
//! each task's code is deterministic, so a task's local state is a function
//! of what it has observed: the label of each action it performed and the
//! value the action returned. With [`Config::observe`] on, [`Kernel::act`]
//! folds both into the task's [`TaskSlot::observed`], and
//! [`Kernel::observe`] does the same for a value the code reads without a
//! scheduling point. Once a task has finished an operation, what it
//! observed during it can no longer change what it does: the harness runs
//! each task's program one operation after another, carrying from one to
//! the next only what the results say (the kioctx setup returned, the
//! number of requests submitted). So only what it gave the harness (its
//! results, [`Kernel::give_result`], and its notes) is kept. In the same
//! way, a call that returns through [`crate::kernel::Frame::ret`] leaves
//! in its caller's local state only the function and the value returned.
//!
//! A state's fingerprint hashes that beside the kernel's global state:
//! pages, inodes, files, kioctxs, ring_pages arrays, locks (where a held
//! one was taken, not where a free one last was), the mm,
//! `aio_nr`, each task's status, observations, what it gave the harness
//! (in an operation that has not ended, its notes' codes are part of the
//! operation's result) and pagevec, and the sets of violation signatures
//! and of `aio_migratepage` return sites so far: an outcome keeps the
//! sites only as a set, so which call returned from which site, and in
//! what order, is left out. Left out, as functions of those or of no
//! consequence to an outcome: the step count, the trace, the notes, the
//! history and the reference ledger. Fingerprints are 128 bits: with `n`
//! states stored, the chance that two different states share one is below
//! `n² / 2^129`.
//!
//! [`Config::observe`]: crate::Config::observe
//! [`TaskSlot::observed`]: crate::TaskSlot::observed

use std::cell::RefCell;
use std::hash::{Hash, Hasher};

use xxhash_rust::xxh3::xxh3_128;

use crate::history::Footprint;
use crate::kernel::{Kernel, Note, State};
use crate::label::{Func, Label};
use crate::site::ReturnSite;
use crate::violation::ViolationKind;

thread_local! {
    /// The buffer [`Hash128`] gathers bytes in, kept between hashes so
    /// that a fingerprint allocates nothing once it has grown.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// A 128-bit hash: XXH3's of the bytes written, gathered first, since a
/// state's fields make many small writes.
struct Hash128(Vec<u8>);

impl Hash128 {
    fn new() -> Hash128 {
        Hash128(SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())))
    }

    fn finish128(&self) -> u128 {
        xxh3_128(&self.0)
    }
}

impl Drop for Hash128 {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.0);
        buffer.clear();
        SCRATCH.with(|s| *s.borrow_mut() = buffer);
    }
}

impl Hasher for Hash128 {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        self.finish128() as u64
    }
}

/// The next link of a task's chain of observations.
fn chain(observed: u128, label: Option<Label>, value: &impl Hash) -> u128 {
    let mut h = Hash128::new();
    observed.hash(&mut h);
    label.hash(&mut h);
    value.hash(&mut h);
    h.finish128()
}

/// The hash of a value a call returned.
pub(crate) fn digest(value: &impl Hash) -> u128 {
    let mut h = Hash128::new();
    value.hash(&mut h);
    h.finish128()
}

/// A task's observations once the call of its frame at `slot.depth` (just
/// popped) returned `value`: those from before the call, the function, and
/// the value.
pub(crate) fn returned(slot: &crate::kernel::TaskSlot, value: u128) -> u128 {
    let depth = slot.depth;
    chain(slot.entered[depth], None, &(slot.frames[depth], value))
}

/// Every task's local state at one step, as [`State::fingerprint`] sees
/// it: what a search that replays a run's prefix restores where the
/// prefix ends, instead of folding the prefix's observations again
/// ([`crate::Scheduler::replayed`]).
#[derive(Clone, Debug)]
pub struct Observations(Vec<TaskObservations>);

/// One task's part of [`Observations`].
#[derive(Clone, Debug)]
struct TaskObservations {
    observed: u128,
    given: u128,
    entered: Vec<u128>,
}

impl State {
    /// The current task observed `value` at its action `label`.
    pub(crate) fn observed(&mut self, label: Option<Label>, value: &impl Hash) {
        if let Some(t) = self.current {
            let slot = &mut self.tasks[t.index()];
            slot.observed = chain(slot.observed, label, value);
        }
    }

    /// The current task gave the harness `value` (a result or a note).
    pub(crate) fn gave(&mut self, value: &impl Hash) {
        if let (Some(t), true) = (self.current, self.observing) {
            let slot = &mut self.tasks[t.index()];
            slot.given = chain(slot.given, None, value);
        }
    }

    /// Task `t` has finished an operation, or all of them: what it
    /// observed meanwhile no longer changes what it does, which depends
    /// only on its program and the results it gave the harness, so only
    /// those are left of its local state.
    pub(crate) fn forget_observations(&mut self, t: crate::exec::TaskId) {
        let slot = &mut self.tasks[t.index()];
        slot.observed = slot.given;
    }

    /// What the last step touched ([`Footprint`]), once observations are
    /// folded.
    pub fn footprint(&self) -> &Footprint {
        &self.footprint
    }

    /// Every task's local state now.
    pub fn observations(&self) -> Observations {
        Observations(
            self.tasks
                .iter()
                .map(|t| TaskObservations {
                    observed: t.observed,
                    given: t.given,
                    entered: t.entered[..t.depth].to_vec(),
                })
                .collect(),
        )
    }

    /// Starts folding observations, from `at`: what the tasks had observed
    /// at this step when an earlier run reached it.
    pub(crate) fn resume_observing(&mut self, at: Observations) {
        for (slot, t) in self.tasks.iter_mut().zip(at.0) {
            slot.observed = t.observed;
            slot.given = t.given;
            slot.entered[..t.entered.len()].copy_from_slice(&t.entered);
        }
        self.set_observing(true);
    }

    /// The fingerprint of the state: the kernel's global state and each
    /// task's observations (see the module documentation).
    pub fn fingerprint(&self) -> u128 {
        let mut h = Hash128::new();
        self.pages.hash(&mut h);
        self.inodes.hash(&mut h);
        self.files.hash(&mut h);
        self.ctxs.hash(&mut h);
        self.arrays.hash(&mut h);
        for l in &self.locks {
            l.holder.hash(&mut h);
            l.owner.hash(&mut h);
            if l.holder.is_some() {
                l.acquired_at.hash(&mut h);
            }
        }
        self.mm.hash(&mut h);
        self.aio_nr.hash(&mut h);
        for t in &self.tasks {
            t.status.hash(&mut h);
            t.observed.hash(&mut h);
            t.given.hash(&mut h);
            t.lru_add_pvec.hash(&mut h);
            t.return_site.hash(&mut h);
        }
        let mut seen: Vec<(ViolationKind, Option<Func>)> = self
            .violations
            .iter()
            .map(|v| (v.kind, v.label.map(|l| l.func)))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.hash(&mut h);
        self.sites_reached().hash(&mut h);
        h.finish128()
    }

    /// The `aio_migratepage` return sites reached so far, as a set (bit
    /// `site as u32` for each): all an outcome keeps of them.
    pub fn sites_reached(&self) -> u32 {
        self.notes
            .iter()
            .filter_map(Note::site)
            .fold(0, |set, site: ReturnSite| set | 1 << site as u32)
    }
}

impl Kernel {
    /// The current task gives the harness `result`, the result of an
    /// operation: with [`crate::Config::observe`] on, it stays part of
    /// the task's state after the task has finished.
    pub fn give_result(&self, result: &impl Hash) {
        self.st.borrow_mut().gave(result);
    }

    /// Reads a value of the kernel's state without a scheduling point, as
    /// [`Kernel::inspect`] does, for code whose path depends on it: with
    /// [`crate::Config::observe`] on, the current task's observations
    /// record it.
    pub fn observe<R: Hash>(&self, f: impl FnOnce(&State) -> R) -> R {
        let mut st = self.st.borrow_mut();
        let value = f(&st);
        if st.observing {
            st.observed(None, &value);
            st.footprint.touch_everything();
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{RunToBlock, SchedView, Scheduler, TaskId};
    use crate::kernel::Config;
    use crate::testing::TEST_FUNC;

    /// Keeps the fingerprint of every state a run reaches.
    struct Prints(Vec<u128>);

    impl Scheduler for Prints {
        fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
            RunToBlock.next_task(view)
        }

        fn prune(&mut self, _: &SchedView<'_>, state: &State) -> bool {
            self.0.push(state.fingerprint());
            false
        }
    }

    /// What a task gave the harness during an operation (a return code
    /// `aio_migratepage` noted, say) is part of the operation's result, so
    /// two runs that differ only in it are in different states.
    #[test]
    fn what_a_task_gave_during_an_operation_tells_states_apart() {
        let prints = |given: i32| {
            let k = Kernel::new(Config {
                observe: true,
                ..Config::default()
            });
            let body = async {
                let _f = k.enter(TEST_FUNC);
                k.smp_wmb().await;
                k.give_result(&given);
                k.smp_wmb().await;
            };
            let mut sched = Prints(Vec::new());
            k.run(vec![Box::pin(body)], &mut sched);
            sched.0
        };
        let (one, two) = (prints(1), prints(2));
        assert_eq!(one.len(), 2);
        assert_eq!(one[0], two[0]);
        assert_ne!(one[1], two[1]);
    }

    /// An outcome keeps the sites `aio_migratepage` returned from only as
    /// a set: states that reached the same sites in another order are one,
    /// and a site not reached tells states apart.
    #[test]
    fn return_sites_count_as_a_set() {
        let print = |sites: &[ReturnSite]| {
            let k = Kernel::new(Config::default());
            k.st.borrow_mut().notes = sites
                .iter()
                .map(|&site| Note::Migratepage {
                    task: TaskId(1),
                    index: 0,
                    rc: crate::errno::EAGAIN,
                    site: Some(site),
                })
                .collect();
            k.inspect(State::fingerprint)
        };
        let (first, second) = (
            ReturnSite::FirstCheckRingPage,
            ReturnSite::SecondCheckRingPage,
        );
        assert_eq!(print(&[first, second]), print(&[second, first, second]));
        assert_ne!(print(&[first, second]), print(&[first]));
    }
}
