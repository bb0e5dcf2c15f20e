//! Replay: answers from a cassette, strictly in order, and sleeps in virtual time. Each
//! interaction is prepared (parsed, its matcher built, its response rendered) the first time
//! a replay reaches it, and kept for the next replay of the same cassette, so a cassette read
//! from a file costs about its size in memory however many interactions it holds, and a
//! shared one is prepared once.

use std::sync::{Arc, OnceLock};

use crate::cassette::{ActualRequest, Cassette, Interaction, Matcher, RecordedRequest};
use crate::wire::{IncomingResponse, OutgoingRequest};

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
    /// A cassette's text, checked whole, each interaction prepared when first used.
    pub fn parse(text: &str) -> Result<PreparedCassette, serde_json::Error> {
        let slots = Cassette::parse_compact(text)?
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
    /// A replay of a cassette (shared with other replays: benchmarks, many tenants) whose
    /// virtual clock starts at `now_millis`.
    pub fn shared(prepared: Arc<PreparedCassette>, now_millis: u64) -> Replay {
        Replay {
            prepared,
            next: 0,
            virtual_now: now_millis,
        }
    }

    /// The recorded answer to `request`, or the mismatch report: a fault that ends the
    /// command.
    pub fn answer(&mut self, request: &OutgoingRequest) -> Result<IncomingResponse, String> {
        let actual = ActualRequest {
            method: &request.method,
            url: &request.url,
            headers: &request.headers,
            body: request.body.as_deref(),
        };
        let Some(prepared) = self.prepared.get(self.next) else {
            return Err(format!(
                "request #{} matched no recorded interaction (the cassette has only {}):\n  actual:   {}\n  hint: record it with --live --record, or add it to the cassette",
                self.next + 1,
                self.prepared.len(),
                actual.describe()
            ));
        };
        let prepared = prepared?;
        if let Some(why) = prepared.matcher.mismatch(&prepared.request, &actual) {
            return Err(format!(
                "request #{} does not match the recorded interaction: {why}\n  expected: {}\n  actual:   {}\n  hint: interactions are replayed in order; re-record the cassette if the connector's requests changed",
                self.next + 1,
                prepared.request.describe(),
                actual.describe()
            ));
        }
        self.next += 1;
        Ok(prepared.response.clone())
    }

    /// Wait in virtual time.
    pub fn sleep(&mut self, millis: u64) {
        self.virtual_now = self.virtual_now.saturating_add(millis);
    }

    /// The virtual clock.
    pub fn now_millis(&self) -> u64 {
        self.virtual_now
    }

    /// After the command: every interaction must have been used.
    pub fn finish(&self) -> Result<(), String> {
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
            max_response_bytes: 1 << 20,
            verify_tls: true,
            use_proxy: false,
        }
    }

    #[test]
    fn a_cassette_from_text_prepares_only_the_interactions_a_replay_reaches() {
        let interaction = r#"{"request": {"method": "GET", "url": "https://h/x"}, "response": {"status": 200, "body": {"b": 1, "a": 2}}}"#;
        let text = format!(
            r#"{{"interactions": [{}]}}"#,
            vec![interaction; 1000].join(",")
        );
        let cassette = Arc::new(PreparedCassette::parse(&text).unwrap());
        assert_eq!(cassette.len(), 1000);
        let mut replay = Replay::shared(cassette.clone(), 0);
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
        let mut again = Replay::shared(cassette.clone(), 0);
        assert_eq!(again.answer(&request("https://h/x")).unwrap(), answer);
        assert!(matches!(
            again.answer(&request("https://h/y")),
            Err(why) if why.contains("the paths differ")
        ));
    }

    #[test]
    fn sleeping_moves_only_the_virtual_clock() {
        let mut replay = Replay::shared(Arc::new(Cassette::default().into()), 1_000);
        replay.sleep(30_000);
        assert_eq!(replay.now_millis(), 31_000);
        assert_eq!(replay.finish(), Ok(()));
    }
}
