//! The HubSpot adapter as tests point it at the sandbox.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::hubspot::{HubSpotAdapter, HubSpotConfig};
use etlify::adapters::{HttpSettings, RetryPolicy};
use etlify_sandbox::{RunningSandbox, DEFAULT_HUBSPOT_TOKEN};

/// The HubSpot adapter on `sandbox`, retrying quickly (10 ms doubling up
/// to 200 ms), up to `max_attempts` attempts.
pub fn quick_retrying_hubspot(sandbox: &RunningSandbox, max_attempts: u32) -> Arc<HubSpotAdapter> {
    let http = HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(max_attempts)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(200)),
    );
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                .http(http),
        )
        .unwrap(),
    )
}
