//! The page cache: lookups, `find_or_create_page`, insertion and deletion
//! (mm/filemap.c of v3.14).

use crate::errno::EEXIST;
use crate::fs::PAGE_SIZE;
use crate::history::{Access, Obj};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Field, Func, LockName, OpKind, PageFlag, PageRole};
use crate::ledger::Holder;
use crate::mm::PageId;
use crate::objects::InodeId;
use crate::trace::Effect;
use crate::violation::ViolationKind;

impl State {
    /// The page in `mapping`'s tree at `index`, without checks; for oracles
    /// and lookups.
    pub fn tree_slot(&self, mapping: InodeId, index: u32) -> Option<PageId> {
        self.inodes[mapping.0 as usize]
            .mapping
            .tree
            .get(index as usize)
            .copied()
            .flatten()
    }

    /// `page_cache_get_speculative` on a page found in the tree: fails on a
    /// frozen page (the guard of every lookup waits that out).
    fn get_speculative(&mut self, p: PageId) -> bool {
        if self.page(p).count == 0 {
            self.touch(Obj::PageCount(p.id), Access::Read);
            return false;
        }
        self.touch(Obj::PageCount(p.id), Access::Add);
        self.page(p).count += 1;
        self.take_ref(p, self.caller());
        true
    }

    /// `pagevec_lookup(pvec, mapping, start, nr)`: up to `nr` pages at
    /// indices from `start`, in index order, each with a speculative
    /// reference.
    pub fn pagevec_lookup(&mut self, mapping: InodeId, start: u32, nr: usize) -> Vec<PageId> {
        self.touch_tree(mapping, start);
        let found: Vec<PageId> = self.mapping(mapping).tree[..]
            .iter()
            .skip(start as usize)
            .flatten()
            .copied()
            .take(nr)
            .collect();
        found
            .into_iter()
            .filter(|&p| self.get_speculative(p))
            .collect()
    }

    /// Records a read of every slot of `mapping`'s tree from `start` on,
    /// and of where the tree ends, which an insertion past it moves.
    pub fn touch_tree(&mut self, mapping: InodeId, start: u32) {
        let end = self.inodes[mapping.0 as usize].mapping.tree.len();
        for i in start as usize..end {
            self.touch(Obj::TreeSlot(mapping, i as u8), Access::Read);
        }
        self.touch(Obj::TreeEnd(mapping), Access::Read);
    }

    /// [`State::ring_inode`], as an action that reads which inodes are live
    /// and have `aio_ctx_aops`.
    pub fn find_ring_inode(&mut self) -> Option<InodeId> {
        for i in 0..self.inodes.len() {
            let inode = InodeId(i as u8);
            self.touch(Obj::Inode(inode), Access::Read);
            self.touch(Obj::InodeField(inode, Field::AOps), Access::Read);
        }
        self.ring_inode()
    }

    /// The first inode whose mapping uses `aio_ctx_aops`, if one is live: the
    /// ring file a pfn scan can find pages of.
    pub fn ring_inode(&self) -> Option<InodeId> {
        self.inodes
            .iter()
            .position(|i| i.mapping.aio_aops && !i.freed)
            .map(|i| InodeId(i as u8))
    }
}

impl Kernel {
    /// `find_get_page(mapping, index)`: a lockless lookup that returns the
    /// page with a reference, retrying while the page is frozen or replaced.
    pub async fn find_get_page(&self, mapping: InodeId, index: u32) -> Option<PageId> {
        let _f = self.enter(Func::FindGetPage);
        let arg = Arg::Page(PageRole::Ring, index as u8);
        self.act(
            OpKind::GetSpeculative,
            arg,
            Guard::TreeUnfrozen(mapping),
            |st| {
                st.touch(Obj::TreeSlot(mapping, index as u8), Access::Read);
                let p = st.tree_slot(mapping, index);
                let p = p.filter(|&p| st.get_speculative(p));
                (p, Effect::Page(p))
            },
        )
        .await
    }

    /// `find_lock_page(mapping, index)`: `find_get_page`, then `lock_page`;
    /// a page truncated meanwhile is dropped and the lookup repeated.
    pub async fn find_lock_page(&self, mapping: InodeId, index: u32) -> Option<PageId> {
        loop {
            let page = self.find_get_page(mapping, index).await?;
            let _f = self.enter(Func::FindLockPage);
            self.lock_page(page).await;
            if self.page_mapping(page).await != Some(mapping) {
                self.unlock_page(page).await;
                self.put_page(page).await;
                continue;
            }
            return Some(page);
        }
    }

    /// `filemap_fault` for the page at `index` of `mapping`: `find_get_page`
    /// (which waits while the page is frozen), `lock_page_or_retry`, and a
    /// page truncated meanwhile dropped and looked up again; `SIGBUS`
    /// (`None`) past `i_size` or with no page, as the ring's `a_ops` have no
    /// `readpage`. Returns the page locked, with a reference.
    pub async fn filemap_fault(&self, mapping: InodeId, index: u32) -> Option<PageId> {
        let f = self.enter(Func::FilemapFault);
        loop {
            let Some(page) = self.find_get_page(mapping, index).await else {
                return f.ret(None);
            };
            self.lock_page(page).await;
            if self.page_mapping(page).await != Some(mapping) {
                self.unlock_page(page).await;
                self.put_page(page).await;
                continue;
            }
            let size = self.i_size_read(mapping).await.div_ceil(PAGE_SIZE);
            if u64::from(index) >= size {
                self.unlock_page(page).await;
                self.put_page(page).await;
                return f.ret(None);
            }
            return f.ret(Some(page));
        }
    }

    /// `find_or_create_page(mapping, index, gfp)`: returns the page locked,
    /// with the caller's reference, or NULL when allocation fails.
    pub async fn find_or_create_page(&self, mapping: InodeId, index: u32) -> Option<PageId> {
        let f = self.enter(Func::FindOrCreatePage);
        loop {
            if let Some(page) = self.find_lock_page(mapping, index).await {
                return f.ret(Some(page));
            }
            let page = self
                .act(
                    OpKind::AllocPage,
                    Arg::Page(PageRole::Ring, index as u8),
                    Guard::None,
                    |st| {
                        if st.config.faults.page_alloc_fails_at == Some(index as u8) {
                            return (None, Effect::Fault);
                        }
                        let p = st.alloc_page(PageRole::Ring, index as u8);
                        (Some(p), Effect::Alloc(p))
                    },
                )
                .await;
            let Some(page) = page else {
                return f.ret(None);
            };
            let err = self.add_to_page_cache_lru(page, mapping, index).await;
            if err != 0 {
                self.put_page(page).await;
                if err == EEXIST {
                    continue;
                }
                return f.ret(None);
            }
            return f.ret(Some(page));
        }
    }

    /// `add_to_page_cache_lru`: lock the new page, insert it, and put it on
    /// this CPU's LRU-add pagevec.
    pub async fn add_to_page_cache_lru(&self, page: PageId, mapping: InodeId, index: u32) -> i32 {
        self.act(OpKind::SetPageLocked, page.arg(), Guard::None, |st| {
            st.touch(Obj::PageFlag(page.id, PageFlag::Locked), Access::Write);
            st.page(page).set(PageFlag::Locked, true);
            ((), Effect::None)
        })
        .await;
        let err = self.add_to_page_cache_locked(page, mapping, index).await;
        if err != 0 {
            self.clear_page_flag(page, PageFlag::Locked).await;
            return err;
        }
        self.lru_cache_add_file(page).await;
        0
    }

    /// `add_to_page_cache_locked`: take the cache's reference, set mapping
    /// and index, and insert under `tree_lock`.
    pub async fn add_to_page_cache_locked(
        &self,
        page: PageId,
        mapping: InodeId,
        index: u32,
    ) -> i32 {
        let _f = self.enter(Func::AddToPageCacheLocked);
        self.get_page(page).await;
        self.set_page_mapping(page, Some(mapping)).await;
        self.set_page_index(page, index).await;
        let tree_lock = self.inspect(|st| st.inodes[mapping.0 as usize].mapping.tree_lock);
        self.spin_lock_irq(LockName::TreeLock, tree_lock).await;
        let err = self
            .act(OpKind::TreeInsert, page.arg(), Guard::None, |st| {
                let i = index as usize;
                let taken = st.tree_slot(mapping, index).is_some();
                let access = if taken { Access::Read } else { Access::Write };
                st.touch(Obj::TreeSlot(mapping, i as u8), access);
                if !taken {
                    st.touch(Obj::TreeCount(mapping), Access::Write);
                }
                if i >= st.inodes[mapping.0 as usize].mapping.tree.len() {
                    st.touch(Obj::TreeEnd(mapping), Access::Write);
                }
                let m = st.mapping(mapping);
                if m.tree.len() <= i {
                    m.tree.resize(i + 1, None);
                }
                if m.tree[i].is_some() {
                    return (EEXIST, Effect::Int(EEXIST.into()));
                }
                m.tree[i] = Some(page);
                m.nrpages += 1;
                let nrpages = m.nrpages;
                st.move_ref(page, st.caller(), Holder::Tree(mapping, i as u8));
                (0, Effect::Int(nrpages.into()))
            })
            .await;
        if err != 0 {
            self.set_page_mapping(page, None).await;
            self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
            self.put_page(page).await;
            return err;
        }
        self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
        0
    }

    /// `delete_from_page_cache(page)`: `BUG_ON(!PageLocked)`; under
    /// `tree_lock`, remove the slot, clear `page->mapping` (the index is
    /// kept), `nrpages--`, `BUG_ON(page_mapped)`; then drop the cache's
    /// reference.
    pub async fn delete_from_page_cache(&self, page: PageId, mapping: InodeId) {
        let f = self.enter(Func::DeleteFromPageCache);
        let locked = self.test_page_flag(page, PageFlag::Locked).await;
        self.bug_on(!locked, page.flag_arg(PageFlag::Locked)).await;
        let tree_lock = self.inspect(|st| st.inodes[mapping.0 as usize].mapping.tree_lock);
        self.spin_lock_irq(LockName::TreeLock, tree_lock).await;
        self.act(OpKind::TreeDelete, page.arg(), Guard::None, |st| {
            st.touch(Obj::PageIndex(page.id), Access::Read);
            let index = st.page(page).index as usize;
            st.touch(Obj::TreeSlot(mapping, index as u8), Access::Write);
            st.touch(Obj::TreeCount(mapping), Access::Write);
            let m = st.mapping(mapping);
            let held = m.tree.get_mut(index).and_then(Option::take);
            m.nrpages -= 1;
            let nrpages = m.nrpages;
            if let Some(p) = held {
                st.move_ref(p, Holder::Tree(mapping, index as u8), st.caller());
            }
            ((), Effect::Int(nrpages.into()))
        })
        .await;
        self.set_page_mapping(page, None).await;
        let mapped = self.page_mapcount(page).await;
        self.bug_on(mapped != 0, page.arg()).await;
        self.spin_unlock_irq(LockName::TreeLock, tree_lock).await;
        self.put_page(page).await;
        f.ret(())
    }

    /// Another holder's transient reference: `find_get_page` on the ring
    /// mapping, then `put_page`. The migrator sees one reference too many if
    /// it checks the count in between.
    pub async fn transient_reference(&self, index: u32) {
        let _f = self.enter(Func::FindGetPage);
        let mapping = self
            .act(OpKind::TreeLookup, Arg::None, Guard::None, |st| {
                let m = st.find_ring_inode();
                (m, Effect::Int(m.map_or(-1, |m| m.0.into())))
            })
            .await;
        let Some(mapping) = mapping else {
            return;
        };
        if let Some(page) = self.find_get_page(mapping, index).await {
            self.put_page(page).await;
        }
    }
}

impl State {
    /// Oracle O4 as a state check: a page in a mapping's tree whose
    /// `page->mapping` is another mapping (or NULL) can never be truncated.
    pub fn stranded_page(&self, mapping: InodeId) -> Option<PageId> {
        self.inodes[mapping.0 as usize]
            .mapping
            .tree
            .iter()
            .flatten()
            .copied()
            .find(|p| self.pages[p.index()].mapping != Some(mapping))
    }

    /// Records an O4 violation for every live mapping with a stranded page.
    pub fn check_stranded(&mut self) {
        for i in 0..self.inodes.len() {
            let m = InodeId(i as u8);
            if !self.inodes[i].freed && self.stranded_page(m).is_some() {
                self.violation(ViolationKind::TreeMappingMismatch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Faults;
    use crate::testing::*;

    #[test]
    fn find_or_create_page_returns_a_locked_page_held_by_caller_cache_and_pagevec() {
        let (k, m) = kernel_with_mapping();
        let got = std::cell::Cell::new(None);
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            got.set(k.find_or_create_page(m, 0).await);
        });
        let p = got.get().expect("allocated");
        assert_eq!(counts(&k, &[p]), [3]);
        k.inspect(|st| {
            let pg = &st.pages[p.index()];
            assert!(pg.locked());
            assert!(!pg.test(PageFlag::Lru), "still in the per-CPU pagevec");
            assert_eq!(pg.mapping, Some(m));
            assert_eq!(pg.index, 0);
            assert_eq!(st.tree_slot(m, 0), Some(p));
            assert_eq!(st.inodes[0].mapping.nrpages, 1);
            assert_eq!(st.tasks[0].lru_add_pvec, [p]);
        });
    }

    #[test]
    fn find_or_create_page_finds_an_existing_page_and_fails_on_injected_faults() {
        let (k, m) = kernel_with_mapping();
        k.st.borrow_mut().config.faults = Faults {
            page_alloc_fails_at: Some(1),
            ..Faults::default()
        };
        let got = std::cell::RefCell::new(Vec::new());
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 0).await.unwrap();
            k.unlock_page(p).await;
            let r = k.find_or_create_page(m, 0).await;
            got.borrow_mut().push(r);
            let r = k.find_or_create_page(m, 1).await;
            got.borrow_mut().push(r);
        });
        let got = got.into_inner();
        let p = got[0].expect("found");
        assert_eq!(p.id, 0, "the existing page, not a new one");
        assert_eq!(counts(&k, &[p]), [4], "one more caller reference");
        assert_eq!(got[1], None);
        assert_eq!(
            k.inspect(|st| st.pages.len()),
            1,
            "nothing allocated for index 1"
        );
    }

    #[test]
    fn delete_from_page_cache_clears_the_slot_and_mapping_and_drops_the_cache_ref() {
        let (k, m) = kernel_with_mapping();
        let got = std::cell::Cell::new(None);
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 2).await.unwrap();
            k.lru_add_drain().await;
            k.delete_from_page_cache(p, m).await;
            got.set(Some(p));
        });
        let p = got.get().unwrap();
        assert_eq!(counts(&k, &[p]), [1]);
        k.inspect(|st| {
            assert_eq!(st.pages[p.index()].mapping, None);
            assert_eq!(st.pages[p.index()].index, 2, "index is kept");
            assert_eq!(st.tree_slot(m, 2), None);
            assert_eq!(st.inodes[0].mapping.nrpages, 0);
        });
        assert!(k.violations().is_empty());
    }

    #[test]
    fn deleting_an_unlocked_page_is_a_bug() {
        let (k, m) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 0).await.unwrap();
            k.unlock_page(p).await;
            k.delete_from_page_cache(p, m).await;
        });
        let v = k.violations();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, ViolationKind::BugOn);
        assert_eq!(v[0].signature(), "BUG_ON@delete_from_page_cache");
    }
}
