//! Structure-aware mutations of fuzzer inputs that work like PCT's
//! draws: a preemption at a point the run really reaches (the fuzz
//! targets' mutator), the same in the other version's run with this one
//! following it (`old_model`'s), or a whole PCT draw (`benches/odds.rs`).
//!
//! A byte mutation of the schedule part rarely lands a segment's stop on an
//! action the task performs, and an insertion or erasure shifts how every
//! later byte is read (BENCHMARKS.md, "How far one mutation reaches").
//! [`preempt`] instead runs the decoded case (or takes the run's
//! recording where [`crate::recorded`] kept it), picks one of its steps
//! where another task could run and one such task, and rewrites the
//! schedule so that the run is the same up to that step and then switches
//! to that task. Much as PCT's priorities order them, the tasks then run
//! in an order drawn at random: the task switched to until it blocks or
//! ends, then each other task in turn until it blocks or ends, the
//! preempted one among them, the default policy finishing the run.
//! (Unlike a priority, a segment is used once: a task blocked at its turn
//! loses it. With two tasks the order is what the default policy gives
//! anyway.)
//!
//! [`preempt_followed`] preempts the other version's run and writes the
//! schedule of this version following it, as the judge's transplant
//! runs it. The old code's teardown bugs that `hunt --strategy pct` finds
//! in a fraction of a second it finds there, with the old code following
//! a new run: for `ring 9: [setup, destroy] | [migrate 8 sync]`, no
//! preemption of the old run of 2000 leaks the new page, and the old code
//! following one preemption of the new run does 284 times in 2000
//! (`cargo bench --bench odds`; BENCHMARKS.md, "A preemption the old code
//! follows").
//!
//! [`drawn_followed`] draws a scenario from the catalogue into the input,
//! then preempts it as [`preempt_followed`] does: much as one of
//! `hunt --strategy pct`'s tries on a catalogue scenario, so that from an
//! empty corpus the teardown bugs PCT finds first come as soon.
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
use crate::judge::transplant::{Follow, Order};
use crate::runner::{run_model, RunOptions};
use crate::strategy::{Pct, Rng, PCT_DEPTH, PCT_HORIZON};

/// `data` with its schedule rewritten to switch to another task at one
/// step of `model`'s run, both chosen by `seed` among the steps where
/// another task than the one the run chose could run. `None` where no
/// step has one, or the new schedule does not fit the byte format (more
/// than [`MAX_SEGMENTS`] segments before the switch, or a count past
/// [`bytes::MAX_OCCURRENCE`]); the caller then mutates the bytes instead.
pub fn preempt<M: AioModel>(model: &M, data: &[u8], seed: u32) -> Option<Vec<u8>> {
    preempt_with(model, data, seed, true)
}

/// [`preempt`], which writes the schedule from the views of the run it
/// cut (`reuse_views`), or else from a replay of the decisions up to the
/// switch, as [`witness_schedule`] does: the two give the same schedule,
/// which the tests check.
fn preempt_with<M: AioModel>(
    model: &M,
    data: &[u8],
    seed: u32,
    reuse_views: bool,
) -> Option<Vec<u8>> {
    let mut case = bytes::decode(data);
    let mut rng = Rng::new(u64::from(seed));
    let run = crate::recorded::recording(model, data);
    let tasks = case.scenario.total_tasks() as u64;
    let (cut, to) = switch_point(&mut rng, &run.views, &run.decisions)?;
    let mut decisions = run.decisions[..cut].to_vec();
    decisions.push(to);
    // One segment per run of a task up to the switch; the run's tail is
    // the default policy's, which its segments would only repeat.
    let runs = 1 + decisions.windows(2).filter(|w| w[0] != w[1]).count();
    if runs > MAX_SEGMENTS {
        return None;
    }
    let mut schedule = match reuse_views {
        true => switch_from_views(&run.views, &decisions[..cut], to),
        false => witness_schedule(model, &case.scenario, &decisions),
    };
    schedule.truncate(runs);
    let mut then = the_others_in_turn(&mut rng, to, tasks as usize);
    then.truncate(MAX_SEGMENTS - schedule.len());
    schedule.extend(then);
    case.schedule = schedule;
    bytes::encode(&case).ok()
}

/// A step of a run and a task to switch to there, drawn by `rng`: a step
/// past the first where another task than the one the run chose could
/// run, and one of those tasks, so that the run really changes there.
/// `None` where no step has such a task.
fn switch_point(rng: &mut Rng, views: &[View], decisions: &[TaskId]) -> Option<(usize, TaskId)> {
    let others = |step: usize| {
        let mut could = views[step].0;
        could.remove(decisions[step]);
        could
    };
    let steps: Vec<usize> = (1..decisions.len())
        .filter(|&step| !others(step).is_empty())
        .collect();
    if steps.is_empty() {
        return None;
    }
    let cut = steps[rng.below(steps.len() as u64) as usize];
    let could = others(cut);
    let to = could.iter().nth(rng.below(could.len() as u64) as usize)?;
    Some((cut, to))
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
    case.schedule = fitted(segments_of(&rec.views, &run.decisions));
    bytes::encode(&case).ok()
}

/// [`preempt`] of `leader`'s run, then `follower` run as the judge's
/// transplant runs it, in the leader's order of their shared conflicting
/// events ([`Follow`]): `data` with the follower's run as its schedule,
/// as far as the byte format can say it (cut as [`pct_draw`] cuts a
/// draw). The follower's own actions, such as the old code's
/// `private_lock`, run as soon as their task can, so the follower's run
/// is not one a preemption of its own default run is likely to give.
pub fn preempt_followed<L: AioModel, F: AioModel>(
    leader: &L,
    follower: &F,
    data: &[u8],
    seed: u32,
) -> Option<Vec<u8>> {
    let mut case = bytes::decode(&preempt(leader, data, seed)?);
    let mut segments = Segments::new(case.schedule.clone());
    let opts = RunOptions::QUIET;
    let led = run_model(leader, &case.scenario, &mut segments, opts.with_history());
    let order = Order::of(&led.history);
    let mut rec = Recorder::new(Follow::new(&order));
    let followed = run_model(follower, &case.scenario, &mut rec, opts.with_keys());
    case.schedule = fitted(segments_of(&rec.views, &followed.decisions));
    bytes::encode(&case).ok()
}

/// `data` with its scenario drawn from the catalogue by `seed`
/// ([`crate::reshape::from_catalogue`]), then [`preempt_followed`]: a
/// try of `hunt --strategy pct` on a catalogue scenario, as the judge
/// runs it, made by a preemption instead of a PCT draw. The draw alone
/// where no preemption applies to it; `None` where the case does not
/// encode.
pub fn drawn_followed<L: AioModel, F: AioModel>(
    leader: &L,
    follower: &F,
    data: &[u8],
    seed: u32,
) -> Option<Vec<u8>> {
    let drawn = crate::reshape::from_catalogue(data, seed)?;
    preempt_followed(leader, follower, &drawn, seed / 64).or(Some(drawn))
}

/// `schedule` cut where the byte format cannot say more: after
/// [`MAX_SEGMENTS`] segments, and before the first whose stop is past
/// [`bytes::MAX_OCCURRENCE`]; the default policy runs the rest.
fn fitted(mut schedule: Vec<Segment>) -> Vec<Segment> {
    let fits = schedule
        .iter()
        .take(MAX_SEGMENTS)
        .take_while(|s| s.until.is_none_or(|(_, n)| n <= bytes::MAX_OCCURRENCE))
        .count();
    schedule.truncate(fits);
    schedule
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
    use crate::judge::transplant::follow;
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
    /// the run goes another way.
    #[test]
    fn a_preemption_keeps_the_scenario_and_a_prefix_of_the_run() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/b1-half-migrated-page.sched"
        );
        let case = text::parse("b1", &std::fs::read_to_string(path).unwrap()).unwrap();
        let data = bytes::encode(&case).unwrap();
        let before = decisions(&data);
        let mut preempted = 0;
        for seed in 0..64 {
            let Some(mutated) = preempt(&Old, &data, seed) else {
                continue;
            };
            assert_eq!(bytes::decode(&mutated).scenario, case.scenario);
            let after = decisions(&mutated);
            assert_eq!(after[0], before[0], "seed {seed}: the first step is kept");
            assert_ne!(after, before, "seed {seed}: the run changes");
            preempted += 1;
        }
        assert!(preempted > 48, "only {preempted} of 64 preemptions fit");
    }

    /// A PCT draw's schedule replays the draw's run wherever it fits the
    /// byte format, and keeps the scenario.
    #[test]
    fn a_pct_draw_replays_the_draws_run() {
        let mut replayed = 0;
        for (_, case, data) in crate::catalogue::default_cases() {
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

    /// The old code following a preempted new run, written as its
    /// schedule, replays that run wherever the byte format holds it.
    #[test]
    fn a_followed_preemption_replays_the_followers_run() {
        let mut replayed = 0;
        for (_, case, data) in crate::catalogue::default_cases() {
            for seed in 0..8 {
                let Some(mutated) = preempt_followed(&New, &Old, &data, seed) else {
                    continue;
                };
                assert_eq!(bytes::decode(&mutated).scenario, case.scenario);
                let led = bytes::decode(&preempt(&New, &data, seed).unwrap());
                let mut sched = Segments::new(led.schedule);
                let opts = RunOptions::QUIET;
                let run = run_model(&New, &case.scenario, &mut sched, opts.with_history());
                let order = Order::of(&run.history);
                let (followed, _) = follow(&Old, &case.scenario, &order, opts);
                replayed += usize::from(decisions(&mutated) == followed.decisions);
            }
        }
        assert!(replayed > 200, "{replayed}");
    }

    /// From the empty input, which no preemption applies to, a draw
    /// gives each catalogue scenario, nearly always preempted: the
    /// followed preemption of that scenario drawn into the input.
    #[test]
    fn a_draw_from_nothing_is_a_followed_preemption_of_a_catalogue_scenario() {
        let scenarios: Vec<_> = crate::catalogue::catalogue()
            .into_iter()
            .map(|e| e.scenario)
            .collect();
        let mut preempted = 0;
        for seed in 0..4 * scenarios.len() as u32 {
            let mutated = drawn_followed(&New, &Old, &[], seed).unwrap();
            let case = bytes::decode(&mutated);
            assert_eq!(case.scenario, scenarios[seed as usize % scenarios.len()]);
            let drawn = crate::reshape::from_catalogue(&[], seed).unwrap();
            if let Some(followed) = preempt_followed(&New, &Old, &drawn, seed / 64) {
                assert_eq!(mutated, followed);
                preempted += 1;
            }
        }
        assert!(preempted > 3 * scenarios.len(), "{preempted}");
    }

    /// Where one preemption of the old run rarely leaks the new page, the
    /// old code following a preempted new run often does.
    #[test]
    fn a_followed_preemption_reaches_the_teardown_leak() {
        let (_, _, data) = crate::catalogue::default_cases()
            .into_iter()
            .find(|(name, ..)| name == "ring 9: [setup, destroy] | [migrate 8 sync]")
            .expect("the catalogue has the scenario");
        let leaks = |mutated: Option<Vec<u8>>| {
            mutated.is_some_and(|m| {
                let case = bytes::decode(&m);
                let mut sched = Segments::new(case.schedule);
                let run = run_model(&Old, &case.scenario, &mut sched, RunOptions::QUIET);
                run.signatures().contains(&"leak(new[8])".to_string())
            })
        };
        let own = (0..400).filter(|&s| leaks(preempt(&Old, &data, s))).count();
        let followed = (0..400)
            .filter(|&s| leaks(preempt_followed(&New, &Old, &data, s)))
            .count();
        assert!(followed > 10 * own.max(1), "{followed} against {own}");
    }
}
