//! Hand-built interleavings that reproduce the cases of the kernel
//! reference (§5): each runs both ports under one label-aligned schedule and
//! asserts what each must do.

use aiodiff::{run_model, MigrateFaults, New, Old, Op, OpResult, Outcome, RunOptions, Scenario};
use kernel_sim::errno::{EAGAIN, EINVAL};
use kernel_sim::violation::{BadPage, Object};
use kernel_sim::{
    Faults, Func, Holder, LabelPattern, MigrateMode, MigrateResult, Note, PageRole, RunEnd,
    Segment, Segments, TaskId, ViolationKind,
};

const A: TaskId = TaskId(0);
const B: TaskId = TaskId(1);

fn until(task: TaskId, label: &str, n: u32) -> Segment {
    Segment {
        task,
        until: Some((LabelPattern::parse(label).expect("valid label"), n)),
    }
}

fn run(task: TaskId) -> Segment {
    Segment { task, until: None }
}

fn migrate(index: u8) -> Op {
    Op::Migrate {
        index,
        mode: MigrateMode::Sync,
        faults: MigrateFaults::default(),
        frame: None,
    }
}

/// Runs both models twice each and checks that the two runs of a model give
/// the same trace, byte for byte.
fn run_both(scenario: &Scenario, segments: &[Segment]) -> (Outcome, Outcome) {
    let old = run_model(
        &Old,
        scenario,
        &mut Segments::new(segments.to_vec()),
        RunOptions::TRACED,
    );
    let new = run_model(
        &New,
        scenario,
        &mut Segments::new(segments.to_vec()),
        RunOptions::TRACED,
    );
    for first in [&old, &new] {
        let again = if first.model == "old" {
            run_model(
                &Old,
                scenario,
                &mut Segments::new(segments.to_vec()),
                RunOptions::TRACED,
            )
        } else {
            run_model(
                &New,
                scenario,
                &mut Segments::new(segments.to_vec()),
                RunOptions::TRACED,
            )
        };
        let text = |o: &Outcome| o.trace.iter().map(|e| format!("{e}\n")).collect::<String>();
        assert_eq!(
            text(first),
            text(&again),
            "{} model is not deterministic",
            first.model
        );
        assert_eq!(first.decisions, again.decisions);
        assert_eq!(first.violations, again.violations);
    }
    (old, new)
}

fn migratepage_rcs(o: &Outcome) -> Vec<i32> {
    o.notes
        .iter()
        .filter_map(|n| match *n {
            Note::Migratepage { rc, .. } => Some(rc),
            Note::GenericMigrate { .. } => None,
        })
        .collect()
}

fn generic_rcs(o: &Outcome) -> Vec<i32> {
    o.notes
        .iter()
        .filter_map(|n| match *n {
            Note::GenericMigrate { rc, .. } => Some(rc),
            Note::Migratepage { .. } => None,
        })
        .collect()
}

fn migrated(r: &OpResult) -> MigrateResult {
    match r {
        OpResult::Migrate { result, .. } => *result,
        other => panic!("not a migration: {other:?}"),
    }
}

fn kinds(o: &Outcome) -> Vec<ViolationKind> {
    o.violations.iter().map(|v| v.kind).collect()
}

fn assert_clean(o: &Outcome) {
    assert!(
        o.violations.is_empty(),
        "{} model: unexpected violations {:#?}",
        o.model,
        o.violations
    );
    assert_eq!(o.end, RunEnd::Done, "{} model did not finish", o.model);
}

#[test]
fn setup_then_destroy_is_clean_for_every_ring_size() {
    for pages in 1..=10 {
        let scenario = Scenario {
            ring_pages: pages,
            tasks: vec![vec![Op::Setup, Op::Destroy]],
            ..Scenario::default()
        };
        let (old, new) = run_both(&scenario, &[]);
        for o in [&old, &new] {
            assert_clean(o);
            assert!(matches!(o.results[0][0], OpResult::Setup(Ok(_))));
            assert_eq!(o.results[0][1], OpResult::Destroy(0));
            assert_eq!(o.ctxs.len(), 1);
            assert!(o.ctxs[0].freed, "{} ring of {pages}", o.model);
            assert_eq!(o.ctxs[0].nr_pages, i64::from(pages));
        }
    }
}

#[test]
fn a_live_ring_keeps_its_header_and_id() {
    let scenario = Scenario {
        ring_pages: 2,
        tasks: vec![vec![Op::Setup]],
        ..Scenario::default()
    };
    let (old, new) = run_both(&scenario, &[]);
    for o in [&old, &new] {
        assert_clean(o);
        let ring = &o.ctxs[0].ring;
        assert_eq!(ring.len(), 2);
        let (role, data) = ring[0].expect("page 0 present");
        assert_eq!(role, PageRole::Ring);
        // ring->id was overwritten by ioctx_add_table with the table slot.
        assert_eq!(data[0], 0);
        assert_eq!(data[4], model_old::aio::AIO_RING_MAGIC);
    }
}

/// A1 / D1: a migration of page 0 while setup is between pages. The old
/// code has published ring_pages[0] but not nr_pages, so aio_migratepage's
/// first check fails with -EINVAL; the new code published both under the
/// page lock and migrates.
#[test]
fn a1_migration_during_the_setup_loop() {
    let scenario = Scenario {
        ring_pages: 2,
        tasks: vec![vec![Op::Setup], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "find_or_create_page:alloc_page(ring[1])", 1),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);

    assert_clean(&old);
    assert_eq!(migratepage_rcs(&old), [EINVAL]);
    assert_eq!(migrated(&old.results[1][0]), MigrateResult::Migrated(1));
    assert_eq!(old.ctxs[0].ring[0].unwrap().0, PageRole::Ring);

    assert_clean(&new);
    assert_eq!(migratepage_rcs(&new), [0]);
    assert_eq!(migrated(&new.results[1][0]), MigrateResult::Migrated(0));
    assert_eq!(new.ctxs[0].ring[0].unwrap().0, PageRole::New);
    // The contents agree: the header was written after the migration.
    assert_eq!(
        old.ctxs[0].ring[0].unwrap().1,
        new.ctxs[0].ring[0].unwrap().1
    );
}

/// A2 / D2: the migrator reaches page 0 after teardown's loop cleared
/// ring_pages[0] but before truncation. The old code refuses every pass with
/// -EAGAIN from the first check. The new code truncates first, so the page
/// has no mapping by then and takes the generic path, which also refuses
/// while aio_free_ring still holds its reference.
#[test]
fn a2_migration_racing_aio_free_ring() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Destroy], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "lookup_ioctx:read(mm->ioctx_table)", 1),
        until(B, "alloc_migrate_target:alloc_page(new[0])", 1),
        until(A, "aio_free_ring:put_page(ring[0])", 1),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);

    assert_clean(&old);
    assert_eq!(migratepage_rcs(&old), [EAGAIN; 10]);
    assert!(generic_rcs(&old).is_empty());
    assert_eq!(migrated(&old.results[1][0]), MigrateResult::Migrated(1));

    assert_clean(&new);
    assert!(migratepage_rcs(&new).is_empty());
    assert_eq!(generic_rcs(&new), [EAGAIN; 10]);
    assert_eq!(migrated(&new.results[1][0]), MigrateResult::Migrated(1));

    for o in [&old, &new] {
        assert_eq!(o.results[0][1], OpResult::Destroy(0));
        assert!(o.ctxs[0].freed);
    }
}

/// A2 with the put inside the freeze: the migrator has frozen page 0's
/// count when the old aio_free_ring drops the ring's reference. That is a
/// put on a frozen page, not on a freed one (the unfreeze would have
/// overwritten it), and the old teardown oopses on it. The new code has
/// truncated the page before the migrator finds it.
#[test]
fn a2_the_old_teardown_puts_a_page_the_migrator_froze() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Destroy], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "aio_setup_ring:unlock_page(ring[0])", 1),
        run(B),
        until(A, "lookup_ioctx:read(mm->ioctx_table)", 1),
        until(
            B,
            "migrate_page_move_mapping:page_unfreeze_refs(ring[0])",
            1,
        ),
        run(A),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    // The oops leaves teardown half done, which the end-of-run audit sees.
    assert_eq!(kinds(&old)[0], ViolationKind::PutPageFrozen);
    let v = &old.violations[0];
    assert_eq!(v.task, Some(A));
    assert_eq!(
        v.label.unwrap().to_string(),
        "aio_free_ring:put_page(ring[0])"
    );
    assert!(!kinds(&new).contains(&ViolationKind::PutPageFrozen));
}

/// D2, the other ending: the migrator isolated page 0 and teardown then ran
/// to completion. Only the isolation reference is left, so both treat the
/// page as freed under them, and the page is freed cleanly.
#[test]
fn d2_page_freed_under_the_migrator() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Destroy], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "lookup_ioctx:read(mm->ioctx_table)", 1),
        until(B, "alloc_migrate_target:alloc_page(new[0])", 1),
        run(A),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        assert!(migratepage_rcs(o).is_empty());
        assert_eq!(generic_rcs(o), [0]);
        assert_eq!(migrated(&o.results[1][0]), MigrateResult::Migrated(0));
    }
}

/// A3: truncation's lookup holds a reference when the migrator checks the
/// count in migrate_page_move_mapping: both models refuse with -EAGAIN, on
/// every pass while truncation waits.
#[test]
fn a3_move_mapping_refuses_while_truncate_holds_a_lookup_reference() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Truncate], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "put_aio_ring_file:read(ctx->aio_ring_file)", 1),
        until(B, "migrate_page_move_mapping:radix_tree_lookup(ring[0])", 1),
        until(A, "truncate_inode_pages_range:trylock_page(ring[0])", 1),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        assert_eq!(migratepage_rcs(o), [EAGAIN; 10], "{}", o.model);
        assert_eq!(migrated(&o.results[1][0]), MigrateResult::Migrated(1));
        assert_eq!(o.results[0][1], OpResult::Truncate);
    }
}

/// A3, the transient reference: another holder's find_get_page reference is
/// there when the migrator checks the count.
#[test]
fn a3_transient_reference_makes_move_mapping_refuse() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![
            vec![Op::Setup],
            vec![Op::Migrate {
                index: 0,
                mode: MigrateMode::Async,
                faults: MigrateFaults {
                    extra_ref: true,
                    no_target: false,
                },
                frame: None,
            }],
        ],
        ..Scenario::default()
    };
    let holder = TaskId(2);
    let schedule = [
        run(A),
        until(B, "migrate_page_move_mapping:radix_tree_lookup(ring[0])", 1),
        until(holder, "find_get_page:put_page(ring[0])", 1),
        until(B, "migrate_page_move_mapping:radix_tree_lookup(ring[0])", 2),
        run(holder),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        // Refused while the holder's reference is there, then migrated on
        // the next pass once it is dropped.
        assert_eq!(migratepage_rcs(o), [EAGAIN, 0], "{}", o.model);
        assert_eq!(migrated(&o.results[1][0]), MigrateResult::Migrated(0));
    }
}

/// B1: teardown drops the old page's aio reference between the old code's
/// migrate_page_move_mapping and its second check. The old code fails after
/// the page cache already points at the new page: the new page keeps the
/// tree slot with no mapping, truncation can never finish, and the old page
/// is freed with its mapping set. The same schedule lets the new code
/// migrate and tear down cleanly.
#[test]
fn b1_half_migrated_page() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Destroy], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "lookup_ioctx:read(mm->ioctx_table)", 1),
        until(B, "aio_migratepage:spin_lock(private_lock)", 2),
        until(A, "put_aio_ring_file:read(ctx->aio_ring_file)", 1),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);

    assert_eq!(migratepage_rcs(&old), [EAGAIN]);
    // The next pass finds only the isolation reference: "freed under us".
    assert_eq!(generic_rcs(&old), [0]);
    let old_kinds = kinds(&old);
    assert!(
        old_kinds.contains(&ViolationKind::TruncateLivelock),
        "{old_kinds:?}"
    );
    assert!(
        old_kinds.contains(&ViolationKind::BadPageState(BadPage::Mapping)),
        "{old_kinds:?}"
    );
    assert!(
        old_kinds.contains(&ViolationKind::TreeMappingMismatch),
        "{old_kinds:?}"
    );
    let livelock = old
        .violations
        .iter()
        .find(|v| v.kind == ViolationKind::TruncateLivelock)
        .unwrap();
    assert_eq!(livelock.task, Some(A));
    assert!(!old.ctxs[0].freed, "teardown never finishes");

    assert_clean(&new);
    assert_eq!(migratepage_rcs(&new), [0]);
    assert_eq!(new.results[0][1], OpResult::Destroy(0));
    assert!(new.ctxs[0].freed);
}

/// A ring of `ring_pages` whose setup fails to allocate page 1, beside a
/// migration of page 0.
fn setup_failing_at_page_1_beside_migrate_0(ring_pages: u8) -> Scenario {
    Scenario {
        ring_pages,
        tasks: vec![vec![Op::Setup], vec![migrate(0)]],
        faults: Faults {
            page_alloc_fails_at: Some(1),
            ..Faults::default()
        },
        ..Scenario::default()
    }
}

/// Setup fails to allocate ring page 1 while a migrator moves page 0: both
/// unwind through aio_free_ring and ioctx_alloc's error path cleanly.
#[test]
fn setup_failure_at_k_with_a_concurrent_migration() {
    let scenario = setup_failing_at_page_1_beside_migrate_0(3);
    let schedule = [
        until(A, "find_or_create_page:alloc_page(ring[1])", 1),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        assert_eq!(
            o.results[0][0],
            OpResult::Setup(Err(kernel_sim::errno::ENOMEM))
        );
        assert!(o.ctxs[0].freed);
        assert_eq!(o.ctxs[0].nr_pages, 1);
    }
    assert_eq!(migratepage_rcs(&old), [EINVAL]);
    assert_eq!(migratepage_rcs(&new), [0]);
}

/// kcalloc of a 10-page ring's array fails, and mmap of the ring fails:
/// both models unwind without leaks.
#[test]
fn kcalloc_and_mmap_failures_unwind_cleanly() {
    for (pages, faults) in [
        (
            10,
            Faults {
                kcalloc_fails: true,
                ..Faults::default()
            },
        ),
        (
            2,
            Faults {
                mmap_fails: true,
                ..Faults::default()
            },
        ),
    ] {
        let scenario = Scenario {
            ring_pages: pages,
            tasks: vec![vec![Op::Setup]],
            faults,
            ..Scenario::default()
        };
        let (old, new) = run_both(&scenario, &[]);
        for o in [&old, &new] {
            assert_clean(o);
            assert_eq!(
                o.results[0][0],
                OpResult::Setup(Err(kernel_sim::errno::ENOMEM))
            );
            assert!(o.ctxs[0].freed);
        }
    }
}

/// §3.8: the reference counts of the old page P and the new page N through
/// a successful aio migration, in order, for both models.
#[test]
fn refcount_walkthrough_of_a_successful_migration() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup], vec![migrate(0)]],
        ..Scenario::default()
    };
    let (old, new) = run_both(&scenario, &[run(A), run(B)]);
    for o in [&old, &new] {
        assert_clean(o);
        let counts: Vec<String> = o
            .trace
            .iter()
            .filter(|e| e.task == B)
            .filter_map(|e| match e.effect {
                kernel_sim::Effect::Count(p, c) => Some(format!("{}{}={c}", p.role, p.idx)),
                kernel_sim::Effect::Freed(p) => Some(format!("{}{} freed", p.role, p.idx)),
                _ => None,
            })
            .collect();
        assert_eq!(
            counts,
            [
                // lru_add_drain_all dropped setup's pagevec reference; then
                // do_migrate_range: get_page_unless_zero, isolate_lru_page
                // (cache + aio + pfn walk + iso), put_page: cache + aio + iso.
                "ring0=3", "ring0=4", "ring0=3", // aio_migratepage: get_page(new).
                "new0=2",  // migrate_page_move_mapping: 3 == 3, freeze.
                "ring0=0", // get_page(new) for the cache; slot = N; unfreeze to 2.
                "new0=3", "ring0=2",
                // aio_migratepage: put_page(old): only the isolation ref left.
                "ring0=1",
                // putback_lru_page(P): pagevec +1, then the isolation ref goes.
                "ring0=2", "ring0=1",
                // putback_lru_page(N): pagevec +1, then the allocation ref goes.
                "new0=4", "new0=3",
            ],
            "{} model",
            o.model
        );
    }
}

/// The migration target cannot be allocated: migrate_pages gives up with
/// -ENOMEM before touching the page, which is put back unchanged.
#[test]
fn no_target_page_leaves_the_ring_alone() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![
            vec![Op::Setup, Op::Destroy],
            vec![Op::Migrate {
                index: 0,
                mode: MigrateMode::SyncLight,
                faults: MigrateFaults {
                    extra_ref: false,
                    no_target: true,
                },
                frame: None,
            }],
        ],
        ..Scenario::default()
    };
    let schedule = [until(A, "lookup_ioctx:read(mm->ioctx_table)", 1), run(B)];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        assert!(o.notes.is_empty());
        assert_eq!(
            migrated(&o.results[1][0]),
            MigrateResult::Migrated(kernel_sim::errno::ENOMEM)
        );
        assert_eq!(o.results[0][1], OpResult::Destroy(0));
    }
}

/// The page a migration put back sits in the migrator's LRU-add pagevec,
/// which holds it until some CPU drains. Setup reads `ring_pages[0]` for its
/// unlocked header write, the migration moves page 0 and puts the old page
/// back, and a drain by the rest of the system frees it: the header goes
/// into a freed page, in both versions. Without the drain the pagevec keeps
/// the page alive and the write is only lost.
#[test]
fn a_background_drain_frees_the_page_under_setups_header_write() {
    let c = TaskId(2);
    let schedule = |drainer: bool| {
        let mut s = vec![
            until(A, "aio_setup_ring:kmap_write(ring->header)", 1),
            run(B),
        ];
        if drainer {
            s.push(run(c));
        }
        s.push(run(A));
        s
    };
    let scenario = |drains: u8| Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup], vec![migrate(0)]],
        drains,
        ..Scenario::default()
    };
    let uaf = |o: &Outcome| {
        o.violations.iter().any(|v| {
            v.kind == ViolationKind::UseAfterFree(Object::Page)
                && v.label.is_some_and(|l| l.func == Func::AioSetupRing)
        })
    };
    let (old, new) = run_both(&scenario(1), &schedule(true));
    for o in [&old, &new] {
        assert!(uaf(o), "{}: {:#?}", o.model, o.violations);
        assert_eq!(migrated(&o.results[1][0]), MigrateResult::Migrated(0));
    }
    let (old, new) = run_both(&scenario(0), &schedule(false));
    for o in [&old, &new] {
        assert!(!uaf(o), "{}: {:#?}", o.model, o.violations);
    }
}

/// `lookup_ioctx`'s `get_user` of `ring->id` faults: `filemap_fault` finds
/// the page the migration just put in the page cache, and waits for its
/// lock, which the migrator holds until the copy is done. So teardown reads
/// the id from a whole page, never from the target's zeroes between the
/// slot replacement and the copy.
#[test]
fn get_user_of_the_ring_id_waits_for_the_copy_of_a_migrating_page() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Destroy], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "lookup_ioctx:read(mm->mmap)", 1),
        until(B, "migrate_page_copy:copy_highpage", 1),
        run(A),
        run(B),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        let step = |pred: &dyn Fn(&kernel_sim::Event) -> bool| {
            o.trace.iter().position(pred).unwrap_or_else(|| {
                panic!("{}: not in the trace", o.model);
            })
        };
        let replaced = step(&|e| e.label.to_string().contains("radix_tree_replace_slot"));
        let copy = step(&|e| e.label.func == Func::MigratePageCopy);
        let read = step(&|e| e.label.to_string() == "lookup_ioctx:read(ring->id)");
        assert!(replaced < copy, "{}", o.model);
        assert!(read > copy, "{}: the id was read before the copy", o.model);
        assert_eq!(o.results[0][1], OpResult::Destroy(0), "{}", o.model);
    }
}

/// A pfn walk meets frames, not page-cache slots. In the new code's
/// teardown the ring is truncated before the put loop, so for a moment page
/// 0 is out of the page cache but alive in `ring_pages[0]`: a migration
/// that looks the page up by index finds nothing, and one that starts from
/// the frame (`ring-frame`) reaches it and takes the generic path, where the
/// reference `ring_pages[0]` still holds makes it refuse.
#[test]
fn a_migration_of_the_frame_reaches_a_truncated_page_that_ring_pages_still_holds() {
    let scenario = |frame: Option<PageRole>| Scenario {
        ring_pages: 1,
        tasks: vec![
            vec![Op::Setup, Op::Destroy],
            vec![Op::Migrate {
                index: 0,
                mode: MigrateMode::Sync,
                faults: MigrateFaults::default(),
                frame,
            }],
        ],
        ..Scenario::default()
    };
    let schedule = [until(A, "aio_free_ring:put_page", 1), run(B), run(A)];
    let (_, by_index) = run_both(&scenario(None), &schedule);
    assert_eq!(migrated(&by_index.results[1][0]), MigrateResult::NoPage);
    let (_, by_frame) = run_both(&scenario(Some(PageRole::Ring)), &schedule);
    assert_eq!(
        migrated(&by_frame.results[1][0]),
        MigrateResult::Migrated(1)
    );
    assert!(
        migratepage_rcs(&by_frame).is_empty(),
        "no mapping, no a_ops"
    );
    assert_eq!(generic_rcs(&by_frame), [EAGAIN; 10]);
    assert_clean(&by_frame);
}

/// `aio_complete` and `aio_migratepage` serialise on `completion_lock`: a
/// completion that comes while the migrator holds the lock between the copy
/// and the store of `ring_pages[0]` waits, then writes its event and
/// `ring->tail` into the new page, and nothing is lost.
#[test]
fn a_completion_waits_for_the_migrator_holding_the_completion_lock() {
    let scenario = Scenario {
        ring_pages: 1,
        tasks: vec![vec![Op::Setup, Op::Submit], vec![migrate(0)]],
        ..Scenario::default()
    };
    let schedule = [
        until(A, "aio_complete:spin_lock_irqsave(completion_lock)", 1),
        until(B, "aio_migratepage:write(ctx->ring_pages[0])", 1),
        run(A),
        run(B),
        run(A),
    ];
    let (old, new) = run_both(&scenario, &schedule);
    for o in [&old, &new] {
        assert_clean(o);
        assert_eq!(o.results[0][1], OpResult::Submit(1), "{}", o.model);
        let step = |label: &str| {
            o.trace
                .iter()
                .position(|e| e.label.to_string() == label)
                .unwrap_or_else(|| panic!("{}: no {label}", o.model))
        };
        let store = step("aio_migratepage:write(ctx->ring_pages[0])");
        let event = step("aio_complete:kmap_write(ring->io_events[1])");
        assert!(store < event, "{}: the event went in first", o.model);
        let (role, data) = o.ctxs[0].ring[0].expect("page 0 present");
        assert_eq!(role, PageRole::New, "{}", o.model);
        assert_eq!(data[kernel_sim::mm::TAIL_WORD], 1, "{}", o.model);
        assert_eq!(data[kernel_sim::mm::EVENT_WORD], 1, "{}", o.model);
    }
}

/// A2 during setup's unwind: the old aio_free_ring has read ring_pages[0]
/// when the migrator stores new[0] there; the teardown then clears the slot
/// and puts the old page. new[0] leaks, and the report names the reference
/// never dropped: the one the migrator took for ring_pages[0], which the
/// teardown took out of the slot with its store of NULL.
#[test]
fn a_leak_names_the_reference_never_dropped() {
    let scenario = setup_failing_at_page_1_beside_migrate_0(2);
    let schedule = [
        until(A, "aio_free_ring:write(ctx->ring_pages[0])", 1),
        run(B),
        run(A),
    ];
    let (old, _) = run_both(&scenario, &schedule);
    let leak = old
        .violations
        .iter()
        .find(|v| v.kind == ViolationKind::PageLeak(PageRole::New, 0))
        .expect("the old code leaks new[0]");
    let leaked = leak.leaked.expect("a leak says what was left");
    assert_eq!(leaked.count, 1);
    let r = leaked.first.expect("the ledger follows new[0]");
    assert_eq!(r.holder, Holder::Task(A));
    assert_eq!(r.taken.task, Some(B));
    assert_eq!(
        r.taken.label.map(|l| l.to_string()).as_deref(),
        Some("aio_migratepage:get_page(new[0])")
    );
    let (from, at) = r.moved.expect("the teardown took it from the slot");
    assert_eq!(from.to_string(), "ctx0->ring_pages[0]");
    assert_eq!(at.task, Some(A));
    assert_eq!(
        at.label.map(|l| l.to_string()).as_deref(),
        Some("aio_free_ring:write(ctx->ring_pages[0])")
    );
}
