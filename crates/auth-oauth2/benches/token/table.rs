//! `FLYTE_AUTH_BENCH=table`: the performance issue's side-by-side table, measured the way the
//! issue measured it. See the crate-level comment of `token.rs`.
//!
//! - The token server is this binary again (`FLYTE_AUTH_BENCH=server`), a separate process
//!   with its own single-threaded runtime; it exits when its stdin closes.
//! - Latency and client CPU: client and server pinned to the same CPU, one acquisition at a
//!   time. Throughput: client and server on two different CPUs, 64 acquisitions at once.
//! - Ten interleaved rounds of raw, ours, oauth2-rs; the median of the rounds is printed.
//! - Client CPU time is the process's user + system time (what `getrusage(RUSAGE_SELF)`
//!   reports), read with `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: the workspace forbids
//!   `unsafe`, and the client is a single thread here, so the two are the same.
//! - With valgrind on PATH: instructions of the client thread per acquisition, from two
//!   callgrind runs of the profile mode (400 and 200 acquisitions, the difference divided by
//!   200), which cancels start-up and does not depend on the machine's load.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use rustix::time::{ClockId, clock_gettime};

use super::{Clients, clients, ours, raw, serve, theirs};

const ROUNDS: usize = 10;
/// Sequential acquisitions per kind and round (latency, CPU).
const SEQUENTIAL: usize = 1000;
/// Concurrent tasks, and batches of them per kind and round (throughput).
const TASKS: usize = 64;
const BATCHES: usize = 40;
const KINDS: [Kind; 3] = [Kind::Raw, Kind::Ours, Kind::Theirs];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Ours,
    Theirs,
}

impl Kind {
    fn profile_name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Ours => "ours",
            Kind::Theirs => "theirs",
        }
    }
}

async fn one(c: &Clients, scopes: &[String], kind: Kind) -> String {
    match kind {
        Kind::Raw => raw(c).await,
        Kind::Ours => ours(c, scopes).await,
        Kind::Theirs => theirs(c).await,
    }
}

/// The server process: prints its address, serves until stdin closes.
pub(super) fn server() -> ! {
    std::thread::spawn(|| {
        // The parent holds our stdin; EOF means it is gone.
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        std::io::stdout().flush().expect("flush");
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve(sock));
        }
    })
}

/// Pins every thread of `pid` (or the calling thread) to `cpus`.
fn pin(pid: Option<u32>, cpus: &[usize]) {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    match pid {
        None => sched_setaffinity(None, &set).expect("pin the client"),
        Some(pid) => {
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("server threads");
            for t in tasks.flatten() {
                let tid = t.file_name().to_string_lossy().parse::<i32>().ok();
                if let Some(tid) = tid.and_then(rustix::process::Pid::from_raw) {
                    sched_setaffinity(Some(tid), &set).expect("pin the server");
                }
            }
        }
    }
}

fn cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Samples {
    latency_ns: Vec<f64>,
    cpu_ns: Vec<f64>,
    per_sec: Vec<f64>,
}

pub(super) fn run() -> ! {
    let started = Instant::now();
    let exe = std::env::current_exe().expect("bench binary");
    let mut child: Child = Command::new(&exe)
        .env("FLYTE_AUTH_BENCH", "server")
        .env_remove("FLYTE_AUTH_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the token server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("server stdout"))
        .read_line(&mut line)
        .expect("server address");
    let addr = line.trim().parse().expect("server address");
    let server_pid = child.id();

    let allowed = sched_getaffinity(None).expect("affinity");
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&c| allowed.is_set(c))
        .collect();
    let (client_cpu, server_cpu) = (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]));
    pin(None, &[client_cpu]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = clients(addr);
    let scopes = vec!["all".to_string()];
    let mut samples: Vec<Samples> = KINDS
        .iter()
        .map(|_| Samples {
            latency_ns: Vec::new(),
            cpu_ns: Vec::new(),
            per_sec: Vec::new(),
        })
        .collect();
    rt.block_on(async {
        pin(Some(server_pid), &[client_cpu]);
        for kind in KINDS {
            for _ in 0..200 {
                std::hint::black_box(one(&c, &scopes, kind).await);
            }
        }
        for _round in 0..ROUNDS {
            pin(Some(server_pid), &[client_cpu]);
            for (i, kind) in KINDS.into_iter().enumerate() {
                let (t0, c0) = (Instant::now(), cpu_time());
                for _ in 0..SEQUENTIAL {
                    std::hint::black_box(one(&c, &scopes, kind).await);
                }
                let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
                samples[i]
                    .latency_ns
                    .push(wall.as_nanos() as f64 / SEQUENTIAL as f64);
                samples[i]
                    .cpu_ns
                    .push(cpu.as_nanos() as f64 / SEQUENTIAL as f64);
            }
            pin(Some(server_pid), &[server_cpu]);
            for (i, kind) in KINDS.into_iter().enumerate() {
                let t0 = Instant::now();
                for _ in 0..BATCHES {
                    let all = (0..TASKS).map(|_| one(&c, &scopes, kind));
                    std::hint::black_box(futures::future::join_all(all).await);
                }
                let wall = t0.elapsed().as_secs_f64();
                samples[i].per_sec.push((TASKS * BATCHES) as f64 / wall);
            }
        }
    });
    drop(child.stdin.take());
    let _ = child.wait();

    let m = |f: fn(&Samples) -> &Vec<f64>| -> [f64; 3] {
        [0, 1, 2].map(|i| median(f(&samples[i]).clone()))
    };
    let latency = m(|s| &s.latency_ns);
    let cpu = m(|s| &s.cpu_ns);
    let rate = m(|s| &s.per_sec);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nclient credentials on loopback, separate server process, medians of {ROUNDS} interleaved rounds \
         (load average {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "ratios are costs (time or instructions per acquisition): >1 means slower than that baseline"
    );
    println!(
        "\n{:<36} {:>14} {:>14} {:>8} {:>10} {:>14} {:>8}",
        "", "raw reqwest", "flyte-auth", "x raw", "x oauth2", "oauth2-rs", "x raw"
    );
    let row = |name: &str, v: [f64; 3], fmt: &dyn Fn(f64) -> String, cost: &dyn Fn(f64) -> f64| {
        let [r, o, t] = v.map(cost);
        println!(
            "{:<36} {:>14} {:>14} {:>8.2} {:>10.2} {:>14} {:>8.2}",
            name,
            fmt(v[0]),
            fmt(v[1]),
            o / r,
            o / t,
            fmt(v[2]),
            t / r
        );
    };
    let us = |ns: f64| format!("{:.1} µs", ns / 1e3);
    row("one acquisition, latency (1 CPU)", latency, &us, &|x| x);
    row("client CPU per acquisition", cpu, &us, &|x| x);
    row(
        &format!("throughput, {TASKS} tasks (2 CPUs)"),
        rate,
        &|r| format!("{:.1} k/s", r / 1e3),
        &|r| 1.0 / r,
    );
    match instructions(&exe) {
        Ok(Some(i)) => row(
            "instructions per acquisition",
            i,
            &|n| format!("{:.1} k", n / 1e3),
            &|x| x,
        ),
        Ok(None) => println!("(valgrind is not installed: no instruction counts)"),
        Err(e) => println!("(callgrind failed: {e})"),
    }
    println!(
        "\ntable measured in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    std::process::exit(0);
}

/// Client-thread instructions per acquisition, by callgrind, for the three kinds.
fn instructions(exe: &Path) -> Result<Option<[f64; 3]>, String> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("valgrind").is_file()));
    if !on_path {
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("flyte-auth-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let count = |kind: &str, n: u32| -> Result<f64, String> {
        let out = dir.join(format!("cg.{kind}.{n}"));
        let status = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg("--separate-threads=yes")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(exe)
            .env("FLYTE_AUTH_PROFILE", format!("{kind}:{n}"))
            .env_remove("FLYTE_AUTH_BENCH")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("valgrind {kind}:{n}: {status}"));
        }
        // Thread 1 is the client (the profile mode's server runs on its own thread).
        let text =
            std::fs::read_to_string(format!("{}-01", out.display())).map_err(|e| e.to_string())?;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("totals:")
                    .or_else(|| l.strip_prefix("summary:"))
            })
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("no totals in the callgrind output of {kind}:{n}"))
    };
    let mut result = [0.0; 3];
    for (i, kind) in KINDS.into_iter().enumerate() {
        let name = kind.profile_name();
        result[i] = (count(name, 400)? - count(name, 200)?) / 200.0;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Some(result))
}
