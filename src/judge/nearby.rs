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
//! This module first names the other page of a slot in stops that name a
//! page (`ring[i]` for `new[i]` and the other way round: where one version
//! migrated a page and the other refused, the same stop names different
//! pages). Then it moves the stop of one segment at a time: the segment
//! runs in the old code as far as it can, and each of its actions is a
//! candidate stop, nearest first to where the new code stopped (by
//! operation, then by actions into the operation). A segment with no stop
//! gets one the same way, near where its task blocked or ended in the new
//! code: where the patch reordered what a task does (teardown truncates
//! before it puts the pages), the old code's task runs on past the place
//! the new code's blocked. [`search`] climbs from
//! there when a difference needs several stops moved. Every candidate is an ordinary
//! label-aligned schedule, which `aiodiff run` can replay.

use kernel_sim::{
    AioModel, Arg, Label, LabelPattern, PageRole, SchedView, Scheduler, Segment, Segments, TaskId,
    TaskSet,
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

/// The actions segment `i` of `schedule` performs.
fn actions_of(steps: &[Step], i: usize, task: TaskId) -> Vec<Step> {
    steps
        .iter()
        .filter(|s| s.segment == i && s.task == task)
        .copied()
        .collect()
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

/// One segment of the schedule: its actions in the old code when it
/// runs on, and where the new code stopped it.
struct Stop {
    segment: usize,
    actions: Vec<Step>,
    anchor: (u32, u32),
}

impl Stop {
    /// How far stopping before action `p` is from the anchor: operations,
    /// then actions into the operation.
    fn distance(&self, p: usize) -> (u32, u32) {
        let (op, offset) = self.anchor;
        let (aop, aoff) = match self.actions.get(p) {
            Some(a) => (a.op, a.offset),
            None => self
                .actions
                .last()
                .map_or(self.anchor, |a| (a.op, a.offset + 1)),
        };
        (aop.abs_diff(op), aoff.abs_diff(offset))
    }
}

/// Where `new` ends each segment of `schedule`: the operation and the
/// actions into it, whether the segment stops at its label or its task
/// blocks or ends.
fn anchors<N: AioModel>(
    new: &N,
    scenario: &Scenario,
    schedule: &[Segment],
) -> Vec<Option<(u32, u32)>> {
    let steps = record(new, scenario, schedule);
    (0..schedule.len()).map(|i| stop_of(&steps, i)).collect()
}

/// The schedules that move one stop of a schedule, nearest first to the
/// anchors: an iterator over schedules it works out as it goes.
pub struct Moves<'a, O: AioModel> {
    old: &'a O,
    scenario: &'a Scenario,
    schedule: Vec<Segment>,
    /// Schedules whose stops name the other page of a slot, tried first.
    relabelled: std::vec::IntoIter<Vec<Segment>>,
    stops: Vec<Stop>,
    /// `(stop, p)` in the order to try.
    order: std::vec::IntoIter<(usize, usize)>,
    /// Segments whose stop the old code makes where the new code does
    /// (the same operation, as many actions into it), with their anchors:
    /// their moves come after all the others.
    aligned: Vec<(usize, (u32, u32))>,
}

/// `pattern` naming the `to` page of its slot where it names the other
/// one: `ring[i]` for `new[i]`, or the other way round.
fn other_page(pattern: LabelPattern, to: PageRole) -> Option<LabelPattern> {
    let arg = match pattern.arg? {
        Arg::Page(r, i) if r != to => Arg::Page(to, i),
        Arg::Flag(f, r, i) if r != to => Arg::Flag(f, to, i),
        Arg::PageField(f, r, i) if r != to => Arg::PageField(f, to, i),
        _ => return None,
    };
    Some(LabelPattern {
        arg: Some(arg),
        ..pattern
    })
}

/// `schedule` with every stop that names `new[i]` naming `ring[i]`, and
/// with every `ring[i]` as `new[i]`, where that changes a stop.
fn relabelled_all(schedule: &[Segment]) -> Vec<Vec<Segment>> {
    [PageRole::Ring, PageRole::New]
        .into_iter()
        .filter_map(|to| {
            let mut all = schedule.to_vec();
            let mut changed = false;
            for seg in &mut all {
                if let Some((p, n)) = seg.until {
                    if let Some(q) = other_page(p, to) {
                        seg.until = Some((q, n));
                        changed = true;
                    }
                }
            }
            changed.then_some(all)
        })
        .collect()
}

/// `schedule` with stops that name a page naming the other page of its
/// slot: every `new[i]` as `ring[i]`, every `ring[i]` as `new[i]`, then
/// each stop alone. Where one version migrated a ring page and the other
/// refused, later stops on `new[i]` in one are stops on `ring[i]` in the
/// other.
fn relabelled(schedule: &[Segment]) -> Vec<Vec<Segment>> {
    let mut out = relabelled_all(schedule);
    for i in 0..schedule.len() {
        for to in [PageRole::Ring, PageRole::New] {
            if let Some((p, n)) = schedule[i].until {
                if let Some(q) = other_page(p, to) {
                    let mut one = schedule.to_vec();
                    one[i].until = Some((q, n));
                    if !out.contains(&one) {
                        out.push(one);
                    }
                }
            }
        }
    }
    out
}

impl<'a, O: AioModel> Moves<'a, O> {
    /// The moves of `schedule` for `old`. Working them out takes a run of
    /// `old`, and one per segment whose stop it makes elsewhere than
    /// `new` (the anchors), letting that segment run on past its stop; the
    /// other segments get theirs only when these moves are used up.
    fn new(
        old: &'a O,
        scenario: &'a Scenario,
        schedule: &[Segment],
        anchors: &[Option<(u32, u32)>],
    ) -> Moves<'a, O> {
        let base = record(old, scenario, schedule);
        let (aligned, apart): (Vec<_>, Vec<_>) = (0..schedule.len())
            .filter_map(|i| Some((i, anchors.get(i).copied().flatten()?)))
            .partition(|&(i, anchor)| stop_of(&base, i) == Some(anchor));
        let mut moves = Moves {
            old,
            scenario,
            schedule: schedule.to_vec(),
            relabelled: relabelled(schedule).into_iter(),
            stops: Vec::new(),
            order: Vec::new().into_iter(),
            aligned,
        };
        moves.add(apart);
        moves
    }

    /// Works out the moves of these segments, nearest first, as what comes
    /// next.
    fn add(&mut self, segments: Vec<(usize, (u32, u32))>) {
        let first = self.stops.len();
        for (i, anchor) in segments {
            let mut open = self.schedule[..=i].to_vec();
            open[i].until = None;
            let steps = record(self.old, self.scenario, &open);
            self.stops.push(Stop {
                segment: i,
                actions: actions_of(&steps, i, self.schedule[i].task),
                anchor,
            });
        }
        let mut ranked: Vec<((u32, u32), usize, usize)> = (first..self.stops.len())
            .flat_map(|k| {
                let stop = &self.stops[k];
                (0..=stop.actions.len()).map(move |p| (stop.distance(p), k, p))
            })
            .collect();
        ranked.sort_by_key(|&(d, _, _)| d);
        let order: Vec<(usize, usize)> = ranked.into_iter().map(|(_, k, p)| (k, p)).collect();
        self.order = order.into_iter();
    }
}

impl<O: AioModel> Iterator for Moves<'_, O> {
    type Item = Vec<Segment>;

    fn next(&mut self) -> Option<Vec<Segment>> {
        if let Some(s) = self.relabelled.next() {
            return Some(s);
        }
        loop {
            let Some((k, p)) = self.order.next() else {
                if self.aligned.is_empty() {
                    return None;
                }
                let aligned = std::mem::take(&mut self.aligned);
                self.add(aligned);
                continue;
            };
            let stop = &self.stops[k];
            let s = moved(&self.schedule, stop.segment, &stop.actions, p);
            if s != self.schedule {
                return Some(s);
            }
        }
    }
}

/// Schedules for `old` near `schedule` as `new` runs it, nearest first:
/// each moves (or adds) the stop of one segment, ranked by how
/// many operations, then how many actions, it stops away from where `new`
/// stopped that segment.
pub fn nearby<'a, O: AioModel, N: AioModel>(
    old: &'a O,
    new: &N,
    scenario: &'a Scenario,
    schedule: &[Segment],
) -> Moves<'a, O> {
    Moves::new(old, scenario, schedule, &anchors(new, scenario, schedule))
}

/// Moves of the case's schedule tried before the relabelled schedules
/// become bases of their own.
const SOON: usize = 64;

/// Searches `old`'s schedules near `schedule` for an outcome `judge`
/// accepts (`Ok`), running at most `budget` of them, and returns the
/// schedule with what `judge` said. `from` is what `judge` would say of
/// `old`'s outcome under `schedule` itself, which the caller has at hand.
///
/// Where `judge` rejects an outcome it says how far it is from what is
/// sought (`Err`). The search climbs: a move that comes nearer than any
/// schedule before becomes a base of its own, whose moves (with the same
/// anchors) take turns with those of the earlier bases. So a difference
/// that needs several stops moved, such as the old code first finishing
/// setup so that a migration succeeds and then meeting a held reference,
/// is found one stop at a time, while the moves of the case's own
/// schedule, where most answers are, keep their share.
pub fn search<O: AioModel, N: AioModel, T, D: Ord>(
    old: &O,
    new: &N,
    scenario: &Scenario,
    schedule: &[Segment],
    from: D,
    budget: usize,
    mut judge: impl FnMut(&crate::runner::Outcome) -> Result<T, D>,
) -> Option<(Vec<Segment>, T)> {
    let anchors = anchors(new, scenario, schedule);
    let mut run = |s: &[Segment]| {
        let o = run_model(
            old,
            scenario,
            &mut Segments::new(s.to_vec()),
            RunOptions::QUIET,
        );
        judge(&o)
    };
    let mut best = from;
    let mut bases = vec![Moves::new(old, scenario, schedule, &anchors)];
    // The schedules with every stop on a page relabelled to the other page
    // of its slot become bases too, once the first moves have not decided:
    // where the versions migrated different pages, moves are wanted from
    // those as well. Most cases are decided before, and working out a
    // base's moves takes a run per segment.
    let mut relabelled = relabelled_all(schedule);
    for turn in 0..budget {
        if turn == SOON || bases.is_empty() {
            bases.extend(
                relabelled
                    .drain(..)
                    .map(|s| Moves::new(old, scenario, &s, &anchors)),
            );
        }
        let candidate = loop {
            if bases.is_empty() {
                return None;
            }
            let k = turn % bases.len();
            match bases[k].next() {
                Some(c) => break c,
                None => {
                    bases.remove(k);
                }
            }
        };
        match run(&candidate) {
            Ok(t) => return Some((candidate, t)),
            Err(d) if d < best => {
                best = d;
                bases.push(Moves::new(old, scenario, &candidate, &anchors));
            }
            Err(_) => {}
        }
    }
    None
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

        let near: Vec<Vec<Segment>> = nearby(&Old, &New, &case.scenario, &case.schedule).collect();
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

    #[test]
    fn stops_on_a_page_are_tried_on_the_other_page_of_its_slot() {
        let case = parse(
            "t",
            "ring 1\n\
             task A: setup, migrate 0 sync\n\
             task B: migrate 0 sync\n\
             run A until aio_setup_ring:unlock_page(ring[0])\n\
             run B until isolate_lru_page:ClearPageLRU(new[0])\n\
             run A until aio_migratepage:read(ctx->nr_pages)\n\
             run B until isolate_lru_page:ClearPageLRU(new[0])#2\n",
        )
        .unwrap();
        let shown = |s: &[Segment]| s.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        let all: Vec<Vec<String>> = relabelled(&case.schedule)
            .iter()
            .map(|s| shown(s))
            .collect();
        assert_eq!(
            all[0],
            [
                "A until aio_setup_ring:unlock_page(ring[0])",
                "B until isolate_lru_page:ClearPageLRU(ring[0])",
                "A until aio_migratepage:read(ctx->nr_pages)",
                "B until isolate_lru_page:ClearPageLRU(ring[0])#2",
            ]
        );
        // Then every ring page as new (here one stop), then each stop
        // alone not yet tried (the two on new pages).
        assert_eq!(all.len(), 1 + 1 + 2);
        assert_eq!(all[1][0], "A until aio_setup_ring:unlock_page(new[0])");
        assert_eq!(all[1][1..], shown(&case.schedule)[1..]);
        assert_eq!(
            all[3][3],
            "B until isolate_lru_page:ClearPageLRU(ring[0])#2"
        );
        assert_eq!(all[3][..3], shown(&case.schedule)[..3]);
    }

    /// The new teardown truncates before it puts the ring pages, so the
    /// new code's A blocks in truncation, on the page B has locked, where
    /// the old code's A is in its put loop; a stop for A's segment, which
    /// has none, near where the new code's blocked is what the old code
    /// needs (corpus/shared-where-the-new-teardown-truncates-first.sched).
    #[test]
    fn a_segment_with_no_stop_gets_one_near_where_the_new_code_blocked() {
        let case = parse(
            "t",
            "ring 2\n\
             task A: setup, destroy\n\
             task B: migrate 0 sync, migrate 1 sync-light, migrate 0 sync-light\n\
             task C: migrate 0 async new-frame\n\
             run A until aio_setup_ring:kmap_write(ring->header)\n\
             run B until aio_migratepage:read(ring[1]->index)\n\
             run A\n\
             run C\n",
        )
        .unwrap();
        let in_truncation = |s: &Vec<Segment>| {
            s[2].until
                .is_some_and(|(p, _)| p.func == kernel_sim::Func::TruncateInodePagesRange)
        };
        let near: Vec<Vec<Segment>> = nearby(&Old, &New, &case.scenario, &case.schedule).collect();
        let first = near
            .iter()
            .position(in_truncation)
            .expect("a stop in truncation");
        assert!(first < 40, "found at candidate {first} of {}", near.len());
    }
}
