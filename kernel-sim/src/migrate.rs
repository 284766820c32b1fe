//! Page migration (mm/migrate.c of v3.14) and the pfn-scan entry that
//! isolates a ring page, as compaction and memory hot-remove do.

use std::fmt;
use std::future::Future;

use crate::errno::{EAGAIN, EBUSY, ENOMEM};
use crate::exec::TaskId;
use crate::history::{Access, Obj};
use crate::kernel::{Guard, Kernel, Note, State};
use crate::label::{Arg, Func, LockName, OpKind, PageFlag, PageRole};
use crate::ledger::Holder;
use crate::mm::{PageId, EVENT_WORD};
use crate::objects::InodeId;
use crate::trace::Effect;
use crate::violation::ViolationKind;

/// `MIGRATEPAGE_SUCCESS`.
pub const MIGRATEPAGE_SUCCESS: i32 = 0;

/// `enum migrate_mode`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum MigrateMode {
    /// `MIGRATE_ASYNC`: never blocks on a page lock.
    Async,
    /// `MIGRATE_SYNC_LIGHT`: may block on a page lock once forced.
    SyncLight,
    /// `MIGRATE_SYNC`.
    Sync,
}

impl MigrateMode {
    /// The mode's name in scenarios: `async`, `sync-light` or `sync`.
    pub fn name(self) -> &'static str {
        match self {
            MigrateMode::Async => "async",
            MigrateMode::SyncLight => "sync-light",
            MigrateMode::Sync => "sync",
        }
    }
}

impl fmt::Display for MigrateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Faults injected into one migration.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct MigrateFaults {
    /// The target allocator returns NULL, so `migrate_pages` fails with
    /// `-ENOMEM`.
    pub no_target: bool,
}

/// `struct address_space_operations`, as far as migration needs it: the
/// model supplies `migratepage` for mappings whose `a_ops` is
/// `aio_ctx_aops`.
pub trait AddressSpaceOps {
    /// `a_ops->migratepage(mapping, new, old, mode)`.
    fn migratepage<'k>(
        &'k self,
        k: &'k Kernel,
        mapping: InodeId,
        new: PageId,
        old: PageId,
        mode: MigrateMode,
    ) -> impl Future<Output = i32> + 'k;
}

/// Why a migration request ended without calling `a_ops->migratepage`, or
/// what it ended with.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MigrateResult {
    /// No ring mapping exists, or its tree has no page at the index.
    NoPage,
    /// `isolate_lru_page` failed (the page was not on the LRU).
    NotIsolated,
    /// `migrate_pages` returned this: the number of pages not migrated, or
    /// `-ENOMEM`.
    Migrated(i32),
}

impl State {
    /// The frame a pfn walk meets first among those allocated as
    /// `role[index]`: the first in allocation order that is not free, else
    /// the first (whose `get_page_unless_zero` then fails); `None` if no
    /// such page was ever allocated. Finding a frame reads no shared state:
    /// `pfn_to_page` is arithmetic.
    pub fn frame(&self, role: PageRole, index: u8) -> Option<PageId> {
        let mut frames = self
            .pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.allocated_as == (role, index));
        let first = frames.clone().next();
        let (i, _) = frames.find(|(_, p)| !p.freed).or(first)?;
        Some(PageId {
            id: i as u16,
            role,
            idx: index,
        })
    }
}

impl Kernel {
    /// A migration of the ring page at `index`, as memory hot-remove does
    /// it: `lru_add_drain_all` (every CPU drains its LRU-add pagevec), then
    /// `do_migrate_range` on the page frame.
    pub async fn migrate_ring_page<A: AddressSpaceOps>(
        &self,
        aops: &A,
        index: u32,
        frame: Option<PageRole>,
        mode: MigrateMode,
        faults: MigrateFaults,
    ) -> MigrateResult {
        {
            let _f = self.enter(Func::MigratePrep);
            self.lru_add_drain_all().await;
        }
        self.do_migrate_range(aops, index, frame, mode, faults)
            .await
    }

    /// `do_migrate_range` for one frame: the pfn walk finds it,
    /// `get_page_unless_zero` skips a free one, `isolate_lru_page`,
    /// `put_page`, then `migrate_pages` of the isolated page and
    /// `putback_movable_pages` of what is left. The frame is the ring
    /// mapping's page at `index`, or with `frame`, the one allocated as
    /// `frame[index]` ([`State::frame`]).
    async fn do_migrate_range<A: AddressSpaceOps>(
        &self,
        aops: &A,
        index: u32,
        frame: Option<PageRole>,
        mode: MigrateMode,
        faults: MigrateFaults,
    ) -> MigrateResult {
        let _f = self.enter(Func::DoMigrateRange);
        let page = match frame {
            Some(role) => self.observe(|st| st.frame(role, index as u8)),
            None => self.page_cache_frame(index).await,
        };
        let Some(page) = page else {
            return MigrateResult::NoPage;
        };
        if !self.get_page_unless_zero(page).await {
            return MigrateResult::NoPage;
        }
        let isolated = self.isolate_lru_page(page).await == 0;
        self.put_page(page).await;
        if !isolated {
            return MigrateResult::NotIsolated;
        }
        let mut list = vec![page];
        let rc = self.migrate_pages(aops, &mut list, mode, faults).await;
        if rc != 0 {
            self.putback_movable_pages(&list).await;
        }
        MigrateResult::Migrated(rc)
    }

    /// The frame of the ring mapping's page-cache page at `index`.
    async fn page_cache_frame(&self, index: u32) -> Option<PageId> {
        self.act(
            OpKind::TreeLookup,
            Arg::Page(PageRole::Ring, index as u8),
            Guard::None,
            |st| {
                let m = st.find_ring_inode();
                if let Some(m) = m {
                    st.touch(Obj::TreeSlot(m, index as u8), Access::Read);
                }
                let p = m.and_then(|m| st.tree_slot(m, index));
                (p, Effect::Page(p))
            },
        )
        .await
    }

    /// `putback_movable_pages(list)`: `putback_lru_page` each page left.
    pub async fn putback_movable_pages(&self, list: &[PageId]) {
        let _f = self.enter(Func::PutbackMovablePages);
        for &page in list {
            self.putback_lru_page(page).await;
        }
    }

    /// `migrate_pages(from, get_new_page, ..., mode)`: up to 10 passes while
    /// some page needs a retry; `force` from the third pass on. Returns the
    /// number of pages that failed or still wanted a retry, or `-ENOMEM`.
    pub async fn migrate_pages<A: AddressSpaceOps>(
        &self,
        aops: &A,
        from: &mut Vec<PageId>,
        mode: MigrateMode,
        faults: MigrateFaults,
    ) -> i32 {
        let _f = self.enter(Func::MigratePages);
        let mut retry = 1;
        let mut nr_failed = 0;
        let mut pass = 0;
        while pass < 10 && retry != 0 {
            retry = 0;
            let mut i = 0;
            while i < from.len() {
                let page = from[i];
                let rc = self
                    .unmap_and_move(aops, page, pass > 2, mode, faults)
                    .await;
                match rc {
                    ENOMEM => return ENOMEM,
                    EAGAIN => {
                        retry += 1;
                        i += 1;
                    }
                    MIGRATEPAGE_SUCCESS => {
                        from.remove(i);
                    }
                    _ => {
                        nr_failed += 1;
                        from.remove(i);
                    }
                }
            }
            pass += 1;
        }
        nr_failed + retry
    }

    /// The target allocator: a fresh page, or NULL under the fault.
    async fn get_new_page(&self, page: PageId, faults: MigrateFaults) -> Option<PageId> {
        let _f = self.enter(Func::AllocMigrateTarget);
        self.act(
            OpKind::AllocPage,
            Arg::Page(PageRole::New, page.idx),
            Guard::None,
            |st| {
                if faults.no_target {
                    return (None, Effect::Fault);
                }
                let p = st.alloc_page(PageRole::New, page.idx);
                (Some(p), Effect::Alloc(p))
            },
        )
        .await
    }

    /// `unmap_and_move`: allocate the target; if only the isolation
    /// reference is left, the page was freed under us and counts as
    /// migrated; otherwise `__unmap_and_move`. Unless the result is
    /// `-EAGAIN` the page leaves the list and is put back; the target is
    /// always put back, which frees it when migration failed.
    async fn unmap_and_move<A: AddressSpaceOps>(
        &self,
        aops: &A,
        page: PageId,
        force: bool,
        mode: MigrateMode,
        faults: MigrateFaults,
    ) -> i32 {
        let f = self.enter(Func::UnmapAndMove);
        let Some(newpage) = self.get_new_page(page, faults).await else {
            return f.ret(ENOMEM);
        };
        let rc = if self.page_count(page).await == 1 {
            self.note(|task| Note::GenericMigrate {
                task,
                index: page.idx,
                rc: MIGRATEPAGE_SUCCESS,
            });
            MIGRATEPAGE_SUCCESS
        } else {
            self.unmap_and_move_inner(aops, page, newpage, force, mode)
                .await
        };
        if rc != EAGAIN {
            self.putback_lru_page(page).await;
        }
        self.putback_lru_page(newpage).await;
        f.ret(rc)
    }

    /// `__unmap_and_move`: lock the page (trylock; sleep only when forced
    /// and not async); a page with no mapping skips the unmap; with no PTEs
    /// left, `move_to_new_page`.
    async fn unmap_and_move_inner<A: AddressSpaceOps>(
        &self,
        aops: &A,
        page: PageId,
        newpage: PageId,
        force: bool,
        mode: MigrateMode,
    ) -> i32 {
        let f = self.enter(Func::UnmapAndMoveInner);
        if !self.trylock_page(page).await {
            if !force || mode == MigrateMode::Async {
                return f.ret(EAGAIN);
            }
            self.lock_page(page).await;
        }
        let mut rc = EAGAIN;
        if self.test_page_flag(page, PageFlag::Writeback).await {
            // Ring pages never start writeback; a forced sync migration would
            // wait for it here.
            if mode != MigrateMode::Sync {
                rc = EBUSY;
            }
            self.unlock_page(page).await;
            return f.ret(rc);
        }
        // try_to_unmap has no PTEs to replace (and is skipped when
        // page->mapping is NULL); the page is not mapped.
        let mapped = self.page_mapcount(page).await;
        if mapped == 0 {
            rc = self.move_to_new_page(aops, newpage, page, mode).await;
        }
        self.unlock_page(page).await;
        f.ret(rc)
    }

    /// `move_to_new_page`: lock the target (BUG if that fails), copy index
    /// and mapping to it, and call the mapping's `migratepage` (or the
    /// generic `migrate_page` for a page with no mapping). On failure only
    /// `newpage->mapping` is cleared; on success `page->mapping` is.
    async fn move_to_new_page<A: AddressSpaceOps>(
        &self,
        aops: &A,
        newpage: PageId,
        page: PageId,
        mode: MigrateMode,
    ) -> i32 {
        let f = self.enter(Func::MoveToNewPage);
        let locked = self.trylock_page(newpage).await;
        self.bug_on(!locked, newpage.flag_arg(PageFlag::Locked))
            .await;
        let index = self.page_index(page).await;
        self.set_page_index(newpage, index).await;
        let mapping = self.page_mapping(page).await;
        self.set_page_mapping(newpage, mapping).await;
        let rc = match mapping {
            None => {
                let rc = self.migrate_page(newpage, page, mode).await;
                self.note(|task| Note::GenericMigrate {
                    task,
                    index: page.idx,
                    rc,
                });
                rc
            }
            Some(m) => {
                let rc = aops.migratepage(self, m, newpage, page, mode).await;
                let site = self.take_return_site();
                self.note(|task| Note::Migratepage {
                    task,
                    index: page.idx,
                    rc,
                    site,
                });
                rc
            }
        };
        if rc != MIGRATEPAGE_SUCCESS {
            self.set_page_mapping(newpage, None).await;
        } else {
            self.set_page_mapping(page, None).await;
        }
        self.unlock_page(newpage).await;
        f.ret(rc)
    }

    /// `migrate_page`: the generic path, here only for a page whose mapping
    /// was already cleared by truncation.
    async fn migrate_page(&self, newpage: PageId, page: PageId, mode: MigrateMode) -> i32 {
        let _f = self.enter(Func::MigratePage);
        let wb = self.test_page_flag(page, PageFlag::Writeback).await;
        self.bug_on(wb, page.flag_arg(PageFlag::Writeback)).await;
        let rc = self
            .migrate_page_move_mapping(None, newpage, page, mode, 0)
            .await;
        if rc != MIGRATEPAGE_SUCCESS {
            return rc;
        }
        self.migrate_page_copy(newpage, page).await;
        MIGRATEPAGE_SUCCESS
    }

    /// `migrate_page_move_mapping(mapping, newpage, page, NULL, mode,
    /// extra_count)` of v3.14.
    ///
    /// Expects the isolation reference plus `extra_count`, plus the page
    /// cache's when there is a mapping. Under `tree_lock` it checks the
    /// count and the slot, freezes the count to 0, gives the target the
    /// cache's reference, replaces the slot, and unfreezes the old page
    /// without the cache's reference. Fails only with `-EAGAIN`.
    pub async fn migrate_page_move_mapping(
        &self,
        mapping: Option<InodeId>,
        newpage: PageId,
        page: PageId,
        _mode: MigrateMode,
        extra_count: i32,
    ) -> i32 {
        let f = self.enter(Func::MigratePageMoveMapping);
        let mut expected_count = 1 + extra_count;
        let Some(mapping) = mapping else {
            if self.page_count(page).await != expected_count {
                return f.ret(EAGAIN);
            }
            return f.ret(MIGRATEPAGE_SUCCESS);
        };
        let tree_lock = self.inspect(|st| st.inodes[mapping.0 as usize].mapping.tree_lock);
        self.spin_lock_irq(LockName::TreeLock, tree_lock).await;
        let index = self.page_index(page).await;
        expected_count += 1;
        let ok = self
            .act(OpKind::TreeLookup, page.arg(), Guard::None, |st| {
                st.touch(Obj::TreeSlot(mapping, index as u8), Access::Read);
                st.touch(Obj::PageCount(page.id), Access::Read);
                let slot = st.tree_slot(mapping, index);
                let count = st.page(page).count;
                let ok = count == expected_count && slot == Some(page);
                (ok, Effect::Bool(ok))
            })
            .await;
        if !ok {
            self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
            return f.ret(EAGAIN);
        }
        if !self.page_freeze_refs(page, expected_count).await {
            self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
            return f.ret(EAGAIN);
        }
        self.get_page(newpage).await;
        self.act(OpKind::TreeReplace, newpage.arg(), Guard::None, |st| {
            st.touch(Obj::TreeSlot(mapping, index as u8), Access::Write);
            let m = st.mapping(mapping);
            let held = m.tree[index as usize].replace(newpage);
            let slot = Holder::Tree(mapping, index as u8);
            if let Some(p) = held {
                st.move_ref(p, slot, st.caller());
            }
            st.move_ref(newpage, st.caller(), slot);
            ((), Effect::Page(Some(newpage)))
        })
        .await;
        self.page_unfreeze_refs(page, expected_count - 1).await;
        self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
        f.ret(MIGRATEPAGE_SUCCESS)
    }

    /// `page_freeze_refs(page, count)`: compare-and-swap the count from
    /// `count` to 0.
    pub async fn page_freeze_refs(&self, page: PageId, count: i32) -> bool {
        self.act(OpKind::FreezeRefs, page.arg(), Guard::None, |st| {
            let ok = st.page(page).count == count;
            let access = if ok { Access::Write } else { Access::Read };
            st.touch(Obj::PageCount(page.id), access);
            let pg = st.page(page);
            if ok {
                pg.count = 0;
                pg.frozen = true;
            }
            (ok, Effect::Count(page, st.pages[page.index()].count))
        })
        .await
    }

    /// `page_unfreeze_refs(page, count)`: `VM_BUG_ON(page_count != 0)`, then
    /// set the count. A decrement that hit the frozen page is lost here.
    pub async fn page_unfreeze_refs(&self, page: PageId, count: i32) {
        self.act(OpKind::UnfreezeRefs, page.arg(), Guard::None, |st| {
            st.touch(Obj::PageCount(page.id), Access::Write);
            if st.page(page).count != 0 {
                st.violation(ViolationKind::VmBugOn);
            }
            st.unfreeze_refs(page, count);
            st.page(page).count = count;
            st.page(page).frozen = false;
            ((), Effect::Count(page, count))
        })
        .await
    }

    /// `migrate_page_copy(newpage, page)`: copy the contents, then the
    /// flags the ring pages can carry (Uptodate; Active, test-and-cleared on
    /// the old page; Dirty, moved by `clear_page_dirty_for_io` and
    /// `__set_page_dirty_nobuffers`).
    pub async fn migrate_page_copy(&self, newpage: PageId, page: PageId) {
        let _f = self.enter(Func::MigratePageCopy);
        self.act(OpKind::CopyHighpage, newpage.arg(), Guard::None, |st| {
            st.touch(Obj::PageData(page.id), Access::Write);
            st.touch(Obj::PageData(newpage.id), Access::Write);
            let data = st.page(page).data;
            st.page(newpage).data = data;
            st.page(page).copied_to = Some(newpage);
            ((), Effect::Int(data[EVENT_WORD].into()))
        })
        .await;
        if self.test_page_flag(page, PageFlag::Uptodate).await {
            self.set_page_flag(newpage, PageFlag::Uptodate).await;
        }
        let active = self
            .act(
                OpKind::ClearFlag,
                page.flag_arg(PageFlag::Active),
                Guard::None,
                |st| {
                    st.touch(Obj::PageFlag(page.id, PageFlag::Active), Access::Write);
                    let pg = st.page(page);
                    let was = pg.test(PageFlag::Active);
                    pg.set(PageFlag::Active, false);
                    (was, Effect::Bool(was))
                },
            )
            .await;
        if active {
            self.set_page_flag(newpage, PageFlag::Active).await;
        }
        if self.test_page_flag(page, PageFlag::Dirty).await {
            self.clear_page_flag(page, PageFlag::Dirty).await;
            self.set_page_flag(newpage, PageFlag::Dirty).await;
        }
    }

    /// Records a result for the harness. This is bookkeeping, not a kernel
    /// action, so it is not a scheduling point.
    fn note(&self, note: impl FnOnce(TaskId) -> Note) {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("note outside a task");
        let note = note(task);
        st.gave(&note.code());
        st.notes.push(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// One ring page on the LRU held by the cache and a caller reference,
    /// isolated as a migrator would, and a fresh target page.
    fn isolated_page(k: &Kernel, m: InodeId) -> (PageId, PageId) {
        let got = std::cell::Cell::new(None);
        run_one(k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 0).await.unwrap();
            k.unlock_page(p).await;
            k.lru_add_drain().await;
            assert_eq!(k.isolate_lru_page(p).await, 0);
            got.set(Some(p));
        });
        let p = got.get().unwrap();
        let n = k.st.borrow_mut().alloc_page(PageRole::New, 0);
        (p, n)
    }

    #[test]
    fn move_mapping_freezes_moves_the_cache_ref_and_replaces_the_slot() {
        let (k, m) = kernel_with_mapping();
        let (p, n) = isolated_page(&k, m);
        let rc = std::cell::Cell::new(1);
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            // The caller's reference stands in for aio's: extra_count 1.
            rc.set(
                k.migrate_page_move_mapping(Some(m), n, p, MigrateMode::Sync, 1)
                    .await,
            );
        });
        assert_eq!(rc.get(), MIGRATEPAGE_SUCCESS);
        // P: 3 (caller + cache + iso) frozen, unfrozen to 2 without the cache ref.
        assert_eq!(counts(&k, &[p, n]), [2, 2]);
        assert_eq!(k.inspect(|st| st.tree_slot(m, 0)), Some(n));
        assert_eq!(k.inspect(|st| st.ledger_mismatches()), []);
        let effects: Vec<String> = k
            .trace()
            .iter()
            .filter(|e| e.label.func == Func::MigratePageMoveMapping)
            .map(|e| e.to_string())
            .collect();
        assert!(effects.contains(
            &"A migrate_page_move_mapping:page_freeze_refs(ring[0]) P0._count=0".to_string()
        ));
        assert!(effects.contains(
            &"A migrate_page_move_mapping:page_unfreeze_refs(ring[0]) P0._count=2".to_string()
        ));
    }

    #[test]
    fn move_mapping_refuses_an_unexpected_count_or_slot_and_changes_nothing() {
        let (k, m) = kernel_with_mapping();
        let (p, n) = isolated_page(&k, m);
        let rcs = std::cell::RefCell::new(Vec::new());
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            // Not expecting the caller's reference: 3 != 2.
            let r = k
                .migrate_page_move_mapping(Some(m), n, p, MigrateMode::Sync, 0)
                .await;
            rcs.borrow_mut().push(r);
            // With no mapping only the isolation and extra references count.
            let r = k
                .migrate_page_move_mapping(None, n, p, MigrateMode::Sync, 1)
                .await;
            rcs.borrow_mut().push(r);
            let r = k
                .migrate_page_move_mapping(None, n, p, MigrateMode::Sync, 2)
                .await;
            rcs.borrow_mut().push(r);
            // The right count but the slot holds another page.
            k.st.borrow_mut().inodes[0].mapping.tree[0] = Some(n);
            let r = k
                .migrate_page_move_mapping(Some(m), n, p, MigrateMode::Sync, 1)
                .await;
            rcs.borrow_mut().push(r);
            k.st.borrow_mut().inodes[0].mapping.tree[0] = Some(p);
        });
        assert_eq!(
            rcs.into_inner(),
            [EAGAIN, EAGAIN, MIGRATEPAGE_SUCCESS, EAGAIN]
        );
        assert_eq!(counts(&k, &[p, n]), [3, 1]);
        assert_eq!(k.inspect(|st| st.tree_slot(m, 0)), Some(p));
    }

    #[test]
    fn migrate_page_copy_moves_contents_and_flags_and_later_writes_to_the_old_page_are_lost() {
        let (k, m) = kernel_with_mapping();
        let (p, n) = isolated_page(&k, m);
        {
            let mut st = k.st.borrow_mut();
            st.pages[p.index()].data[EVENT_WORD] = 42;
            st.pages[p.index()].set(PageFlag::Uptodate, true);
            st.pages[p.index()].set(PageFlag::Dirty, true);
        }
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            k.migrate_page_copy(n, p).await;
            k.kmap_write(Some(p), crate::label::Field::RingId, 0, 7)
                .await;
        });
        k.inspect(|st| {
            let (old, new) = (&st.pages[p.index()], &st.pages[n.index()]);
            assert_eq!(new.data[EVENT_WORD], 42);
            assert!(new.test(PageFlag::Uptodate) && new.test(PageFlag::Dirty));
            assert!(
                !old.test(PageFlag::Dirty),
                "dirtiness moves to the new page"
            );
            assert_eq!(old.copied_to, Some(n));
        });
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::LostWrite);
    }

    #[test]
    fn a_put_on_a_frozen_page_oopses_the_putter() {
        let (k, m) = kernel_with_mapping();
        let (p, _) = isolated_page(&k, m);
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            assert!(k.page_freeze_refs(p, 3).await);
            k.put_page(p).await;
            unreachable!("the oops ends the task");
        });
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::PutPageFrozen);
        assert!(v[0]
            .to_string()
            .starts_with("put_page-on-frozen by A at io_setup:put_page(ring[0])"));
    }
}
