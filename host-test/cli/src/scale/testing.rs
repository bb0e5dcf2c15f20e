//! A fake [`Backend`] for the unit tests of the wrappers around a command's backend ([`gate`],
//! [`metrics`], [`quarantine`], [`audit`]): it answers from a script of statuses and notes
//! what it was sent, without a network.
//!
//! [`gate`]: super::gate
//! [`metrics`]: super::metrics
//! [`quarantine`]: super::quarantine
//! [`audit`]: super::audit

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};

/// Answers the n-th request it is sent (counted over every fake sharing its count) with
/// `answers[n]`, the last one again once they run out; `None` is no answer at all (a
/// protocol error). It notes how many requests each list (`send_all`) held.
pub(crate) struct Fake {
    answers: Vec<Option<u16>>,
    /// Whether a single `send` is a mistake of the code under test (a list must go whole).
    lists_only: bool,
    /// How long each answer takes.
    delay: Duration,
    sent: Arc<AtomicUsize>,
    lists: Arc<Mutex<Vec<usize>>>,
}

impl Fake {
    /// Answers requests sent one by one, or in lists (one by one, by default `send_all`).
    pub(crate) fn answering(answers: Vec<Option<u16>>) -> Fake {
        assert!(!answers.is_empty(), "a fake needs at least one answer");
        Fake {
            answers,
            lists_only: false,
            delay: Duration::ZERO,
            sent: Arc::new(AtomicUsize::new(0)),
            lists: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Answers `statuses` in turn, to requests sent one by one.
    pub(crate) fn statuses(statuses: &[u16]) -> Fake {
        Fake::answering(statuses.iter().copied().map(Some).collect())
    }

    /// Answers lists only, `statuses` in turn: a single `send` panics.
    pub(crate) fn lists(statuses: &[u16]) -> Fake {
        Fake::statuses(statuses).lists_only()
    }

    /// A single `send` panics: a list goes by `send_all`, not one send after another.
    pub(crate) fn lists_only(mut self) -> Fake {
        self.lists_only = true;
        self
    }

    /// Each answer comes after `delay` (so that commands at once do overlap).
    pub(crate) fn after(mut self, delay: Duration) -> Fake {
        self.delay = delay;
        self
    }

    /// Counts its requests in `sent`, with every other fake given the same count: the n-th
    /// request of them all gets the n-th answer.
    pub(crate) fn counting(mut self, sent: &Arc<AtomicUsize>) -> Fake {
        self.sent = sent.clone();
        self
    }

    /// How many requests each list it was sent held, in order.
    pub(crate) fn lists_sent(&self) -> Vec<usize> {
        self.lists.lock().expect("lists").clone()
    }

    fn answer(&self, n: usize) -> Result<IncomingResponse, BackendError> {
        let answer = self
            .answers
            .get(n)
            .or(self.answers.last())
            .expect("answers");
        match *answer {
            Some(status) => Ok(IncomingResponse {
                status,
                headers: Vec::new(),
                body: Vec::new(),
            }),
            None => Err(BackendError::Protocol("no answer".into())),
        }
    }

    fn after_delay<T: Send + 'static>(&self, answer: T) -> BoxFuture<'static, T> {
        let delay = self.delay;
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            answer
        })
    }
}

impl Backend for Fake {
    fn send<'a>(
        &'a mut self,
        _request: &'a OutgoingRequest,
        _max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        assert!(
            !self.lists_only,
            "a list goes by send_all, not one send after another"
        );
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        self.after_delay(self.answer(n))
    }

    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        self.lists.lock().expect("lists").push(requests.len());
        let first = self.sent.fetch_add(requests.len(), Ordering::SeqCst);
        let answers = (first..first + requests.len())
            .map(|n| self.answer(n))
            .collect();
        self.after_delay(answers)
    }

    fn sleep(&mut self, _millis: u64) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    fn now_millis(&mut self) -> u64 {
        0
    }
}

/// A GET of `http://127.0.0.1:1{path}` that nothing answers (the fakes need no server).
pub(crate) fn request_to(path: &str) -> OutgoingRequest {
    OutgoingRequest {
        method: "GET".into(),
        url: url::Url::parse(&format!("http://127.0.0.1:1{path}")).expect("url"),
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(1),
        max_response_bytes: 1 << 20,
        verify_tls: true,
        use_proxy: false,
    }
}

/// A GET of `/x`.
pub(crate) fn request() -> OutgoingRequest {
    request_to("/x")
}

/// The status of each answer, `None` for no answer.
pub(crate) fn statuses(answers: &[Result<IncomingResponse, BackendError>]) -> Vec<Option<u16>> {
    answers
        .iter()
        .map(|answer| answer.as_ref().ok().map(|answer| answer.status))
        .collect()
}
