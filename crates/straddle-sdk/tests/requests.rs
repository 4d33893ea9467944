//! What the SDK sends and how it reads what comes back: header
//! parameters, raw responses, decode errors and pagination.

mod fake;

use fake::{client, customer, header, meta, received, KEY};
use futures::TryStreamExt;
use serde_json::{json, Value};
use straddle_sdk::types::customer::CustomerListQuery;
use straddle_sdk::{Error, RequestOptions};
use uuid::Uuid;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn reads_carry_no_idempotency_key_but_do_carry_the_header_parameters() {
    let server = MockServer::start().await;
    let id = Uuid::now_v7();
    Mock::given(method("GET"))
        .and(path(format!("/v1/customers/{id}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"meta": meta(), "response_type": "object", "data": customer(id)}),
                )
                .insert_header("request-id", "req-1"),
        )
        .mount(&server)
        .await;
    let options = RequestOptions {
        correlation_id: Some("corr-1".into()),
        request_id: Some("req-1".into()),
        straddle_account_id: Some("0191ef49-0000-7000-8000-000000000001".into()),
        ..Default::default()
    };

    let response = client(&server)
        .customers()
        .get(id, Some(options))
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["request-id"], "req-1");
    let request = &received(&server).await[0];
    assert_eq!(header(request, "idempotency-key"), None);
    assert_eq!(
        header(request, "authorization").unwrap(),
        format!("Bearer {KEY}")
    );
    assert_eq!(header(request, "correlation-id").unwrap(), "corr-1");
    assert_eq!(header(request, "request-id").unwrap(), "req-1");
    assert_eq!(
        header(request, "straddle-account-id").unwrap(),
        "0191ef49-0000-7000-8000-000000000001"
    );
}

#[tokio::test]
async fn a_success_body_that_does_not_decode_is_a_decode_error_carrying_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy page</html>"))
        .mount(&server)
        .await;
    let error = client(&server)
        .customers()
        .get(Uuid::now_v7(), None)
        .await
        .unwrap_err();
    let Error::Decode { status, body, .. } = error else {
        panic!("expected a decode error, got {error:?}")
    };
    assert_eq!(status, 200);
    assert_eq!(body, "<html>proxy page</html>");
}

#[tokio::test]
async fn the_paginator_walks_page_numbers_until_the_last_page() {
    let server = MockServer::start().await;
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let page = |number: u32, items: Vec<Value>| {
        let mut meta = meta();
        meta["page_number"] = json!(number);
        for (field, value) in [
            ("page_size", json!(2)),
            ("max_page_size", json!(1000)),
            ("total_items", json!(3)),
            ("total_pages", json!(2)),
            ("sort_by", json!("created_at")),
            ("sort_order", json!("asc")),
        ] {
            meta[field] = value;
        }
        ResponseTemplate::new(200)
            .set_body_json(json!({"meta": meta, "response_type": "array", "data": items}))
    };
    Mock::given(method("GET"))
        .and(query_param("page_number", "1"))
        .respond_with(page(1, vec![customer(a), customer(b)]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page_number", "2"))
        .respond_with(page(2, vec![customer(c)]))
        .mount(&server)
        .await;
    let query = CustomerListQuery {
        page_size: Some(2),
        ..Default::default()
    };

    let items: Vec<_> = client(&server)
        .customers()
        .list_auto_paging(query, None)
        .try_collect()
        .await
        .unwrap();

    let ids: Vec<_> = items.iter().map(|c| c.id).collect();
    assert_eq!(ids, [a, b, c]);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2, "no request past total_pages");
    assert!(requests
        .iter()
        .all(|r| r.url.query().unwrap().contains("page_size=2")));
}
