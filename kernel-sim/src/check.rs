//! End-of-run oracles.
//!
//! Checks that must hold at every action (use after free, counts, bad page
//! state, BUG_ON, lost writes, truncate livelock) run inside the actions
//! themselves. The ones here need the whole system at rest, so they run
//! once all tasks have stopped:
//!
//! - O1: a live, published, un-killed kioctx whose ring file is attached has
//!   `ring_pages[i] == tree[i]`, with that page's mapping and index right;
//! - O4: no page sits in a live mapping's tree with a foreign mapping;
//! - O5: every page's count equals the holders the model knows of (tree,
//!   ring_pages, LRU-add pagevecs, isolation), and nothing is left that no
//!   one refers to: pages, kioctxs, files.
//!
//! The refcount and leak audits need every task to have finished normally:
//! a task that oopsed or hung still holds what it held.

use crate::exec::TaskId;
use crate::kernel::{Kernel, State};
use crate::label::{Arg, Func, Label, OpKind};
use crate::mm::PageId;
use crate::objects::CtxId;
use crate::violation::{Object, Violation, ViolationKind};

impl Kernel {
    /// Runs the end-of-run oracles and returns every violation of the run.
    ///
    /// First each CPU's LRU-add pagevec is drained, as the kernel eventually
    /// does, so that pages whose last reference sat there are freed (and
    /// checked by `free_pages_check`).
    pub fn finish(&self) -> Vec<Violation> {
        let mut st = self.st.borrow_mut();
        st.current = None;
        st.cur_label = Some(Label {
            func: Func::LruAddDrainAll,
            op: OpKind::PagevecLruAdd,
            arg: Arg::None,
        });
        for cpu in 0..st.tasks.len() {
            st.drain_cpu(TaskId(cpu as u8));
        }
        st.cur_label = None;
        st.reconcile_ledger();
        st.check_stranded();
        st.check_ring_pages();
        if st.all_finished() {
            st.audit_refcounts();
            st.audit_objects();
        }
        st.violations.clone()
    }
}

impl State {
    fn live_ctxs(&self) -> impl Iterator<Item = CtxId> + '_ {
        (0..self.ctxs.len())
            .map(|i| CtxId(i as u8))
            .filter(|c| !self.ctxs[c.0 as usize].freed)
    }

    /// O1.
    fn check_ring_pages(&mut self) {
        let ctxs: Vec<CtxId> = self.live_ctxs().collect();
        for c in ctxs {
            let ctx = &self.ctxs[c.0 as usize];
            let (Some(file), true, false) = (ctx.aio_ring_file, ctx.published, ctx.dead) else {
                continue;
            };
            let inode = self.files[file.0 as usize].inode;
            let ring = self.ring_pages_of(c);
            let bad = ring.iter().enumerate().any(|(i, &p)| {
                let tree = self.tree_slot(inode, i as u32);
                match p {
                    None => true,
                    Some(p) => {
                        let pg = &self.pages[p.index()];
                        tree != Some(p) || pg.mapping != Some(inode) || pg.index != i as u32
                    }
                }
            });
            if bad {
                self.violation(ViolationKind::RingMismatch);
            }
        }
    }

    /// O5, for pages: count equals the known holders.
    fn audit_refcounts(&mut self) {
        let mut holders = vec![0i32; self.pages.len()];
        for inode in &self.inodes {
            if inode.freed {
                continue;
            }
            for p in inode.mapping.tree.iter().flatten() {
                holders[p.index()] += 1;
            }
        }
        let ctxs: Vec<CtxId> = self.live_ctxs().collect();
        for c in ctxs {
            for p in self.ring_pages_of(c).into_iter().flatten() {
                holders[p.index()] += 1;
            }
        }
        for t in &self.tasks {
            for p in &t.lru_add_pvec {
                holders[p.index()] += 1;
            }
        }
        for (i, pg) in self.pages.iter().enumerate() {
            if pg.isolated {
                holders[i] += 1;
            }
        }
        let mut found = Vec::new();
        for (i, (pg, &held)) in self.pages.iter().zip(&holders).enumerate() {
            if pg.freed || pg.leaked {
                continue;
            }
            if held == 0 {
                let (role, idx) = pg.allocated_as;
                let p = PageId {
                    id: i as u16,
                    role,
                    idx,
                };
                let leaked = self.ledger.leaked(p, pg.count);
                found.push((ViolationKind::PageLeak(role, idx), Some(leaked)));
            } else if pg.count != held {
                found.push((ViolationKind::RefcountMismatch, None));
            }
        }
        for (kind, leaked) in found {
            self.violation(kind);
            if let Some(v) = self.violations.last_mut() {
                v.leaked = leaked;
            }
        }
    }

    /// O5, for kioctxs and files: a kioctx that never reached user space,
    /// or was killed, must have been freed; a file's count equals its
    /// holders (the ring's kioctx and user mappings).
    fn audit_objects(&mut self) {
        let ctxs: Vec<CtxId> = self.live_ctxs().collect();
        for c in &ctxs {
            let ctx = &self.ctxs[c.0 as usize];
            if !ctx.published || ctx.dead {
                self.violation(ViolationKind::Leak(Object::Kioctx));
            }
        }
        let mut holders = vec![0i32; self.files.len()];
        for c in &ctxs {
            if let Some(f) = self.ctxs[c.0 as usize].aio_ring_file {
                holders[f.0 as usize] += 1;
            }
        }
        for v in &self.mm.vmas {
            holders[v.file.0 as usize] += 1;
        }
        let mut found = Vec::new();
        for (f, &held) in self.files.iter().zip(&holders) {
            if f.freed {
                continue;
            }
            if held == 0 {
                found.push(ViolationKind::Leak(Object::File));
            } else if f.f_count != held {
                found.push(ViolationKind::RefcountMismatch);
            }
        }
        for kind in found {
            self.violation(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{Field, PageRole};
    use crate::objects::RingPagesPtr;
    use crate::testing::*;

    fn kinds(v: &[Violation]) -> Vec<ViolationKind> {
        v.iter().map(|v| v.kind).collect()
    }

    /// A published kioctx with a one-page ring, built by one task.
    fn live_ring(k: &Kernel) -> (CtxId, crate::mm::PageId) {
        let got = std::cell::Cell::new(None);
        run_one(k, async {
            let _f = k.enter(Func::AioSetupRing);
            let ctx = k.kmem_cache_zalloc_kioctx().await;
            let inode = k.alloc_anon_inode().await;
            let file = k.alloc_file(inode).await;
            k.write_aio_ring_file(Some(ctx), Some(file)).await;
            k.write_ring_pages_ptr(Some(ctx), RingPagesPtr::Internal)
                .await;
            let p = k.find_or_create_page(inode, 0).await.unwrap();
            k.unlock_page(p).await;
            k.write_ring_page(Some(ctx), 0, Some(p)).await;
            k.write_nr_pages(Some(ctx), 1).await;
            let base = k.do_mmap_pgoff(file, crate::fs::PAGE_SIZE).await.unwrap();
            k.ctx_write(Some(ctx), Field::UserId, base, |c, v| c.user_id = v)
                .await;
            k.install_ioctx_table(1).await;
            k.write_ioctx_table_slot(0, Some(ctx)).await;
            k.put_user_ctx_id(ctx).await;
            k.lru_add_drain().await;
            got.set(Some((ctx, p)));
        });
        got.get().unwrap()
    }

    #[test]
    fn a_consistent_live_ring_passes_every_audit() {
        let (k, _) = kernel_with_mapping();
        live_ring(&k);
        assert_eq!(kinds(&k.finish()), []);
        assert_eq!(k.inspect(|st| st.ledger_mismatches()), []);
    }

    #[test]
    fn o1_reports_ring_pages_that_disagree_with_the_page_cache() {
        let (k, _) = kernel_with_mapping();
        let (ctx, _) = live_ring(&k);
        let stray = k.st.borrow_mut().alloc_page(PageRole::New, 0);
        k.st.borrow_mut().ctxs[ctx.0 as usize].internal_pages[0] = Some(stray);
        let v = kinds(&k.finish());
        assert!(v.contains(&ViolationKind::RingMismatch), "{v:?}");
    }

    #[test]
    fn o5_reports_an_extra_reference_and_an_unreferenced_page() {
        let (k, _) = kernel_with_mapping();
        let (_, p) = live_ring(&k);
        k.st.borrow_mut().pages[p.index()].count += 1;
        let orphan = k.st.borrow_mut().alloc_page(PageRole::New, 0);
        let v = k.finish();
        assert_eq!(
            kinds(&v),
            [
                ViolationKind::RefcountMismatch,
                ViolationKind::PageLeak(PageRole::New, 0)
            ]
        );
        assert_eq!(k.inspect(|st| st.pages[orphan.index()].count), 1);
    }

    #[test]
    fn o5_reports_a_kioctx_freed_with_pages_in_its_ring_mapping() {
        let (k, _) = kernel_with_mapping();
        let (ctx, _) = live_ring(&k);
        run_one(&k, async {
            let _f = k.enter(Func::FreeIoctx);
            k.kmem_cache_free_kioctx(ctx).await;
        });
        let v = kinds(&k.finish());
        assert!(v.contains(&ViolationKind::NrpagesAtFree), "{v:?}");
    }

    #[test]
    fn lookup_ioctx_at_rest_finds_a_live_ring_by_the_id_in_its_page_0() {
        let (k, _) = kernel_with_mapping();
        let (ctx, p) = live_ring(&k);
        let user_id = k.inspect(|st| st.ctxs[ctx.0 as usize].user_id);
        assert_eq!(k.inspect(|st| st.lookup_ioctx_at_rest(user_id)), Some(ctx));
        k.st.borrow_mut().pages[p.index()].data[0] = 1;
        assert_eq!(k.inspect(|st| st.lookup_ioctx_at_rest(user_id)), None);
        assert_eq!(kinds(&k.finish()), []);
    }

    #[test]
    fn a_kioctx_that_never_reached_user_space_must_be_freed() {
        let (k, _) = kernel_with_mapping();
        run_one(&k, async {
            let _f = k.enter(Func::IoctxAlloc);
            k.kmem_cache_zalloc_kioctx().await;
        });
        assert_eq!(kinds(&k.finish()), [ViolationKind::Leak(Object::Kioctx)]);
    }
}
