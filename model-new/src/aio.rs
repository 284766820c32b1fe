//! fs/aio.c: the ring-page code, one Rust function per C function, in the
//! C's order of statements. Every access to shared kernel state is a
//! scheduling point of kernel-sim.

use kernel_sim::errno::{EAGAIN, EINVAL, EIOCBQUEUED, ENOMEM};
use kernel_sim::fs::PAGE_SIZE;
use kernel_sim::migrate::MIGRATEPAGE_SUCCESS;
use kernel_sim::mm::TAIL_WORD;
use kernel_sim::objects::{Kiocb, PercpuRef, AIO_MAX_NR, AIO_RING_PAGES, NUM_POSSIBLE_CPUS};
use kernel_sim::{
    Arg, CtxId, Field, FileId, Func, InodeId, Kernel, LockName, MigrateMode, PageFlag, PageId,
    ReturnSite, RingPagesPtr,
};

/// `AIO_RING_MAGIC`.
pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// `AIO_RING_COMPAT_FEATURES`.
pub const AIO_RING_COMPAT_FEATURES: u32 = 1;
/// `AIO_RING_INCOMPAT_FEATURES`.
pub const AIO_RING_INCOMPAT_FEATURES: u32 = 0;
/// `sizeof(struct aio_ring)`.
const AIO_RING_SIZE: u64 = 32;
/// `sizeof(struct io_event)`.
const IO_EVENT_SIZE: u64 = 32;
/// `AIO_EVENTS_PER_PAGE`.
const AIO_EVENTS_PER_PAGE: u32 = (PAGE_SIZE / IO_EVENT_SIZE) as u32;
/// `AIO_EVENTS_OFFSET`: the header takes the first event slots.
const AIO_EVENTS_OFFSET: u32 = (AIO_RING_SIZE / IO_EVENT_SIZE) as u32;

/// `aio_private_file(ctx, nr_pages)`: an anonymous inode on the aio
/// pseudo-fs whose mapping points back at the kioctx, and a file on it.
pub async fn aio_private_file(k: &Kernel, ctx: CtxId, nr_pages: i64) -> FileId {
    let _f = k.enter(Func::AioPrivateFile);
    let inode = k.alloc_anon_inode().await;
    k.set_aio_aops(inode).await;
    k.write_private_data(inode, Some(ctx)).await;
    k.set_i_size(inode, PAGE_SIZE * nr_pages as u64).await;
    k.alloc_file(inode).await
}

/// `put_aio_ring_file(ctx)`: truncate the ring file, detach it from the
/// kioctx, and drop the kioctx's reference to it.
pub async fn put_aio_ring_file(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::PutAioRingFile);
    let aio_ring_file = k.read_aio_ring_file(Some(ctx)).await;
    if let Some(aio_ring_file) = aio_ring_file {
        let inode = k.file_inode(aio_ring_file);
        k.truncate_setsize(inode, 0).await;

        k.write_private_data(inode, None).await;
        k.write_aio_ring_file(Some(ctx), None).await;

        k.fput(aio_ring_file).await;
    }
}

/// `aio_free_ring(ctx)`: drop the kioctx's reference on every ring page,
/// release the ring file, and free a kcalloc'd `ring_pages` array.
pub async fn aio_free_ring(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::AioFreeRing);
    let mut i = 0;

    put_aio_ring_file(k, ctx).await;

    while (i as i64) < k.read_nr_pages(Some(ctx)).await {
        let page = k.read_ring_page(Some(ctx), i).await;
        let Some(page) = page else {
            i += 1;
            continue;
        };
        k.write_ring_page(Some(ctx), i, None).await;
        k.put_page(page).await;
        i += 1;
    }

    let ring_pages = k.read_ring_pages_ptr(Some(ctx)).await;
    if ring_pages != RingPagesPtr::Null && ring_pages != RingPagesPtr::Internal {
        k.kfree_ring_pages(ring_pages).await;
        k.write_ring_pages_ptr(Some(ctx), RingPagesPtr::Null).await;
    }
}

/// `aio_migratepage(mapping, new, old, mode)`: `a_ops->migratepage` of the
/// ring mapping, called with both pages locked.
pub async fn aio_migratepage(
    k: &Kernel,
    mapping: InodeId,
    new: PageId,
    old: PageId,
    mode: MigrateMode,
) -> i32 {
    let _f = k.enter(Func::AioMigratepage);

    // The old page is locked, so if it still has its mapping it has not been
    // truncated, and the mapping and its private_data are all valid.
    let ctx = k.read_private_data(mapping).await;

    let index = k.page_index(old).await as i64;
    let nr_pages = k.read_nr_pages(ctx).await;
    k.bug_on(index >= nr_pages, Arg::Field(Field::NrPages, None))
        .await;
    let ring_page = k.read_ring_page(ctx, index as usize).await;
    k.vm_bug_on(
        ring_page != Some(old),
        Arg::Field(Field::RingPages, Some(index as u8)),
    )
    .await;

    // Writeback must be complete.
    let writeback = k.test_page_flag(old, PageFlag::Writeback).await;
    k.bug_on(writeback, old.flag_arg(PageFlag::Writeback)).await;
    // The extra reference is for the ring_pages[] array.
    k.get_page(new).await;

    let rc = k
        .migrate_page_move_mapping(Some(mapping), new, old, mode, 1)
        .await;
    if rc != MIGRATEPAGE_SUCCESS {
        k.put_page(new).await;
        k.return_site(ReturnSite::MoveMapping);
        return rc;
    }

    let ctx = ctx.expect("a NULL ctx oopses at the BUG_ON above");
    let completion_lock = k.completion_lock(ctx);
    k.spin_lock_irqsave(LockName::CompletionLock, completion_lock)
        .await;

    // Once migrate_page_move_mapping succeeded, migration must not fail.
    k.migrate_page_copy(new, old).await;

    // The copy must be complete before ring_pages[] points at the new
    // page, or readers could see it half initialised.
    k.smp_wmb().await;

    let idx = k.page_index(old).await;
    k.write_ring_page(Some(ctx), idx as usize, Some(new)).await;
    k.spin_unlock_irqrestore(LockName::CompletionLock, completion_lock)
        .await;

    k.put_page(old).await;

    k.return_site(ReturnSite::Success);
    rc
}

/// `aio_setup_ring(ctx)`: size the ring, create its file and pages, map it
/// into the process, and write the ring header.
pub async fn aio_setup_ring(k: &Kernel, ctx: CtxId) -> i32 {
    let _f = k.enter(Func::AioSetupRing);
    let mut nr_events = k.ctx_read(Some(ctx), Field::MaxReqs, |c| c.max_reqs).await as u64 + 2;
    let mut i;

    let size = AIO_RING_SIZE + IO_EVENT_SIZE * nr_events;
    let nr_pages = size.div_ceil(PAGE_SIZE) as i64;

    if nr_pages < 0 {
        return EINVAL;
    }

    let file = aio_private_file(k, ctx, nr_pages).await;

    k.write_aio_ring_file(Some(ctx), Some(file)).await;
    nr_events = (PAGE_SIZE * nr_pages as u64 - AIO_RING_SIZE) / IO_EVENT_SIZE;

    k.write_ring_pages_ptr(Some(ctx), RingPagesPtr::Internal)
        .await;
    if nr_pages as usize > AIO_RING_PAGES {
        let ring_pages = k.kcalloc_ring_pages(nr_pages as usize).await;
        k.write_ring_pages_ptr(Some(ctx), ring_pages).await;
        if ring_pages == RingPagesPtr::Null {
            put_aio_ring_file(k, ctx).await;
            return ENOMEM;
        }
    }

    k.write_nr_pages(Some(ctx), 0).await;

    let mapping = k.file_inode(file);
    i = 0;
    while i < nr_pages as usize {
        let Some(page) = k.find_or_create_page(mapping, i as u32).await else {
            break;
        };
        k.set_page_flag(page, PageFlag::Uptodate).await;
        k.set_page_flag(page, PageFlag::Dirty).await;
        k.write_ring_page(Some(ctx), i, Some(page)).await;
        let nr = k.read_nr_pages(Some(ctx)).await;
        k.write_nr_pages(Some(ctx), nr + 1).await;
        k.unlock_page(page).await;
        i += 1;
    }

    if k.read_nr_pages(Some(ctx)).await != nr_pages {
        aio_free_ring(k, ctx).await;
        return EAGAIN;
    }

    let mmap_size = nr_pages as u64 * PAGE_SIZE;
    k.ctx_write(Some(ctx), Field::MmapSize, mmap_size, |c, v| {
        c.mmap_size = v
    })
    .await;
    let mmap_sem = k.mmap_sem();
    k.down_write(mmap_sem).await;
    let mmap_base = k.do_mmap_pgoff(file, mmap_size).await;
    k.ctx_write(
        Some(ctx),
        Field::MmapBase,
        mmap_base.unwrap_or(0),
        |c, v| c.mmap_base = v,
    )
    .await;
    k.up_write(mmap_sem).await;
    if mmap_base.is_err() {
        k.ctx_write(Some(ctx), Field::MmapSize, 0u64, |c, v| c.mmap_size = v)
            .await;
        aio_free_ring(k, ctx).await;
        return EAGAIN;
    }

    let mmap_base = k
        .ctx_read(Some(ctx), Field::MmapBase, |c| c.mmap_base)
        .await;
    k.ctx_write(Some(ctx), Field::UserId, mmap_base, |c, v| c.user_id = v)
        .await;
    k.ctx_write(Some(ctx), Field::NrEvents, nr_events as u32, |c, v| {
        c.nr_events = v
    })
    .await;

    // The header is written through a temporary kernel mapping, with no
    // lock held.
    let ring = k.read_ring_page(Some(ctx), 0).await;
    let header = [
        !0,
        nr_events as u32,
        0,
        0,
        AIO_RING_MAGIC,
        AIO_RING_COMPAT_FEATURES,
        AIO_RING_INCOMPAT_FEATURES,
        AIO_RING_SIZE as u32,
    ];
    k.kmap_write_header(ring, header).await;

    0
}

/// `free_ioctx(work)`: the last step of teardown, run from a workqueue in
/// the kernel and inline here.
pub async fn free_ioctx(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::FreeIoctx);
    aio_free_ring(k, ctx).await;
    k.kmem_cache_free_kioctx(ctx).await;
}

/// `free_ioctx_reqs(ref)`: every request is gone; free the kioctx.
pub async fn free_ioctx_reqs(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::FreeIoctxReqs);
    free_ioctx(k, ctx).await;
}

/// `free_ioctx_users(ref)`: the last user is gone; cancel requests (none
/// are in flight here) and drop the users' hold on `reqs`.
pub async fn free_ioctx_users(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::FreeIoctxUsers);
    if k.percpu_ref_kill(ctx, PercpuRef::Reqs).await {
        free_ioctx_reqs(k, ctx).await;
    }
    if k.percpu_ref_put(ctx, PercpuRef::Reqs).await {
        free_ioctx_reqs(k, ctx).await;
    }
}

/// `ioctx_add_table(ctx, mm)`: give the kioctx a slot in the mm's table
/// and write its id into the ring header.
pub async fn ioctx_add_table(k: &Kernel, ctx: CtxId) -> i32 {
    let _f = k.enter(Func::IoctxAddTable);
    let ioctx_lock = k.ioctx_lock();

    k.spin_lock(LockName::IoctxLock, ioctx_lock).await;
    let mut table = k.read_ioctx_table().await;

    loop {
        if let Some(nr) = table {
            for i in 0..nr {
                if k.read_ioctx_table_slot(i).await.is_none() {
                    k.ctx_write(Some(ctx), Field::CtxIdx, i as u32, |c, v| c.id = v)
                        .await;
                    k.write_ioctx_table_slot(i, Some(ctx)).await;
                    k.spin_unlock(LockName::IoctxLock, ioctx_lock).await;

                    let ring = k.read_ring_page(Some(ctx), 0).await;
                    let id = k.ctx_read(Some(ctx), Field::CtxIdx, |c| c.id).await;
                    k.kmap_write(ring, Field::RingId, 0, id).await;
                    return 0;
                }
            }
        }

        let new_nr = table.unwrap_or(1) * 4;

        k.spin_unlock(LockName::IoctxLock, ioctx_lock).await;
        k.spin_lock(LockName::IoctxLock, ioctx_lock).await;
        table = Some(k.install_ioctx_table(new_nr).await);
    }
}

/// `aio_nr_sub(nr)`.
pub async fn aio_nr_sub(k: &Kernel, nr: u64) {
    let _f = k.enter(Func::AioNrSub);
    let aio_nr_lock = k.aio_nr_lock();
    k.spin_lock(LockName::AioNrLock, aio_nr_lock).await;
    let aio_nr = k.read_aio_nr().await;
    k.write_aio_nr(aio_nr.saturating_sub(nr)).await;
    k.spin_unlock(LockName::AioNrLock, aio_nr_lock).await;
}

/// `ioctx_alloc(nr_events)`: allocate and set up a kioctx, or unwind.
pub async fn ioctx_alloc(k: &Kernel, nr_events: u32) -> Result<CtxId, i32> {
    let _f = k.enter(Func::IoctxAlloc);
    let mut err = ENOMEM;

    // Leave room for every CPU to hold back a batch of events, and double
    // the count, as the ring is shared.
    let nr_events = nr_events.max(NUM_POSSIBLE_CPUS * 4) * 2;

    // Prevent overflows.
    if nr_events as u64 > 0x1000_0000 / IO_EVENT_SIZE {
        return Err(EINVAL);
    }

    if nr_events == 0 || nr_events as u64 > AIO_MAX_NR * 2 {
        return Err(EAGAIN);
    }

    let ctx = k.kmem_cache_zalloc_kioctx().await;

    k.ctx_write(Some(ctx), Field::MaxReqs, nr_events, |c, v| c.max_reqs = v)
        .await;

    k.percpu_ref_init(ctx, PercpuRef::Users).await;
    k.percpu_ref_init(ctx, PercpuRef::Reqs).await;

    'err: {
        'err_ctx: {
            'err_cleanup: {
                if aio_setup_ring(k, ctx).await < 0 {
                    break 'err;
                }

                // Limit the number of system wide aios.
                let aio_nr_lock = k.aio_nr_lock();
                k.spin_lock(LockName::AioNrLock, aio_nr_lock).await;
                let aio_nr = k.read_aio_nr().await;
                if aio_nr + nr_events as u64 > AIO_MAX_NR * 2 {
                    k.spin_unlock(LockName::AioNrLock, aio_nr_lock).await;
                    err = EAGAIN;
                    break 'err_ctx;
                }
                let max_reqs = k.ctx_read(Some(ctx), Field::MaxReqs, |c| c.max_reqs).await;
                k.write_aio_nr(aio_nr + max_reqs as u64).await;
                k.spin_unlock(LockName::AioNrLock, aio_nr_lock).await;

                k.percpu_ref_get(ctx, PercpuRef::Users).await; // io_setup() drops this ref
                k.percpu_ref_get(ctx, PercpuRef::Reqs).await; // free_ioctx_users() drops this

                err = ioctx_add_table(k, ctx).await;
                if err != 0 {
                    break 'err_cleanup;
                }

                return Ok(ctx);
            }
            // err_cleanup:
            let max_reqs = k.ctx_read(Some(ctx), Field::MaxReqs, |c| c.max_reqs).await;
            aio_nr_sub(k, max_reqs as u64).await;
        }
        // err_ctx:
        aio_free_ring(k, ctx).await;
    }
    // err:
    k.kmem_cache_free_kioctx(ctx).await;
    Err(err)
}

/// `kill_ioctx(mm, ctx)`: unpublish the kioctx, unmap the ring, and start
/// the teardown that ends in `free_ioctx`.
pub async fn kill_ioctx(k: &Kernel, ctx: CtxId) {
    let _f = k.enter(Func::KillIoctx);
    if !k.xchg_dead(ctx).await {
        let ioctx_lock = k.ioctx_lock();
        k.spin_lock(LockName::IoctxLock, ioctx_lock).await;
        let id = k.ctx_read(Some(ctx), Field::CtxIdx, |c| c.id).await;
        k.write_ioctx_table_slot(id as usize, None).await;
        k.spin_unlock(LockName::IoctxLock, ioctx_lock).await;

        let max_reqs = k.ctx_read(Some(ctx), Field::MaxReqs, |c| c.max_reqs).await;
        aio_nr_sub(k, max_reqs as u64).await;

        let mmap_size = k
            .ctx_read(Some(ctx), Field::MmapSize, |c| c.mmap_size)
            .await;
        if mmap_size != 0 {
            let mmap_base = k
                .ctx_read(Some(ctx), Field::MmapBase, |c| c.mmap_base)
                .await;
            k.vm_munmap(mmap_base, mmap_size).await;
        }

        if k.percpu_ref_kill(ctx, PercpuRef::Users).await {
            free_ioctx_users(k, ctx).await;
        }
    }
}

/// `aio_get_req(ctx)`: a request slot on the kioctx, holding a `reqs`
/// reference. `get_reqs_available` and the kiocb allocation are not
/// modelled: a scenario submits far fewer requests than the smallest ring
/// has events, and the allocation does not fail here.
pub async fn aio_get_req(k: &Kernel, ctx: CtxId) -> Option<Kiocb> {
    let _f = k.enter(Func::AioGetReq);
    k.percpu_ref_get(ctx, PercpuRef::Reqs).await;

    Some(Kiocb {
        ki_ctx: ctx,
        ki_user_data: 0,
    })
}

/// `lookup_ioctx(ctx_id)`: find the kioctx whose ring is mapped at
/// `ctx_id`, taking a `users` reference.
pub async fn lookup_ioctx(k: &Kernel, ctx_id: u64) -> Option<CtxId> {
    let _f = k.enter(Func::LookupIoctx);
    let id = k.get_user_ring_id(ctx_id).await?;

    let nr = k.read_ioctx_table().await?;
    if id as usize >= nr {
        return None;
    }

    let ctx = k.read_ioctx_table_slot(id as usize).await?;
    if k.ctx_read(Some(ctx), Field::UserId, |c| c.user_id).await == ctx_id {
        k.percpu_ref_get(ctx, PercpuRef::Users).await;
        return Some(ctx);
    }
    None
}

/// `aio_complete(iocb, res, res2)`: put the request's event in the ring
/// under `completion_lock`, then drop its `reqs` reference.
pub async fn aio_complete(k: &Kernel, iocb: Kiocb, _res: i64, _res2: i64) {
    let _f = k.enter(Func::AioComplete);
    let ctx = iocb.ki_ctx;

    // Add the event under completion_lock: other code must not move the
    // tail, and this may run in irq context.
    let completion_lock = k.completion_lock(ctx);
    k.spin_lock_irqsave(LockName::CompletionLock, completion_lock)
        .await;

    let mut tail = k.ctx_read(Some(ctx), Field::Tail, |c| c.tail).await;
    let pos = tail + AIO_EVENTS_OFFSET;

    tail += 1;
    if tail
        >= k.ctx_read(Some(ctx), Field::NrEvents, |c| c.nr_events)
            .await
    {
        tail = 0;
    }

    let ev_page = k
        .read_ring_page(Some(ctx), (pos / AIO_EVENTS_PER_PAGE) as usize)
        .await;
    k.kmap_write_event(ev_page, pos % AIO_EVENTS_PER_PAGE, iocb.ki_user_data as u32)
        .await;

    // The event must be visible before the tail moves.
    k.smp_wmb().await;

    k.ctx_write(Some(ctx), Field::Tail, tail, |c, v| c.tail = v)
        .await;

    let ring = k.read_ring_page(Some(ctx), 0).await;
    k.kmap_write(ring, Field::RingTail, TAIL_WORD, tail).await;

    k.spin_unlock_irqrestore(LockName::CompletionLock, completion_lock)
        .await;

    // No one waits on ctx->wait: io_getevents is not modelled.
    if k.percpu_ref_put(ctx, PercpuRef::Reqs).await {
        free_ioctx_reqs(k, ctx).await;
    }
}

/// `io_setup(nr_events, ctxp)`: the returned value is what user space gets
/// in `*ctxp`, the ring's address.
pub async fn io_setup(k: &Kernel, nr_events: u32) -> Result<u64, i32> {
    let _f = k.enter(Func::IoSetup);
    if nr_events == 0 {
        return Err(EINVAL);
    }

    let ioctx = ioctx_alloc(k, nr_events).await?;
    let ctx_id = k.put_user_ctx_id(ioctx).await;
    if k.percpu_ref_put(ioctx, PercpuRef::Users).await {
        free_ioctx_users(k, ioctx).await;
    }
    Ok(ctx_id)
}

/// `io_destroy(ctx)`.
pub async fn io_destroy(k: &Kernel, ctx_id: u64) -> i32 {
    let _f = k.enter(Func::IoDestroy);
    if let Some(ioctx) = lookup_ioctx(k, ctx_id).await {
        kill_ioctx(k, ioctx).await;
        if k.percpu_ref_put(ioctx, PercpuRef::Users).await {
            free_ioctx_users(k, ioctx).await;
        }
        return 0;
    }
    EINVAL
}

/// `aio_run_iocb(req, IOCB_CMD_PREAD, buf)`: the request reads nothing
/// from a regular file, whose `aio_read` returns at once, so it is not
/// queued and completes here.
pub async fn aio_run_iocb(k: &Kernel, req: Kiocb) -> i64 {
    let _f = k.enter(Func::AioRunIocb);
    let ret = 0;

    if ret != EIOCBQUEUED as i64 {
        aio_complete(k, req, ret, 0).await;
    }

    0
}

/// `io_submit_one(ctx, user_iocb, iocb)` of a read whose `aio_data` is
/// `aio_data`.
pub async fn io_submit_one(k: &Kernel, ctx: CtxId, aio_data: u64) -> i64 {
    let _f = k.enter(Func::IoSubmitOne);
    let Some(mut req) = aio_get_req(k, ctx).await else {
        return EAGAIN as i64;
    };

    req.ki_user_data = aio_data;

    aio_run_iocb(k, req).await
}

/// `do_io_submit(ctx_id, 1, iocbpp)`: submit one request.
pub async fn do_io_submit(k: &Kernel, ctx_id: u64, aio_data: u64) -> i64 {
    let _f = k.enter(Func::DoIoSubmit);
    let nr = 1;
    let mut i = 0;

    let Some(ctx) = lookup_ioctx(k, ctx_id).await else {
        return EINVAL as i64;
    };

    let mut ret = 0;
    while i < nr {
        ret = io_submit_one(k, ctx, aio_data).await;
        if ret != 0 {
            break;
        }
        i += 1;
    }

    if k.percpu_ref_put(ctx, PercpuRef::Users).await {
        free_ioctx_users(k, ctx).await;
    }
    if i != 0 {
        i
    } else {
        ret
    }
}
