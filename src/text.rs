//! The `.sched` text format: parser with `file:line:col` errors, and the
//! canonical printer. The grammar is in docs/FORMAT.md.

use std::fmt;

use kernel_sim::{Faults, LabelPattern, MigrateMode, PageRole, Segment, TaskId};

use crate::case::{Case, Class, Expect};
use crate::scenario::{MigrateFaults, Op, Scenario, MAX_DRAINS};

/// A parse error, printed as `file:line:col: reason`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParseError {
    /// The file name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.reason
        )
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    text: &'a str,
    col: usize,
}

/// Splits a line into tokens at whitespace and commas (a comma is a token of
/// its own), dropping a comment: `#` at the start of the line or after
/// whitespace begins one; a `#` inside a word is an occurrence count.
fn tokenize(line: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut prev_space = true;
    for (col, (byte, c)) in line.char_indices().enumerate() {
        let col = col + 1;
        if c == '#' && prev_space {
            break;
        }
        let sep = c.is_whitespace() || c == ',';
        if sep {
            if let Some((b, cl)) = start.take() {
                toks.push(Tok {
                    text: &line[b..byte],
                    col: cl,
                });
            }
            if c == ',' {
                toks.push(Tok {
                    text: &line[byte..byte + 1],
                    col,
                });
            }
        } else if start.is_none() {
            start = Some((byte, col));
        }
        prev_space = c.is_whitespace();
    }
    // A comment only starts after whitespace, which ends any token, so a
    // token still open here runs to the end of the line.
    if let Some((b, cl)) = start {
        toks.push(Tok {
            text: &line[b..],
            col: cl,
        });
    }
    toks
}

struct Parser<'f> {
    file: &'f str,
    line: usize,
}

impl Parser<'_> {
    fn err(&self, col: usize, reason: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: self.line,
            col,
            reason: reason.into(),
        }
    }

    fn int(&self, tok: Option<&Tok<'_>>, after: &Tok<'_>, what: &str) -> Result<u8, ParseError> {
        let Some(tok) = tok else {
            return Err(self.err(
                after.col + after.text.chars().count(),
                format!("expected {what}"),
            ));
        };
        tok.text
            .parse()
            .map_err(|_| self.err(tok.col, format!("expected {what}, found `{}`", tok.text)))
    }

    fn end(&self, toks: &[Tok<'_>], at: usize) -> Result<(), ParseError> {
        match toks.get(at) {
            None => Ok(()),
            Some(t) => Err(self.err(t.col, format!("unexpected `{}`", t.text))),
        }
    }

    fn task(&self, tok: &Tok<'_>) -> Result<TaskId, ParseError> {
        let mut chars = tok.text.chars();
        match (chars.next(), chars.next()) {
            (Some(c @ 'A'..='H'), None) => Ok(TaskId(c as u8 - b'A')),
            _ => Err(self.err(
                tok.col,
                format!("expected a task letter A to H, found `{}`", tok.text),
            )),
        }
    }

    fn op(&self, group: &[Tok<'_>], at: usize) -> Result<Op, ParseError> {
        let Some(first) = group.first() else {
            return Err(self.err(
                at,
                "expected an operation: setup, migrate, submit, truncate or destroy",
            ));
        };
        let op = match first.text {
            "setup" => Op::Setup,
            "truncate" => Op::Truncate,
            "submit" => Op::Submit,
            "destroy" => Op::Destroy,
            "migrate" => {
                let index = self.int(group.get(1), first, "a ring index after `migrate`")?;
                let mut mode = MigrateMode::Sync;
                let mut faults = MigrateFaults::default();
                let mut frame = None;
                let mut seen_mode = false;
                for t in &group[2..] {
                    match t.text {
                        "async" | "sync-light" | "sync" if seen_mode => {
                            return Err(self.err(t.col, "the migration mode is already given"))
                        }
                        "async" => (mode, seen_mode) = (MigrateMode::Async, true),
                        "sync-light" => (mode, seen_mode) = (MigrateMode::SyncLight, true),
                        "sync" => (mode, seen_mode) = (MigrateMode::Sync, true),
                        "extra-ref" if !faults.extra_ref => faults.extra_ref = true,
                        "no-target" if !faults.no_target => faults.no_target = true,
                        "ring-frame" | "new-frame" if frame.is_some() => {
                            return Err(self.err(t.col, "the frame is already given"))
                        }
                        "ring-frame" => frame = Some(PageRole::Ring),
                        "new-frame" => frame = Some(PageRole::New),
                        "extra-ref" | "no-target" => {
                            return Err(self.err(t.col, format!("`{}` is already given", t.text)))
                        }
                        other => {
                            return Err(self.err(
                                t.col,
                                format!(
                                    "unknown migrate option `{other}`: expected async, sync-light, sync, extra-ref, no-target, ring-frame or new-frame"
                                ),
                            ))
                        }
                    }
                }
                return Ok(Op::Migrate {
                    index,
                    mode,
                    faults,
                    frame,
                });
            }
            other => {
                return Err(self.err(
                    first.col,
                    format!(
                        "unknown operation `{other}`: expected setup, migrate, truncate or destroy"
                    ),
                ))
            }
        };
        self.end(group, 1)?;
        Ok(op)
    }
}

/// Where each task and operation was written, for rule errors.
struct Positions {
    ring: (usize, usize),
    tasks: Vec<(usize, usize, Vec<usize>)>,
}

/// Parses a `.sched` file. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Case, ParseError> {
    let mut p = Parser { file, line: 0 };
    let mut ring: Option<u8> = None;
    let mut drains: Option<u8> = None;
    let mut faults = Faults::default();
    let mut tasks: Vec<Vec<Op>> = Vec::new();
    let mut schedule: Vec<(Segment, usize, usize)> = Vec::new();
    let mut expect = None;
    let mut pos = Positions {
        ring: (1, 1),
        tasks: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        p.line = n + 1;
        let toks = tokenize(line);
        let Some(head) = toks.first() else { continue };
        match head.text {
            "ring" => {
                if ring.is_some() {
                    return Err(p.err(head.col, "the ring size is already given"));
                }
                ring = Some(p.int(toks.get(1), head, "the ring size in pages")?);
                pos.ring = (p.line, head.col);
                p.end(&toks, 2)?;
            }
            "drains" => {
                if drains.is_some() {
                    return Err(p.err(head.col, "the background drains are already given"));
                }
                let n = p.int(toks.get(1), head, "the number of background drains")?;
                if n > MAX_DRAINS {
                    return Err(p.err(
                        toks[1].col,
                        format!("a scenario has 0 to {MAX_DRAINS} background drains, not {n}"),
                    ));
                }
                drains = Some(n);
                p.end(&toks, 2)?;
            }
            "fault" => {
                let Some(kind) = toks.get(1) else {
                    return Err(p.err(
                        head.col + 5,
                        "expected a setup fault: page-alloc K, kcalloc or mmap",
                    ));
                };
                match kind.text {
                    "page-alloc" => {
                        if faults.page_alloc_fails_at.is_some() {
                            return Err(p.err(kind.col, "`page-alloc` is already given"));
                        }
                        faults.page_alloc_fails_at = Some(p.int(
                            toks.get(2),
                            kind,
                            "the ring index whose page allocation fails",
                        )?);
                        p.end(&toks, 3)?;
                    }
                    "kcalloc" | "mmap" => {
                        let flag = if kind.text == "kcalloc" {
                            &mut faults.kcalloc_fails
                        } else {
                            &mut faults.mmap_fails
                        };
                        if *flag {
                            return Err(
                                p.err(kind.col, format!("`{}` is already given", kind.text))
                            );
                        }
                        *flag = true;
                        p.end(&toks, 2)?;
                    }
                    other => {
                        return Err(p.err(
                            kind.col,
                            format!(
                            "unknown setup fault `{other}`: expected page-alloc K, kcalloc or mmap"
                        ),
                        ))
                    }
                }
            }
            "task" => {
                let Some(name) = toks.get(1) else {
                    return Err(p.err(head.col + 4, "expected `task X:`"));
                };
                let letter = name.text.strip_suffix(':').ok_or_else(|| {
                    p.err(name.col, format!("expected `{}:` with a colon", name.text))
                })?;
                let t = p.task(&Tok {
                    text: letter,
                    col: name.col,
                })?;
                if t.index() != tasks.len() {
                    return Err(p.err(
                        name.col,
                        format!(
                            "tasks are declared in order: expected task {}",
                            TaskId(tasks.len() as u8)
                        ),
                    ));
                }
                let rest = &toks[2..];
                if rest.is_empty() {
                    return Err(p.err(
                        name.col + name.text.chars().count(),
                        "expected the task's operations",
                    ));
                }
                // Operations are separated by commas; an empty one is
                // reported just after the separator before it.
                let mut groups = vec![(Vec::new(), name.col + name.text.chars().count())];
                for t in rest {
                    match t.text {
                        "," => groups.push((Vec::new(), t.col + 1)),
                        _ => groups.last_mut().expect("never empty").0.push(*t),
                    }
                }
                let mut program = Vec::new();
                let mut cols = Vec::new();
                for (group, at) in &groups {
                    cols.push(group.first().map_or(*at, |t: &Tok<'_>| t.col));
                    program.push(p.op(group, *at)?);
                }
                pos.tasks.push((p.line, name.col, cols));
                tasks.push(program);
            }
            "run" => {
                let Some(name) = toks.get(1) else {
                    return Err(p.err(head.col + 3, "expected a task letter after `run`"));
                };
                let task = p.task(name)?;
                let until = match toks.get(2) {
                    None => None,
                    Some(kw) if kw.text == "until" => {
                        let Some(pat) = toks.get(3) else {
                            return Err(p.err(kw.col + 5, "expected a label after `until`"));
                        };
                        let (label, n) = match pat.text.rsplit_once('#') {
                            Some((l, count)) => {
                                let n: u32 = count.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                                    p.err(
                                        pat.col + l.chars().count() + 1,
                                        format!("expected an occurrence count of 1 or more after `#`, found `{count}`"),
                                    )
                                })?;
                                (l, n)
                            }
                            None => (pat.text, 1),
                        };
                        let pattern = LabelPattern::parse(label).map_err(|e| p.err(pat.col, e))?;
                        p.end(&toks, 4)?;
                        Some((pattern, n))
                    }
                    Some(t) => {
                        return Err(p.err(
                            t.col,
                            format!(
                                "expected `until` or the end of the line, found `{}`",
                                t.text
                            ),
                        ))
                    }
                };
                schedule.push((Segment { task, until }, p.line, name.col));
            }
            "expect:" => {
                if expect.is_some() {
                    return Err(p.err(head.col, "`expect:` is already given"));
                }
                let Some(class) = toks.get(1) else {
                    return Err(p.err(head.col + 7, "expected a verdict class after `expect:`"));
                };
                let c = Class::from_name(class.text).ok_or_else(|| {
                    let names: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
                    p.err(
                        class.col,
                        format!(
                            "unknown verdict class `{}`: expected one of {}",
                            class.text,
                            names.join(", ")
                        ),
                    )
                })?;
                let detail = toks.get(2).map(|t| t.text.to_string());
                p.end(&toks, 3)?;
                expect = Some(Expect { class: c, detail });
            }
            other => {
                return Err(p.err(
                    head.col,
                    format!(
                        "unknown line `{other}`: expected ring, fault, drains, task, run or expect:"
                    ),
                ))
            }
        }
    }
    let Some(ring_pages) = ring else {
        p.line = 1;
        return Err(p.err(1, "missing `ring N`: the ring size in pages"));
    };
    let scenario = Scenario {
        ring_pages,
        faults,
        tasks,
        drains: drains.unwrap_or(0),
    };
    if let Err(e) = scenario.validate() {
        let (line, col) = match (e.task, e.op) {
            (Some(t), Some(o)) => (pos.tasks[t].0, pos.tasks[t].2[o]),
            (Some(t), None) => (pos.tasks[t].0, pos.tasks[t].1),
            _ => pos.ring,
        };
        return Err(ParseError {
            file: file.to_string(),
            line,
            col,
            reason: e.message,
        });
    }
    let total = scenario.total_tasks();
    for &(seg, line, col) in &schedule {
        if seg.task.index() >= total {
            return Err(ParseError {
                file: file.to_string(),
                line,
                col,
                reason: format!(
                    "task {} does not exist: this scenario has {} tasks",
                    seg.task,
                    total_names(total)
                ),
            });
        }
    }
    Ok(Case {
        scenario,
        schedule: schedule.into_iter().map(|(s, _, _)| s).collect(),
        expect,
    })
}

fn total_names(total: usize) -> String {
    match total {
        1 => "only A".into(),
        n => format!("A to {}", TaskId(n as u8 - 1)),
    }
}

/// Prints an operation as the parser reads it.
pub fn print_op(op: &Op) -> String {
    match *op {
        Op::Setup => "setup".into(),
        Op::Truncate => "truncate".into(),
        Op::Submit => "submit".into(),
        Op::Destroy => "destroy".into(),
        Op::Migrate {
            index,
            mode,
            faults,
            frame,
        } => {
            let mut s = format!("migrate {index} {mode}");
            if faults.extra_ref {
                s.push_str(" extra-ref");
            }
            if faults.no_target {
                s.push_str(" no-target");
            }
            match frame {
                Some(PageRole::Ring) => s.push_str(" ring-frame"),
                Some(PageRole::New) => s.push_str(" new-frame"),
                None => {}
            }
            s
        }
    }
}

/// Prints a case in canonical form: `parse(print(case)) == case`.
pub fn print(case: &Case) -> String {
    let mut out = String::new();
    let s = &case.scenario;
    out.push_str(&format!("ring {}\n", s.ring_pages));
    if let Some(k) = s.faults.page_alloc_fails_at {
        out.push_str(&format!("fault page-alloc {k}\n"));
    }
    if s.faults.kcalloc_fails {
        out.push_str("fault kcalloc\n");
    }
    if s.faults.mmap_fails {
        out.push_str("fault mmap\n");
    }
    if s.drains > 0 {
        out.push_str(&format!("drains {}\n", s.drains));
    }
    for (t, program) in s.tasks.iter().enumerate() {
        let ops: Vec<String> = program.iter().map(print_op).collect();
        out.push_str(&format!("task {}: {}\n", TaskId(t as u8), ops.join(", ")));
    }
    for seg in &case.schedule {
        out.push_str(&format!("run {seg}\n"));
    }
    if let Some(e) = &case.expect {
        out.push_str(&format!("expect: {e}\n"));
    }
    out
}

/// `text` as comment lines of a `.sched` file: each of its lines after
/// `# `, so that text spanning lines (a verdict's explanation holding a
/// schedule, say) stays a comment.
pub fn comment(text: &str) -> String {
    text.lines().map(|line| format!("# {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1: &str = "\
# B1: teardown drops the page between move_mapping and the second check.
ring 1
task A: setup, destroy   # the owner
task B: migrate 0 sync
run A until lookup_ioctx:read(mm->ioctx_table)
run B until aio_migratepage:spin_lock(private_lock)#2
run A until put_aio_ring_file:read(ctx->aio_ring_file)
run B
expect: old-only truncate-livelock@truncate_inode_pages_range
";

    #[test]
    fn parses_a_commented_case_and_prints_it_canonically() {
        let case = parse("b1.sched", B1).unwrap();
        assert_eq!(case.scenario.tasks.len(), 2);
        assert_eq!(case.schedule.len(), 4);
        assert_eq!(case.schedule[1].until.unwrap().1, 2);
        let text = print(&case);
        assert!(!text.contains('#') || text.contains("#2"));
        assert_eq!(parse("b1.sched", &text).unwrap(), case);
        assert_eq!(print(&parse("x", &text).unwrap()), text);
    }

    fn error(text: &str) -> String {
        parse("t.sched", text).unwrap_err().to_string()
    }

    #[test]
    fn malformed_input_gets_a_precise_error() {
        let cases: &[(&str, &str)] = &[
            ("", "t.sched:1:1: missing `ring N`"),
            (
                "ring x\n",
                "t.sched:1:6: expected the ring size in pages, found `x`",
            ),
            ("ring\n", "t.sched:1:5: expected the ring size in pages"),
            ("ring 2 3\n", "t.sched:1:8: unexpected `3`"),
            (
                "ring 2\nring 3\n",
                "t.sched:2:1: the ring size is already given",
            ),
            (
                "ring 11\ntask A: setup\n",
                "t.sched:1:1: a ring has 1 to 10 pages, not 11",
            ),
            ("ring 2\nfrob\n", "t.sched:2:1: unknown line `frob`"),
            (
                "ring 2\ntask A: migrate 0 ring-frame new-frame\n",
                "t.sched:2:30: the frame is already given",
            ),
            (
                "ring 2\ndrains 3\ntask A: setup\n",
                "t.sched:2:8: a scenario has 0 to 2 background drains, not 3",
            ),
            (
                "ring 2\ndrains 1\ndrains 1\n",
                "t.sched:3:1: the background drains are already given",
            ),
            (
                "ring 2\ntask A: setup\nrun C\n",
                "t.sched:3:5: task C does not exist",
            ),
            (
                "ring 2\nfault page-alloc\n",
                "t.sched:2:17: expected the ring index",
            ),
            (
                "ring 2\nfault page-alloc 5\ntask A: setup\n",
                "t.sched:1:1: page allocation can only fail inside the ring",
            ),
            (
                "ring 2\nfault oom\n",
                "t.sched:2:7: unknown setup fault `oom`",
            ),
            (
                "ring 2\ntask B: setup\n",
                "t.sched:2:6: tasks are declared in order: expected task A",
            ),
            (
                "ring 2\ntask A setup\n",
                "t.sched:2:6: expected `A:` with a colon",
            ),
            (
                "ring 2\ntask A:\n",
                "t.sched:2:8: expected the task's operations",
            ),
            (
                "ring 2\ntask A: setup, frob\n",
                "t.sched:2:16: unknown operation `frob`",
            ),
            (
                "ring 2\ntask A: setup,, destroy\n",
                "t.sched:2:15: expected an operation",
            ),
            (
                "ring 2\ntask A: migrate\n",
                "t.sched:2:16: expected a ring index after `migrate`",
            ),
            (
                "ring 2\ntask A: migrate 0 fast\n",
                "t.sched:2:19: unknown migrate option `fast`",
            ),
            (
                "ring 2\ntask A: migrate 0 sync async\n",
                "t.sched:2:24: the migration mode is already given",
            ),
            (
                "ring 2\ntask A: setup destroy\n",
                "t.sched:2:15: unexpected `destroy`",
            ),
            (
                "ring 2\ntask A: setup\ntask B: destroy\n",
                "t.sched:3:9: only the owner",
            ),
            (
                "ring 2\ntask A: setup, migrate 2\n",
                "t.sched:2:16: migrate 2 is outside the 2-page ring",
            ),
            (
                "ring 2\ntask A: setup\nrun C\n",
                "t.sched:3:5: task C does not exist: this scenario has only A",
            ),
            (
                "ring 2\ntask A: setup\nrun a\n",
                "t.sched:3:5: expected a task letter A to H",
            ),
            (
                "ring 2\ntask A: setup\nrun A after x\n",
                "t.sched:3:7: expected `until` or the end of the line",
            ),
            (
                "ring 2\ntask A: setup\nrun A until\n",
                "t.sched:3:12: expected a label after `until`",
            ),
            (
                "ring 2\ntask A: setup\nrun A until nosuch:put_page\n",
                "t.sched:3:13: unknown function `nosuch`",
            ),
            (
                "ring 2\ntask A: setup\nrun A until aio_free_ring:put_page#0\n",
                "t.sched:3:36: expected an occurrence count of 1 or more",
            ),
            (
                "ring 2\ntask A: setup\nrun A until aio_free_ring:put_page(ring[z])\n",
                "t.sched:3:13: `ring[z]` is not a valid object",
            ),
            (
                "ring 2\ntask A: setup\nexpect: fine\n",
                "t.sched:3:9: unknown verdict class `fine`",
            ),
            (
                "ring 2\ntask A: setup\nexpect:\n",
                "t.sched:3:8: expected a verdict class",
            ),
        ];
        for (text, want) in cases {
            let got = error(text);
            assert!(
                got.starts_with(want),
                "for {text:?}\n got: {got}\nwant: {want}"
            );
        }
    }

    #[test]
    fn commented_text_of_many_lines_parses_as_comments() {
        let case = parse("t", "ring 1\ntask A: setup\n").unwrap();
        let text = comment("first\nring 2\nrun A until x\n") + &print(&case);
        assert_eq!(parse("t", &text).unwrap(), case);
    }

    #[test]
    fn comments_start_at_line_start_or_after_whitespace_only() {
        let case = parse(
            "t",
            "# head\nring 1 # size\ntask A: setup\nrun A until io_setup:return#1 # c\n",
        )
        .unwrap();
        assert_eq!(case.schedule[0].until.unwrap().1, 1);
    }
}
