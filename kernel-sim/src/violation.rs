//! Violations: what the sanitizer checks and the oracles report.
//!
//! A violation is recorded with the task and the label of the action that
//! caused it. Recording never panics the Rust process; a violation that would
//! oops a real kernel also ends the task that hit it (see
//! [`ViolationKind::is_fatal`]).

use std::fmt;

use crate::exec::TaskId;
use crate::label::{Arg, Label, LockName, PageRole};
use crate::ledger::Leaked;

/// A kernel object that can be used after it was freed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Object {
    /// A `struct page`.
    Page,
    /// The `struct kioctx`.
    Kioctx,
    /// The kcalloc'd `ring_pages` array.
    RingPages,
    /// The ring file.
    File,
    /// The ring inode and its address_space.
    Inode,
}

/// The reason `free_pages_check` called `bad_page`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum BadPage {
    /// `page_mapcount != 0`
    Mapcount,
    /// `page->mapping != NULL`
    Mapping,
    /// `page->_count != 0`
    Count,
    /// a flag in `PAGE_FLAGS_CHECK_AT_FREE` was set
    Flags,
}

/// What went wrong.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ViolationKind {
    /// A freed object was accessed (KASAN; oracle O6).
    UseAfterFree(Object),
    /// A NULL pointer was dereferenced (oracle O6). Fatal.
    NullDeref,
    /// An array was indexed past its end (KASAN).
    OutOfBounds,
    /// `put_page` on a page whose count was already 0 (O3). Fatal, as
    /// `VM_BUG_ON_PAGE` is with `CONFIG_DEBUG_VM`.
    PutPageZero,
    /// `put_page` on a page whose count `page_freeze_refs` froze to 0 (O3):
    /// without `CONFIG_DEBUG_VM` the unfreeze would overwrite the
    /// decrement, and the putter's reference would outlive it. Fatal, as
    /// `PutPageZero` is.
    PutPageFrozen,
    /// `get_page` on a page whose count was 0 or frozen (O3). Fatal.
    GetPageZero,
    /// A page reached the allocator in a bad state (O2); it is leaked.
    BadPageState(BadPage),
    /// A `BUG_ON` condition held. Fatal.
    BugOn,
    /// A `VM_BUG_ON` condition held (`CONFIG_DEBUG_VM` is on). Fatal.
    VmBugOn,
    /// A lock was released by a task that did not hold it.
    LockNotHeld,
    /// A task returned to user space holding the lock, taken where the
    /// violation's label says (lockdep).
    LockHeldOnReturn(LockName),
    /// The tasks left cannot make progress: each waits on a lock.
    Deadlock,
    /// Truncate's second pass can never terminate (O4).
    TruncateLivelock,
    /// The run used up its step budget.
    StepBudget,
    /// The ring pages and the page cache disagree while the kioctx is live (O1).
    RingMismatch,
    /// A page in the page cache has `page->mapping` other than the mapping (O4).
    TreeMappingMismatch,
    /// The kioctx was freed with pages still in its ring mapping (O5).
    NrpagesAtFree,
    /// A page's count does not match the holders the model knows of (O5).
    RefcountMismatch,
    /// An object is still allocated at the end of a run with nothing
    /// referring to it (O5).
    Leak(Object),
    /// A page is still allocated at the end of a run, and none of the
    /// holders the audit knows of (page cache, `ring_pages[]`, a pagevec, an
    /// isolating migrator) refers to it (O5). Named by what it was
    /// allocated as, `leak(new[0])`, so that one version's leak of a page
    /// is not taken for the other's leak of another.
    PageLeak(PageRole, u8),
    /// A store to ring memory landed in a page whose contents had already
    /// been copied to a migration target (O7).
    LostWrite,
}

impl ViolationKind {
    /// Whether a real kernel would oops here, ending the task that hit it.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            ViolationKind::NullDeref
                | ViolationKind::PutPageZero
                | ViolationKind::PutPageFrozen
                | ViolationKind::GetPageZero
                | ViolationKind::BugOn
                | ViolationKind::VmBugOn
        )
    }

    /// A short stable name, used in finding signatures.
    pub fn name(self) -> String {
        match self {
            ViolationKind::UseAfterFree(o) => format!("use-after-free({})", o.name()),
            ViolationKind::NullDeref => "NULL-deref".into(),
            ViolationKind::OutOfBounds => "out-of-bounds".into(),
            ViolationKind::PutPageZero => "put_page-on-zero".into(),
            ViolationKind::PutPageFrozen => "put_page-on-frozen".into(),
            ViolationKind::GetPageZero => "get_page-on-zero".into(),
            ViolationKind::BadPageState(r) => format!("bad-page-state({})", r.name()),
            ViolationKind::BugOn => "BUG_ON".into(),
            ViolationKind::VmBugOn => "VM_BUG_ON".into(),
            ViolationKind::LockNotHeld => "unlock-not-held".into(),
            ViolationKind::LockHeldOnReturn(l) => format!("lock-held-on-return({})", l.name()),
            ViolationKind::Deadlock => "deadlock".into(),
            ViolationKind::TruncateLivelock => "truncate-livelock".into(),
            ViolationKind::StepBudget => "step-budget".into(),
            ViolationKind::RingMismatch => "O1-ring-mismatch".into(),
            ViolationKind::TreeMappingMismatch => "O4-tree-mapping-mismatch".into(),
            ViolationKind::NrpagesAtFree => "O5-nrpages-at-free".into(),
            ViolationKind::RefcountMismatch => "O5-refcount-mismatch".into(),
            ViolationKind::Leak(o) => format!("leak({})", o.name()),
            ViolationKind::PageLeak(role, idx) => format!("leak({})", Arg::Page(role, idx)),
            ViolationKind::LostWrite => "O7-lost-write".into(),
        }
    }
}

impl Object {
    /// The kernel's name for the object.
    pub fn name(self) -> &'static str {
        match self {
            Object::Page => "page",
            Object::Kioctx => "kioctx",
            Object::RingPages => "ring_pages",
            Object::File => "file",
            Object::Inode => "inode",
        }
    }
}

impl BadPage {
    /// The field or flag `bad_page` complained about.
    pub fn name(self) -> &'static str {
        match self {
            BadPage::Mapcount => "mapcount",
            BadPage::Mapping => "mapping",
            BadPage::Count => "count",
            BadPage::Flags => "flags",
        }
    }
}

/// One recorded violation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Violation {
    /// What went wrong.
    pub kind: ViolationKind,
    /// The task whose action revealed it, if any task's did.
    pub task: Option<TaskId>,
    /// The label of that action, if any.
    pub label: Option<Label>,
    /// The step at which it was seen.
    pub step: u32,
    /// For a leaked page, the references never dropped.
    pub leaked: Option<Leaked>,
}

impl Violation {
    /// A stable signature: the kind and where it was seen, e.g.
    /// `BUG_ON@aio_migratepage`.
    pub fn signature(&self) -> String {
        match self.label {
            Some(l) => format!("{}@{}", self.kind.name(), l.func),
            None => self.kind.name(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if let Some(t) = self.task {
            write!(f, " by {t}")?;
        }
        if let Some(l) = self.label {
            write!(f, " at {l}")?;
        }
        write!(f, " (step {})", self.step)?;
        if let Some(l) = self.leaked {
            write!(f, ": {l}")?;
        }
        Ok(())
    }
}
