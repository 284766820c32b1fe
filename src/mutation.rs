//! A structure-aware mutation of fuzzer inputs that works like one of
//! PCT's draws: a preemption at a point the run really reaches.
//!
//! A byte mutation of the schedule part rarely lands a segment's stop on an
//! action the task performs, and an insertion or erasure shifts how every
//! later byte is read (BENCHMARKS.md, "How far one mutation reaches").
//! [`preempt`] instead runs the decoded case, picks one of its steps and a
//! task, and rewrites the schedule so that the run is the same up to that
//! step and then switches to that task, the default policy finishing it.
//! The scenario is left alone; the fuzzer's own mutations change it.
//!
//! A switch changes what a run does only where it reorders two
//! conflicting events, so [`Cut::Conflicts`] places it as a dynamic
//! partial-order reduction places a backtracking point: before an event
//! that some later event of another task conflicts with, switching to that
//! task. [`Cut::Uniform`] picks any step and task, for comparison.

use kernel_sim::{AioModel, Segments, TaskId};

use crate::bytes::{self, MAX_SEGMENTS};
use crate::explore::witness_schedule;
use crate::judge::transplant::Order;
use crate::runner::{run_model, Outcome, RunOptions};
use crate::strategy::Rng;

/// Where [`preempt`] switches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cut {
    /// Before an event that a later event of another task conflicts with,
    /// to that task: the first event of a pair whose order the switch may
    /// reverse.
    Conflicts,
    /// At any step after the first, to any task.
    Uniform,
}

/// `data` with its schedule rewritten to switch to another task at one
/// step of `model`'s run, both chosen by `seed` where `cut` allows. `None`
/// where the run has no such step, or the new schedule does not fit the
/// byte format (more than [`MAX_SEGMENTS`] segments before the switch, or
/// a count past [`bytes::MAX_OCCURRENCE`]); the caller then mutates the
/// bytes instead.
pub fn preempt<M: AioModel>(model: &M, data: &[u8], seed: u32, cut: Cut) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rng = Rng::new(u64::from(seed));
    let opts = match cut {
        Cut::Conflicts => RunOptions::QUIET.with_history(),
        Cut::Uniform => RunOptions::QUIET,
    };
    let run = run_model(
        model,
        &case.scenario,
        &mut Segments::new(case.schedule.clone()),
        opts,
    );
    let (cut, to) = match cut {
        Cut::Conflicts => conflict_switch(&run, &mut rng)?,
        Cut::Uniform => {
            if run.decisions.len() < 2 {
                return None;
            }
            let tasks = case.scenario.total_tasks() as u64;
            (
                1 + rng.below(run.decisions.len() as u64 - 1) as usize,
                TaskId(rng.below(tasks) as u8),
            )
        }
    };
    let mut decisions = run.decisions[..cut].to_vec();
    decisions.push(to);
    // One segment per run of a task up to the switch; the run's tail is
    // the default policy's, which its segments would only repeat.
    let runs = 1 + decisions.windows(2).filter(|w| w[0] != w[1]).count();
    if runs > MAX_SEGMENTS {
        return None;
    }
    let mut schedule = witness_schedule(model, &case.scenario, &decisions);
    schedule.truncate(runs);
    case.schedule = schedule;
    bytes::encode(&case).ok()
}

/// One of `run`'s conflicting pairs of events by two tasks, drawn
/// uniformly: the step of the earlier one (after the first step) and the
/// task of the later one.
fn conflict_switch(run: &Outcome, rng: &mut Rng) -> Option<(usize, TaskId)> {
    let order = Order::of(&run.history);
    let pairs: Vec<(usize, TaskId)> = (0..order.len() as u32)
        .flat_map(|j| order.preds(j).iter().map(move |&i| (i as usize, j)))
        .filter(|&(i, _)| i >= 1)
        .map(|(i, j)| (i, order.task(j)))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    Some(pairs[rng.below(pairs.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{text, Old};

    fn decisions(data: &[u8]) -> Vec<TaskId> {
        let case = bytes::decode(data);
        let mut sched = Segments::new(case.schedule.clone());
        run_model(&Old, &case.scenario, &mut sched, RunOptions::QUIET).decisions
    }

    /// A preemption keeps the scenario and the run up to a step, and then
    /// the run goes another way for some seeds.
    #[test]
    fn a_preemption_keeps_the_scenario_and_a_prefix_of_the_run() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/b1-half-migrated-page.sched"
        );
        let case = text::parse("b1", &std::fs::read_to_string(path).unwrap()).unwrap();
        let data = bytes::encode(&case).unwrap();
        let before = decisions(&data);
        let mut changed = 0;
        for seed in 0..64 {
            let Some(mutated) = preempt(&Old, &data, seed, Cut::Uniform) else {
                continue;
            };
            assert_eq!(bytes::decode(&mutated).scenario, case.scenario);
            let after = decisions(&mutated);
            assert_eq!(after[0], before[0], "seed {seed}: the first step is kept");
            changed += usize::from(after != before);
        }
        assert!(
            changed > 16,
            "only {changed} of 64 preemptions changed the run"
        );
    }

    /// A switch placed at a conflict keeps the run up to the earlier event
    /// of the pair and then runs the other task there: nearly every one
    /// changes the run, where a uniform one often switches to the task
    /// already running or before an event no one else touches.
    #[test]
    fn a_switch_at_a_conflict_changes_the_run() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/b1-half-migrated-page.sched"
        );
        let case = text::parse("b1", &std::fs::read_to_string(path).unwrap()).unwrap();
        let data = bytes::encode(&case).unwrap();
        let before = decisions(&data);
        let history = run_model(
            &Old,
            &case.scenario,
            &mut Segments::new(case.schedule.clone()),
            RunOptions::QUIET.with_history(),
        );
        assert_eq!(history.history.events.len(), before.len());
        let changed = |cut| {
            (0..64)
                .filter_map(|seed| preempt(&Old, &data, seed, cut))
                .filter(|m| decisions(m) != before)
                .count()
        };
        let (conflicts, uniform) = (changed(Cut::Conflicts), changed(Cut::Uniform));
        assert!(
            conflicts >= 60,
            "{conflicts} of 64 switches at a conflict changed the run"
        );
        assert!(conflicts > uniform, "{conflicts} against {uniform}");
    }
}
