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
    AioModel, Label, LabelPattern, SchedView, Scheduler, Segment, Segments, TaskId, TaskSet,
};

use crate::case::Class;
use crate::oracle::{classify, Contents, RefusalTable, SkewCheck};
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
}

impl Default for ExploreOptions {
    fn default() -> ExploreOptions {
        ExploreOptions {
            preemptions: 2,
            max_executions: 1_000_000,
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
            contents: crate::oracle::contents(&o.ctxs),
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
    let mut stack: Vec<Frame> = Vec::new();
    let mut result = Exploration {
        model: M::NAME,
        executions: 0,
        steps: 0,
        pruned: 0,
        incomplete: false,
        outcomes: BTreeMap::new(),
    };
    loop {
        let prefix: Vec<TaskId> = stack.iter().map(|f| f.chosen).collect();
        let mut dfs = Dfs {
            prefix: &prefix,
            frames: Vec::new(),
        };
        let mut outcome = run_model(model, scenario, &mut dfs, RunOptions::QUIET);
        result.executions += 1;
        result.steps += outcome.decisions.len() as u64;
        for mut f in dfs.frames {
            let last = stack.last();
            f.spent = last.map_or(0, |l| l.spent + l.cost(l.chosen));
            stack.push(f);
        }
        let key = OutcomeKey::of(&outcome);
        let decisions = std::mem::take(&mut outcome.decisions);
        match result.outcomes.get_mut(&key) {
            Some(r) if r.decisions.len() <= decisions.len() => {}
            Some(r) => r.decisions = decisions,
            None => {
                result.outcomes.insert(key, Reached { outcome, decisions });
            }
        }
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

/// Records what a replay needs to turn decisions into segments: who could
/// run at each step, and each task's next action.
struct Recorder {
    inner: kernel_sim::Replay,
    views: Vec<(TaskSet, [Option<Label>; kernel_sim::exec::MAX_TASKS])>,
}

impl Scheduler for Recorder {
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
    let mut rec = Recorder {
        inner: kernel_sim::Replay::new(decisions.to_vec()),
        views: Vec::new(),
    };
    let outcome = run_model(model, scenario, &mut rec, RunOptions::TRACED);
    let trace = &outcome.trace;
    let n = trace.len();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < n {
        let t = trace[i].task;
        let mut j = i;
        while j < n && trace[j].task == t {
            j += 1;
        }
        let until = rec.views.get(j).and_then(|(runnable, pending)| {
            if !runnable.contains(t) {
                return None;
            }
            let label = pending[t.index()]?;
            let seen = trace[i..j].iter().filter(|e| e.label == label).count() as u32;
            let pattern = LabelPattern {
                func: label.func,
                op: label.op,
                arg: Some(label.arg),
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

/// How each distinct new outcome compares with the old code under the same
/// schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Same outcome.
    pub agree: usize,
    /// The old code refused, from the table, where the new code migrated.
    pub allowed: usize,
    /// Different, both safe, and the old code reaches the new outcome under
    /// another schedule.
    pub skew: usize,
    /// Different, and the old code never reaches the new outcome.
    pub divergence: usize,
    /// One side or both broke an invariant under that schedule.
    pub violation: usize,
    /// Allowed refusals per row of the refusal table.
    pub rows: Vec<usize>,
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

/// Whether the old code reaches an outcome that the new one matches: the
/// same, or one the table lets the old code refuse.
struct OldSet<'a> {
    old: &'a Exploration,
    table: &'a RefusalTable,
}

impl OldSet<'_> {
    fn matches(&self, new: &Outcome) -> Option<Class> {
        let key = OutcomeKey::of(new);
        if self.old.outcomes.contains_key(&key) {
            return Some(Class::Agree);
        }
        self.old
            .outcomes
            .values()
            .any(|r| classify(&r.outcome, new, self.table, None).class == Class::AllowedRefusal)
            .then_some(Class::AllowedRefusal)
    }
}

impl OldSet<'_> {
    /// [`SkewCheck::old_reaches`] over the explored outcomes.
    fn reaches(&self, old: &Outcome, new: &Outcome) -> bool {
        if self.matches(new).is_some() {
            return true;
        }
        let keys: Vec<&OutcomeKey> = self.old.outcomes.keys().collect();
        timing_only(&OutcomeKey::of(old), &OutcomeKey::of(new), &keys)
    }
}

/// Whether each operation that ended differently in `old` and `new` ends
/// the new way in one of `reached`, and the new final state is `old`'s or
/// one of `reached`'s: the difference is one of timing.
fn timing_only(old: &OutcomeKey, new: &OutcomeKey, reached: &[&OutcomeKey]) -> bool {
    let result =
        |k: &OutcomeKey, t: usize, i: usize| k.results.get(t).and_then(|r| r.get(i)).cloned();
    let state = new.contents == old.contents || reached.iter().any(|k| k.contents == new.contents);
    state
        && new.results.iter().enumerate().all(|(t, ops)| {
            (0..ops.len()).all(|i| {
                let want = result(new, t, i);
                result(old, t, i) == want || reached.iter().any(|k| result(k, t, i) == want)
            })
        })
}

impl SkewCheck for OldSet<'_> {
    /// The new outcome is one of the old code's, or each operation that
    /// ended differently under this schedule ends the new way in some old
    /// outcome, and the final state is some old outcome's: the difference
    /// is one of timing.
    fn old_reaches(&mut self, old: &Outcome, new: &Outcome) -> Option<String> {
        self.reaches(old, new)
            .then(|| "under another schedule".to_string())
    }

    fn old_violates(&mut self, signature: &str) -> bool {
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
    let mut tally = Tally::default();
    for (key, r) in &new.outcomes {
        if key.violations.is_empty() && set.matches(&r.outcome).is_none() {
            note(
                Class::Divergence,
                &format!("new-outcome:{}", summary(key)),
                "new",
                &r.decisions,
            );
        }
        let schedule = witness_schedule(&New, scenario, &r.decisions);
        let replayed = run_model(
            &Old,
            scenario,
            &mut Segments::new(schedule),
            RunOptions::QUIET,
        );
        let mut skew = OldSet { old: &old, table };
        let verdict = classify(&replayed, &r.outcome, table, Some(&mut skew));
        tally.rows.resize(table.rows.len(), 0);
        for &row in &verdict.rows_hit {
            tally.rows[row] += 1;
        }
        match verdict.class {
            Class::Agree => tally.agree += 1,
            Class::AllowedRefusal => tally.allowed += 1,
            Class::Skew => tally.skew += 1,
            Class::Divergence => tally.divergence += 1,
            Class::OldOnly | Class::NewOnly | Class::Shared => tally.violation += 1,
        }
    }
    Comparison {
        old,
        new,
        findings: findings.into_values().collect(),
        tally,
    }
}

/// The distinct `aio_migratepage` return codes a model reached.
pub fn migratepage_codes(e: &Exploration) -> BTreeSet<i32> {
    e.outcomes
        .values()
        .flat_map(|r| r.outcome.results.iter().flatten())
        .filter_map(|r| match r {
            OpResult::Migrate { aio, .. } => Some(aio.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The skew check fuzz targets and `run` use: the old code's outcomes on a
/// scenario, explored once with a small preemption bound and kept per
/// scenario, so that repeated cases of one scenario cost one lookup.
pub struct SkewCache {
    opts: ExploreOptions,
    table: RefusalTable,
    explored: std::collections::HashMap<Scenario, Exploration>,
    /// New outcomes the check showed the old code reaching, per scenario,
    /// with where: true of every case of that scenario with that outcome,
    /// so that a fuzzer's many variants of one case search once.
    reached: std::collections::HashMap<(Scenario, OutcomeKey), String>,
    known: Option<BTreeSet<String>>,
}

impl SkewCache {
    /// Most scenarios kept; the cache starts over when it is full.
    const CAPACITY: usize = 4096;

    /// A cache exploring with bound `preemptions` and at most
    /// `max_executions` per scenario.
    pub fn new(preemptions: u32, max_executions: usize, table: RefusalTable) -> SkewCache {
        SkewCache {
            opts: ExploreOptions {
                preemptions,
                max_executions,
            },
            table,
            explored: std::collections::HashMap::new(),
            reached: std::collections::HashMap::new(),
            known: None,
        }
    }

    /// The violation signatures the old code shows in the catalogue's
    /// scenarios, explored on first use (two preemptions for one- and
    /// two-task scenarios on one-page rings, this cache's bound for the
    /// rest): the old code's bugs, wherever a fuzzer's scenario meets them.
    fn known_old_violations(&mut self) -> &BTreeSet<String> {
        let opts = self.opts;
        self.known.get_or_insert_with(|| {
            crate::catalogue::catalogue()
                .iter()
                .flat_map(|e| {
                    let opts = if e.scenario.ring_pages == 1 && e.scenario.tasks.len() <= 2 {
                        ExploreOptions {
                            preemptions: opts.preemptions.max(2),
                            ..opts
                        }
                    } else {
                        opts
                    };
                    explore(&Old, &e.scenario, opts, |_, _| {})
                        .outcomes
                        .into_keys()
                })
                .flat_map(|k| k.violations)
                .collect()
        })
    }

    /// PCT runs added to the bounded exploration, to find outcomes that
    /// need more preemptions than the bound allows.
    const SAMPLES: u64 = 256;

    /// Explores `scenario` on first use.
    fn ensure(&mut self, scenario: &Scenario) -> &Exploration {
        if !self.explored.contains_key(scenario) {
            if self.explored.len() >= Self::CAPACITY {
                self.explored.clear();
            }
            let mut e = explore(&Old, scenario, self.opts, |_, _| {});
            for seed in 1..=Self::SAMPLES {
                let mut pct = crate::strategy::Pct::new(seed, 2 + (seed % 3) as u32, 400);
                let mut o = run_model(&Old, scenario, &mut pct, RunOptions::QUIET);
                let decisions = std::mem::take(&mut o.decisions);
                e.outcomes.entry(OutcomeKey::of(&o)).or_insert(Reached {
                    outcome: o,
                    decisions,
                });
            }
            self.explored.insert(scenario.clone(), e);
        }
        &self.explored[scenario]
    }

    /// Schedules near a case's that the check runs the old code under,
    /// at most, when the exploration does not show the new outcome.
    const NEARBY: usize = 2_000;

    /// The check for one case, exploring its scenario on first use.
    pub fn check<'a>(
        &'a mut self,
        scenario: &'a Scenario,
        schedule: &'a [Segment],
    ) -> impl SkewCheck + 'a {
        Checker {
            cache: self,
            scenario,
            schedule,
        }
    }
}

/// [`SkewCache::check`]'s answer for one case.
struct Checker<'a> {
    cache: &'a mut SkewCache,
    scenario: &'a Scenario,
    schedule: &'a [Segment],
}

/// A schedule as `A until ..., B`.
fn show(schedule: &[Segment]) -> String {
    let segments: Vec<String> = schedule.iter().map(|s| s.to_string()).collect();
    segments.join(", ")
}

/// How far two outcomes are apart, operation by operation in task order:
/// 0 for the same result, else 1, and for a migration also how many
/// `aio_migratepage` and generic-path codes one returned that the other
/// did not (counting repeats, so ten -EAGAINs are nearer to nine than to
/// one); then 1 each for differing violations and final contents. Compared
/// in order, the first operation first: the search of schedules near a
/// case's climbs by putting the operations right one after another, and
/// needs a measure that moves when the old code gets partway there.
fn distance(a: &Outcome, b: &Outcome) -> Vec<u32> {
    fn apart(x: &[i32], y: &[i32]) -> usize {
        let (mut x, mut y) = (x.to_vec(), y.to_vec());
        x.sort_unstable();
        y.sort_unstable();
        let (mut i, mut j, mut common) = (0, 0, 0);
        while i < x.len() && j < y.len() {
            match x[i].cmp(&y[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        x.len() + y.len() - 2 * common
    }
    let ops = a.results.iter().flatten().zip(b.results.iter().flatten());
    let mut d: Vec<u32> = ops
        .map(|(x, y)| match (x, y) {
            _ if x == y => 0,
            (
                OpResult::Migrate {
                    aio: a1,
                    generic: g1,
                    ..
                },
                OpResult::Migrate {
                    aio: a2,
                    generic: g2,
                    ..
                },
            ) => (1 + apart(a1, a2) + apart(g1, g2)) as u32,
            _ => 1,
        })
        .collect();
    let (ka, kb) = (OutcomeKey::of(a), OutcomeKey::of(b));
    d.push(u32::from(ka.violations != kb.violations));
    d.push(u32::from(ka.contents != kb.contents));
    d
}

impl Checker<'_> {
    /// Where the old code reaches `new` (whose key is `key`): under a
    /// schedule near the case's, which holds for any case of the scenario
    /// with this new outcome (`true`), or among the scenario's explored
    /// outcomes, operation by operation against this case's old outcome
    /// (`false`).
    fn search(&mut self, old: &Outcome, new: &Outcome, key: &OutcomeKey) -> Option<(String, bool)> {
        let table = self.cache.table.clone();
        let near = self.search_nearby(distance(old, new), |o| {
            if OutcomeKey::of(o) == *key {
                return Ok(None);
            }
            let v = classify(o, new, &table, None);
            if v.class != Class::AllowedRefusal {
                return Err(distance(o, new));
            }
            let rows = v.rows_hit.iter().map(|&r| table.rows[r].name.as_str());
            Ok(Some(rows.collect::<Vec<_>>().join(", ")))
        });
        match near {
            Some((s, None)) => Some((format!("under the schedule `{}`", show(&s)), true)),
            Some((s, Some(rows))) => Some((
                format!(
                    "up to the refusal table's rows {rows}, under the schedule `{}`",
                    show(&s)
                ),
                true,
            )),
            None => {
                let set = OldSet {
                    old: self.cache.ensure(self.scenario),
                    table: &table,
                };
                set.reaches(old, new)
                    .then(|| ("under other schedules".to_string(), false))
            }
        }
    }

    /// [`crate::nearby::search`] from this case, within
    /// [`SkewCache::NEARBY`] runs.
    fn search_nearby<T, D: Ord>(
        &self,
        from: D,
        judge: impl FnMut(&Outcome) -> Result<T, D>,
    ) -> Option<(Vec<Segment>, T)> {
        let (scenario, schedule) = (self.scenario, self.schedule);
        crate::nearby::search(
            &Old,
            &New,
            scenario,
            schedule,
            from,
            SkewCache::NEARBY,
            judge,
        )
    }
}

impl SkewCheck for Checker<'_> {
    /// The old code reaches the new outcome, or one the new outcome
    /// matches up to the refusal table, under a schedule near the case's;
    /// failing that, its explored outcomes show the new outcome (see
    /// [`OldSet`]). The nearby schedules come first: they usually decide
    /// within a few dozen runs, where a scenario's first exploration takes
    /// thousands. A schedule found is kept for the scenario and the new
    /// outcome, and answers for later cases with both.
    fn old_reaches(&mut self, old: &Outcome, new: &Outcome) -> Option<String> {
        let key = OutcomeKey::of(new);
        let memo = (self.scenario.clone(), key.clone());
        if let Some(how) = self.cache.reached.get(&memo) {
            return Some(how.clone());
        }
        let (how, keep) = self.search(old, new, &key)?;
        if keep {
            if self.cache.reached.len() >= SkewCache::CAPACITY {
                self.cache.reached.clear();
            }
            self.cache.reached.insert(memo, how.clone());
        }
        Some(how)
    }

    /// The old code hits `signature` in one of the catalogue's scenarios,
    /// under a schedule near the case's, or in this scenario's exploration:
    /// a bug of the old code at the same place, which the bounded
    /// exploration of a large scenario may not reach.
    fn old_violates(&mut self, signature: &str) -> bool {
        if self.cache.known_old_violations().contains(signature) {
            return true;
        }
        let hit = |o: &Outcome| {
            let found = o.violations.iter().any(|v| v.signature() == signature);
            if found {
                Ok(())
            } else {
                Err(1)
            }
        };
        if self.search_nearby(1, hit).is_some() {
            return true;
        }
        self.cache
            .ensure(self.scenario)
            .outcomes
            .keys()
            .any(|k| k.violations.iter().any(|v| v == signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Case;
    use crate::scenario::{MigrateFaults, Op};
    use kernel_sim::{Faults, MigrateMode};

    fn scenario(ops: Vec<Op>) -> Scenario {
        Scenario {
            ring_pages: 1,
            faults: Faults::default(),
            tasks: vec![
                ops,
                vec![Op::Migrate {
                    index: 0,
                    mode: MigrateMode::Sync,
                    faults: MigrateFaults::default(),
                }],
            ],
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
    fn distance_counts_differing_codes_one_by_one() {
        use kernel_sim::errno::EAGAIN;
        use kernel_sim::MigrateResult;
        let outcome = |migrated: i32, aio: Vec<i32>| {
            let result = MigrateResult::Migrated(migrated);
            let generic = Vec::new();
            Outcome::with_results(
                "t",
                vec![vec![OpResult::Migrate {
                    result,
                    aio,
                    generic,
                }]],
            )
        };
        let ten = outcome(1, vec![EAGAIN; 10]);
        let nine_then_moved = outcome(0, [vec![EAGAIN; 9], vec![0]].concat());
        let moved = outcome(0, vec![0]);
        assert_eq!(distance(&ten, &ten), [0, 0, 0]);
        assert_eq!(distance(&nine_then_moved, &ten), [1 + 2, 0, 0]);
        assert_eq!(distance(&moved, &ten), [1 + 11, 0, 0]);
        assert_eq!(distance(&moved, &ten), distance(&ten, &moved));

        // Nearer on the first operation is nearer, whatever the later ones.
        let pair = |a: &Outcome, b: &Outcome| Outcome {
            results: vec![a.results[0].clone(), b.results[0].clone()],
            ..ten.clone()
        };
        assert!(
            distance(&pair(&nine_then_moved, &moved), &pair(&ten, &ten))
                < distance(&pair(&moved, &ten), &pair(&ten, &ten))
        );
    }

    #[test]
    fn a_skew_found_near_the_case_names_a_schedule_that_replays() {
        use crate::oracle::SkewCheck;
        let case = crate::text::parse(
            "t",
            "ring 2\n\
             task A: setup, migrate 1 sync-light extra-ref, migrate 1 async extra-ref, destroy, migrate 0 sync-light extra-ref\n\
             run A until aio_migratepage:BUG_ON#2\n\
             run C until find_get_page:put_page\n\
             run A\n\
             run A\n",
        )
        .unwrap();
        let run = |m: &dyn Fn(&mut Segments) -> Outcome, schedule: &[Segment]| {
            m(&mut Segments::new(schedule.to_vec()))
        };
        let old = |s: &mut Segments| run_model(&Old, &case.scenario, s, RunOptions::QUIET);
        let new = |s: &mut Segments| run_model(&New, &case.scenario, s, RunOptions::QUIET);
        let (o, n) = (run(&old, &case.schedule), run(&new, &case.schedule));
        assert_ne!(OutcomeKey::of(&o), OutcomeKey::of(&n));

        let mut cache = SkewCache::new(1, 4_000, RefusalTable::default());
        let how = cache
            .check(&case.scenario, &case.schedule)
            .old_reaches(&o, &n)
            .expect("skew");
        let named = how
            .strip_prefix("under the schedule `")
            .and_then(|s| s.strip_suffix('`'))
            .unwrap_or_else(|| panic!("no schedule in {how:?}"));
        let mut text = crate::text::print(&Case {
            schedule: Vec::new(),
            ..case.clone()
        });
        for segment in named.split(", ") {
            text.push_str(&format!("run {segment}\n"));
        }
        let replayed = crate::text::parse("named", &text).unwrap();
        assert_eq!(
            OutcomeKey::of(&run(&old, &replayed.schedule)),
            OutcomeKey::of(&n),
            "{text}"
        );
    }

    #[test]
    fn the_skew_check_knows_the_old_code_bugs_of_three_task_scenarios() {
        use crate::oracle::SkewCheck;
        // Setup's header write landing in a page a migration freed needs a
        // truncate, a destroy and two migrations: only the catalogue's
        // three-task scenarios show it in the old code.
        let mut cache = SkewCache::new(1, 4_000, RefusalTable::default());
        let s = scenario(vec![Op::Setup]);
        let mut check = cache.check(&s, &[]);
        assert!(check.old_violates("use-after-free(page)@aio_setup_ring"));
        assert!(!check.old_violates("use-after-free(page)@no_such_function"));
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
        assert_eq!(
            migratepage_codes(&c.new),
            BTreeSet::from([kernel_sim::errno::EAGAIN, 0])
        );
        assert!(migratepage_codes(&c.old).contains(&kernel_sim::errno::EINVAL));
    }
}
