//! `wsp-chaos <provider-library> <configuration>... [--seed N]... [--calls N] [--threads N]`
//!
//! Runs the chaos suite (see the `wsp_chaos` library and `docs/chaos.md`) against a built
//! provider library: for each configuration and seed, a child process of this program loads
//! the library, drives it from 2–8 threads for `--calls` calls (default 350000), checks every
//! convention, cleans up and checks the balance. Without `--seed`, three seeds are drawn and
//! printed; `--seed` (repeatable, decimal or 0x-hex) replays one.
//!
//! Configurations: loopback-tcp, loopback-udp (examples/loopback), pipe (examples/pipe),
//! panicky-tcp, panicky-udp (examples/panicky, which panics on purpose; the rate is
//! `WSP_PANICKY_RATE`, default 0.02 here).
//!
//! Prints one `PASS <configuration>` / `FAIL <configuration>: ...` line per configuration
//! (over all its seeds), with the violations found (each with its seed, thread and recent
//! calls), then `N passed, M failed`; exits 1 if anything failed, 2 on bad usage. A hang (a
//! call longer than 10 s) or a crash fails the configuration with the seed and every thread's
//! current call.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wsp_chaos::{config, run, Options, Source, CONFIGS};

/// The marker of a child run's result line.
const RESULT: &str = "wsp-chaos-result:";

fn usage() -> ! {
    let names: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
    eprintln!(
        "usage: wsp-chaos <provider-library> <configuration>... [--seed N]... [--calls N] [--threads N]\n\
         configurations: {}",
        names.join(", ")
    );
    std::process::exit(2);
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

struct Args {
    library: PathBuf,
    configs: Vec<String>,
    seeds: Vec<u64>,
    opts: Options,
}

fn parse(args: &[String]) -> Args {
    let mut positional = Vec::new();
    let mut seeds = Vec::new();
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| parse_u64(v))
                .unwrap_or_else(|| usage())
        };
        match a.as_str() {
            "--seed" => seeds.push(value()),
            "--calls" => opts.calls = value(),
            "--threads" => opts.threads = value() as usize,
            "--hang-limit" => opts.hang_limit = Duration::from_secs(value()),
            s if s.starts_with("--") => usage(),
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() < 2 {
        usage();
    }
    let library = PathBuf::from(positional.remove(0));
    for c in &positional {
        if config(c).is_none() {
            eprintln!("wsp-chaos: unknown configuration '{}'", c);
            usage();
        }
    }
    Args {
        library,
        configs: positional,
        seeds,
        opts,
    }
}

/// `--child <library> <configuration> <seed> <calls> <threads> <hang limit>`: one run, its
/// result on stdout as one `RESULT` line followed by the violations.
fn child(args: &[String]) -> ! {
    if args.len() != 6 {
        usage();
    }
    let cfg = config(&args[1]).unwrap_or_else(|| usage());
    let seed = parse_u64(&args[2]).unwrap_or_else(|| usage());
    let opts = Options {
        calls: parse_u64(&args[3]).unwrap_or_else(|| usage()),
        threads: parse_u64(&args[4]).unwrap_or_else(|| usage()) as usize,
        hang_limit: Duration::from_secs(parse_u64(&args[5]).unwrap_or_else(|| usage())),
    };
    if cfg.panicky && std::env::var_os("WSP_PANICKY_RATE").is_none() {
        std::env::set_var("WSP_PANICKY_RATE", "0.02");
    }
    let out = run(&Source::Library(PathBuf::from(&args[0])), cfg, seed, &opts);
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "{} {} {} {} {}",
        RESULT,
        out.calls,
        out.threads,
        out.total_violations,
        out.elapsed.as_millis()
    );
    for v in &out.violations {
        let _ = writeln!(stdout, "{}", v);
    }
    let _ = stdout.flush();
    std::process::exit(if out.total_violations == 0 { 0 } else { 1 });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(|a| a.as_str()) == Some("--child") {
        child(&args[1..]);
    }
    let mut a = parse(&args);
    if a.seeds.is_empty() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let mut r = wsp_chaos::rng::Rng::new(now ^ (std::process::id() as u64) << 32);
        a.seeds = (0..3).map(|_| r.next_u64()).collect();
    }
    let me = std::env::current_exe().unwrap_or_else(|e| {
        eprintln!("wsp-chaos: cannot find my own executable: {}", e);
        std::process::exit(2)
    });
    let (mut passed, mut failed) = (0u32, 0u32);
    for name in &a.configs {
        let mut problems: Vec<String> = Vec::new();
        let mut calls = 0u64;
        let mut ms = 0u128;
        for &seed in &a.seeds {
            eprintln!("wsp-chaos: {} seed={:#018x} ...", name, seed);
            let output = Command::new(&me)
                .arg("--child")
                .arg(&a.library)
                .arg(name)
                .arg(format!("{:#x}", seed))
                .arg(a.opts.calls.to_string())
                .arg(a.opts.threads.to_string())
                .arg(a.opts.hang_limit.as_secs().to_string())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output();
            let output = match output {
                Ok(o) => o,
                Err(e) => {
                    problems.push(format!(
                        "seed={:#018x}: could not run the child: {}",
                        seed, e
                    ));
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let result = text.lines().find_map(|l| l.strip_prefix(RESULT));
            match result {
                Some(fields) => {
                    let f: Vec<u128> = fields
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    if f.len() == 4 {
                        calls += f[0] as u64;
                        ms += f[3];
                        eprintln!(
                            "wsp-chaos: {} seed={:#018x}: {} calls, {} threads, {} violations, {:.1} s",
                            name,
                            seed,
                            f[0],
                            f[1],
                            f[2],
                            f[3] as f64 / 1000.0
                        );
                        if f[2] > 0 {
                            problems.push(format!(
                                "seed={:#018x}: {} violation(s); the first ones:\n{}",
                                seed,
                                f[2],
                                text.lines()
                                    .skip_while(|l| !l.starts_with(RESULT))
                                    .skip(1)
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            ));
                        }
                    }
                }
                None if text.contains("FAIL ") => {
                    // The child's watchdog reported a hang.
                    problems.push(text.trim_end().to_owned());
                }
                None => problems.push(format!(
                    "seed={:#018x}: the run died without a result ({}; a crash: every thread's \
                     current call is on stderr above){}",
                    seed,
                    output.status,
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!("; its output:\n{}", text.trim_end())
                    }
                )),
            }
        }
        let seeds: Vec<String> = a.seeds.iter().map(|s| format!("{:#x}", s)).collect();
        if problems.is_empty() {
            passed += 1;
            println!(
                "PASS {} ({} calls over seeds {}, {:.1} s)",
                name,
                calls,
                seeds.join(" "),
                ms as f64 / 1000.0
            );
        } else {
            failed += 1;
            println!(
                "FAIL {} (seeds {}): {}",
                name,
                seeds.join(" "),
                problems.join("\n")
            );
        }
        let _ = std::io::stdout().flush();
    }
    println!("{} passed, {} failed", passed, failed);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
