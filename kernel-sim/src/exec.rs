//! The deterministic executor.
//!
//! Simulated kernel threads are `async` tasks on one OS thread. A task runs
//! only between two scheduling points: every operation on shared kernel
//! state first awaits a point carrying its [`Label`], which hands control
//! back here. The [`Scheduler`] then picks which runnable task performs its
//! next action. A task whose next action is a sleeping lock held by someone
//! else is not runnable. No clock, no randomness and no hash-order iteration
//! enter a run, so the same scheduler decisions give the same trace.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use crate::fingerprint::Observations;
use crate::history::EventKey;
use crate::kernel::{Kernel, State, Status, TaskSlot};
use crate::label::Label;
use crate::violation::ViolationKind;

/// The most tasks one run can have.
pub const MAX_TASKS: usize = 8;

/// A simulated kernel thread, numbered from 0 in spawn order and printed as
/// a letter (`A`, `B`, ...).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaskId(pub u8);

impl TaskId {
    /// The task's index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", (b'A' + self.0) as char)
    }
}

/// A set of tasks, as a bit mask.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct TaskSet(pub u16);

impl TaskSet {
    /// Whether `t` is in the set.
    pub fn contains(self, t: TaskId) -> bool {
        self.0 & (1 << t.0) != 0
    }
    /// Adds `t`.
    pub fn insert(&mut self, t: TaskId) {
        self.0 |= 1 << t.0;
    }
    /// Removes `t`.
    pub fn remove(&mut self, t: TaskId) {
        self.0 &= !(1 << t.0);
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The number of tasks in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }
    /// The tasks in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = TaskId> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let t = (rest != 0).then(|| TaskId(rest.trailing_zeros() as u8))?;
            rest &= rest - 1;
            Some(t)
        })
    }
    /// The lowest task in the set.
    pub fn first(self) -> Option<TaskId> {
        (self.0 != 0).then(|| TaskId(self.0.trailing_zeros() as u8))
    }
}

/// What a scheduler sees when it must choose.
#[derive(Clone, Copy, Debug)]
pub struct SchedView<'a> {
    /// Tasks whose next action can be performed now. Never empty.
    pub runnable: TaskSet,
    /// The task that performed the previous action, if any.
    pub current: Option<TaskId>,
    /// Actions performed so far in this run.
    pub step: u32,
    /// Each live task's next action.
    pub pending: &'a [Option<Label>; MAX_TASKS],
    /// Each live task's next action's key, with
    /// [`Config::history`](crate::Config::history) on.
    pub keys: &'a [EventKey; MAX_TASKS],
    /// Tasks whose next action is the first of an operation: switching
    /// away from them does not preempt anything.
    pub op_start: TaskSet,
    /// Each task's bookkeeping, for the frames it is in.
    pub tasks: &'a [TaskSlot],
}

/// Chooses which runnable task performs the next action.
///
/// `next_task` is called once per step, with at least one runnable task. It
/// must return a member of `view.runnable`; returning anything else is a
/// scheduler bug and the executor falls back to the lowest runnable task.
pub trait Scheduler {
    /// Picks the task that acts next.
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId;

    /// Whether to end the run here, before the next action, as
    /// [`RunEnd::Pruned`]. A search that stores the states it explored ends
    /// a run that reaches one of them, from `state`'s
    /// [`State::fingerprint`]. Asked only with
    /// [`Config::observe`](crate::Config::observe) on, from where the
    /// replayed prefix ends ([`Scheduler::replayed`]); the default never
    /// prunes.
    fn prune(&mut self, _view: &SchedView<'_>, _state: &State) -> bool {
        false
    }

    /// With [`Config::observe`](crate::Config::observe) on, asked once
    /// before the run: the step at which a prefix this run replays ends,
    /// and every task's [`State::observations`] there in the run it was
    /// taken from. Before that step, observations are not folded (the
    /// prefix is known); at it they are restored. The default replays
    /// nothing.
    fn replayed(&mut self) -> Option<(u32, Observations)> {
        None
    }

    /// With [`Config::observe`](crate::Config::observe) on, told the state
    /// a run ended in after `step` actions (every task stopped, a
    /// deadlock, or the step budget), as [`Scheduler::prune`] is at every
    /// other stop: a search learns there what the last step touched. Not
    /// called for a run [`Scheduler::prune`] ended.
    fn ended(&mut self, _step: u32, _state: &State) {}
}

/// The default policy: keep running the current task while it is runnable,
/// otherwise the lowest-numbered runnable task.
#[derive(Default, Debug)]
pub struct RunToBlock;

impl Scheduler for RunToBlock {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        match view.current {
            Some(c) if view.runnable.contains(c) => c,
            _ => view.runnable.first().expect("runnable is never empty"),
        }
    }
}

/// Replays recorded decisions, then continues with [`RunToBlock`].
#[derive(Debug, Default)]
pub struct Replay {
    decisions: Vec<TaskId>,
    next: usize,
}

impl Replay {
    /// A scheduler that makes `decisions` in order.
    pub fn new(decisions: Vec<TaskId>) -> Replay {
        Replay { decisions, next: 0 }
    }
}

impl Scheduler for Replay {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        let d = self.decisions.get(self.next).copied();
        self.next += 1;
        match d {
            Some(t) if view.runnable.contains(t) => t,
            _ => RunToBlock.next_task(view),
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunEnd {
    /// Every task finished, or died of a fatal violation.
    Done,
    /// The tasks left were all blocked.
    Deadlock,
    /// The step budget ran out.
    StepBudget,
    /// The scheduler ended it at a state explored before
    /// ([`Scheduler::prune`]).
    Pruned,
}

/// A task's body: a future borrowing the kernel it runs on.
pub type TaskFuture<'k> = Pin<Box<dyn Future<Output = ()> + 'k>>;

/// The future a scheduling point awaits.
///
/// Its first poll asks the scheduler, in place, who acts next. When the
/// answer is the task already running, the action goes ahead without
/// unwinding the task's stack of nested futures back to the executor:
/// schedules mostly keep the current task, and re-polling a stack as deep as
/// the kernel's call chain at every step was most of the cost of a step.
/// Otherwise the task yields, and the executor polls it again when it is
/// chosen.
pub(crate) struct Yield<'k> {
    k: &'k Kernel,
    polled: bool,
}

impl<'k> Yield<'k> {
    pub(crate) fn new(k: &'k Kernel) -> Yield<'k> {
        Yield { k, polled: false }
    }
}

impl Future for Yield<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        if self.k.continue_inline() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The executor's next move.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Choice {
    /// This task performs the next action.
    Task(TaskId),
    /// The run is over.
    End(RunEnd),
}

/// The scheduler of the run in progress, reachable from the scheduling
/// points its tasks await.
#[derive(Default)]
pub(crate) struct SchedSlot(Cell<Option<NonNull<dyn Scheduler + 'static>>>);

impl fmt::Debug for SchedSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "SchedSlot(set)"
        } else {
            "SchedSlot(empty)"
        })
    }
}

impl SchedSlot {
    /// Has the scheduler of the run in progress choose the next move, or
    /// returns `None` outside [`Kernel::run`].
    fn choose(&self, st: &mut State) -> Option<Choice> {
        let ptr = self.0.get()?;
        // SAFETY: the slot holds a pointer only while `Kernel::run` holds
        // the `&mut` it was made from, without using it (see there). The
        // scheduler sees nothing but the `SchedView`, so it cannot reach
        // the kernel and this is the only reference to it while it runs.
        Some(st.choose(unsafe { &mut *ptr.as_ptr() }))
    }
}

/// Empties the slot when [`Kernel::run`] returns or unwinds.
struct ClearOnDrop<'k>(&'k SchedSlot);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0 .0.set(None);
    }
}

impl Kernel {
    /// Runs `tasks` to completion under `sched`, one action at a time.
    ///
    /// Task `i` of the vector is [`TaskId`] `i`. Each task is first polled up
    /// to its first scheduling point; a task's code before that point must
    /// not touch kernel state (it cannot: all state is behind labelled
    /// actions). Every chosen action is recorded, so that [`Replay`] can
    /// reproduce the run from [`Kernel::decisions`].
    pub fn run(&self, tasks: Vec<TaskFuture<'_>>, sched: &mut dyn Scheduler) -> RunEnd {
        assert!(tasks.len() <= MAX_TASKS, "at most {MAX_TASKS} tasks");
        assert!(self.sched.0.get().is_none(), "Kernel::run is not reentrant");
        let mut futs: Vec<Option<TaskFuture<'_>>> = tasks.into_iter().map(Some).collect();
        self.st.borrow_mut().add_tasks(futs.len());
        self.replay(sched);
        let mut cx = Context::from_waker(Waker::noop());
        for (i, fut) in futs.iter_mut().enumerate() {
            self.poll_task(TaskId(i as u8), fut, &mut cx);
        }
        let ptr: NonNull<dyn Scheduler + '_> = NonNull::from(sched);
        // SAFETY: only the lifetime bound of the trait object changes. The
        // pointer comes from the `&mut` this function holds until it
        // returns and does not use again, and `ClearOnDrop` empties the slot
        // before that, also on unwinding. `SchedSlot::choose` dereferences
        // it, from here and from scheduling points inside `poll_task`.
        let ptr: NonNull<dyn Scheduler + 'static> = unsafe { std::mem::transmute(ptr) };
        self.sched.0.set(Some(ptr));
        let _clear = ClearOnDrop(&self.sched);
        let mut next = self.decide(&mut self.st.borrow_mut());
        loop {
            let t = match next {
                Choice::Task(t) => t,
                Choice::End(end) => return end,
            };
            self.st.borrow_mut().begin_action(t);
            self.poll_task(t, &mut futs[t.index()], &mut cx);
            let mut st = self.st.borrow_mut();
            next = match st.stashed.take() {
                Some(c) => c,
                None => self.decide(&mut st),
            };
        }
    }

    /// With observations on, takes from `sched` where its replayed prefix
    /// ends, and stops folding observations until then.
    fn replay(&self, sched: &mut dyn Scheduler) {
        let mut st = self.st.borrow_mut();
        if st.config.observe {
            st.resume = sched.replayed();
            let from_the_start = st.resume.is_none();
            st.set_observing(from_the_start);
        }
    }

    /// The next move, asked from the executor loop.
    fn decide(&self, st: &mut State) -> Choice {
        self.sched.choose(st).expect("inside Kernel::run")
    }

    /// Called from a scheduling point just reached by the current task:
    /// asks the scheduler who acts next. If it is this task, begins its
    /// action and returns true. Otherwise keeps the choice for the executor
    /// and returns false.
    fn continue_inline(&self) -> bool {
        let mut st = self.st.borrow_mut();
        let Some(choice) = self.sched.choose(&mut st) else {
            return false;
        };
        match choice {
            Choice::Task(t) if Some(t) == st.current => {
                st.begin_action(t);
                true
            }
            _ => {
                st.stashed = Some(choice);
                false
            }
        }
    }

    fn poll_task(&self, t: TaskId, slot: &mut Option<TaskFuture<'_>>, cx: &mut Context<'_>) {
        let Some(fut) = slot.as_mut() else { return };
        self.st.borrow_mut().current = Some(t);
        let done = fut.as_mut().poll(cx).is_ready();
        let mut st = self.st.borrow_mut();
        let task = &mut st.tasks[t.index()];
        let finished = if done {
            task.status = Status::Finished;
            true
        } else {
            task.status != Status::Running
        };
        assert!(
            finished || task.pending.is_some(),
            "task {t} awaited something other than a scheduling point"
        );
        if finished {
            st.forget_observations(t);
            st.pending_labels[t.index()] = None;
            debug_assert!(!st.waiting.contains(t), "a stopped task has no next action");
        }
        st.current = None;
        drop(st);
        if finished {
            *slot = None;
        }
    }
}

impl State {
    /// Decides the next move: the end of the run, or the task the scheduler
    /// picks among the runnable ones.
    #[inline]
    fn choose(&mut self, sched: &mut dyn Scheduler) -> Choice {
        if self.waiting.is_empty() {
            return self.end(sched, RunEnd::Done);
        }
        let mut runnable = TaskSet(self.waiting.0 & !self.guarded.0);
        for t in self.guarded.iter() {
            let guard = self.tasks[t.index()]
                .pending
                .expect("a guarded task waits")
                .guard;
            if self.enabled(guard) {
                runnable.insert(t);
            }
        }
        if runnable.is_empty() {
            self.report_deadlock();
            return self.end(sched, RunEnd::Deadlock);
        }
        if self.step >= self.config.step_budget {
            self.current = None;
            self.violation(ViolationKind::StepBudget);
            return self.end(sched, RunEnd::StepBudget);
        }
        if self.resume.as_ref().is_some_and(|(at, _)| *at == self.step) {
            let (_, observations) = self.resume.take().expect("checked");
            self.resume_observing(observations);
        }
        let view = SchedView {
            runnable,
            current: self.last,
            step: self.step,
            pending: &self.pending_labels,
            keys: &self.pending_keys,
            op_start: self.op_start,
            tasks: &self.tasks,
        };
        if self.observing && sched.prune(&view, self) {
            return Choice::End(RunEnd::Pruned);
        }
        let choice = sched.next_task(&view);
        if runnable.contains(choice) {
            Choice::Task(choice)
        } else {
            Choice::Task(runnable.first().expect("runnable is never empty"))
        }
    }

    /// Ends the run, telling the scheduler how with observations on.
    #[cold]
    fn end(&mut self, sched: &mut dyn Scheduler, end: RunEnd) -> Choice {
        if self.observing {
            sched.ended(self.step, self);
        }
        Choice::End(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Config;
    use crate::label::{Func, LockName};
    use crate::locks::LockOwner;
    use crate::testing::*;

    #[test]
    fn an_endless_task_stops_at_the_step_budget() {
        let k = Kernel::new(Config {
            step_budget: 50,
            ..Config::default()
        });
        let end = run_one(&k, async {
            let _f = k.enter(Func::TruncateInodePagesRange);
            loop {
                k.smp_wmb().await;
            }
        });
        assert_eq!(end, RunEnd::StepBudget);
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::StepBudget);
        assert_eq!(k.trace().len(), 50);
    }

    /// An ABBA deadlock ends the run with a violation for each task, each
    /// left waiting for the lock the other holds, which its guard reads.
    #[test]
    fn an_abba_deadlock_is_an_outcome() {
        let k = Kernel::new(Config::default());
        let (a, b) = {
            let mut st = k.st.borrow_mut();
            (
                st.new_lock(LockOwner::Global),
                st.new_lock(LockOwner::Global),
            )
        };
        async fn take(k: &Kernel, first: crate::locks::LockId, second: crate::locks::LockId) {
            let _f = k.enter(Func::IoSetup);
            k.spin_lock(LockName::PrivateLock, first).await;
            k.spin_lock(LockName::CompletionLock, second).await;
        }
        let tasks: Vec<TaskFuture> = vec![Box::pin(take(&k, a, b)), Box::pin(take(&k, b, a))];
        let mut alternate = Replay::new(vec![TaskId(0), TaskId(1)]);
        assert_eq!(run_many(&k, tasks, &mut alternate), RunEnd::Deadlock);
        let v = k.violations();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v.kind == ViolationKind::Deadlock));
        assert_eq!(
            v[0].label.unwrap().to_string(),
            "io_setup:spin_lock(completion_lock)"
        );
        let blocked = k.inspect(|st| st.blocked());
        let reads = |l| {
            vec![crate::history::Touch {
                obj: crate::history::Obj::Lock(l),
                access: crate::history::Access::Read,
            }]
        };
        assert_eq!(blocked.len(), 2);
        assert_eq!(
            (blocked[0].0, blocked[0].1.touches()),
            (TaskId(0), &reads(b)[..])
        );
        assert_eq!(
            (blocked[1].0, blocked[1].1.touches()),
            (TaskId(1), &reads(a)[..])
        );
    }

    #[test]
    fn the_scheduler_is_released_when_it_panics() {
        struct Panics;
        impl Scheduler for Panics {
            fn next_task(&mut self, _: &SchedView<'_>) -> TaskId {
                panic!("scheduler bug")
            }
        }
        let k = Kernel::new(Config::default());
        let body = async {
            let _f = k.enter(Func::IoSetup);
            k.smp_wmb().await;
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            k.run(vec![Box::pin(body)], &mut Panics)
        }));
        assert!(run.is_err());
        assert!(k.sched.0.get().is_none(), "no dangling scheduler");
    }

    #[test]
    fn recorded_decisions_replay_the_same_trace() {
        async fn body(k: &Kernel, l: crate::locks::LockId) {
            let _f = k.enter(Func::AioMigratepage);
            for _ in 0..3 {
                k.spin_lock(LockName::PrivateLock, l).await;
                k.smp_wmb().await;
                k.spin_unlock(LockName::PrivateLock, l).await;
            }
        }
        let run = |sched: &mut dyn Scheduler| {
            let k = Kernel::new(Config::default());
            let l = k.st.borrow_mut().new_lock(LockOwner::Global);
            let tasks: Vec<TaskFuture> = vec![Box::pin(body(&k, l)), Box::pin(body(&k, l))];
            run_many(&k, tasks, sched);
            (lines(&k), k.decisions())
        };
        let mut zigzag = Replay::new(vec![TaskId(1), TaskId(0), TaskId(1), TaskId(1), TaskId(0)]);
        let (trace, decisions) = run(&mut zigzag);
        let (again, _) = run(&mut Replay::new(decisions));
        assert_eq!(trace, again);
        assert!(trace[0].starts_with("B "), "{trace:?}");
    }
}
