//! fs/aio.c's ring-page code after the cleanup of `aio_migratepage()`
//! ("aio: clean up aio_migratepage() and related code much", 2014-03-20),
//! applied to the same base as model-old. The port is in [`aio`]; this file
//! only plugs it into kernel-sim.

pub mod aio;

use std::future::Future;

use kernel_sim::{
    AddressSpaceOps, AioModel, CtxId, InodeId, Kernel, MigrateMode, PageId, ReturnSite,
};

/// The post-patch fs/aio.c.
#[derive(Clone, Copy, Debug, Default)]
pub struct New;

impl AddressSpaceOps for New {
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

impl AioModel for New {
    const NAME: &'static str = "new";
    const SITES: &'static [ReturnSite] = &[ReturnSite::MoveMapping, ReturnSite::Success];

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
