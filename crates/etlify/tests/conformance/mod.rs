//! The adapter conformance suite (issue 30, item 1): one set of scenarios
//! every adapter must pass against its sandbox, each a test named
//! `conformance::<adapter>::<scenario>`. An adapter joins with one line,
//! `conformance_suite!(<adapter>, <its Subject>)`; its [`Subject`] starts
//! its sandbox and says how to read what the CRM stores.
//!
//! The scenarios call the adapter as the engine does: through a `Crm` of a
//! `CrmRegistry` (its limiter owned there, G-12). A scenario an adapter
//! cannot support is declared by [`Subject::unsupported`] with the reason:
//! its test prints the reason and checks that docs/ADAPTERS.md gives it.
//! The null adapter is exempt: it talks to no CRM, so there is nothing to
//! conform to; its suite declares every scenario unsupported, saying so.

mod scenarios;
mod subject;
mod subjects;

pub(crate) use subject::{Scenario, Stored, Subject};

/// One test per scenario for the adapter `$adapter` driven by `$subject`.
macro_rules! conformance_suite {
    ($adapter:ident, $subject:ty) => {
        mod $adapter {
            use super::scenarios::run;
            use super::Scenario;

            #[tokio::test]
            async fn create() {
                run::<$subject>(Scenario::Create).await;
            }

            #[tokio::test]
            async fn update_by_id() {
                run::<$subject>(Scenario::UpdateById).await;
            }

            #[tokio::test]
            async fn match_by_property() {
                run::<$subject>(Scenario::MatchByProperty).await;
            }

            #[tokio::test]
            async fn batch_with_one_bad_record() {
                run::<$subject>(Scenario::BatchWithOneBadRecord).await;
            }

            #[tokio::test]
            async fn throttled_with_a_delay_header() {
                run::<$subject>(Scenario::ThrottledWithDelayHeader).await;
            }

            #[tokio::test]
            async fn throttled_without_a_delay_header() {
                run::<$subject>(Scenario::ThrottledWithoutDelayHeader).await;
            }

            #[tokio::test]
            async fn server_error_bursts() {
                run::<$subject>(Scenario::ServerErrorBursts).await;
            }

            #[tokio::test]
            async fn lost_response_no_duplicate() {
                run::<$subject>(Scenario::LostResponse).await;
            }

            #[tokio::test]
            async fn hostile_ids_and_object_names() {
                run::<$subject>(Scenario::HostileNames).await;
            }

            #[tokio::test]
            async fn archive_and_delete() {
                run::<$subject>(Scenario::ArchiveDelete).await;
            }

            #[tokio::test]
            async fn check_access() {
                run::<$subject>(Scenario::CheckAccess).await;
            }

            #[tokio::test]
            async fn rate_limit_held_in_flight() {
                run::<$subject>(Scenario::RateLimitInFlight).await;
            }

            #[tokio::test]
            async fn secrets_absent_from_logs_and_errors() {
                run::<$subject>(Scenario::SecretsAbsent).await;
            }
        }
    };
}

conformance_suite!(hubspot, super::subjects::hubspot::HubSpotSubject);
conformance_suite!(airtable, super::subjects::airtable::AirtableSubject);
conformance_suite!(webhook, super::subjects::webhook::WebhookSubject);
conformance_suite!(null, super::subjects::null::NullSubject);
