//! Kernel objects other than pages: the ring inode with its address_space,
//! the ring file, the kioctx and its ring_pages array, and the mm.
//!
//! Objects live in arenas and are never reused, so a freed object stays
//! recognisable: any later access is reported as a use after free, as KASAN
//! would, and the run goes on with the stale contents.

use std::fmt;

use crate::history::{Access, Obj, Pool};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Field, OpKind};
use crate::locks::{LockId, LockOwner};
use crate::mm::PageId;
use crate::trace::Effect;
use crate::violation::{Object, ViolationKind};

/// `AIO_RING_PAGES`: the size of the inline `internal_pages` array.
pub const AIO_RING_PAGES: usize = 8;

/// An inode, and so its `i_mapping`, by index into [`State::inodes`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct InodeId(pub u8);

/// A file, by index into [`State::files`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FileId(pub u8);

/// A kioctx, by index into [`State::ctxs`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CtxId(pub u8);

impl fmt::Display for CtxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ctx{}", self.0)
    }
}

/// `struct address_space` (embedded in the inode, as `i_data` is).
#[derive(Clone, Hash, Debug)]
pub struct AddressSpace {
    /// `page_tree`: the page at each index.
    pub tree: Vec<Option<PageId>>,
    /// `nrpages`.
    pub nrpages: u32,
    /// `private_data`: the kioctx, for the aio mapping.
    pub private_data: Option<CtxId>,
    /// `private_lock`.
    pub private_lock: LockId,
    /// `tree_lock`.
    pub tree_lock: LockId,
    /// Whether `a_ops` is `aio_ctx_aops` (whose `migratepage` the model
    /// supplies).
    pub aio_aops: bool,
}

/// `struct inode`.
#[derive(Clone, Hash, Debug)]
pub struct Inode {
    /// `i_size`.
    pub i_size: u64,
    /// `i_data`.
    pub mapping: AddressSpace,
    /// Freed by `evict`.
    pub freed: bool,
}

/// `struct file`.
#[derive(Clone, Hash, Debug)]
pub struct File {
    /// `f_count`.
    pub f_count: i32,
    /// `f_inode`.
    pub inode: InodeId,
    /// Freed by `__fput`.
    pub freed: bool,
}

/// Where `ctx->ring_pages` points.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum RingPagesPtr {
    /// NULL.
    #[default]
    Null,
    /// `ctx->internal_pages`.
    Internal,
    /// A kcalloc'd array, by index into [`State::arrays`].
    Heap(u16),
}

/// A kcalloc'd `struct page *` array.
#[derive(Clone, Hash, Debug)]
pub struct HeapArray {
    /// The entries.
    pub slots: Vec<Option<PageId>>,
    /// Freed by `kfree`.
    pub freed: bool,
}

/// `struct kioctx`, the fields the ring code uses.
#[derive(Clone, Hash, Debug)]
pub struct Kioctx {
    /// `users` (a percpu_ref, modelled as its total count).
    pub users: i32,
    /// `reqs`.
    pub reqs: i32,
    /// `dead`.
    pub dead: bool,
    /// `max_reqs`.
    pub max_reqs: u32,
    /// `nr_events`.
    pub nr_events: u32,
    /// `tail`: where `aio_complete` puts the next event.
    pub tail: u32,
    /// `nr_pages`.
    pub nr_pages: i64,
    /// `ring_pages`.
    pub ring_pages: RingPagesPtr,
    /// `internal_pages`.
    pub internal_pages: [Option<PageId>; AIO_RING_PAGES],
    /// `aio_ring_file`.
    pub aio_ring_file: Option<FileId>,
    /// `mmap_base`.
    pub mmap_base: u64,
    /// `mmap_size`.
    pub mmap_size: u64,
    /// `user_id`: the ring's user address, which user space uses as the
    /// context's handle.
    pub user_id: u64,
    /// `id` (slot in the mm's ioctx table).
    pub id: u32,
    /// `completion_lock`.
    pub completion_lock: LockId,
    /// `ring_lock`.
    pub ring_lock: LockId,
    /// Freed by `kmem_cache_free`.
    pub freed: bool,
    /// Bookkeeping, not a kernel field: the ring inode, kept for the
    /// oracles after `aio_ring_file` is cleared.
    pub ring_inode: Option<InodeId>,
    /// Bookkeeping: `io_setup` handed the context to user space.
    pub published: bool,
}

/// `struct kiocb`, the fields the ring code uses. Only the submitting
/// task sees a request here, so it is the port's own value, not shared
/// state.
#[derive(Clone, Copy, Debug)]
pub struct Kiocb {
    /// `ki_ctx`.
    pub ki_ctx: CtxId,
    /// `ki_user_data`: the iocb's `aio_data`, copied into its event.
    pub ki_user_data: u64,
}

/// A user mapping of the ring file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Vma {
    /// `vm_start`.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// `vm_file` (holds a file reference).
    pub file: FileId,
}

/// `num_possible_cpus()` of the simulated machine.
pub const NUM_POSSIBLE_CPUS: u32 = 2;

/// The default `aio_max_nr` sysctl.
pub const AIO_MAX_NR: u64 = 0x10000;

/// A percpu_ref of the kioctx, modelled by its total count.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PercpuRef {
    /// `ctx->users`.
    Users,
    /// `ctx->reqs`.
    Reqs,
}

impl PercpuRef {
    fn field(self) -> Field {
        match self {
            PercpuRef::Users => Field::Users,
            PercpuRef::Reqs => Field::Reqs,
        }
    }

    fn count(self, ctx: &mut Kioctx) -> &mut i32 {
        match self {
            PercpuRef::Users => &mut ctx.users,
            PercpuRef::Reqs => &mut ctx.reqs,
        }
    }
}

/// The one process's `mm_struct`.
#[derive(Clone, Hash, Debug, Default)]
pub struct Mm {
    /// `mmap_sem`.
    pub mmap_sem: LockId,
    /// `ioctx_lock`.
    pub ioctx_lock: LockId,
    /// `ioctx_table`, once allocated.
    pub ioctx_table: Option<Vec<Option<CtxId>>>,
    /// Mappings.
    pub vmas: Vec<Vma>,
    /// Where the next mapping goes.
    pub next_base: u64,
}

impl State {
    /// What `lookup_ioctx(ctx_id)` would return with the system at rest:
    /// the id in ring page 0 at the address user space holds, looked up in
    /// the mm's `ioctx_table`, if that kioctx has this address. A live
    /// kioctx it does not find cannot be destroyed; only `exit_aio` would
    /// free it.
    pub fn lookup_ioctx_at_rest(&self, ctx_id: u64) -> Option<CtxId> {
        let vma = self.mm.vmas.iter().find(|v| v.start == ctx_id)?;
        let inode = self.files[vma.file.0 as usize].inode;
        let page = self.inodes[inode.0 as usize]
            .mapping
            .tree
            .first()
            .copied()
            .flatten()?;
        let id = self.pages[page.index()].data[0] as usize;
        let ctx = (*self.mm.ioctx_table.as_ref()?.get(id)?)?;
        (self.ctxs[ctx.0 as usize].user_id == ctx_id).then_some(ctx)
    }

    /// The inode, reporting a use after free.
    pub fn inode(&mut self, i: InodeId) -> &mut Inode {
        self.touch(Obj::Inode(i), Access::Read);
        if self.inodes[i.0 as usize].freed {
            self.violation(ViolationKind::UseAfterFree(Object::Inode));
        }
        &mut self.inodes[i.0 as usize]
    }

    /// The inode's address_space, reporting a use after free.
    pub fn mapping(&mut self, i: InodeId) -> &mut AddressSpace {
        &mut self.inode(i).mapping
    }

    /// The file, reporting a use after free.
    pub fn file(&mut self, f: FileId) -> &mut File {
        self.touch(Obj::File(f), Access::Read);
        if self.files[f.0 as usize].freed {
            self.violation(ViolationKind::UseAfterFree(Object::File));
        }
        &mut self.files[f.0 as usize]
    }

    /// The kioctx behind a possibly NULL pointer. NULL is a fatal
    /// dereference (and `None` is returned); a freed one is a use after
    /// free.
    pub fn ctx(&mut self, c: Option<CtxId>) -> Option<&mut Kioctx> {
        let Some(c) = c else {
            self.violation(ViolationKind::NullDeref);
            return None;
        };
        self.touch(Obj::Ctx(c), Access::Read);
        if self.ctxs[c.0 as usize].freed {
            self.violation(ViolationKind::UseAfterFree(Object::Kioctx));
        }
        Some(&mut self.ctxs[c.0 as usize])
    }

    /// `&ctx->ring_pages[i]`, with the checks of the pointer and the array.
    pub fn ring_slot(&mut self, c: CtxId, i: usize) -> Option<&mut Option<PageId>> {
        self.touch(Obj::CtxField(c, Field::RingPagesPtr), Access::Read);
        let ptr = self.ctx(Some(c))?.ring_pages;
        match ptr {
            RingPagesPtr::Null => {
                self.violation(ViolationKind::NullDeref);
                None
            }
            RingPagesPtr::Internal => {
                if i >= AIO_RING_PAGES {
                    self.violation(ViolationKind::OutOfBounds);
                    return None;
                }
                Some(&mut self.ctxs[c.0 as usize].internal_pages[i])
            }
            RingPagesPtr::Heap(a) => {
                self.touch(Obj::Array(a), Access::Read);
                let a = a as usize;
                if self.arrays[a].freed {
                    self.violation(ViolationKind::UseAfterFree(Object::RingPages));
                }
                if i >= self.arrays[a].slots.len() {
                    self.violation(ViolationKind::OutOfBounds);
                    return None;
                }
                Some(&mut self.arrays[a].slots[i])
            }
        }
    }

    /// The pages `ctx->ring_pages[0..nr_pages]` holds, without checks; for
    /// oracles.
    pub fn ring_pages_of(&self, c: CtxId) -> Vec<Option<PageId>> {
        let ctx = &self.ctxs[c.0 as usize];
        let n = ctx.nr_pages.max(0) as usize;
        match ctx.ring_pages {
            RingPagesPtr::Null => Vec::new(),
            RingPagesPtr::Internal => ctx.internal_pages[..n.min(AIO_RING_PAGES)].to_vec(),
            RingPagesPtr::Heap(a) => {
                let slots = &self.arrays[a as usize].slots;
                slots[..n.min(slots.len())].to_vec()
            }
        }
    }
}

/// A value a kioctx or mapping field can hold, with how it prints.
pub trait FieldValue: Copy + Default + std::hash::Hash {
    /// The trace effect of reading or writing this value.
    fn effect(self) -> Effect;
}

impl FieldValue for i64 {
    fn effect(self) -> Effect {
        Effect::Int(self)
    }
}

impl FieldValue for u32 {
    fn effect(self) -> Effect {
        Effect::Int(self.into())
    }
}

impl FieldValue for u64 {
    fn effect(self) -> Effect {
        Effect::Int(self as i64)
    }
}

impl FieldValue for bool {
    fn effect(self) -> Effect {
        Effect::Bool(self)
    }
}

impl FieldValue for Option<PageId> {
    fn effect(self) -> Effect {
        Effect::Page(self)
    }
}

impl FieldValue for Option<CtxId> {
    fn effect(self) -> Effect {
        Effect::Ctx(self)
    }
}

impl FieldValue for Option<FileId> {
    fn effect(self) -> Effect {
        Effect::Int(self.map_or(0, |f| f.0 as i64 + 1))
    }
}

impl FieldValue for RingPagesPtr {
    fn effect(self) -> Effect {
        Effect::Int(match self {
            RingPagesPtr::Null => 0,
            RingPagesPtr::Internal => -1,
            RingPagesPtr::Heap(a) => a as i64 + 1,
        })
    }
}

impl Kernel {
    /// `&ctx->completion_lock`: fixed at creation.
    pub fn completion_lock(&self, ctx: CtxId) -> LockId {
        self.inspect(|st| st.ctxs[ctx.0 as usize].completion_lock)
    }

    /// `&mapping->private_lock`: fixed at creation.
    pub fn private_lock(&self, mapping: InodeId) -> LockId {
        self.inspect(|st| st.inodes[mapping.0 as usize].mapping.private_lock)
    }

    /// `&mm->ioctx_lock`.
    pub fn ioctx_lock(&self) -> LockId {
        self.inspect(|st| st.mm.ioctx_lock)
    }

    /// `&mm->mmap_sem`.
    pub fn mmap_sem(&self) -> LockId {
        self.inspect(|st| st.mm.mmap_sem)
    }

    /// `&aio_nr_lock`.
    pub fn aio_nr_lock(&self) -> LockId {
        self.inspect(|st| st.aio_nr_lock)
    }

    /// `percpu_ref_init(ref, release)`: the count starts at 1.
    pub async fn percpu_ref_init(&self, ctx: CtxId, r: PercpuRef) {
        self.ctx_write(Some(ctx), r.field(), 1i64, |c, v| *r.count(c) = v as i32)
            .await
    }

    /// `percpu_ref_get(ref)`.
    pub async fn percpu_ref_get(&self, ctx: CtxId, r: PercpuRef) {
        self.act(
            OpKind::Write,
            Arg::Field(r.field(), None),
            Guard::None,
            |st| {
                st.touch(Obj::CtxField(ctx, r.field()), Access::Add);
                let v = st.ctx(Some(ctx)).map_or(0, |c| {
                    *r.count(c) += 1;
                    *r.count(c)
                });
                ((), Effect::Int(v.into()))
            },
        )
        .await
    }

    /// `percpu_ref_put(ref)`. Returns whether the count reached zero, in
    /// which case the caller runs the ref's release function.
    pub async fn percpu_ref_put(&self, ctx: CtxId, r: PercpuRef) -> bool {
        self.act(
            OpKind::Write,
            Arg::Field(r.field(), None),
            Guard::None,
            |st| {
                let v = st.ctx(Some(ctx)).map_or(0, |c| {
                    *r.count(c) -= 1;
                    *r.count(c)
                });
                let access = if v == 0 { Access::Write } else { Access::Add };
                st.touch(Obj::CtxField(ctx, r.field()), access);
                (v == 0, Effect::Int(v.into()))
            },
        )
        .await
    }

    /// `percpu_ref_kill(ref)`: switch to atomic mode and drop the initial
    /// reference (after the RCU grace period, which is immediate here).
    /// Returns whether the count reached zero.
    pub async fn percpu_ref_kill(&self, ctx: CtxId, r: PercpuRef) -> bool {
        self.percpu_ref_put(ctx, r).await
    }

    /// `atomic_xchg(&ctx->dead, 1)`: returns the old value.
    pub async fn xchg_dead(&self, ctx: CtxId) -> bool {
        self.act(
            OpKind::Write,
            Arg::Field(Field::Dead, None),
            Guard::None,
            |st| {
                st.touch(Obj::CtxField(ctx, Field::Dead), Access::Write);
                let old = st
                    .ctx(Some(ctx))
                    .is_some_and(|c| std::mem::replace(&mut c.dead, true));
                (old, Effect::Bool(old))
            },
        )
        .await
    }

    /// Loads `mm->ioctx_table->nr`, or `None` while there is no table.
    pub async fn read_ioctx_table(&self) -> Option<usize> {
        self.act(
            OpKind::Read,
            Arg::Field(Field::IoctxTable, None),
            Guard::None,
            |st| {
                st.touch(Obj::MmField(Field::IoctxTable), Access::Read);
                let nr = st.mm.ioctx_table.as_ref().map(Vec::len);
                (nr, Effect::Int(nr.map_or(0, |n| n as i64)))
            },
        )
        .await
    }

    /// Loads `table->table[i]`.
    pub async fn read_ioctx_table_slot(&self, i: usize) -> Option<CtxId> {
        self.act(
            OpKind::Read,
            Arg::Field(Field::IoctxTable, Some(i as u8)),
            Guard::None,
            |st| {
                st.touch(Obj::MmField(Field::IoctxTable), Access::Read);
                st.touch(Obj::IoctxSlot(i as u8), Access::Read);
                let c = st
                    .mm
                    .ioctx_table
                    .as_ref()
                    .and_then(|t| t.get(i).copied().flatten());
                (c, Effect::Ctx(c))
            },
        )
        .await
    }

    /// Stores `table->table[i] = ctx`.
    pub async fn write_ioctx_table_slot(&self, i: usize, ctx: Option<CtxId>) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::IoctxTable, Some(i as u8)),
            Guard::None,
            |st| {
                st.touch(Obj::MmField(Field::IoctxTable), Access::Read);
                st.touch(Obj::IoctxSlot(i as u8), Access::Write);
                match st.mm.ioctx_table.as_mut().and_then(|t| t.get_mut(i)) {
                    Some(slot) => *slot = ctx,
                    None => st.violation(ViolationKind::OutOfBounds),
                }
                ((), Effect::Ctx(ctx))
            },
        )
        .await
    }

    /// `kzalloc` a table of `new_nr` slots and, under `ioctx_lock`, install
    /// it unless another task installed one at least as large meanwhile;
    /// the old table's entries are copied over (`rcu_assign_pointer`,
    /// `kfree_rcu(old)`). Returns the installed table's size.
    pub async fn install_ioctx_table(&self, new_nr: usize) -> usize {
        self.act(
            OpKind::Write,
            Arg::Field(Field::IoctxTable, None),
            Guard::None,
            |st| {
                st.touch(Obj::MmField(Field::IoctxTable), Access::Write);
                let table = st.mm.ioctx_table.get_or_insert_with(Vec::new);
                if table.len() < new_nr {
                    table.resize(new_nr, None);
                }
                let nr = table.len();
                (nr, Effect::Int(nr as i64))
            },
        )
        .await
    }

    /// `get_user(id, &ring->id)` through the user mapping at `addr`. The
    /// ring is mapped but has no PTE, so the load faults: `find_vma`, then
    /// `filemap_fault` ([`Kernel::filemap_fault`]), which returns page 0
    /// locked and referenced. The load then reads its id word, here before
    /// the page is unlocked and its reference dropped: with no PTEs
    /// modelled, holding the lock stands for the PTE a migration would
    /// first have to unmap, so the value read is that of a whole page,
    /// never a target's zeroes before the copy. `None` is `-EFAULT`:
    /// nothing mapped at `addr`, or `SIGBUS`.
    pub async fn get_user_ring_id(&self, addr: u64) -> Option<u32> {
        let inode = self
            .act(
                OpKind::Read,
                Arg::Field(Field::Mmap, None),
                Guard::None,
                |st| {
                    st.touch(Obj::MmField(Field::Mmap), Access::Read);
                    let vma = st.mm.vmas.iter().find(|v| v.start == addr).copied();
                    let inode = vma.map(|v| st.files[v.file.0 as usize].inode);
                    (inode, Effect::Int(inode.map_or(-14, |i| i.0.into())))
                },
            )
            .await?;
        let page = self.filemap_fault(inode, 0).await?;
        let id = self
            .act(
                OpKind::Read,
                Arg::Field(Field::RingId, None),
                Guard::None,
                |st| {
                    st.touch(Obj::PageData(page.id), Access::Read);
                    let id = st.page(page).data[0];
                    (id, Effect::Int(id.into()))
                },
            )
            .await;
        self.unlock_page(page).await;
        self.put_page(page).await;
        Some(id)
    }

    /// Loads `aio_nr`.
    pub async fn read_aio_nr(&self) -> u64 {
        self.act(
            OpKind::Read,
            Arg::Field(Field::AioNr, None),
            Guard::None,
            |st| {
                st.touch(Obj::AioNr, Access::Read);
                (st.aio_nr, Effect::Int(st.aio_nr as i64))
            },
        )
        .await
    }

    /// Stores `aio_nr`.
    pub async fn write_aio_nr(&self, v: u64) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::AioNr, None),
            Guard::None,
            |st| {
                st.touch(Obj::AioNr, Access::Write);
                st.aio_nr = v;
                ((), Effect::Int(v as i64))
            },
        )
        .await
    }

    /// Loads `ctx->field`. A NULL `ctx` is a fatal dereference.
    pub async fn ctx_read<T: FieldValue>(
        &self,
        ctx: Option<CtxId>,
        field: Field,
        get: impl FnOnce(&Kioctx) -> T,
    ) -> T {
        self.act(OpKind::Read, Arg::Field(field, None), Guard::None, |st| {
            if let Some(c) = ctx {
                st.touch(Obj::CtxField(c, field), Access::Read);
            }
            let v = st.ctx(ctx).map(|c| get(c)).unwrap_or_default();
            (v, v.effect())
        })
        .await
    }

    /// Stores `ctx->field`.
    pub async fn ctx_write<T: FieldValue>(
        &self,
        ctx: Option<CtxId>,
        field: Field,
        value: T,
        set: impl FnOnce(&mut Kioctx, T),
    ) {
        self.act(OpKind::Write, Arg::Field(field, None), Guard::None, |st| {
            if let Some(c) = ctx {
                st.touch(Obj::CtxField(c, field), Access::Write);
            }
            if let Some(c) = st.ctx(ctx) {
                set(c, value);
            }
            ((), value.effect())
        })
        .await
    }

    /// Loads `ctx->nr_pages`.
    pub async fn read_nr_pages(&self, ctx: Option<CtxId>) -> i64 {
        self.ctx_read(ctx, Field::NrPages, |c| c.nr_pages).await
    }

    /// Stores `ctx->nr_pages`.
    pub async fn write_nr_pages(&self, ctx: Option<CtxId>, n: i64) {
        self.ctx_write(ctx, Field::NrPages, n, |c, v| c.nr_pages = v)
            .await
    }

    /// Loads `ctx->aio_ring_file`.
    pub async fn read_aio_ring_file(&self, ctx: Option<CtxId>) -> Option<FileId> {
        self.ctx_read(ctx, Field::AioRingFile, |c| c.aio_ring_file)
            .await
    }

    /// Stores `ctx->aio_ring_file` (and notes the ring inode for the
    /// oracles).
    pub async fn write_aio_ring_file(&self, ctx: Option<CtxId>, f: Option<FileId>) {
        let inode = f.map(|f| self.file_inode(f));
        self.ctx_write(ctx, Field::AioRingFile, f, |c, v| {
            c.aio_ring_file = v;
            if inode.is_some() {
                c.ring_inode = inode;
            }
        })
        .await
    }

    /// `put_user(ctx->user_id, ctxp)`: the context reaches user space.
    pub async fn put_user_ctx_id(&self, ctx: CtxId) -> u64 {
        self.act(
            OpKind::Read,
            Arg::Field(Field::UserId, None),
            Guard::None,
            |st| {
                st.touch(Obj::CtxField(ctx, Field::UserId), Access::Read);
                let c = st.ctx(Some(ctx)).map_or(0, |c| {
                    c.published = true;
                    c.user_id
                });
                (c, Effect::Int(c as i64))
            },
        )
        .await
    }

    /// Loads `ctx->ring_pages` (the pointer).
    pub async fn read_ring_pages_ptr(&self, ctx: Option<CtxId>) -> RingPagesPtr {
        self.ctx_read(ctx, Field::RingPagesPtr, |c| c.ring_pages)
            .await
    }

    /// Stores `ctx->ring_pages` (the pointer).
    pub async fn write_ring_pages_ptr(&self, ctx: Option<CtxId>, p: RingPagesPtr) {
        self.ctx_write(ctx, Field::RingPagesPtr, p, |c, v| c.ring_pages = v)
            .await
    }

    /// Loads `ctx->ring_pages[i]`.
    pub async fn read_ring_page(&self, ctx: Option<CtxId>, i: usize) -> Option<PageId> {
        let arg = Arg::Field(Field::RingPages, Some(i as u8));
        self.act(OpKind::Read, arg, Guard::None, |st| {
            let v = match ctx {
                None => {
                    st.violation(ViolationKind::NullDeref);
                    None
                }
                Some(c) => {
                    st.touch(Obj::RingSlot(c, i as u8), Access::Read);
                    st.ring_slot(c, i).and_then(|s| *s)
                }
            };
            (v, Effect::Page(v))
        })
        .await
    }

    /// Stores `ctx->ring_pages[i] = page`.
    pub async fn write_ring_page(&self, ctx: Option<CtxId>, i: usize, page: Option<PageId>) {
        let arg = Arg::Field(Field::RingPages, Some(i as u8));
        self.act(OpKind::Write, arg, Guard::None, |st| {
            match ctx {
                None => st.violation(ViolationKind::NullDeref),
                Some(c) => {
                    st.touch(Obj::RingSlot(c, i as u8), Access::Write);
                    if let Some(s) = st.ring_slot(c, i) {
                        let held = std::mem::replace(s, page);
                        st.hand_over_ring_slot(c, i, held, page);
                    }
                }
            }
            ((), Effect::Page(page))
        })
        .await
    }

    /// Loads `mapping->private_data`.
    pub async fn read_private_data(&self, mapping: InodeId) -> Option<CtxId> {
        self.act(
            OpKind::Read,
            Arg::Field(Field::PrivateData, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(mapping, Field::PrivateData), Access::Read);
                let v = st.mapping(mapping).private_data;
                (v, Effect::Ctx(v))
            },
        )
        .await
    }

    /// Stores `mapping->private_data`.
    pub async fn write_private_data(&self, mapping: InodeId, v: Option<CtxId>) {
        self.act(
            OpKind::Write,
            Arg::Field(Field::PrivateData, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(mapping, Field::PrivateData), Access::Write);
                st.mapping(mapping).private_data = v;
                ((), Effect::Ctx(v))
            },
        )
        .await
    }

    /// `kmem_cache_zalloc(kioctx_cachep)`, with the locks `ioctx_alloc`
    /// initialises.
    pub async fn kmem_cache_zalloc_kioctx(&self) -> CtxId {
        self.act(OpKind::KmemCacheZalloc, Arg::None, Guard::None, |st| {
            let owner = LockOwner::Ctx(CtxId(st.ctxs.len() as u8));
            let completion_lock = st.new_lock(owner);
            let ring_lock = st.new_lock(owner);
            st.allocating(Pool::Ctx);
            st.ctxs.push(Kioctx {
                users: 0,
                reqs: 0,
                dead: false,
                max_reqs: 0,
                nr_events: 0,
                tail: 0,
                nr_pages: 0,
                ring_pages: RingPagesPtr::Null,
                internal_pages: [None; AIO_RING_PAGES],
                aio_ring_file: None,
                mmap_base: 0,
                mmap_size: 0,
                user_id: 0,
                id: 0,
                completion_lock,
                ring_lock,
                freed: false,
                ring_inode: None,
                published: false,
            });
            let c = CtxId((st.ctxs.len() - 1) as u8);
            st.touch(Obj::Ctx(c), Access::Write);
            (c, Effect::Ctx(Some(c)))
        })
        .await
    }

    /// `kmem_cache_free(kioctx_cachep, ctx)`. Oracle O5: the ring mapping
    /// must be empty by now.
    pub async fn kmem_cache_free_kioctx(&self, ctx: CtxId) {
        self.act(OpKind::KmemCacheFree, Arg::None, Guard::None, |st| {
            st.touch(Obj::Ctx(ctx), Access::Write);
            let c = &mut st.ctxs[ctx.0 as usize];
            if c.freed {
                st.violation(ViolationKind::UseAfterFree(Object::Kioctx));
            }
            let c = &mut st.ctxs[ctx.0 as usize];
            c.freed = true;
            if let Some(i) = c.ring_inode {
                let inode = &st.inodes[i.0 as usize];
                if !inode.freed && inode.mapping.nrpages != 0 {
                    st.violation(ViolationKind::NrpagesAtFree);
                }
            }
            ((), Effect::None)
        })
        .await
    }

    /// `kcalloc(n, sizeof(struct page *))`, or NULL when the fault is injected.
    pub async fn kcalloc_ring_pages(&self, n: usize) -> RingPagesPtr {
        self.act(OpKind::Kcalloc, Arg::None, Guard::None, |st| {
            if st.config.faults.kcalloc_fails {
                return (RingPagesPtr::Null, Effect::Fault);
            }
            st.allocating(Pool::Array);
            st.arrays.push(HeapArray {
                slots: vec![None; n],
                freed: false,
            });
            let a = (st.arrays.len() - 1) as u16;
            st.touch(Obj::Array(a), Access::Write);
            let p = RingPagesPtr::Heap(a);
            (p, p.effect())
        })
        .await
    }

    /// `kfree(ctx->ring_pages)`.
    pub async fn kfree_ring_pages(&self, p: RingPagesPtr) {
        self.act(
            OpKind::Kfree,
            Arg::Field(Field::RingPagesPtr, None),
            Guard::None,
            |st| {
                match p {
                    RingPagesPtr::Heap(a) => {
                        st.touch(Obj::Array(a), Access::Write);
                        let arr = &mut st.arrays[a as usize];
                        if arr.freed {
                            st.violation(ViolationKind::UseAfterFree(Object::RingPages));
                        }
                        st.arrays[a as usize].freed = true;
                    }
                    // kfree(NULL) is a no-op; kfree of the inline array would be
                    // a bad free, and the callers never do it.
                    RingPagesPtr::Null | RingPagesPtr::Internal => {}
                }
                ((), p.effect())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::Func;

    fn kinds(k: &Kernel) -> Vec<ViolationKind> {
        k.violations().iter().map(|v| v.kind).collect()
    }

    #[test]
    fn a_null_ctx_dereference_oopses() {
        let (k, _) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(Func::AioMigratepage);
            k.read_nr_pages(None).await;
            unreachable!("the oops ends the task");
        });
        assert_eq!(kinds(&k), [ViolationKind::NullDeref]);
    }

    #[test]
    fn the_kioctx_and_its_locks_are_checked_after_kmem_cache_free() {
        let (k, _) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(Func::IoctxAlloc);
            let ctx = k.kmem_cache_zalloc_kioctx().await;
            k.kmem_cache_free_kioctx(ctx).await;
            let lock = k.completion_lock(ctx);
            k.spin_lock_irqsave(crate::LockName::CompletionLock, lock)
                .await;
            k.write_nr_pages(Some(ctx), 3).await;
        });
        assert_eq!(
            kinds(&k),
            [
                ViolationKind::UseAfterFree(Object::Kioctx),
                ViolationKind::UseAfterFree(Object::Kioctx)
            ]
        );
    }

    #[test]
    fn ring_pages_arrays_are_bounds_and_lifetime_checked() {
        let (k, _) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(Func::AioSetupRing);
            let ctx = Some(k.kmem_cache_zalloc_kioctx().await);
            k.write_ring_pages_ptr(ctx, RingPagesPtr::Internal).await;
            k.write_ring_page(ctx, AIO_RING_PAGES, None).await;
            let heap = k.kcalloc_ring_pages(10).await;
            k.write_ring_pages_ptr(ctx, heap).await;
            k.write_ring_page(ctx, 9, None).await;
            k.kfree_ring_pages(heap).await;
            k.read_ring_page(ctx, 9).await;
        });
        assert_eq!(
            kinds(&k),
            [
                ViolationKind::OutOfBounds,
                ViolationKind::UseAfterFree(Object::RingPages)
            ]
        );
    }

    #[test]
    fn kcalloc_fails_under_the_fault() {
        let (k, _) = kernel_with_mapping();
        k.st.borrow_mut().config.faults.kcalloc_fails = true;
        let got = std::cell::Cell::new(RingPagesPtr::Internal);
        run_one(&k, async {
            let _f = k.enter(Func::AioSetupRing);
            got.set(k.kcalloc_ring_pages(10).await);
        });
        assert_eq!(got.get(), RingPagesPtr::Null);
        assert!(k.inspect(|st| st.arrays.is_empty()));
    }
}
