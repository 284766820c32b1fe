//! Exhaustive exploration: every schedule, with no preemption bound, by a
//! depth-first search that stores the states it explored.
//!
//! Runs are re-executed from scratch, as in [`crate::explore`], since tasks
//! are futures and cannot be copied. Past the replayed prefix, each state
//! a run reaches is fingerprinted ([`kernel_sim::fingerprint`]: the
//! kernel's global state, each task's observations, the violations so
//! far). A state seen before ends the run ([`kernel_sim::RunEnd::Pruned`]):
//! everything reachable from it is explored from its first visit. A new
//! state is stored, and every runnable task there is tried in turn.
//!
//! Guarantee: every state reachable from the start is visited, so every
//! outcome (results, violations, final state) of every schedule is found,
//! and every `aio_migratepage` return site any schedule reaches. Two
//! caveats: states are told apart by 128-bit fingerprints (with `n`
//! stored, the chance that two collide is below `n² / 2^129`), and the
//! witness of an outcome is the first schedule found, not the shortest.
//! An execution budget stops a runaway search; a stopped one says it is
//! incomplete.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use kernel_sim::history::FastHasher;
use kernel_sim::{AioModel, Observations, RunEnd, SchedView, Scheduler, State, TaskId, TaskSet};

use crate::explore::Exploration;
use crate::runner::{run_model, RunOptions};
use crate::scenario::Scenario;

/// What an exhaustive search stored and did, as a model checker reports
/// it.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StateSpace {
    /// Distinct states stored.
    pub states: usize,
    /// Arrivals at a state already stored, each ending a run.
    pub matched: u64,
    /// Transitions explored: each run's alternative at the end of its
    /// replayed prefix, and every action after it.
    pub transitions: u64,
    /// The most actions in one run.
    pub depth: usize,
    /// Wall time of the search, in milliseconds.
    pub millis: u128,
}

impl std::fmt::Display for StateSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} states stored, {} matched, {} transitions, depth {}, {:.1} s",
            self.states,
            self.matched,
            self.transitions,
            self.depth,
            self.millis as f64 / 1000.0
        )
    }
}

/// One state on the search's stack: who could run there, who has been
/// tried, and what the tasks had observed on the way to it.
#[derive(Clone, Debug)]
struct Frame {
    runnable: TaskSet,
    chosen: TaskId,
    done: TaskSet,
    observations: Observations,
}

/// A set of fingerprints, which are hashes already.
type Seen = HashSet<u128, BuildHasherDefault<FastHasher>>;

/// Replays a prefix (the choices on the stack), restoring at its last
/// step what the tasks had observed there; past it, ends the run at a
/// stored state, and stores and records a frame for each new one.
struct Stateful<'a> {
    stack: &'a [Frame],
    seen: &'a mut Seen,
    frames: Vec<Frame>,
    /// The observations at the state just stored, for its frame.
    stored: Option<Observations>,
    matched: bool,
}

impl Scheduler for Stateful<'_> {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let i = view.step as usize;
        if let Some(f) = self.stack.get(i) {
            return f.chosen;
        }
        let chosen = kernel_sim::RunToBlock.next_task(view);
        self.frames.push(Frame {
            runnable: view.runnable,
            chosen,
            done: TaskSet(1 << chosen.0),
            observations: self.stored.take().expect("a new state is stored first"),
        });
        chosen
    }

    fn prune(&mut self, view: &SchedView<'_>, state: &State) -> bool {
        if (view.step as usize) < self.stack.len() {
            return false;
        }
        self.matched = !self.seen.insert(state.fingerprint());
        if !self.matched {
            self.stored = Some(state.observations());
        }
        self.matched
    }

    fn replayed(&mut self) -> Option<(u32, Observations)> {
        let last = self.stack.last()?;
        Some((self.stack.len() as u32 - 1, last.observations.clone()))
    }
}

/// Explores every schedule of `scenario` for `model`, storing states, and
/// calls `progress` after each run with the runs so far and the distinct
/// outcomes.
pub fn explore<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    max_executions: usize,
    mut progress: impl FnMut(usize, usize),
) -> Exploration {
    let start = Instant::now();
    let mut result = Exploration::empty(M::NAME);
    let mut space = StateSpace::default();
    let mut seen = Seen::default();
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let prefix = stack.len();
        let mut sched = Stateful {
            stack: &stack,
            seen: &mut seen,
            frames: Vec::new(),
            stored: None,
            matched: false,
        };
        let outcome = run_model(model, scenario, &mut sched, RunOptions::OBSERVED);
        let (frames, matched) = (sched.frames, sched.matched);
        result.executions += 1;
        let steps = outcome.decisions.len();
        result.steps += steps as u64;
        // The run's new transitions: the alternative it took at the end of
        // its prefix, then every action after it.
        space.transitions += (steps + 1).saturating_sub(prefix.max(1)) as u64;
        space.depth = space.depth.max(steps);
        space.matched += u64::from(matched);
        stack.extend(frames);
        if outcome.end != RunEnd::Pruned {
            result.record(outcome);
        }
        progress(result.executions, result.outcomes.len());
        if result.executions >= max_executions {
            result.incomplete = true;
            break;
        }
        if !advance(&mut stack) {
            break;
        }
    }
    space.states = seen.len();
    space.millis = start.elapsed().as_millis();
    result.stored = Some(space);
    result
}

/// Moves the search to its next untried choice, popping the states whose
/// every choice has been tried; false when none is left.
fn advance(stack: &mut Vec<Frame>) -> bool {
    while let Some(top) = stack.last_mut() {
        let untried = TaskSet(top.runnable.0 & !top.done.0);
        if let Some(t) = untried.first() {
            top.done.insert(t);
            top.chosen = t;
            return true;
        }
        stack.pop();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::{explore as bounded, ExploreOptions, OutcomeKey};
    use crate::scenario::Op;
    use crate::{New, Old};
    use kernel_sim::ReturnSite;
    use std::collections::BTreeSet;

    fn setup_beside_a_migration() -> Scenario {
        crate::explore::tests::scenario(vec![Op::Setup])
    }

    fn keys(e: &Exploration) -> BTreeSet<OutcomeKey> {
        e.outcomes.keys().cloned().collect()
    }

    fn sites(e: &Exploration) -> BTreeSet<ReturnSite> {
        e.sites.keys().copied().collect()
    }

    /// Setup beside a background drain has few enough schedules to run
    /// them all: storing states finds the same from far fewer runs.
    #[test]
    fn storing_states_finds_what_running_every_schedule_finds() {
        let s = Scenario {
            ring_pages: 1,
            tasks: vec![vec![Op::Setup]],
            drains: 1,
            ..Scenario::default()
        };
        let every = ExploreOptions {
            preemptions: u32::MAX,
            ..ExploreOptions::default()
        };
        let all = bounded(&Old, &s, every, |_, _| {});
        let stored = explore(&Old, &s, 1_000_000, |_, _| {});
        assert!(!all.incomplete && !stored.incomplete);
        assert_eq!(keys(&stored), keys(&all));
        assert!(stored.executions * 5 < all.executions);
    }

    /// Beside a migration, and with teardown beside one that finds no
    /// target (truncation and `unmap_and_move` return through
    /// `Frame::ret`), every outcome and site a bounded search finds is
    /// found, in both versions, and the search says what it stored.
    #[test]
    fn an_exhaustive_search_finds_every_outcome_a_bounded_one_does() {
        let mut teardown = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        if let Op::Migrate { faults, .. } = &mut teardown.tasks[1][0] {
            faults.no_target = true;
        }
        for s in [setup_beside_a_migration(), teardown] {
            compare_with_k2(&s);
        }
    }

    /// Alternates tasks A and B from the start, and records the
    /// fingerprint at each step from `resume` on, with the observations
    /// restored there if given.
    struct Recording {
        resume: Option<(u32, Observations)>,
        from: u32,
        prints: Vec<u128>,
        observations: Vec<Observations>,
    }

    impl Scheduler for Recording {
        fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
            let alternate = TaskId((view.step / 7 % 2) as u8);
            match view.runnable.contains(alternate) {
                true => alternate,
                false => view.runnable.first().expect("a runnable task"),
            }
        }

        fn prune(&mut self, view: &SchedView<'_>, state: &State) -> bool {
            if view.step >= self.from {
                self.prints.push(state.fingerprint());
                self.observations.push(state.observations());
            }
            false
        }

        fn replayed(&mut self) -> Option<(u32, Observations)> {
            self.resume.take()
        }
    }

    /// A run that replays its prefix without folding observations, and
    /// restores them where the prefix ends, reaches the same fingerprints
    /// as one that folded them all the way, wherever the prefix ends (in
    /// calls that return through `Frame::ret` too).
    #[test]
    fn restored_observations_give_the_fingerprints_folded_ones_do() {
        let s = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        let record = |resume: Option<(u32, Observations)>, from| {
            let mut sched = Recording {
                resume,
                from,
                prints: Vec::new(),
                observations: Vec::new(),
            };
            run_model(&Old, &s, &mut sched, RunOptions::OBSERVED);
            sched
        };
        let folded = record(None, 0);
        assert!(folded.prints.len() > 100);
        for at in (1..folded.prints.len()).step_by(13) {
            let resumed = record(
                Some((at as u32, folded.observations[at].clone())),
                at as u32,
            );
            assert_eq!(resumed.prints, folded.prints[at..], "resumed at step {at}");
        }
    }

    fn compare_with_k2(s: &Scenario) {
        let k2 = ExploreOptions::default();
        for (some, every) in [
            (
                bounded(&Old, s, k2, |_, _| {}),
                explore(&Old, s, 1_000_000, |_, _| {}),
            ),
            (
                bounded(&New, s, k2, |_, _| {}),
                explore(&New, s, 1_000_000, |_, _| {}),
            ),
        ] {
            assert!(!every.incomplete, "{}", every.model);
            assert!(keys(&every).is_superset(&keys(&some)), "{}", every.model);
            assert!(sites(&every).is_superset(&sites(&some)), "{}", every.model);
            let space = every.stored.expect("a stateful search says what it stored");
            assert!(space.states > space.depth);
            assert!(space.transitions >= space.states as u64 - 1);
        }
    }
}
