//! The simulated kernel: its state, and the one way tasks act on it.
//!
//! [`Kernel`] owns all simulated memory behind a `RefCell`. Kernel functions
//! (here and in the models) are `async fn`s taking `&Kernel`; each access to
//! shared state is an [`Kernel::act`]: a labelled scheduling point followed by
//! a short synchronous closure over [`State`]. No borrow of the state lives
//! across an `.await`.

use std::cell::RefCell;

use crate::exec::{Choice, SchedSlot, TaskId, TaskSet, Yield, MAX_TASKS};
use crate::history::{Access, EventKey, Footprint, History, Obj, Occurrences, Pool};
use crate::label::{Arg, Func, Label, OpKind, PageFlag};
use crate::ledger::Ledger;
use crate::locks::{Lock, LockId, LockOwner};
use crate::mm::{Page, PageId};
use crate::objects::{File, HeapArray, Inode, InodeId, Kioctx, Mm};
use crate::site::ReturnSite;
use crate::trace::{Effect, Event};
use crate::violation::{Violation, ViolationKind};

/// Faults injected into one run.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug, Hash)]
pub struct Faults {
    /// `find_or_create_page` fails to allocate the page for this ring index.
    pub page_alloc_fails_at: Option<u8>,
    /// `kcalloc` of the `ring_pages` array fails.
    pub kcalloc_fails: bool,
    /// `do_mmap_pgoff` of the ring fails.
    pub mmap_fails: bool,
}

/// Settings of one run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Faults to inject.
    pub faults: Faults,
    /// Actions after which the run is stopped as a livelock.
    pub step_budget: u32,
    /// Whether to record the trace. Violations are always recorded.
    pub tracing: bool,
    /// Whether to record the run's [`History`]: each action's key and the
    /// objects it touched.
    pub history: bool,
    /// Whether to name actions and calls as [`History`] does, without
    /// recording them, for a scheduler that follows another run: schedulers
    /// see the keys of pending actions, and each task's calls, with this or
    /// [`Config::history`] on.
    pub keys: bool,
    /// Whether each task's observations are folded into
    /// [`TaskSlot::observed`], for [`State::fingerprint`].
    pub observe: bool,
    /// Whether the run's interleaving is kept as features for a fuzzer
    /// ([`crate::interleaving`]).
    pub interleaving: bool,
}

impl Config {
    /// Whether actions and calls are named.
    pub fn names(&self) -> bool {
        self.history || self.keys
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            faults: Faults::default(),
            step_budget: 20_000,
            tracing: true,
            history: false,
            keys: false,
            observe: false,
            interleaving: false,
        }
    }
}

/// Why a task stopped running.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    /// Still has work to do.
    Running,
    /// Returned normally.
    Finished,
    /// Hit a fatal violation: a real kernel would have oopsed.
    Oopsed,
    /// Could never make progress again (truncate's pass 2 livelock).
    Hung,
}

/// What must hold before a task's next action can run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Guard {
    /// Always runnable.
    None,
    /// The page must be unlocked (`lock_page` sleeps until then).
    PageUnlocked(PageId),
    /// The lock must be free (spinlocks spin, mutexes sleep).
    LockFree(LockId),
    /// No page in the mapping's tree may be frozen: a lockless lookup
    /// (`find_get_page`, `pagevec_lookup`) retries until
    /// `page_cache_get_speculative` can take its reference.
    TreeUnfrozen(InodeId),
}

/// A task's next action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pending {
    /// Its scheduling point.
    pub label: Label,
    /// When it may run.
    pub guard: Guard,
    /// Its key, with [`Config::history`] on.
    pub key: EventKey,
}

/// Deepest nesting of simulated functions in one task.
const MAX_DEPTH: usize = 16;

/// Per-task bookkeeping: status, next action and function stack.
#[derive(Clone, Debug)]
pub struct TaskSlot {
    /// Whether the task still runs.
    pub status: Status,
    /// The action it waits to perform.
    pub pending: Option<Pending>,
    pub(crate) frames: [Func; MAX_DEPTH],
    /// Each frame's name in event keys, with [`Config::history`] on.
    frame_names: [u64; MAX_DEPTH],
    /// Each frame's place in [`History::calls`], with [`Config::history`] on.
    frame_calls: [u32; MAX_DEPTH],
    /// What the keys of its calls and actions count.
    occurrences: Occurrences,
    pub(crate) depth: usize,
    /// This task's CPU's LRU-add pagevec (each task runs on its own CPU).
    pub lru_add_pvec: Vec<PageId>,
    /// The site its running `aio_migratepage` call said it returns from.
    pub return_site: Option<ReturnSite>,
    /// A hash of the label and value of every action it performed, with
    /// [`Config::observe`] on: its local state (see [`crate::fingerprint`]).
    pub observed: u128,
    /// A hash of what it has given the harness, with [`Config::observe`]
    /// on: the results of its operations and its notes, all that is left
    /// of its local state once it has finished.
    pub given: u128,
    /// [`TaskSlot::observed`] when each frame was entered.
    pub(crate) entered: [u128; MAX_DEPTH],
}

impl TaskSlot {
    fn new() -> TaskSlot {
        TaskSlot {
            status: Status::Running,
            pending: None,
            frames: [Func::IoSetup; MAX_DEPTH],
            frame_names: [0; MAX_DEPTH],
            frame_calls: [0; MAX_DEPTH],
            occurrences: Occurrences::default(),
            depth: 0,
            lru_add_pvec: Vec::new(),
            return_site: None,
            observed: 0,
            given: 0,
            entered: [0; MAX_DEPTH],
        }
    }

    /// The innermost function the task is in.
    pub fn func(&self) -> Option<Func> {
        self.depth.checked_sub(1).map(|d| self.frames[d])
    }

    /// The names of the frames the task is in, outermost first, with
    /// [`Config::history`] on (see [`crate::history`]).
    pub fn frame_names(&self) -> &[u64] {
        &self.frame_names[..self.depth]
    }

    /// Whether the task is between operations (in no simulated function).
    pub fn at_boundary(&self) -> bool {
        self.depth == 0
    }
}

/// A record that the harness collects besides the trace.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Note {
    /// `a_ops->migratepage` (aio_migratepage) returned this code.
    Migratepage {
        /// The migrating task.
        task: TaskId,
        /// The ring index of the page.
        index: u8,
        /// The return code.
        rc: i32,
        /// The site it returned from, as the port named it.
        site: Option<ReturnSite>,
    },
    /// A migration pass reached a page but took the generic path, for a page
    /// with no mapping, instead of aio_migratepage.
    GenericMigrate {
        /// The migrating task.
        task: TaskId,
        /// The ring index of the page.
        index: u8,
        /// The return code of `migrate_page`, or 0 for "freed under us".
        rc: i32,
    },
}

impl Note {
    /// What of the note an operation's result keeps: which path returned,
    /// and the code, in order. The site an `aio_migratepage` call
    /// returned from is left out: the harness keeps only the set of sites
    /// a run reached ([`State::sites_reached`]).
    pub fn code(&self) -> (bool, i32) {
        match *self {
            Note::Migratepage { rc, .. } => (true, rc),
            Note::GenericMigrate { rc, .. } => (false, rc),
        }
    }

    /// The site an `aio_migratepage` call returned from, if the port named
    /// one.
    pub fn site(&self) -> Option<ReturnSite> {
        match *self {
            Note::Migratepage { site, .. } => site,
            Note::GenericMigrate { .. } => None,
        }
    }
}

/// All simulated kernel memory, plus the run's bookkeeping.
#[derive(Debug)]
pub struct State {
    /// The run's settings.
    pub config: Config,
    /// Every page ever allocated, indexed by [`PageId::id`].
    pub pages: Vec<Page>,
    /// Every inode (with its address_space) ever allocated.
    pub inodes: Vec<Inode>,
    /// Every file ever allocated.
    pub files: Vec<File>,
    /// Every kioctx ever allocated.
    pub ctxs: Vec<Kioctx>,
    /// Every kcalloc'd ring_pages array.
    pub arrays: Vec<HeapArray>,
    /// Every lock.
    pub locks: Vec<Lock>,
    /// The one process's mm.
    pub mm: Mm,
    /// Global count of aio events reserved (`aio_nr`).
    pub aio_nr: u64,
    /// `aio_nr_lock`.
    pub aio_nr_lock: LockId,
    /// The tasks.
    pub tasks: Vec<TaskSlot>,
    /// The task whose action is being performed.
    pub current: Option<TaskId>,
    /// The label of that action.
    pub cur_label: Option<Label>,
    /// Its key, with [`Config::history`] on.
    pub(crate) cur_key: EventKey,
    /// Actions performed.
    pub step: u32,
    /// What happened, if tracing.
    pub trace: Vec<Event>,
    /// Chosen task per step, for replay.
    pub decisions: Vec<TaskId>,
    /// Everything the checks found.
    pub violations: Vec<Violation>,
    /// Who holds each page reference.
    pub ledger: Ledger,
    /// Return codes and other results the harness compares.
    pub notes: Vec<Note>,
    /// The shared events, with [`Config::history`] on.
    pub history: History,
    /// The interleaving's features, with [`Config::interleaving`] on.
    pub interleaving: crate::interleaving::Interleaving,
    /// Each live task's next key, as schedulers see it.
    pub(crate) pending_keys: [EventKey; MAX_TASKS],
    /// Each live task's next label, as schedulers see it.
    pub(crate) pending_labels: [Option<Label>; MAX_TASKS],
    /// Tasks waiting to perform an action.
    pub(crate) waiting: TaskSet,
    /// Those of them whose action has a guard other than [`Guard::None`].
    pub(crate) guarded: TaskSet,
    /// Tasks whose next action is the first of an operation (see
    /// [`Kernel::begin_op`]).
    pub op_start: TaskSet,
    /// The task that performed the previous action.
    pub(crate) last: Option<TaskId>,
    /// A choice made at a scheduling point for the executor to carry out.
    pub(crate) stashed: Option<Choice>,
    /// Whether tasks' observations are folded now: from the start with
    /// [`Config::observe`] on, or from where a replayed prefix ends.
    pub(crate) observing: bool,
    /// Whether an action records what it touches: with
    /// [`Config::history`] or [`Config::interleaving`] on, or while
    /// observing ([`State::set_observing`]). One test on every action's
    /// path.
    recording: bool,
    /// Where this run's replayed prefix ends, and the observations to
    /// restore there ([`crate::Scheduler::replayed`]).
    pub(crate) resume: Option<(u32, crate::fingerprint::Observations)>,
    /// What the last step touched, while observing.
    pub(crate) footprint: crate::history::Footprint,
}

impl State {
    fn new(config: Config) -> State {
        let mut st = State {
            config,
            pages: Vec::with_capacity(32),
            inodes: Vec::new(),
            files: Vec::new(),
            ctxs: Vec::new(),
            arrays: Vec::new(),
            locks: Vec::with_capacity(16),
            mm: Mm::default(),
            aio_nr: 0,
            aio_nr_lock: LockId(0),
            tasks: Vec::new(),
            current: None,
            cur_label: None,
            cur_key: EventKey::default(),
            step: 0,
            trace: Vec::with_capacity(if config.tracing { 1024 } else { 0 }),
            decisions: Vec::with_capacity(1024),
            violations: Vec::new(),
            ledger: Ledger::default(),
            notes: Vec::new(),
            history: History::default(),
            interleaving: if config.interleaving {
                crate::interleaving::Interleaving::new()
            } else {
                Default::default()
            },
            pending_keys: [EventKey::default(); MAX_TASKS],
            pending_labels: [None; MAX_TASKS],
            waiting: TaskSet::default(),
            guarded: TaskSet::default(),
            op_start: TaskSet::default(),
            last: None,
            stashed: None,
            observing: config.observe,
            recording: config.history || config.observe || config.interleaving,
            resume: None,
            footprint: Default::default(),
        };
        st.aio_nr_lock = st.new_lock(LockOwner::Global);
        st.mm.mmap_sem = st.new_lock(LockOwner::Global);
        st.mm.ioctx_lock = st.new_lock(LockOwner::Global);
        st
    }

    /// Starts a batch of `n` tasks, numbered from `A`. A kernel can run
    /// several batches (tests build state with one and exercise it with the
    /// next); each CPU's pagevec must have been drained in between.
    pub(crate) fn add_tasks(&mut self, n: usize) {
        assert!(
            self.tasks.iter().all(|t| t.lru_add_pvec.is_empty()),
            "a new batch of tasks would lose undrained pagevecs"
        );
        self.tasks = (0..n).map(|_| TaskSlot::new()).collect();
        self.pending_labels = [None; MAX_TASKS];
        self.pending_keys = [EventKey::default(); MAX_TASKS];
        self.waiting = TaskSet::default();
        self.guarded = TaskSet::default();
        self.op_start = TaskSet::default();
        self.last = None;
        self.stashed = None;
    }

    #[inline]
    pub(crate) fn begin_action(&mut self, t: TaskId) {
        let pending = self.tasks[t.index()].pending.take();
        self.cur_label = pending.map(|p| p.label);
        self.cur_key = pending.map_or(EventKey::default(), |p| p.key);
        if self.recording {
            self.begin_step_records(pending.map(|p| p.guard));
        }
        self.pending_labels[t.index()] = None;
        self.waiting.remove(t);
        self.guarded.remove(t);
        self.last = Some(t);
        self.step += 1;
        self.decisions.push(t);
    }

    /// Whether an action with this guard can run now.
    pub fn enabled(&self, guard: Guard) -> bool {
        match guard {
            Guard::None => true,
            Guard::PageUnlocked(p) => !self.pages[p.index()].locked(),
            Guard::LockFree(l) => self.locks[l.0 as usize].holder.is_none(),
            Guard::TreeUnfrozen(m) => self.inodes[m.0 as usize]
                .mapping
                .tree
                .iter()
                .flatten()
                .all(|p| self.pages[p.index()].count != 0),
        }
    }

    /// Records that the action in progress touches `obj`, with
    /// [`Config::history`], [`Config::observe`] or
    /// [`Config::interleaving`] on.
    #[inline]
    pub fn touch(&mut self, obj: Obj, access: Access) {
        if self.recording {
            self.record_touch(obj, access);
        }
    }

    /// [`State::touch`]'s records.
    #[inline]
    fn record_touch(&mut self, obj: Obj, access: Access) {
        if self.config.history {
            self.history.touch(obj, access);
        }
        if self.observing {
            self.footprint.touch(obj, access);
        }
        if let (true, Some(t), Some(_)) = (self.config.interleaving, self.current, self.cur_label) {
            self.interleaving.touch(t, obj, access);
        }
    }

    /// Starts the records of a step: its shared events, its label among
    /// the interleaving's features, and a fresh footprint with what its
    /// guard read.
    #[inline]
    fn begin_step_records(&mut self, guard: Option<Guard>) {
        if self.config.history {
            self.history.begin();
        }
        if let (true, Some(label)) = (self.config.interleaving, self.cur_label) {
            self.interleaving.action(label);
        }
        if self.observing {
            self.footprint.clear();
            if let Some(guard) = guard {
                self.guard_footprint(guard);
            }
        }
    }

    /// Records in the step's footprint what deciding that `guard` lets the
    /// action run read: a step that changes it may disable the action.
    fn guard_footprint(&mut self, guard: Guard) {
        let mut f = std::mem::take(&mut self.footprint);
        self.guard_reads(guard, &mut f);
        self.footprint = f;
    }

    /// Adds to `f` what deciding whether `guard` lets an action run reads.
    fn guard_reads(&self, guard: Guard, f: &mut Footprint) {
        match guard {
            Guard::None => {}
            Guard::PageUnlocked(p) => f.touch(Obj::PageFlag(p.id, PageFlag::Locked), Access::Read),
            Guard::LockFree(l) => f.touch(Obj::Lock(l), Access::Read),
            Guard::TreeUnfrozen(m) => {
                let tree = &self.inodes[m.0 as usize].mapping.tree;
                f.touch(Obj::TreeEnd(m), Access::Read);
                for (i, p) in tree.iter().enumerate() {
                    f.touch(Obj::TreeSlot(m, i as u8), Access::Read);
                    if let Some(p) = p {
                        f.touch(Obj::PageCount(p.id), Access::Read);
                    }
                }
            }
        }
    }

    /// The tasks whose next action waits for its guard, each with what
    /// deciding the guard reads: where a step that changed it took the
    /// action away from them.
    pub fn blocked(&self) -> Vec<(TaskId, Footprint)> {
        self.guarded
            .iter()
            .filter_map(|t| {
                let guard = self.tasks[t.index()].pending?.guard;
                (!self.enabled(guard)).then(|| {
                    let mut f = Footprint::default();
                    self.guard_reads(guard, &mut f);
                    (t, f)
                })
            })
            .collect()
    }

    /// Starts or stops folding observations (and recording footprints).
    pub(crate) fn set_observing(&mut self, on: bool) {
        self.observing = on;
        self.recording = self.config.history || on || self.config.interleaving;
    }

    /// Records in the step's footprint, while observing, that it allocates
    /// an object from `pool`.
    pub(crate) fn allocating(&mut self, pool: Pool) {
        if self.observing {
            self.footprint.touch(Obj::Allocator(pool), Access::Write);
        }
    }

    /// Records a violation against the current action. A fatal one ends the
    /// current task, as an oops would.
    pub fn violation(&mut self, kind: ViolationKind) {
        self.violations.push(Violation {
            kind,
            task: self.current,
            label: self.cur_label,
            step: self.step,
            leaked: None,
        });
        if kind.is_fatal() {
            self.end_current(Status::Oopsed);
        }
    }

    /// Ends the current task with `status` once its action returns.
    pub fn end_current(&mut self, status: Status) {
        if let Some(t) = self.current {
            self.tasks[t.index()].status = status;
        }
    }

    /// Whether the current task has been ended.
    pub fn current_ended(&self) -> bool {
        self.current
            .is_some_and(|t| self.tasks[t.index()].status != Status::Running)
    }

    pub(crate) fn report_deadlock(&mut self) {
        for i in 0..self.tasks.len() {
            let t = &self.tasks[i];
            if t.status == Status::Running {
                self.violations.push(Violation {
                    kind: ViolationKind::Deadlock,
                    task: Some(TaskId(i as u8)),
                    label: t.pending.map(|p| p.label),
                    step: self.step,
                    leaked: None,
                });
            }
        }
    }

    /// Whether every task is finished or between operations.
    pub fn quiescent(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| t.status == Status::Finished || t.at_boundary())
    }

    /// Whether every task ran to its end without dying.
    pub fn all_finished(&self) -> bool {
        self.tasks.iter().all(|t| t.status == Status::Finished)
    }
}

/// The handle every simulated kernel function takes.
#[derive(Debug)]
pub struct Kernel {
    pub(crate) st: RefCell<State>,
    pub(crate) sched: SchedSlot,
}

/// A simulated function's stack frame; popped when dropped.
#[must_use = "the frame lasts as long as this guard"]
pub struct Frame<'k> {
    k: &'k Kernel,
    task: TaskId,
    /// What the call returned, hashed, once [`Frame::ret`] said so.
    returned: Option<u128>,
}

impl Frame<'_> {
    /// Returns `value` from the simulated call. With
    /// [`Config::observe`] on, what the task observed inside the call is
    /// replaced in its local state by the value: all the caller learns
    /// from the call ([`crate::fingerprint`]). Only for functions that tell
    /// their caller nothing else: no `&mut` argument, nothing left in the
    /// task's slot that the fingerprint does not hash.
    pub fn ret<T: std::hash::Hash>(mut self, value: T) -> T {
        if self.k.st.borrow().observing {
            self.returned = Some(crate::fingerprint::digest(&value));
        }
        value
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        let mut st = self.k.st.borrow_mut();
        let slot = &mut st.tasks[self.task.index()];
        slot.depth -= 1;
        if let Some(value) = self.returned {
            slot.observed = crate::fingerprint::returned(slot, value);
        }
    }
}

impl Kernel {
    /// A fresh kernel with nothing allocated.
    pub fn new(config: Config) -> Kernel {
        Kernel {
            st: RefCell::new(State::new(config)),
            sched: SchedSlot::default(),
        }
    }

    /// Reads the state between runs or after one. A task may use it only
    /// for values fixed at creation, such as which lock is a mapping's
    /// `tree_lock`; everything that can change is reached through
    /// [`Kernel::act`].
    pub fn inspect<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.st.borrow())
    }

    /// The trace so far.
    pub fn trace(&self) -> Vec<Event> {
        self.st.borrow().trace.clone()
    }

    /// The violations so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.st.borrow().violations.clone()
    }

    /// The scheduler's decisions so far, for [`crate::exec::Replay`].
    pub fn decisions(&self) -> Vec<TaskId> {
        self.st.borrow().decisions.clone()
    }

    /// The notes so far.
    pub fn notes(&self) -> Vec<Note> {
        self.st.borrow().notes.clone()
    }

    /// The features of a finished run's interleaving
    /// ([`Config::interleaving`]).
    pub fn take_interleaving(&self) -> Vec<u32> {
        std::mem::take(&mut self.st.borrow_mut().interleaving).into_features()
    }

    /// Moves out the shared events of a finished run.
    pub fn take_history(&self) -> History {
        std::mem::take(&mut self.st.borrow_mut().history)
    }

    /// Moves out the notes, the trace and the decisions of a finished run.
    pub fn take_records(&self) -> (Vec<Note>, Vec<Event>, Vec<TaskId>) {
        let mut st = self.st.borrow_mut();
        (
            std::mem::take(&mut st.notes),
            std::mem::take(&mut st.trace),
            std::mem::take(&mut st.decisions),
        )
    }

    /// Marks the current task's next action as the first of an operation (a
    /// system call or another top-level request). Schedulers that bound
    /// preemptions treat switching away from such a task as free.
    pub fn begin_op(&self) {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("begin_op() outside a task");
        st.op_start.insert(task);
    }

    /// Marks the current task's return to user space at the end of an
    /// operation: lockdep's "lock held when returning to user space" for
    /// each lock it still holds. What the task observed during the
    /// operation is forgotten from its local state
    /// ([`crate::fingerprint`]): from here on, it goes by its results.
    pub fn end_op(&self) {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("end_op() outside a task");
        st.check_no_locks_held();
        st.forget_observations(task);
    }

    /// Enters simulated function `func`: scheduling points until the frame is
    /// dropped carry its name.
    pub fn enter(&self, func: Func) -> Frame<'_> {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("enter() outside a task");
        assert!(
            st.tasks[task.index()].depth < MAX_DEPTH,
            "simulated call stack too deep"
        );
        if st.config.names() {
            let slot = &mut st.tasks[task.index()];
            let caller = slot.depth.checked_sub(1);
            let parent = caller.map_or(Occurrences::root(task), |d| slot.frame_names[d]);
            let caller = caller.map(|d| slot.frame_calls[d]);
            let name = slot.occurrences.call(slot.depth, parent, func as u64);
            let call = match st.config.history {
                true => st.history.enter(name, caller),
                false => 0,
            };
            let slot = &mut st.tasks[task.index()];
            slot.frame_names[slot.depth] = name;
            slot.frame_calls[slot.depth] = call;
        }
        let slot = &mut st.tasks[task.index()];
        slot.frames[slot.depth] = func;
        slot.entered[slot.depth] = slot.observed;
        slot.depth += 1;
        Frame {
            k: self,
            task,
            returned: None,
        }
    }

    /// Performs one labelled action: waits at a scheduling point until the
    /// scheduler picks this task (and `guard` holds), then runs `f` on the
    /// state and records its effect in the trace.
    ///
    /// If `f` records a fatal violation, the task ends here: the future never
    /// resumes and the executor drops it.
    pub async fn act<T: std::hash::Hash>(
        &self,
        op: OpKind,
        arg: Arg,
        guard: Guard,
        f: impl FnOnce(&mut State) -> (T, Effect),
    ) -> T {
        {
            let mut st = self.st.borrow_mut();
            let task = st.current.expect("act() outside a task");
            let names = st.config.names();
            let slot = &mut st.tasks[task.index()];
            let func = slot.func().expect("act() outside a simulated function");
            let label = Label { func, op, arg };
            let key = match names {
                true => {
                    let frame = slot.frame_names[slot.depth - 1];
                    slot.occurrences.action(slot.depth, frame, label)
                }
                false => EventKey::default(),
            };
            slot.pending = Some(Pending { label, guard, key });
            st.pending_labels[task.index()] = Some(label);
            st.pending_keys[task.index()] = key;
            st.waiting.insert(task);
            if guard != Guard::None {
                st.guarded.insert(task);
            }
        }
        Yield::new(self).await;
        let (value, ended) = {
            let mut st = self.st.borrow_mut();
            let task = st.current.expect("action outside a task");
            st.op_start.remove(task);
            let (value, effect) = f(&mut st);
            let task = st.current.expect("action outside a task");
            let label = st.cur_label.expect("action without a label");
            if st.observing {
                st.observed(Some(label), &value);
            }
            if st.config.tracing {
                st.trace.push(Event {
                    task,
                    label,
                    effect,
                });
            }
            if st.config.history {
                let key = st.cur_key;
                let slot = &st.tasks[task.index()];
                let call = slot.frame_calls[slot.depth - 1];
                st.history.push(task, key, label, call);
            }
            (value, st.current_ended())
        };
        if ended {
            std::future::pending::<()>().await;
        }
        value
    }

    /// `BUG_ON(cond)`: records a fatal violation if `cond` holds.
    pub async fn bug_on(&self, cond: bool, what: Arg) {
        self.act(OpKind::BugOn, what, Guard::None, |st| {
            if cond {
                st.violation(ViolationKind::BugOn);
            }
            ((), Effect::Bool(cond))
        })
        .await
    }

    /// `VM_BUG_ON(cond)` with `CONFIG_DEBUG_VM`: fatal if `cond` holds.
    pub async fn vm_bug_on(&self, cond: bool, what: Arg) {
        self.act(OpKind::VmBugOn, what, Guard::None, |st| {
            if cond {
                st.violation(ViolationKind::VmBugOn);
            }
            ((), Effect::Bool(cond))
        })
        .await
    }

    /// `smp_wmb()`: a scheduling point with no effect on a sequentially
    /// consistent model, kept so that the ports line up with the C.
    pub async fn smp_wmb(&self) {
        self.act(OpKind::SmpWmb, Arg::None, Guard::None, |_| {
            ((), Effect::None)
        })
        .await
    }
}
