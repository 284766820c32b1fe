//! Stable labels for scheduling points.
//!
//! A label names the kernel function a task is in, the shared-state operation
//! it is about to perform, and the object it acts on, for example
//! `aio_free_ring:put_page(ring[1])`. Labels are small `Copy` values compared
//! as integers; their text form is made only for printing and parsing.

use std::fmt;

/// Defines a fieldless enum with a C-style name for each variant, plus the
/// table used to print and parse it.
macro_rules! named_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// The kernel's name for this item.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            /// Looks a variant up by its kernel name.
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use named_enum;

named_enum! {
    /// A simulated kernel function: every function that opens a frame, so that
    /// the scheduling points inside it carry its name.
    pub enum Func {
        // mm/filemap.c
        /// `find_or_create_page`
        FindOrCreatePage = "find_or_create_page",
        /// `find_get_page`
        FindGetPage = "find_get_page",
        /// `find_lock_page`
        FindLockPage = "find_lock_page",
        /// `add_to_page_cache_locked`
        AddToPageCacheLocked = "add_to_page_cache_locked",
        /// `delete_from_page_cache`
        DeleteFromPageCache = "delete_from_page_cache",
        // mm/swap.c, mm/vmscan.c
        /// `lru_cache_add`
        LruCacheAdd = "lru_cache_add",
        /// `__pagevec_lru_add`
        PagevecLruAdd = "__pagevec_lru_add",
        /// `lru_add_drain_all`
        LruAddDrainAll = "lru_add_drain_all",
        /// `isolate_lru_page`
        IsolateLruPage = "isolate_lru_page",
        /// `putback_lru_page`
        PutbackLruPage = "putback_lru_page",
        /// `putback_movable_pages`
        PutbackMovablePages = "putback_movable_pages",
        // mm/page_alloc.c
        /// `free_hot_cold_page`
        FreeHotColdPage = "free_hot_cold_page",
        // mm/truncate.c
        /// `truncate_setsize`
        TruncateSetsize = "truncate_setsize",
        /// `truncate_inode_pages_range`
        TruncateInodePagesRange = "truncate_inode_pages_range",
        /// `truncate_inode_page`
        TruncateInodePage = "truncate_inode_page",
        // mm/migrate.c
        /// `migrate_prep`
        MigratePrep = "migrate_prep",
        /// `migrate_pages`
        MigratePages = "migrate_pages",
        /// `unmap_and_move`
        UnmapAndMove = "unmap_and_move",
        /// `__unmap_and_move`
        UnmapAndMoveInner = "__unmap_and_move",
        /// `move_to_new_page`
        MoveToNewPage = "move_to_new_page",
        /// `migrate_page`
        MigratePage = "migrate_page",
        /// `migrate_page_move_mapping`
        MigratePageMoveMapping = "migrate_page_move_mapping",
        /// `migrate_page_copy`
        MigratePageCopy = "migrate_page_copy",
        /// the migration target allocator passed to `migrate_pages`
        AllocMigrateTarget = "alloc_migrate_target",
        // mm/memory_hotplug.c
        /// `do_migrate_range`
        DoMigrateRange = "do_migrate_range",
        // fs/ and mm/mmap.c
        /// `alloc_anon_inode`
        AllocAnonInode = "alloc_anon_inode",
        /// `fput`
        Fput = "fput",
        /// `__fput`
        FputFinal = "__fput",
        /// `evict`
        Evict = "evict",
        /// `do_mmap_pgoff`
        DoMmapPgoff = "do_mmap_pgoff",
        /// `vm_munmap`
        VmMunmap = "vm_munmap",
        // fs/aio.c
        /// `aio_private_file`
        AioPrivateFile = "aio_private_file",
        /// `aio_setup_ring`
        AioSetupRing = "aio_setup_ring",
        /// `ioctx_add_table`
        IoctxAddTable = "ioctx_add_table",
        /// `ioctx_alloc`
        IoctxAlloc = "ioctx_alloc",
        /// `put_aio_ring_file`
        PutAioRingFile = "put_aio_ring_file",
        /// `aio_free_ring`
        AioFreeRing = "aio_free_ring",
        /// `aio_migratepage`
        AioMigratepage = "aio_migratepage",
        /// `kill_ioctx`
        KillIoctx = "kill_ioctx",
        /// `free_ioctx_users`
        FreeIoctxUsers = "free_ioctx_users",
        /// `free_ioctx_reqs`
        FreeIoctxReqs = "free_ioctx_reqs",
        /// `free_ioctx`
        FreeIoctx = "free_ioctx",
        /// `aio_nr_sub`
        AioNrSub = "aio_nr_sub",
        /// `io_setup`
        IoSetup = "io_setup",
        /// `io_destroy`
        IoDestroy = "io_destroy",
        /// `lookup_ioctx`
        LookupIoctx = "lookup_ioctx",
        // mm/filemap.c, after the byte format's version 1 functions
        /// `filemap_fault`
        FilemapFault = "filemap_fault",
        // fs/aio.c's submission and completion, after the byte format's
        // version 2 functions
        /// `do_io_submit`
        DoIoSubmit = "do_io_submit",
        /// `io_submit_one`
        IoSubmitOne = "io_submit_one",
        /// `aio_get_req`
        AioGetReq = "aio_get_req",
        /// `aio_run_iocb`
        AioRunIocb = "aio_run_iocb",
        /// `aio_complete`
        AioComplete = "aio_complete",
    }
}

named_enum! {
    /// A lock, named by its kernel field.
    pub enum LockName {
        /// `mapping->private_lock`
        PrivateLock = "private_lock",
        /// `mapping->tree_lock`
        TreeLock = "tree_lock",
        /// `ctx->completion_lock`
        CompletionLock = "completion_lock",
        /// `ctx->ring_lock`
        RingLock = "ring_lock",
        /// `mm->mmap_sem`
        MmapSem = "mmap_sem",
        /// `mm->ioctx_lock`
        IoctxLock = "ioctx_lock",
        /// `aio_nr_lock`
        AioNrLock = "aio_nr_lock",
        /// `zone->lru_lock`
        LruLock = "lru_lock",
    }
}

named_enum! {
    /// A page flag.
    pub enum PageFlag {
        /// `PG_locked`
        Locked = "Locked",
        /// `PG_uptodate`
        Uptodate = "Uptodate",
        /// `PG_dirty`
        Dirty = "Dirty",
        /// `PG_writeback`
        Writeback = "Writeback",
        /// `PG_lru`
        Lru = "LRU",
        /// `PG_active`
        Active = "Active",
        /// `PG_referenced`
        Referenced = "Referenced",
        /// `PG_unevictable`
        Unevictable = "Unevictable",
        /// `PG_swapbacked`
        SwapBacked = "SwapBacked",
    }
}

named_enum! {
    /// A field of a kernel object that more than one task reads or writes.
    pub enum Field {
        /// `ctx->nr_pages`
        NrPages = "ctx->nr_pages",
        /// `ctx->ring_pages` (the pointer)
        RingPagesPtr = "ctx->ring_pages",
        /// `ctx->ring_pages[i]`
        RingPages = "ctx->ring_pages[]",
        /// `ctx->aio_ring_file`
        AioRingFile = "ctx->aio_ring_file",
        /// `ctx->mmap_size`
        MmapSize = "ctx->mmap_size",
        /// `ctx->mmap_base`
        MmapBase = "ctx->mmap_base",
        /// `ctx->user_id`
        UserId = "ctx->user_id",
        /// `ctx->id`
        CtxIdx = "ctx->id",
        /// `ctx->max_reqs`
        MaxReqs = "ctx->max_reqs",
        /// `ctx->nr_events`
        NrEvents = "ctx->nr_events",
        /// `ctx->dead`
        Dead = "ctx->dead",
        /// `ctx->users`
        Users = "ctx->users",
        /// `ctx->reqs`
        Reqs = "ctx->reqs",
        /// `mapping->private_data`
        PrivateData = "mapping->private_data",
        /// `mapping->a_ops`
        AOps = "mapping->a_ops",
        /// `mapping->nrpages`
        NrPagesMapping = "mapping->nrpages",
        /// `mapping->page_tree`
        PageTree = "mapping->page_tree",
        /// `mm->mmap`: the process's mappings
        Mmap = "mm->mmap",
        /// `inode->i_size`
        ISize = "inode->i_size",
        /// `page->mapping`
        PageMapping = "page->mapping",
        /// `page->index`
        PageIndex = "page->index",
        /// `page->_mapcount`
        PageMapcount = "page->_mapcount",
        /// the ring header, written through `kmap_atomic(ring_pages[0])`
        RingHeader = "ring->header",
        /// `ring->id`
        RingId = "ring->id",
        /// `mm->ioctx_table`
        IoctxTable = "mm->ioctx_table",
        /// the global `aio_nr`
        AioNr = "aio_nr",
        /// `file->f_count`
        FCount = "file->f_count",
        // After the byte format's version 2 fields: the completion path.
        /// `ctx->tail`
        Tail = "ctx->tail",
        /// `ring->tail`, in the header on `ring_pages[0]`
        RingTail = "ring->tail",
        /// `ring->io_events[i]`, an event slot of a ring page
        RingEvents = "ring->io_events[]",
    }
}

named_enum! {
    /// The kind of operation a scheduling point performs.
    pub enum OpKind {
        /// `spin_lock`
        SpinLock = "spin_lock",
        /// `spin_unlock`
        SpinUnlock = "spin_unlock",
        /// `spin_lock_irqsave`
        SpinLockIrqsave = "spin_lock_irqsave",
        /// `spin_unlock_irqrestore`
        SpinUnlockIrqrestore = "spin_unlock_irqrestore",
        /// `spin_lock_irq`
        SpinLockIrq = "spin_lock_irq",
        /// `spin_unlock_irq`
        SpinUnlockIrq = "spin_unlock_irq",
        /// `mutex_lock`
        MutexLock = "mutex_lock",
        /// `mutex_unlock`
        MutexUnlock = "mutex_unlock",
        /// `down_write`
        DownWrite = "down_write",
        /// `up_write`
        UpWrite = "up_write",
        /// `lock_page` (sleeps while the page is locked)
        LockPage = "lock_page",
        /// `trylock_page`
        TrylockPage = "trylock_page",
        /// `unlock_page`
        UnlockPage = "unlock_page",
        /// `__set_page_locked` on a page nobody else can see
        SetPageLocked = "__set_page_locked",
        /// `get_page`
        GetPage = "get_page",
        /// `put_page`
        PutPage = "put_page",
        /// `page_cache_get_speculative`
        GetSpeculative = "page_cache_get_speculative",
        /// `get_page_unless_zero`
        GetUnlessZero = "get_page_unless_zero",
        /// `page_freeze_refs`
        FreezeRefs = "page_freeze_refs",
        /// `page_unfreeze_refs`
        UnfreezeRefs = "page_unfreeze_refs",
        /// `page_count`
        PageCount = "page_count",
        /// `Set<Flag>` on a page
        SetFlag = "SetPage",
        /// `Clear<Flag>` on a page
        ClearFlag = "ClearPage",
        /// `Test<Flag>` on a page
        TestFlag = "Page",
        /// a load from a shared field
        Read = "read",
        /// a store to a shared field
        Write = "write",
        /// `alloc_page`
        AllocPage = "alloc_page",
        /// the page is handed back to the buddy allocator
        FreePage = "free_page",
        /// `radix_tree_lookup` of a page-cache slot
        TreeLookup = "radix_tree_lookup",
        /// `pagevec_lookup`: a batch of page-cache pages, with references
        PagevecLookup = "pagevec_lookup",
        /// `__pagevec_lru_add`: a CPU's LRU-add pagevec is drained
        PagevecLruAdd = "__pagevec_lru_add",
        /// `radix_tree_insert`
        TreeInsert = "radix_tree_insert",
        /// `radix_tree_delete`
        TreeDelete = "radix_tree_delete",
        /// `radix_tree_replace_slot`
        TreeReplace = "radix_tree_replace_slot",
        /// `pagevec_add` into a per-CPU LRU pagevec
        PagevecAdd = "pagevec_add",
        /// `pagevec_release`
        PagevecRelease = "pagevec_release",
        /// `kmem_cache_zalloc`
        KmemCacheZalloc = "kmem_cache_zalloc",
        /// `kmem_cache_free`
        KmemCacheFree = "kmem_cache_free",
        /// `kcalloc`
        Kcalloc = "kcalloc",
        /// `kfree`
        Kfree = "kfree",
        /// `copy_highpage`: page contents copied
        CopyHighpage = "copy_highpage",
        /// `kmap_atomic` of a page followed by a store into it
        KmapWrite = "kmap_write",
        /// `BUG_ON` check
        BugOn = "BUG_ON",
        /// `VM_BUG_ON` check
        VmBugOn = "VM_BUG_ON",
        /// `smp_wmb`
        SmpWmb = "smp_wmb",
        /// the operation's result is returned to its caller
        Return = "return",
    }
}

impl Field {
    /// Whether the field is an array that labels index (`ctx->ring_pages[1]`,
    /// `mm->ioctx_table[0]`).
    pub fn indexed(self) -> bool {
        matches!(
            self,
            Field::RingPages | Field::IoctxTable | Field::RingEvents
        )
    }

    /// Whether the field is a member of `struct page`.
    pub fn of_page(self) -> bool {
        self.name().starts_with("page->")
    }
}

impl OpKind {
    /// Whether the operation sets, clears or tests a page flag, which its
    /// label names after the operation (`SetPageDirty`).
    pub fn on_flag(self) -> bool {
        matches!(self, OpKind::SetFlag | OpKind::ClearFlag | OpKind::TestFlag)
    }
}

/// What a page is, for naming it in labels: a page of the ring at an index,
/// or a migration target standing in for one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum PageRole {
    /// A page created by `find_or_create_page`, printed `ring[i]`.
    Ring,
    /// A page allocated as a migration target, printed `new[i]`.
    New,
}

/// The object a scheduling point acts on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Arg {
    /// Nothing more specific than the field or lock named by the operation.
    None,
    /// A lock.
    Lock(LockName),
    /// A page flag and the page it is on.
    Flag(PageFlag, PageRole, u8),
    /// A page, by role and ring index.
    Page(PageRole, u8),
    /// A field, with an optional ring index (`ctx->ring_pages[i]`) or page.
    Field(Field, Option<u8>),
    /// A field of a page (`page->mapping`), and the page.
    PageField(Field, PageRole, u8),
}

/// A scheduling point: the function, the operation, and its object.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Label {
    /// The innermost simulated function the task is in.
    pub func: Func,
    /// What the task is about to do.
    pub op: OpKind,
    /// What it does it to.
    pub arg: Arg,
}

impl fmt::Display for PageRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageRole::Ring => "ring",
            PageRole::New => "new",
        })
    }
}

impl Arg {
    /// The ring index it names, if any.
    pub fn index(self) -> Option<u8> {
        match self {
            Arg::Flag(_, _, i) | Arg::Page(_, i) | Arg::PageField(_, _, i) => Some(i),
            Arg::Field(_, i) => i,
            Arg::None | Arg::Lock(_) => None,
        }
    }

    /// The same argument with its ring index, if any, replaced by `f` of it.
    pub fn with_index(self, f: impl Fn(u8) -> u8) -> Arg {
        match self {
            Arg::Flag(flag, role, i) => Arg::Flag(flag, role, f(i)),
            Arg::Page(role, i) => Arg::Page(role, f(i)),
            Arg::Field(field, i) => Arg::Field(field, i.map(f)),
            Arg::PageField(field, role, i) => Arg::PageField(field, role, f(i)),
            Arg::None | Arg::Lock(_) => self,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Arg::None => Ok(()),
            Arg::Lock(l) => write!(f, "{l}"),
            Arg::Flag(flag, role, i) => write!(f, "Page{flag}({role}[{i}])"),
            Arg::Page(role, i) => write!(f, "{role}[{i}]"),
            Arg::Field(field, None) => write!(f, "{field}"),
            Arg::Field(field, Some(i)) => {
                let name = field.name().trim_end_matches("[]");
                write!(f, "{name}[{i}]")
            }
            Arg::PageField(field, role, i) => {
                let member = field.name().trim_start_matches("page->");
                write!(f, "{role}[{i}]->{member}")
            }
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.op, self.arg) {
            (OpKind::SetFlag | OpKind::ClearFlag | OpKind::TestFlag, Arg::Flag(flag, role, i)) => {
                write!(f, "{}:{}{}({role}[{i}])", self.func, self.op, flag)
            }
            _ => write!(f, "{}:{}({})", self.func, self.op, self.arg),
        }
    }
}

impl Label {
    /// Parses the text form printed by `Display`, for example
    /// `aio_free_ring:put_page(ring[1])`.
    pub fn parse(s: &str) -> Result<Label, String> {
        let (func, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("label `{s}` has no `:` between function and operation"))?;
        let func = Func::from_name(func).ok_or_else(|| format!("unknown function `{func}`"))?;
        let (op_text, arg_text) = match rest.split_once('(') {
            Some((op, tail)) => (
                op,
                tail.strip_suffix(')')
                    .ok_or_else(|| format!("label `{s}` does not end with `)`"))?,
            ),
            None => (rest, ""),
        };
        let (op, flag) = parse_op(op_text)?;
        let arg = parse_arg(op, flag, arg_text)?;
        Ok(Label { func, op, arg })
    }
}

/// Parses an operation name; a flag operation names its flag
/// (`SetPageDirty`), or `*` for any flag in a pattern (`SetPage*`).
pub(crate) fn parse_op(text: &str) -> Result<(OpKind, Option<PageFlag>), String> {
    if let Some(op) = OpKind::from_name(text) {
        if !op.on_flag() {
            return Ok((op, None));
        }
    }
    for op in [OpKind::SetFlag, OpKind::ClearFlag, OpKind::TestFlag] {
        if let Some(rest) = text.strip_prefix(op.name()) {
            if rest == "*" {
                return Ok((op, None));
            }
            if let Some(flag) = PageFlag::from_name(rest) {
                return Ok((op, Some(flag)));
            }
        }
    }
    Err(format!("unknown operation `{text}`"))
}

fn parse_page(text: &str) -> Option<(PageRole, u8)> {
    let (role, tail) = text.split_once('[')?;
    let role = match role {
        "ring" => PageRole::Ring,
        "new" => PageRole::New,
        _ => return None,
    };
    let index = tail.strip_suffix(']')?.parse().ok()?;
    Some((role, index))
}

fn parse_arg(op: OpKind, flag: Option<PageFlag>, text: &str) -> Result<Arg, String> {
    let bad = || format!("`{text}` is not a valid object for `{}`", op.name());
    if let Some(flag) = flag {
        let (role, i) = parse_page(text).ok_or_else(bad)?;
        return Ok(Arg::Flag(flag, role, i));
    }
    if text.is_empty() {
        return Ok(Arg::None);
    }
    if let Some(tail) = text.strip_prefix("Page") {
        if let Some((name, page)) = tail.split_once('(') {
            let flag = PageFlag::from_name(name).ok_or_else(bad)?;
            let page = page.strip_suffix(')').ok_or_else(bad)?;
            let (role, i) = parse_page(page).ok_or_else(bad)?;
            return Ok(Arg::Flag(flag, role, i));
        }
    }
    if let Some(lock) = LockName::from_name(text) {
        return Ok(Arg::Lock(lock));
    }
    if let Some(field) = Field::from_name(text) {
        return Ok(Arg::Field(field, None));
    }
    if let Some((page, member)) = text.split_once("->") {
        if let (Some((role, i)), Some(field)) = (
            parse_page(page),
            Field::from_name(&format!("page->{member}")),
        ) {
            return Ok(Arg::PageField(field, role, i));
        }
    }
    if let Some((role, i)) = parse_page(text) {
        return Ok(Arg::Page(role, i));
    }
    if let Some((name, tail)) = text.split_once('[') {
        let field = Field::from_name(&format!("{name}[]"))
            .or_else(|| Field::from_name(name).filter(|f| f.indexed()))
            .ok_or_else(bad)?;
        let i = tail
            .strip_suffix(']')
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        return Ok(Arg::Field(field, Some(i)));
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_print_in_kernel_terms() {
        let l = Label {
            func: Func::AioFreeRing,
            op: OpKind::PutPage,
            arg: Arg::Page(PageRole::Ring, 1),
        };
        assert_eq!(l.to_string(), "aio_free_ring:put_page(ring[1])");
        let l = Label {
            func: Func::AioSetupRing,
            op: OpKind::Write,
            arg: Arg::Field(Field::RingPages, Some(3)),
        };
        assert_eq!(l.to_string(), "aio_setup_ring:write(ctx->ring_pages[3])");
        let l = Label {
            func: Func::AioSetupRing,
            op: OpKind::SetFlag,
            arg: Arg::Flag(PageFlag::Dirty, PageRole::Ring, 0),
        };
        assert_eq!(l.to_string(), "aio_setup_ring:SetPageDirty(ring[0])");
        let l = Label {
            func: Func::MoveToNewPage,
            op: OpKind::Write,
            arg: Arg::PageField(Field::PageMapping, PageRole::New, 2),
        };
        assert_eq!(l.to_string(), "move_to_new_page:write(new[2]->mapping)");
    }

    #[test]
    fn every_printed_label_parses_back() {
        let args = [
            Arg::None,
            Arg::Lock(LockName::PrivateLock),
            Arg::Page(PageRole::New, 9),
            Arg::Field(Field::NrPages, None),
            Arg::Field(Field::RingPages, Some(7)),
            Arg::PageField(Field::PageIndex, PageRole::Ring, 0),
            Arg::Flag(PageFlag::Writeback, PageRole::New, 2),
        ];
        for &func in Func::ALL {
            for &op in OpKind::ALL {
                let flagged = matches!(op, OpKind::SetFlag | OpKind::ClearFlag | OpKind::TestFlag);
                let choices: Vec<Arg> = if flagged {
                    PageFlag::ALL
                        .iter()
                        .map(|&fl| Arg::Flag(fl, PageRole::Ring, 4))
                        .collect()
                } else {
                    args.to_vec()
                };
                for arg in choices {
                    let l = Label { func, op, arg };
                    assert_eq!(Label::parse(&l.to_string()), Ok(l), "{l}");
                }
            }
        }
    }

    #[test]
    fn bad_labels_say_why() {
        assert!(Label::parse("nosuch:put_page()")
            .unwrap_err()
            .contains("unknown function"));
        assert!(Label::parse("aio_free_ring:frob(ring[1])")
            .unwrap_err()
            .contains("unknown operation"));
        assert!(Label::parse("aio_free_ring:put_page(ring[x])")
            .unwrap_err()
            .contains("not a valid object"));
    }
}
