//! The auth-testkit conformance suite, over a command that prints numbered JSON tokens and
//! counts its runs in a file.

use std::sync::Arc;

use auth_command::CommandAuthenticator;
use auth_testkit::conformance::Fixture;

use crate::support::{fixture, runs, scratch};

async fn command_fixture() -> Option<Fixture<CommandAuthenticator>> {
    let dir = scratch("conformance");
    let count = dir.join("runs");
    let authenticator = CommandAuthenticator::builder()
        .command([
            fixture("count_runs.sh"),
            count.display().to_string(),
            r#""expires_in":3600"#.to_string(),
        ])
        .build()
        .expect("build");
    Some(Fixture {
        authenticator: Arc::new(authenticator),
        secrets: Vec::new(),
        acquisitions: Arc::new(move || {
            let count = count.clone();
            Box::pin(async move { runs(&count) })
        }),
        expected_header_key: "authorization".to_string(),
    })
}

auth_testkit::conformance_suite!(CommandAuthenticator, command_fixture);
