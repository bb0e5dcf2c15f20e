//! A tenant's gate: when one of its commands is told to slow down (429, or 503, with
//! `Retry-After`), every command of that tenant waits out the pause before its next request,
//! instead of each finding out for itself by hammering the server. [`Gated`] is a `Backend`
//! decorator that shares one [`Gate`] among a tenant's commands.
//!
//! The answer still goes to the guest unchanged: its own retry policy (behaviour.md §3) decides
//! whether and when to retry; the gate only holds back the tenant's other requests meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use crate::backend::{
    Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest, system_now_millis,
};

/// The longest pause one answer can impose on a tenant: the guest waits at most 30 s per
/// command for retries (behaviour.md §3), so a longer pause would only time commands out.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// The "paused until" a tenant's commands share.
#[derive(Debug, Default)]
pub struct Gate {
    paused_until: Mutex<Option<Instant>>,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    fn until(&self) -> Option<Instant> {
        *self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pause the tenant for `wait` from now (never shortening a pause already set).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Wait until the tenant is not paused (a pause set while waiting is waited out too).
    pub async fn wait(&self) {
        while let Some(until) = self.until() {
            if until <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(until).await;
        }
    }

    /// Whether the tenant is paused now.
    pub fn is_paused(&self) -> bool {
        self.until().is_some_and(|until| until > Instant::now())
    }
}

/// A backend whose requests pass the tenant's gate.
pub struct Gated<B> {
    inner: B,
    gate: Arc<Gate>,
}

impl<B: Backend> Gated<B> {
    pub fn new(inner: B, gate: Arc<Gate>) -> Gated<B> {
        Gated { inner, gate }
    }
}

impl<B: Backend> Backend for Gated<B> {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(async move {
            self.gate.wait().await;
            let response = self.inner.send(request, max_body_bytes).await;
            if let Ok(answer) = &response
                && matches!(answer.status, 429 | 503)
                && let Some(wait) = retry_after(&answer.headers, system_now_millis())
            {
                self.gate.pause_for(wait);
            }
            response
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.inner.sleep(millis)
    }

    fn now_millis(&mut self) -> u64 {
        self.inner.now_millis()
    }
}

/// The wait a `Retry-After` header asks for: delta-seconds, or an HTTP date (IMF-fixdate, as
/// RFC 9110 requires servers to send) against `now_millis`. None when absent or unreadable.
pub fn retry_after(headers: &[(String, String)], now_millis: u64) -> Option<Duration> {
    let value = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))?
        .1
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at_millis = http_date_millis(value)?;
    Some(Duration::from_millis(at_millis.saturating_sub(now_millis)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as milliseconds since the Unix epoch.
fn http_date_millis(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hour: u64 = clock.next()?.parse().ok()?;
    let minute: u64 = clock.next()?.parse().ok()?;
    let second: u64 = clock.next()?.parse().ok()?;
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day as i64)).ok()?;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second.min(60) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn header(value: &str) -> Vec<(String, String)> {
        vec![("Retry-After".to_string(), value.to_string())]
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after(&header("7"), 0), Some(Duration::from_secs(7)));
        // 1994-11-06T08:49:37Z is 784111777 s after the epoch.
        let now = 784_111_777_000 - 3_000;
        assert_eq!(
            retry_after(&header("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&header("Sun, 06 Nov 1994 08:49:37 GMT"), now + 10_000),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&header("soon"), 0), None);
        assert_eq!(retry_after(&[], 0), None);
    }

    #[test]
    fn a_pause_is_never_shortened_and_never_longer_than_the_cap() {
        let gate = Gate::new();
        gate.pause_for(Duration::from_secs(3600));
        let capped = gate.until().expect("paused");
        assert!(capped <= Instant::now() + MAX_PAUSE);
        gate.pause_for(Duration::from_secs(1));
        assert_eq!(gate.until(), Some(capped));
        assert!(gate.is_paused());
    }

    /// Answers 429 with `Retry-After: 1` to the first request, 200 to the rest, and counts.
    struct Slow {
        sent: Arc<AtomicUsize>,
    }

    impl Backend for Slow {
        fn send<'a>(
            &'a mut self,
            _request: &'a OutgoingRequest,
            _max_body_bytes: u64,
        ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
            let first = self.sent.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(std::future::ready(Ok(IncomingResponse {
                status: if first { 429 } else { 200 },
                headers: if first { header("1") } else { Vec::new() },
                body: Vec::new(),
            })))
        }
        fn sleep(&mut self, _millis: u64) -> BoxFuture<'_, ()> {
            Box::pin(std::future::ready(()))
        }
        fn now_millis(&mut self) -> u64 {
            0
        }
    }

    fn request() -> OutgoingRequest {
        OutgoingRequest {
            method: "GET".into(),
            url: url::Url::parse("http://127.0.0.1:1/x").expect("url"),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(1),
            max_response_bytes: 1 << 20,
            verify_tls: true,
            use_proxy: false,
        }
    }

    #[tokio::test]
    async fn a_429_with_retry_after_holds_back_the_tenants_other_commands() {
        let gate = Gate::new();
        let sent = Arc::new(AtomicUsize::new(0));
        let mut first = Gated::new(Slow { sent: sent.clone() }, gate.clone());
        let mut second = Gated::new(Slow { sent: sent.clone() }, gate.clone());
        let request = request();
        let answer = first.send(&request, 1 << 20).await.expect("answer");
        assert_eq!(answer.status, 429, "the guest still sees the 429");
        let paused_until = gate.until().expect("the tenant is paused");
        let answer = second.send(&request, 1 << 20).await.expect("answer");
        assert_eq!(answer.status, 200);
        assert!(
            Instant::now() >= paused_until,
            "the second command waited out the pause"
        );
        // Another tenant's commands pass their own gate.
        let other_gate = Gate::new();
        let mut other = Gated::new(Slow { sent }, other_gate.clone());
        other.send(&request, 1 << 20).await.expect("answer");
        assert!(!other_gate.is_paused());
    }
}
