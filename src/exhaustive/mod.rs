//! Exhaustive exploration: every schedule, with no preemption bound, by a
//! depth-first search that stores the states it explored.
//!
//! Runs are re-executed from scratch, as in [`crate::explore`], since tasks
//! are futures and cannot be copied. Past the replayed prefix, each state
//! a run reaches where the search has a choice is fingerprinted
//! ([`kernel_sim::fingerprint`]: the kernel's global state, each task's
//! observations, the violations so far). Arriving at such a state seen
//! before, with nothing there left to try, ends the run
//! ([`kernel_sim::RunEnd::Pruned`]): everything reachable from it is
//! explored from its earlier visits. A new state is stored, and every
//! task to try there is tried in turn.
//!
//! A state has a choice when two or more tasks are to be tried on arrival
//! (runnable and not asleep); only those are fingerprinted and stored. A
//! state with one is passed through, its successor being the only way
//! on, so a later arrival there runs on until a state with a choice
//! (checked against, or added to, what is stored), a state where every
//! task is asleep, or the run's end. With sleep sets that leaves out
//! four in five to nine in ten states, and their hashes, for more steps
//! per revisit (BENCHMARKS.md). `--store-every-state` stores every state
//! reached.
//!
//! Sleep sets (Godefroid, 1996) leave out steps whose successor another
//! order reaches. Each step's footprint ([`kernel_sim::Footprint`]) says
//! which objects it touched and how; two steps of different tasks from one
//! state commute when neither touches what the other writes. Once a task
//! has been tried from a state, it sleeps in the states its siblings lead
//! to, for as long as the steps taken commute with its own: its step from
//! there reaches a state the search has already reached the other way
//! round. A stored state keeps the tasks asleep at every arrival; an
//! arrival with fewer asleep runs those it left out before. Sleep sets
//! leave out transitions, never states: storing every state, the search
//! stores the same states with them as without (`--no-sleep-sets`), from
//! fewer runs.
//!
//! Sleep sets alone still start runs that go nowhere: a task tried second
//! whose steps, and those of the tasks awake beside it, never touch what
//! the tasks asleep there would change (nor change what they would
//! touch) runs until every task left is asleep, and stops. 97% of the
//! two-migrator scenario's runs ended so, each after replaying its whole
//! prefix. So each state on the stack keeps a summary of what the steps
//! explored from it touched, by task, and what the tasks waiting there for
//! a guard (a lock, a page lock) read to decide it; before trying a
//! further task there the search asks whether any of those steps, of a
//! task other than the sleeper, conflicts with the step of a task asleep
//! or already tried there. If none does, the tasks left are not tried:
//! none of their runs could wake a sleeper. Take the first step of such a
//! run that would: the steps before it commute with the first tried
//! task's step, so they were explored after it too; and the step itself
//! either commutes with that task's step, and was explored after it, or
//! conflicts with it, and after it the same task's step still conflicts
//! with it or waits for its guard. Either is recorded. So every schedule
//! from there that begins with a task left out begins, up to the order of
//! independent steps, with a sleeper's step, whose outcomes are explored.
//! A stored state keeps, once a visit to it ends, the summary of what was
//! explored from it (each distinct summary is kept once, by number); a
//! run that arrives there again takes it as what follows its last step.
//! While a visit is under way, what follows is unknown, and no state
//! above is skipped. This leaves out states, not outcomes;
//! [`ExploreOptions::skip_asleep_runs`] turns it off, and
//! `--store-every-state` with it the storing of states passed through,
//! to visit every state.
//!
//! Guarantee: every outcome (results, violations, final state) of every
//! schedule is found, and every `aio_migratepage` return site any
//! schedule reaches; with `--store-every-state`, every state reachable
//! from the start is also visited. Runs the step budget cuts are the
//! exception: a livelock in a run left out is found in its counterpart,
//! which has taken the sleeper's step, so the same violation is reported
//! from a state one step on. Two caveats: states are told apart by
//! 128-bit fingerprints (with `n` stored, the chance that two collide is
//! below `n² / 2^129`), and the witness of an outcome is the first
//! schedule found, not the shortest. An execution budget stops a runaway
//! search; a stopped one says it is incomplete.

use std::collections::hash_map::Entry;
use std::time::Instant;

use kernel_sim::{
    AioModel, FastMap, Footprint, Observations, RunEnd, SchedView, Scheduler, State, TaskId,
    TaskSet,
};

use crate::explore::{Exploration, ExploreOptions};
use crate::runner::{run_model, RunOptions};
use crate::scenario::Scenario;
use summary::{Objects, Summaries, Summary};

mod summary;

/// What an exhaustive search stored and did, as a model checker reports
/// it.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StateSpace {
    /// Distinct states stored: those where two or more tasks were to be
    /// tried on arrival, or every state reached with
    /// [`ExploreOptions::store_every_state`].
    pub states: usize,
    /// Arrivals at a state already stored that ended a run.
    pub matched: u64,
    /// Transitions explored: each run's alternative at the end of its
    /// replayed prefix, and every action after it (those through states
    /// passed through, not stored, count at every arrival).
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

/// One state on the search's stack: what is to be run from there, what
/// has been, and what the tasks had observed on the way to it.
#[derive(Clone, Debug)]
struct Frame {
    /// The tasks to run from here: the runnable ones not asleep on
    /// arrival, or on a return to a stored state, those asleep at every
    /// earlier arrival but not at this one.
    todo: TaskSet,
    chosen: TaskId,
    done: TaskSet,
    /// What the step of each task asleep here, or run from here, touched.
    footprints: Vec<(TaskId, Footprint)>,
    /// What the tasks had observed here, for a run that replays its way
    /// back: kept only where `todo` has a task to try after `chosen`.
    observations: Option<Observations>,
    /// What the steps explored from here touched.
    summary: Summary,
    /// For a stored state, its fingerprint and what earlier visits
    /// explored, for when this one ends.
    visit: Option<Visit>,
}

impl Frame {
    /// Whether every run from here with a task not yet tried would end
    /// with every task asleep: no step explored from here, of a task
    /// other than the one asleep or tried, would wake one asleep or tried
    /// here (see the module documentation).
    fn all_would_sleep(&self, objects: &Objects) -> bool {
        self.footprints
            .iter()
            .all(|(t, f)| !self.summary.wakes(*t, f, objects))
    }

    /// The sleep set of the state `chosen`'s step, which touched `taken`,
    /// leads to: the tasks asleep here or run from here before it whose
    /// steps commute with it, each with its footprint (unchanged, since
    /// nothing it touched changed).
    fn asleep_after(&self, taken: &Footprint) -> Vec<(TaskId, Footprint)> {
        self.footprints
            .iter()
            .filter(|(t, f)| *t != self.chosen && !f.conflicts(taken))
            .cloned()
            .collect()
    }
}

/// The tasks in a list of footprints.
fn tasks(footprints: &[(TaskId, Footprint)]) -> TaskSet {
    let mut set = TaskSet::default();
    for (t, _) in footprints {
        set.insert(*t);
    }
    set
}

/// What is kept of a stored state.
#[derive(Clone, Copy, Debug)]
struct Stored {
    /// The tasks asleep at every arrival so far, whose steps from there
    /// have not been taken.
    asleep: TaskSet,
    /// What the steps explored from it touched, as a number in
    /// [`Summaries`]: [`Summaries::UNKNOWN`] while a visit is under way.
    summary: u32,
}

/// The stored states, by fingerprint. Keys are fingerprints as two words,
/// which a map packs in 24 bytes an entry where a `u128`'s alignment
/// takes 32.
type Seen = FastMap<[u64; 2], Stored>;

/// A stored state's fingerprint, and what had been explored from it
/// before this visit, as a number in [`Summaries`].
type Visit = ([u64; 2], u32);

/// Replays a prefix (the choices on the stack), restoring at its last
/// step what the tasks had observed there; past it, ends the run at a
/// stored state with nothing left to run, and stores and pushes a frame
/// for each other.
struct Stateful<'a> {
    stack: &'a mut Vec<Frame>,
    seen: &'a mut Seen,
    summaries: &'a mut Summaries,
    sleep_sets: bool,
    store_every_state: bool,
    matched: bool,
}

impl Stateful<'_> {
    /// The sleep set on arrival at the state the last step led to, from
    /// its footprint; empty at the start, or without sleep sets. Records
    /// the step in the summary of the state it was taken from, and with
    /// it what every task waiting for a guard where it led reads to
    /// decide it: the counterpart of a step that a sleeper's step
    /// disabled.
    fn asleep(&mut self, step: usize, state: &State) -> Vec<(TaskId, Footprint)> {
        let Some(from) = step.checked_sub(1).map(|i| &mut self.stack[i]) else {
            return Vec::new();
        };
        let taken = state.footprint().clone();
        let asleep = match self.sleep_sets {
            true => from.asleep_after(&taken),
            false => Vec::new(),
        };
        let objects = &mut self.summaries.objects;
        from.summary.add(from.chosen, &taken, objects);
        for (t, guard) in state.blocked() {
            from.summary.add(t, &guard, objects);
        }
        from.footprints.push((from.chosen, taken));
        asleep
    }

    /// What to run from a state with this fingerprint and sleep set,
    /// updating what is stored, and the visit this arrival begins; empty
    /// if nothing is left to run. At a state stored before, what its
    /// earlier visits explored follows the step that led there.
    fn todo(&mut self, print: u128, runnable: TaskSet, asleep: TaskSet) -> (TaskSet, Visit) {
        let key = [print as u64, (print >> 64) as u64];
        let visiting = Stored {
            asleep,
            summary: Summaries::UNKNOWN,
        };
        match self.seen.entry(key) {
            Entry::Vacant(e) => {
                let todo = TaskSet(runnable.0 & !asleep.0);
                match todo.is_empty() {
                    true => e.insert(Stored {
                        summary: Summaries::EMPTY,
                        ..visiting
                    }),
                    false => e.insert(visiting),
                };
                (todo, (key, Summaries::EMPTY))
            }
            Entry::Occupied(mut e) => {
                let before = *e.get();
                self.matched = true;
                if let Some(top) = self.stack.last_mut() {
                    top.summary.merge(self.summaries.get(before.summary));
                }
                let todo = TaskSet(runnable.0 & before.asleep.0 & !asleep.0);
                let asleep = TaskSet(before.asleep.0 & asleep.0);
                match todo.is_empty() {
                    true => e.insert(Stored { asleep, ..before }),
                    false => e.insert(Stored { asleep, ..visiting }),
                };
                (todo, (key, before.summary))
            }
        }
    }
}

impl Scheduler for Stateful<'_> {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        self.stack[view.step as usize].chosen
    }

    fn prune(&mut self, view: &SchedView<'_>, state: &State) -> bool {
        let step = view.step as usize;
        if step < self.stack.len() {
            return false;
        }
        let asleep = self.asleep(step, state);
        let sleeping = tasks(&asleep);
        let awake = TaskSet(view.runnable.0 & !sleeping.0);
        let (todo, visit) = match self.store_every_state || awake.len() > 1 {
            true => {
                let (todo, visit) = self.todo(state.fingerprint(), view.runnable, sleeping);
                (todo, Some(visit))
            }
            false => (awake, None),
        };
        let Some(first) = todo.first() else {
            return true;
        };
        self.matched = false;
        let chosen = match view.current {
            Some(c) if todo.contains(c) => c,
            _ => first,
        };
        let observations = (todo.0 & !(1 << chosen.0) != 0).then(|| state.observations());
        self.stack.push(Frame {
            todo,
            chosen,
            done: TaskSet(1 << chosen.0),
            footprints: asleep,
            observations,
            summary: Summary::default(),
            visit,
        });
        false
    }

    fn ended(&mut self, step: u32, state: &State) {
        if step as usize == self.stack.len() {
            self.asleep(step as usize, state);
        }
    }

    fn replayed(&mut self) -> Option<(u32, Observations)> {
        let last = self.stack.last()?;
        let observations = last
            .observations
            .clone()
            .expect("a frame the search returns to has a task left to try, so kept them");
        Some((self.stack.len() as u32 - 1, observations))
    }
}

/// Explores every schedule of `scenario` for `model`, storing states, and
/// calls `progress` after each run with the runs so far and the distinct
/// outcomes.
pub fn explore<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    opts: ExploreOptions,
    mut progress: impl FnMut(usize, usize),
) -> Exploration {
    let max_executions = opts.max_executions;
    let skip = opts.sleep_sets && opts.skip_asleep_runs;
    let start = Instant::now();
    let mut result = Exploration::empty(M::NAME);
    let mut space = StateSpace::default();
    let mut seen = Seen::default();
    let mut summaries = Summaries::default();
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let prefix = stack.len();
        let mut sched = Stateful {
            stack: &mut stack,
            seen: &mut seen,
            summaries: &mut summaries,
            sleep_sets: opts.sleep_sets,
            store_every_state: opts.store_every_state,
            matched: false,
        };
        let outcome = run_model(model, scenario, &mut sched, RunOptions::OBSERVED);
        let matched = sched.matched;
        result.executions += 1;
        let steps = outcome.decisions.len();
        result.steps += steps as u64;
        // The run's new transitions: the alternative it took at the end of
        // its prefix, then every action after it.
        space.transitions += (steps + 1).saturating_sub(prefix.max(1)) as u64;
        space.depth = space.depth.max(steps);
        space.matched += u64::from(matched);
        if outcome.end != RunEnd::Pruned {
            result.record(outcome);
        }
        progress(result.executions, result.outcomes.len());
        if result.executions >= max_executions {
            result.incomplete = true;
            break;
        }
        if !advance(&mut stack, &mut seen, &mut summaries, skip) {
            break;
        }
    }
    space.states = seen.len();
    space.millis = start.elapsed().as_millis();
    result.stored = Some(space);
    result
}

/// Moves the search to its next untried choice, popping the states whose
/// every choice has been tried, or, with `skip`, whose every run left
/// would end with every task asleep, and storing what was explored from
/// them; false when none is left.
fn advance(stack: &mut Vec<Frame>, seen: &mut Seen, summaries: &mut Summaries, skip: bool) -> bool {
    while let Some(top) = stack.last_mut() {
        let untried = TaskSet(top.todo.0 & !top.done.0);
        if let (Some(t), false) = (
            untried.first(),
            skip && top.all_would_sleep(&summaries.objects),
        ) {
            top.done.insert(t);
            top.chosen = t;
            return true;
        }
        let popped = stack.pop().expect("the loop's frame");
        if let Some((key, before)) = popped.visit {
            let explored = summaries.union(before, &popped.summary);
            seen.get_mut(&key)
                .expect("a visited state is stored")
                .summary = explored;
        }
        if let Some(parent) = stack.last_mut() {
            parent.summary.merge(&popped.summary);
        }
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

    fn budget() -> ExploreOptions {
        ExploreOptions {
            exhaustive: true,
            ..ExploreOptions::default()
        }
    }

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
        let stored = explore(&Old, &s, budget(), |_, _| {});
        assert!(!all.incomplete && !stored.incomplete);
        assert_eq!(keys(&stored), keys(&all));
        assert!(stored.executions * 5 < all.executions);
    }

    /// Beside a migration, and with teardown beside one that finds no
    /// target (truncation and `unmap_and_move` return through
    /// `Frame::ret`) or one that migrates (where teardown's put and the
    /// migrator's puts of one page meet), every outcome and site a
    /// bounded search finds is found, in both versions, and the search
    /// says what it stored.
    #[test]
    fn an_exhaustive_search_finds_every_outcome_a_bounded_one_does() {
        let teardown = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        let mut no_target = teardown.clone();
        if let Op::Migrate { faults, .. } = &mut no_target.tasks[1][0] {
            faults.no_target = true;
        }
        for s in [setup_beside_a_migration(), no_target, teardown] {
            compare_with_k2(&s);
        }
    }

    /// Teardown beside a migration that finds no target, setup and
    /// teardown beside a background drain, and setup beside a migration.
    fn three_small_scenarios() -> [Scenario; 3] {
        let mut teardown = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        if let Op::Migrate { faults, .. } = &mut teardown.tasks[1][0] {
            faults.no_target = true;
        }
        let drain = Scenario {
            ring_pages: 2,
            tasks: vec![vec![Op::Setup, Op::Destroy]],
            drains: 1,
            ..Scenario::default()
        };
        [setup_beside_a_migration(), teardown, drain]
    }

    /// Sleep sets leave out only steps whose state another order reaches:
    /// with and without them, a search that stores every state stores the
    /// same number and finds the same outcomes and sites, from fewer runs.
    #[test]
    fn sleep_sets_visit_every_state_from_fewer_runs() {
        let every_state = ExploreOptions {
            store_every_state: true,
            skip_asleep_runs: false,
            ..budget()
        };
        let without = ExploreOptions {
            sleep_sets: false,
            ..every_state
        };
        for s in three_small_scenarios() {
            let slept = explore(&Old, &s, every_state, |_, _| {});
            let every = explore(&Old, &s, without, |_, _| {});
            assert!(!slept.incomplete && !every.incomplete);
            let states = |e: &Exploration| e.stored.expect("stored").states;
            assert_eq!(states(&slept), states(&every), "{s:?}");
            assert_eq!(keys(&slept), keys(&every), "{s:?}");
            assert_eq!(sites(&slept), sites(&every), "{s:?}");
            assert!(slept.executions < every.executions, "{s:?}");
        }
    }

    /// Passing through the states with one task to try, and not starting
    /// the runs that would end with every task asleep, finds the same
    /// outcomes and sites in both versions as storing every state and
    /// starting every run, storing fewer states, with and without sleep
    /// sets.
    #[test]
    fn storing_only_choices_finds_what_storing_every_state_does() {
        for sleep_sets in [true, false] {
            let choices = ExploreOptions {
                sleep_sets,
                ..budget()
            };
            let every_state = ExploreOptions {
                store_every_state: true,
                skip_asleep_runs: false,
                ..choices
            };
            for s in three_small_scenarios() {
                for (some, all) in [
                    (
                        explore(&Old, &s, choices, |_, _| {}),
                        explore(&Old, &s, every_state, |_, _| {}),
                    ),
                    (
                        explore(&New, &s, choices, |_, _| {}),
                        explore(&New, &s, every_state, |_, _| {}),
                    ),
                ] {
                    assert!(!some.incomplete && !all.incomplete);
                    assert_eq!(keys(&some), keys(&all), "{s:?}");
                    assert_eq!(sites(&some), sites(&all), "{s:?}");
                    let states = |e: &Exploration| e.stored.expect("stored").states;
                    assert!(states(&some) < states(&all), "{s:?}");
                }
            }
        }
    }

    /// With three tasks (setup, a migration, a background drain), most
    /// runs sleep sets start would end with every task asleep: not
    /// starting them loses no outcome and no site, in either version, from
    /// a third fewer runs or better.
    #[test]
    fn runs_that_would_end_asleep_are_not_started() {
        let s = Scenario {
            drains: 1,
            ..setup_beside_a_migration()
        };
        let every_run = ExploreOptions {
            skip_asleep_runs: false,
            ..budget()
        };
        for (reduced, every) in [
            (
                explore(&Old, &s, budget(), |_, _| {}),
                explore(&Old, &s, every_run, |_, _| {}),
            ),
            (
                explore(&New, &s, budget(), |_, _| {}),
                explore(&New, &s, every_run, |_, _| {}),
            ),
        ] {
            assert!(!reduced.incomplete && !every.incomplete);
            assert_eq!(keys(&reduced), keys(&every), "{}", every.model);
            assert_eq!(sites(&reduced), sites(&every), "{}", every.model);
            assert!(
                reduced.executions * 3 < every.executions * 2,
                "{}: {} runs, {} starting every run",
                every.model,
                reduced.executions,
                every.executions
            );
        }
    }

    /// With two tasks, a run that wakes no sleeper has one task awake in
    /// every state it passes, and stores none: leaving out such runs, and
    /// only those, stores exactly the states starting every run stores.
    /// Teardown beside a migration counts the steps that disable another
    /// task's (the page lock the migrator takes, which teardown's
    /// truncation then waits for).
    #[test]
    fn with_two_tasks_the_runs_left_out_store_no_state() {
        let teardown = crate::explore::tests::scenario(vec![Op::Setup, Op::Destroy]);
        let every_run = ExploreOptions {
            skip_asleep_runs: false,
            ..budget()
        };
        let states = |e: &Exploration| e.stored.expect("stored").states;
        for s in [setup_beside_a_migration(), teardown] {
            let reduced = explore(&New, &s, budget(), |_, _| {});
            let every = explore(&New, &s, every_run, |_, _| {});
            assert!(!reduced.incomplete && !every.incomplete);
            assert_eq!(states(&reduced), states(&every), "{s:?}");
            assert!(reduced.executions < every.executions, "{s:?}");
        }
    }

    /// The check above over every catalogue scenario with two tasks that
    /// completes within a million runs of each version, starting every
    /// run: about eight minutes (`cargo test --release -- --ignored`).
    #[test]
    #[ignore]
    fn with_two_tasks_no_catalogue_scenario_loses_a_state() {
        let every_run = ExploreOptions {
            skip_asleep_runs: false,
            ..budget()
        };
        let states = |e: &Exploration| e.stored.expect("stored").states;
        for entry in crate::catalogue::catalogue() {
            let s = &entry.scenario;
            if s.tasks.len() + s.drains as usize != 2 {
                continue;
            }
            for (reduced, every) in [
                (
                    explore(&Old, s, budget(), |_, _| {}),
                    explore(&Old, s, every_run, |_, _| {}),
                ),
                (
                    explore(&New, s, budget(), |_, _| {}),
                    explore(&New, s, every_run, |_, _| {}),
                ),
            ] {
                if every.incomplete {
                    continue;
                }
                assert!(!reduced.incomplete, "{} {}", entry.name, every.model);
                assert_eq!(
                    states(&reduced),
                    states(&every),
                    "{} {}",
                    entry.name,
                    every.model
                );
                assert_eq!(
                    keys(&reduced),
                    keys(&every),
                    "{} {}",
                    entry.name,
                    every.model
                );
            }
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
                explore(&Old, s, budget(), |_, _| {}),
            ),
            (
                bounded(&New, s, k2, |_, _| {}),
                explore(&New, s, budget(), |_, _| {}),
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
