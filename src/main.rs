//! The `aiodiff` command line.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use aiodiff::case::Case;
use aiodiff::explore::ExploreOptions;
use aiodiff::report::{RowReport, RunReport};
use aiodiff::{bytes, minimize, swimlane, text, Class, Judge, Judged, RefusalTable};

/// Differential checking of the fs/aio.c ring-page migration cleanup: runs
/// the code from before and after the patch under the same schedule and
/// says whether they agree.
#[derive(Parser)]
#[command(name = "aiodiff", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run `.sched` files: the verdict, then both models' traces as
    /// swimlanes with the first difference marked.
    Run {
        /// The `.sched` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Replay regression entries: check each file's `expect:` line and print
    /// a summary; the exit status is 1 on any mismatch.
    Replay {
        /// `.sched` files, or directories searched for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run each case twice and check that the traces are identical.
        #[arg(long)]
        twice: bool,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Turn a fuzzer input (bytes) into `.sched` text on standard output.
    Decode {
        /// The byte file, e.g. a libFuzzer or AFL crash.
        file: PathBuf,
    },
    /// Write the scenarios `verify` explores as `.sched` files, each with no
    /// schedule (the default policy runs it) and the `expect:` line its
    /// replay gives: seeds for the fuzz targets (fuzz/seeds.sh).
    Catalogue {
        /// The directory to write them into.
        dir: PathBuf,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Turn a `.sched` file into fuzzer bytes.
    Encode {
        /// The `.sched` file.
        file: PathBuf,
        /// Where to write the bytes (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Explore every schedule of a scenario (up to a preemption bound) in
    /// both versions, compare their sets of outcomes, and write the
    /// shortest witness of each finding. The exit status is 1 on a
    /// regression or a divergence, else 3 if the execution budget stopped
    /// an exploration.
    Explore {
        /// The `.sched` file; its schedule is ignored.
        file: PathBuf,
        /// Most preemptions per schedule.
        #[arg(short = 'k', long, default_value_t = 2, conflicts_with = "exhaustive")]
        preemptions: u32,
        /// Explore every schedule, with no preemption bound, storing the
        /// states explored so that none is explored twice.
        #[arg(long)]
        exhaustive: bool,
        /// With --exhaustive, take every step from every state, without
        /// sleep sets: slower, the same outcomes, and with
        /// --store-every-state the same states.
        #[arg(long, requires = "exhaustive")]
        no_sleep_sets: bool,
        /// With --exhaustive, visit and store every reachable state: also
        /// those with one task to try, and those only runs that would end
        /// with every task asleep reach. More time and memory, the same
        /// outcomes, and "states stored" counts the distinct states.
        #[arg(long, requires = "exhaustive")]
        store_every_state: bool,
        /// Most executions of each version; an exploration that hits it is
        /// incomplete, and says so.
        #[arg(long, value_name = "N", default_value_t = ExploreOptions::default().max_executions)]
        max_executions: usize,
        /// Where to write the witnesses [default: FILE's name without
        /// `.sched`, then `.witnesses`, in the current directory, so that a
        /// run in the project's root leaves verify's witnesses/ alone].
        #[arg(long)]
        witnesses: Option<PathBuf>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Explore the built-in catalogue of scenarios and state the verdict on
    /// the patch; the exit status is 1 on a regression or a divergence,
    /// else 3 if the execution budget stopped an exploration.
    Verify {
        /// Most executions of each version in each scenario; an
        /// exploration that hits it is incomplete, and says so.
        #[arg(long, value_name = "N", default_value_t = ExploreOptions::default().max_executions)]
        max_executions: usize,
        /// Explore each scenario first with no preemption bound, storing
        /// states, within N executions per version; keep that where it
        /// completes, else explore the scenario with its bound.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "500000")]
        exhaustive: Option<usize>,
        /// Also write the verdict, with each witness's swimlanes, here.
        #[arg(long, value_name = "REPORT.md")]
        report: Option<PathBuf>,
        /// Where to write the witnesses.
        #[arg(long, default_value = "witnesses")]
        witnesses: PathBuf,
        /// Threads (default: the available cores).
        #[arg(short, long)]
        jobs: Option<usize>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Generate scenarios and schedules with a strategy and run them against
    /// both versions, printing each finding signature when first seen and
    /// the verdict counts as it goes.
    Hunt {
        /// How schedules are chosen.
        #[arg(long, value_enum, default_value_t = StrategyArg::Pct)]
        strategy: StrategyArg,
        /// How long to hunt, e.g. 30s, 5m.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        time: std::time::Duration,
        /// PCT's bug depth.
        #[arg(long, default_value_t = aiodiff::strategy::PCT_DEPTH)]
        depth: u32,
        /// Seed of the random choices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the first case of each signature here, as
        /// `hunt-<signature>.sched` (`-2`, `-3`, ... rather than overwrite).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Turn fuzzer crashes into regression entries: decode each artifact,
    /// show its verdict and swimlanes, minimise it, and write a commented
    /// `.sched` with its `expect:` line into the corpus.
    Triage {
        /// libFuzzer or AFL crash files.
        #[arg(required = true)]
        artifacts: Vec<PathBuf>,
        /// Where to write the entries.
        #[arg(long, default_value = "corpus")]
        corpus: PathBuf,
        #[command(flatten)]
        table: TableArgs,
    },
    /// Shrink a case while its verdict's signature stays the same: drop
    /// tasks, operations, segments and faults, and shorten segments.
    Minimize {
        /// The `.sched` file.
        file: PathBuf,
        /// Where to write the result (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        table: TableArgs,
    },
}

/// The strategies of `hunt`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StrategyArg {
    /// A uniformly random runnable task at every step.
    Random,
    /// Probabilistic concurrency testing with `--depth`.
    Pct,
    /// The explorer over the built-in catalogue.
    Explore,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: use seconds, or a number with s, m or h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{s}` is not a duration: use s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Changes to the allowed-refusal table.
#[derive(Args)]
struct TableArgs {
    /// Also allow the old code to refuse with this errno where the new code
    /// migrates (e.g. EINVAL). Repeatable.
    #[arg(long = "allow", value_name = "ERRNO", value_parser = parse_errno)]
    allow: Vec<i32>,
    /// Remove this errno from the table (e.g. EBUSY). Repeatable.
    #[arg(long = "disallow", value_name = "ERRNO", value_parser = parse_errno)]
    disallow: Vec<i32>,
}

impl TableArgs {
    fn table(&self) -> RefusalTable {
        let mut t = RefusalTable::default();
        for &e in &self.allow {
            t.allow(e);
        }
        for &e in &self.disallow {
            t.disallow(e);
        }
        t
    }
}

fn parse_errno(s: &str) -> Result<i32, String> {
    let name = s.trim_start_matches('-').to_uppercase();
    let known = [
        ("EIO", kernel_sim::errno::EIO),
        ("EAGAIN", kernel_sim::errno::EAGAIN),
        ("ENOMEM", kernel_sim::errno::ENOMEM),
        ("EFAULT", kernel_sim::errno::EFAULT),
        ("EBUSY", kernel_sim::errno::EBUSY),
        ("EEXIST", kernel_sim::errno::EEXIST),
        ("EINVAL", kernel_sim::errno::EINVAL),
    ];
    if let Some(&(_, e)) = known.iter().find(|(n, _)| *n == name) {
        return Ok(e);
    }
    match name.parse::<i32>() {
        Ok(n) if n != 0 => Ok(-n.abs()),
        _ => Err(format!(
            "`{s}` is not an errno: use a name such as EAGAIN, EBUSY or EINVAL, or a number"
        )),
    }
}

/// An error for the user: printed as `aiodiff: ...`, exit status 2.
struct Fail(String);

fn read_text(path: &Path) -> Result<String, Fail> {
    fs::read_to_string(path).map_err(|e| Fail(format!("cannot read {}: {e}", path.display())))
}

fn load(path: &Path) -> Result<Case, Fail> {
    let text = read_text(path)?;
    text::parse(&path.display().to_string(), &text).map_err(|e| Fail(e.to_string()))
}

fn write_out(output: Option<&Path>, data: &[u8]) -> Result<(), Fail> {
    match output {
        Some(p) => {
            fs::write(p, data).map_err(|e| Fail(format!("cannot write {}: {e}", p.display())))
        }
        None => std::io::stdout()
            .write_all(data)
            .map_err(|e| Fail(format!("cannot write to standard output: {e}"))),
    }
}

fn main() -> ExitCode {
    // Output piped into `head` or `less` ends quietly when the reader
    // leaves, as other command-line tools do, instead of panicking on the
    // failed write.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at the start of
    // main, before any thread exists, races with nothing.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(code) => code,
        Err(Fail(msg)) => {
            eprintln!("aiodiff: {msg}");
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command) -> Result<ExitCode, Fail> {
    match command {
        Command::Run { files, json, table } => run(&files, json, &table.table()),
        Command::Replay {
            paths,
            twice,
            table,
        } => replay(&paths, twice, &table.table()),
        Command::Decode { file } => {
            let data = fs::read(&file)
                .map_err(|e| Fail(format!("cannot read {}: {e}", file.display())))?;
            let case = bytes::decode(&data);
            let mut out = format!("# decoded from {} ({} bytes)\n", file.display(), data.len());
            out.push_str(&text::print(&case));
            write_out(None, out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalogue { dir, table } => {
            let written = aiodiff::catalogue::write_cases(&dir, &table.table())
                .map_err(|e| Fail(format!("cannot write into {}: {e}", dir.display())))?;
            println!("wrote {} scenario(s) into {}", written, dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Encode { file, output } => {
            let case = load(&file)?;
            let data =
                bytes::encode(&case).map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            write_out(output.as_deref(), &data)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explore {
            file,
            preemptions,
            exhaustive,
            no_sleep_sets,
            store_every_state,
            max_executions,
            witnesses,
            json,
            table,
        } => {
            let opts = ExploreOptions {
                preemptions,
                max_executions,
                exhaustive,
                sleep_sets: !no_sleep_sets,
                store_every_state,
                skip_asleep_runs: !store_every_state,
            };
            let witnesses = witnesses.unwrap_or_else(|| witnesses_of(&file));
            explore(&file, opts, &witnesses, json, &table.table())
        }
        Command::Verify {
            max_executions,
            exhaustive,
            report,
            witnesses,
            jobs,
            json,
            table,
        } => verify(
            report.as_deref(),
            &witnesses,
            jobs,
            (max_executions, exhaustive),
            json,
            &table.table(),
        ),
        Command::Triage {
            artifacts,
            corpus,
            table,
        } => triage(&artifacts, &corpus, &table.table()),
        Command::Hunt {
            strategy,
            time,
            depth,
            seed,
            out,
            json,
            table,
        } => {
            let strategy = match strategy {
                StrategyArg::Random => aiodiff::hunt::Strategy::Random,
                StrategyArg::Pct => aiodiff::hunt::Strategy::Pct(depth),
                StrategyArg::Explore => aiodiff::hunt::Strategy::Explore,
            };
            hunt(strategy, time, seed, out.as_deref(), json, &table.table())
        }
        Command::Minimize {
            file,
            output,
            table,
        } => {
            let case = load(&file)?;
            let table = table.table();
            let m = minimize::minimize(&case, &table);
            let mut out = format!(
                "# minimised from {} ({} candidates tried); verdict {}\n",
                file.display(),
                m.tries,
                m.verdict
            );
            out.push_str(&text::print(&m.case));
            write_out(output.as_deref(), out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run(files: &[PathBuf], json: bool, table: &RefusalTable) -> Result<ExitCode, Fail> {
    let mut reports = Vec::new();
    let mut checked_all = Vec::new();
    let mut judge = Judge::new(table.clone()).traced();
    for file in files {
        let case = load(file)?;
        checked_all.push((file, judge.judge(&case), case));
    }
    let mut hits = vec![0; table.rows.len()];
    for (_, c, _) in &checked_all {
        for &r in &c.verdict.rows_hit {
            hits[r] += 1;
        }
    }
    if json {
        for (file, checked, case) in &checked_all {
            reports.push(RunReport::of(
                &file.display().to_string(),
                checked,
                case.expect.as_ref(),
            ));
        }
        #[derive(serde::Serialize)]
        struct All<'a> {
            cases: Vec<RunReport<'a>>,
            refusal_table: Vec<RowReport>,
        }
        let all = All {
            cases: reports,
            refusal_table: RowReport::table(table, &hits),
        };
        print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (file, checked, case) in &checked_all {
        print!("{}", human(file, checked, case));
    }
    println!("allowed-refusal table:");
    for (row, n) in table.rows.iter().zip(&hits) {
        println!(
            "  {:<16} {:<8} {:>3} hit(s)  {}",
            row.name,
            row.errno_name(),
            n,
            row.why
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn human(file: &Path, judged: &Judged, case: &Case) -> String {
    let v = &judged.verdict;
    let shown = judged.shown();
    let mut out = format!("== {}\nverdict: {v}\n  {}\n", file.display(), v.explanation);
    if let Some(e) = &case.expect {
        let met = e.matches(v.class, &v.signature);
        out.push_str(&format!(
            "expect: {e} ({})\n",
            if met { "met" } else { "NOT MET" }
        ));
    }
    let tasks = case.scenario.total_tasks();
    out.push_str(&format!("runs: {}\n", shown.how()));
    let other = if judged.from_reverse {
        &judged.forward
    } else {
        &judged.reverse
    };
    out.push_str(&format!(
        "the other direction: {}; {}\n  aio_migratepage returned from: old {}; new {}\n",
        other.verdict,
        other.how(),
        swimlane::return_sites(&other.old),
        swimlane::return_sites(&other.new)
    ));
    for (name, o) in [
        ("old: before the patch", &shown.old),
        ("new: after the patch", &shown.new),
    ] {
        out.push_str(&format!(
            "\n-- {name}\nresults:\n{}",
            swimlane::results(&case.scenario, o)
        ));
        out.push_str(&format!(
            "aio_migratepage returned from: {}\n",
            swimlane::return_sites(o)
        ));
        out.push_str(&format!("violations:\n{}", swimlane::violations(o)));
        out.push_str(&format!("kioctx at the end:\n{}", swimlane::kioctxs(o)));
    }
    out.push_str("\n-- traces, old and new merged\n");
    out.push_str(&swimlane::lanes(&shown.old, &shown.new, tasks));
    match swimlane::first_difference(&shown.old.trace, &shown.new.trace) {
        None => out.push_str("\nthe traces are identical\n\n"),
        Some((a, b)) => {
            let at = |x: Option<usize>| x.map_or("-".to_string(), |i| (i + 1).to_string());
            out.push_str(&format!(
                "\nfirst difference (>>): old step {}, new step {}. - only before the patch, \
                 + only after it, ~ same action with another effect (old | new), !! a violation\n\n",
                at(a),
                at(b)
            ));
        }
    }
    out
}

/// `.sched` files under `paths`, directories searched recursively, in
/// sorted order.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Fail> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let entries = fs::read_dir(&dir)
                    .map_err(|e| Fail(format!("cannot read {}: {e}", dir.display())))?;
                for entry in entries {
                    let path = entry.map_err(|e| Fail(e.to_string()))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|x| x == "sched") {
                        files.push(path);
                    }
                }
            }
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(Fail(format!("{} does not exist", p.display())));
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Fail("no .sched files found".into()));
    }
    Ok(files)
}

fn replay(paths: &[PathBuf], twice: bool, table: &RefusalTable) -> Result<ExitCode, Fail> {
    let files = collect(paths)?;
    let mut failed = 0;
    let mut hits = vec![0; table.rows.len()];
    let width = files
        .iter()
        .map(|f| f.display().to_string().len())
        .max()
        .unwrap_or(4);
    println!("{:<width$}  {:<6}  verdict", "file", "status");
    let judge = Judge::new(table.clone());
    let mut judge = if twice { judge.traced() } else { judge };
    for file in &files {
        let case = load(file)?;
        let checked = judge.judge(&case);
        for &r in &checked.verdict.rows_hit {
            hits[r] += 1;
        }
        let mut problems = Vec::new();
        match &case.expect {
            None => problems.push("no expect: line".to_string()),
            Some(e) if !e.matches(checked.verdict.class, &checked.verdict.signature) => {
                problems.push(format!("expected {e}"))
            }
            Some(_) => {}
        }
        if twice {
            // A fresh judge: the verdict must not depend on what ran before.
            let again = Judge::new(table.clone()).traced().judge(&case);
            let traces = |j: &Judged| {
                [&j.forward, &j.reverse].map(|t| (t.old.trace.clone(), t.new.trace.clone()))
            };
            if traces(&again) != traces(&checked) {
                problems.push("traces differ between two runs".into());
            }
            if again.verdict != checked.verdict {
                problems.push("verdicts differ between two runs".into());
            }
        }
        let status = if problems.is_empty() { "ok" } else { "FAIL" };
        println!(
            "{:<width$}  {status:<6}  {}",
            file.display(),
            checked.verdict
        );
        for p in &problems {
            println!("{:<width$}          {p}", "");
        }
        failed += usize::from(!problems.is_empty());
    }
    println!("\nallowed-refusal table:");
    for (row, n) in table.rows.iter().zip(&hits) {
        println!("  {:<16} {:<8} {:>3} hit(s)", row.name, row.errno_name(), n);
    }
    println!("\n{} passed, {} failed", files.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed:>4}} [{{bar:30}}] {{pos}}/{{len}} {what} {{msg}}"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// `explore`'s default witness directory for `file`: `NAME.witnesses` in
/// the current directory, `NAME` the file's name without `.sched`.
fn witnesses_of(file: &std::path::Path) -> PathBuf {
    let stem = file.file_stem().unwrap_or(file.as_os_str());
    let mut dir = stem.to_os_string();
    dir.push(".witnesses");
    PathBuf::from(dir)
}

fn explore(
    path: &Path,
    opts: ExploreOptions,
    dir: &Path,
    json: bool,
    table: &RefusalTable,
) -> Result<ExitCode, Fail> {
    let case = load(path)?;
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{elapsed:>4} {spinner} {msg}").expect("a valid template"),
    );
    let k = opts.preemptions;
    let start = std::time::Instant::now();
    let c = aiodiff::explore::compare(&case.scenario, opts, opts, table, |n, outcomes| {
        if n % 256 == 0 {
            spinner.set_message(format!("{n} executions, {outcomes} distinct outcomes"));
        }
    });
    spinner.finish_and_clear();
    let entry = aiodiff::catalogue::Entry {
        name: path.display().to_string(),
        scenario: case.scenario.clone(),
        preemptions: k,
        old_preemptions: k,
    };
    let mut v = aiodiff::verify::from_comparisons(
        &[entry],
        vec![(c, start.elapsed())],
        opts.max_executions,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    aiodiff::verify::write_witnesses(&mut v, dir, table)
        .map_err(|e| Fail(format!("cannot write witnesses to {}: {e}", dir.display())))?;
    if json {
        print_json(&v)?;
    } else {
        let s = &v.scenarios[0];
        if let (Some(old), Some(new)) = s.stored {
            println!(
                "{}: every schedule, exhaustive (states stored, no preemption bound){}\n  old: {} executions, {} distinct outcomes; {old}\n  new: {} executions, {} distinct outcomes; {new}\n",
                path.display(),
                incomplete_note(s.incomplete, opts.max_executions),
                s.executions.0,
                s.outcomes.0,
                s.executions.1,
                s.outcomes.1,
            );
            print!("{}", aiodiff::verify::summary(&v, table));
            return Ok(exploration_status(&v));
        }
        println!(
            "{}: every schedule with at most {k} preemption(s){}\n  old: {} executions, {} distinct outcomes, {} branches beyond the bound\n  new: {} executions, {} distinct outcomes, {} branches beyond the bound\n",
            path.display(),
            incomplete_note(s.incomplete, opts.max_executions),
            s.executions.0,
            s.outcomes.0,
            s.pruned.0,
            s.executions.1,
            s.outcomes.1,
            s.pruned.1
        );
        print!("{}", aiodiff::verify::summary(&v, table));
    }
    Ok(exploration_status(&v))
}

/// What the first line of `explore` adds when the budget stopped it.
fn incomplete_note(incomplete: bool, max_executions: usize) -> String {
    if incomplete {
        format!(", INCOMPLETE: stopped by the budget of {max_executions} executions")
    } else {
        String::new()
    }
}

/// 1 on a regression or a divergence, else 3 if the budget stopped an
/// exploration, else 0.
fn exploration_status(v: &aiodiff::verify::Verification) -> ExitCode {
    if v.failed {
        ExitCode::FAILURE
    } else if !v.complete() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

fn verify(
    report: Option<&Path>,
    dir: &Path,
    jobs: Option<usize>,
    (max_executions, exhaustive): (usize, Option<usize>),
    json: bool,
    table: &RefusalTable,
) -> Result<ExitCode, Fail> {
    let entries = aiodiff::catalogue::catalogue();
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = bar(entries.len() as u64, "scenarios");
    let mut v =
        aiodiff::verify::verify(&entries, table, jobs, max_executions, exhaustive, &|name| {
            bar.inc(1);
            bar.set_message(name.to_string());
        });
    bar.finish_and_clear();
    aiodiff::verify::write_witnesses(&mut v, dir, table)
        .map_err(|e| Fail(format!("cannot write witnesses to {}: {e}", dir.display())))?;
    if let Some(path) = report {
        std::fs::write(path, aiodiff::verify::report(&v, table))
            .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
    }
    if json {
        print_json(&v)?;
    } else {
        print!("{}", aiodiff::verify::summary(&v, table));
        if let Some(path) = report {
            println!("report written to {}", path.display());
        }
    }
    Ok(exploration_status(&v))
}

/// What a fuzz target finds in a judged case, if anything: the finding of
/// `differential`, else the first violation of the old code under the
/// schedule (`old_model`) or of the new code (`invariants`), or an
/// undecided case as `differential` saves it.
fn target_finding(judged: &Judged) -> Option<String> {
    let v = &judged.verdict;
    if matches!(
        v.class,
        Class::NewOnly | Class::Divergence | Class::Undecided
    ) {
        return Some(format!("differential: {}", v.signature));
    }
    let first = |o: &aiodiff::Outcome| o.signatures().into_iter().next();
    if let Some(s) = first(&judged.reverse.old) {
        return Some(format!("old_model: {s}"));
    }
    first(&judged.forward.new).map(|s| format!("invariants: {s}"))
}

fn triage(artifacts: &[PathBuf], dir: &Path, table: &RefusalTable) -> Result<ExitCode, Fail> {
    let mut judge = Judge::new(table.clone()).traced();
    let mut all_reproduced = true;
    for artifact in artifacts {
        let data = fs::read(artifact)
            .map_err(|e| Fail(format!("cannot read {}: {e}", artifact.display())))?;
        let case = bytes::decode(&data);
        let checked = judge.judge(&case);
        print!("{}", human(artifact, &checked, &case));
        match target_finding(&checked) {
            Some(finding) => println!("reproduced: {} gives {finding}", artifact.display()),
            None => {
                all_reproduced = false;
                println!(
                    "did not reproduce: {} is {}, which no fuzz target reports",
                    artifact.display(),
                    checked.verdict.signature
                );
            }
        }
        let m = minimize::minimize(&case, table);
        let mut entry = m.case.clone();
        let verdict = judge.judge(&entry).verdict;
        entry.expect = Some(aiodiff::Expect::pinning(verdict.class, &verdict.signature));
        let path = unused_path(dir, "triaged", &verdict.signature)?;
        let mut out = text::comment(&format!(
            "Triaged from the fuzzer artifact {} and minimised ({} candidates tried).\n\
             Verdict: {}.\n{}.",
            artifact.display(),
            m.tries,
            verdict.signature,
            verdict.explanation
        ));
        out.push_str(&text::print(&entry));
        fs::write(&path, out).map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
        println!(
            "wrote {} (replay: aiodiff run {})",
            path.display(),
            path.display()
        );
    }
    Ok(if all_reproduced {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `DIR/PREFIX-SIGNATURE.sched` (the signature as a file name, cut to 70
/// characters), DIR created if need be, or the same with `-N` before the
/// extension, N the least from 2 that names no file yet: what an earlier
/// run wrote there is never overwritten.
fn unused_path(dir: &Path, prefix: &str, signature: &str) -> Result<PathBuf, Fail> {
    fs::create_dir_all(dir).map_err(|e| Fail(format!("cannot create {}: {e}", dir.display())))?;
    let slug: String = aiodiff::verify::slug(signature).chars().take(70).collect();
    let stem = format!("{prefix}-{slug}");
    let mut path = dir.join(format!("{stem}.sched"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.sched"));
        n += 1;
    }
    Ok(path)
}

fn hunt(
    strategy: aiodiff::hunt::Strategy,
    time: std::time::Duration,
    seed: u64,
    out: Option<&Path>,
    json: bool,
    table: &RefusalTable,
) -> Result<ExitCode, Fail> {
    if let Some(dir) = out {
        fs::create_dir_all(dir)
            .map_err(|e| Fail(format!("cannot create {}: {e}", dir.display())))?;
    }
    let hits = aiodiff::hunt::hunt(
        strategy,
        time,
        seed,
        table,
        |hit| {
            if !json {
                println!(
                    "[{:>7.2}s] after {:>6} tries: {}",
                    hit.seconds, hit.tries, hit.signature
                );
            }
        },
        |tries, classes| {
            if !json {
                let counts: Vec<String> = classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                eprintln!("  {tries} tries: {}", counts.join(", "));
            }
        },
    );
    if let Some(dir) = out {
        for h in &hits {
            let path = unused_path(dir, "hunt", &h.signature)?;
            let body = format!(
                "# aiodiff hunt: {} first after {:.2} s ({} tries)\n{}",
                h.signature,
                h.seconds,
                h.tries,
                text::print(&h.case)
            );
            fs::write(&path, body)
                .map_err(|e| Fail(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    if json {
        print_json(&hits)?;
    } else {
        println!("\n{} signature(s) found:", hits.len());
        let width = hits.iter().map(|h| h.signature.len()).max().unwrap_or(9);
        for h in &hits {
            println!(
                "  {:<width$}  first after {:>7.2}s ({} tries)",
                h.signature, h.seconds, h.tries
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `value` as pretty JSON on standard output.
fn print_json(value: &impl serde::Serialize) -> Result<(), Fail> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Fail(e.to_string()))?;
    println!("{text}");
    Ok(())
}
