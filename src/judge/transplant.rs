//! The transplant: one version runs under a case's schedule (the leader),
//! the other follows the leader's order of conflicting events, so that both
//! runs are one interleaving of the events they share.
//!
//! From the leader's [`History`], every event gets its *predecessors*: for
//! each object it touches, each other task and each simulated call of that
//! task, the last event of the call before it that touched the object in a
//! conflicting way. (The last of each call, not of each task: where the
//! versions order two calls of a task differently, as teardown's truncation
//! and put loop, both calls' touches must stay before.) The follower's
//! scheduler ([`Follow`]) then runs, at each step:
//!
//! 1. an action the leader never performed (an event of the follower's code
//!    only, such as the old code's `private_lock`), as soon as its task can:
//!    it has no place in the leader's order;
//! 2. otherwise the ready event that came first in the leader, where an
//!    event is ready when each predecessor has happened, or its task is past
//!    it (the predecessor is then of the leader's code only): finished, left
//!    the simulated call the predecessor was in, or performed in that call
//!    itself an event the leader performed after it;
//! 3. when no event is ready (the follower's code needs another order), the
//!    runnable event that came first in the leader, counted as a break.
//!
//! Blocking stays the executor's: only runnable tasks are chosen. After the
//! run, the order was *followed* when every pair of events both runs have,
//! one a predecessor of the other, happened in the leader's order.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use kernel_sim::exec::MAX_TASKS;
use kernel_sim::history::FastHasher;
use kernel_sim::{
    Access, AioModel, Call, EventKey, FastMap, History, Obj, SchedView, Scheduler, SharedEvent,
    TaskId,
};

use crate::runner::{run_model, Outcome, RunOptions};
use crate::scenario::Scenario;

/// The leader's events and, for each, the events that must come before it.
#[derive(Clone, Debug, Default)]
pub struct Order {
    index: FastMap<EventKey, u32>,
    task: Vec<TaskId>,
    /// Each event's position among its task's events.
    ordinal: Vec<u32>,
    /// Each event's predecessors, as `preds[from[j]..from[j + 1]]`.
    preds: Vec<u32>,
    from: Vec<u32>,
    /// The innermost simulated call of each event, in `calls`.
    call: Vec<u32>,
    /// The leader's simulated calls.
    calls: Vec<Call>,
}

/// The last touches of an object by one task in one simulated call: the
/// event of each kind of access, and the next such record of the object.
struct Seen {
    task: TaskId,
    call: u32,
    last: [Option<u32>; 3],
    next: Option<u32>,
}

/// Every object's last touches, per task and call: where each object's list
/// of [`Seen`] records starts, and the records.
#[derive(Default)]
struct Touched {
    first: FastMap<Obj, u32>,
    seen: Vec<Seen>,
}

fn kind(a: Access) -> usize {
    match a {
        Access::Read => 0,
        Access::Write => 1,
        Access::Add => 2,
    }
}

impl Touched {
    /// Appends to `preds` the events of other tasks that touched what
    /// event `j`, `e`, touches in a conflicting way (the last of each of
    /// their calls), then notes `e`'s own touches.
    fn link(&mut self, history: &History, e: &SharedEvent, j: u32, preds: &mut Vec<u32>) {
        let start = preds.len();
        for t in history.touches(e) {
            let first = self.first.get(&t.obj).copied();
            let (mut at, mut own) = (first, None);
            while let Some(i) = at {
                let s = &self.seen[i as usize];
                if s.task != e.task {
                    let conflicting = [Access::Read, Access::Write, Access::Add]
                        .into_iter()
                        .filter(|&a| a.conflicts(t.access))
                        .filter_map(|a| s.last[kind(a)]);
                    preds.extend(conflicting.max());
                } else if s.call == e.call {
                    own = Some(i);
                }
                at = s.next;
            }
            let own = own.unwrap_or_else(|| {
                self.seen.push(Seen {
                    task: e.task,
                    call: e.call,
                    last: [None; 3],
                    next: first,
                });
                let i = (self.seen.len() - 1) as u32;
                self.first.insert(t.obj, i);
                i
            });
            self.seen[own as usize].last[kind(t.access)] = Some(j);
        }
        preds[start..].sort_unstable();
        let mut kept = start;
        for i in start..preds.len() {
            if kept == start || preds[kept - 1] != preds[i] {
                preds[kept] = preds[i];
                kept += 1;
            }
        }
        preds.truncate(kept);
    }
}

impl Order {
    /// The order of the events of `history`.
    pub fn of(history: &History) -> Order {
        let n = history.events.len();
        let mut order = Order {
            index: FastMap::with_capacity_and_hasher(n, Default::default()),
            task: Vec::with_capacity(n),
            ordinal: Vec::with_capacity(n),
            preds: Vec::new(),
            from: Vec::with_capacity(n + 1),
            call: Vec::with_capacity(n),
            calls: history.calls.clone(),
        };
        let mut touched = Touched::default();
        let mut per_task = [0u32; MAX_TASKS];
        for (j, e) in history.events.iter().enumerate() {
            let j = j as u32;
            order.index.insert(e.key, j);
            order.task.push(e.task);
            order.ordinal.push(per_task[e.task.index()]);
            per_task[e.task.index()] += 1;
            order.from.push(order.preds.len() as u32);
            order.call.push(e.call);
            touched.link(history, e, j, &mut order.preds);
        }
        order.from.push(order.preds.len() as u32);
        order
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.task.len()
    }

    /// Whether the leader performed no event.
    pub fn is_empty(&self) -> bool {
        self.task.is_empty()
    }

    /// Where the event with this key came in the leader.
    pub fn position(&self, key: EventKey) -> Option<u32> {
        self.index.get(&key).copied()
    }

    /// The events that came before event `j` and conflict with it.
    pub fn preds(&self, j: u32) -> &[u32] {
        &self.preds[self.from[j as usize] as usize..self.from[j as usize + 1] as usize]
    }

    /// The task that performed event `j`.
    pub fn task(&self, j: u32) -> TaskId {
        self.task[j as usize]
    }

    /// This order with event `j` moved before its predecessor `i`: `i`
    /// waits for `j`, and everything else keeps its place where the code
    /// allows.
    pub fn flipped(&self, i: u32, j: u32) -> Order {
        let mut flipped = Order {
            preds: Vec::with_capacity(self.preds.len() + 1),
            from: Vec::with_capacity(self.from.len()),
            ..self.clone()
        };
        for e in 0..self.len() as u32 {
            flipped.from.push(flipped.preds.len() as u32);
            let preds = self.preds(e).iter().copied().filter(|&p| e != j || p != i);
            flipped.preds.extend(preds);
            if e == i {
                flipped.preds.push(j);
            }
        }
        flipped.from.push(flipped.preds.len() as u32);
        flipped
    }

    /// The names of the simulated calls event `j` was in, innermost first.
    fn calls(&self, j: u32) -> impl Iterator<Item = u64> + '_ {
        let mut next = Some(self.call[j as usize]);
        std::iter::from_fn(move || {
            let call = self.calls[next? as usize];
            next = call.caller;
            Some(call.name)
        })
    }
}

/// How a follower's run met the leader's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alignment {
    /// Events both runs performed.
    pub shared: usize,
    /// Events only the leader performed.
    pub leader_only: usize,
    /// Events only the follower performed.
    pub follower_only: usize,
    /// Steps at which no event was ready and the follower went on against
    /// the order.
    pub breaks: usize,
    /// Pairs of shared events that happened in the other order than in the
    /// leader: `(earlier in the leader, later in the leader)`, as leader
    /// positions.
    pub inverted: Vec<(u32, u32)>,
}

impl Alignment {
    /// Whether the two runs are one interleaving of their shared events.
    pub fn followed(&self) -> bool {
        self.inverted.is_empty()
    }
}

/// The follower's scheduler.
pub struct Follow<'a> {
    order: &'a Order,
    /// The follower's step at which each leader event happened, from 1; 0
    /// while it has not.
    done: Vec<u32>,
    /// For each leader event, how many of its predecessors (in order) are
    /// known to be passed.
    unmet: Vec<u32>,
    /// Each task's pending key, and where it came in the leader.
    pending: [(EventKey, Option<u32>); MAX_TASKS],
    steps: u32,
    /// For each task, the calls it is in, outermost first, each with one
    /// more than the furthest of the task's leader events it performed in
    /// that call itself (not in the calls it made), by their order in the
    /// leader's task. The calls it made do not count: where the versions
    /// order a call and a loop differently, as teardown does, the call's
    /// events come later in the leader, yet say nothing of the loop.
    open: [Vec<(u64, u32)>; MAX_TASKS],
    /// Every call a task of the follower entered.
    entered: HashSet<u64, BuildHasherDefault<FastHasher>>,
    breaks: usize,
    follower_only: usize,
}

impl<'a> Follow<'a> {
    /// A scheduler following `order`.
    pub fn new(order: &'a Order) -> Follow<'a> {
        Follow {
            order,
            done: vec![0; order.len()],
            unmet: vec![0; order.len()],
            pending: [(EventKey(u64::MAX), None); MAX_TASKS],
            steps: 0,
            open: Default::default(),
            entered: HashSet::default(),
            breaks: 0,
            follower_only: 0,
        }
    }

    /// How the run went, once it is over.
    pub fn alignment(&self) -> Alignment {
        let mut inverted = Vec::new();
        let mut shared = 0;
        for j in 0..self.order.len() as u32 {
            let at = self.done[j as usize];
            if at == 0 {
                continue;
            }
            shared += 1;
            for &p in self.order.preds(j) {
                let before = self.done[p as usize];
                if before > at {
                    inverted.push((p, j));
                }
            }
        }
        Alignment {
            shared,
            leader_only: self.order.len() - shared,
            follower_only: self.follower_only,
            breaks: self.breaks,
            inverted,
        }
    }

    /// Brings [`Follow::open`] up to date with the calls each task is in:
    /// at the first step, every task's; then the task that acted last, the
    /// only one that moved.
    fn sync(&mut self, view: &SchedView<'_>) {
        let moved = match view.current {
            Some(t) if self.steps > 0 => t.index()..t.index() + 1,
            _ => 0..view.tasks.len(),
        };
        for (t, slot) in view
            .tasks
            .iter()
            .enumerate()
            .skip(moved.start)
            .take(moved.len())
        {
            let names = slot.frame_names();
            let open = &mut self.open[t];
            let same = open
                .iter()
                .zip(names)
                .take_while(|((a, _), b)| a == *b)
                .count();
            open.truncate(same);
            for &name in &names[same..] {
                open.push((name, 0));
                self.entered.insert(name);
            }
        }
    }

    /// Whether leader event `p` has happened, or its task is past it: it
    /// has finished; or it left the call `p` was in (or one around it); or
    /// it is still in that call and performed in it, itself, an event the
    /// leader's task performed after `p`.
    fn passed(&self, p: u32, view: &SchedView<'_>) -> bool {
        if self.done[p as usize] != 0 {
            return true;
        }
        let u = self.order.task[p as usize].index();
        if view.pending[u].is_none() {
            return true;
        }
        let mut inner = None;
        for call in self.order.calls(p) {
            if let Some(&(_, reached)) = self.open[u].iter().find(|&&(name, _)| name == call) {
                return match inner {
                    None => reached > self.order.ordinal[p as usize],
                    Some(inner) => self.entered.contains(&inner),
                };
            }
            inner = Some(call);
        }
        inner.is_some_and(|c| self.entered.contains(&c))
    }

    /// Whether every predecessor of leader event `j` is passed. Passing is
    /// for good (what happened stays happened, tasks only go on), so the
    /// predecessors found passed are not looked at again.
    fn ready(&mut self, j: u32, view: &SchedView<'_>) -> bool {
        let preds = self.order.preds(j);
        let mut k = self.unmet[j as usize] as usize;
        while k < preds.len() && self.passed(preds[k], view) {
            k += 1;
        }
        self.unmet[j as usize] = k as u32;
        k == preds.len()
    }

    fn choose(&mut self, view: &SchedView<'_>) -> TaskId {
        self.sync(view);
        for t in view.runnable.iter() {
            let (key, _) = self.pending[t.index()];
            if key != view.keys[t.index()] {
                let key = view.keys[t.index()];
                self.pending[t.index()] = (key, self.order.position(key));
            }
        }
        let at = self.pending;
        let pos = |t: TaskId| at[t.index()].1;
        if let Some(c) = view.current {
            if view.runnable.contains(c) && pos(c).is_none() {
                return c;
            }
        }
        if let Some(t) = view.runnable.iter().find(|&t| pos(t).is_none()) {
            return t;
        }
        let mut candidates = [(u32::MAX, TaskId(0)); MAX_TASKS];
        let mut n = 0;
        for t in view.runnable.iter() {
            if let Some(j) = pos(t) {
                candidates[n] = (j, t);
                n += 1;
            }
        }
        let candidates = &mut candidates[..n];
        candidates.sort_unstable();
        if let Some(&(_, t)) = candidates.iter().find(|&&(j, _)| self.ready(j, view)) {
            return t;
        }
        self.breaks += 1;
        candidates.first().expect("runnable is never empty").1
    }
}

impl Scheduler for Follow<'_> {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let t = self.choose(view);
        self.steps += 1;
        let (key, at) = self.pending[t.index()];
        let at = if key == view.keys[t.index()] {
            at
        } else {
            self.order.position(view.keys[t.index()])
        };
        match at {
            Some(j) => {
                self.done[j as usize] = self.steps;
                let ordinal = self.order.ordinal[j as usize] + 1;
                if let Some((_, reached)) = self.open[t.index()].last_mut() {
                    *reached = (*reached).max(ordinal);
                }
            }
            None => self.follower_only += 1,
        }
        t
    }
}

/// Runs `model` on `scenario` following `order`, the order of a leader
/// run's events (recorded with [`RunOptions::with_history`]).
pub fn follow<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    order: &Order,
    opts: RunOptions,
) -> (Outcome, Alignment) {
    let mut f = Follow::new(order);
    let outcome = run_model(model, scenario, &mut f, opts.with_keys());
    (outcome, f.alignment())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::catalogue;
    use crate::strategy::RandomWalk;
    use crate::{New, Old};

    #[test]
    fn the_same_code_follows_itself_event_for_event() {
        for (i, entry) in catalogue().iter().enumerate().take(12) {
            let mut walk = RandomWalk::new(i as u64 + 1);
            let led = run_model(
                &New,
                &entry.scenario,
                &mut walk,
                RunOptions::TRACED.with_history(),
            );
            let order = Order::of(&led.history);
            let (followed, a) = follow(&New, &entry.scenario, &order, RunOptions::TRACED);
            assert!(a.followed(), "{}", entry.name);
            assert_eq!((a.leader_only, a.follower_only), (0, 0), "{}", entry.name);
            assert_eq!(followed.trace, led.trace, "{}", entry.name);
        }
    }

    #[test]
    fn an_event_waits_for_the_conflicting_events_before_it() {
        // Teardown reorders truncation and the put loop: the old code cannot
        // put the page where the new code did, between a migration's lookup
        // of the slot and its move.
        let case = crate::text::parse(
            "t",
            "ring 1\ntask A: setup, destroy\ntask B: migrate 0 sync\n\
             run A until lookup_ioctx:read(mm->ioctx_table)\n\
             run B until alloc_migrate_target:alloc_page(new[0])\n\
             run A until aio_free_ring:put_page(ring[0])\nrun B\n",
        )
        .unwrap();
        let led = run_model(
            &New,
            &case.scenario,
            &mut kernel_sim::Segments::new(case.schedule.clone()),
            RunOptions::QUIET.with_history(),
        );
        let order = Order::of(&led.history);
        let (_, a) = follow(&Old, &case.scenario, &order, RunOptions::QUIET);
        assert!(!a.followed());
        for &(before, after) in &a.inverted {
            assert!(order.preds(after).contains(&before));
        }
    }
}
