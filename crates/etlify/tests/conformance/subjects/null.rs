//! The null adapter: exempt, as it talks to no CRM. Its suite runs only to
//! show the exemption: every scenario declared unsupported, with the reason.

use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{HttpSettings, NullAdapter};
use etlify_sandbox::{FaultConfig, RequestLogSnapshot};

use crate::conformance::{Scenario, Stored, Subject};

/// Why the null adapter is exempt (docs/ADAPTERS.md gives it too).
pub(crate) const EXEMPT: &str =
    "the null adapter talks to no CRM, so there is nothing to conform to";

/// Never started: every scenario is declared unsupported.
pub(crate) enum NullSubject {}

#[async_trait]
impl Subject for NullSubject {
    const NAME: &'static str = "null";

    type Adapter = NullAdapter;

    fn unsupported(_scenario: Scenario) -> Option<&'static str> {
        Some(EXEMPT)
    }

    async fn start() -> Self {
        unreachable!("{EXEMPT}")
    }

    fn concrete(&self, _credential: Option<&str>, _http: HttpSettings) -> NullAdapter {
        match *self {}
    }

    fn secret(&self) -> &'static str {
        match *self {}
    }

    fn object_type(&self) -> &'static str {
        match *self {}
    }

    fn id_property(&self) -> &'static str {
        match *self {}
    }

    fn name_property(&self) -> &'static str {
        match *self {}
    }

    fn number_property(&self) -> &'static str {
        match *self {}
    }

    fn stored(&self) -> Vec<Stored> {
        match *self {}
    }

    fn set_faults(&self, _faults: FaultConfig) {
        match *self {}
    }

    fn limit(&self, _max: u64, _window: Duration, _retry_after: bool) {
        match *self {}
    }

    fn log(&self) -> RequestLogSnapshot {
        match *self {}
    }

    fn peak(&self, _log: &RequestLogSnapshot) -> u64 {
        match *self {}
    }
}
