//! Accepting connections with limits: at most so many open at once, a client that sends its
//! request headers too slowly is cut off, and a connection on which nothing moves for a while
//! (an idle keep-alive, a stalled body or a reader that stopped reading) is closed.
//!
//! axum's own `serve` applies none of these, so the server runs its accept loop here, on
//! hyper's connection builder, with graceful shutdown: on the signal the listener closes,
//! connections finish the requests in flight and then close.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// The limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client must have sent a request's headers this long after it began (or after the
    /// previous response, on a kept-alive connection), or the connection is closed.
    pub header_read: Duration,
    /// A connection on which nothing is read or written for this long is closed.
    pub idle: Duration,
    /// At most this many connections are open at once; others wait in the listen backlog.
    pub max: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_read: Duration::from_secs(10), idle: Duration::from_secs(60), max: 1024 }
    }
}

impl ConnectionLimits {
    /// Serves `app` on `listener` within these limits until `shutdown` resolves; then stops
    /// accepting and waits for the connections to finish the requests they are serving.
    pub(crate) async fn serve(
        self,
        listener: tokio::net::TcpListener,
        app: Router,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let limits = self;
        let permits = Arc::new(tokio::sync::Semaphore::new(limits.max.max(1)));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read);
        tokio::pin!(shutdown);
        loop {
            // A permit first, so that a server at its cap leaves new connections in the kernel's
            // backlog instead of taking them in.
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, addr) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, as the errors are
                        // the machine's, not a client's.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
                request.extensions_mut().insert(ConnectInfo(addr));
                app.clone().oneshot(request)
            });
            let io = TokioIo::new(Idle::new(stream, limits.idle));
            let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(%addr, error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    }
}

/// A stream that fails with `TimedOut` once nothing has been read or written on it for
/// `limit`.
struct Idle {
    inner: TcpStream,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Idle {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        Self { inner, limit, deadline: Box::pin(tokio::time::sleep(limit)) }
    }

    /// Called with the inner stream's answer: progress moves the deadline on; waiting checks it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("nothing moved on the connection for {:?}", self.limit),
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.deadline.as_mut().reset(Instant::now() + self.limit);
                ready
            }
        }
    }
}

impl AsyncRead for Idle {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.watch(cx, polled)
    }
}

impl AsyncWrite for Idle {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
