//! The interface a port of fs/aio.c offers the harness.

use std::future::Future;

use crate::kernel::Kernel;
use crate::migrate::AddressSpaceOps;
use crate::objects::CtxId;
use crate::site::ReturnSite;

/// The fs/aio.c entry points that scenarios drive. Both ports implement it
/// with their own `io_setup`, `io_destroy` and `put_aio_ring_file`, and with
/// their `aio_migratepage` as `a_ops->migratepage`.
pub trait AioModel: AddressSpaceOps {
    /// The port's name, `old` or `new`.
    const NAME: &'static str;

    /// The sites its `aio_migratepage` can return from, in source order.
    const SITES: &'static [ReturnSite];

    /// `io_setup(nr_events, &ctx_id)`: the handle user space gets (the
    /// ring's address), or the errno.
    fn io_setup<'k>(
        &'k self,
        k: &'k Kernel,
        nr_events: u32,
    ) -> impl Future<Output = Result<u64, i32>> + 'k;

    /// `io_destroy(ctx_id)`: kill the context and, once its references are
    /// gone, free it (`free_ioctx` runs in the same task).
    fn io_destroy<'k>(&'k self, k: &'k Kernel, ctx_id: u64) -> impl Future<Output = i32> + 'k;

    /// `io_submit(ctx_id, 1, &iocbp)` of one read whose `aio_data` is
    /// `data`, completed at once (`aio_complete` runs in the submitting
    /// task): the number submitted, or the errno.
    fn io_submit<'k>(
        &'k self,
        k: &'k Kernel,
        ctx_id: u64,
        data: u64,
    ) -> impl Future<Output = i64> + 'k;

    /// `put_aio_ring_file(ctx)` on its own: the owner truncates the ring
    /// file, as `aio_setup_ring`'s kcalloc-failure path does.
    fn put_aio_ring_file<'k>(&'k self, k: &'k Kernel, ctx: CtxId) -> impl Future<Output = ()> + 'k;
}
