//! `POST …/{objectType}/search` (HUBSPOT-6): filter groups (AND inside,
//! OR between), one sort, free-text `query`, `limit`/`after` paging, and the
//! documented limits. Values compare case-insensitively except enumerations;
//! string `IN`/`NOT_IN` values must be lower case to match.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::errors::HubSpotError;
use super::store::TypeState;
use crate::config::{PropertyKind, SearchConfig};

/// The search request body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SearchRequest {
    pub(crate) filter_groups: Vec<FilterGroup>,
    pub(crate) sorts: Vec<Value>,
    pub(crate) query: Option<String>,
    pub(crate) properties: Option<Vec<String>>,
    pub(crate) limit: Option<Value>,
    pub(crate) after: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FilterGroup {
    pub(crate) filters: Vec<Filter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Filter {
    pub(crate) property_name: String,
    pub(crate) operator: String,
    pub(crate) value: Option<Value>,
    pub(crate) high_value: Option<Value>,
    pub(crate) values: Option<Vec<Value>>,
}

/// One page of matches.
#[derive(Debug)]
pub(crate) struct SearchPage {
    pub(crate) total: usize,
    pub(crate) ids: Vec<u64>,
    pub(crate) next_after: Option<String>,
}

struct Sort {
    property: String,
    descending: bool,
}

fn invalid(message: impl Into<String>) -> HubSpotError {
    HubSpotError::Validation(message.into())
}

/// Checks the body size and parses the request.
pub(crate) fn parse_request(
    body: &[u8],
    limits: &SearchConfig,
) -> Result<SearchRequest, HubSpotError> {
    let text = std::str::from_utf8(body).map_err(|e| HubSpotError::InvalidJson(e.to_string()))?;
    let chars = text.chars().count();
    if chars > limits.max_body_chars {
        return Err(invalid(format!(
            "Request body is {chars} characters long; the maximum is {}",
            limits.max_body_chars
        )));
    }
    if text.trim().is_empty() {
        return Ok(SearchRequest::default());
    }
    serde_json::from_str(text).map_err(|e| HubSpotError::InvalidJson(e.to_string()))
}

/// Runs `request` over the objects search currently sees.
pub(crate) fn run(
    request: &SearchRequest,
    state: &TypeState,
    visible: &[(u64, &BTreeMap<String, String>)],
    limits: &SearchConfig,
) -> Result<SearchPage, HubSpotError> {
    check_filter_limits(request, limits)?;
    let limit = page_size(request.limit.as_ref(), limits)?;
    let offset = after_offset(request.after.as_ref())?;
    if offset >= limits.max_total_results {
        return Err(invalid(format!(
            "Paging beyond {} results is not supported (after={offset})",
            limits.max_total_results
        )));
    }
    let sort = parse_sort(&request.sorts)?;
    for group in &request.filter_groups {
        for filter in &group.filters {
            validate_filter(filter)?;
        }
    }
    let query = request
        .query
        .as_deref()
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let mut matches: Vec<&(u64, &BTreeMap<String, String>)> = visible
        .iter()
        .filter(|(_, properties)| {
            (request.filter_groups.is_empty()
                || request.filter_groups.iter().any(|group| {
                    group
                        .filters
                        .iter()
                        .all(|filter| filter_matches(filter, properties, state))
                }))
                && query
                    .as_deref()
                    .is_none_or(|q| query_matches(q, properties, state))
        })
        .collect();
    if let Some(sort) = sort {
        matches.sort_by(|(a_id, a), (b_id, b)| {
            let ordering =
                compare_optional(a.get(&sort.property), b.get(&sort.property)).then(a_id.cmp(b_id));
            if sort.descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
    let total = matches.len();
    let reachable = total.min(limits.max_total_results);
    let end = offset.saturating_add(limit).min(reachable);
    let ids = matches
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    let next_after = (end < reachable).then(|| end.to_string());
    Ok(SearchPage {
        total,
        ids,
        next_after,
    })
}

fn check_filter_limits(request: &SearchRequest, limits: &SearchConfig) -> Result<(), HubSpotError> {
    let groups = request.filter_groups.len();
    if groups > limits.max_filter_groups {
        return Err(invalid(format!(
            "Too many filter groups: {groups}. The maximum is {}",
            limits.max_filter_groups
        )));
    }
    let mut total = 0;
    for group in &request.filter_groups {
        let filters = group.filters.len();
        if filters > limits.max_filters_per_group {
            return Err(invalid(format!(
                "Too many filters in a filter group: {filters}. The maximum is {}",
                limits.max_filters_per_group
            )));
        }
        total += filters;
    }
    if total > limits.max_filters_total {
        return Err(invalid(format!(
            "Too many filters: {total}. The maximum is {}",
            limits.max_filters_total
        )));
    }
    Ok(())
}

fn page_size(limit: Option<&Value>, limits: &SearchConfig) -> Result<usize, HubSpotError> {
    let Some(limit) = limit else {
        return Ok(limits.default_page_size);
    };
    let size = match limit {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid(format!("limit must be a positive integer, got {limit}")))?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > limits.max_page_size {
        return Err(invalid(format!(
            "limit must be at most {}, got {size}",
            limits.max_page_size
        )));
    }
    Ok(size)
}

/// `after` must be an integer string (HubSpot also accepts a JSON integer).
fn after_offset(after: Option<&Value>) -> Result<usize, HubSpotError> {
    let parsed = match after {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::String(s)) if s.is_empty() => return Ok(0),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    parsed
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        .ok_or_else(|| invalid("after must be formatted as an integer string"))
}

fn parse_sort(sorts: &[Value]) -> Result<Option<Sort>, HubSpotError> {
    if sorts.len() > 1 {
        return Err(invalid("Only one sort is supported"));
    }
    let Some(sort) = sorts.first() else {
        return Ok(None);
    };
    // Either `{"propertyName": "x", "direction": "DESCENDING"}` or `"x"` / `"-x"`.
    match sort {
        Value::String(text) => Ok(Some(match text.strip_prefix('-') {
            Some(property) => Sort {
                property: property.to_owned(),
                descending: true,
            },
            None => Sort {
                property: text.clone(),
                descending: false,
            },
        })),
        Value::Object(fields) => {
            let property = fields
                .get("propertyName")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("sorts[0].propertyName is required"))?;
            let descending = match fields.get("direction").and_then(Value::as_str) {
                None | Some("ASCENDING") => false,
                Some("DESCENDING") => true,
                Some(other) => return Err(invalid(format!("Unknown sort direction {other}"))),
            };
            Ok(Some(Sort {
                property: property.to_owned(),
                descending,
            }))
        }
        _ => Err(invalid("sorts must be objects")),
    }
}

const OPERATORS: [&str; 14] = [
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "NOT_EQ",
];

fn validate_filter(filter: &Filter) -> Result<(), HubSpotError> {
    if filter.property_name.is_empty() {
        return Err(invalid("filters[].propertyName is required"));
    }
    if !OPERATORS.contains(&filter.operator.as_str()) {
        return Err(invalid(format!(
            "Unknown filter operator {}",
            filter.operator
        )));
    }
    let needs_value = !matches!(
        filter.operator.as_str(),
        "HAS_PROPERTY" | "NOT_HAS_PROPERTY" | "IN" | "NOT_IN"
    );
    if needs_value && filter.value.is_none() {
        return Err(invalid(format!(
            "Filter on {} with operator {} requires a value",
            filter.property_name, filter.operator
        )));
    }
    if matches!(filter.operator.as_str(), "IN" | "NOT_IN") && filter.values.is_none() {
        return Err(invalid(format!(
            "Operator {} requires values",
            filter.operator
        )));
    }
    if filter.operator == "BETWEEN" && filter.high_value.is_none() {
        return Err(invalid("Operator BETWEEN requires highValue"));
    }
    Ok(())
}

fn value_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn filter_matches(
    filter: &Filter,
    properties: &BTreeMap<String, String>,
    state: &TypeState,
) -> bool {
    let stored = properties.get(&filter.property_name);
    let case_sensitive = state.property_kind(&filter.property_name) == PropertyKind::Enumeration;
    let fold = |text: &str| {
        if case_sensitive {
            text.to_owned()
        } else {
            text.to_lowercase()
        }
    };
    let wanted = value_text(filter.value.as_ref());
    match filter.operator.as_str() {
        "HAS_PROPERTY" => stored.is_some(),
        "NOT_HAS_PROPERTY" => stored.is_none(),
        "EQ" => stored.is_some_and(|s| values_equal(s, &wanted, &fold)),
        "NEQ" | "NOT_EQ" => !stored.is_some_and(|s| values_equal(s, &wanted, &fold)),
        "LT" => stored.is_some_and(|s| compare_values(s, &wanted) == Ordering::Less),
        "LTE" => stored.is_some_and(|s| compare_values(s, &wanted) != Ordering::Greater),
        "GT" => stored.is_some_and(|s| compare_values(s, &wanted) == Ordering::Greater),
        "GTE" => stored.is_some_and(|s| compare_values(s, &wanted) != Ordering::Less),
        "BETWEEN" => {
            let high = value_text(filter.high_value.as_ref());
            stored.is_some_and(|s| {
                compare_values(s, &wanted) != Ordering::Less
                    && compare_values(s, &high) != Ordering::Greater
            })
        }
        "IN" | "NOT_IN" => {
            // Values are compared as sent: upper-case values never match a
            // (lower-cased) string, as HubSpot documents.
            let found = stored.is_some_and(|s| {
                filter.values.iter().flatten().any(|v| {
                    let v = value_text(Some(v));
                    if case_sensitive {
                        *s == v
                    } else {
                        s.to_lowercase() == v || numbers_equal(s, &v)
                    }
                })
            });
            (filter.operator == "IN") == found
        }
        "CONTAINS_TOKEN" => {
            stored.is_some_and(|s| contains_token(&s.to_lowercase(), &wanted.to_lowercase()))
        }
        "NOT_CONTAINS_TOKEN" => {
            !stored.is_some_and(|s| contains_token(&s.to_lowercase(), &wanted.to_lowercase()))
        }
        _ => false,
    }
}

fn numbers_equal(a: &str, b: &str) -> bool {
    matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

fn values_equal(stored: &str, wanted: &str, fold: &dyn Fn(&str) -> String) -> bool {
    fold(stored) == fold(wanted)
        || numbers_equal(stored, wanted)
        || matches!((as_millis(stored), as_millis(wanted)), (Some(x), Some(y)) if x == y)
}

/// Epoch milliseconds of a number or an ISO date-time.
fn as_millis(text: &str) -> Option<i64> {
    if let Ok(millis) = text.parse::<i64>() {
        return Some(millis);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|dt| dt.timestamp_millis())
}

/// Numbers and date-times compare by value, the rest as lower-case text.
fn compare_values(stored: &str, wanted: &str) -> Ordering {
    if let (Ok(a), Ok(b)) = (stored.parse::<f64>(), wanted.parse::<f64>()) {
        return a.partial_cmp(&b).unwrap_or(Ordering::Equal);
    }
    if let (Some(a), Some(b)) = (as_millis(stored), as_millis(wanted)) {
        return a.cmp(&b);
    }
    stored.to_lowercase().cmp(&wanted.to_lowercase())
}

fn compare_optional(a: Option<&String>, b: Option<&String>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => compare_values(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Token match: the value split on non-alphanumerics contains the token;
/// `*` in the token matches any run of characters.
fn contains_token(value: &str, token: &str) -> bool {
    let tokens = value.split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.');
    if token.contains('*') {
        tokens.clone().any(|t| wildcard_match(t, token)) || wildcard_match(value, token)
    } else {
        tokens.clone().any(|t| t == token) || value == token
    }
}

fn wildcard_match(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            let Some(stripped) = rest.strip_prefix(part) else {
                return false;
            };
            rest = stripped;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(position) = rest.find(part) {
            rest = &rest[position + part.len()..];
        } else {
            return false;
        }
    }
    rest.is_empty()
}

/// Free-text `query`: a case-insensitive prefix of a word of a searchable property.
fn query_matches(query: &str, properties: &BTreeMap<String, String>, state: &TypeState) -> bool {
    let searchable: Vec<&String> = if state.config.searchable_properties.is_empty() {
        properties.keys().collect()
    } else {
        state.config.searchable_properties.iter().collect()
    };
    searchable
        .iter()
        .filter_map(|p| properties.get(*p))
        .any(|value| {
            let value = value.to_lowercase();
            value.starts_with(query)
                || value
                    .split(|c: char| c.is_whitespace() || c == '@' || c == '.' || c == '-')
                    .any(|word| word.starts_with(query))
        })
}
