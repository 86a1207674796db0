//! Request bodies the layer can buffer and send again.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// What the layer read of a request body before sending it: its data (and its trailers, if
/// it had any), or, when the body was larger than the cap or not ready at once, a prefix.
#[derive(Clone, Debug, Default)]
pub struct Buffered {
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl Buffered {
    /// The buffered data.
    pub fn data(&self) -> &Bytes {
        &self.data
    }
}

/// A request body type the layer can rebuild from what it buffered, so that a call rejected
/// for its credentials can be sent again (once).
///
/// Implemented for tonic's body (feature `tonic`) and for http-body-util's boxed bodies. A
/// body type of your own implements it by wrapping [`Prefixed`].
pub trait ReplayBody: Body<Data = Bytes> + Sized + Send + Unpin + 'static {
    /// This body type from a [`Prefixed`] one: buffered data, then (if any) the rest of an
    /// original body.
    fn replay(body: Prefixed<Self>) -> Self;
}

pin_project_lite::pin_project! {
    /// A body that yields buffered data first, then the rest of the original body, then the
    /// buffered trailers or error.
    #[derive(Debug)]
    pub struct Prefixed<B: Body> {
        data: Bytes,
        trailers: Option<HeaderMap>,
        error: Option<B::Error>,
        #[pin]
        rest: Option<B>,
    }
}

impl<B: Body> Prefixed<B> {
    /// `buffered`, then `rest`.
    pub fn new(buffered: Buffered, rest: Option<B>) -> Self {
        Self {
            data: buffered.data,
            trailers: buffered.trailers,
            error: None,
            rest,
        }
    }

    fn failed(buffered: Buffered, error: B::Error) -> Self {
        Self {
            data: buffered.data,
            trailers: None,
            error: Some(error),
            rest: None,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Prefixed<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if !this.data.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(std::mem::take(this.data)))));
        }
        if let Some(rest) = this.rest.as_mut().as_pin_mut() {
            match rest.poll_frame(cx) {
                Poll::Ready(None) => this.rest.set(None),
                other => return other,
            }
        }
        if let Some(e) = this.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
            && self.trailers.is_none()
            && self.error.is_none()
            && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |r| r.size_hint());
        let n = self.data.len() as u64;
        // Raise the upper bound first: set_lower asserts lower <= upper.
        if let Some(u) = hint.upper() {
            hint.set_upper(u.saturating_add(n));
        }
        hint.set_lower(hint.lower().saturating_add(n));
        hint
    }
}

/// The outcome of [`buffer`].
pub(crate) enum Read<B: Body> {
    /// The whole body, at most `cap` bytes.
    Whole(Buffered),
    /// Not all of it: the body to send instead (what was read, then the rest).
    Partial(Prefixed<B>),
}

/// Reads the frames of `body` that are ready now, up to `cap` bytes. A body that is not
/// ready at once (a client stream still being written) or is larger than `cap` is not
/// waited for: what was read is sent ahead of the rest.
pub(crate) async fn buffer<B>(mut body: B, cap: usize) -> Read<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    if body.size_hint().lower() > cap as u64 {
        return Read::Partial(Prefixed::new(Buffered::default(), Some(body)));
    }
    let mut data = BytesMut::new();
    let mut trailers = None;
    let outcome = std::future::poll_fn(|cx| {
        loop {
            if body.is_end_stream() {
                return Poll::Ready(Ok(true));
            }
            match Pin::new(&mut body).poll_frame(cx) {
                Poll::Pending => return Poll::Ready(Ok(false)),
                Poll::Ready(None) => return Poll::Ready(Ok(true)),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(chunk) => {
                        data.extend_from_slice(&chunk);
                        if data.len() > cap {
                            return Poll::Ready(Ok(false));
                        }
                    }
                    Err(frame) => {
                        trailers = frame.into_trailers().ok();
                        return Poll::Ready(Ok(true));
                    }
                },
            }
        }
    })
    .await;
    let buffered = Buffered {
        data: data.freeze(),
        trailers,
    };
    match outcome {
        Ok(true) => Read::Whole(buffered),
        Ok(false) => Read::Partial(Prefixed::new(buffered, Some(body))),
        Err(e) => Read::Partial(Prefixed::failed(buffered, e)),
    }
}

impl<E: Send + 'static> ReplayBody for http_body_util::combinators::UnsyncBoxBody<Bytes, E> {
    fn replay(body: Prefixed<Self>) -> Self {
        http_body_util::BodyExt::boxed_unsync(body)
    }
}

impl<E: Send + Sync + 'static> ReplayBody for http_body_util::combinators::BoxBody<Bytes, E> {
    fn replay(body: Prefixed<Self>) -> Self {
        http_body_util::BodyExt::boxed(body)
    }
}

#[cfg(feature = "tonic")]
impl ReplayBody for tonic::body::Body {
    fn replay(body: Prefixed<Self>) -> Self {
        tonic::body::Body::new(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use http_body_util::combinators::UnsyncBoxBody;

    type TestBody = UnsyncBoxBody<Bytes, std::convert::Infallible>;

    fn full(s: &'static str) -> TestBody {
        http_body_util::Full::new(Bytes::from_static(s.as_bytes())).boxed_unsync()
    }

    #[tokio::test]
    async fn small_ready_bodies_are_buffered_whole() {
        let Read::Whole(b) = buffer(full("hello"), 16).await else {
            panic!("not buffered whole")
        };
        assert_eq!(b.data(), "hello");
        let again = TestBody::replay(Prefixed::new(b, None))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(again, "hello");
    }

    #[tokio::test]
    async fn large_bodies_are_sent_whole_but_not_buffered() {
        let Read::Partial(p) = buffer(full("0123456789abcdefXYZ"), 16).await else {
            panic!("buffered a body over the cap")
        };
        let sent = p.collect().await.unwrap().to_bytes();
        assert_eq!(sent, "0123456789abcdefXYZ");
    }

    #[tokio::test]
    async fn a_body_that_is_not_ready_is_not_waited_for() {
        let (mut tx, rx) =
            futures::channel::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        tx.try_send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .unwrap();
        let body = http_body_util::StreamBody::new(rx).boxed_unsync();
        let Read::Partial(p) = buffer(body, 1024).await else {
            panic!("waited for a stream")
        };
        tx.try_send(Ok(Frame::data(Bytes::from_static(b" second"))))
            .unwrap();
        drop(tx);
        assert_eq!(p.collect().await.unwrap().to_bytes(), "first second");
    }
}
