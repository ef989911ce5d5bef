//! The accept loop and graceful shutdown shared by every listener of the
//! CLI (CAPF on 3804, TVS on 2445), in `capf serve` and in `capf demo`.
//!
//! [`serve`] accepts connections until a stop signal, runs each in its own
//! task, then gives running connections a grace period and aborts the rest.
//! [`Stop`] is the one signal that stops several listeners at once;
//! [`stop_on_signal`] fires it on Ctrl-C or SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Pause after a failed accept (out of file descriptors, ...), so a
/// persistent failure does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// One stop signal for any number of listeners.
#[derive(Debug)]
pub(crate) struct Stop {
    sender: watch::Sender<bool>,
}

impl Stop {
    /// A signal not yet given.
    pub(crate) fn new() -> Self {
        Self {
            sender: watch::Sender::new(false),
        }
    }

    /// Resolves once [`stop`](Self::stop) is called (at once if it was).
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        }
    }

    /// Gives the signal to every listener.
    pub(crate) fn stop(&self) {
        self.sender.send_replace(true);
    }
}

/// Gives `stop` on Ctrl-C or (on Unix) SIGTERM, from a background task.
pub(crate) fn stop_on_signal(stop: Stop) {
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.stop();
    });
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Accepts connections on `listener` until `shutdown` resolves, running
/// `connection` for each in its own task; then closes the listener, waits
/// up to `grace` for the running connections and aborts the rest.
/// `service` ("CAPF server", "TVS server") names it in the log.
pub(crate) async fn serve<C, F>(
    service: &'static str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    mut connection: C,
) where
    C: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tasks.spawn(connection(stream, peer));
                }
                Err(error) => {
                    tracing::warn!(%error, "{service}: accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let running = tasks.len();
    if running > 0 {
        tracing::info!(
            running,
            "{service} shutting down: waiting for running connections"
        );
    }
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            aborted = tasks.len(),
            "{service}: grace period over, aborting connections"
        );
        tasks.shutdown().await;
    }
    tracing::info!("{service} stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    /// What a test connection reports.
    #[derive(Debug, PartialEq, Eq)]
    enum Report {
        Started,
        Finished(u8),
    }

    /// Connections are served until the stop; a running one still finishes
    /// after it, one that outlives the grace period is aborted, and the
    /// listener is closed.
    #[tokio::test]
    async fn serves_until_stopped_then_drains_within_the_grace_period() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Stop::new();
        let (report, mut reports) = mpsc::unbounded_channel();
        let serving = tokio::spawn(serve(
            "test server",
            listener,
            stop.stopped(),
            Duration::from_millis(300),
            move |mut stream: TcpStream, _peer| {
                let report = report.clone();
                async move {
                    let _ = report.send(Report::Started);
                    // Echo one byte; after b'h' the connection hangs.
                    let mut byte = [0_u8; 1];
                    if stream.read_exact(&mut byte).await.is_ok() {
                        if byte[0] == b'h' {
                            std::future::pending::<()>().await;
                        }
                        let _ = stream.write_all(&byte).await;
                    }
                    let _ = report.send(Report::Finished(byte[0]));
                }
            },
        ));

        let mut answer = [0_u8; 1];
        let mut echo = TcpStream::connect(address).await.unwrap();
        echo.write_all(b"a").await.unwrap();
        echo.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"a");
        assert_eq!(reports.recv().await, Some(Report::Started));
        assert_eq!(reports.recv().await, Some(Report::Finished(b'a')));

        // Two running connections when the stop comes: one still to send
        // its byte, one that hangs.
        let mut late = TcpStream::connect(address).await.unwrap();
        let mut hanging = TcpStream::connect(address).await.unwrap();
        hanging.write_all(b"h").await.unwrap();
        assert_eq!(reports.recv().await, Some(Report::Started));
        assert_eq!(reports.recv().await, Some(Report::Started));
        stop.stop();
        late.write_all(b"b").await.unwrap();
        late.read_exact(&mut answer).await.unwrap();
        assert_eq!(
            &answer, b"b",
            "a running connection finishes after the stop"
        );

        serving.await.unwrap();
        // The hanging connection was aborted: its socket closed, its task
        // never finished.
        let mut rest = Vec::new();
        let _ = hanging.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
        assert_eq!(reports.recv().await, Some(Report::Finished(b'b')));
        assert_eq!(reports.recv().await, None, "nothing else reported");
        assert!(
            TcpStream::connect(address).await.is_err(),
            "listener closed"
        );
    }
}
