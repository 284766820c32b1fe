//! The return sites of `a_ops->migratepage`, aio_migratepage: each
//! `return` of either port, and where one `return rc` serves several
//! branches, the branch that set `rc`. The patch deletes checks; naming
//! their sites lets a report say which of them ever fired, where a count
//! per errno would let a dead `-EAGAIN` hide behind a live one.

use crate::kernel::Kernel;
use crate::label::named_enum;

named_enum! {
    /// Where an `aio_migratepage` call returned.
    pub enum ReturnSite {
        /// The old code's first check, under `private_lock` and
        /// `completion_lock`: `ring_pages[idx]` is not the old page.
        FirstCheckRingPage = "first-check:-EAGAIN",
        /// The old code's first check: the page's index is not below
        /// `nr_pages`.
        FirstCheckIndex = "first-check:-EINVAL(index)",
        /// The old code's first check: `mapping->private_data` is NULL.
        FirstCheckNoCtx = "first-check:-EINVAL(NULL-ctx)",
        /// `migrate_page_move_mapping` failed; its code is returned.
        MoveMapping = "move-mapping",
        /// The old code's second check, after the move: `ring_pages[idx]`
        /// is not the old page any more.
        SecondCheckRingPage = "second-check:-EAGAIN",
        /// The old code's second check: the index is not below `nr_pages`.
        SecondCheckIndex = "second-check:-EINVAL(index)",
        /// The old code's second check: `mapping->private_data` is NULL.
        SecondCheckNoCtx = "second-check:-EBUSY(NULL-ctx)",
        /// The page migrated: `MIGRATEPAGE_SUCCESS`.
        Success = "success",
    }
}

impl ReturnSite {
    /// The site in kernel terms, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            ReturnSite::FirstCheckRingPage => "first check: ring_pages[idx] != old, -EAGAIN",
            ReturnSite::FirstCheckIndex => "first check: idx >= nr_pages, -EINVAL",
            ReturnSite::FirstCheckNoCtx => "first check: private_data == NULL, -EINVAL",
            ReturnSite::MoveMapping => "migrate_page_move_mapping failed, its code",
            ReturnSite::SecondCheckRingPage => "second check: ring_pages[idx] != old, -EAGAIN",
            ReturnSite::SecondCheckIndex => "second check: idx >= nr_pages, -EINVAL",
            ReturnSite::SecondCheckNoCtx => "second check: private_data == NULL, -EBUSY",
            ReturnSite::Success => "MIGRATEPAGE_SUCCESS",
        }
    }
}

impl Kernel {
    /// Says that the running `aio_migratepage` call will return from
    /// `site`; the harness's note of its return code carries the site. This
    /// is bookkeeping, not a kernel action, so it is not a scheduling point.
    pub fn return_site(&self, site: ReturnSite) {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("return_site() outside a task");
        st.tasks[task.index()].return_site = Some(site);
    }

    /// Takes the site the running task said it returns from.
    pub(crate) fn take_return_site(&self) -> Option<ReturnSite> {
        let mut st = self.st.borrow_mut();
        let task = st.current.expect("take_return_site() outside a task");
        st.tasks[task.index()].return_site.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_site_has_a_distinct_name() {
        for s in ReturnSite::ALL {
            assert_eq!(ReturnSite::from_name(s.name()), Some(*s));
        }
    }
}
