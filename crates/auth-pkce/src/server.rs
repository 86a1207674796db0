//! The loopback server that receives the authorization response (RFC 8252 §7.3).
//!
//! It listens on the redirect URI's loopback address(es) and port, answers anything that is
//! not a `GET` of the redirect path with 404, answers a response with a wrong or missing
//! `state` with an error page (and keeps waiting), and hands the first response with the right
//! `state` to the flow, which decides the page the browser gets: the success page only after the
//! code was exchanged. The wait ends at a deadline. Every task the server starts is owned by
//! it and aborted when it is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, AuthorizationCode, Credentials, OAuthErrorResponse};
use auth_oauth2::sanitize_for_terminal;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::pages::Pages;
use crate::paste::{PasteInput, Pasted};
use crate::pkce::State;
use crate::request::{LoopbackHost, RedirectUri};

/// How long a connection may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the last page may take to reach the browser once the login is decided.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Attempts to find an ephemeral port free on both 127.0.0.1 and ::1 (port 0 with `localhost`).
const EPHEMERAL_ATTEMPTS: usize = 5;
/// The longest `error` code kept from a redirect, in characters.
const MAX_ERROR_CODE: usize = 100;
/// The longest `error_description` or `error_uri` kept from a redirect, in characters.
const MAX_ERROR_TEXT: usize = 500;

/// What the flow expects of the authorization response.
#[derive(Debug)]
pub(crate) struct Expectation {
    /// The `state` sent with this attempt's authorization request.
    pub(crate) state: State,
    /// The issuer the response must name in `iss` when it carries one (RFC 9207).
    pub(crate) issuer: Option<String>,
    /// Whether `iss` must be present (the provider advertises RFC 9207 support).
    pub(crate) require_iss: bool,
}

/// The parameters of an authorization response with the right `state`.
#[derive(Debug)]
struct Callback {
    code: Option<AuthorizationCode>,
    error: Option<OAuthErrorResponse>,
    iss: Option<String>,
    reply: oneshot::Sender<Reply>,
    /// A bare code typed on the terminal: no `state` or `iss` to check (the PKCE verifier
    /// still binds it to this attempt).
    typed_code: bool,
}

/// The page the browser gets for the response that decided the login.
#[derive(Debug)]
enum Reply {
    Success,
    Failure(String),
}

/// State shared by every connection handler.
#[derive(Debug)]
struct Shared {
    redirect: RedirectUri,
    state: State,
    pages: Arc<Pages>,
    callbacks: mpsc::Sender<Callback>,
}

/// A bound loopback server that has not started serving yet.
#[derive(Debug)]
pub(crate) struct CallbackServer {
    redirect: RedirectUri,
    redirect_uri: String,
    listeners: Vec<TcpListener>,
    paste: Option<Arc<dyn PasteInput>>,
}

impl CallbackServer {
    /// Binds the redirect URI's address(es) and port: for `localhost` both 127.0.0.1 and ::1 on
    /// one port (IPv4 alone when this machine has no IPv6 loopback), for an IP literal that
    /// address. Port 0 takes a free port.
    pub(crate) async fn bind(redirect: &RedirectUri) -> Result<Self, AuthError> {
        let listeners = match redirect.host() {
            LoopbackHost::Ip(ip) => vec![bind_one(*ip, redirect.port()).await?],
            LoopbackHost::Localhost => bind_localhost(redirect.port()).await?,
        };
        let port = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
            .ok_or_else(|| AuthError::configuration("the login callback server has no address"))?;
        let redirect_uri = redirect.with_bound_port(port);
        Ok(Self {
            redirect: redirect.clone(),
            redirect_uri,
            listeners,
            paste: None,
        })
    }

    /// Also accepts the login response pasted on the terminal, racing the listener.
    pub(crate) fn with_paste(mut self, paste: Option<Arc<dyn PasteInput>>) -> Self {
        self.paste = paste;
        self
    }

    /// The redirect URI to send to the provider (with the chosen port when it was 0).
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The addresses the server listens on.
    pub(crate) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until the response with the right `state` arrives or `deadline` passes.
    ///
    /// For that response: an `iss` that does not name the expected issuer, or an `error`, ends
    /// the login with an error (and a failure page); a `code` is handed to `exchange`, and the
    /// browser gets the success page only when the exchange succeeded.
    pub(crate) async fn run<F, Fut>(
        self,
        expect: Expectation,
        pages: Arc<Pages>,
        deadline: Instant,
        exchange: F,
    ) -> Result<Credentials, AuthError>
    where
        F: FnOnce(AuthorizationCode) -> Fut,
        Fut: Future<Output = Result<Credentials, AuthError>>,
    {
        let (tx, mut rx) = mpsc::channel(4);
        let shared = Arc::new(Shared {
            redirect: self.redirect,
            state: expect.state.clone(),
            pages: Arc::clone(&pages),
            callbacks: tx,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for listener in self.listeners {
            tasks.spawn(accept_loop(
                listener,
                Arc::clone(&shared),
                shutdown_rx.clone(),
            ));
        }
        drop(shared);

        let mut paste = self.paste;
        let outcome = loop {
            tokio::select! {
                callback = rx.recv() => break match callback {
                    Some(callback) => Some(decide(callback, &expect, exchange).await),
                    None => None,
                },
                line = next_line(paste.as_deref()), if paste.is_some() => match line {
                    None => {
                        tracing::debug!("the terminal input ended; waiting for the redirect alone");
                        paste = None;
                    }
                    Some(line) => match pasted_callback(&line, &expect.state) {
                        Ok(Some(callback)) => {
                            tracing::debug!("the login response was pasted on the terminal");
                            break Some(decide(callback, &expect, exchange).await);
                        }
                        Ok(None) => {}
                        Err(why) => {
                            if let Some(p) = &paste {
                                p.rejected(why);
                            }
                        }
                    },
                },
                () = tokio::time::sleep_until(deadline) => break None,
            }
        };
        // Refuse whatever arrives from now on, let the last page reach the browser, stop.
        drop(rx);
        let _ = shutdown_tx.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();

        match outcome {
            Some(result) => result,
            None => Err(AuthError::timeout(
                "no login response arrived from the browser in time; \
                 run the login again and finish it in the browser, or raise the time limit \
                 (pkceConfig.timeout)",
            )),
        }
    }
}

/// Decides the login from the response with the right `state` and answers its browser.
async fn decide<F, Fut>(
    callback: Callback,
    expect: &Expectation,
    exchange: F,
) -> Result<Credentials, AuthError>
where
    F: FnOnce(AuthorizationCode) -> Fut,
    Fut: Future<Output = Result<Credentials, AuthError>>,
{
    let Callback {
        code,
        error,
        iss,
        reply,
        typed_code,
    } = callback;
    let issuer_checked = if typed_code {
        Ok(())
    } else {
        check_issuer(iss.as_deref(), expect)
    };
    let result = match issuer_checked {
        Err(e) => Err(e),
        Ok(()) => match (error, code) {
            (Some(error), _) => {
                tracing::debug!(error = %error.error, "the identity provider redirected with an error");
                Err(AuthError::oauth(error, None)
                    .context("the login was not completed in the browser"))
            }
            (None, Some(code)) => {
                tracing::debug!("received an authorization code; exchanging it");
                exchange(code).await
            }
            (None, None) => Err(AuthError::invalid_response(
                "the login response carries neither a code nor an error; try again",
            )),
        },
    };
    let page = match &result {
        Ok(_) => Reply::Success,
        Err(e) => Reply::Failure(e.to_string()),
    };
    // The browser may have gone away; the outcome stands either way.
    let _ = reply.send(page);
    result
}

/// RFC 9207: when the response names its issuer, it must be the one we talk to; when the
/// provider advertises the parameter, it must be present.
fn check_issuer(iss: Option<&str>, expect: &Expectation) -> Result<(), AuthError> {
    match (iss, expect.issuer.as_deref()) {
        (Some(got), Some(want)) if !same_issuer(got, want) => {
            Err(AuthError::invalid_response(format!(
                "the login response names the issuer {got:?}, not the configured {want:?}; \
             refusing it (RFC 9207 mix-up protection): check the configured endpoints"
            )))
        }
        (None, _) if expect.require_iss => Err(AuthError::invalid_response(
            "the login response does not name its issuer (iss) although the identity provider \
             advertises it; refusing it (RFC 9207)",
        )),
        (Some(_), None) => {
            tracing::debug!(
                "the login response names an issuer but none is configured; not checked"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

fn same_issuer(a: &str, b: &str) -> bool {
    a == b || a.trim_end_matches('/') == b.trim_end_matches('/')
}

async fn bind_one(ip: IpAddr, port: u16) -> Result<TcpListener, AuthError> {
    TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .map_err(|e| bind_error(ip, port, e))
}

async fn bind_localhost(port: u16) -> Result<Vec<TcpListener>, AuthError> {
    let mut last_v6_conflict = None;
    for _ in 0..EPHEMERAL_ATTEMPTS {
        let v4 = bind_one(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port).await?;
        let bound = v4.local_addr().map(|a| a.port()).unwrap_or(port);
        let v6_addr = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), bound);
        match TcpListener::bind(v6_addr).await {
            Ok(v6) => return Ok(vec![v4, v6]),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                if port != 0 {
                    return Err(bind_error(v6_addr.ip(), port, e));
                }
                // The free IPv4 port is taken on ::1: try another one.
                last_v6_conflict = Some(e);
            }
            Err(e) => {
                tracing::debug!(error = %e, port = bound, "cannot listen on [::1]; listening on 127.0.0.1 only");
                return Ok(vec![v4]);
            }
        }
    }
    tracing::debug!(
        error = ?last_v6_conflict,
        "found no port free on both 127.0.0.1 and [::1]; listening on 127.0.0.1 only"
    );
    let v4 = bind_one(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port).await?;
    Ok(vec![v4])
}

fn bind_error(ip: IpAddr, port: u16, e: io::Error) -> AuthError {
    let addr = SocketAddr::new(ip, port);
    if e.kind() == io::ErrorKind::AddrInUse {
        AuthError::configuration(format!(
            "port {port} is already in use on {ip}, so the login cannot receive the browser's \
             redirect: another login may be running; close it or set redirectUri to another port, \
             or port 0 (any free port) if the identity provider allows it"
        ))
        .with_source(e)
    } else {
        AuthError::configuration(format!(
            "cannot listen on {addr} for the login redirect; check the redirect URI"
        ))
        .with_source(e)
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::debug!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(req, &shared).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::trace!(error = %e, "login callback connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The parameters of a redirect, each at most once.
#[derive(Default)]
pub(crate) struct Params {
    pub(crate) state: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) error_uri: Option<String>,
    pub(crate) iss: Option<String>,
}

pub(crate) fn parse_params(query: &str) -> Result<Params, &'static str> {
    let mut p = Params::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut p.state,
            "code" => &mut p.code,
            "error" => &mut p.error,
            "error_description" => &mut p.error_description,
            "error_uri" => &mut p.error_uri,
            "iss" => &mut p.iss,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            // RFC 6749 §3.1: parameters must not be repeated.
            return Err("the login response repeats a parameter");
        }
    }
    Ok(p)
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET || !shared.redirect.matches_path(req.uri().path()) {
        tracing::debug!(
            method = %req.method(),
            path = req.uri().path(),
            "ignoring a request that is not the login redirect"
        );
        return text(StatusCode::NOT_FOUND, "Not found\n");
    }
    let params = match parse_params(req.uri().query().unwrap_or("")) {
        Ok(p) => p,
        Err(why) => {
            tracing::debug!("ignoring a malformed login redirect: {why}");
            return html(StatusCode::BAD_REQUEST, shared.pages.failure(why));
        }
    };
    if !params
        .state
        .as_deref()
        .is_some_and(|s| shared.state.matches(s))
    {
        tracing::debug!(
            has_state = params.state.is_some(),
            "ignoring a login redirect whose state does not match this login attempt"
        );
        return html(
            StatusCode::BAD_REQUEST,
            shared.pages.failure(
                "This response does not belong to the login in progress (the state does not match). \
                 If you started several logins, finish the most recent one; otherwise start the login \
                 again from the command line.",
            ),
        );
    }
    let (reply_tx, reply_rx) = oneshot::channel();
    let callback = callback_from(params, reply_tx);
    match shared.callbacks.try_send(callback) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            return html(
                StatusCode::CONFLICT,
                shared.pages.failure(
                    "A response for this login was already received. Return to the command line.",
                ),
            );
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            return html(
                StatusCode::GONE,
                shared.pages.failure(
                    "This login already ended (it may have timed out). Return to the command line.",
                ),
            );
        }
    }
    match reply_rx.await {
        Ok(Reply::Success) => html(StatusCode::OK, shared.pages.success().to_string()),
        Ok(Reply::Failure(reason)) => html(StatusCode::BAD_REQUEST, shared.pages.failure(&reason)),
        Err(_) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            shared.pages.failure(
                "The login ended before this response could be used. Return to the command line.",
            ),
        ),
    }
}

/// The callback of a response whose `state` matched.
fn callback_from(params: Params, reply: oneshot::Sender<Reply>) -> Callback {
    let error = error_response(params.error, params.error_description, params.error_uri);
    Callback {
        code: params.code.map(AuthorizationCode::new),
        error,
        iss: params.iss,
        reply,
        typed_code: false,
    }
}

async fn next_line(paste: Option<&dyn PasteInput>) -> Option<String> {
    match paste {
        Some(p) => p.next_line().await,
        None => std::future::pending().await,
    }
}

/// A pasted line as a callback: `Ok(None)` for an empty line, an error (to show, and keep
/// waiting) for anything that is not this attempt's response. The `state` of a pasted address
/// is checked as the listener checks a redirect's.
fn pasted_callback(line: &str, state: &State) -> Result<Option<Callback>, &'static str> {
    // Nobody waits for a page: the reply goes nowhere.
    let (reply, _) = oneshot::channel();
    match crate::paste::read(line)? {
        Pasted::Nothing => Ok(None),
        Pasted::Code(code) => Ok(Some(Callback {
            code: Some(AuthorizationCode::new(code)),
            error: None,
            iss: None,
            reply,
            typed_code: true,
        })),
        Pasted::Query(query) => {
            let params = parse_params(query)?;
            if !params.state.as_deref().is_some_and(|s| state.matches(s)) {
                return Err(
                    "That address does not belong to this login (its state does not match): paste the address of the page this login's URL ended on.",
                );
            }
            if params.code.is_none() && params.error.is_none() {
                return Err(
                    "That address carries no code: paste the full address of the page the browser ended on.",
                );
            }
            Ok(Some(callback_from(params, reply)))
        }
    }
}

/// The error of a redirect. Its fields come from whoever sent the redirect and end up in
/// messages printed on a terminal: no escape sequences or other control characters.
pub(crate) fn error_response(
    error: Option<String>,
    description: Option<String>,
    uri: Option<String>,
) -> Option<OAuthErrorResponse> {
    error.map(|e| {
        let mut r = OAuthErrorResponse::new(sanitize_for_terminal(&e, MAX_ERROR_CODE));
        r.error_description = description
            .map(|d| sanitize_for_terminal(&d, MAX_ERROR_TEXT))
            .filter(|d| !d.is_empty());
        r.error_uri = uri
            .map(|u| sanitize_for_terminal(&u, MAX_ERROR_TEXT))
            .filter(|u| !u.is_empty());
        r
    })
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    respond(status, "text/html; charset=utf-8", Bytes::from(body))
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    // The page follows a redirect that carried a code: never cache it, never leak the URL on.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests;
