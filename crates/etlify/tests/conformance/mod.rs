//! The adapter conformance suite (issue 30, item 1): one set of scenarios
//! every adapter must pass against its sandbox, each a test named
//! `conformance_<adapter>_<scenario>`. An adapter joins with one line,
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

/// One test per scenario for the adapter `$adapter` driven by `$subject`,
/// named `conformance_<adapter>_<scenario>`.
macro_rules! conformance_suite {
    ($adapter:ident, $subject:ty) => {
        conformance_suite!(@each $adapter, $subject,
            create: Create,
            update_by_id: UpdateById,
            match_by_property: MatchByProperty,
            batch_with_one_bad_record: BatchWithOneBadRecord,
            throttled_with_a_delay_header: ThrottledWithDelayHeader,
            throttled_without_a_delay_header: ThrottledWithoutDelayHeader,
            server_error_bursts: ServerErrorBursts,
            lost_response_no_duplicate: LostResponse,
            hostile_ids_and_object_names: HostileNames,
            archive_and_delete: ArchiveDelete,
            check_access: CheckAccess,
            rate_limit_held_in_flight: RateLimitInFlight,
            secrets_absent_from_logs_and_errors: SecretsAbsent
        );
    };
    (@each $adapter:ident, $subject:ty, $($test:ident: $scenario:ident),*) => {
        pastey::paste! {
            $(
                #[tokio::test]
                async fn [<conformance_ $adapter _ $test>]() {
                    scenarios::run::<$subject>(Scenario::$scenario).await;
                }
            )*
        }
    };
}

conformance_suite!(hubspot, subjects::hubspot::HubSpotSubject);
conformance_suite!(airtable, subjects::airtable::AirtableSubject);
conformance_suite!(webhook, subjects::webhook::WebhookSubject);
conformance_suite!(salesforce, subjects::salesforce::SalesforceSubject);
conformance_suite!(null, subjects::null::NullSubject);
conformance_suite!(brevo, subjects::brevo::BrevoSubject);
conformance_suite!(intercom, subjects::intercom::IntercomSubject);
