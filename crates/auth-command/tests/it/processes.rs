//! The time limit and cancellation kill the whole process group and reap the command.

use std::time::Duration;

use auth_command::CommandAuthenticator;
use auth_core::{Authenticator, ErrorKind};

use crate::support::{eventually, fixture, read_pids, scratch};
#[cfg(target_os = "linux")]
use crate::support::{is_running, proc_state};

/// Runs `sleep_forever.sh` under time limits that grow until the script had the time to
/// write its pid file (on a loaded machine a shell can take long to start), and returns the
/// error and the pids.
async fn run_into_timeout(name: &str) -> (auth_core::AuthError, i32, i32, Duration) {
    for limit_ms in [1_000, 3_000, 10_000] {
        let dir = scratch(name);
        let pid_file = dir.join("pids");
        let limit = Duration::from_millis(limit_ms);
        let auth = CommandAuthenticator::builder()
            .command([fixture("sleep_forever.sh"), pid_file.display().to_string()])
            .timeout(limit)
            .build()
            .expect("build");
        let e = auth.credentials().await.unwrap_err();
        if pid_file.exists() {
            let (grandchild, child) = read_pids(&pid_file).await;
            return (e, grandchild, child, limit);
        }
    }
    panic!("sleep_forever.sh never got to write its pid file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_forever_is_killed_at_the_limit_with_its_process_group() {
    let (e, grandchild, child, limit) = run_into_timeout("timeout").await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        !e.is_retryable(),
        "a command that used its whole time is not run again at once"
    );
    let msg = e.to_string();
    let secs = limit.as_secs();
    assert!(
        msg.contains(&format!("did not finish within {secs}s")),
        "says how long it waited: {msg}"
    );
    assert!(msg.contains("sleep_forever.sh"), "{msg}");
    assert!(
        msg.contains("its stderr so far: waiting for a login that never comes"),
        "{msg}"
    );

    #[cfg(target_os = "linux")]
    {
        // The command was reaped before the error was returned: no zombie.
        assert_eq!(
            proc_state(child),
            None,
            "the command {child} is still there (zombie?)"
        );
        // The group kill is synchronous, but a process dies a moment after SIGKILL. An
        // orphaned grandchild is reparented to PID 1, which may leave it a zombie: dead
        // either way.
        assert!(
            eventually(Duration::from_secs(10), || !is_running(grandchild)).await,
            "the grandchild {grandchild} survived the time limit: {:?}",
            proc_state(grandchild)
        );
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = grandchild;
        let group = rustix::process::Pid::from_raw(child).expect("pid");
        assert!(
            eventually(Duration::from_secs(10), || {
                rustix::process::test_kill_process_group(group).is_err()
            })
            .await,
            "the process group {child} survived the time limit"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_authenticator_kills_the_process_group() {
    let dir = scratch("drop");
    let pid_file = dir.join("pids");
    let auth = std::sync::Arc::new(
        CommandAuthenticator::builder()
            .command([fixture("sleep_forever.sh"), pid_file.display().to_string()])
            .build()
            .expect("build"),
    );
    let caller = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.credentials().await })
    };
    let (grandchild, child) = read_pids(&pid_file).await;
    #[cfg(target_os = "linux")]
    assert!(is_running(child) && is_running(grandchild));

    // The only caller gives up, and the authenticator goes away.
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    drop(auth);

    #[cfg(target_os = "linux")]
    {
        assert!(
            eventually(Duration::from_secs(10), || !is_running(grandchild)
                && !is_running(child))
            .await,
            "still running after the drop: child {:?}, grandchild {:?}",
            proc_state(child),
            proc_state(grandchild)
        );
        // tokio reaps the dropped child in the background.
        assert!(
            eventually(Duration::from_secs(10), || proc_state(child).is_none()).await,
            "the command {child} was not reaped: {:?}",
            proc_state(child)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_process_holding_stdout_does_not_block() {
    // The command prints its token and exits, but leaves a process behind that keeps stdout
    // open. The token is used once the command exited, without waiting for the time limit.
    let dir = scratch("background");
    let pid_file = dir.join("pid");
    let script = format!(
        "sleep 1000 & echo $! > '{}'; echo bg-token",
        pid_file.display()
    );
    let auth = CommandAuthenticator::builder()
        .command(["sh", "-c", &script])
        .timeout(Duration::from_secs(50))
        .build()
        .expect("build");
    let result = auth.credentials().await;
    // Clean up the leftover before asserting.
    let leftover = read_pids_single(&pid_file);
    if let Some(pid) = leftover.and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    let c = result.expect("credentials");
    assert_eq!(c.access_token().secret(), "bg-token");
}

fn read_pids_single(file: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}
