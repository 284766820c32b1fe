//! Exhaustive exploration of a scenario's schedules, by stateless
//! re-execution with preemption bounding.
//!
//! Each execution replays a prefix of scheduling decisions from scratch,
//! then continues with the default policy: keep the current task while it
//! can run. A depth-first search over the decisions then tries every other
//! runnable task at every step, as long as the schedule stays within the
//! preemption bound. Switching away from a task that can still run, in the
//! middle of an operation, is a preemption; switching when the task blocks
//! or ends, or between two of its operations, is free.
//!
//! Guarantee: every schedule with at most `K` preemptions is run, so every
//! outcome (results, violations, final state) reachable with at most `K`
//! preemptions is found. The cases of the kernel reference need at most two
//! (B1: the migration is preempted after `migrate_page_move_mapping`, and
//! teardown after dropping the page). An execution budget stops runaway
//! explorations; a stopped one says it is incomplete.

use std::collections::{BTreeMap, BTreeSet};

use kernel_sim::{
    AioModel, Label, LabelPattern, Note, ReturnSite, SchedView, Scheduler, Segment, TaskId, TaskSet,
};

use crate::case::Class;
use crate::judge::classify::{equal_up_to, Contents, RefusalTable};
use crate::runner::{run_model, OpResult, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::swimlane::result;
use crate::{New, Old};

/// Limits of one exploration.
#[derive(Clone, Copy, Debug)]
pub struct ExploreOptions {
    /// Most preemptions in one schedule (`K`).
    pub preemptions: u32,
    /// Stop after this many executions (the result is then incomplete).
    pub max_executions: usize,
    /// Explore every schedule, with no preemption bound, storing the
    /// states explored ([`crate::exhaustive`]); `preemptions` is then
    /// unused.
    pub exhaustive: bool,
    /// With `exhaustive`, leave out the steps whose successor state another
    /// order of independent steps reaches ([`crate::exhaustive`]).
    pub sleep_sets: bool,
    /// With `exhaustive`, store every state reached, not only those where
    /// the search has a choice: more memory and time, the same outcomes;
    /// `states stored` then counts the distinct states reached.
    pub store_every_state: bool,
    /// With `exhaustive` and `sleep_sets`, do not try the tasks left at a
    /// state when every run from them would end with every task asleep
    /// ([`crate::exhaustive`]): fewer runs and states, the same outcomes.
    pub skip_asleep_runs: bool,
}

impl Default for ExploreOptions {
    fn default() -> ExploreOptions {
        ExploreOptions {
            preemptions: 2,
            max_executions: 1_000_000,
            exhaustive: false,
            sleep_sets: true,
            store_every_state: false,
            skip_asleep_runs: true,
        }
    }
}

/// What distinguishes two outcomes: operation results, violation
/// signatures and the final state's contents (page identities aside).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct OutcomeKey {
    /// Per task, each operation's result in words.
    pub results: Vec<Vec<String>>,
    /// Violation signatures, sorted, without duplicates.
    pub violations: Vec<String>,
    /// Each kioctx's final contents.
    pub contents: Vec<Contents>,
    /// `aio_nr` at the end.
    pub aio_nr: u64,
}

impl OutcomeKey {
    /// The key of an outcome.
    pub fn of(o: &Outcome) -> OutcomeKey {
        let mut violations = o.signatures();
        violations.sort();
        violations.dedup();
        OutcomeKey {
            results: o
                .results
                .iter()
                .map(|t| {
                    t.iter()
                        .map(|r| match r {
                            OpResult::Setup(Ok(_)) => "ok".to_string(),
                            r => result(r),
                        })
                        .collect()
                })
                .collect(),
            violations,
            contents: crate::judge::classify::contents(&o.ctxs),
            aio_nr: o.aio_nr,
        }
    }
}

/// One distinct outcome and the shortest schedule found that reaches it.
#[derive(Clone, Debug)]
pub struct Reached {
    /// A representative outcome (without trace).
    pub outcome: Outcome,
    /// Its scheduling decisions, the fewest found.
    pub decisions: Vec<TaskId>,
}

/// The result of exploring one model on one scenario.
#[derive(Clone, Debug)]
pub struct Exploration {
    /// `old` or `new`.
    pub model: &'static str,
    /// Executions run.
    pub executions: usize,
    /// Actions performed over all executions.
    pub steps: u64,
    /// Alternatives not run because they would exceed the preemption
    /// bound.
    pub pruned: u64,
    /// Whether the execution budget stopped it early.
    pub incomplete: bool,
    /// Every distinct outcome, with its shortest schedule.
    pub outcomes: BTreeMap<OutcomeKey, Reached>,
    /// Every `aio_migratepage` return site reached, with the shortest
    /// schedule that reaches it (outcomes alone would hide a site behind
    /// another that returns the same code).
    pub sites: BTreeMap<ReturnSite, Vec<TaskId>>,
    /// For an exhaustive exploration, the states it stored.
    pub stored: Option<crate::exhaustive::StateSpace>,
}

impl Exploration {
    /// An exploration of `model` that has run nothing yet.
    pub fn empty(model: &'static str) -> Exploration {
        Exploration {
            model,
            executions: 0,
            steps: 0,
            pruned: 0,
            incomplete: false,
            outcomes: BTreeMap::new(),
            sites: BTreeMap::new(),
            stored: None,
        }
    }

    /// Records a finished run: its outcome, if new or reached by fewer
    /// decisions, and the return sites it reached.
    pub fn record(&mut self, mut outcome: Outcome) {
        let key = OutcomeKey::of(&outcome);
        let decisions = std::mem::take(&mut outcome.decisions);
        for site in return_sites(&outcome) {
            let shortest = self.sites.entry(site).or_insert_with(|| decisions.clone());
            if decisions.len() < shortest.len() {
                *shortest = decisions.clone();
            }
        }
        match self.outcomes.get_mut(&key) {
            Some(r) if r.decisions.len() <= decisions.len() => {}
            Some(r) => r.decisions = decisions,
            None => {
                self.outcomes.insert(key, Reached { outcome, decisions });
            }
        }
    }
}

/// One decision of the current execution.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// Tasks that could act.
    runnable: TaskSet,
    /// Tasks whose choice here is free (the previous task blocked, ended,
    /// or is between operations, or it is the previous task itself).
    free: TaskSet,
    /// The choice made.
    chosen: TaskId,
    /// Choices already explored from here.
    done: TaskSet,
    /// Preemptions before this decision.
    spent: u32,
}

impl Frame {
    fn cost(&self, t: TaskId) -> u32 {
        u32::from(!self.free.contains(t))
    }
}

/// Replays a prefix, then keeps the current task while it can run, and
/// records a frame for every decision past the prefix.
struct Dfs<'a> {
    prefix: &'a [TaskId],
    frames: Vec<Frame>,
}

impl Scheduler for Dfs<'_> {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let i = view.step as usize;
        let free = match view.current {
            Some(c) if view.runnable.contains(c) && !view.op_start.contains(c) => TaskSet(1 << c.0),
            _ => view.runnable,
        };
        let chosen = match self.prefix.get(i) {
            Some(&t) if view.runnable.contains(t) => t,
            _ => kernel_sim::RunToBlock.next_task(view),
        };
        if i >= self.prefix.len() {
            self.frames.push(Frame {
                runnable: view.runnable,
                free,
                chosen,
                done: TaskSet(1 << chosen.0),
                spent: 0,
            });
        }
        chosen
    }
}

/// Explores every schedule of `scenario` for `model` within the
/// preemption bound, calling `progress` after each execution with the
/// executions so far and the distinct outcomes.
pub fn explore<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    opts: ExploreOptions,
    mut progress: impl FnMut(usize, usize),
) -> Exploration {
    if opts.exhaustive {
        return crate::exhaustive::explore(model, scenario, opts, progress);
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut result = Exploration::empty(M::NAME);
    loop {
        let prefix: Vec<TaskId> = stack.iter().map(|f| f.chosen).collect();
        let mut dfs = Dfs {
            prefix: &prefix,
            frames: Vec::new(),
        };
        let outcome = run_model(model, scenario, &mut dfs, RunOptions::QUIET);
        result.executions += 1;
        result.steps += outcome.decisions.len() as u64;
        for mut f in dfs.frames {
            let last = stack.last();
            f.spent = last.map_or(0, |l| l.spent + l.cost(l.chosen));
            stack.push(f);
        }
        result.record(outcome);
        progress(result.executions, result.outcomes.len());
        if result.executions >= opts.max_executions {
            result.incomplete = true;
            break;
        }
        let mut found = false;
        while let Some(top) = stack.last_mut() {
            let untried = TaskSet(top.runnable.0 & !top.done.0);
            let next = untried
                .iter()
                .find(|&t| top.spent + top.cost(t) <= opts.preemptions);
            let beyond = untried.len() - usize::from(next.is_some());
            if let Some(t) = next {
                top.done.insert(t);
                top.chosen = t;
                found = true;
                break;
            }
            result.pruned += beyond as u64;
            stack.pop();
        }
        if !found {
            break;
        }
    }
    result
}

/// What a scheduler was shown at one step of a run: who could run, and
/// each task's next action (the one it performs if chosen).
pub type View = (TaskSet, [Option<Label>; kernel_sim::exec::MAX_TASKS]);

/// A scheduler that records each step's view before `inner` chooses, as
/// [`segments_of`] needs.
pub struct Recorder<S> {
    /// The scheduler that chooses.
    pub inner: S,
    /// One view per step so far.
    pub views: Vec<View>,
}

impl<S: Scheduler> Recorder<S> {
    /// Records the views `inner` is shown.
    pub fn new(inner: S) -> Self {
        Recorder {
            inner,
            views: Vec::new(),
        }
    }
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        self.views.push((view.runnable, *view.pending));
        self.inner.next_task(view)
    }
}

/// Turns one model's scheduling decisions into a label-aligned schedule
/// that replays them: a segment per run of one task, ending before the
/// task's next action when it was preempted, or when it blocked or ended.
pub fn witness_schedule<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    decisions: &[TaskId],
) -> Vec<Segment> {
    let mut rec = Recorder::new(kernel_sim::Replay::new(decisions.to_vec()));
    let outcome = run_model(model, scenario, &mut rec, RunOptions::QUIET);
    segments_of(&rec.views, &outcome.decisions)
}

/// The segments of [`witness_schedule`], from the decisions a run took and
/// the views it recorded: a run of one task ends before its next action
/// where the view after the run shows it still runnable, and otherwise
/// runs the task as far as it can (`views` may go on past `decisions`).
pub fn segments_of(views: &[View], decisions: &[TaskId]) -> Vec<Segment> {
    let n = decisions.len();
    let label = |k: usize| views[k].1[decisions[k].index()];
    let mut segments = Vec::new();
    let mut i = 0;
    while i < n {
        let t = decisions[i];
        let mut j = i;
        while j < n && decisions[j] == t {
            j += 1;
        }
        let until = views.get(j).and_then(|(runnable, pending)| {
            if !runnable.contains(t) {
                return None;
            }
            let stop = pending[t.index()]?;
            let seen = (i..j).filter(|&k| label(k) == Some(stop)).count() as u32;
            let pattern = LabelPattern {
                func: stop.func,
                op: stop.op,
                arg: Some(stop.arg),
            };
            Some((pattern, seen + 1))
        });
        segments.push(Segment { task: t, until });
        i = j;
    }
    segments
}

/// A finding of a comparison: a class, a signature, and the schedule that
/// shows it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The class.
    pub class: Class,
    /// The signature.
    pub signature: String,
    /// The model whose outcome shows it.
    pub model: &'static str,
    /// Distinct outcomes of that model that show it.
    pub outcomes: usize,
    /// The shortest schedule found, as that model's decisions.
    pub decisions: Vec<TaskId>,
}

/// How each distinct new outcome compares with the old code following the
/// order of the new run that reached it (the transplant).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// One interleaving, the same outcome.
    pub agree: usize,
    /// One interleaving, the differences the refusal table allows.
    pub allowed: usize,
    /// One interleaving, and the old code does not reach the new outcome.
    pub divergence: usize,
    /// The old code could not follow, and its explored outcomes include the
    /// new outcome (up to the table).
    pub skew: usize,
    /// The old code could not follow, and its explored outcomes do not
    /// include the new outcome (an outcome-set divergence too).
    pub unreached: usize,
    /// One side or both broke an invariant.
    pub violation: usize,
    /// Allowed refusals per row of the refusal table.
    pub rows: Vec<usize>,
}

impl Tally {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.agree += other.agree;
        self.allowed += other.allowed;
        self.divergence += other.divergence;
        self.skew += other.skew;
        self.unreached += other.unreached;
        self.violation += other.violation;
        self.rows.resize(self.rows.len().max(other.rows.len()), 0);
        for (a, b) in self.rows.iter_mut().zip(&other.rows) {
            *a += b;
        }
    }
}

/// Both models' explorations of one scenario and what they show.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The pre-patch exploration.
    pub old: Exploration,
    /// The post-patch exploration.
    pub new: Exploration,
    /// The findings, in signature order.
    pub findings: Vec<Finding>,
    /// The distinct new outcomes, by how they compare.
    pub tally: Tally,
}

/// The old code's explored outcomes, as a set the new code's outcomes are
/// checked against.
pub struct OldSet<'a> {
    /// The old code's exploration.
    pub old: &'a Exploration,
    /// The differences it allows.
    pub table: &'a RefusalTable,
}

impl OldSet<'_> {
    /// Whether the old code reaches `new`'s outcome (`Agree`), or one that
    /// `new` matches up to the refusal table (`AllowedRefusal`).
    pub fn matches(&self, new: &Outcome) -> Option<Class> {
        let key = OutcomeKey::of(new);
        if self.old.outcomes.contains_key(&key) {
            return Some(Class::Agree);
        }
        self.old
            .outcomes
            .values()
            .any(|r| equal_up_to(&r.outcome, new, self.table).is_some())
            .then_some(Class::AllowedRefusal)
    }

    /// Whether the old code hits a violation with `signature`.
    pub fn violates(&self, signature: &str) -> bool {
        self.old
            .outcomes
            .keys()
            .any(|k| k.violations.iter().any(|v| v == signature))
    }
}

fn summary(key: &OutcomeKey) -> String {
    key.results
        .iter()
        .enumerate()
        .map(|(t, r)| format!("{}={}", TaskId(t as u8), r.join("/")))
        .collect::<Vec<_>>()
        .join(";")
}

/// Explores both models and compares their sets of outcomes: every new
/// outcome must match an old one (up to the allowed-refusal table), and
/// every violation is a finding.
///
/// The old code may be explored with a larger bound than the new code
/// (`old_opts`), so that a new outcome is not reported as unreachable only
/// because the old code needs one more preemption to get there.
pub fn compare(
    scenario: &Scenario,
    old_opts: ExploreOptions,
    new_opts: ExploreOptions,
    table: &RefusalTable,
    mut progress: impl FnMut(usize, usize),
) -> Comparison {
    let old = explore(&Old, scenario, old_opts, &mut progress);
    let new = explore(&New, scenario, new_opts, &mut progress);
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut note = |class: Class, detail: &str, model: &'static str, decisions: &[TaskId]| {
        let signature = format!("{}:{detail}", class.name());
        let f = findings
            .entry(signature.clone())
            .or_insert_with(|| Finding {
                class,
                signature,
                model,
                outcomes: 0,
                decisions: decisions.to_vec(),
            });
        f.outcomes += 1;
        if decisions.len() < f.decisions.len() {
            f.decisions = decisions.to_vec();
        }
    };
    let old_sigs: BTreeSet<&String> = old.outcomes.keys().flat_map(|k| &k.violations).collect();
    let new_sigs: BTreeSet<&String> = new.outcomes.keys().flat_map(|k| &k.violations).collect();
    for (key, r) in &new.outcomes {
        for s in &key.violations {
            let class = if old_sigs.contains(s) {
                Class::Shared
            } else {
                Class::NewOnly
            };
            note(class, s, "new", &r.decisions);
        }
    }
    for (key, r) in &old.outcomes {
        for s in key.violations.iter().filter(|s| !new_sigs.contains(s)) {
            note(Class::OldOnly, s, "old", &r.decisions);
        }
    }
    let set = OldSet { old: &old, table };
    let mut tally = Tally {
        rows: vec![0; table.rows.len()],
        ..Tally::default()
    };
    for (key, r) in &new.outcomes {
        let matched = set.matches(&r.outcome);
        if key.violations.is_empty() && matched.is_none() {
            note(
                Class::Divergence,
                &format!("new-outcome:{}", summary(key)),
                "new",
                &r.decisions,
            );
        }
        let t = crate::judge::follow_new_run(scenario, &r.decisions, table);
        for &row in &t.verdict.rows_hit {
            tally.rows[row] += 1;
        }
        let followed = t.alignment.followed();
        match t.verdict.class {
            Class::Agree | Class::AllowedRefusal if !followed => tally.skew += 1,
            Class::Agree => tally.agree += 1,
            Class::AllowedRefusal => tally.allowed += 1,
            Class::Divergence if followed => {
                tally.divergence += 1;
                let detail = t.verdict.signature.trim_start_matches("divergence:");
                note(Class::Divergence, detail, "new", &r.decisions);
            }
            Class::Divergence if matched.is_some() => tally.skew += 1,
            Class::Divergence => tally.unreached += 1,
            _ => tally.violation += 1,
        }
    }
    Comparison {
        old,
        new,
        findings: findings.into_values().collect(),
        tally,
    }
}

/// The `aio_migratepage` return sites of a run, in the order reached.
pub fn return_sites(o: &Outcome) -> impl Iterator<Item = ReturnSite> + '_ {
    o.notes.iter().filter_map(Note::site)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::{MigrateFaults, Op};
    use kernel_sim::MigrateMode;
    use kernel_sim::Segments;

    /// A one-page ring: `ops` in task A, a migration of page 0 in task B.
    pub(crate) fn scenario(ops: Vec<Op>) -> Scenario {
        Scenario {
            ring_pages: 1,
            tasks: vec![
                ops,
                vec![Op::Migrate {
                    index: 0,
                    mode: MigrateMode::Sync,
                    faults: MigrateFaults::default(),
                    frame: None,
                }],
            ],
            ..Scenario::default()
        }
    }

    /// What [`segments_of`] relies on: the action a task performs is the
    /// one its step's view showed as its next, on every step of a traced
    /// run of each corpus entry.
    #[test]
    fn each_step_performs_the_action_its_view_showed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let case =
                crate::text::parse("corpus", &std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut rec = Recorder::new(Segments::new(case.schedule.clone()));
            let run = run_model(&Old, &case.scenario, &mut rec, RunOptions::TRACED);
            assert_eq!(run.decisions.len(), run.trace.len(), "{path:?}");
            for (k, e) in run.trace.iter().enumerate() {
                assert_eq!(run.decisions[k], e.task, "{path:?} step {k}");
                assert_eq!(
                    rec.views[k].1[e.task.index()],
                    Some(e.label),
                    "{path:?} step {k}"
                );
            }
        }
    }

    #[test]
    fn every_witness_replays_its_outcome() {
        let s = scenario(vec![Op::Setup, Op::Truncate]);
        let opts = ExploreOptions {
            preemptions: 1,
            ..ExploreOptions::default()
        };
        for e in [
            explore(&Old, &s, opts, |_, _| {}),
            explore(&New, &s, opts, |_, _| {}),
        ] {
            assert!(!e.incomplete);
            assert!(e.outcomes.len() > 1, "{} found one outcome", e.model);
            for (key, r) in &e.outcomes {
                let schedule = if e.model == "old" {
                    witness_schedule(&Old, &s, &r.decisions)
                } else {
                    witness_schedule(&New, &s, &r.decisions)
                };
                let replayed = if e.model == "old" {
                    run_model(&Old, &s, &mut Segments::new(schedule), RunOptions::QUIET)
                } else {
                    run_model(&New, &s, &mut Segments::new(schedule), RunOptions::QUIET)
                };
                assert_eq!(&OutcomeKey::of(&replayed), key, "{} witness", e.model);
            }
        }
    }

    #[test]
    fn comparing_setup_and_teardown_against_a_migration_finds_b1_and_no_regression() {
        let s = scenario(vec![Op::Setup, Op::Destroy]);
        let opts = ExploreOptions::default();
        let c = compare(&s, opts, opts, &RefusalTable::default(), |_, _| {});
        let sigs: Vec<&str> = c.findings.iter().map(|f| f.signature.as_str()).collect();
        assert!(
            sigs.contains(&"old-only:truncate-livelock@truncate_inode_pages_range"),
            "{sigs:?}"
        );
        assert!(!sigs.iter().any(|s| s.starts_with("new-only:")), "{sigs:?}");
        let sites = |e: &Exploration| e.sites.keys().copied().collect::<Vec<_>>();
        assert_eq!(
            sites(&c.new),
            [ReturnSite::MoveMapping, ReturnSite::Success]
        );
        assert_eq!(
            sites(&c.old),
            [
                ReturnSite::FirstCheckRingPage,
                ReturnSite::FirstCheckIndex,
                ReturnSite::MoveMapping,
                ReturnSite::SecondCheckRingPage,
                ReturnSite::Success
            ],
            "B1's second check fires; the NULL-ctx branches cannot"
        );
    }
}
