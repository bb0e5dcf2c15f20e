//! The retry policy of behaviour.md §3 [fix]: which outcomes are tried again, how long to
//! wait (`Retry-After` as seconds or an HTTP date, else a doubling back-off), and the
//! per-request and per-command limits. It decides; the client's send loop sleeps and sends.
//!
//! It knows HTTP outcomes and time, not SCIM resources or XSOAR.

use crate::transport::{Method, Response, SendError};

/// Retries of one request on 429/503 (and, for GET/PUT/PATCH/DELETE, 500/502/504 and
/// transport errors): Atlassian publishes no limit, three keeps a flaky hop from failing a
/// playbook without hammering a throttled tenant.
pub const MAX_RETRIES: u32 = 3;
/// Total waiting per command, so a playbook step never hangs on a throttled tenant.
pub const MAX_TOTAL_WAIT_MS: u64 = 30_000;
/// First back-off without `Retry-After`; doubles on each retry (1 s, 2 s, 4 s).
pub const FIRST_BACKOFF_MS: u64 = 1_000;

/// Whether this outcome of a request may be cured by sending the request again.
///
/// 429 and 503 are "come back later" for every method. A POST is not idempotent: after a
/// 500/502/504 or a lost connection it may have created the resource, so it is not repeated.
/// A refused certificate, a malformed answer or a policy denial fails the same way every
/// time; a 409 is an answer, not an accident.
pub fn is_retryable(method: Method, outcome: &Result<Response, SendError>) -> bool {
    let repeatable = !matches!(method, Method::Post);
    match outcome {
        Ok(response) => match response.status {
            429 | 503 => true,
            500 | 502 | 504 => repeatable,
            _ => false,
        },
        Err(SendError::Timeout | SendError::Transport(_)) => repeatable,
        Err(
            SendError::Denied(_)
            | SendError::Tls(_)
            | SendError::Protocol(_)
            | SendError::UnknownCredential(_)
            | SendError::ResponseTooLarge(_)
            | SendError::TooManyRequests(_)
            | SendError::Aborted,
        ) => false,
    }
}

/// The wait before the next try, in milliseconds; none when this outcome is the answer:
/// not retryable, out of retries, or the wait would overrun what is left of the command's
/// waiting budget (`waited_ms` so far). The clock is read only for a retryable answer (for
/// a `Retry-After` date), so an answer taken as it is costs no call to the host's clock.
pub fn wait_before_retry(
    method: Method,
    outcome: &Result<Response, SendError>,
    retries: u32,
    waited_ms: u64,
    now_millis: impl FnOnce() -> u64,
) -> Option<u64> {
    if retries >= MAX_RETRIES || !is_retryable(method, outcome) {
        return None;
    }
    let asked = outcome
        .as_ref()
        .ok()
        .and_then(|response| retry_after_millis(response.header("Retry-After"), now_millis()));
    let wait = asked.unwrap_or(FIRST_BACKOFF_MS << retries);
    (wait <= MAX_TOTAL_WAIT_MS.saturating_sub(waited_ms)).then_some(wait)
}

/// The wait a `Retry-After` header asks for, in milliseconds: delay-seconds or an HTTP date
/// (RFC 9110 §10.2.3). None when absent or unreadable.
pub fn retry_after_millis(header: Option<&str>, now_millis: u64) -> Option<u64> {
    let value = header?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_millis))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to milliseconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    // HTTP dates have four-digit years; anything else is unreadable, not a wait to honour.
    if !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days as u64 * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::tests::client;
    use crate::scim::{Failure, user::Identifier};
    use crate::transport::Denial;
    use crate::transport::fake::{FakeTransport, json, with_header};
    use serde_json::json;

    #[test]
    fn retry_after_in_seconds_is_honoured() {
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "7"),
            json(200, r#"{"id":"1"}"#),
        ]);
        assert!(client(&mut transport).get_user("1").unwrap().is_some());
        assert_eq!(transport.slept, vec![7000]);
    }

    #[test]
    fn retry_after_as_an_http_date_waits_until_then() {
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(now, 784_111_777_000);
        let mut transport = FakeTransport::answering(vec![
            with_header(503, "Retry-After", "Sun, 06 Nov 1994 08:49:42 GMT"),
            json(200, r#"{"id":"1"}"#),
        ]);
        transport.now = now;
        client(&mut transport).get_user("1").unwrap();
        assert_eq!(transport.slept, vec![5000]);
        assert_eq!(
            retry_after_millis(Some("Sun, 06 Nov 1994 08:49:30 GMT"), now),
            Some(0)
        );
        assert_eq!(retry_after_millis(Some("soon"), now), None);
        // Regression: a year beyond four digits overflowed the millisecond arithmetic.
        assert_eq!(parse_http_date("Sun, 06 Nov 600000000 08:49:37 GMT"), None);
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799_000)
        );
    }

    #[test]
    fn without_retry_after_the_back_off_doubles_and_stops_after_three_retries() {
        let mut transport = FakeTransport::answering(vec![
            json(503, ""),
            json(503, ""),
            json(503, ""),
            json(503, r#"{"detail":"busy"}"#),
            json(200, "{}"),
        ]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(
            failure,
            Failure {
                code: Some(503),
                message: "busy".into()
            }
        );
        assert_eq!(transport.slept, vec![1000, 2000, 4000]);
        assert_eq!(transport.sent.len(), 4);
    }

    #[test]
    fn waiting_stops_when_the_thirty_second_budget_would_be_exceeded() {
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "20"),
            with_header(429, "Retry-After", "11"),
            json(200, "{}"),
        ]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(failure.code, Some(429));
        assert_eq!(transport.slept, vec![20_000]);
        // The budget is per command: a second request has 10 s left.
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "20"),
            json(200, r#"{"id":"1"}"#),
            with_header(429, "Retry-After", "10"),
            json(200, r#"{"id":"1"}"#),
        ]);
        let mut scim = client(&mut transport);
        scim.get_user("1").unwrap();
        scim.get_user("1").unwrap();
        assert_eq!(transport.slept, vec![20_000, 10_000]);
    }

    #[test]
    fn post_is_retried_only_on_429_and_503() {
        let mut transport = FakeTransport::answering(vec![json(500, ""), json(201, "{}")]);
        let failure = client(&mut transport)
            .create_user(&json!({"userName": "u"}))
            .unwrap_err();
        assert_eq!(failure.code, Some(500));
        assert_eq!(transport.sent.len(), 1);
        let mut transport =
            FakeTransport::answering(vec![Err(SendError::Timeout), json(201, "{}")]);
        assert!(client(&mut transport).create_user(&json!({})).is_err());
        assert_eq!(transport.sent.len(), 1);
        let mut transport =
            FakeTransport::answering(vec![json(503, ""), json(201, r#"{"id":"n"}"#)]);
        assert_eq!(
            client(&mut transport).create_user(&json!({})).unwrap()["id"],
            "n"
        );
    }

    #[test]
    fn idempotent_methods_are_retried_on_server_and_transport_errors_but_never_on_409() {
        let mut transport = FakeTransport::answering(vec![
            json(502, ""),
            Err(SendError::Transport("reset".into())),
            json(504, ""),
            json(200, r#"{"id":"1"}"#),
        ]);
        assert!(client(&mut transport).replace_user("1", &json!({})).is_ok());
        assert_eq!(transport.slept, vec![1000, 2000, 4000]);
        let mut transport =
            FakeTransport::answering(vec![json(409, r#"{"detail":"exists"}"#), json(200, "{}")]);
        assert_eq!(
            client(&mut transport)
                .replace_user("1", &json!({}))
                .unwrap_err()
                .code,
            Some(409)
        );
        assert_eq!(transport.sent.len(), 1);
    }

    #[test]
    fn a_denied_request_is_not_retried_and_has_no_error_code() {
        let mut transport =
            FakeTransport::answering(vec![Err(SendError::Denied(Denial::OriginNotAllowed {
                origin: "https://evil:443".into(),
                allowed: Some("https://api.atlassian.com:443".into()),
            }))]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(failure.code, None);
        assert_eq!(
            failure.message,
            format!(
                "GET {}/Users/1 failed: the host refused the request: origin https://evil:443 is not allowed; this tenant may reach only https://api.atlassian.com:443",
                crate::scim::tests::BASE
            )
        );
        assert_eq!(transport.sent.len(), 1);
    }

    #[test]
    fn tls_and_protocol_failures_are_never_retried() {
        for error in [
            SendError::Tls("certificate has expired".into()),
            SendError::Protocol("invalid status line".into()),
        ] {
            let mut transport =
                FakeTransport::answering(vec![Err(error.clone()), json(200, r#"{"id":"1"}"#)]);
            let failure = client(&mut transport)
                .find_user(&Identifier::Id("1".into()))
                .unwrap_err();
            assert_eq!(failure.code, None, "{error:?}");
            assert!(failure.message.ends_with(&error.to_string()), "{failure:?}");
            assert_eq!(transport.sent.len(), 1, "{error:?} was retried");
            assert!(transport.slept.is_empty());
        }
    }

    #[test]
    fn timeouts_and_transport_errors_are_retried_except_for_post() {
        let mut transport = FakeTransport::answering(vec![
            Err(SendError::Timeout),
            Err(SendError::Transport("connection reset".into())),
            json(200, r#"{"id":"1"}"#),
        ]);
        assert!(client(&mut transport).get_user("1").unwrap().is_some());
        assert_eq!(transport.slept, vec![1000, 2000]);
        for method in [Method::Get, Method::Put, Method::Patch, Method::Delete] {
            for error in [SendError::Timeout, SendError::Transport("dns".into())] {
                assert!(is_retryable(method, &Err(error)), "{method}");
            }
        }
        for error in [SendError::Timeout, SendError::Transport("dns".into())] {
            assert!(!is_retryable(Method::Post, &Err(error)));
        }
    }

    #[test]
    fn the_decision_for_each_kind_of_outcome() {
        let status = |code| {
            Ok(Response {
                status: code,
                headers: Vec::new(),
                body: Vec::new(),
            })
        };
        let never = [
            Err(SendError::Denied(Denial::UserInfo)),
            Err(SendError::Aborted),
            Err(SendError::Tls("bad certificate".into())),
            Err(SendError::Protocol("garbage".into())),
            Err(SendError::UnknownCredential("x".into())),
            Err(SendError::ResponseTooLarge(10)),
            Err(SendError::TooManyRequests(256)),
            status(409),
            status(400),
            status(404),
            status(200),
        ];
        for method in [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ] {
            for outcome in &never {
                assert!(!is_retryable(method, outcome), "{method} {outcome:?}");
                // An answer taken as it is never reads the host's clock.
                let clock = || panic!("the clock was read for {method} {outcome:?}");
                assert_eq!(wait_before_retry(method, outcome, 0, 0, clock), None);
            }
            assert!(is_retryable(method, &status(429)));
            assert!(is_retryable(method, &status(503)));
            for code in [500, 502, 504] {
                assert_eq!(
                    is_retryable(method, &status(code)),
                    method != Method::Post,
                    "{method} {code}"
                );
            }
        }
        assert_eq!(
            wait_before_retry(Method::Get, &status(503), 2, 0, || 0),
            Some(4000)
        );
        assert_eq!(
            wait_before_retry(Method::Get, &status(503), 3, 0, || 0),
            None
        );
        assert_eq!(
            wait_before_retry(Method::Get, &status(503), 0, 29_500, || 0),
            None
        );
        // A Retry-After date is read against the host's clock, 7 s before it here.
        let dated = Ok(Response {
            status: 503,
            headers: vec![("Retry-After".into(), "Sun, 06 Nov 1994 08:49:37 GMT".into())],
            body: Vec::new(),
        });
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").expect("a date");
        assert_eq!(
            wait_before_retry(Method::Get, &dated, 0, 0, || now),
            Some(7000)
        );
    }
}
