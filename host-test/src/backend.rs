//! How the host carries a command's HTTP. [`Http`] picks replay (the gate answers from a
//! cassette, in virtual time), live or recording; a live command's requests go over a
//! [`Backend`], the host's wire: [`live`] talks to real servers (through the proxy [`proxy`]
//! chooses), and tests put their own in its place. A backend knows nothing of the guest, the
//! policy or the budgets: by the time a request gets here the gate has checked it, attached
//! the credential and set its timeout, and what a backend answers is scrubbed of the tenant's
//! secrets before the guest or a recording sees it.

use anyhow::Context as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use iam_gate::cassette::Cassette;

use crate::files;
use std::time::{SystemTime, UNIX_EPOCH};

pub mod live;
pub mod proxy;

pub use iam_gate::replay::PreparedCassette;
pub use iam_gate::wire::{IncomingResponse, OutgoingRequest, WireError as BackendError};
pub use live::{Live, LiveOptions, MAX_IN_FLIGHT};

/// A future a backend returns; boxed so that `Backend` stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The host's wire: it sends what the gate allowed, as it is.
pub trait Backend: Send {
    /// Send one request; a response larger than `max_body_bytes` is `TooLarge`.
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>>;
    /// Send several requests, which a backend may carry at once (WIT `http.send-all`): the
    /// answers in the order of `requests`, each request held to its own `timeout` and
    /// `max_response_bytes` ([`within`]). By default one after another.
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(requests.len());
            for request in requests {
                let sending = self.send(request, request.max_response_bytes);
                answers.push(within(request.timeout, sending).await);
            }
            answers
        })
    }
    /// Wait before a retry.
    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()>;
    /// Milliseconds since the Unix epoch.
    fn now_millis(&mut self) -> u64;
}

/// Where one command's HTTP goes.
pub enum Http {
    /// Answers from this cassette, strictly in order, in virtual time.
    Replay(Arc<PreparedCassette>),
    /// Over this wire.
    Live(Box<dyn Backend>),
    /// Over this wire, every exchange kept for a cassette (`Report::recording`).
    Record(Box<dyn Backend>),
}

impl Http {
    /// A live command over `backend`.
    pub fn live(backend: impl Backend + 'static) -> Http {
        Http::Live(Box::new(backend))
    }
}

/// `sending`, given no more than `timeout`: the host holds a backend to the time the gate
/// allows, whether or not the backend honours it. Outside a tokio runtime (a replay driven by
/// another executor) there is no timer, and nothing that could stall.
pub async fn within<T>(
    timeout: Duration,
    sending: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::timeout(timeout, sending)
            .await
            .unwrap_or(Err(BackendError::Timeout))
    } else {
        sending.await
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn system_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The cassette at `path`, read with its cap and checked whole, each interaction prepared
/// when a replay first reaches it.
pub fn load_cassette(path: &Path) -> anyhow::Result<Arc<PreparedCassette>> {
    let text = files::read_capped_text(path, files::CASSETTE_BYTES, "cassette")?;
    let prepared = PreparedCassette::parse(&text)
        .with_context(|| format!("cassette {} is not valid", path.display()))?;
    Ok(Arc::new(prepared))
}

/// Write a recording (architecture.md "--record"): through a temporary file renamed into
/// place, so a reader never sees half of it; with `replace`, over whatever is at `path`,
/// else only if nothing is.
pub fn save_cassette(cassette: &Cassette, path: &Path, replace: bool) -> anyhow::Result<()> {
    files::write_atomically(path, cassette.to_text().as_bytes(), replace)
        .with_context(|| format!("cannot write the recording {}", path.display()))
}
