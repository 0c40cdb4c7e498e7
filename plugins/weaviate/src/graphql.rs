//! The two GraphQL queries the plugin needs: an exact count (`Aggregate`)
//! and a nearVector search (`Get`), per tenant when multi-tenancy is on.

use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;

/// A GraphQL string literal.
fn literal(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn run(client: &Client, query: String, context: &str) -> Result<Value> {
    let r = client.call("POST", "/v1/graphql", Some(&json!({ "query": query })), context)?;
    if let Some(errors) = r.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let message = errors[0].get("message").and_then(Value::as_str).unwrap_or("").to_string();
        let e = if message.contains("Cannot query field") || message.contains("not found") {
            Error::NotFound(format!("{context}: {message}"))
        } else {
            Error::InvalidInput(format!("{context}: {message}"))
        };
        return Err(e);
    }
    Ok(r.get("data").cloned().unwrap_or(Value::Null))
}

fn tenant_arg(tenant: Option<&str>) -> String {
    tenant.map(|t| format!("tenant: {}", literal(t))).unwrap_or_default()
}

pub fn count(client: &Client, class: &str, tenant: Option<&str>) -> Result<u64> {
    let args = tenant.map(|t| format!("({})", tenant_arg(Some(t)))).unwrap_or_default();
    let data = run(
        client,
        format!("{{ Aggregate {{ {class}{args} {{ meta {{ count }} }} }} }}"),
        "count",
    )?;
    data.pointer(&format!("/Aggregate/{class}/0/meta/count"))
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Internal(format!("count: unexpected answer {data}")))
}

pub fn near_vector(
    client: &Client,
    class: &str,
    tenant: Option<&str>,
    vector: &str,
    query: &[f32],
    k: u32,
) -> Result<Vec<ScoredPoint>> {
    let numbers: Vec<String> = query.iter().map(|x| format!("{x:?}")).collect();
    let target = if vector.is_empty() {
        String::new()
    } else {
        format!(", targetVectors: [{}]", literal(vector))
    };
    let tenant = tenant.map(|t| format!(", {}", tenant_arg(Some(t)))).unwrap_or_default();
    let q = format!(
        "{{ Get {{ {class}(nearVector: {{vector: [{}]{target}}}, limit: {k}{tenant}) \
         {{ _additional {{ id distance }} }} }} }}",
        numbers.join(", ")
    );
    let data = run(client, q, "search")?;
    let hits = data
        .pointer(&format!("/Get/{class}"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    hits.iter()
        .map(|h| {
            let id = h.pointer("/_additional/id").and_then(Value::as_str);
            let id = id.ok_or_else(|| Error::Internal(format!("search hit without id: {h}")))?;
            let d = h.pointer("/_additional/distance").and_then(Value::as_f64).unwrap_or(0.0);
            Ok(ScoredPoint { id: PointId::Str(id.to_string()), score: d as f32 })
        })
        .collect()
}
