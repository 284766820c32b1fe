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

use kernel_sim::{AioModel, Segments, TaskId};

use crate::bytes::{self, MAX_SEGMENTS};
use crate::explore::witness_schedule;
use crate::runner::{run_model, RunOptions};
use crate::strategy::Rng;

/// `data` with its schedule rewritten to switch to another task at one
/// step of `model`'s run, both chosen by `seed`. `None` where the run is
/// too short to cut, or the new schedule does not fit the byte format (more
/// than [`MAX_SEGMENTS`] segments before the switch, or a count past
/// [`bytes::MAX_OCCURRENCE`]); the caller then mutates the bytes instead.
pub fn preempt<M: AioModel>(model: &M, data: &[u8], seed: u32) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rng = Rng::new(u64::from(seed));
    let run = run_model(
        model,
        &case.scenario,
        &mut Segments::new(case.schedule.clone()),
        RunOptions::QUIET,
    );
    if run.decisions.len() < 2 {
        return None;
    }
    let cut = 1 + rng.below(run.decisions.len() as u64 - 1) as usize;
    let tasks = case.scenario.total_tasks() as u64;
    let mut decisions = run.decisions[..cut].to_vec();
    decisions.push(TaskId(rng.below(tasks) as u8));
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
            let Some(mutated) = preempt(&Old, &data, seed) else {
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
}
