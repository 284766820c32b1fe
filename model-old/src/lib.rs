//! fs/aio.c's ring-page code as it was before the cleanup of
//! `aio_migratepage()` ("aio: clean up aio_migratepage() and related code
//! much", 2014-03-20): v3.14 plus linux-next's `smp_wmb()` in
//! `aio_migratepage`. The port is in [`aio`]; this file only plugs it into
//! kernel-sim.

pub mod aio;

use std::future::Future;

use kernel_sim::{
    AddressSpaceOps, AioModel, CtxId, InodeId, Kernel, MigrateMode, PageId, ReturnSite,
};

/// The pre-patch fs/aio.c.
#[derive(Clone, Copy, Debug, Default)]
pub struct Old;

impl AddressSpaceOps for Old {
    fn migratepage<'k>(
        &'k self,
        k: &'k Kernel,
        mapping: InodeId,
        new: PageId,
        old: PageId,
        mode: MigrateMode,
    ) -> impl Future<Output = i32> + 'k {
        aio::aio_migratepage(k, mapping, new, old, mode)
    }
}

impl AioModel for Old {
    const NAME: &'static str = "old";
    const SITES: &'static [ReturnSite] = &[
        ReturnSite::FirstCheckRingPage,
        ReturnSite::FirstCheckIndex,
        ReturnSite::FirstCheckNoCtx,
        ReturnSite::MoveMapping,
        ReturnSite::SecondCheckRingPage,
        ReturnSite::SecondCheckIndex,
        ReturnSite::SecondCheckNoCtx,
        ReturnSite::Success,
    ];

    fn io_setup<'k>(
        &'k self,
        k: &'k Kernel,
        nr_events: u32,
    ) -> impl Future<Output = Result<u64, i32>> + 'k {
        aio::io_setup(k, nr_events)
    }

    fn io_destroy<'k>(&'k self, k: &'k Kernel, ctx_id: u64) -> impl Future<Output = i32> + 'k {
        aio::io_destroy(k, ctx_id)
    }

    fn io_submit<'k>(
        &'k self,
        k: &'k Kernel,
        ctx_id: u64,
        data: u64,
    ) -> impl Future<Output = i64> + 'k {
        aio::do_io_submit(k, ctx_id, data)
    }

    fn put_aio_ring_file<'k>(&'k self, k: &'k Kernel, ctx: CtxId) -> impl Future<Output = ()> + 'k {
        aio::put_aio_ring_file(k, ctx)
    }
}
