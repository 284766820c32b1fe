//! Truncation (mm/truncate.c of v3.14): `truncate_setsize` down to
//! `truncate_inode_pages_range` with its two passes.
//!
//! User PTEs of the ring are never created in scenarios (nothing touches
//! the mapping from user space), so `unmap_mapping_range` has nothing to
//! zap and is not modelled.

use crate::errno::EIO;
use crate::history::{Access, Obj};
use crate::kernel::{Guard, Kernel, Status};
use crate::label::{Arg, Field, Func, OpKind, PageFlag};
use crate::mm::{PageId, PAGEVEC_SIZE};
use crate::objects::InodeId;
use crate::trace::Effect;
use crate::violation::ViolationKind;

impl Kernel {
    /// `truncate_setsize(inode, newsize)`: `i_size_write`, then
    /// `truncate_pagecache`, which truncates every page from `newsize` on.
    pub async fn truncate_setsize(&self, inode: InodeId, newsize: u64) {
        let _f = self.enter(Func::TruncateSetsize);
        self.act(
            OpKind::Write,
            Arg::Field(Field::ISize, None),
            Guard::None,
            |st| {
                st.touch(Obj::InodeField(inode, Field::ISize), Access::Write);
                st.inode(inode).i_size = newsize;
                ((), Effect::Int(newsize as i64))
            },
        )
        .await;
        self.truncate_inode_pages_range(inode, newsize.div_ceil(4096) as u32)
            .await;
    }

    /// Loads `mapping->nrpages`.
    pub async fn mapping_nrpages(&self, mapping: InodeId) -> u32 {
        let arg = Arg::Field(Field::NrPagesMapping, None);
        self.act(OpKind::Read, arg, Guard::None, |st| {
            st.touch(Obj::TreeCount(mapping), Access::Read);
            let n = st.mapping(mapping).nrpages;
            (n, Effect::Int(n.into()))
        })
        .await
    }

    /// `pagevec_lookup`: up to 14 pages from `index`, with references.
    async fn pagevec_lookup(&self, mapping: InodeId, index: u32) -> Vec<PageId> {
        let arg = Arg::Field(Field::PageTree, None);
        self.act(
            OpKind::PagevecLookup,
            arg,
            Guard::TreeUnfrozen(mapping),
            |st| {
                let pvec = st.pagevec_lookup(mapping, index, PAGEVEC_SIZE);
                let n = pvec.len() as i64;
                (pvec, Effect::Int(n))
            },
        )
        .await
    }

    /// `pagevec_release`: `lru_add_drain()` of this CPU, then drop each
    /// lookup reference.
    async fn pagevec_release(&self, pvec: &[PageId]) {
        self.lru_add_drain().await;
        for &p in pvec {
            self.act(OpKind::PutPage, p.arg(), Guard::None, |st| {
                ((), st.release_page(p, st.caller()))
            })
            .await;
        }
    }

    /// `truncate_inode_pages_range(mapping, lstart, -1)` for a page-aligned
    /// `lstart` (here given as the first page index to remove).
    ///
    /// Pass 1 trylocks each page and skips those it cannot lock. Pass 2
    /// sleeps on each page lock and rescans from `start` until a lookup
    /// from `start` finds nothing; it ignores `truncate_inode_page`'s
    /// `-EIO`. A page left in the tree with a foreign `page->mapping`
    /// therefore makes pass 2 spin forever. The model detects that state
    /// (oracle O4) at a rescan that made no progress, reports a livelock
    /// and stops the task, instead of spinning out the step budget.
    pub async fn truncate_inode_pages_range(&self, mapping: InodeId, start: u32) {
        let f = self.enter(Func::TruncateInodePagesRange);
        self.truncate_passes(mapping, start).await;
        f.ret(())
    }

    /// The body of [`Kernel::truncate_inode_pages_range`], in its frame.
    async fn truncate_passes(&self, mapping: InodeId, start: u32) {
        let nrpages = self.mapping_nrpages(mapping).await;
        if nrpages == 0 {
            return;
        }

        let mut index = start;
        loop {
            let pvec = self.pagevec_lookup(mapping, index).await;
            if pvec.is_empty() {
                break;
            }
            for &page in &pvec {
                index = self.page_index(page).await;
                if !self.trylock_page(page).await {
                    continue;
                }
                if self.test_page_flag(page, PageFlag::Writeback).await {
                    self.unlock_page(page).await;
                    continue;
                }
                self.truncate_inode_page(mapping, page).await;
                self.unlock_page(page).await;
            }
            self.pagevec_release(&pvec).await;
            index += 1;
        }

        index = start;
        let mut progress = false;
        loop {
            let pvec = self.pagevec_lookup(mapping, index).await;
            if pvec.is_empty() {
                if index == start {
                    break;
                }
                index = start;
                if !progress && self.stranded(mapping).await {
                    return;
                }
                progress = false;
                continue;
            }
            for &page in &pvec {
                index = self.page_index(page).await;
                self.lock_page(page).await;
                // wait_on_page_writeback: ring pages are never under writeback.
                if self.truncate_inode_page(mapping, page).await == 0 {
                    progress = true;
                }
                self.unlock_page(page).await;
            }
            self.pagevec_release(&pvec).await;
            index += 1;
        }
    }

    /// The livelock check at a rescan: whether a page stranded in the tree
    /// (O4) means pass 2 can never finish. Reports it and ends the task.
    async fn stranded(&self, mapping: InodeId) -> bool {
        let arg = Arg::Field(Field::PageTree, None);
        self.act(OpKind::TreeLookup, arg, Guard::None, |st| {
            st.touch_tree(mapping, 0);
            let pages: Vec<PageId> = st.inodes[mapping.0 as usize]
                .mapping
                .tree
                .iter()
                .flatten()
                .copied()
                .collect();
            for p in pages {
                st.touch(Obj::PageMapping(p.id), Access::Read);
            }
            let stranded = st.stranded_page(mapping);
            if stranded.is_some() {
                st.violation(ViolationKind::TruncateLivelock);
                st.end_current(Status::Hung);
            }
            (stranded.is_some(), Effect::Page(stranded))
        })
        .await
    }

    /// `truncate_inode_page(mapping, page)` and `truncate_complete_page`:
    /// `-EIO` if `page->mapping` is not `mapping`; otherwise
    /// `cancel_dirty_page` and `delete_from_page_cache`.
    pub async fn truncate_inode_page(&self, mapping: InodeId, page: PageId) -> i32 {
        let _f = self.enter(Func::TruncateInodePage);
        if self.page_mapping(page).await != Some(mapping) {
            return EIO;
        }
        self.clear_page_flag(page, PageFlag::Dirty).await;
        self.delete_from_page_cache(page, mapping).await;
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{TaskFuture, TaskId};
    use crate::kernel::Status;
    use crate::segments::{LabelPattern, Segment, Segments};
    use crate::testing::*;

    /// Three unlocked pages on the LRU, each held by the cache and a caller
    /// reference.
    fn three_pages(k: &Kernel, m: InodeId) -> Vec<PageId> {
        let pages = std::cell::RefCell::new(Vec::new());
        run_one(k, async {
            let _f = k.enter(TEST_FUNC);
            for i in 0..3 {
                let p = k.find_or_create_page(m, i).await.unwrap();
                k.unlock_page(p).await;
                pages.borrow_mut().push(p);
            }
            k.lru_add_drain().await;
        });
        pages.into_inner()
    }

    #[test]
    fn truncate_removes_every_page_and_drops_only_the_cache_refs() {
        let (k, m) = kernel_with_mapping();
        let pages = three_pages(&k, m);
        assert_eq!(counts(&k, &pages), [2, 2, 2]);
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            k.truncate_setsize(m, 0).await;
        });
        assert_eq!(counts(&k, &pages), [1, 1, 1]);
        k.inspect(|st| {
            assert_eq!(st.inodes[0].mapping.nrpages, 0);
            assert_eq!(st.inodes[0].i_size, 0);
            assert!(pages.iter().all(|p| st.pages[p.index()].mapping.is_none()));
            assert!(pages
                .iter()
                .all(|p| !st.pages[p.index()].test(PageFlag::Dirty)));
        });
        assert!(k.violations().is_empty());
    }

    #[test]
    fn pass_one_skips_a_locked_page_and_pass_two_sleeps_on_it() {
        let (k, m) = kernel_with_mapping();
        let pages = three_pages(&k, m);
        let p1 = pages[1];
        let holder = async {
            let _f = k.enter(TEST_FUNC);
            k.lock_page(p1).await;
            k.smp_wmb().await;
            k.unlock_page(p1).await;
        };
        let truncater = async {
            let _f = k.enter(TEST_FUNC);
            k.truncate_inode_pages_range(m, 0).await;
        };
        let tasks: Vec<TaskFuture> = vec![Box::pin(holder), Box::pin(truncater)];
        // A locks page 1; B truncates until it sleeps; then A unlocks.
        let wmb = LabelPattern::parse("io_setup:smp_wmb").unwrap();
        let mut sched = Segments::new(vec![
            Segment {
                task: TaskId(0),
                until: Some((wmb, 1)),
            },
            Segment {
                task: TaskId(1),
                until: None,
            },
        ]);
        run_many(&k, tasks, &mut sched);
        let trace = lines(&k);
        let at = |line: &str| {
            trace
                .iter()
                .rposition(|l| l == line)
                .unwrap_or_else(|| panic!("no `{line}` in {trace:#?}"))
        };
        let skipped = at("B truncate_inode_pages_range:trylock_page(ring[1]) = false");
        let released = at("A io_setup:unlock_page(ring[1])");
        let slept = at("B truncate_inode_pages_range:lock_page(ring[1])");
        assert!(skipped < released && released < slept, "{trace:#?}");
        assert_eq!(k.inspect(|st| st.inodes[0].mapping.nrpages), 0);
        assert!(k.violations().is_empty());
    }

    #[test]
    fn a_stranded_page_is_reported_as_a_livelock_and_the_task_hangs() {
        let (k, m) = kernel_with_mapping();
        let pages = three_pages(&k, m);
        k.st.borrow_mut().pages[pages[2].index()].mapping = None;
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            k.truncate_inode_pages_range(m, 0).await;
        });
        let v = k.violations();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].kind, ViolationKind::TruncateLivelock);
        assert_eq!(k.inspect(|st| st.tasks[0].status), Status::Hung);
        assert_eq!(k.inspect(|st| st.inodes[0].mapping.nrpages), 1);
    }
}
