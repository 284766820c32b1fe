//! The `aiodiff` command as its users run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aiodiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiodiff"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("aiodiff runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn run_shows_the_old_models_violation_beside_the_new_models_clean_run() {
    let o = aiodiff(&["run", "corpus/b1-half-migrated-page.sched"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("verdict: old-only:truncate-livelock@truncate_inode_pages_range"));
    assert!(out.contains("expect: old-only truncate-livelock@truncate_inode_pages_range (met)"));
    let old = &out[out.find("-- old").unwrap()..out.find("-- new").unwrap()];
    let new = &out[out.find("-- new").unwrap()..];
    assert!(old.contains("truncate-livelock by A"));
    assert!(old.contains("bad-page-state(mapping)"));
    assert!(new.contains("violations:\n  none"));
    assert!(
        out.contains("│ A") && out.contains("│ B"),
        "swimlanes per task"
    );
    assert!(out.contains("first difference"));
}

#[test]
fn run_json_is_machine_readable() {
    let o = aiodiff(&[
        "run",
        "--json",
        "--disallow",
        "EINVAL",
        "corpus/a1-migrate-during-setup.sched",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let case = &v["cases"][0];
    assert_eq!(case["verdict"]["class"], "divergence");
    assert_eq!(case["leader"], "new");
    assert_eq!(case["followed"], true);
    assert_eq!(
        case["expect_met"], false,
        "the entry expects the default table"
    );
    assert_eq!(case["old"]["results"][1][0], "refused(aio-EINVAL)");
    assert_eq!(case["new"]["results"][1][0], "migrated(aio0)");
    assert_eq!(v["refusal_table"][0]["name"], "eagain");
}

#[test]
fn allow_adds_a_counted_row_to_the_refusal_table() {
    let o = aiodiff(&[
        "run",
        "--allow",
        "EINVAL",
        "corpus/a1-migrate-during-setup.sched",
    ]);
    let out = stdout(&o);
    assert!(out.contains("verdict: allowed-refusal:einval"), "{out}");
    assert!(
        out.contains("einval           -EINVAL    1 hit(s)"),
        "{out}"
    );
}

#[test]
fn replay_checks_expectations_and_determinism() {
    let o = aiodiff(&["replay", "--twice", "corpus"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains(" 0 failed"), "{out}");

    let wrong = scratch("wrong.sched");
    std::fs::write(&wrong, "ring 1\ntask A: setup\nexpect: old-only\n").unwrap();
    let o = aiodiff(&["replay", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("expected old-only"), "{}", stdout(&o));
}

#[test]
fn encode_and_decode_round_trip_a_corpus_entry() {
    let bytes = scratch("b1.bin");
    let o = aiodiff(&[
        "encode",
        "corpus/b1-half-migrated-page.sched",
        "-o",
        bytes.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = aiodiff(&["decode", bytes.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = scratch("b1-decoded.sched");
    std::fs::write(&text, stdout(&o)).unwrap();
    let o = aiodiff(&["run", text.to_str().unwrap()]);
    assert!(stdout(&o).contains("verdict: old-only:truncate-livelock@truncate_inode_pages_range"));
}

#[test]
fn minimize_keeps_the_signature_and_drops_what_does_not_matter() {
    let padded = scratch("padded.sched");
    std::fs::write(
        &padded,
        "ring 3\ntask A: setup, destroy\ntask B: migrate 0 sync\ntask C: migrate 2 async\n\
         run A until lookup_ioctx:read(mm->ioctx_table)\nrun C\n\
         run B until aio_migratepage:spin_lock(private_lock)#2\n\
         run A until put_aio_ring_file:read(ctx->aio_ring_file)\nrun B\n",
    )
    .unwrap();
    let o = aiodiff(&["minimize", padded.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("verdict old-only:truncate-livelock@truncate_inode_pages_range"),
        "{out}"
    );
    assert!(!out.contains("task C"), "{out}");
    assert!(out.contains("ring 1"), "{out}");
}

#[test]
fn bad_input_gets_a_clear_error_and_no_panic() {
    let bad = scratch("bad.sched");
    std::fs::write(
        &bad,
        "ring 2\ntask A: setup\nrun A until aio_free_ring:frob\n",
    )
    .unwrap();
    let o = aiodiff(&["run", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.sched:3:13: unknown operation `frob`"),
        "{err}"
    );
    assert!(!err.contains("panicked"));

    let o = aiodiff(&["run", "no/such/file.sched"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("aiodiff: cannot read no/such/file.sched"));

    let o = aiodiff(&[
        "run",
        "--allow",
        "EWHAT",
        "corpus/a1-migrate-during-setup.sched",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not an errno"));

    let o = aiodiff(&["replay", "no-such-dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-dir does not exist"));
}

#[test]
fn triage_says_whether_an_artifact_reproduces() {
    let dir = scratch("triaged");
    let found = scratch("b1-artifact");
    let o = aiodiff(&[
        "encode",
        "corpus/b1-half-migrated-page.sched",
        "-o",
        found.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = aiodiff(&[
        "triage",
        "--corpus",
        dir.to_str().unwrap(),
        found.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("gives old_model: truncate-livelock@truncate_inode_pages_range"),
        "{out}"
    );

    let nothing = scratch("a1-artifact");
    let o = aiodiff(&[
        "encode",
        "corpus/a1-migrate-during-setup.sched",
        "-o",
        nothing.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = aiodiff(&[
        "triage",
        "--corpus",
        dir.to_str().unwrap(),
        nothing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("did not reproduce"), "{}", stdout(&o));
}

/// `explore` of B1's corpus entry, with witnesses in scratch `dir`: its
/// output, once it has succeeded, and the witnesses' directory.
fn explore_b1(dir: &str) -> (String, PathBuf) {
    let dir = scratch(dir);
    let o = aiodiff(&[
        "explore",
        "corpus/b1-half-migrated-page.sched",
        "--witnesses",
        dir.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    (out, dir)
}

#[test]
fn explore_names_every_return_site_and_the_checks_that_never_fire() {
    let (out, dir) = explore_b1("sites");
    let line = |site: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(site))
            .unwrap_or_else(|| panic!("no line for {site}: {out}"))
            .to_string()
    };
    // The old second check fires where teardown cleared the slot after the
    // move; its -EBUSY branch (private_data cleared) never does, though the
    // old first check returns -EAGAIN too.
    let eagain = line("old second-check:-EAGAIN ");
    assert!(
        eagain.contains("site-old-second-check-eagain.sched"),
        "{eagain}"
    );
    let ebusy = line("old second-check:-EBUSY(NULL-ctx) ");
    assert!(
        ebusy.contains("never, in 1 scenario(s) explored at K = 2"),
        "{ebusy}"
    );
    assert!(line("new move-mapping ").contains("site-new-move-mapping.sched"));
    assert!(
        out.contains("of the 6 return sites the patch removes, 3 fired"),
        "{out}"
    );

    let witness = dir.join("site-old-second-check-eagain.sched");
    let o = aiodiff(&["run", witness.to_str().unwrap()]);
    let run = stdout(&o);
    assert!(o.status.success(), "{run}{}", stderr(&o));
    let old = &run[run.find("-- old").unwrap()..run.find("-- new").unwrap()];
    assert!(
        old.contains("aio_migratepage returned from: B: second-check:-EAGAIN"),
        "{run}"
    );

    let o = aiodiff(&[
        "explore",
        "--json",
        "corpus/b1-half-migrated-page.sched",
        "--witnesses",
        dir.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sites = v["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 10, "eight old sites and two new");
    let ebusy = sites
        .iter()
        .find(|s| s["model"] == "old" && s["site"] == "second-check:-EBUSY(NULL-ctx)")
        .unwrap();
    assert_eq!(ebusy["scenarios"], 0);
    assert!(ebusy["witness"].is_null());
}

#[test]
fn minimize_keeps_the_background_drain_a_finding_needs_and_renames_its_task() {
    let padded = scratch("drains.sched");
    std::fs::write(
        &padded,
        "ring 2\ndrains 2\ntask A: setup\ntask B: migrate 0 sync\ntask C: migrate 1 async\n\
         run A until aio_setup_ring:kmap_write(ring->header)\nrun B\nrun D\nrun A\n",
    )
    .unwrap();
    let o = aiodiff(&["minimize", padded.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("verdict shared:use-after-free(page)@aio_setup_ring"),
        "{out}"
    );
    assert!(out.contains("drains 1\n"), "{out}");
    assert!(
        out.contains("run C") && !out.contains("task C"),
        "the drainer D became C: {out}"
    );
}

#[test]
fn an_exploration_the_budget_stops_claims_nothing_it_did_not_explore() {
    let dir = scratch("budget");
    let o = aiodiff(&[
        "explore",
        "corpus/b1-half-migrated-page.sched",
        "--max-executions",
        "50",
        "--witnesses",
        dir.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{}", stderr(&o));
    assert!(
        out.contains("INCOMPLETE: stopped by the budget of 50 executions"),
        "{out}"
    );
    assert!(out.contains("\nverdict: INCOMPLETE"), "{out}");
    let scope = out
        .lines()
        .find(|l| l.starts_with("explored:"))
        .expect("a scope line");
    for line in out.lines().filter(|&l| l != scope) {
        assert!(!line.contains("never"), "an unconditional never: {line}");
        assert!(
            !line.trim_start().starts_with("none") || line.contains("within the budget"),
            "an unconditional none: {line}"
        );
    }
    let complete = aiodiff(&[
        "explore",
        "corpus/b1-half-migrated-page.sched",
        "--witnesses",
        dir.to_str().unwrap(),
    ]);
    assert!(complete.status.success());
    assert!(!stdout(&complete).contains("INCOMPLETE"));
}

#[test]
fn run_reports_a_kioctx_left_live_that_user_space_cannot_reach() {
    let file = scratch("truncated.sched");
    std::fs::write(&file, "ring 1\ntask A: setup, truncate, destroy\n").unwrap();
    let o = aiodiff(&["run", file.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let unreachable = "ctx0: live, ring mapped, UNREACHABLE: lookup_ioctx of its address fails";
    assert_eq!(out.matches(unreachable).count(), 2, "{out}");
    let json = aiodiff(&["run", "--json", file.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["cases"][0]["old"]["ctxs"][0]["reachable"], false);
}

#[test]
fn verify_under_a_small_budget_says_it_is_incomplete() {
    let dir = scratch("verify-budget");
    let o = aiodiff(&[
        "verify",
        "--max-executions",
        "50",
        "--witnesses",
        dir.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{}", stderr(&o));
    assert!(out.starts_with("explored: "), "{out}");
    assert!(out.contains("\nverdict: INCOMPLETE"), "{out}");
    assert!(!out.contains("never did"), "{out}");
}

#[test]
fn an_exhaustive_exploration_reports_its_states_and_claims_every_schedule() {
    let file = scratch("setup-beside-a-migration.sched");
    std::fs::write(&file, "ring 1\ntask A: setup\ntask B: migrate 0 sync\n").unwrap();
    let dir = scratch("exhaustive");
    let args = |extra: &[&'static str]| {
        let mut a = vec!["explore", file.to_str().unwrap()];
        a.extend_from_slice(&["--exhaustive", "--witnesses", dir.to_str().unwrap()]);
        a.extend_from_slice(extra);
        aiodiff(&a)
    };
    let o = args(&[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("every schedule, exhaustive (states stored, no preemption bound)"),
        "{out}"
    );
    for version in ["old", "new"] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{version}:")))
            .expect("a line per version");
        assert!(
            line.contains("states stored") && line.contains("depth"),
            "{line}"
        );
    }
    assert!(
        out.contains("\"never\" below means on no schedule at all"),
        "{out}"
    );
    assert!(
        out.contains("never, in 1 scenario(s) explored exhaustively"),
        "{out}"
    );
    assert!(!out.contains("K ="), "{out}");

    let stopped = args(&["--max-executions", "20"]);
    let out = stdout(&stopped);
    assert_eq!(stopped.status.code(), Some(3), "{out}");
    assert!(
        out.contains("INCOMPLETE: stopped by the budget of 20 executions"),
        "{out}"
    );
    assert!(!out.contains("no schedule at all"), "{out}");

    let both = aiodiff(&["explore", file.to_str().unwrap(), "--exhaustive", "-k", "3"]);
    assert_eq!(both.status.code(), Some(2), "-k and --exhaustive conflict");
}

/// `--store-every-state` finds the same outcomes as the default search,
/// which stores only the states with a choice, and stores more states.
#[test]
fn storing_every_state_finds_the_same_outcomes_from_more_states() {
    let file = scratch("setup-beside-a-migration-every-state.sched");
    std::fs::write(&file, "ring 1\ntask A: setup\ntask B: migrate 0 sync\n").unwrap();
    let dir = scratch("every-state");
    let explore = |extra: &[&str]| -> serde_json::Value {
        let mut a = vec!["explore", file.to_str().unwrap(), "--exhaustive", "--json"];
        a.extend_from_slice(&["--witnesses", dir.to_str().unwrap()]);
        a.extend_from_slice(extra);
        let o = aiodiff(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["scenarios"][0].clone()
    };
    let (some, every) = (explore(&[]), explore(&["--store-every-state"]));
    assert_eq!(some["outcomes"], every["outcomes"]);
    for v in 0..2 {
        let states = |s: &serde_json::Value| s["stored"][v]["states"].as_u64().unwrap();
        assert!(states(&some) < states(&every), "{some} {every}");
    }
}

#[test]
fn explore_lists_races_first_with_their_deciding_pairs_and_review_rows() {
    let (out, _) = explore_b1("races");
    let races = out.find("\nraces (").expect("a races section");
    let findings = out.find("\nfindings:").expect("a findings section");
    assert!(races < findings, "races come first: {out}");
    let b1 = out[races..findings]
        .split("\n  race ")
        .find(|r| r.contains("-> old-only:truncate-livelock@truncate_inode_pages_range"))
        .expect("a race causes B1's livelock");
    assert!(b1.contains("matches the review history's B1"), "{b1}");
    assert!(
        b1.contains(
            "A's aio_free_ring:put_page(ring[0]) after B's \
             migrate_page_move_mapping:page_unfreeze_refs(ring[0]), between"
        ),
        "{b1}"
    );
    assert!(b1.contains("witness "), "{b1}");
}

/// Without `--witnesses`, `explore FILE` writes to `NAME.witnesses` in
/// the current directory, leaving `verify`'s `witnesses/` alone.
#[test]
fn explore_writes_its_witnesses_beside_the_scenarios_name() {
    let cwd = scratch("explore-default");
    std::fs::create_dir_all(&cwd).unwrap();
    let scenario = cwd.join("setup-and-migrate.sched");
    std::fs::write(&scenario, "ring 1\ntask A: setup\ntask B: migrate 0 sync\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aiodiff"))
        .args(["explore", "setup-and-migrate.sched"])
        .current_dir(&cwd)
        .output()
        .expect("aiodiff runs");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let written = cwd.join("setup-and-migrate.witnesses");
    assert!(std::fs::read_dir(&written).unwrap().count() > 0);
    assert!(!cwd.join("witnesses").exists());
}

/// `catalogue DIR` writes every scenario `verify` explores as a `.sched`
/// file that replays to its own `expect:` line and encodes as fuzzer bytes.
#[test]
fn catalogue_writes_scenarios_that_replay_and_encode() {
    let dir = scratch("catalogue");
    let _ = std::fs::remove_dir_all(&dir);
    let o = aiodiff(&["catalogue", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(stdout(&o).contains(&format!("wrote {} scenario(s)", files.len())));
    assert!(files.len() > 40, "{files:?}");
    let replay = aiodiff(&["replay", dir.to_str().unwrap()]);
    assert!(replay.status.success(), "{}", stdout(&replay));
    assert!(stdout(&replay).contains(&format!("{} passed, 0 failed", files.len())));
    let ring9 = files
        .iter()
        .find(|f| std::fs::read_to_string(f).unwrap().contains("ring 9\n"))
        .expect("the catalogue has a nine-page ring");
    let bytes = aiodiff(&["encode", ring9.to_str().unwrap()]);
    assert!(bytes.status.success(), "{}", stderr(&bytes));
    assert!(!bytes.stdout.is_empty());
}

/// `hunt --out DIR` names each case after its signature and never writes
/// over what an earlier hunt left there.
#[test]
fn hunt_keeps_what_an_earlier_hunt_wrote() {
    let dir = scratch("hunt-out");
    let _ = std::fs::remove_dir_all(&dir);
    let args = ["hunt", "--time", "2s", "--out", dir.to_str().unwrap()];
    let first = aiodiff(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    let before: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    assert!(!before.is_empty(), "{}", stdout(&first));
    assert!(before.iter().all(|(p, _)| p
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("hunt-")));
    let second = aiodiff(&args);
    assert!(second.status.success(), "{}", stderr(&second));
    for (p, text) in &before {
        assert_eq!(
            &std::fs::read_to_string(p).unwrap(),
            text,
            "{}",
            p.display()
        );
    }
    let after = std::fs::read_dir(&dir).unwrap().count();
    assert!(after > before.len());
}

/// `hunt --out` checks where it will write before it hunts: a directory
/// it cannot create fails at once (no progress line), with the path and
/// the reason.
#[test]
fn hunt_out_that_cannot_be_created_fails_before_hunting() {
    let file = scratch("hunt-out-file");
    std::fs::write(&file, "a file, not a directory").unwrap();
    let under = file.join("cases");
    let o = aiodiff(&["hunt", "--time", "3s", "--out", under.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("cannot create") && err.contains("hunt-out-file"),
        "{err}"
    );
    assert!(!err.contains("tries"), "it hunted first: {err}");
}
