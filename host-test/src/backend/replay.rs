//! Replay: answers from a cassette, strictly in order, and sleeps in virtual time. Each
//! interaction is prepared (parsed, its matcher built, its response rendered) the first time
//! a replay reaches it, and kept for the next replay of the same cassette, so a cassette read
//! from a file costs about its size in memory however many interactions it holds, and a
//! shared one is prepared once.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::{
    Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest, system_now_millis,
};
use crate::cassette::{ActualRequest, Cassette, Interaction, Matcher, RecordedRequest};

/// One interaction ready to replay.
struct Prepared {
    request: RecordedRequest,
    matcher: Matcher,
    response: IncomingResponse,
}

impl From<Interaction> for Prepared {
    fn from(interaction: Interaction) -> Prepared {
        Prepared {
            matcher: interaction.request.matcher(),
            response: IncomingResponse {
                status: interaction.response.status,
                headers: interaction.response.header_pairs(),
                body: interaction.response.body_bytes(),
            },
            request: interaction.request,
        }
    }
}

/// An interaction as the cassette holds it: its compact text until first use.
struct Slot {
    text: Option<Box<str>>,
    prepared: OnceLock<Result<Prepared, String>>,
}

impl Slot {
    fn prepared(&self, index: usize) -> Result<&Prepared, String> {
        let prepared = self.prepared.get_or_init(|| {
            let text = self.text.as_deref().unwrap_or_default();
            serde_json::from_str::<Interaction>(text)
                .map(Prepared::from)
                .map_err(|e| format!("recorded interaction #{} cannot be read: {e}", index + 1))
        });
        prepared.as_ref().map_err(String::clone)
    }
}

/// A cassette whose interactions are prepared once, to replay any number of times.
pub struct PreparedCassette {
    slots: Vec<Slot>,
}

impl From<Cassette> for PreparedCassette {
    /// Every interaction prepared now: the cassette is already parsed.
    fn from(cassette: Cassette) -> PreparedCassette {
        let slots = cassette
            .interactions
            .into_iter()
            .map(|interaction| Slot {
                text: None,
                prepared: OnceLock::from(Ok(Prepared::from(interaction))),
            })
            .collect();
        PreparedCassette { slots }
    }
}

impl PreparedCassette {
    /// The cassette at `path`, checked whole, each interaction prepared when first used.
    pub fn load(path: &Path) -> anyhow::Result<PreparedCassette> {
        let slots = Cassette::load_compact(path)?
            .into_iter()
            .map(|text| Slot {
                text: Some(text),
                prepared: OnceLock::new(),
            })
            .collect();
        Ok(PreparedCassette { slots })
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn get(&self, index: usize) -> Option<Result<&Prepared, String>> {
        self.slots.get(index).map(|slot| slot.prepared(index))
    }
}

/// Answers from a cassette, in order, and sleeps in virtual time.
pub struct Replay {
    prepared: Arc<PreparedCassette>,
    next: usize,
    virtual_now: u64,
}

impl Replay {
    pub fn new(cassette: Cassette) -> Replay {
        Replay::shared(Arc::new(cassette.into()))
    }

    /// A replay of the cassette at `path` (see [`PreparedCassette::load`]).
    pub fn load(path: &Path) -> anyhow::Result<Replay> {
        Ok(Replay::shared(Arc::new(PreparedCassette::load(path)?)))
    }

    /// A replay of a cassette shared with other replays (benchmarks, many tenants).
    pub fn shared(prepared: Arc<PreparedCassette>) -> Replay {
        Replay {
            prepared,
            next: 0,
            virtual_now: system_now_millis(),
        }
    }
}

impl Replay {
    fn answer(&mut self, request: &OutgoingRequest) -> Result<IncomingResponse, BackendError> {
        let actual = ActualRequest {
            method: &request.method,
            url: &request.url,
            headers: &request.headers,
            body: request.body.as_deref(),
        };
        let Some(prepared) = self.prepared.get(self.next) else {
            return Err(BackendError::Fault(format!(
                "request #{} matched no recorded interaction (the cassette has only {}):\n  actual:   {}\n  hint: record it with --live --record, or add it to the cassette",
                self.next + 1,
                self.prepared.len(),
                actual.describe()
            )));
        };
        let prepared = prepared.map_err(BackendError::Fault)?;
        if let Some(why) = prepared.matcher.mismatch(&prepared.request, &actual) {
            return Err(BackendError::Fault(format!(
                "request #{} does not match the recorded interaction: {why}\n  expected: {}\n  actual:   {}\n  hint: interactions are replayed in order; re-record the cassette if the connector's requests changed",
                self.next + 1,
                prepared.request.describe(),
                actual.describe()
            )));
        }
        self.next += 1;
        Ok(prepared.response.clone())
    }
}

impl Backend for Replay {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        _max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        let answer = self.answer(request);
        Box::pin(std::future::ready(answer))
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.virtual_now = self.virtual_now.saturating_add(millis);
        Box::pin(std::future::ready(()))
    }

    fn now_millis(&mut self) -> u64 {
        self.virtual_now
    }

    fn finish(&mut self) -> Result<(), String> {
        let unused = self.prepared.len().saturating_sub(self.next);
        match self.prepared.get(self.next) {
            None => Ok(()),
            Some(first) => Err(format!(
                "{unused} recorded interaction(s) were not used; the first: {}\n  hint: the connector made fewer requests than recorded",
                first.map_or_else(|why| why, |first| first.request.describe())
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use url::Url;

    fn request(url: &str) -> OutgoingRequest {
        OutgoingRequest {
            method: "GET".into(),
            url: Url::parse(url).unwrap(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_cassette_from_a_file_prepares_only_the_interactions_a_replay_reaches() {
        let dir = std::env::temp_dir().join(format!("iam-host-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("many.json");
        let interaction = r#"{"request": {"method": "GET", "url": "https://h/x"}, "response": {"status": 200, "body": {"b": 1, "a": 2}}}"#;
        let text = format!(
            r#"{{"interactions": [{}]}}"#,
            vec![interaction; 1000].join(",")
        );
        std::fs::write(&path, text).unwrap();
        let cassette = Arc::new(PreparedCassette::load(&path).unwrap());
        assert_eq!(cassette.len(), 1000);
        let mut replay = Replay::shared(cassette.clone());
        let answer = replay.answer(&request("https://h/x")).unwrap();
        assert_eq!(answer.body, br#"{"b":1,"a":2}"#);
        let err = replay.finish().unwrap_err();
        assert!(
            err.starts_with(
                "999 recorded interaction(s) were not used; the first: GET https://h/x"
            ),
            "{err}"
        );
        let prepared = cassette
            .slots
            .iter()
            .filter(|slot| slot.prepared.get().is_some())
            .count();
        // The one answered and the first unused one, which the report names.
        assert_eq!(prepared, 2);
        // A second replay of the same cassette reuses them.
        let mut again = Replay::shared(cassette.clone());
        assert_eq!(again.answer(&request("https://h/x")).unwrap(), answer);
        assert!(matches!(
            again.answer(&request("https://h/y")),
            Err(BackendError::Fault(why)) if why.contains("the paths differ")
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
