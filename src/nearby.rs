//! Schedules near a case's schedule, for a targeted skew check.
//!
//! A label-aligned schedule stops a task before the `n`th action with some
//! label. Where the patch changed the code a task runs through, the old
//! code may have that label at another place, more or fewer times, or not
//! at all, so the old code stops the task somewhere else, or runs it on to
//! its end, and the two versions meet other interleavings. The bounded
//! exploration of the skew check cannot make up for that when the case
//! needs more preemptions than its bound.
//!
//! This module moves the stop of one segment at a time: the segment runs
//! in the old code as far as it can, and each of its actions is a candidate
//! stop, nearest first to where the new code stopped (by operation, then by
//! actions into the operation). Every candidate is an ordinary
//! label-aligned schedule, which `aiodiff run` can replay.

use kernel_sim::{
    AioModel, Label, LabelPattern, SchedView, Scheduler, Segment, Segments, TaskId, TaskSet,
};

use crate::runner::{run_model, RunOptions};
use crate::scenario::Scenario;

/// One action a task performed under a segment schedule.
#[derive(Clone, Copy, Debug)]
struct Step {
    /// The segment that chose it (the schedule's length once the segments
    /// are used up).
    segment: usize,
    /// The task.
    task: TaskId,
    /// What it did.
    label: Label,
    /// Which of the task's operations it belongs to, from 0.
    op: u32,
    /// Actions of that operation before it.
    offset: u32,
}

/// Runs a segment schedule and records every step.
struct Recorder {
    inner: Segments,
    started: TaskSet,
    ops: [u32; kernel_sim::exec::MAX_TASKS],
    offsets: [u32; kernel_sim::exec::MAX_TASKS],
    steps: Vec<Step>,
}

impl Scheduler for Recorder {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let t = self.inner.next_task(view);
        let i = t.index();
        if view.op_start.contains(t) {
            if self.started.contains(t) {
                self.ops[i] += 1;
            }
            self.started.insert(t);
            self.offsets[i] = 0;
        }
        if let Some(label) = view.pending[i] {
            self.steps.push(Step {
                segment: self.inner.completed(),
                task: t,
                label,
                op: self.ops[i],
                offset: self.offsets[i],
            });
        }
        self.offsets[i] += 1;
        t
    }
}

fn record<M: AioModel>(model: &M, scenario: &Scenario, schedule: &[Segment]) -> Vec<Step> {
    let mut rec = Recorder {
        inner: Segments::new(schedule.to_vec()),
        started: TaskSet::default(),
        ops: [0; kernel_sim::exec::MAX_TASKS],
        offsets: [0; kernel_sim::exec::MAX_TASKS],
        steps: Vec::new(),
    };
    run_model(model, scenario, &mut rec, RunOptions::QUIET);
    rec.steps
}

/// Where a segment stopped its task: the operation and the actions into it.
fn stop_of(steps: &[Step], segment: usize) -> Option<(u32, u32)> {
    let last = steps.iter().rev().find(|s| s.segment == segment)?;
    Some((last.op, last.offset + 1))
}

/// `schedule` with segment `i` stopping before action `p` of `actions`
/// (the segment's actions when it runs on), or running on when `p` is past
/// the end.
fn moved(schedule: &[Segment], i: usize, actions: &[Step], p: usize) -> Vec<Segment> {
    let mut s = schedule.to_vec();
    s[i].until = actions.get(p).map(|a| {
        let seen = actions[..p].iter().filter(|b| b.label == a.label).count() as u32;
        let pattern = LabelPattern {
            func: a.label.func,
            op: a.label.op,
            arg: Some(a.label.arg),
        };
        (pattern, seen + 1)
    });
    s
}

/// Schedules for `old` near `schedule` as `new` runs it, nearest first:
/// each moves the stop of one segment that ends at a label. Segments are
/// taken together, each candidate ranked by how many operations, then how
/// many actions, it stops away from where `new` stopped that segment.
pub fn nearby<O: AioModel, N: AioModel>(
    old: &O,
    new: &N,
    scenario: &Scenario,
    schedule: &[Segment],
) -> Vec<Vec<Segment>> {
    let anchors = record(new, scenario, schedule);
    let mut ranked: Vec<((u32, u32), Vec<Segment>)> = Vec::new();
    for (i, seg) in schedule.iter().enumerate() {
        if seg.until.is_none() {
            continue;
        }
        let Some((op, offset)) = stop_of(&anchors, i) else {
            continue;
        };
        let mut open = schedule[..=i].to_vec();
        open[i].until = None;
        let actions: Vec<Step> = record(old, scenario, &open)
            .into_iter()
            .filter(|s| s.segment == i && s.task == seg.task)
            .collect();
        for p in 0..=actions.len() {
            let (aop, aoff) = match actions.get(p) {
                Some(a) => (a.op, a.offset),
                None => actions
                    .last()
                    .map_or((op, offset), |a| (a.op, a.offset + 1)),
            };
            let rank = (aop.abs_diff(op), aoff.abs_diff(offset));
            let candidate = moved(schedule, i, &actions, p);
            if candidate != schedule {
                ranked.push((rank, candidate));
            }
        }
    }
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{OpResult, Outcome};
    use crate::text::parse;
    use crate::{New, Old};
    use kernel_sim::errno::EAGAIN;

    fn first_migration(o: &Outcome) -> &OpResult {
        &o.results[0][1]
    }

    #[test]
    fn moving_a_stop_the_old_code_lacks_finds_the_new_interleaving() {
        // The new code's second BUG_ON in aio_migratepage is the old code's
        // first, so under this schedule the old code runs A's migration
        // through before B takes its reference, and migrates; the new code
        // migrates with B's reference held and refuses. Moving A's stop
        // back into the old aio_migratepage gives the old code the same
        // interleaving and the same refusal.
        let case = parse(
            "t",
            "ring 3\n\
             task A: setup, migrate 1 sync-light extra-ref\n\
             run A until aio_migratepage:BUG_ON#2\n\
             run B until find_get_page:put_page\n\
             run A\n",
        )
        .unwrap();
        let run =
            |m: &dyn Fn(&mut Segments) -> Outcome, s: &[Segment]| m(&mut Segments::new(s.to_vec()));
        let old = |s: &mut Segments| run_model(&Old, &case.scenario, s, RunOptions::QUIET);
        let new = |s: &mut Segments| run_model(&New, &case.scenario, s, RunOptions::QUIET);
        let refused = |r: &OpResult| matches!(r, OpResult::Migrate { aio, .. } if aio.contains(&EAGAIN) && !aio.contains(&0));
        assert!(refused(first_migration(&run(&new, &case.schedule))));
        assert!(!refused(first_migration(&run(&old, &case.schedule))));

        let near = nearby(&Old, &New, &case.scenario, &case.schedule);
        assert!(near.iter().all(|s| {
            let moved = s.iter().zip(&case.schedule).filter(|(a, b)| a != b);
            s.len() == case.schedule.len() && moved.count() == 1
        }));
        let hit = near
            .iter()
            .position(|s| refused(first_migration(&run(&old, s))))
            .expect("a nearby schedule where the old code refuses");
        let (pattern, _) = near[hit][0].until.expect("A stops");
        assert_eq!(pattern.func, kernel_sim::Func::AioMigratepage);
        assert!(hit < 20, "found at candidate {hit} of {}", near.len());
    }
}
