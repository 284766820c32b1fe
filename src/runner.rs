//! Runs one model on a scenario under a scheduler and collects its outcome.

use std::cell::RefCell;

use kernel_sim::{
    AioModel, Config, CtxId, Event, History, Kernel, MigrateResult, Note, PageRole, RunEnd,
    Scheduler, TaskFuture, TaskId, Violation,
};

use crate::scenario::{Op, Scenario};

/// What `io_submit` returned, as printed: the number submitted, or the
/// errno.
pub fn submitted(n: i64) -> String {
    match i32::try_from(n) {
        Ok(e) if e < 0 => kernel_sim::errno::name(e),
        _ => n.to_string(),
    }
}

/// The result of one operation.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum OpResult {
    /// `io_setup` returned the context handle, or an errno.
    Setup(Result<u64, i32>),
    /// How the migration request ended, with the return code of each
    /// `aio_migratepage` call and of each pass that took the generic path,
    /// in order.
    Migrate {
        /// What `migrate_ring_page` returned.
        result: MigrateResult,
        /// `aio_migratepage` return codes.
        aio: Vec<i32>,
        /// Generic-path codes (0 for "freed under us").
        generic: Vec<i32>,
    },
    /// `put_aio_ring_file` returned.
    Truncate,
    /// `io_submit` returned this: the number submitted, or an errno.
    Submit(i64),
    /// `io_destroy` returned this.
    Destroy(i32),
    /// The operation could not start: the task has no context.
    NoContext,
}

/// The state of one kioctx at the end of a run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CtxState {
    /// Whether `kmem_cache_free` released it.
    pub freed: bool,
    /// `nr_pages`.
    pub nr_pages: i64,
    /// Whether the ring is still mapped into the process: a vma of its ring
    /// file is left (`io_destroy` unmaps it).
    pub mapped: bool,
    /// Whether user space can still reach it: `lookup_ioctx` of its address
    /// finds it (not after a lost store of `ring->id`, or the harness-only
    /// `truncate`).
    pub reachable: bool,
    /// `ring_pages[i]` for `i < nr_pages`: what the page was allocated as,
    /// and its contents (header words and event word).
    pub ring: Vec<Option<(PageRole, [u32; kernel_sim::mm::PAGE_WORDS])>>,
}

/// Everything a run of one model produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Which model ran.
    pub model: &'static str,
    /// Each task's operation results, in program order; tasks that hold a
    /// transient reference for a migration fault have none.
    pub results: Vec<Vec<OpResult>>,
    /// Return codes of `aio_migratepage` and of the generic path.
    pub notes: Vec<Note>,
    /// Every violation, including the end-of-run oracles.
    pub violations: Vec<Violation>,
    /// How the run ended.
    pub end: RunEnd,
    /// The final state of each kioctx.
    pub ctxs: Vec<CtxState>,
    /// `aio_nr` at the end: the events the live kioctxs account for.
    pub aio_nr: u64,
    /// The full trace.
    pub trace: Vec<Event>,
    /// The scheduler's decisions, for replay.
    pub decisions: Vec<TaskId>,
    /// The shared events, if recorded.
    pub history: History,
    /// The interleaving's features, if kept.
    pub interleaving: Vec<u32>,
}

impl Outcome {
    /// The signatures of its violations, in the order they happened.
    pub fn signatures(&self) -> Vec<String> {
        self.violations.iter().map(|v| v.signature()).collect()
    }
}

#[cfg(test)]
impl Outcome {
    /// An outcome with these results and nothing else, for tests.
    pub(crate) fn with_results(model: &'static str, results: Vec<Vec<OpResult>>) -> Outcome {
        Outcome {
            model,
            results,
            notes: Vec::new(),
            violations: Vec::new(),
            end: RunEnd::Done,
            ctxs: Vec::new(),
            aio_nr: 0,
            trace: Vec::new(),
            decisions: Vec::new(),
            history: History::default(),
            interleaving: Vec::new(),
        }
    }
}

/// What a run records besides results and violations.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RunOptions {
    /// Keep the full trace.
    pub tracing: bool,
    /// Keep the shared events (and name pending actions for the
    /// scheduler).
    pub history: bool,
    /// Name pending actions for the scheduler, keeping nothing.
    pub keys: bool,
    /// Fold each task's observations into its local state, so that the
    /// scheduler can fingerprint states (see [`kernel_sim::fingerprint`]).
    pub observe: bool,
    /// Keep the interleaving's features, for a fuzzer's coverage
    /// ([`kernel_sim::interleaving`]).
    pub interleaving: bool,
}

impl RunOptions {
    /// Results and violations only: the fastest.
    pub const QUIET: RunOptions = RunOptions {
        tracing: false,
        history: false,
        keys: false,
        observe: false,
        interleaving: false,
    };
    /// With the trace, for people.
    pub const TRACED: RunOptions = RunOptions {
        tracing: true,
        history: false,
        keys: false,
        observe: false,
        interleaving: false,
    };
    /// Results and violations, with states fingerprinted, for a search
    /// that stores them.
    pub const OBSERVED: RunOptions = RunOptions {
        tracing: false,
        history: false,
        keys: false,
        observe: true,
        interleaving: false,
    };

    /// These options with the shared events recorded too.
    pub fn with_history(self) -> RunOptions {
        RunOptions {
            history: true,
            ..self
        }
    }

    /// These options with pending actions named for the scheduler.
    pub fn with_keys(self) -> RunOptions {
        RunOptions { keys: true, ..self }
    }
}

/// The `nr_events` for `io_setup` that gives a ring of `pages` pages with
/// [`kernel_sim::objects::NUM_POSSIBLE_CPUS`] CPUs.
pub fn nr_events_for_pages(pages: u8) -> u32 {
    match pages {
        0 | 1 => 1,
        p => 64 * (u32::from(p) - 1),
    }
}

/// Runs `model` on `scenario` under `sched`.
pub fn run_model<M: AioModel>(
    model: &M,
    scenario: &Scenario,
    sched: &mut dyn Scheduler,
    opts: RunOptions,
) -> Outcome {
    let k = Kernel::new(Config {
        faults: scenario.faults,
        tracing: opts.tracing,
        history: opts.history,
        keys: opts.keys,
        observe: opts.observe,
        interleaving: opts.interleaving,
        ..Config::default()
    });
    let results: RefCell<Vec<Vec<OpResult>>> = RefCell::new(vec![Vec::new(); scenario.tasks.len()]);
    let mut tasks: Vec<TaskFuture<'_>> = Vec::new();
    for (t, program) in scenario.tasks.iter().enumerate() {
        tasks.push(Box::pin(run_program(
            model,
            &k,
            scenario.ring_pages,
            program,
            &results,
            t,
        )));
    }
    for program in &scenario.tasks {
        for op in program {
            if let Op::Migrate { index, faults, .. } = *op {
                if faults.extra_ref {
                    let k = &k;
                    tasks.push(Box::pin(async move {
                        k.begin_op();
                        k.transient_reference(index.into()).await
                    }));
                }
            }
        }
    }
    if scenario.drains > 0 {
        let k = &k;
        tasks.push(Box::pin(background_drains(k, scenario.drains)));
    }
    let end = k.run(tasks, sched);
    let violations = match end {
        RunEnd::Pruned => k.violations(),
        _ => k.finish(),
    };
    let ctxs = k.inspect(|st| {
        (0..st.ctxs.len())
            .map(|i| {
                let c = CtxId(i as u8);
                let inode = st.ctxs[i].ring_inode;
                CtxState {
                    freed: st.ctxs[i].freed,
                    nr_pages: st.ctxs[i].nr_pages,
                    mapped: st
                        .mm
                        .vmas
                        .iter()
                        .any(|v| Some(st.files[v.file.0 as usize].inode) == inode),
                    reachable: !st.ctxs[i].freed
                        && st.lookup_ioctx_at_rest(st.ctxs[i].user_id) == Some(c),
                    ring: st
                        .ring_pages_of(c)
                        .into_iter()
                        .map(|p| p.map(|p| (p.role, st.pages[p.index()].data)))
                        .collect(),
                }
            })
            .collect()
    });
    let (notes, trace, decisions) = k.take_records();
    let history = k.take_history();
    let interleaving = k.take_interleaving();
    Outcome {
        model: M::NAME,
        results: results.into_inner(),
        notes,
        violations,
        end,
        ctxs,
        aio_nr: k.inspect(|st| st.aio_nr),
        trace,
        decisions,
        history,
        interleaving,
    }
}

async fn run_program<M: AioModel>(
    model: &M,
    k: &Kernel,
    ring_pages: u8,
    program: &[Op],
    results: &RefCell<Vec<Vec<OpResult>>>,
    task: usize,
) {
    let mut ctx_id = None;
    // Each request's aio_data, which its event carries: 1, 2, ...
    let mut submits = 0;
    for op in program {
        k.begin_op();
        let result = match *op {
            Op::Setup => {
                let r = model.io_setup(k, nr_events_for_pages(ring_pages)).await;
                ctx_id = r.ok();
                OpResult::Setup(r)
            }
            Op::Migrate {
                index,
                mode,
                faults,
                frame,
            } => {
                let faults = kernel_sim::migrate::MigrateFaults {
                    no_target: faults.no_target,
                };
                let before = k.inspect(|st| st.notes.len());
                let result = k
                    .migrate_ring_page(model, index.into(), frame, mode, faults)
                    .await;
                let (mut aio, mut generic) = (Vec::new(), Vec::new());
                k.inspect(|st| {
                    for note in &st.notes[before..] {
                        match *note {
                            Note::Migratepage { task: t, rc, .. } if t.index() == task => {
                                aio.push(rc)
                            }
                            Note::GenericMigrate { task: t, rc, .. } if t.index() == task => {
                                generic.push(rc)
                            }
                            _ => {}
                        }
                    }
                });
                OpResult::Migrate {
                    result,
                    aio,
                    generic,
                }
            }
            Op::Truncate => match ctx_id.and_then(|id| ctx_of(k, id)) {
                Some(ctx) => {
                    model.put_aio_ring_file(k, ctx).await;
                    OpResult::Truncate
                }
                None => OpResult::NoContext,
            },
            Op::Submit => match ctx_id {
                Some(id) => {
                    submits += 1;
                    OpResult::Submit(model.io_submit(k, id, submits).await)
                }
                None => OpResult::NoContext,
            },
            Op::Destroy => match ctx_id {
                Some(id) => OpResult::Destroy(model.io_destroy(k, id).await),
                None => OpResult::NoContext,
            },
        };
        k.give_result(&result);
        results.borrow_mut()[task].push(result);
        k.end_op();
    }
}

/// The rest of the system: another CPU runs `lru_add_drain_all` `n` times,
/// each a request of its own, so a schedule may place each drain between
/// any two actions of the scenario's tasks.
async fn background_drains(k: &Kernel, n: u8) {
    for _ in 0..n {
        k.begin_op();
        k.lru_add_drain_all().await;
    }
}

/// The kioctx user space knows as `ctx_id`.
fn ctx_of(k: &Kernel, ctx_id: u64) -> Option<CtxId> {
    k.observe(|st| {
        st.ctxs
            .iter()
            .position(|c| c.user_id == ctx_id)
            .map(|i| CtxId(i as u8))
    })
}
