//! Every request body, on every route, is read within a deadline and up to a
//! size: a client that trickles a body (or sends an endless one) cannot hold
//! a connection, a worker's attention or memory for longer than that.
//!
//! The request's payload stream is wrapped before any handler sees it; when
//! the deadline passes or the size is exceeded it ends in an error, which
//! every extractor turns into a refusal (the `/aps` APIs into a signed
//! `PARAM_ILLEGAL`, the admin forms into HTTP 400), and the connection is
//! closed with its body unread.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage as _;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::Sleep;

/// Bounds `req`'s body: read within `deadline` of now, at most `limit` bytes.
pub fn bound(mut req: ServiceRequest, deadline: Duration, limit: usize) -> ServiceRequest {
    let inner = req.take_payload();
    let bounded = Bounded {
        inner,
        deadline: Box::pin(tokio::time::sleep(deadline)),
        read: 0,
        limit,
        ended: false,
    };
    req.set_payload(Payload::from(
        Box::pin(bounded) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    req
}

struct Bounded {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    read: usize,
    limit: usize,
    ended: bool,
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read += chunk.len();
                if this.read > this.limit {
                    this.ended = true;
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(end) => Poll::Ready(end),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.ended = true;
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body was not sent in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
