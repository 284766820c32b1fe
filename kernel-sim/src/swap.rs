//! The LRU: per-CPU LRU-add pagevecs, their drain, isolation and putback
//! (mm/swap.c and mm/vmscan.c of v3.14).
//!
//! Every task runs on its own CPU and owns one `lru_add_pvec`. A page added
//! to it holds one extra reference and has `PG_lru` clear, so it cannot be
//! isolated until the pagevec is drained.

use crate::errno::EBUSY;
use crate::exec::TaskId;
use crate::history::{Access, Obj};
use crate::kernel::{Guard, Kernel, State};
use crate::label::{Arg, Func, OpKind, PageFlag};
use crate::ledger::Holder;
use crate::mm::{PageId, PAGEVEC_SIZE};
use crate::trace::Effect;

impl State {
    /// `__pagevec_lru_add` on `cpu`'s pagevec, done at once: under
    /// `lru_lock` each page gets `PG_lru`, then `release_pages` drops the
    /// pagevec's references. Returns how many pages it drained.
    pub fn drain_cpu(&mut self, cpu: TaskId) -> usize {
        self.touch(Obj::Pagevec(cpu), Access::Write);
        let pvec = std::mem::take(&mut self.tasks[cpu.index()].lru_add_pvec);
        for &p in &pvec {
            self.touch(Obj::PageFlag(p.id, PageFlag::Lru), Access::Write);
            if self.page(p).test(PageFlag::Lru) {
                self.violation(crate::violation::ViolationKind::VmBugOn);
            }
            self.page(p).set(PageFlag::Lru, true);
        }
        for &p in &pvec {
            self.release_page(p, Holder::Pagevec(cpu));
        }
        let n = pvec.len();
        let mut pvec = pvec;
        pvec.clear();
        self.tasks[cpu.index()].lru_add_pvec = pvec;
        n
    }

    /// One page of `release_pages`: drop `holder`'s reference; a page that
    /// reaches zero also loses `PG_active` before it is freed.
    pub fn release_page(&mut self, p: PageId, holder: Holder) -> Effect {
        if self.page(p).count == 1 {
            self.touch(Obj::PageFlag(p.id, PageFlag::Active), Access::Write);
            self.page(p).set(PageFlag::Active, false);
        }
        self.put_page_of(p, holder)
    }
}

impl Kernel {
    /// `__lru_cache_add(page)` on the current CPU: take a reference; if the
    /// pagevec is full, drain it first; then add the page. One action, as
    /// `get_cpu_var` keeps the CPU's pagevec to itself.
    pub async fn lru_cache_add(&self, page: PageId) {
        let _f = self.enter(Func::LruCacheAdd);
        self.act(OpKind::PagevecAdd, page.arg(), Guard::None, |st| {
            let effect = st.get_page(page);
            let cpu = st.current.expect("lru_cache_add outside a task");
            st.touch(Obj::Pagevec(cpu), Access::Write);
            if st.tasks[cpu.index()].lru_add_pvec.len() == PAGEVEC_SIZE {
                st.drain_cpu(cpu);
            }
            st.tasks[cpu.index()].lru_add_pvec.push(page);
            st.move_ref(page, st.caller(), Holder::Pagevec(cpu));
            ((), effect)
        })
        .await
    }

    /// `lru_cache_add_file(page)`: `ClearPageActive`, then `__lru_cache_add`.
    pub async fn lru_cache_add_file(&self, page: PageId) {
        self.clear_page_flag(page, PageFlag::Active).await;
        self.lru_cache_add(page).await;
    }

    /// `lru_add_drain()`: drain the current CPU's LRU-add pagevec.
    pub async fn lru_add_drain(&self) {
        self.act(OpKind::PagevecLruAdd, Arg::None, Guard::None, |st| {
            let cpu = st.current.expect("lru_add_drain outside a task");
            let n = st.drain_cpu(cpu);
            ((), Effect::Int(n as i64))
        })
        .await
    }

    /// `lru_add_drain_all()`: every CPU drains its LRU-add pagevec, and the
    /// caller waits for all of them. Each CPU's drain is one action.
    pub async fn lru_add_drain_all(&self) {
        let f = self.enter(Func::LruAddDrainAll);
        let cpus = self.inspect(|st| st.tasks.len());
        for cpu in 0..cpus {
            self.act(OpKind::PagevecLruAdd, Arg::None, Guard::None, |st| {
                let n = st.drain_cpu(TaskId(cpu as u8));
                ((), Effect::Int(n as i64))
            })
            .await;
        }
        f.ret(())
    }

    /// `isolate_lru_page(page)`: under `lru_lock`, if `PG_lru` is set, take a
    /// reference and clear it. Returns 0, or `-EBUSY`.
    pub async fn isolate_lru_page(&self, page: PageId) -> i32 {
        let _f = self.enter(Func::IsolateLruPage);
        self.act(
            OpKind::ClearFlag,
            page.flag_arg(PageFlag::Lru),
            Guard::None,
            |st| {
                st.touch(Obj::PageFlag(page.id, PageFlag::Lru), Access::Write);
                if st.page(page).count == 0 {
                    st.touch(Obj::PageCount(page.id), Access::Read);
                    st.violation(crate::violation::ViolationKind::VmBugOn);
                    return (EBUSY, Effect::Int(EBUSY.into()));
                }
                if !st.page(page).test(PageFlag::Lru) {
                    return (EBUSY, Effect::Int(EBUSY.into()));
                }
                let effect = st.get_page(page);
                st.move_ref(page, st.caller(), Holder::Isolation);
                let pg = st.page(page);
                pg.set(PageFlag::Lru, false);
                pg.isolated = true;
                (0, effect)
            },
        )
        .await
    }

    /// `putback_lru_page(page)`: `ClearPageUnevictable`, `lru_cache_add`
    /// (+1 into this CPU's pagevec), then `put_page` of the isolation
    /// reference.
    pub async fn putback_lru_page(&self, page: PageId) {
        let f = self.enter(Func::PutbackLruPage);
        self.clear_page_flag(page, PageFlag::Unevictable).await;
        self.lru_cache_add(page).await;
        self.act(OpKind::PutPage, page.arg(), Guard::None, |st| {
            let holder = if st.pages[page.index()].isolated {
                Holder::Isolation
            } else {
                st.caller()
            };
            st.page(page).isolated = false;
            ((), st.put_page_of(page, holder))
        })
        .await;
        f.ret(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn drain_isolate_and_putback_arithmetic() {
        let (k, m) = kernel_with_mapping();
        let got = std::cell::Cell::new((None, 0, 0));
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 0).await.unwrap();
            k.unlock_page(p).await;
            let busy = k.isolate_lru_page(p).await;
            k.lru_add_drain().await;
            let ok = k.isolate_lru_page(p).await;
            got.set((Some(p), busy, ok));
        });
        let (p, busy, ok) = got.get();
        let p = p.unwrap();
        assert_eq!(busy, EBUSY, "not on the LRU while in the pagevec");
        assert_eq!(ok, 0);
        assert_eq!(counts(&k, &[p]), [3], "caller + cache + isolation");
        k.inspect(|st| {
            let pg = &st.pages[p.index()];
            assert!(!pg.test(PageFlag::Lru) && pg.isolated);
        });

        let k2 = k;
        run_one(&k2, async {
            let _f = k2.enter(TEST_FUNC);
            k2.putback_lru_page(p).await;
        });
        assert_eq!(counts(&k2, &[p]), [3], "pagevec +1, isolation -1");
        let holders = |k: &Kernel| {
            k.inspect(|st| {
                st.ledger
                    .of(p)
                    .unwrap()
                    .iter()
                    .map(|r| r.holder)
                    .collect::<Vec<_>>()
            })
        };
        let (a, tree) = (Holder::Task(TaskId(0)), Holder::Tree(m, 0));
        assert_eq!(holders(&k2), [a, tree, Holder::Pagevec(TaskId(0))]);
        k2.finish();
        assert_eq!(counts(&k2, &[p]), [2]);
        assert_eq!(holders(&k2), [a, tree]);
        assert_eq!(k2.inspect(|st| st.ledger_mismatches()), []);
        assert!(k2.inspect(|st| st.pages[p.index()].test(PageFlag::Lru)));
    }

    #[test]
    fn the_fifteenth_add_drains_the_first_fourteen_first() {
        let (k, m) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            for i in 0..15 {
                let p = k.find_or_create_page(m, i).await.unwrap();
                k.unlock_page(p).await;
            }
        });
        k.inspect(|st| {
            let pvec = &st.tasks[0].lru_add_pvec;
            assert_eq!(pvec.len(), 1);
            assert_eq!(pvec[0].idx, 14);
            for p in &st.pages[..14] {
                assert_eq!(p.count, 2);
                assert!(p.test(PageFlag::Lru));
            }
            assert_eq!(st.pages[14].count, 3);
        });
    }

    #[test]
    fn a_page_whose_last_reference_is_the_pagevec_is_freed_by_the_drain() {
        let (k, m) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(TEST_FUNC);
            let p = k.find_or_create_page(m, 0).await.unwrap();
            k.delete_from_page_cache(p, m).await;
            k.unlock_page(p).await;
            k.put_page(p).await;
            k.lru_add_drain().await;
        });
        k.inspect(|st| {
            assert!(st.pages[0].freed);
            assert!(!st.pages[0].test(PageFlag::Lru));
        });
        assert!(k.violations().is_empty());
    }
}
