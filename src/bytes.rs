//! The versioned byte format that fuzzers speak.
//!
//! A hand-written interpreter reads the bytes through
//! [`arbitrary::Unstructured`], one byte per choice (an exhausted input reads
//! as zeros), so every byte string, the empty one included, decodes to a
//! valid case, and the meaning of a stored input never changes within a
//! version. Choices that would break a kernel rule are mapped to the
//! nearest valid one. [`encode`] writes bytes that decode back to any valid
//! case. docs/FORMAT.md describes the layout.

use arbitrary::Unstructured;
use kernel_sim::{
    Arg, Faults, Field, Func, LabelPattern, LockName, MigrateMode, OpKind, PageFlag, PageRole,
    Segment, TaskId,
};

use crate::case::Case;
use crate::scenario::{
    MigrateFaults, Op, Scenario, MAX_DRAINS, MAX_OPS, MAX_RING_PAGES, MAX_TASKS,
};

/// The first byte of version 1: every first byte but [`VERSION_2`] and
/// [`VERSION_3`] decodes as version 1, which has no background drains.
pub const VERSION_1: u8 = 1;

/// The first byte of version 2: version 1 with one more byte after the
/// programs, the background drains, named frames, and `get_user`'s fault
/// path in the tables. [`encode`] writes the lowest version that carries
/// the case, so a case without them keeps its version 1 bytes.
pub const VERSION_2: u8 = 2;

/// The first byte of version 3: version 2 with `submit` among the
/// operations, and the submission and completion path (`do_io_submit`,
/// `aio_complete`, `ctx->tail`, the ring's tail and events) in the tables.
/// Before it, a first byte of 3 read as version 1.
pub const VERSION_3: u8 = 3;

/// The newest version.
pub const LATEST: u8 = VERSION_3;

/// Most segments in a byte-encoded schedule.
pub const MAX_SEGMENTS: usize = 8;

/// Largest occurrence count (`label#n`) the byte format carries.
pub const MAX_OCCURRENCE: u32 = 64;

/// Labels the ports and the substrate perform, as `func:op` patterns: a
/// segment picks one with a single byte. Version 1 has the first
/// [`LABEL_COUNT_V1`], version 2 the first [`LABEL_COUNT_V2`], version 3
/// all of them.
pub const LABELS: [(Func, OpKind); LABEL_COUNT] = [
    (Func::FindOrCreatePage, OpKind::SetPageLocked),
    (Func::FindOrCreatePage, OpKind::ClearFlag),
    (Func::FindOrCreatePage, OpKind::AllocPage),
    (Func::FindGetPage, OpKind::PutPage),
    (Func::FindGetPage, OpKind::GetSpeculative),
    (Func::FindGetPage, OpKind::TreeLookup),
    (Func::AddToPageCacheLocked, OpKind::SpinLockIrq),
    (Func::AddToPageCacheLocked, OpKind::SpinUnlockIrq),
    (Func::AddToPageCacheLocked, OpKind::GetPage),
    (Func::AddToPageCacheLocked, OpKind::Write),
    (Func::AddToPageCacheLocked, OpKind::TreeInsert),
    (Func::DeleteFromPageCache, OpKind::SpinLockIrq),
    (Func::DeleteFromPageCache, OpKind::SpinUnlockIrq),
    (Func::DeleteFromPageCache, OpKind::PutPage),
    (Func::DeleteFromPageCache, OpKind::TestFlag),
    (Func::DeleteFromPageCache, OpKind::Read),
    (Func::DeleteFromPageCache, OpKind::Write),
    (Func::DeleteFromPageCache, OpKind::TreeDelete),
    (Func::DeleteFromPageCache, OpKind::BugOn),
    (Func::LruCacheAdd, OpKind::PagevecAdd),
    (Func::LruAddDrainAll, OpKind::PagevecLruAdd),
    (Func::IsolateLruPage, OpKind::ClearFlag),
    (Func::PutbackLruPage, OpKind::PutPage),
    (Func::PutbackLruPage, OpKind::ClearFlag),
    (Func::TruncateSetsize, OpKind::Write),
    (Func::TruncateInodePagesRange, OpKind::LockPage),
    (Func::TruncateInodePagesRange, OpKind::TrylockPage),
    (Func::TruncateInodePagesRange, OpKind::UnlockPage),
    (Func::TruncateInodePagesRange, OpKind::PutPage),
    (Func::TruncateInodePagesRange, OpKind::TestFlag),
    (Func::TruncateInodePagesRange, OpKind::Read),
    (Func::TruncateInodePagesRange, OpKind::TreeLookup),
    (Func::TruncateInodePagesRange, OpKind::PagevecLookup),
    (Func::TruncateInodePagesRange, OpKind::PagevecLruAdd),
    (Func::TruncateInodePage, OpKind::ClearFlag),
    (Func::TruncateInodePage, OpKind::Read),
    (Func::UnmapAndMove, OpKind::PageCount),
    (Func::UnmapAndMoveInner, OpKind::LockPage),
    (Func::UnmapAndMoveInner, OpKind::TrylockPage),
    (Func::UnmapAndMoveInner, OpKind::UnlockPage),
    (Func::UnmapAndMoveInner, OpKind::TestFlag),
    (Func::UnmapAndMoveInner, OpKind::Read),
    (Func::MoveToNewPage, OpKind::TrylockPage),
    (Func::MoveToNewPage, OpKind::UnlockPage),
    (Func::MoveToNewPage, OpKind::Read),
    (Func::MoveToNewPage, OpKind::Write),
    (Func::MoveToNewPage, OpKind::BugOn),
    (Func::MigratePage, OpKind::TestFlag),
    (Func::MigratePage, OpKind::BugOn),
    (Func::MigratePageMoveMapping, OpKind::SpinLockIrq),
    (Func::MigratePageMoveMapping, OpKind::SpinUnlockIrq),
    (Func::MigratePageMoveMapping, OpKind::GetPage),
    (Func::MigratePageMoveMapping, OpKind::FreezeRefs),
    (Func::MigratePageMoveMapping, OpKind::UnfreezeRefs),
    (Func::MigratePageMoveMapping, OpKind::PageCount),
    (Func::MigratePageMoveMapping, OpKind::Read),
    (Func::MigratePageMoveMapping, OpKind::TreeLookup),
    (Func::MigratePageMoveMapping, OpKind::TreeReplace),
    (Func::MigratePageCopy, OpKind::SetFlag),
    (Func::MigratePageCopy, OpKind::ClearFlag),
    (Func::MigratePageCopy, OpKind::TestFlag),
    (Func::MigratePageCopy, OpKind::CopyHighpage),
    (Func::AllocMigrateTarget, OpKind::AllocPage),
    (Func::DoMigrateRange, OpKind::PutPage),
    (Func::DoMigrateRange, OpKind::GetUnlessZero),
    (Func::DoMigrateRange, OpKind::TreeLookup),
    (Func::AllocAnonInode, OpKind::KmemCacheZalloc),
    (Func::Fput, OpKind::Write),
    (Func::FputFinal, OpKind::KmemCacheFree),
    (Func::Evict, OpKind::Read),
    (Func::Evict, OpKind::KmemCacheFree),
    (Func::Evict, OpKind::BugOn),
    (Func::DoMmapPgoff, OpKind::Write),
    (Func::VmMunmap, OpKind::Write),
    (Func::AioPrivateFile, OpKind::Write),
    (Func::AioPrivateFile, OpKind::KmemCacheZalloc),
    (Func::AioSetupRing, OpKind::DownWrite),
    (Func::AioSetupRing, OpKind::UpWrite),
    (Func::AioSetupRing, OpKind::UnlockPage),
    (Func::AioSetupRing, OpKind::SetFlag),
    (Func::AioSetupRing, OpKind::Read),
    (Func::AioSetupRing, OpKind::Write),
    (Func::AioSetupRing, OpKind::Kcalloc),
    (Func::AioSetupRing, OpKind::KmapWrite),
    (Func::IoctxAddTable, OpKind::SpinLock),
    (Func::IoctxAddTable, OpKind::SpinUnlock),
    (Func::IoctxAddTable, OpKind::Read),
    (Func::IoctxAddTable, OpKind::Write),
    (Func::IoctxAddTable, OpKind::KmapWrite),
    (Func::IoctxAlloc, OpKind::SpinLock),
    (Func::IoctxAlloc, OpKind::SpinUnlock),
    (Func::IoctxAlloc, OpKind::Read),
    (Func::IoctxAlloc, OpKind::Write),
    (Func::IoctxAlloc, OpKind::KmemCacheZalloc),
    (Func::IoctxAlloc, OpKind::KmemCacheFree),
    (Func::PutAioRingFile, OpKind::SpinLock),
    (Func::PutAioRingFile, OpKind::SpinUnlock),
    (Func::PutAioRingFile, OpKind::Read),
    (Func::PutAioRingFile, OpKind::Write),
    (Func::AioFreeRing, OpKind::PutPage),
    (Func::AioFreeRing, OpKind::Read),
    (Func::AioFreeRing, OpKind::Write),
    (Func::AioFreeRing, OpKind::Kfree),
    (Func::AioMigratepage, OpKind::SpinLock),
    (Func::AioMigratepage, OpKind::SpinUnlock),
    (Func::AioMigratepage, OpKind::SpinLockIrqsave),
    (Func::AioMigratepage, OpKind::SpinUnlockIrqrestore),
    (Func::AioMigratepage, OpKind::GetPage),
    (Func::AioMigratepage, OpKind::PutPage),
    (Func::AioMigratepage, OpKind::TestFlag),
    (Func::AioMigratepage, OpKind::Read),
    (Func::AioMigratepage, OpKind::Write),
    (Func::AioMigratepage, OpKind::BugOn),
    (Func::AioMigratepage, OpKind::VmBugOn),
    (Func::AioMigratepage, OpKind::SmpWmb),
    (Func::KillIoctx, OpKind::SpinLock),
    (Func::KillIoctx, OpKind::SpinUnlock),
    (Func::KillIoctx, OpKind::Read),
    (Func::KillIoctx, OpKind::Write),
    (Func::FreeIoctxUsers, OpKind::Write),
    (Func::FreeIoctx, OpKind::KmemCacheFree),
    (Func::AioNrSub, OpKind::SpinLock),
    (Func::AioNrSub, OpKind::SpinUnlock),
    (Func::AioNrSub, OpKind::Read),
    (Func::AioNrSub, OpKind::Write),
    (Func::IoSetup, OpKind::Read),
    (Func::IoSetup, OpKind::Write),
    (Func::IoDestroy, OpKind::Write),
    (Func::LookupIoctx, OpKind::Read),
    (Func::LookupIoctx, OpKind::Write),
    // Version 2: get_user's fault path.
    (Func::LookupIoctx, OpKind::UnlockPage),
    (Func::LookupIoctx, OpKind::PutPage),
    (Func::FilemapFault, OpKind::LockPage),
    (Func::FilemapFault, OpKind::Read),
    (Func::FilemapFault, OpKind::UnlockPage),
    (Func::FilemapFault, OpKind::PutPage),
    // Version 3: submission and completion.
    (Func::DoIoSubmit, OpKind::Write),
    (Func::AioGetReq, OpKind::Write),
    (Func::AioComplete, OpKind::SpinLockIrqsave),
    (Func::AioComplete, OpKind::SpinUnlockIrqrestore),
    (Func::AioComplete, OpKind::Read),
    (Func::AioComplete, OpKind::Write),
    (Func::AioComplete, OpKind::KmapWrite),
    (Func::AioComplete, OpKind::SmpWmb),
];

/// Entries in [`LABELS`].
pub const LABEL_COUNT: usize = 144;

/// Entries of [`LABELS`] in version 1.
pub const LABEL_COUNT_V1: usize = 130;

/// Entries of [`LABELS`] in version 2.
pub const LABEL_COUNT_V2: usize = 136;

/// Functions an explicit pattern can name in versions 1 and 2: the first
/// of `Func::ALL`; version 3 names them all.
const FUNC_COUNT_V1: usize = 46;
const FUNC_COUNT_V2: usize = 47;

/// Fields an explicit pattern can name in versions 1 and 2: the first of
/// `Field::ALL`; version 3 names them all.
const FIELD_COUNT_V2: usize = 27;

/// What a version's bytes can name.
struct Tables {
    version: u8,
    labels: &'static [(Func, OpKind)],
    funcs: &'static [Func],
    fields: &'static [Field],
}

impl Tables {
    /// The tables of the version a first byte selects.
    fn of(first: u8) -> Tables {
        match first {
            VERSION_3 => Tables {
                version: VERSION_3,
                labels: &LABELS,
                funcs: Func::ALL,
                fields: Field::ALL,
            },
            VERSION_2 => Tables {
                version: VERSION_2,
                labels: &LABELS[..LABEL_COUNT_V2],
                funcs: &Func::ALL[..FUNC_COUNT_V2],
                fields: &Field::ALL[..FIELD_COUNT_V2],
            },
            _ => Tables {
                version: VERSION_1,
                labels: &LABELS[..LABEL_COUNT_V1],
                funcs: &Func::ALL[..FUNC_COUNT_V1],
                fields: &Field::ALL[..FIELD_COUNT_V2],
            },
        }
    }

    /// The lowest version that carries `case`.
    fn lowest_for(case: &Case) -> Tables {
        [VERSION_1, VERSION_2, VERSION_3]
            .into_iter()
            .map(Tables::of)
            .find(|t| t.carries(case))
            .unwrap_or_else(|| Tables::of(LATEST))
    }

    /// Whether this version can carry `case`: its operations, its drains
    /// and named frames (version 2 on), and every pattern of its schedule.
    fn carries(&self, case: &Case) -> bool {
        let s = &case.scenario;
        let ops = s.tasks.iter().flatten().all(|op| match op {
            Op::Submit => self.version >= VERSION_3,
            Op::Migrate { frame: Some(_), .. } => self.version >= VERSION_2,
            _ => true,
        });
        let drains = s.drains == 0 || self.version >= VERSION_2;
        ops && drains
            && case.schedule.iter().all(|seg| match seg.until {
                None => true,
                Some((pat, _)) => self.names(pat),
            })
    }

    /// Whether a pattern can be written in this version: its function and
    /// field are in its tables (an any-object pattern not in its label
    /// table is written field by field).
    fn names(&self, pat: LabelPattern) -> bool {
        let field = match pat.arg {
            Some(Arg::Field(f, _) | Arg::PageField(f, ..)) => self.fields.contains(&f),
            _ => true,
        };
        self.funcs.contains(&pat.func) && field
    }
}

/// A migration's frame, by `m / 12` of its second byte (version 2 only).
const FRAMES: [Option<PageRole>; 3] = [None, Some(PageRole::Ring), Some(PageRole::New)];

const MODES: [MigrateMode; 3] = [
    MigrateMode::Async,
    MigrateMode::SyncLight,
    MigrateMode::Sync,
];

struct Reader<'a> {
    u: Unstructured<'a>,
}

impl Reader<'_> {
    /// The next byte, or 0 once the input is used up.
    fn byte(&mut self) -> u8 {
        self.u.bytes(1).map_or(0, |b| b[0])
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n
    }
}

/// Decodes any byte string into a valid case.
pub fn decode(data: &[u8]) -> Case {
    let mut r = Reader {
        u: Unstructured::new(data),
    };
    let tables = Tables::of(r.byte());
    let version = tables.version;
    let ring_pages = 1 + r.below(MAX_RING_PAGES as usize) as u8;
    let mut faults = Faults::default();
    let f = r.byte();
    if f < 8 {
        if f & 1 != 0 {
            faults.page_alloc_fails_at = Some(r.below(ring_pages as usize) as u8);
        }
        faults.kcalloc_fails = f & 2 != 0;
        faults.mmap_fails = f & 4 != 0;
    }
    let ntasks = 1 + r.below(MAX_TASKS);
    let mut tasks: Vec<Vec<Op>> = Vec::with_capacity(ntasks);
    let mut owner: Option<usize> = None;
    let mut holders = 0;
    for t in 0..ntasks {
        let nops = 1 + r.below(MAX_OPS);
        let mut program = Vec::with_capacity(nops);
        let (mut truncated, mut destroyed) = (false, false);
        for i in 0..nops {
            let mine = owner == Some(t);
            let choices = if version >= VERSION_3 { 5 } else { 4 };
            let op = match r.below(choices) {
                0 if owner.is_none() && i == 0 => {
                    owner = Some(t);
                    Some(Op::Setup)
                }
                2 if mine && !truncated && !destroyed => {
                    truncated = true;
                    Some(Op::Truncate)
                }
                3 if mine && !destroyed => {
                    destroyed = true;
                    Some(Op::Destroy)
                }
                4 if mine && !destroyed => Some(Op::Submit),
                _ => None,
            };
            let op = op.unwrap_or_else(|| {
                let index = r.below(ring_pages as usize) as u8;
                let m = r.below(if version >= VERSION_2 { 36 } else { 12 });
                let mut extra_ref = (m / 3) % 2 == 1;
                if extra_ref && ntasks + holders >= kernel_sim::exec::MAX_TASKS {
                    extra_ref = false;
                }
                holders += usize::from(extra_ref);
                Op::Migrate {
                    index,
                    mode: MODES[m % 3],
                    faults: MigrateFaults {
                        extra_ref,
                        no_target: (m / 6) % 2 == 1,
                    },
                    frame: FRAMES[m / 12],
                }
            });
            program.push(op);
        }
        tasks.push(program);
    }
    let mut drains = 0;
    if version >= VERSION_2 {
        drains = r.below(usize::from(MAX_DRAINS) + 1) as u8;
        if ntasks + holders >= kernel_sim::exec::MAX_TASKS {
            drains = 0;
        }
    }
    let scenario = Scenario {
        ring_pages,
        faults,
        tasks,
        drains,
    };
    debug_assert_eq!(scenario.validate(), Ok(()));
    let total = scenario.total_tasks();
    let nsegs = r.below(MAX_SEGMENTS + 1);
    let mut schedule = Vec::with_capacity(nsegs);
    for _ in 0..nsegs {
        let task = TaskId(r.below(total) as u8);
        let until = match r.below(3) {
            0 => None,
            1 => {
                let (func, op) = pick(&mut r, tables.labels);
                Some(LabelPattern {
                    func,
                    op,
                    arg: None,
                })
            }
            _ => Some(explicit_pattern(&mut r, &tables)),
        };
        let until = until.map(|pat| (pat, occurrence(&mut r)));
        schedule.push(Segment { task, until });
    }
    Case {
        scenario,
        schedule,
        expect: None,
    }
}

fn occurrence(r: &mut Reader<'_>) -> u32 {
    match r.byte() {
        b @ 0..=191 => 1 + u32::from(b % 4),
        b => u32::from(b - 191),
    }
}

fn pick<T: Copy>(r: &mut Reader<'_>, all: &[T]) -> T {
    all[r.below(all.len())]
}

fn role(r: &mut Reader<'_>) -> PageRole {
    if r.byte() % 2 == 0 {
        PageRole::Ring
    } else {
        PageRole::New
    }
}

/// A pattern built field by field. Objects that cannot be written in text
/// for the chosen operation (an index on a field that is not an array, a
/// page member that is not one, a flag operation on something other than a
/// flag) read as "any object".
fn explicit_pattern(r: &mut Reader<'_>, tables: &Tables) -> LabelPattern {
    let func = pick(r, tables.funcs);
    let op = pick(r, OpKind::ALL);
    let arg = match r.below(7) {
        0 => None,
        1 => Some(Arg::None),
        2 => Some(Arg::Lock(pick(r, LockName::ALL))),
        3 => {
            let flag = pick(r, PageFlag::ALL);
            let role = role(r);
            Some(Arg::Flag(flag, role, r.byte()))
        }
        4 => {
            let role = role(r);
            Some(Arg::Page(role, r.byte()))
        }
        5 => {
            let field = pick(r, tables.fields);
            let index = (r.byte() % 2 == 1).then(|| r.byte());
            Some(Arg::Field(field, index)).filter(|_| index.is_none() || field.indexed())
        }
        _ => {
            let field = pick(r, tables.fields);
            let role = role(r);
            Some(Arg::PageField(field, role, r.byte())).filter(|_| field.of_page())
        }
    };
    let arg = arg.filter(|a| op.on_flag() == matches!(a, Arg::Flag(..)));
    LabelPattern { func, op, arg }
}

fn index_of<T: PartialEq>(all: &[T], x: &T) -> u8 {
    all.iter().position(|y| y == x).expect("a listed value") as u8
}

fn role_byte(role: PageRole) -> u8 {
    match role {
        PageRole::Ring => 0,
        PageRole::New => 1,
    }
}

/// Encodes a valid case (`case.scenario.validate()` holds, occurrence
/// counts are at most [`MAX_OCCURRENCE`], at most [`MAX_SEGMENTS`]
/// segments) as bytes that [`decode`] turns back into the same case, less
/// its `expect:` line.
pub fn encode(case: &Case) -> Result<Vec<u8>, String> {
    let s = &case.scenario;
    s.validate().map_err(|e| e.to_string())?;
    if case.schedule.len() > MAX_SEGMENTS {
        return Err(format!(
            "the byte format carries at most {MAX_SEGMENTS} segments, not {}",
            case.schedule.len()
        ));
    }
    let tables = Tables::lowest_for(case);
    let version = tables.version;
    let mut out = vec![version, s.ring_pages - 1];
    let f = &s.faults;
    let bits = u8::from(f.page_alloc_fails_at.is_some())
        | u8::from(f.kcalloc_fails) << 1
        | u8::from(f.mmap_fails) << 2;
    out.push(if bits == 0 { 8 } else { bits });
    if let Some(k) = f.page_alloc_fails_at {
        out.push(k);
    }
    out.push(s.tasks.len() as u8 - 1);
    for program in &s.tasks {
        out.push(program.len() as u8 - 1);
        for op in program {
            match *op {
                Op::Setup => out.push(0),
                Op::Truncate => out.push(2),
                Op::Destroy => out.push(3),
                Op::Submit => out.push(4),
                Op::Migrate {
                    index,
                    mode,
                    faults,
                    frame,
                } => {
                    out.push(1);
                    out.push(index);
                    let m = index_of(&MODES, &mode)
                        + 3 * u8::from(faults.extra_ref)
                        + 6 * u8::from(faults.no_target)
                        + 12 * index_of(&FRAMES, &frame);
                    out.push(m);
                }
            }
        }
    }
    if version >= VERSION_2 {
        out.push(s.drains);
    }
    out.push(case.schedule.len() as u8);
    for seg in &case.schedule {
        out.push(seg.task.0);
        let Some((pat, n)) = seg.until else {
            out.push(0);
            continue;
        };
        if !(1..=MAX_OCCURRENCE).contains(&n) {
            return Err(format!(
                "the byte format carries occurrence counts 1 to {MAX_OCCURRENCE}, not {n}"
            ));
        }
        match (
            pat.arg,
            tables.labels.iter().position(|&l| l == (pat.func, pat.op)),
        ) {
            (None, Some(i)) => {
                out.push(1);
                out.push(i as u8);
            }
            _ => {
                out.push(2);
                out.push(index_of(tables.funcs, &pat.func));
                out.push(index_of(OpKind::ALL, &pat.op));
                encode_arg(&mut out, pat.arg, &tables);
            }
        }
        out.push(if n <= 4 { n as u8 - 1 } else { 191 + n as u8 });
    }
    Ok(out)
}

fn encode_arg(out: &mut Vec<u8>, arg: Option<Arg>, tables: &Tables) {
    match arg {
        None => out.push(0),
        Some(Arg::None) => out.push(1),
        Some(Arg::Lock(l)) => out.extend([2, index_of(LockName::ALL, &l)]),
        Some(Arg::Flag(f, role, i)) => {
            out.extend([3, index_of(PageFlag::ALL, &f), role_byte(role), i])
        }
        Some(Arg::Page(role, i)) => out.extend([4, role_byte(role), i]),
        Some(Arg::Field(f, None)) => out.extend([5, index_of(tables.fields, &f), 0]),
        Some(Arg::Field(f, Some(i))) => out.extend([5, index_of(tables.fields, &f), 1, i]),
        Some(Arg::PageField(f, role, i)) => {
            out.extend([6, index_of(tables.fields, &f), role_byte(role), i])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;
    use proptest::prelude::*;

    #[test]
    fn the_empty_input_is_a_valid_case() {
        let case = decode(&[]);
        assert_eq!(case.scenario.validate(), Ok(()));
        assert_eq!(case.scenario.tasks, vec![vec![Op::Setup]]);
        assert!(case.schedule.is_empty());
    }

    #[test]
    fn a_text_case_round_trips_through_bytes() {
        let case = text::parse(
            "t",
            "ring 10\nfault page-alloc 3\nfault mmap\ntask A: setup, truncate, destroy\ntask B: migrate 9 async extra-ref no-target\n\
             run B until migrate_page_move_mapping:page_freeze_refs#7\nrun C until aio_free_ring:put_page(new[3])#64\nrun A\n",
        )
        .unwrap();
        assert_eq!(decode(&encode(&case).unwrap()), case);
    }

    #[test]
    fn version_1_tables_end_where_version_2_began() {
        assert_eq!(Func::ALL[FUNC_COUNT_V1 - 1], Func::LookupIoctx);
        assert_eq!(Func::ALL[FUNC_COUNT_V1], Func::FilemapFault);
        assert_eq!(
            LABELS[LABEL_COUNT_V1 - 1],
            (Func::LookupIoctx, OpKind::Write)
        );
    }

    #[test]
    fn version_2_tables_end_where_version_3_began() {
        assert_eq!(Func::ALL[FUNC_COUNT_V2 - 1], Func::FilemapFault);
        assert_eq!(Func::ALL[FUNC_COUNT_V2], Func::DoIoSubmit);
        assert_eq!(Field::ALL[FIELD_COUNT_V2 - 1], Field::FCount);
        assert_eq!(Field::ALL[FIELD_COUNT_V2], Field::Tail);
        assert_eq!(
            LABELS[LABEL_COUNT_V2 - 1],
            (Func::FilemapFault, OpKind::PutPage)
        );
    }

    #[test]
    fn a_submission_and_a_stop_in_aio_complete_take_version_3() {
        let case = text::parse(
            "t",
            "ring 1\ntask A: setup, submit, destroy\ntask B: migrate 0\n\
             run A until aio_complete:read(ctx->tail)\nrun B until aio_complete:kmap_write(ring->io_events[1])\n",
        )
        .unwrap();
        let bytes = encode(&case).unwrap();
        assert_eq!(bytes[0], VERSION_3);
        assert_eq!(decode(&bytes), case);
    }

    #[test]
    fn a_stop_in_the_fault_path_and_a_named_frame_take_version_2() {
        let case = text::parse(
            "t",
            "ring 1\ntask A: setup, destroy\ntask B: migrate 0 async no-target new-frame\n\
             run A until filemap_fault:lock_page\n",
        )
        .unwrap();
        let bytes = encode(&case).unwrap();
        assert_eq!(bytes[0], VERSION_2);
        assert_eq!(decode(&bytes), case);
    }

    #[test]
    fn background_drains_take_version_2_and_a_case_without_them_keeps_version_1() {
        let parse = |drains: &str, last: char| {
            text::parse(
                "t",
                &format!("ring 1\n{drains}task A: setup\ntask B: migrate 0\nrun A\nrun {last}\n"),
            )
            .unwrap()
        };
        let with = parse("drains 2\n", 'C');
        let bytes = encode(&with).unwrap();
        assert_eq!(bytes[0], VERSION_2);
        assert_eq!(decode(&bytes), with);
        let without = parse("", 'B');
        let bytes = encode(&without).unwrap();
        assert_eq!(bytes[0], VERSION_1);
        assert_eq!(decode(&bytes).scenario.drains, 0);
    }

    proptest! {
        #[test]
        fn every_byte_string_decodes_to_a_valid_case_that_round_trips(data in proptest::collection::vec(any::<u8>(), 0..160)) {
            let case = decode(&data);
            prop_assert_eq!(case.scenario.validate(), Ok(()));
            let printed = text::print(&case);
            prop_assert_eq!(&text::parse("p", &printed).unwrap(), &case);
            prop_assert_eq!(&decode(&encode(&case).unwrap()), &case);
        }

        #[test]
        fn every_version_2_and_3_byte_string_decodes_to_a_valid_case_that_round_trips(
            version in VERSION_2..=VERSION_3,
            data in proptest::collection::vec(any::<u8>(), 0..160),
        ) {
            let data: Vec<u8> = [version].into_iter().chain(data).collect();
            let case = decode(&data);
            let submits = case.scenario.tasks.iter().flatten().any(|op| *op == Op::Submit);
            prop_assert!(version == VERSION_3 || !submits);
            prop_assert_eq!(case.scenario.validate(), Ok(()));
            let printed = text::print(&case);
            prop_assert_eq!(&text::parse("p", &printed).unwrap(), &case);
            prop_assert_eq!(&decode(&encode(&case).unwrap()), &case);
        }
    }
}
