use etlify_sandbox::{
    RunningSandbox, Sandbox, SandboxConfig, DEFAULT_AIRTABLE_TOKEN, DEFAULT_HUBSPOT_TOKEN,
};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

pub const CONTACTS: &str = "/crm/v3/objects/contacts";

/// A running sandbox and an HTTP client.
pub struct Harness {
    pub sandbox: RunningSandbox,
    pub http: Client,
}

pub async fn start(config: SandboxConfig) -> Harness {
    let sandbox = Sandbox::start(config).await.unwrap();
    Harness {
        sandbox,
        http: Client::new(),
    }
}

pub async fn start_default() -> Harness {
    start(SandboxConfig::default()).await
}

/// A configuration from JSON (the same format as the binary's config file).
pub fn config(json: Value) -> SandboxConfig {
    SandboxConfig::from_json(&json.to_string()).unwrap()
}

impl Harness {
    pub fn hubspot(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sandbox.hubspot_base_url()))
            .bearer_auth(DEFAULT_HUBSPOT_TOKEN)
    }

    pub fn airtable(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(
                method,
                format!("{}{path}", self.sandbox.airtable_base_url()),
            )
            .bearer_auth(DEFAULT_AIRTABLE_TOKEN)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sandbox.admin_url()))
    }

    /// Creates a contact and returns its id.
    pub async fn create_contact(&self, properties: Value) -> String {
        let response = self
            .hubspot(Method::POST, CONTACTS)
            .json(&serde_json::json!({ "properties": properties }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }
}

/// Sends and returns (status, headers, JSON body or Null).
pub async fn send(request: RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, body)
}

/// Default configuration with rate limits off, for tests that send many requests.
pub fn unlimited(mut extra: Value) -> SandboxConfig {
    let limits = serde_json::json!({"enabled": false});
    extra["hubspot"]["rate_limits"] = limits.clone();
    extra["airtable"]["rate_limits"] = limits;
    config(extra)
}
