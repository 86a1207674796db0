//! Token engine benchmarks (run by `cargo xtask bench`).
//!
//! - `warm`: `credentials()` on a valid cached token, on one and on two threads, against the
//!   baseline of an `ArcSwap` load plus a clone of the token. Goal: within 2x of the baseline.
//! - `herd`: 1,000 concurrent callers on a cold cache against one caller alone; each run
//!   asserts that the herd made exactly one acquisition.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use auth_core::{
    AccessToken, AuthError, Credentials, EngineOptions, FetchContext, RefreshToken, TokenEngine,
    TokenSource, async_trait,
};
use criterion::{Criterion, criterion_group, criterion_main};

#[derive(Debug, Default)]
struct Source {
    delay: Duration,
    calls: AtomicU64,
}

#[async_trait]
impl TokenSource for Source {
    async fn fetch(&self, _: &FetchContext<'_>) -> Result<Credentials, AuthError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(token())
    }
}

fn token() -> Credentials {
    Credentials::new(AccessToken::new("x".repeat(900)))
        .with_refresh_token(Some(RefreshToken::new("r".repeat(64))))
        .with_scopes(["openid", "offline_access", "all"])
        .with_expiry_from(Some(3600), SystemTime::now())
}

fn warm(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Arc::new(TokenEngine::new(
        Arc::new(Source::default()),
        EngineOptions::default(),
    ));
    rt.block_on(engine.credentials()).unwrap();
    let swap = Arc::new(ArcSwap::from_pointee(AccessToken::new("x".repeat(900))));

    let mut g = c.benchmark_group("warm");
    g.bench_function("baseline_arcswap_load_clone", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box((**swap.load()).clone());
            }
            start.elapsed()
        })
    });
    g.bench_function("engine", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(engine.credentials().await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("warm_2_threads");
    g.bench_function("baseline_arcswap_load_clone", |b| {
        b.iter_custom(|iters| {
            two_threads(&rt, iters, {
                let swap = swap.clone();
                move || {
                    black_box((**swap.load()).clone());
                }
            })
        })
    });
    g.bench_function("engine", |b| {
        b.iter_custom(|iters| {
            let e = engine.clone();
            rt.block_on(async move {
                let start = Instant::now();
                let tasks: Vec<_> = (0..2)
                    .map(|_| {
                        let e = e.clone();
                        tokio::spawn(async move {
                            for _ in 0..iters / 2 {
                                black_box(e.credentials().await.unwrap());
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Runs `f` `iters` times split over two threads; wall time per total.
fn two_threads(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    f: impl Fn() + Send + Sync + Clone + 'static,
) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move {
                    for _ in 0..iters / 2 {
                        f();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    })
}

fn herd(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let delay = Duration::from_millis(2);
    let mut g = c.benchmark_group("herd");
    g.sample_size(30);
    g.bench_function("baseline_one_caller", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let engine = TokenEngine::new(
                        Arc::new(Source {
                            delay,
                            ..Default::default()
                        }),
                        EngineOptions::default(),
                    );
                    let start = Instant::now();
                    engine.credentials().await.unwrap();
                    total += start.elapsed();
                }
                total
            })
        })
    });
    g.bench_function("1000_callers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let source = Arc::new(Source {
                        delay,
                        ..Default::default()
                    });
                    let engine =
                        Arc::new(TokenEngine::new(source.clone(), EngineOptions::default()));
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..1000)
                        .map(|_| {
                            let e = engine.clone();
                            tokio::spawn(async move { e.credentials().await })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap().unwrap();
                    }
                    total += start.elapsed();
                    let calls = source.calls.load(Ordering::SeqCst);
                    assert_eq!(calls, 1, "the herd made {calls} acquisitions");
                }
                total
            })
        })
    });
    g.finish();
    println!("herd: every 1000-caller run made exactly 1 acquisition");
}

criterion_group!(benches, warm, herd);
criterion_main!(benches);
