use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::{AccessToken, ErrorKind};

use super::*;

/// A minimal HTTP/1.1 client (the server closes each connection after one response).
async fn request(method: &str, url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let u = url::Url::parse(url).unwrap();
    let host = u
        .host_str()
        .unwrap()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), u.port().unwrap()))
        .await
        .unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        u.authority()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn expect(state: &str) -> Expectation {
    Expectation {
        state: State::new(state),
        issuer: None,
        require_iss: false,
    }
}

async fn get(url: String) -> (u16, String) {
    request("GET", &url).await
}

fn creds(token: &str) -> Credentials {
    Credentials::new(AccessToken::new(token))
}

async fn bind(uri: &str) -> (CallbackServer, String) {
    let server = CallbackServer::bind(&RedirectUri::parse(uri).unwrap())
        .await
        .unwrap();
    let base = server.redirect_uri().to_string();
    (server, base)
}

#[tokio::test]
async fn stray_requests_wrong_state_then_code() {
    let (server, base) = bind("http://127.0.0.1:0/callback").await;
    let exchanged = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&exchanged);
    let browser = tokio::spawn(async move {
        let origin = base.trim_end_matches("/callback").to_string();
        let mut answers = vec![
            get(format!("{origin}/favicon.ico")).await,
            get(format!("{origin}/")).await,
            get(format!("{base}x?state=s1&code=c")).await,
            get(base.clone()).await,
            get(format!("{base}?state=wrong&code=c")).await,
            get(format!("{base}?state=s1&state=s1&code=c")).await,
        ];
        answers.push(request("POST", &format!("{base}?state=s1&code=c")).await);
        // Nothing so far was handed to the flow.
        assert_eq!(seen.load(Ordering::SeqCst), 0);
        answers.push(get(format!("{base}/?state=s1&code=the-code")).await);
        answers
    });
    let seen = Arc::clone(&exchanged);
    let result = server
        .run(
            expect("s1"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |code| async move {
                assert_eq!(code.secret(), "the-code");
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(creds("at"))
            },
        )
        .await
        .unwrap();
    assert_eq!(result.access_token().secret(), "at");
    let answers = browser.await.unwrap();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [404, 404, 404, 400, 400, 400, 404, 200]);
    assert!(
        answers[4].1.contains("state does not match"),
        "{}",
        answers[4].1
    );
    assert!(answers[7].1.contains("Login complete"));
    assert_eq!(exchanged.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn success_page_only_after_exchange_and_failure_page_on_exchange_error() {
    let (server, base) = bind("http://127.0.0.1:0/cb").await;
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let browser = tokio::spawn(get(format!("{base}?state=s&code=c")));
    let run = tokio::spawn(server.run(
        expect("s"),
        Arc::new(Pages::default()),
        Instant::now() + Duration::from_secs(30),
        move |_code| async move {
            let _ = started_tx.send(());
            let _ = release_rx.await;
            Err(AuthError::oauth(
                OAuthErrorResponse::new("invalid_grant").with_description("<bad> code"),
                Some(400),
            ))
        },
    ));
    started_rx.await.unwrap();
    // The exchange is running: the browser has no answer yet.
    assert!(!browser.is_finished());
    release_tx.send(()).unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert!(err.is_invalid_grant());
    let (status, body) = browser.await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("invalid_grant: &lt;bad&gt; code"), "{body}");
    assert!(!body.contains("Login complete"));
}

#[tokio::test]
async fn error_redirect_is_a_typed_error_with_failure_page() {
    let (server, base) = bind("http://127.0.0.1:0/callback").await;
    let browser = tokio::spawn(get(format!(
        "{base}?error=access_denied&error_description=The+user+said+%3Cno%3E&state=s"
    )));
    let err = server
        .run(
            expect("s"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { panic!("no exchange for an error response") },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied);
    assert_eq!(
        err.oauth_error()
            .and_then(|o| o.error_description.as_deref()),
        Some("The user said <no>")
    );
    let (status, body) = browser.await.unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("The user said &lt;no&gt;"), "{body}");
}

#[tokio::test]
async fn error_with_wrong_state_keeps_waiting() {
    let (server, base) = bind("http://127.0.0.1:0/callback").await;
    let browser = tokio::spawn(async move {
        let first = get(format!("{base}?error=access_denied&state=forged")).await;
        let second = get(format!("{base}?code=c&state=s")).await;
        (first.0, second.0)
    });
    let ok = server
        .run(
            expect("s"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { Ok(creds("at")) },
        )
        .await
        .unwrap();
    assert_eq!(ok.access_token().secret(), "at");
    assert_eq!(browser.await.unwrap(), (400, 200));
}

#[tokio::test(start_paused = true)]
async fn times_out_and_releases_the_port() {
    let (server, _base) = bind("http://127.0.0.1:0/callback").await;
    let addr = server.local_addrs()[0];
    let err = server
        .run(
            expect("s"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(120),
            |_| async { Ok(creds("never")) },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("no login response"), "{err}");
    // The listener is closed: the same port can be bound again.
    TcpListener::bind(addr).await.unwrap();
}

#[tokio::test]
async fn busy_port_names_the_port_and_what_to_do() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    for uri in [
        format!("http://127.0.0.1:{port}/callback"),
        format!("http://localhost:{port}/callback"),
    ] {
        let err = CallbackServer::bind(&RedirectUri::parse(&uri).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        let msg = err.to_string();
        assert!(msg.contains(&format!("port {port}")), "{msg}");
        assert!(msg.contains("another login may be running"), "{msg}");
        assert!(msg.contains("port 0"), "{msg}");
    }
}

#[tokio::test]
async fn localhost_listens_on_ipv4_and_ipv6() {
    let (server, base) = bind("http://localhost:0/callback").await;
    let addrs = server.local_addrs();
    let port = addrs[0].port();
    assert_eq!(base, format!("http://localhost:{port}/callback"));
    let v6 = addrs.iter().any(|a| a.is_ipv6());
    // This machine has an IPv6 loopback (the test would not prove anything without it).
    assert!(
        v6 || std::net::TcpListener::bind("[::1]:0").is_err(),
        "::1 is available but the server did not listen on it: {addrs:?}"
    );
    let browser = tokio::spawn(async move {
        let mut statuses = Vec::new();
        if v6 {
            statuses.push(get(format!("http://[::1]:{port}/favicon.ico")).await.0);
            statuses.push(
                get(format!("http://[::1]:{port}/callback?state=wrong"))
                    .await
                    .0,
            );
        }
        statuses.push(get(format!("http://127.0.0.1:{port}/favicon.ico")).await.0);
        let final_host = if v6 { "[::1]" } else { "127.0.0.1" };
        statuses.push(
            get(format!(
                "http://{final_host}:{port}/callback?state=s&code=c"
            ))
            .await
            .0,
        );
        statuses
    });
    let ok = server
        .run(
            expect("s"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { Ok(creds("at")) },
        )
        .await
        .unwrap();
    assert_eq!(ok.access_token().secret(), "at");
    let statuses = browser.await.unwrap();
    let want: &[u16] = if v6 {
        &[404, 400, 404, 200]
    } else {
        &[404, 200]
    };
    assert_eq!(statuses, want);
}

#[tokio::test]
async fn localhost_ipv4_callback() {
    let (server, base) = bind("http://localhost:0/callback").await;
    let port = server.local_addrs()[0].port();
    let _ = base;
    let browser = tokio::spawn(get(format!(
        "http://127.0.0.1:{port}/callback?state=s&code=c"
    )));
    server
        .run(
            expect("s"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { Ok(creds("at")) },
        )
        .await
        .unwrap();
    assert_eq!(browser.await.unwrap().0, 200);
}

#[tokio::test]
async fn issuer_is_checked() {
    for (iss, want_ok) in [
        (Some("http://idp.example"), true),
        (Some("http://idp.example/"), true),
        (Some("http://evil.example"), false),
        (None, false),
    ] {
        let (server, base) = bind("http://127.0.0.1:0/cb").await;
        let q = match iss {
            Some(i) => format!(
                "{base}?state=s&code=c&iss={}",
                url::form_urlencoded::byte_serialize(i.as_bytes()).collect::<String>()
            ),
            None => format!("{base}?state=s&code=c"),
        };
        let browser = tokio::spawn(get(q));
        let e = Expectation {
            state: State::new("s"),
            issuer: Some("http://idp.example".into()),
            require_iss: true,
        };
        let result = server
            .run(
                e,
                Arc::new(Pages::default()),
                Instant::now() + Duration::from_secs(30),
                |_| async { Ok(creds("at")) },
            )
            .await;
        assert_eq!(result.is_ok(), want_ok, "{iss:?}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        }
        assert_eq!(browser.await.unwrap().0, if want_ok { 200 } else { 400 });
    }
}

#[tokio::test]
async fn issuer_not_required_when_not_advertised() {
    let (server, base) = bind("http://127.0.0.1:0/cb").await;
    let browser = tokio::spawn(get(format!("{base}?state=s&code=c")));
    let e = Expectation {
        state: State::new("s"),
        issuer: Some("http://idp.example".into()),
        require_iss: false,
    };
    server
        .run(
            e,
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { Ok(creds("at")) },
        )
        .await
        .unwrap();
    assert_eq!(browser.await.unwrap().0, 200);
}

#[test]
fn params_parse_and_reject_repeats() {
    let p =
        parse_params("state=a&code=b&iss=http%3A%2F%2Fi&error_description=x+y&other=1").unwrap();
    assert_eq!(p.state.as_deref(), Some("a"));
    assert_eq!(p.code.as_deref(), Some("b"));
    assert_eq!(p.iss.as_deref(), Some("http://i"));
    assert_eq!(p.error_description.as_deref(), Some("x y"));
    assert!(parse_params("code=a&code=b").is_err());
    assert!(parse_params("").unwrap().state.is_none());
}

/// Lines "typed" by a test, and what was rejected.
#[derive(Debug)]
struct Typed {
    lines: tokio::sync::Mutex<mpsc::Receiver<String>>,
    rejected: std::sync::Mutex<Vec<String>>,
}

#[auth_core::async_trait]
impl PasteInput for Typed {
    async fn next_line(&self) -> Option<String> {
        self.lines.lock().await.recv().await
    }
    fn rejected(&self, why: &str) {
        self.rejected.lock().unwrap().push(why.to_string());
    }
}

fn typed(lines: &[&str]) -> Arc<Typed> {
    let (tx, rx) = mpsc::channel(16);
    for l in lines {
        tx.try_send(l.to_string()).unwrap();
    }
    // Keep the input open (a terminal nobody types on any more).
    std::mem::forget(tx);
    Arc::new(Typed {
        lines: tokio::sync::Mutex::new(rx),
        rejected: std::sync::Mutex::new(Vec::new()),
    })
}

fn expect_iss(state: &str, issuer: &str) -> Expectation {
    Expectation {
        state: State::new(state),
        issuer: Some(issuer.to_string()),
        require_iss: true,
    }
}

async fn run_pasted(input: Arc<Typed>, expect: Expectation) -> Result<Credentials, AuthError> {
    let (server, _) = bind("http://127.0.0.1:0/callback").await;
    server
        .with_paste(Some(input as Arc<dyn PasteInput>))
        .run(
            expect,
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |code| async move { Ok(creds(&format!("at-for-{}", code.secret()))) },
        )
        .await
}

#[tokio::test]
async fn a_pasted_address_is_checked_like_a_redirect() {
    let input = typed(&[
        "",
        "http://127.0.0.1:1/callback",
        "http://127.0.0.1:1/callback?code=stolen&state=other-attempt&iss=https%3A%2F%2Fidp",
        "http://127.0.0.1:1/callback?code=good&state=s1&iss=https%3A%2F%2Fidp",
    ]);
    let c = run_pasted(input.clone(), expect_iss("s1", "https://idp"))
        .await
        .unwrap();
    assert_eq!(c.access_token().secret(), "at-for-good");
    let rejected = input.rejected.lock().unwrap().clone();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected[1].contains("state does not match"), "{rejected:?}");
}

#[tokio::test]
async fn a_pasted_address_from_another_issuer_or_without_iss_is_refused() {
    let input = typed(&["http://127.0.0.1:1/cb?code=c&state=s1&iss=https%3A%2F%2Fevil"]);
    let e = run_pasted(input, expect_iss("s1", "https://idp"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("mix-up"), "{e}");
    let input = typed(&["http://127.0.0.1:1/cb?code=c&state=s1"]);
    let e = run_pasted(input, expect_iss("s1", "https://idp"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("(iss)"), "{e}");
    let input = typed(&["?error=access_denied&state=s1&iss=https%3A%2F%2Fidp"]);
    let e = run_pasted(input, expect_iss("s1", "https://idp"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
}

#[tokio::test]
async fn a_bare_code_is_accepted() {
    let c = run_pasted(typed(&["  the-code  "]), expect_iss("s1", "https://idp"))
        .await
        .unwrap();
    assert_eq!(c.access_token().secret(), "at-for-the-code");
}

#[tokio::test]
async fn the_redirect_wins_while_nobody_types() {
    let (server, base) = bind("http://127.0.0.1:0/callback").await;
    let browser = tokio::spawn(get(format!("{base}?state=s1&code=c")));
    let c = server
        .with_paste(Some(typed(&[]) as Arc<dyn PasteInput>))
        .run(
            expect("s1"),
            Arc::new(Pages::default()),
            Instant::now() + Duration::from_secs(30),
            |_| async { Ok(creds("from-redirect")) },
        )
        .await
        .unwrap();
    assert_eq!(c.access_token().secret(), "from-redirect");
    assert_eq!(browser.await.unwrap().0, 200);
}
