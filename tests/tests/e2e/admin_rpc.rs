//! The command against an admin without the HTTP gateway (issue 15): discovery over gRPC (a
//! Flyte 1 admin reached without its gateway) or over Connect (Flyte 2's backend serves no GET
//! discovery paths), and `admin.discovery` forcing one method. The admin is
//! `auth_testkit::admin` in this process; it points at the real test identity provider, which
//! issues every token.

use std::path::PathBuf;

use auth_testkit::admin::{Admin, Serve};
use auth_testkit::idp::require_issuer;
use tests::User;

const V1_METADATA: &str = "/flyteidl.service.AuthMetadataService/GetOAuth2Metadata";
const V1_CLIENT: &str = "/flyteidl.service.AuthMetadataService/GetPublicClientConfig";
const V2_METADATA: &str = "/flyteidl2.auth.AuthMetadataService/GetOAuth2Metadata";
const V2_CLIENT: &str = "/flyteidl2.auth.AuthMetadataService/GetPublicClientConfig";

/// The admin on a runtime of its own (the test thread blocks on the command).
fn start(issuer: &str, serve: Serve) -> (tokio::runtime::Runtime, Admin) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let admin = rt.block_on(Admin::start(issuer));
    admin.state.set_serve(serve);
    (rt, admin)
}

/// A user whose logins persist in a file (no keyring needed).
fn file_user(issuer: &str) -> User {
    User::new(issuer).env("FLYTE_AUTH_STORE", "file")
}

fn config(u: &User, admin: &Admin, name: &str, extra: &str) -> PathBuf {
    u.file(
        &format!("{name}.yaml"),
        &format!(
            "admin:\n  endpoint: dns:///{}\n  insecure: true\n{extra}",
            admin.addr
        ),
    )
}

fn pkce(u: &User, admin: &Admin, extra: &str) -> PathBuf {
    config(
        u,
        admin,
        "pkce",
        &format!(
            "  authType: Pkce\n  clientId: flyte-cli\n  redirectUri: http://127.0.0.1:0/callback\n  \
             scopes:\n    - openid\n    - offline_access\n{extra}"
        ),
    )
}

fn answers(admin: &Admin) -> Vec<(&'static str, String)> {
    admin.state.discovery_answers.lock().unwrap().clone()
}

/// Requests the admin saw that were not discovery RPCs (the gateway's GET paths).
fn gateway_requests(admin: &Admin) -> usize {
    admin
        .state
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| !p.contains(".AuthMetadataService/"))
        .count()
}

fn login_then_token(u: &User, cfg: &str) {
    let r = u.run(&["--config", cfg, "login"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = u.run(&["--config", cfg, "-o", "json", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(v["subject"], "alice", "{v}");
    assert_eq!(v["has_refresh_token"], true, "{v}");
    let r = u.run(&["--config", cfg, "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.trim().len() > 10, "{r:?}");
}

#[test]
fn login_and_token_against_a_grpc_only_admin() {
    let Some(issuer) = require_issuer("login_and_token_against_a_grpc_only_admin") else {
        return;
    };
    let (_rt, admin) = start(&issuer, Serve::Grpc);
    let u = file_user(&issuer);

    // Client credentials: the token endpoint comes from GetOAuth2Metadata over gRPC.
    let secret = u.file("secret", "cc-basic-secret\n");
    let cc = config(
        &u,
        &admin,
        "cc",
        &format!(
            "  authType: ClientSecret\n  clientId: cc-basic\n  clientSecretLocation: {}\n",
            secret.display()
        ),
    );
    let r = u.run(&["--config", cc.to_str().unwrap(), "token"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.trim().len() > 10, "{r:?}");
    let seen = answers(&admin);
    assert!(
        seen.contains(&("grpc", V1_METADATA.to_owned()))
            && seen.contains(&("grpc", V1_CLIENT.to_owned())),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|(_, p)| p.starts_with("/flyteidl2.")),
        "Flyte 1's service answered first: {seen:?}"
    );

    // A browser login, then `token` and `status` in new processes.
    let cfg = pkce(&u, &admin, "");
    login_then_token(&u, cfg.to_str().unwrap());
}

/// A browser login, `status` and `token` against an admin serving `serve`, with `extra`
/// config lines; the admin, for its records.
fn logged_in(name: &str, serve: Serve, extra: &str) -> Option<(tokio::runtime::Runtime, Admin)> {
    let issuer = require_issuer(name)?;
    let (rt, admin) = start(&issuer, serve);
    let u = file_user(&issuer);
    let cfg = pkce(&u, &admin, extra);
    login_then_token(&u, cfg.to_str().unwrap());
    Some((rt, admin))
}

#[test]
fn login_and_token_against_a_connect_only_admin() {
    let Some((_rt, admin)) = logged_in(
        "login_and_token_against_a_connect_only_admin",
        Serve::Connect,
        "",
    ) else {
        return;
    };
    let seen = answers(&admin);
    assert!(
        seen.contains(&("connect", V2_METADATA.to_owned()))
            && seen.contains(&("connect", V2_CLIENT.to_owned())),
        "{seen:?}"
    );
}

#[test]
fn admin_discovery_forces_one_method() {
    let Some((_rt, admin)) = logged_in(
        "admin_discovery_forces_one_method",
        Serve::All,
        "  discovery: grpc2\n",
    ) else {
        return;
    };
    let issuer = admin.issuer.clone();
    let seen = answers(&admin);
    assert!(!seen.is_empty(), "no discovery RPC answered");
    assert!(
        seen.iter()
            .all(|(proto, p)| *proto == "grpc" && p.starts_with("/flyteidl2.auth.")),
        "only gRPC flyteidl2.auth: {seen:?}"
    );
    assert_eq!(gateway_requests(&admin), 0, "no GET discovery was tried");

    // Forced to Connect on a gRPC-only admin: the error names the method and what to set.
    admin.state.set_serve(Serve::Grpc);
    let u = file_user(&issuer);
    let cfg = pkce(&u, &admin, "  discovery: connect\n");
    let r = u.run(&["--config", cfg.to_str().unwrap(), "login"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("415") && r.stderr.contains("admin.discovery"),
        "{r:?}"
    );
}

#[test]
fn doctor_passes_against_a_grpc_only_admin() {
    let Some(issuer) = require_issuer("doctor_passes_against_a_grpc_only_admin") else {
        return;
    };
    let (_rt, admin) = start(&issuer, Serve::Grpc);
    let u = User::new(&issuer);
    let secret = u.file("secret", "cc-basic-secret\n");
    let cc = config(
        &u,
        &admin,
        "cc",
        &format!(
            "  authType: ClientSecret\n  clientId: cc-basic\n  clientSecretLocation: {}\n",
            secret.display()
        ),
    );
    let r = u.run(&[
        "--config",
        cc.to_str().unwrap(),
        "--store",
        "memory",
        "-o",
        "json",
        "doctor",
    ]);
    let checks: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let status = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| {
                (
                    c["status"].as_str().unwrap_or_default().to_owned(),
                    c["detail"].to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no {name} check: {r:?}"))
    };
    let (discovery, detail) = status("discovery");
    assert_eq!(discovery, "pass", "{detail}");
    assert!(detail.contains("gRPC or Connect"), "{detail}");
    assert_eq!(status("metadata").0, "pass", "{r:?}");
    assert_eq!(status("token").0, "pass", "{r:?}");
    assert_eq!(r.code, 0, "{r:?}");
}
