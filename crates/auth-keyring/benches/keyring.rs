//! Keyring latency (run by `cargo xtask bench`): `load` and `save` of one endpoint's
//! credentials through [`KeyringStore`] on the real Secret Service (a private gnome-keyring),
//! on the kernel keyring, and on the tiered store (the Secret Service fronted by the
//! session-keyring cache: a `load` that hits the cache, one that misses it, and a `save`),
//! each against a spawned command that reads the same entry: `secret-tool lookup` and
//! `keyctl pipe`.
//!
//! Each store runs in a child process of this binary with the private bus (or a fresh session
//! keyring, or both) in its environment, like the integration tests. A store whose programs
//! are missing, or that cannot be started, is skipped with a message saying why.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use auth_core::{AccessToken, CredentialStore, Credentials, IdToken, RefreshToken};
use auth_keyring::KeyringStore;
use auth_testkit::secret_service::{self as ss, SecretService};
use criterion::Criterion;

/// Which store the child process benchmarks.
const ROLE_ENV: &str = "FLYTE_AUTH_BENCH_KEYRING_ROLE";
const EP: &str = "bench.flyte.example.com:443";
/// Longest a child may run.
const CHILD_TIMEOUT: Duration = Duration::from_secs(900);

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("secret_service") => bench_secret_service(),
        Ok("keyutils") => bench_keyutils(),
        Ok("tiered") => bench_tiered(),
        _ => parent(),
    }
}

fn parent() {
    if ss::PROGRAMS.iter().all(|(p, _)| ss::have(p)) {
        match SecretService::start() {
            Ok(service) => run_child("secret_service", &[], |c| service.apply_env(c)),
            Err(e) => println!("skipped secret_service benchmarks: cannot start it: {e}"),
        }
    } else {
        println!(
            "skipped secret_service benchmarks: needs dbus-daemon, dbus-send, gnome-keyring-daemon \
             and secret-tool (Debian: dbus gnome-keyring libsecret-tools)"
        );
    }
    if ss::have("keyctl") {
        run_child("keyutils", &["keyctl", "session", "-"], |_| {});
    } else {
        println!("skipped keyutils benchmarks: needs keyctl (Debian: keyutils)");
    }
    if ss::PROGRAMS.iter().all(|(p, _)| ss::have(p)) && ss::have("keyctl") {
        match SecretService::start() {
            Ok(service) => run_child("tiered", &["keyctl", "session", "-"], |c| {
                service.apply_env(c)
            }),
            Err(e) => println!("skipped tiered benchmarks: cannot start the Secret Service: {e}"),
        }
    } else {
        println!(
            "skipped tiered benchmarks: needs the Secret Service programs and keyctl (Debian: \
             dbus gnome-keyring libsecret-tools keyutils)"
        );
    }
}

/// Runs this binary again with the same arguments, as `role`, under `wrapper`.
fn run_child(role: &str, wrapper: &[&str], configure: impl FnOnce(&mut Command)) {
    let Ok(exe) = std::env::current_exe() else {
        println!("skipped {role} benchmarks: cannot find the bench binary");
        return;
    };
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args(std::env::args_os().skip(1))
        .env(ROLE_ENV, role)
        .stdin(Stdio::null());
    configure(&mut command);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            println!("skipped {role} benchmarks: cannot start the child: {e}");
            return;
        }
    };
    let deadline = Instant::now() + CHILD_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => panic!("{role} benchmarks failed: {status}"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{role} benchmarks did not finish within {CHILD_TIMEOUT:?}");
            }
        }
    }
}

fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// Credentials of realistic size: JWT-sized access and ID tokens, a short refresh token.
fn credentials(n: u64) -> Credentials {
    Credentials::new(AccessToken::new(format!("{n}.{}", "a".repeat(900))))
        .with_refresh_token(Some(RefreshToken::new(format!("{n}.{}", "r".repeat(64)))))
        .with_id_token(Some(IdToken::new("i".repeat(900))))
        .with_scopes(["openid", "offline_access", "all"])
        .with_expiry_from(Some(3600), SystemTime::now())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `load` and `save` on `store`, and `baseline` (a spawned command reading the same entry).
fn bench_store(group: &str, store: KeyringStore, baseline_name: &str, baseline: &mut dyn FnMut()) {
    let rt = runtime();
    rt.block_on(store.save(EP, &credentials(0)))
        .expect("first save");
    assert!(rt.block_on(store.load(EP)).expect("first load").is_some());
    let mut c = criterion();
    let mut g = c.benchmark_group(group);
    g.bench_function(baseline_name, |b| b.iter(&mut *baseline));
    g.bench_function("load", |b| {
        b.iter(|| black_box(rt.block_on(store.load(EP)).expect("load").expect("stored")))
    });
    let mut n = 0;
    g.bench_function("save", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(store.save(EP, &credentials(n))).expect("save")
        })
    });
    g.finish();
    c.final_summary();
    // keyutils keys are also linked into the persistent keyring, which outlives this run.
    rt.block_on(store.delete(EP)).expect("delete");
}

/// Runs `command` and returns its stdout, which must not be empty.
fn spawned(command: &mut Command) -> Vec<u8> {
    let out = command.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{command:?} found nothing"
    );
    out.stdout
}

fn bench_secret_service() {
    let store = KeyringStore::secret_service();
    let mut lookup = || {
        black_box(spawned(Command::new("secret-tool").args([
            "lookup",
            "service",
            EP,
            "username",
            "access_token",
        ])));
    };
    bench_store(
        "secret_service",
        store,
        "baseline_secret_tool_lookup",
        &mut lookup,
    );
}

fn bench_keyutils() {
    let store = KeyringStore::keyutils();
    // The keyutils store names keys `keyring:<user>@<service>` in the session keyring.
    let description = format!("%user:keyring:access_token@{EP}");
    let mut pipe = || {
        black_box(spawned(Command::new("keyctl").args(["pipe", &description])));
    };
    bench_store("keyutils", store, "baseline_keyctl_pipe", &mut pipe);
}

/// The tiered store: `load_hit` (served by the session-keyring cache, no D-Bus), `load_miss`
/// (the cache entry removed first: the Secret Service, then the cache is filled) and `save`
/// (both tiers), against `secret-tool lookup` of the same entry.
fn bench_tiered() {
    let store = KeyringStore::tiered();
    let rt = runtime();
    rt.block_on(store.save(EP, &credentials(0)))
        .expect("first save");
    let description = store
        .session_cache_description(EP)
        .expect("the tiered store has a cache");
    let session =
        linux_keyutils::KeyRing::from_special_id(linux_keyutils::KeyRingIdentifier::Session, false)
            .expect("session keyring");
    assert!(
        session.search(&description).is_ok(),
        "the save filled the cache"
    );
    let clear_cache = || {
        if let Ok(key) = session.search(&description) {
            key.invalidate().expect("invalidate the cache entry");
        }
    };
    let mut lookup = || {
        black_box(spawned(Command::new("secret-tool").args([
            "lookup",
            "service",
            EP,
            "username",
            "access_token",
        ])));
    };
    let mut c = criterion();
    let mut g = c.benchmark_group("tiered");
    g.bench_function("baseline_secret_tool_lookup", |b| b.iter(&mut lookup));
    g.bench_function("load_hit", |b| {
        b.iter(|| black_box(rt.block_on(store.load(EP)).expect("load").expect("stored")))
    });
    g.bench_function("load_miss", |b| {
        b.iter_batched(
            clear_cache,
            |()| black_box(rt.block_on(store.load(EP)).expect("load").expect("stored")),
            criterion::BatchSize::PerIteration,
        )
    });
    let mut n = 0;
    g.bench_function("save", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(store.save(EP, &credentials(n))).expect("save")
        })
    });
    g.finish();
    c.final_summary();
    rt.block_on(store.delete(EP)).expect("delete");
}
