//! Helpers: fixture paths, scratch directories, process state.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use auth_command::CommandAuthenticator;

/// The path of a fixture script, as a string for argv.
pub(crate) fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A fresh, empty directory under the target dir (kept after the test for inspection).
pub(crate) fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("auth-command")
        .join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// An authenticator for `argv`.
pub(crate) fn auth(argv: &[&str]) -> CommandAuthenticator {
    CommandAuthenticator::builder()
        .command(argv.iter().copied())
        .build()
        .expect("build")
}

/// How many times `count_runs.sh` ran with this count file.
pub(crate) fn runs(count_file: &Path) -> u64 {
    std::fs::read_to_string(count_file).map_or(0, |s| s.lines().count() as u64)
}

/// The state letter of a process (`R`, `S`, `Z`, ...), or `None` if there is no such process.
#[cfg(target_os = "linux")]
pub(crate) fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rfind(')')?;
    stat[after_name + 1..].trim_start().chars().next()
}

/// Whether a process exists and is not dead. A zombie is dead: orphans are reparented to
/// PID 1, and in some containers PID 1 never reaps them, which is outside our control.
#[cfg(target_os = "linux")]
pub(crate) fn is_running(pid: i32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// Polls `cond` every 20 ms until it holds or `limit` passed; returns whether it held.
pub(crate) async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads "<grandchild pid> <child pid>" written by `sleep_forever.sh`.
pub(crate) async fn read_pids(file: &Path) -> (i32, i32) {
    assert!(
        eventually(Duration::from_secs(30), || file.exists()).await,
        "the script wrote no pid file"
    );
    let text = std::fs::read_to_string(file).expect("read pid file");
    let mut it = text
        .split_whitespace()
        .map(|p| p.parse::<i32>().expect("pid"));
    (
        it.next().expect("grandchild pid"),
        it.next().expect("child pid"),
    )
}
