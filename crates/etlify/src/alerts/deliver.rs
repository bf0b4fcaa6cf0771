//! An alert's body for each webhook format, and its delivery: a task of
//! its own per alert, each webhook tried up to the attempts allowed with a
//! doubling delay (at most a minute), so that a slow or failing receiver
//! never holds a sync. Failures are logged with the webhook's host and
//! the HTTP status or error, never with its URL (a Slack webhook's path is
//! its secret).

use std::sync::Arc;
use std::time::Duration;

use super::decide::describe;
use super::{AlertFormat, AlertOptions, Webhook};
use crate::store::alert_incidents::{self, IncidentKey};
use crate::store::{Store, Timestamp};

/// The longest wait between two deliveries of one alert.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an incident begins or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// One alert: an incident opened or resolved.
#[derive(Debug, Clone)]
pub(crate) struct Alert {
    pub(crate) key: IncidentKey,
    pub(crate) state: AlertState,
    pub(crate) summary: String,
    pub(crate) details: String,
    /// When the incident began.
    pub(crate) started_at: Timestamp,
}

impl Alert {
    /// The body `format` sends.
    pub(crate) fn body(&self, format: AlertFormat) -> serde_json::Value {
        match format {
            AlertFormat::Slack => {
                let mut text = match self.state {
                    AlertState::Firing => format!("[etlify] {}", self.summary),
                    AlertState::Resolved => format!("[etlify] Resolved: {}", self.summary),
                };
                if !self.details.is_empty() {
                    text.push_str(&format!("\n{}", self.details));
                }
                text.push_str(&format!(
                    "\n({} since {} UTC)",
                    self.key.kind,
                    self.started_at.format("%Y-%m-%d %H:%M:%S")
                ));
                serde_json::json!({ "text": text })
            }
            AlertFormat::Json => {
                let worker = self.key.kind == "worker_silent";
                let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
                serde_json::json!({
                    "kind": self.key.kind,
                    "state": self.state.as_str(),
                    "crm": some(&self.key.crm),
                    "model": if worker { None } else { some(&self.key.subject) },
                    "worker": if worker { some(&self.key.subject) } else { None },
                    "about": describe(&self.key),
                    "summary": self.summary,
                    "details": self.details,
                    "started_at": self.started_at.and_utc().to_rfc3339(),
                })
            }
        }
    }
}

/// Sends alerts to the webhooks, each in a task of its own.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    client: reqwest::Client,
    webhooks: Arc<[Webhook]>,
    attempts: u32,
    retry_delay: Duration,
}

impl Delivery {
    pub(crate) fn new(options: &AlertOptions) -> Self {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            client,
            webhooks: options.webhooks.clone().into(),
            attempts: options.attempts,
            retry_delay: options.retry_delay,
        }
    }

    /// Sends `alert` to every webhook in a spawned task; once one took it,
    /// the incident is marked notified.
    pub(crate) fn spawn(&self, store: Store, alert: Alert) -> tokio::task::JoinHandle<()> {
        let delivery = self.clone();
        tokio::spawn(async move {
            let mut delivered = false;
            for (index, webhook) in delivery.webhooks.iter().enumerate() {
                delivered |= delivery.send(index, webhook, &alert).await;
            }
            if delivered {
                if let Err(error) = alert_incidents::mark_notified(&store, &alert.key).await {
                    tracing::warn!(message = "Recording an alert's delivery failed.", %error);
                }
            }
        })
    }

    /// Posts `alert` to `webhook` until it answers 2xx or the attempts run
    /// out; whether it was delivered.
    pub(crate) async fn send(&self, index: usize, webhook: &Webhook, alert: &Alert) -> bool {
        let body = alert.body(webhook.format);
        let mut delay = self.retry_delay;
        for attempt in 1..=self.attempts {
            let failure = match self
                .client
                .post(webhook.url.clone())
                .json(&body)
                .send()
                .await
            {
                Ok(answer) if answer.status().is_success() => return true,
                Ok(answer) => format!("HTTP {}", answer.status().as_u16()),
                // The error's URL is the webhook's secret.
                Err(error) => error.without_url().to_string(),
            };
            let last = attempt == self.attempts;
            tracing::warn!(
                message = if last {
                    "Alert delivery failed; giving up."
                } else {
                    "Alert delivery failed; retrying."
                },
                webhook = index,
                host = webhook.host(),
                kind = alert.key.kind.as_str(),
                state = alert.state.as_str(),
                attempt,
                error = %failure
            );
            if !last {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn alert(kind: &str, state: AlertState) -> Alert {
        Alert {
            key: IncidentKey {
                kind: kind.into(),
                crm: "hubspot".into(),
                subject: "User".into(),
            },
            state,
            summary: "hubspot User: 2 records reached the error budget".into(),
            details: "over budget: 2".into(),
            started_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
                .unwrap()
                .and_hms_opt(11, 0, 0)
                .unwrap(),
        }
    }

    fn delivery(server: &MockServer, format: AlertFormat) -> (Delivery, Webhook) {
        let url = format!("{}/services/T000/B000/SECRET-PATH", server.uri());
        let webhook = Webhook::new(&url, format).unwrap();
        let options = AlertOptions::new()
            .webhook(webhook.clone())
            .attempts(3)
            .retry_delay(Duration::from_millis(10));
        (Delivery::new(&options), webhook)
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A webhook answering 500 first gets the alert on the retry; the
    /// failure is logged with the host, never the URL.
    #[tokio::test]
    async fn alert_a_failing_webhook_gets_the_alert_on_retry_and_its_url_is_never_logged() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let (delivery, webhook) = delivery(&server, AlertFormat::Slack);
        let firing = alert("over_budget", AlertState::Firing);
        assert!(delivery.send(0, &webhook, &firing).await);
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 2, "the failure, then the retry");
        assert_eq!(received[0].body, received[1].body);
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains("Alert delivery failed; retrying."),
            "{logged}"
        );
        assert!(logged.contains("HTTP 500"), "{logged}");
        assert!(!logged.contains("SECRET-PATH"), "{logged}");
        assert!(!format!("{webhook:?}").contains("SECRET-PATH"));

        // Nothing listens: every attempt fails, the URL is still not logged.
        let closed =
            Webhook::new("http://127.0.0.1:9/hooks/SECRET-PATH", AlertFormat::Json).unwrap();
        assert!(!delivery.send(1, &closed, &firing).await);
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("giving up"), "{logged}");
        assert!(!logged.contains("SECRET-PATH"), "{logged}");
    }

    /// Slack's body is `{"text"}`; the JSON body names the kind, state,
    /// CRM, model, summary, details and when the incident began.
    #[tokio::test]
    async fn alert_slack_and_json_bodies() {
        let firing = alert("over_budget", AlertState::Firing);
        let slack = firing.body(AlertFormat::Slack);
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.starts_with("[etlify] hubspot User: 2 records"),
            "{text}"
        );
        assert_eq!(slack.as_object().unwrap().len(), 1);
        let resolved = alert("over_budget", AlertState::Resolved).body(AlertFormat::Slack);
        assert!(resolved["text"]
            .as_str()
            .unwrap()
            .starts_with("[etlify] Resolved: "));

        let json = firing.body(AlertFormat::Json);
        assert_eq!(json["kind"], "over_budget");
        assert_eq!(json["state"], "firing");
        assert_eq!(json["crm"], "hubspot");
        assert_eq!(json["model"], "User");
        assert_eq!(json["worker"], serde_json::Value::Null);
        assert_eq!(json["details"], "over budget: 2");
        assert_eq!(json["started_at"], "2026-12-07T11:00:00+00:00");
        let worker = Alert {
            key: IncidentKey {
                kind: "worker_silent".into(),
                crm: String::new(),
                subject: "w1".into(),
            },
            ..alert("worker_silent", AlertState::Resolved)
        }
        .body(AlertFormat::Json);
        assert_eq!(worker["state"], "resolved");
        assert_eq!(worker["worker"], "w1");
        assert_eq!(worker["crm"], serde_json::Value::Null);

        // Over the wire, as posted.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
        let (delivery, webhook) = delivery(&server, AlertFormat::Json);
        assert!(delivery.send(0, &webhook, &firing).await);
        let received = server.received_requests().await.unwrap();
        let posted: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
        assert_eq!(posted, json);
    }
}
