//! `struct page`: reference counts, flags, the page lock, contents, and the
//! free path with its `bad_page` checks (include/linux/mm.h, mm/swap.c,
//! mm/page_alloc.c of v3.14).

use std::fmt;

use crate::history::{Access, Obj, Pool};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Field, OpKind, PageFlag, PageRole};
use crate::ledger::Holder;
use crate::objects::InodeId;
use crate::trace::Effect;
use crate::violation::{BadPage, Object, ViolationKind};

/// `PAGEVEC_SIZE`.
pub const PAGEVEC_SIZE: usize = 14;

/// Event slots of a page the model keeps: one word each (the event's
/// `data`), for slots 1 to 6 of a page. Slot 0 of `ring_pages[0]` is the
/// header; a scenario completes at most 6 events, so no completion reaches
/// a slot past these.
pub const EVENT_SLOTS: usize = 6;

/// Words of page contents the model keeps: the eight `struct aio_ring`
/// header words, then one word per event slot.
pub const PAGE_WORDS: usize = 8 + EVENT_SLOTS;

/// The first event slot's word in [`Page::data`].
pub const EVENT_WORD: usize = 8;

/// The header word of `ring->tail`.
pub const TAIL_WORD: usize = 3;

/// A page frame: an allocation ordinal plus the name it carries in labels.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PageId {
    /// Allocation ordinal; index into [`State::pages`].
    pub id: u16,
    /// What the page was allocated as.
    pub role: PageRole,
    /// The ring index it was allocated for.
    pub idx: u8,
}

impl PageId {
    /// Index into [`State::pages`].
    pub fn index(self) -> usize {
        self.id as usize
    }

    /// The page as a label object: `ring[i]` or `new[i]`.
    pub fn arg(self) -> Arg {
        Arg::Page(self.role, self.idx)
    }

    /// A flag of this page as a label object.
    pub fn flag_arg(self, flag: PageFlag) -> Arg {
        Arg::Flag(flag, self.role, self.idx)
    }

    /// A field of this page as a label object.
    pub fn field_arg(self, field: Field) -> Arg {
        Arg::PageField(field, self.role, self.idx)
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.id)
    }
}

/// Flags checked by `free_pages_check` (`PAGE_FLAGS_CHECK_AT_FREE`).
const CHECK_AT_FREE: [PageFlag; 5] = [
    PageFlag::Lru,
    PageFlag::Locked,
    PageFlag::Writeback,
    PageFlag::Active,
    PageFlag::Unevictable,
];

/// A `struct page` and the contents of its frame.
#[derive(Clone, Hash, Debug)]
pub struct Page {
    /// `_count`.
    pub count: i32,
    /// `_mapcount + 1`: the number of user PTEs.
    pub mapcount: i32,
    flags: u16,
    /// `mapping`.
    pub mapping: Option<InodeId>,
    /// `index`.
    pub index: u32,
    /// The first words of the frame.
    pub data: [u32; PAGE_WORDS],
    /// Whether the frame went back to the allocator.
    pub freed: bool,
    /// Whether `bad_page` leaked it.
    pub leaked: bool,
    /// Isolated from the LRU by a migrator (bookkeeping for the refcount audit).
    pub isolated: bool,
    /// Its count frozen to 0 by `page_freeze_refs`, until
    /// `page_unfreeze_refs`.
    pub frozen: bool,
    /// The migration target its contents were copied to, if any (oracle O7).
    pub copied_to: Option<PageId>,
    /// What it was allocated as, and for which ring index: its name in
    /// findings, `ring[i]` or `new[i]`.
    pub allocated_as: (PageRole, u8),
}

impl Page {
    fn new(allocated_as: (PageRole, u8)) -> Page {
        Page {
            count: 1,
            mapcount: 0,
            flags: 0,
            mapping: None,
            index: 0,
            data: [0; PAGE_WORDS],
            freed: false,
            leaked: false,
            isolated: false,
            frozen: false,
            copied_to: None,
            allocated_as,
        }
    }

    /// Whether `flag` is set.
    pub fn test(&self, flag: PageFlag) -> bool {
        self.flags & (1 << flag as u16) != 0
    }

    /// Sets or clears `flag`.
    pub fn set(&mut self, flag: PageFlag, on: bool) {
        if on {
            self.flags |= 1 << flag as u16;
        } else {
            self.flags &= !(1 << flag as u16);
        }
    }

    /// `PageLocked`.
    pub fn locked(&self) -> bool {
        self.test(PageFlag::Locked)
    }
}

impl State {
    /// Allocates a zeroed page with count 1.
    pub fn alloc_page(&mut self, role: PageRole, idx: u8) -> PageId {
        self.allocating(Pool::Page);
        self.pages.push(Page::new((role, idx)));
        let p = PageId {
            id: (self.pages.len() - 1) as u16,
            role,
            idx,
        };
        self.take_ref(p, self.caller());
        p
    }

    /// The page, reporting a use after free if it was freed.
    pub fn page(&mut self, p: PageId) -> &mut Page {
        if self.pages[p.index()].freed {
            self.violation(ViolationKind::UseAfterFree(Object::Page));
        }
        &mut self.pages[p.index()]
    }

    /// `get_page`: `VM_BUG_ON(count <= 0)`, then increment; the reference
    /// is the current task's.
    pub fn get_page(&mut self, p: PageId) -> Effect {
        if self.page(p).count <= 0 {
            self.touch(Obj::PageCount(p.id), Access::Read);
            self.violation(ViolationKind::GetPageZero);
            return Effect::Count(p, self.pages[p.index()].count);
        }
        self.touch(Obj::PageCount(p.id), Access::Add);
        self.take_ref(p, self.caller());
        let page = self.page(p);
        page.count += 1;
        Effect::Count(p, page.count)
    }

    /// `put_page` of the current task's reference.
    pub fn put_page(&mut self, p: PageId) -> Effect {
        self.put_page_of(p, self.caller())
    }

    /// `put_page` of `holder`'s reference: `VM_BUG_ON_PAGE(count == 0)`,
    /// decrement, and free the page when it reaches zero. A frozen page's 0
    /// is its own finding.
    pub fn put_page_of(&mut self, p: PageId, holder: Holder) -> Effect {
        if self.page(p).count <= 0 {
            self.touch(Obj::PageCount(p.id), Access::Read);
            let kind = if self.page(p).frozen {
                ViolationKind::PutPageFrozen
            } else {
                ViolationKind::PutPageZero
            };
            self.violation(kind);
            return Effect::Count(p, self.pages[p.index()].count);
        }
        self.drop_ref(p, holder);
        let page = self.page(p);
        page.count -= 1;
        if page.count > 0 {
            self.touch(Obj::PageCount(p.id), Access::Add);
            return Effect::Count(p, self.pages[p.index()].count);
        }
        self.touch(Obj::PageCount(p.id), Access::Write);
        self.free_page(p);
        Effect::Freed(p)
    }

    /// Records a write of every field of `p`, as its free does: every
    /// access to the page before or after it is ordered against it.
    fn touch_all_of(&mut self, p: PageId) {
        for obj in [
            Obj::PageMapping,
            Obj::PageIndex,
            Obj::PageMapcount,
            Obj::PageData,
        ] {
            self.touch(obj(p.id), Access::Write);
        }
        for &flag in PageFlag::ALL {
            self.touch(Obj::PageFlag(p.id, flag), Access::Write);
        }
    }

    /// The count reached zero: `__page_cache_release` takes the page off the
    /// LRU, then `free_hot_cold_page` runs `free_pages_check`, whose last
    /// matching reason wins. A bad page is reported and leaked.
    fn free_page(&mut self, p: PageId) {
        self.touch_all_of(p);
        let page = &mut self.pages[p.index()];
        if page.test(PageFlag::Lru) {
            page.set(PageFlag::Lru, false);
            let off = if page.test(PageFlag::Unevictable) {
                PageFlag::Unevictable
            } else {
                PageFlag::Active
            };
            page.set(off, false);
        }
        let mut bad = None;
        if page.mapcount != 0 {
            bad = Some(BadPage::Mapcount);
        }
        if page.mapping.is_some() {
            bad = Some(BadPage::Mapping);
        }
        if page.count != 0 {
            bad = Some(BadPage::Count);
        }
        if CHECK_AT_FREE.iter().any(|&f| page.test(f)) {
            bad = Some(BadPage::Flags);
        }
        match bad {
            Some(reason) => {
                page.leaked = true;
                self.violation(ViolationKind::BadPageState(reason));
            }
            None => page.freed = true,
        }
    }
}

impl Kernel {
    /// `get_page(p)`.
    pub async fn get_page(&self, p: PageId) {
        self.act(OpKind::GetPage, p.arg(), Guard::None, |st| {
            ((), st.get_page(p))
        })
        .await
    }

    /// `put_page(p)` (also `page_cache_release`).
    pub async fn put_page(&self, p: PageId) {
        self.act(OpKind::PutPage, p.arg(), Guard::None, |st| {
            ((), st.put_page(p))
        })
        .await
    }

    /// `get_page_unless_zero(p)` on a page frame found by a pfn walk: takes
    /// a reference unless the count is 0. A free frame is legal to look at.
    pub async fn get_page_unless_zero(&self, p: PageId) -> bool {
        self.act(OpKind::GetUnlessZero, p.arg(), Guard::None, |st| {
            let got = st.pages[p.index()].count > 0;
            if got {
                st.pages[p.index()].count += 1;
                st.take_ref(p, st.caller());
            }
            let count = st.pages[p.index()].count;
            let access = if got { Access::Add } else { Access::Read };
            st.touch(Obj::PageCount(p.id), access);
            (got, Effect::Count(p, count))
        })
        .await
    }

    /// `page_count(p)`.
    pub async fn page_count(&self, p: PageId) -> i32 {
        self.act(OpKind::PageCount, p.arg(), Guard::None, |st| {
            st.touch(Obj::PageCount(p.id), Access::Read);
            let c = st.page(p).count;
            (c, Effect::Int(c.into()))
        })
        .await
    }

    /// `page_mapcount(p)`: the number of user PTEs.
    pub async fn page_mapcount(&self, p: PageId) -> i32 {
        self.act(
            OpKind::Read,
            p.field_arg(Field::PageMapcount),
            Guard::None,
            |st| {
                st.touch(Obj::PageMapcount(p.id), Access::Read);
                let c = st.page(p).mapcount;
                (c, Effect::Int(c.into()))
            },
        )
        .await
    }

    /// `lock_page(p)`: sleeps until the page is unlocked, then locks it.
    pub async fn lock_page(&self, p: PageId) {
        self.act(OpKind::LockPage, p.arg(), Guard::PageUnlocked(p), |st| {
            st.touch(Obj::PageFlag(p.id, PageFlag::Locked), Access::Write);
            st.page(p).set(PageFlag::Locked, true);
            ((), Effect::None)
        })
        .await
    }

    /// `trylock_page(p)`: locks the page if it is unlocked.
    pub async fn trylock_page(&self, p: PageId) -> bool {
        self.act(OpKind::TrylockPage, p.arg(), Guard::None, |st| {
            st.touch(Obj::PageFlag(p.id, PageFlag::Locked), Access::Write);
            let page = st.page(p);
            let got = !page.locked();
            page.set(PageFlag::Locked, true);
            (got, Effect::Bool(got))
        })
        .await
    }

    /// `unlock_page(p)`: `VM_BUG_ON_PAGE(!PageLocked)`, then unlock (waking
    /// any sleeper).
    pub async fn unlock_page(&self, p: PageId) {
        self.act(OpKind::UnlockPage, p.arg(), Guard::None, |st| {
            st.touch(Obj::PageFlag(p.id, PageFlag::Locked), Access::Write);
            if !st.page(p).locked() {
                st.violation(ViolationKind::VmBugOn);
            }
            st.page(p).set(PageFlag::Locked, false);
            ((), Effect::None)
        })
        .await
    }

    /// `Set<Flag>(p)`.
    pub async fn set_page_flag(&self, p: PageId, flag: PageFlag) {
        self.act(OpKind::SetFlag, p.flag_arg(flag), Guard::None, |st| {
            st.touch(Obj::PageFlag(p.id, flag), Access::Write);
            st.page(p).set(flag, true);
            ((), Effect::None)
        })
        .await
    }

    /// `Clear<Flag>(p)`.
    pub async fn clear_page_flag(&self, p: PageId, flag: PageFlag) {
        self.act(OpKind::ClearFlag, p.flag_arg(flag), Guard::None, |st| {
            st.touch(Obj::PageFlag(p.id, flag), Access::Write);
            st.page(p).set(flag, false);
            ((), Effect::None)
        })
        .await
    }

    /// `Page<Flag>(p)`.
    pub async fn test_page_flag(&self, p: PageId, flag: PageFlag) -> bool {
        self.act(OpKind::TestFlag, p.flag_arg(flag), Guard::None, |st| {
            st.touch(Obj::PageFlag(p.id, flag), Access::Read);
            let on = st.page(p).test(flag);
            (on, Effect::Bool(on))
        })
        .await
    }

    /// Reads `page->mapping`.
    pub async fn page_mapping(&self, p: PageId) -> Option<InodeId> {
        self.act(
            OpKind::Read,
            p.field_arg(Field::PageMapping),
            Guard::None,
            |st| {
                st.touch(Obj::PageMapping(p.id), Access::Read);
                let m = st.page(p).mapping;
                (m, Effect::Mapping(m))
            },
        )
        .await
    }

    /// Stores `page->mapping`.
    pub async fn set_page_mapping(&self, p: PageId, m: Option<InodeId>) {
        self.act(
            OpKind::Write,
            p.field_arg(Field::PageMapping),
            Guard::None,
            |st| {
                st.touch(Obj::PageMapping(p.id), Access::Write);
                st.page(p).mapping = m;
                ((), Effect::Mapping(m))
            },
        )
        .await
    }

    /// Reads `page->index`.
    pub async fn page_index(&self, p: PageId) -> u32 {
        self.act(
            OpKind::Read,
            p.field_arg(Field::PageIndex),
            Guard::None,
            |st| {
                st.touch(Obj::PageIndex(p.id), Access::Read);
                let i = st.page(p).index;
                (i, Effect::Int(i.into()))
            },
        )
        .await
    }

    /// Stores `page->index`.
    pub async fn set_page_index(&self, p: PageId, index: u32) {
        self.act(
            OpKind::Write,
            p.field_arg(Field::PageIndex),
            Guard::None,
            |st| {
                st.touch(Obj::PageIndex(p.id), Access::Write);
                st.page(p).index = index;
                ((), Effect::Int(index.into()))
            },
        )
        .await
    }

    /// `kmap_atomic(p)`, fill in the whole `struct aio_ring` header,
    /// `kunmap_atomic`: one action, as nothing else can run on this CPU
    /// inside the atomic kmap. A NULL page is a fatal dereference.
    pub async fn kmap_write_header(&self, p: Option<PageId>, header: [u32; 8]) {
        self.kmap_store(p, Arg::Field(Field::RingHeader, None), 0, &header)
            .await
    }

    /// `kmap_atomic(p)`, store `value` at word `word`, `kunmap_atomic`.
    /// A NULL page is a fatal dereference.
    pub async fn kmap_write(&self, p: Option<PageId>, field: Field, word: usize, value: u32) {
        self.kmap_store(p, Arg::Field(field, None), word, &[value])
            .await
    }

    /// `kmap_atomic(p)`, fill in the `io_event` at `slot` of the page
    /// (its `data` word), `kunmap_atomic`. A slot the model does not keep
    /// ([`EVENT_SLOTS`]) is stored nowhere. A NULL page is a fatal
    /// dereference.
    pub async fn kmap_write_event(&self, p: Option<PageId>, slot: u32, data: u32) {
        let arg = Arg::Field(Field::RingEvents, Some(slot as u8));
        let kept = (1..=EVENT_SLOTS as u32).contains(&slot);
        let at = (EVENT_WORD + (slot as usize).saturating_sub(1)).min(PAGE_WORDS);
        let words: &[u32] = if kept { &[data] } else { &[] };
        self.kmap_store(p, arg, at, words).await
    }

    /// Stores `words` from word `at` of the page's frame, as `arg`. A store
    /// into a page whose contents were already copied to a migration target
    /// is lost (oracle O7).
    async fn kmap_store(&self, p: Option<PageId>, arg: Arg, at: usize, words: &[u32]) {
        self.act(OpKind::KmapWrite, arg, Guard::None, |st| {
            let Some(p) = p else {
                st.violation(ViolationKind::NullDeref);
                return ((), Effect::None);
            };
            st.touch(Obj::PageData(p.id), Access::Write);
            let page = st.page(p);
            page.data[at..at + words.len()].copy_from_slice(words);
            if page.copied_to.is_some() {
                st.violation(ViolationKind::LostWrite);
            }
            ((), Effect::Int(words.first().map_or(0, |&w| w.into())))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{RunEnd, RunToBlock, TaskFuture};
    use crate::kernel::Config;
    use crate::label::Func;

    fn one_page(k: &Kernel) -> PageId {
        k.st.borrow_mut().alloc_page(PageRole::Ring, 0)
    }

    #[test]
    fn get_and_put_count_and_free_cleanly() {
        let k = Kernel::new(Config::default());
        let p = one_page(&k);
        let body = async {
            let _f = k.enter(Func::AioFreeRing);
            k.get_page(p).await;
            k.put_page(p).await;
            k.put_page(p).await;
        };
        assert_eq!(k.run(vec![Box::pin(body)], &mut RunToBlock), RunEnd::Done);
        let effects: Vec<String> = k.trace().iter().map(|e| e.effect.to_string()).collect();
        assert_eq!(effects, ["P0._count=2", "P0._count=1", "P0 freed"]);
        assert!(k.violations().is_empty());
        assert!(k.inspect(|st| st.pages[0].freed));
    }

    #[test]
    fn put_on_zero_oopses_and_freeing_with_mapping_is_bad_page() {
        let k = Kernel::new(Config::default());
        let p = one_page(&k);
        k.st.borrow_mut().pages[0].mapping = Some(InodeId(0));
        let body = async {
            let _f = k.enter(Func::AioFreeRing);
            k.put_page(p).await;
            k.put_page(p).await;
            k.get_page(p).await;
        };
        assert_eq!(k.run(vec![Box::pin(body)], &mut RunToBlock), RunEnd::Done);
        let kinds: Vec<ViolationKind> = k.violations().iter().map(|v| v.kind).collect();
        assert_eq!(
            kinds,
            [
                ViolationKind::BadPageState(BadPage::Mapping),
                ViolationKind::PutPageZero
            ]
        );
        assert!(k.inspect(|st| st.pages[0].leaked && !st.pages[0].freed));
        // The oops ended the task before get_page.
        assert_eq!(k.trace().len(), 2);
    }

    #[test]
    fn lock_page_sleeps_and_trylock_fails_while_locked() {
        let k = Kernel::new(Config::default());
        let p = one_page(&k);
        let holder = async {
            let _f = k.enter(Func::UnmapAndMoveInner);
            k.lock_page(p).await;
            k.smp_wmb().await;
            k.unlock_page(p).await;
        };
        let other = async {
            let _f = k.enter(Func::TruncateInodePagesRange);
            let got = k.trylock_page(p).await;
            assert!(!got);
            k.lock_page(p).await;
            k.unlock_page(p).await;
        };
        // A locks; B's trylock fails; B's lock_page is not runnable until A unlocks.
        let mut order = crate::exec::Replay::new(vec![
            crate::exec::TaskId(0),
            crate::exec::TaskId(1),
            crate::exec::TaskId(1),
            crate::exec::TaskId(0),
        ]);
        let tasks: Vec<TaskFuture> = vec![Box::pin(holder), Box::pin(other)];
        assert_eq!(k.run(tasks, &mut order), RunEnd::Done);
        let lines: Vec<String> = k.trace().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            [
                "A __unmap_and_move:lock_page(ring[0])",
                "B truncate_inode_pages_range:trylock_page(ring[0]) = false",
                "A __unmap_and_move:smp_wmb()",
                "A __unmap_and_move:unlock_page(ring[0])",
                "B truncate_inode_pages_range:lock_page(ring[0])",
                "B truncate_inode_pages_range:unlock_page(ring[0])",
            ]
        );
    }
}
