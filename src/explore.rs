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

use std::collections::BTreeMap;

use kernel_sim::{AioModel, SchedView, Scheduler, TaskId, TaskSet};

use crate::oracle::Contents;
use crate::runner::{run_model, OpResult, Outcome, RunOptions};
use crate::scenario::Scenario;
use crate::swimlane::result;

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
        let mut violations: Vec<String> = o.violations.iter().map(|v| v.signature()).collect();
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
    fn next_task(&mut self, view: &SchedView) -> TaskId {
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
