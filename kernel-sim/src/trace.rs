//! The trace: every action a task performed, in order, with its effect.

use std::fmt;

use crate::exec::TaskId;
use crate::label::Label;
use crate::mm::PageId;
use crate::objects::{CtxId, InodeId};

/// What an action did, as far as a reader of the trace needs to know.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Effect {
    /// Nothing worth printing.
    None,
    /// A page's reference count after the action.
    Count(PageId, i32),
    /// A page pointer was read or stored (`None` is NULL).
    Page(Option<PageId>),
    /// A kioctx pointer was read or stored.
    Ctx(Option<CtxId>),
    /// An address_space pointer (`page->mapping`) was read or stored.
    Mapping(Option<InodeId>),
    /// An integer was read, stored or returned.
    Int(i64),
    /// A test or trylock gave this answer.
    Bool(bool),
    /// A page was allocated.
    Alloc(PageId),
    /// A page went back to the allocator (or was leaked by `bad_page`).
    Freed(PageId),
    /// The allocation was refused by fault injection.
    Fault,
}

/// One performed action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Event {
    /// Who performed it.
    pub task: TaskId,
    /// The scheduling point it was.
    pub label: Label,
    /// What it did.
    pub effect: Effect,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Effect::None => Ok(()),
            Effect::Count(p, c) => write!(f, "{p}._count={c}"),
            Effect::Page(Some(p)) => write!(f, "= {p}"),
            Effect::Page(None) | Effect::Ctx(None) | Effect::Mapping(None) => write!(f, "= NULL"),
            Effect::Mapping(Some(m)) => write!(f, "= mapping{}", m.0),
            Effect::Ctx(Some(c)) => write!(f, "= {c}"),
            Effect::Int(v) => write!(f, "= {v}"),
            Effect::Bool(b) => write!(f, "= {b}"),
            Effect::Alloc(p) => write!(f, "-> {p}"),
            Effect::Freed(p) => write!(f, "{p} freed"),
            Effect::Fault => write!(f, "fails (injected)"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.task, self.label)?;
        if self.effect != Effect::None {
            write!(f, " {}", self.effect)?;
        }
        Ok(())
    }
}
