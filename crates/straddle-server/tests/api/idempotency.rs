//! Idempotency-Key: replay, conflicts, concurrency, scope and retention.

use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;

use crate::helpers::{customer_body, spawn_app};

#[tokio::test]
async fn an_identical_retry_replays_status_body_and_marks_the_replay() {
    let app = spawn_app().await;
    let body = customer_body("April Ludgate", "april@pawnee.com");
    let key = [("Idempotency-Key", "cust-april-0001")];
    let first = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    let second = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert_eq!(
        first.body, second.body,
        "same id and same meta.api_request_id"
    );
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(
        app.get("/v1/customers").await.body["meta"]["total_items"],
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_a_409_not_to_retry() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "cust-andy-00001")];
    let first = app
        .send(
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Andy Dwyer", "andy@pawnee.com")),
            &key,
        )
        .await;
    assert_eq!(first.status, 201);
    let other = app
        .send(
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Andy Dwyer", "mouse.rat@pawnee.com")),
            &key,
        )
        .await;
    other.assert_error(409, "invalid_request_error");
    assert_eq!(other.headers["x-should-retry"], "false");
    app.stop().await;
}

#[tokio::test]
async fn keys_outside_10_to_40_characters_are_refused() {
    let app = spawn_app().await;
    let body = customer_body("Jerry Gergich", "jerry@pawnee.com");
    for key in ["abc123", &"k".repeat(41)] {
        let reply = app
            .send(
                Method::POST,
                "/v1/customers",
                Some(&body),
                &[("Idempotency-Key", key)],
            )
            .await;
        reply.assert_error(400, "invalid_request_error");
        assert_eq!(reply.references(), ["Idempotency-Key"]);
    }
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_identical_requests_have_exactly_one_effect() {
    let app = spawn_app().await;
    let body = customer_body("Donna Meagle", "donna@pawnee.com");
    let requests = (0..20).map(|_| {
        app.send(
            Method::POST,
            "/v1/customers",
            Some(&body),
            &[("Idempotency-Key", "treat-yo-self-2026")],
        )
    });
    let replies = join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    for reply in &replies {
        match reply.status.as_u16() {
            201 => {
                ids.insert(reply.data()["id"].as_str().unwrap().to_string());
            }
            409 => assert_eq!(reply.headers["x-should-retry"], "true"),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(ids.len(), 1, "every success names the same customer");
    assert_eq!(
        app.get("/v1/customers").await.body["meta"]["total_items"],
        1,
        "exactly one customer created"
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_are_scoped_to_the_account() {
    let app = spawn_app().await;
    let (_, other_key) = app.other_platform(false).await;
    let body = customer_body("Chris Traeger", "chris@pawnee.com");
    let key = [("Idempotency-Key", "literally-0000001")];
    let mine = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    let theirs = app
        .send_as(&other_key, Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    assert_eq!(theirs.status, 201);
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    assert_ne!(mine.data()["id"], theirs.data()["id"]);
    app.stop().await;
}

#[tokio::test]
async fn keys_expire_after_24_hours() {
    let app = spawn_app().await;
    let body = customer_body("Ben Wyatt", "ben@pawnee.com");
    let key = [("Idempotency-Key", "cones-of-dunshire")];
    let first = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    app.clock.advance(Duration::hours(23));
    let replay = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    assert_eq!(replay.data()["id"], first.data()["id"]);
    app.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let fresh = app
        .send(Method::POST, "/v1/customers", Some(&body), &key)
        .await;
    assert_eq!(fresh.status, 201);
    assert!(fresh.headers.get("idempotent-replayed").is_none());
    assert_ne!(fresh.data()["id"], first.data()["id"]);
    app.stop().await;
}

#[tokio::test]
async fn failed_requests_are_not_stored_so_a_corrected_retry_succeeds() {
    let app = spawn_app().await;
    let key = [("Idempotency-Key", "update-missing-1")];
    let path = format!("/v1/customers/{}", uuid::Uuid::now_v7());
    let update = serde_json::json!({"name": "X", "email": "x@y.co", "phone": "+12128675309", "device": {"ip_address": "1.1.1.1"}, "status": "verified"});
    app.send(Method::PUT, &path, Some(&update), &key)
        .await
        .assert_error(404, "invalid_request_error");
    let customer = app
        .create_customer(&customer_body("Craig Middlebrooks", "craig@pawnee.com"))
        .await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let retried = app
        .send(
            Method::PUT,
            &path,
            Some(&update),
            &[("Idempotency-Key", "update-missing-2")],
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    app.stop().await;
}

#[tokio::test]
async fn a_failing_write_in_a_busy_batch_leaves_no_trace_and_spares_its_neighbours() {
    let app = spawn_app().await;
    let missing = format!("/v1/customers/{}", uuid::Uuid::now_v7());
    let update = serde_json::json!({"name": "X", "email": "x@y.co", "phone": "+12128675309", "device": {"ip_address": "1.1.1.1"}, "status": "verified"});
    let keys: Vec<String> = (0..16).map(|i| format!("batch-key-{i:04}")).collect();
    let bodies: Vec<_> = (0..16)
        .map(|i| customer_body("Batch", &format!("batch{i}@pawnee.com")))
        .collect();
    let headers: Vec<[(&str, &str); 1]> = keys
        .iter()
        .map(|key| [("Idempotency-Key", key.as_str())])
        .collect();
    let requests = (0..16).map(|i| {
        if i % 2 == 0 {
            app.send(Method::POST, "/v1/customers", Some(&bodies[i]), &headers[i])
        } else {
            app.send(Method::PUT, &missing, Some(&update), &headers[i])
        }
    });
    let replies = join_all(requests).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(
            reply.status.as_u16(),
            if i % 2 == 0 { 201 } else { 404 },
            "{}",
            reply.body
        );
    }
    assert_eq!(
        app.get("/v1/customers").await.body["meta"]["total_items"],
        8
    );
    // The failed requests' keys were rolled back with them: reusing them for
    // a different request is not a conflict.
    for i in (1..16).step_by(2) {
        let reply = app
            .send(
                Method::POST,
                "/v1/customers",
                Some(&bodies[i]),
                &[("Idempotency-Key", keys[i].as_str())],
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    app.stop().await;
}
