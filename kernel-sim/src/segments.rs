//! The segment scheduler: a schedule is a list of segments such as
//! `B until aio_free_ring:put_page(ring[1])#1`, each running one task until
//! it is about to perform a labelled action, or until it blocks or ends.
//!
//! Labels name shared kernel events, not lines of code, so a schedule reads
//! the same for both ports; where their code differs, it drives them
//! through different interleavings, which is why the harness runs one port
//! under it and makes the other follow that run's order of events (see
//! [`crate::history`]). Once the segments are used up, the default policy
//! [`RunToBlock`] finishes the run.

use std::fmt;

use crate::exec::{RunToBlock, SchedView, Scheduler, TaskId};
use crate::label::{Arg, Func, Label, OpKind};

/// A label to stop at: the function and operation, and optionally the
/// object (`aio_free_ring:put_page` matches any page).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LabelPattern {
    /// The function.
    pub func: Func,
    /// The operation.
    pub op: OpKind,
    /// The object, or any.
    pub arg: Option<Arg>,
}

impl LabelPattern {
    /// Whether `label` matches.
    pub fn matches(&self, label: &Label) -> bool {
        self.func == label.func && self.op == label.op && self.arg.is_none_or(|a| a == label.arg)
    }

    /// Parses `func:op` or `func:op(object)`; a flag operation with any
    /// flag is written `func:SetPage*`.
    pub fn parse(s: &str) -> Result<LabelPattern, String> {
        if s.contains('(') {
            let l = Label::parse(s)?;
            return Ok(LabelPattern {
                func: l.func,
                op: l.op,
                arg: Some(l.arg),
            });
        }
        let l = Label::parse(&format!("{s}()"))?;
        Ok(LabelPattern {
            func: l.func,
            op: l.op,
            arg: None,
        })
    }
}

impl fmt::Display for LabelPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arg {
            Some(arg) => Label {
                func: self.func,
                op: self.op,
                arg,
            }
            .fmt(f),
            None if self.op.on_flag() => write!(f, "{}:{}*", self.func, self.op),
            None => {
                let text = Label {
                    func: self.func,
                    op: self.op,
                    arg: Arg::None,
                }
                .to_string();
                f.write_str(text.strip_suffix("()").unwrap_or(&text))
            }
        }
    }
}

/// One segment of a schedule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    /// The task to run.
    pub task: TaskId,
    /// Stop before its `n`th matching action counted from the segment's
    /// start (`n` is 1-based); `None` runs until the task blocks or ends.
    pub until: Option<(LabelPattern, u32)>,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.task)?;
        if let Some((pat, n)) = self.until {
            write!(f, " until {pat}")?;
            if n != 1 {
                write!(f, "#{n}")?;
            }
        }
        Ok(())
    }
}

/// Runs a list of segments, then [`RunToBlock`].
#[derive(Clone, Debug)]
pub struct Segments {
    segments: Vec<Segment>,
    next: usize,
    seen: u32,
}

impl Segments {
    /// A scheduler for these segments.
    pub fn new(segments: Vec<Segment>) -> Segments {
        Segments {
            segments,
            next: 0,
            seen: 0,
        }
    }

    /// How many segments were used up (ended by their label, or by their
    /// task blocking or ending).
    pub fn completed(&self) -> usize {
        self.next
    }
}

impl Scheduler for Segments {
    fn next_task(&mut self, view: &SchedView<'_>) -> TaskId {
        while let Some(seg) = self.segments.get(self.next) {
            let t = seg.task;
            if view.runnable.contains(t) {
                let Some((pat, n)) = seg.until else {
                    return t;
                };
                match view.pending[t.index()] {
                    Some(label) if pat.matches(&label) => {
                        if self.seen + 1 < n {
                            self.seen += 1;
                            return t;
                        }
                    }
                    _ => return t,
                }
            }
            self.next += 1;
            self.seen = 0;
        }
        RunToBlock.next_task(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::PageRole;

    #[test]
    fn patterns_print_and_parse() {
        for text in [
            "aio_free_ring:put_page(ring[1])",
            "aio_free_ring:put_page",
            "aio_setup_ring:SetPage*",
            "kill_ioctx:write(mm->ioctx_table[0])",
        ] {
            let p = LabelPattern::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
        }
        let p = LabelPattern::parse("aio_free_ring:put_page").unwrap();
        assert!(p.matches(&Label {
            func: Func::AioFreeRing,
            op: OpKind::PutPage,
            arg: Arg::Page(PageRole::New, 3),
        }));
        assert!(!p.matches(&Label {
            func: Func::AioFreeRing,
            op: OpKind::GetPage,
            arg: Arg::Page(PageRole::New, 3),
        }));
    }
}
