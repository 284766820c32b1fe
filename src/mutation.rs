//! Structure-aware mutations of fuzzer inputs that work like PCT's
//! draws: a preemption at a point the run really reaches (the fuzz
//! targets' mutator), or a whole PCT draw (`benches/odds.rs`).
//!
//! A byte mutation of the schedule part rarely lands a segment's stop on an
//! action the task performs, and an insertion or erasure shifts how every
//! later byte is read (BENCHMARKS.md, "How far one mutation reaches").
//! [`preempt`] instead runs the decoded case, picks one of its steps and a
//! task, and rewrites the schedule so that the run is the same up to that
//! step and then switches to that task. Much as PCT's priorities order
//! them, the tasks then run in an order drawn at random: the task switched
//! to until it blocks or ends, then each other task in turn until it
//! blocks or ends, the preempted one among them, the default policy
//! finishing the run. (Unlike a priority, a segment is used once: a task
//! blocked at its turn loses it. With two tasks the order is what the
//! default policy gives anyway.)
//!
//! [`pct_draw`] replaces the schedule with one of PCT's draws on the
//! case's scenario, as `hunt --strategy pct` makes them: the bugs that
//! need two well-placed switches in a long run, which one preemption of a
//! run rarely gives, come up as often as they do for PCT. The targets do
//! not use it: as a share of their mutations it found PCT's rows sooner
//! and the rows that need many switches later (BENCHMARKS.md, "PCT draws
//! as mutations, again"). Both leave the scenario alone; the fuzzer's own
//! mutations change it.

use kernel_sim::{AioModel, Segment, Segments, TaskId};

use crate::bytes::{self, MAX_SEGMENTS};
use crate::explore::{segments_of, witness_schedule, Recorder, View};
use crate::runner::{run_model, RunOptions};
use crate::strategy::{Pct, Rng, PCT_DEPTH, PCT_HORIZON};

/// `data` with its schedule rewritten to switch to another task at one
/// step of `model`'s run, both chosen by `seed`. `None` where the run is
/// too short to cut, or the new schedule does not fit the byte format (more
/// than [`MAX_SEGMENTS`] segments before the switch, or a count past
/// [`bytes::MAX_OCCURRENCE`]); the caller then mutates the bytes instead.
pub fn preempt<M: AioModel>(model: &M, data: &[u8], seed: u32) -> Option<Vec<u8>> {
    preempt_with(model, data, seed, true)
}

/// [`preempt`], which writes the schedule from the views of the run it
/// cut where it can (`reuse_views`), or else from a replay of the
/// decisions up to the switch, as [`witness_schedule`] does: the two
/// give the same schedule, which the tests check.
fn preempt_with<M: AioModel>(
    model: &M,
    data: &[u8],
    seed: u32,
    reuse_views: bool,
) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rng = Rng::new(u64::from(seed));
    let mut rec = Recorder::new(Segments::new(case.schedule.clone()));
    let run = run_model(model, &case.scenario, &mut rec, RunOptions::QUIET);
    if run.decisions.len() < 2 {
        return None;
    }
    let cut = 1 + rng.below(run.decisions.len() as u64 - 1) as usize;
    let tasks = case.scenario.total_tasks() as u64;
    let mut decisions = run.decisions[..cut].to_vec();
    let to = TaskId(rng.below(tasks) as u8);
    decisions.push(to);
    // One segment per run of a task up to the switch; the run's tail is
    // the default policy's, which its segments would only repeat.
    let runs = 1 + decisions.windows(2).filter(|w| w[0] != w[1]).count();
    if runs > MAX_SEGMENTS {
        return None;
    }
    let mut schedule = match reuse_views && rec.views[cut].0.contains(to) {
        true => switch_from_views(&rec.views, &decisions[..cut], to),
        false => witness_schedule(model, &case.scenario, &decisions),
    };
    schedule.truncate(runs);
    let mut then = the_others_in_turn(&mut rng, to, tasks as usize);
    then.truncate(MAX_SEGMENTS - schedule.len());
    schedule.extend(then);
    case.schedule = schedule;
    bytes::encode(&case).ok()
}

/// The segments of `prefix`, then a switch to `to`, which can run where
/// the prefix ends. The run being the same up to there, its views are
/// what a replay would record; from the switch the default policy runs
/// `to` until it blocks or ends, a segment with no stop.
fn switch_from_views(views: &[View], prefix: &[TaskId], to: TaskId) -> Vec<Segment> {
    let mut segments = segments_of(views, prefix);
    match segments.last_mut() {
        Some(last) if last.task == to => last.until = None,
        _ => segments.push(Segment {
            task: to,
            until: None,
        }),
    }
    segments
}

/// `data` with its schedule replaced by the segments of a PCT draw (depth
/// [`PCT_DEPTH`], seeded by `seed`) of `model`'s run of its scenario. The
/// draw's run is kept as far as the byte format can say it: up to
/// [`MAX_SEGMENTS`] segments, and none from the first whose stop is past
/// [`bytes::MAX_OCCURRENCE`]; the default policy runs the rest.
pub fn pct_draw<M: AioModel>(model: &M, data: &[u8], seed: u32) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rec = Recorder::new(Pct::new(u64::from(seed), PCT_DEPTH, PCT_HORIZON));
    let run = run_model(model, &case.scenario, &mut rec, RunOptions::QUIET);
    let mut schedule = segments_of(&rec.views, &run.decisions);
    let fits = schedule
        .iter()
        .take(MAX_SEGMENTS)
        .take_while(|s| s.until.is_none_or(|(_, n)| n <= bytes::MAX_OCCURRENCE))
        .count();
    schedule.truncate(fits);
    case.schedule = schedule;
    bytes::encode(&case).ok()
}

/// After a switch to `to`: a segment for each other task, in an order
/// drawn by `rng`, each running its task until it blocks or ends. None
/// with two tasks or fewer, where the default policy runs the other one
/// next anyway.
fn the_others_in_turn(rng: &mut Rng, to: TaskId, tasks: usize) -> Vec<Segment> {
    if tasks <= 2 {
        return Vec::new();
    }
    let mut others: Vec<TaskId> = (0..tasks as u8).map(TaskId).filter(|&t| t != to).collect();
    for i in (1..others.len()).rev() {
        others.swap(i, rng.below(i as u64 + 1) as usize);
    }
    others
        .into_iter()
        .map(|task| Segment { task, until: None })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{text, New, Old};

    fn decisions(data: &[u8]) -> Vec<TaskId> {
        let case = bytes::decode(data);
        let mut sched = Segments::new(case.schedule.clone());
        run_model(&Old, &case.scenario, &mut sched, RunOptions::QUIET).decisions
    }

    /// The schedule written from the cut run's views is the one a replay
    /// of the decisions up to the switch gives, on every corpus entry.
    #[test]
    fn the_cut_runs_views_give_the_replays_schedule() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        let mut compared = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let case = text::parse("corpus", &text).unwrap();
            let Ok(data) = bytes::encode(&case) else {
                continue;
            };
            for seed in 0..32 {
                let fast = preempt_with(&Old, &data, seed, true);
                assert_eq!(
                    fast,
                    preempt_with(&Old, &data, seed, false),
                    "{path:?} {seed}"
                );
                assert_eq!(
                    preempt(&New, &data, seed),
                    preempt_with(&New, &data, seed, false)
                );
                compared += usize::from(fast.is_some());
            }
        }
        assert!(compared > 500, "{compared}");
    }

    /// With three tasks, a preemption ends its schedule with the two tasks
    /// other than the one it switched to, each run until it blocks, in
    /// either order: the third task can run before the preempted one
    /// resumes.
    #[test]
    fn after_the_switch_the_other_tasks_run_in_a_drawn_order() {
        let entry = crate::catalogue::catalogue()
            .into_iter()
            .find(|e| e.scenario.total_tasks() == 3)
            .expect("the catalogue has a three-task scenario");
        let case = crate::Case {
            scenario: entry.scenario,
            ..crate::Case::default()
        };
        let data = bytes::encode(&case).unwrap();
        let mut orders = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let Some(mutated) = preempt(&Old, &data, seed) else {
                continue;
            };
            let schedule = bytes::decode(&mutated).schedule;
            let [.., first, second] = schedule.as_slice() else {
                panic!("{schedule:?}");
            };
            assert!(
                first.until.is_none() && second.until.is_none(),
                "{schedule:?}"
            );
            assert_ne!(first.task, second.task, "{schedule:?}");
            orders.insert((first.task, second.task));
        }
        assert!(orders.len() >= 4, "{orders:?}");
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

    /// A PCT draw's schedule replays the draw's run wherever it fits the
    /// byte format, and keeps the scenario.
    #[test]
    fn a_pct_draw_replays_the_draws_run() {
        let mut replayed = 0;
        for entry in crate::catalogue::catalogue() {
            let case = crate::Case {
                scenario: entry.scenario,
                ..crate::Case::default()
            };
            let data = bytes::encode(&case).unwrap();
            for seed in 0..8 {
                let Some(mutated) = pct_draw(&Old, &data, seed) else {
                    continue;
                };
                let drawn = bytes::decode(&mutated);
                assert_eq!(drawn.scenario, case.scenario);
                let mut rec = Recorder::new(Pct::new(u64::from(seed), PCT_DEPTH, PCT_HORIZON));
                let run = run_model(&Old, &case.scenario, &mut rec, RunOptions::QUIET);
                if drawn.schedule == segments_of(&rec.views, &run.decisions) {
                    assert_eq!(decisions(&mutated), run.decisions, "{case:?} {seed}");
                    replayed += 1;
                }
            }
        }
        assert!(replayed > 200, "{replayed}");
    }
}
