//! The reference ledger: who holds each page reference, and where it was
//! taken.
//!
//! `_count` says how many references a page has, not whose they are. To
//! name the reference a leak never dropped, the ledger follows each one
//! from the action that took it:
//!
//! - an allocation, `get_page` or a lookup gives the reference to the task
//!   that performed it;
//! - storing the page where a reference is kept hands the task's most
//!   recent reference to that holder: a slot of the page cache's tree,
//!   `ctx->ring_pages[i]`, a CPU's LRU-add pagevec, an isolation;
//! - removing the page from there hands it back to the task that removed
//!   it, and `put_page` drops that task's most recent reference.
//!
//! The kernel does not tell one reference from another, so where a task
//! holds two to one page the ledger's choice between them is a convention
//! (the most recent, which pairs a `get_page` with the store that follows
//! it). A put that finds no reference of its holder means the code dropped
//! one it did not own; the ledger then stops naming that page's references.

use std::fmt;

use crate::exec::TaskId;
use crate::kernel::State;
use crate::label::Label;
use crate::mm::PageId;
use crate::objects::{CtxId, InodeId};

/// Who holds a reference.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Holder {
    /// A task's code, in a local variable.
    Task(TaskId),
    /// Code outside any task (a test's setup, or the end-of-run drain).
    Harness,
    /// The page cache: the inode's tree slot at an index.
    Tree(InodeId, u8),
    /// `ctx->ring_pages[i]`.
    Ring(CtxId, u8),
    /// A CPU's LRU-add pagevec.
    Pagevec(TaskId),
    /// The migrator that isolated the page from the LRU.
    Isolation,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Task(t) => write!(f, "task {t}"),
            Holder::Harness => write!(f, "the harness"),
            Holder::Tree(m, i) => write!(f, "mapping{}'s page cache at index {i}", m.0),
            Holder::Ring(c, i) => write!(f, "{c}->ring_pages[{i}]"),
            Holder::Pagevec(cpu) => write!(f, "CPU {cpu}'s LRU-add pagevec"),
            Holder::Isolation => write!(f, "the isolating migrator"),
        }
    }
}

/// Where an action happened: the task, its label and the step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Site {
    /// The task that performed it, if one did.
    pub task: Option<TaskId>,
    /// Its label.
    pub label: Option<Label>,
    /// The step.
    pub step: u32,
}

impl Site {
    /// Where it happened, without who: `at LABEL (step N)`.
    fn place(&self) -> String {
        match self.label {
            Some(l) => format!("at {l} (step {})", self.step),
            None => format!("at step {}", self.step),
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = self.task {
            write!(f, "by {t} ")?;
        }
        f.write_str(&self.place())
    }
}

/// One page reference the ledger follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reference {
    /// The page.
    pub page: PageId,
    /// Who holds it now.
    pub holder: Holder,
    /// The action that took it.
    pub taken: Site,
    /// The last hand-over: the holder before, and the action.
    pub moved: Option<(Holder, Site)>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "taken {}", self.taken)?;
        let Some((from, at)) = self.moved.filter(|(_, at)| at.step != self.taken.step) else {
            return write!(f, ", held by {}", self.holder);
        };
        let place = at.place();
        match at.task {
            Some(t) if self.holder == Holder::Task(t) => {
                write!(f, "; {t} took it from {from} {place}")
            }
            _ => write!(f, "; moved from {from} to {} {place}", self.holder),
        }
    }
}

/// The references a leaked page was left with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Leaked {
    /// How many (its `_count`).
    pub count: i32,
    /// The oldest, or `None` if the ledger lost track of the page.
    pub first: Option<Reference>,
}

impl fmt::Display for Leaked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.first, self.count) {
            (None, _) => write!(
                f,
                "which reference was never dropped is not known: a put dropped one its holder did not have"
            ),
            (Some(r), 1) => write!(f, "the reference never dropped was {r}"),
            (Some(r), n) => write!(f, "{n} references were never dropped; the oldest was {r}"),
        }
    }
}

/// The references of every page, and the pages it lost track of.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    refs: Vec<Reference>,
    lost: Vec<u16>,
}

impl Ledger {
    /// The references to `p` the ledger follows, oldest first, or `None`
    /// if it lost track of them.
    pub fn of(&self, p: PageId) -> Option<Vec<Reference>> {
        if self.lost.contains(&p.id) {
            return None;
        }
        Some(self.refs.iter().filter(|r| r.page == p).copied().collect())
    }

    /// What a leak of `p`, whose count is `count`, was left with.
    pub fn leaked(&self, p: PageId, count: i32) -> Leaked {
        Leaked {
            count,
            first: self.of(p).and_then(|r| r.first().copied()),
        }
    }

    fn held(&self, p: PageId) -> usize {
        self.refs.iter().filter(|r| r.page == p).count()
    }

    fn latest(&self, p: PageId, holder: Holder) -> Option<usize> {
        self.refs
            .iter()
            .rposition(|r| r.page == p && r.holder == holder)
    }
}

impl State {
    /// The holder of a reference the current task's code takes or drops.
    pub fn caller(&self) -> Holder {
        self.current.map_or(Holder::Harness, Holder::Task)
    }

    fn site(&self) -> Site {
        Site {
            task: self.current,
            label: self.cur_label,
            step: self.step,
        }
    }

    /// A reference to `p` was taken, for `holder`.
    pub fn take_ref(&mut self, p: PageId, holder: Holder) {
        let taken = self.site();
        self.ledger.refs.push(Reference {
            page: p,
            holder,
            taken,
            moved: None,
        });
    }

    /// `holder`'s reference to `p` was dropped.
    pub fn drop_ref(&mut self, p: PageId, holder: Holder) {
        match self.ledger.latest(p, holder) {
            Some(i) => {
                self.ledger.refs.remove(i);
            }
            None => self.lose_track(p),
        }
    }

    /// `from`'s reference to `p` passes to `to`.
    pub fn move_ref(&mut self, p: PageId, from: Holder, to: Holder) {
        let at = self.site();
        match self.ledger.latest(p, from) {
            Some(i) => {
                let r = &mut self.ledger.refs[i];
                r.holder = to;
                r.moved = Some((from, at));
            }
            None => self.lose_track(p),
        }
    }

    /// `ctx->ring_pages[i]` changed from `held` to `page`: the slot gives
    /// its reference to `held` back to the current task, and takes the
    /// task's to `page`.
    pub fn hand_over_ring_slot(
        &mut self,
        c: CtxId,
        i: usize,
        held: Option<PageId>,
        page: Option<PageId>,
    ) {
        let slot = Holder::Ring(c, i as u8);
        if let Some(p) = held {
            self.move_ref(p, slot, self.caller());
        }
        if let Some(p) = page {
            self.move_ref(p, self.caller(), slot);
        }
    }

    /// `page_unfreeze_refs(p, count)`: the references the frozen page had
    /// beyond `count` were the current task's, and are dropped.
    pub fn unfreeze_refs(&mut self, p: PageId, count: i32) {
        let held = self.ledger.held(p);
        match usize::try_from(count) {
            Ok(count) if count <= held => {
                for _ in count..held {
                    self.drop_ref(p, self.caller());
                }
            }
            _ => self.lose_track(p),
        }
    }

    /// The live, unfrozen pages whose count is not the number of
    /// references the ledger follows for them (it follows every change of
    /// a count, so there should be none).
    pub fn ledger_mismatches(&self) -> Vec<PageId> {
        (0..self.pages.len())
            .filter_map(|i| {
                let pg = &self.pages[i];
                let (role, idx) = pg.allocated_as;
                let p = PageId {
                    id: i as u16,
                    role,
                    idx,
                };
                let tracked = !self.ledger.lost.contains(&p.id);
                let live = !pg.freed && !pg.leaked && !pg.frozen;
                (tracked && live && self.ledger.held(p) != pg.count as usize).then_some(p)
            })
            .collect()
    }

    /// Stops naming the references of every page [`State::ledger_mismatches`]
    /// returns, so that no report names a reference the counts disagree
    /// with.
    pub fn reconcile_ledger(&mut self) {
        for p in self.ledger_mismatches() {
            self.lose_track(p);
        }
    }

    fn lose_track(&mut self, p: PageId) {
        if !self.ledger.lost.contains(&p.id) {
            self.ledger.lost.push(p.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::PageRole;
    use crate::testing::*;

    #[test]
    fn a_store_hands_over_the_most_recent_reference_and_a_put_drops_it() {
        let (k, _) = kernel_with_mapping();
        let mut st = k.st.borrow_mut();
        let p = st.alloc_page(PageRole::New, 0);
        st.step = 5;
        st.take_ref(p, Holder::Harness);
        st.step = 6;
        st.move_ref(p, Holder::Harness, Holder::Ring(CtxId(0), 0));
        let refs = st.ledger.of(p).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1].taken.step, 5);
        assert_eq!(refs[1].holder, Holder::Ring(CtxId(0), 0));
        st.drop_ref(p, Holder::Harness);
        let refs = st.ledger.of(p).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            refs[0].to_string(),
            "taken at step 5; moved from the harness to ctx0->ring_pages[0] at step 6"
        );
    }

    #[test]
    fn a_put_of_a_reference_the_holder_lacks_loses_track_of_the_page() {
        let (k, _) = kernel_with_mapping();
        let mut st = k.st.borrow_mut();
        let p = st.alloc_page(PageRole::Ring, 0);
        st.drop_ref(p, Holder::Pagevec(TaskId(0)));
        assert_eq!(st.ledger.of(p), None);
    }
}
