//! A run's shared events: which kernel object each action touches and how,
//! and a name for each action that is the same in both ports.
//!
//! With [`Config::history`](crate::Config) set, every action records the
//! objects it touched ([`Touch`]) and its [`EventKey`]. Objects are as fine
//! as the kernel's own: a page's count, each of its flags, its mapping; one
//! slot of the page-cache tree; one field of the kioctx; one lock. Two
//! events of different tasks *conflict* when they touch one object and one
//! of them writes it; reference-count changes ([`Access::Add`]) commute with
//! each other, and conflict only with a read of the count, a freeze, or the
//! put that takes it to zero, which are reads and writes.
//!
//! An event's key names it by its task, the stack of simulated function
//! calls it is in (each call numbered among its caller's calls of the same
//! function), its label, and how many times the label occurred before in
//! that call. Where both ports run the same code, they give the same keys;
//! where the patch changed a function, the actions it kept keep their keys
//! and the others are events of one version only.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::exec::TaskId;
use crate::label::{Arg, Field, Label, PageFlag};
use crate::locks::LockId;
use crate::objects::{CtxId, FileId, InodeId};

/// A kernel object that actions of several tasks touch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Obj {
    /// A page's `_count`, by allocation ordinal.
    PageCount(u16),
    /// One flag of a page (the page lock is `PG_locked`).
    PageFlag(u16, PageFlag),
    /// `page->mapping`.
    PageMapping(u16),
    /// `page->index`.
    PageIndex(u16),
    /// `page->_mapcount`.
    PageMapcount(u16),
    /// The contents of the page's frame. (The free writes every field of
    /// the page, so that any access to it is ordered against the free.)
    PageData(u16),
    /// One slot of a mapping's page-cache tree.
    TreeSlot(InodeId, u8),
    /// `mapping->nrpages`.
    TreeCount(InodeId),
    /// Where a mapping's tree ends: a lookup to the end reads it, an
    /// insertion past it writes it (the slots past the end it read as
    /// empty are the ones an insertion there fills).
    TreeEnd(InodeId),
    /// A field of an inode or its mapping (`private_data`, `a_ops`,
    /// `i_size`).
    InodeField(InodeId, Field),
    /// The inode's memory: read by every access, written by its allocation
    /// and by `evict`.
    Inode(InodeId),
    /// `file->f_count`.
    FileCount(FileId),
    /// The file's memory.
    File(FileId),
    /// A field of a kioctx.
    CtxField(CtxId, Field),
    /// `ctx->ring_pages[i]`, wherever the array is.
    RingSlot(CtxId, u8),
    /// The kioctx's memory.
    Ctx(CtxId),
    /// A kcalloc'd `ring_pages` array's memory.
    Array(u16),
    /// A lock.
    Lock(LockId),
    /// A CPU's LRU-add pagevec.
    Pagevec(TaskId),
    /// A field of the mm (`mm->mmap`, `mm->ioctx_table`).
    MmField(Field),
    /// `mm->ioctx_table->table[i]`.
    IoctxSlot(u8),
    /// The global `aio_nr`.
    AioNr,
    /// The numbering of one kind of object, which the next allocation of
    /// that kind takes: two allocations of one kind do not commute. Only
    /// in a step's [`Footprint`]; shared events name objects by role.
    Allocator(Pool),
}

impl Obj {
    /// The object as one word, different for different objects: a key
    /// that hashes in one step.
    pub(crate) fn code(self) -> u32 {
        let (kind, id, part): (u32, u16, u8) = match self {
            Obj::PageCount(p) => (0, p, 0),
            Obj::PageFlag(p, flag) => (1, p, flag as u8),
            Obj::PageMapping(p) => (2, p, 0),
            Obj::PageIndex(p) => (3, p, 0),
            Obj::PageMapcount(p) => (4, p, 0),
            Obj::PageData(p) => (5, p, 0),
            Obj::TreeSlot(InodeId(i), slot) => (6, i.into(), slot),
            Obj::TreeCount(InodeId(i)) => (7, i.into(), 0),
            Obj::TreeEnd(InodeId(i)) => (8, i.into(), 0),
            Obj::InodeField(InodeId(i), field) => (9, i.into(), field as u8),
            Obj::Inode(InodeId(i)) => (10, i.into(), 0),
            Obj::FileCount(FileId(f)) => (11, f.into(), 0),
            Obj::File(FileId(f)) => (12, f.into(), 0),
            Obj::CtxField(CtxId(c), field) => (13, c.into(), field as u8),
            Obj::RingSlot(CtxId(c), i) => (14, c.into(), i),
            Obj::Ctx(CtxId(c)) => (15, c.into(), 0),
            Obj::Array(a) => (16, a, 0),
            Obj::Lock(LockId(l)) => (17, l, 0),
            Obj::Pagevec(TaskId(t)) => (18, t.into(), 0),
            Obj::MmField(field) => (19, 0, field as u8),
            Obj::IoctxSlot(i) => (20, 0, i),
            Obj::AioNr => (21, 0, 0),
            Obj::Allocator(pool) => (22, 0, pool as u8),
        };
        kind << 24 | u32::from(id) << 8 | u32::from(part)
    }
}

/// A kind of object the kernel numbers in allocation order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Pool {
    /// Pages.
    Page,
    /// Inodes.
    Inode,
    /// Files.
    File,
    /// Kioctxs.
    Ctx,
    /// `ring_pages` arrays.
    Array,
    /// Locks.
    Lock,
}

/// How an action touches an object.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Access {
    /// It reads the object.
    Read,
    /// It writes it (or reads and writes it at once, as a test-and-set).
    Write,
    /// It adds to or subtracts from a count without reading it, which
    /// commutes with other such changes.
    Add,
}

impl Access {
    /// Whether two touches of one object by different tasks must stay in
    /// their order: unless both read, or both only add.
    pub fn conflicts(self, other: Access) -> bool {
        !matches!(
            (self, other),
            (Access::Read, Access::Read) | (Access::Add, Access::Add)
        )
    }
}

/// One object an action touched, and how.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Touch {
    /// The object.
    pub obj: Obj,
    /// How.
    pub access: Access,
}

/// An action's name across both ports: see the module documentation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct EventKey(pub u64);

/// One performed action, with what it touched.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SharedEvent {
    /// Who performed it.
    pub task: TaskId,
    /// Its name across both ports.
    pub key: EventKey,
    /// Its label.
    pub label: Label,
    /// The innermost simulated call it is in, as a place in
    /// [`History::calls`].
    pub call: u32,
    touches: (u32, u32),
}

/// What one step touched: its action's objects and what its guard read,
/// or everything, when the code after the action read the state without
/// one ([`crate::Kernel::observe`]). For a search that lets independent
/// steps of different tasks commute.
#[derive(Clone, Debug, Default)]
pub struct Footprint {
    touches: Vec<Touch>,
    everything: bool,
}

impl Footprint {
    /// Whether two steps of different tasks from one state may not
    /// commute: some object both touch, one of them not only reading it.
    /// Unlike [`Access::conflicts`], two changes of one count conflict:
    /// from a count of 2, two puts that each leave 1 when taken first do
    /// not commute, as the second one frees the page.
    pub fn conflicts(&self, other: &Footprint) -> bool {
        self.everything
            || other.everything
            || self.touches.iter().any(|a| {
                other.touches.iter().any(|b| {
                    a.obj == b.obj && (a.access != Access::Read || b.access != Access::Read)
                })
            })
    }

    /// The footprint of a step that read the state unseen, which
    /// conflicts with every other step.
    pub fn everything() -> Footprint {
        Footprint {
            touches: Vec::new(),
            everything: true,
        }
    }

    /// The objects the step touched, and how.
    pub fn touches(&self) -> &[Touch] {
        &self.touches
    }

    /// Whether the step read the state unseen, so that it conflicts with
    /// every other.
    pub fn touches_everything(&self) -> bool {
        self.everything
    }

    pub(crate) fn clear(&mut self) {
        self.touches.clear();
        self.everything = false;
    }

    pub(crate) fn touch(&mut self, obj: Obj, access: Access) {
        self.touches.push(Touch { obj, access });
    }

    pub(crate) fn touch_everything(&mut self) {
        self.everything = true;
    }
}

impl FromIterator<Touch> for Footprint {
    /// The footprint of a step that touched these.
    fn from_iter<I: IntoIterator<Item = Touch>>(touches: I) -> Footprint {
        Footprint {
            touches: touches.into_iter().collect(),
            everything: false,
        }
    }
}

/// One simulated call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Call {
    /// Its name: the same for the same call in both ports.
    pub name: u64,
    /// Its caller, as a place in [`History::calls`]; `None` for a task's
    /// outermost calls.
    pub caller: Option<u32>,
}

/// The events of a run, in the order they happened.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The events.
    pub events: Vec<SharedEvent>,
    /// Every simulated call, in the order they were made.
    pub calls: Vec<Call>,
    touches: Vec<Touch>,
    /// Where the touches of the action in progress begin.
    mark: u32,
}

impl History {
    /// What `e` touched.
    pub fn touches(&self, e: &SharedEvent) -> &[Touch] {
        &self.touches[e.touches.0 as usize..e.touches.1 as usize]
    }

    /// The calls event `e` was in, innermost first.
    pub fn calls_of(&self, e: &SharedEvent) -> impl Iterator<Item = &Call> {
        let mut next = Some(e.call);
        std::iter::from_fn(move || {
            let call = &self.calls[next? as usize];
            next = call.caller;
            Some(call)
        })
    }

    /// Records that the action in progress touches `obj`, once.
    pub(crate) fn touch(&mut self, obj: Obj, access: Access) {
        let touch = Touch { obj, access };
        if !self.touches[self.mark as usize..].contains(&touch) {
            self.touches.push(touch);
        }
    }

    /// Starts an action: its touches begin here.
    pub(crate) fn begin(&mut self) {
        self.mark = self.touches.len() as u32;
    }

    /// Ends the action in progress.
    pub(crate) fn push(&mut self, task: TaskId, key: EventKey, label: Label, call: u32) {
        let touches = (self.mark, self.touches.len() as u32);
        self.events.push(SharedEvent {
            task,
            key,
            label,
            call,
            touches,
        });
    }

    /// Records a call named `name` from `caller`, and returns its place.
    pub(crate) fn enter(&mut self, name: u64, caller: Option<u32>) -> u32 {
        self.calls.push(Call { name, caller });
        (self.calls.len() - 1) as u32
    }
}

/// Mixes two words into one (the splitmix64 finaliser of their sum).
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fast hasher for the small keys of the transplant's maps (event keys,
/// objects, call names): each word is folded in by a multiply and a
/// rotation, as rustc's own hasher does. Not for keys an adversary picks.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }
    fn write_u16(&mut self, n: u16) {
        self.add(n.into());
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n.into());
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A hash map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// How often a task called each function, and performed each label, in
/// each simulated call it is in: what [`EventKey`]s count. Level 0 is the
/// task's outermost level, level `d` its `d`th open call; a new call's
/// counts start empty. Each level's counts are a short list (a call
/// performs few distinct labels), so looking one up is a scan.
#[derive(Default, Clone, Debug)]
pub(crate) struct Occurrences {
    levels: Vec<Vec<(u64, u32)>>,
}

impl Occurrences {
    /// The name of a task's outermost level.
    pub(crate) fn root(task: TaskId) -> u64 {
        mix(0x7461_736b, task.0.into())
    }

    /// The name of the next call of function `func` from level `level`,
    /// named `parent`, whose own counts start at level `level + 1`.
    pub(crate) fn call(&mut self, level: usize, parent: u64, func: u64) -> u64 {
        let n = self.bump(level, 1 << 63 | func);
        if let Some(inner) = self.levels.get_mut(level + 1) {
            inner.clear();
        }
        mix(mix(parent, func), n.into())
    }

    /// The key of the next action with `label` at level `level`, in the
    /// call named `frame`.
    pub(crate) fn action(&mut self, level: usize, frame: u64, label: Label) -> EventKey {
        let code = label_code(label);
        let n = self.bump(level, code);
        let site = mix(mix(frame, 0x006c_6162_656c), code);
        EventKey(mix(site, n.into()))
    }

    fn bump(&mut self, level: usize, code: u64) -> u32 {
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        let counts = &mut self.levels[level];
        match counts.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((code, 1));
                1
            }
        }
    }
}

/// A label as one word, different for different labels, except that a
/// page is named by its ring index alone: whether the page at index `i` is
/// the original (`ring[i]`) or a migration target (`new[i]`) depends on
/// which migrations succeeded before, which is where the versions differ,
/// and the actions on it are the same.
fn label_code(l: Label) -> u64 {
    let arg = match l.arg {
        Arg::None => 0,
        Arg::Lock(lock) => 1 | (lock as u64) << 8,
        Arg::Flag(flag, _, i) => 2 | (flag as u64) << 8 | u64::from(i) << 24,
        Arg::Page(_, i) => 3 | u64::from(i) << 24,
        Arg::Field(field, i) => {
            4 | (field as u64) << 8 | u64::from(i.map_or(0, |i| u16::from(i) + 1)) << 32
        }
        Arg::PageField(field, _, i) => 5 | (field as u64) << 8 | u64::from(i) << 24,
    };
    (l.func as u64) << 48 | (l.op as u64) << 40 | arg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{Func, OpKind, PageRole};

    #[test]
    fn only_two_reads_or_two_adds_commute() {
        use Access::*;
        let pairs = [(Read, Read), (Add, Add)];
        for a in [Read, Write, Add] {
            for b in [Read, Write, Add] {
                assert_eq!(a.conflicts(b), !pairs.contains(&(a, b)), "{a:?} {b:?}");
            }
        }
    }

    /// Different objects have different codes, each id and part kept
    /// whole, so that a map keyed by the code is one by the object.
    #[test]
    fn objects_have_codes_of_their_own() {
        let pools = [
            Pool::Page,
            Pool::Inode,
            Pool::File,
            Pool::Ctx,
            Pool::Array,
            Pool::Lock,
        ];
        let mut objs = vec![Obj::AioNr];
        for id in [0u16, 1, 255, 256, u16::MAX] {
            let (i, b) = (InodeId(id as u8), id as u8);
            objs.extend([Obj::PageCount(id), Obj::PageMapping(id), Obj::PageIndex(id)]);
            objs.extend([Obj::PageMapcount(id), Obj::PageData(id), Obj::Array(id)]);
            objs.extend([Obj::Lock(LockId(id)), Obj::TreeCount(i), Obj::TreeEnd(i)]);
            objs.extend([
                Obj::Inode(i),
                Obj::FileCount(FileId(b)),
                Obj::File(FileId(b)),
            ]);
            objs.extend([
                Obj::Ctx(CtxId(b)),
                Obj::Pagevec(TaskId(b)),
                Obj::IoctxSlot(b),
            ]);
            objs.extend(PageFlag::ALL.iter().map(|&f| Obj::PageFlag(id, f)));
            objs.extend(Field::ALL.iter().map(|&f| Obj::InodeField(i, f)));
            objs.extend(Field::ALL.iter().map(|&f| Obj::CtxField(CtxId(b), f)));
            for slot in [0u8, 1, u8::MAX] {
                objs.extend([Obj::TreeSlot(i, slot), Obj::RingSlot(CtxId(b), slot)]);
            }
        }
        objs.extend(Field::ALL.iter().map(|&f| Obj::MmField(f)));
        objs.extend(pools.map(Obj::Allocator));
        objs.sort();
        objs.dedup();
        let mut codes: Vec<u32> = objs.iter().map(|o| o.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), objs.len());
    }

    /// Steps commute only when neither touches what the other changes;
    /// two changes of one count do not (two puts from 2: the second frees
    /// the page), nor do two allocations of one kind (each takes the next
    /// number), nor anything beside a step that read the state unseen.
    #[test]
    fn steps_commute_only_on_reads_or_other_objects() {
        let step = |touches: &[(Obj, Access)]| {
            let mut f = Footprint::default();
            for &(obj, access) in touches {
                f.touch(obj, access);
            }
            f
        };
        let count = Obj::PageCount(0);
        let (read, add) = (
            step(&[(count, Access::Read)]),
            step(&[(count, Access::Add)]),
        );
        assert!(!read.conflicts(&read));
        assert!(add.conflicts(&add));
        assert!(read.conflicts(&add));
        assert!(!add.conflicts(&step(&[(Obj::PageCount(1), Access::Add)])));
        let alloc = step(&[(Obj::Allocator(Pool::Page), Access::Write)]);
        assert!(alloc.conflicts(&alloc));
        assert!(!alloc.conflicts(&step(&[(Obj::Allocator(Pool::File), Access::Write)])));
        let mut unseen = Footprint::default();
        unseen.touch_everything();
        assert!(unseen.conflicts(&Footprint::default()));
    }

    #[test]
    fn a_run_records_what_each_action_touched_and_its_key() {
        use crate::kernel::{Config, Kernel};
        use crate::testing::{run_one, TEST_FUNC};
        let record = |extra: bool| {
            let k = Kernel::new(Config {
                history: true,
                ..Config::default()
            });
            let m = k.st.borrow_mut().new_inode();
            run_one(&k, async {
                if extra {
                    let _f = k.enter(Func::AioSetupRing);
                    k.smp_wmb().await;
                }
                let _f = k.enter(TEST_FUNC);
                let p = k.find_or_create_page(m, 0).await.unwrap();
                k.unlock_page(p).await;
                k.put_page(p).await;
            });
            k.take_history()
        };
        let h = record(false);
        let put = h.events.last().unwrap();
        assert_eq!(put.label.op, OpKind::PutPage);
        assert!(h.touches(put).contains(&Touch {
            obj: Obj::PageCount(0),
            access: Access::Add
        }));
        let unlock = &h.events[h.events.len() - 2];
        assert_eq!(
            h.touches(unlock)[0],
            Touch {
                obj: Obj::PageFlag(0, PageFlag::Locked),
                access: Access::Write
            }
        );
        // An extra call before gives the same actions the same keys.
        let keys = |h: &History| h.events.iter().map(|e| e.key).collect::<Vec<_>>();
        let with_extra = record(true);
        assert_eq!(keys(&with_extra)[1..], keys(&h)[..]);
    }

    #[test]
    fn keys_count_calls_and_labels_per_frame() {
        let put = |i| Label {
            func: Func::AioFreeRing,
            op: OpKind::PutPage,
            arg: Arg::Page(PageRole::Ring, i),
        };
        let mut a = Occurrences::default();
        let root = Occurrences::root(TaskId(0));
        let first = a.call(0, root, Func::AioFreeRing as u64);
        let second = a.call(0, root, Func::AioFreeRing as u64);
        assert_ne!(first, second);
        let k1 = a.action(1, second, put(0));
        let k2 = a.action(1, second, put(0));
        let k3 = a.action(1, second, put(1));
        assert!(k1 != k2 && k1 != k3 && k2 != k3);

        // Another run that makes an extra call elsewhere first names the
        // same actions the same way.
        let mut b = Occurrences::default();
        let other = b.call(0, root, Func::IoSetup as u64);
        b.action(1, other, put(0));
        let first_b = b.call(0, root, Func::AioFreeRing as u64);
        assert_eq!(first_b, first);
        let second_b = b.call(0, root, Func::AioFreeRing as u64);
        assert_eq!(b.action(1, second_b, put(1)), k3);
        assert_eq!(b.action(1, second_b, put(0)), k1);
    }
}
