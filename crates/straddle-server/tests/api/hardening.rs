//! Hardening: text the databases cannot store, duplicate keys, secrets at
//! rest, limits on the unauthenticated paths, connection timeouts.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

use straddle_server::admin;
use straddle_server::security::secrets::Secrets;
use straddle_server::Clock;

use crate::bridge::customer;
use crate::helpers::{
    capture_warnings, customer_body, logged_warnings, spawn_app, spawn_app_with, Options, Reply,
    TestApp,
};

/// Sends `body` as raw JSON text (duplicate keys and escapes kept as written).
async fn post_raw(app: &TestApp, path: &str, body: &str) -> Reply {
    let response = app
        .http
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Reply::read(response).await
}

/// Asserts a 400 whose single item names `reference`.
fn assert_refused(reply: &Reply, reference: &str) {
    reply.assert_error(400, "invalid_request_error");
    assert_eq!(reply.references(), [reference], "{}", reply.body);
}

/// A customer body as JSON text with `field` set to a string holding NUL.
fn with_nul(mut body: Value, field: &str) -> String {
    body[field] = json!("a\u{0}b");
    serde_json::to_string(&body).unwrap()
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field_on_every_text_input() {
    let app = spawn_app().await;
    let body = customer_body("Ann Perkins", "ann@pawnee.com");
    for field in ["name", "email", "external_id"] {
        let reply = post_raw(&app, "/v1/customers", &with_nul(body.clone(), field)).await;
        assert_refused(&reply, field);
    }
    let mut nested = body.clone();
    nested["metadata"] = json!({"note": "x\u{0}"});
    let reply = post_raw(&app, "/v1/customers", &nested.to_string()).await;
    assert_refused(&reply, "metadata.note");

    let customer_id = customer(&app, "Ann Perkins").await;
    let paykey = json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": "004417253381", "account_type": "checking"});
    let reply = post_raw(
        &app,
        "/v1/bridge/bank_account",
        &with_nul(paykey, "external_id"),
    )
    .await;
    assert_refused(&reply, "external_id");
    let init = json!({"customer_id": customer_id});
    let reply = post_raw(
        &app,
        "/v1/bridge/initialize",
        &with_nul(init, "external_id"),
    )
    .await;
    assert_refused(&reply, "external_id");

    for query in [
        "search_text=a%00b",
        "external_id=%00",
        "search_text=ok&x%00=1",
    ] {
        let reply = app.get(&format!("/v1/customers?{query}")).await;
        reply.assert_error(400, "invalid_request_error");
    }
    assert_refused(
        &app.get("/v1/customers?search_text=a%00b").await,
        "search_text",
    );
    assert_refused(
        &app.get("/v1/paykeys?search_text=a%00b").await,
        "search_text",
    );

    // Nothing was stored, and ordinary text still works.
    let list = app.get("/v1/customers").await;
    assert_eq!(list.data().as_array().unwrap().len(), 1, "{}", list.body);
    app.stop().await;
}

#[tokio::test]
async fn duplicate_object_keys_are_refused() {
    let app = spawn_app().await;
    let reply = post_raw(
        &app,
        "/v1/customers",
        r#"{"name": "A", "name": "B", "type": "individual", "email": "a@b.co", "phone": "+12128675309"}"#,
    )
    .await;
    assert_refused(&reply, "name");
    let reply = post_raw(
        &app,
        "/v1/customers",
        r#"{"name": "A", "type": "individual", "email": "a@b.co", "phone": "+12128675309", "metadata": {"k": "1", "k": "2"}}"#,
    )
    .await;
    assert_refused(&reply, "metadata.k");
    app.stop().await;
}

#[tokio::test]
async fn sensitive_values_sent_with_the_wrong_type_are_not_echoed() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ann Perkins").await;
    let bank = json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": 4417253381u64, "account_type": "checking"});
    let tan = json!({"customer_id": customer_id, "routing_number": "026009593",
        "tan": 7725338119u64, "account_type": "checking"});
    let mut person = customer_body("Ann Perkins", "ann2@pawnee.com");
    person["compliance_profile"]["ssn"] = json!(123456789);
    for (path, body, secret) in [
        ("/v1/bridge/bank_account", bank, "4417253381"),
        ("/v1/bridge/tan", tan, "7725338119"),
        ("/v1/customers", person, "123456789"),
    ] {
        let reply = app.post(path, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            !reply.body.to_string().contains(secret),
            "{path}: {}",
            reply.body
        );
    }
    app.stop().await;
}

/// Everything the database holds, as text: the SQLite files' bytes (with
/// WAL and shared memory), or every PostgreSQL table's rows.
async fn database_text(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let mut text = String::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    }
    let mut conn = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut text = String::new();
    for (table,) in tables {
        let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for (row,) in rows {
            text.push_str(&row);
            text.push('\n');
        }
    }
    text
}

#[tokio::test]
async fn no_token_issued_is_stored_in_clear() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ann Perkins").await;
    let mut tokens = vec![app.api_key.clone()];
    for (i, path) in ["/v1/bridge/bank_account", "/v1/bridge/tan"]
        .iter()
        .enumerate()
    {
        let body = json!({"customer_id": customer_id, "routing_number": "026009593",
            "account_number": "004417253381", "tan": "7725338119", "account_type": "checking"});
        let key = format!("seal-test-key-{i}");
        let reply = app
            .send(
                Method::POST,
                path,
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let paykey = reply.data()["paykey"].as_str().unwrap().to_string();
        // The replay answers from the sealed store with the same token.
        let replay = app
            .send(
                Method::POST,
                path,
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await;
        assert_eq!(replay.data()["paykey"], paykey.as_str());
        tokens.push(paykey);
    }
    let init = json!({"customer_id": customer_id});
    let keyed = [("Idempotency-Key", "seal-test-bridge")];
    let reply = app
        .send(Method::POST, "/v1/bridge/initialize", Some(&init), &keyed)
        .await;
    let bridge_token = reply.data()["bridge_token"].as_str().unwrap().to_string();
    let replay = app
        .send(Method::POST, "/v1/bridge/initialize", Some(&init), &keyed)
        .await;
    assert_eq!(replay.data()["bridge_token"], bridge_token.as_str());
    tokens.push(bridge_token);

    let stored = database_text(&app).await;
    assert!(stored.contains(&customer_id), "the dump holds the data");
    for token in &tokens {
        // The paykey's 7-hex tail and the JWT's signature are unique to it.
        let tail = token.rsplit('.').next().unwrap();
        assert!(!stored.contains(token.as_str()), "token in clear: {token}");
        assert!(!stored.contains(tail), "token tail in clear: {token}");
    }
    app.stop().await;
}

#[tokio::test]
async fn sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let Some(path) = app.database_url.strip_prefix("sqlite://").map(String::from) else {
        return app.stop().await;
    };
    app.create_customer(&customer_body("Ann Perkins", "ann@pawnee.com"))
        .await;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    app.stop().await;
}

#[tokio::test]
async fn search_folds_the_case_of_non_ascii_letters_on_both_backends() {
    let app = spawn_app().await;
    app.create_customer(&customer_body("Émile Zoë", "emile@example.com"))
        .await;
    app.create_customer(&customer_body("Ørjan Ås", "orjan@example.com"))
        .await;
    // Long terms go through each backend's trigram index, short ones and
    // `name` through lower(): both fold non-ASCII letters.
    for (parameter, query, expected) in [
        ("search_text", "Émile", "Émile Zoë"),
        ("search_text", "émile", "Émile Zoë"),
        ("search_text", "ÉMILE ZOË", "Émile Zoë"),
        ("search_text", "øRJAN", "Ørjan Ås"),
        ("search_text", "éM", "Émile Zoë"),
        ("search_text", "ås", "Ørjan Ås"),
        ("name", "ÉMI", "Émile Zoë"),
        ("name", "øR", "Ørjan Ås"),
    ] {
        let reply = app
            .http
            .get(format!("{}/v1/customers", app.base_url))
            .query(&[(parameter, query)])
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        let reply = Reply::read(reply).await;
        let names: Vec<&str> = reply
            .data()
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, [expected], "{parameter}={query}");
    }
    app.stop().await;
}

/// Each PostgreSQL trigram index's storage options, as `index:options`.
async fn gin_pending_bounds(database_url: &str) -> Vec<String> {
    let mut admin = sqlx::PgConnection::connect(database_url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT relname || ':' || COALESCE(array_to_string(reloptions, ','), '') FROM pg_class \
         WHERE relname IN ('paykey_search', 'customer_search') ORDER BY relname",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    rows.into_iter().map(|(row,)| row).collect()
}

/// On PostgreSQL an insert that finds the trigram index's pending list full
/// moves all of it into the index before it commits (50 ms at the default
/// 4 MB, on `bank_account` at 64 connections): the indexes bound the list,
/// also when they were made before the bound, and search still answers.
#[tokio::test]
async fn postgres_trigram_indexes_bound_their_pending_list_even_when_made_before() {
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("PostgreSQL only; skipped on SQLite");
        return app.stop().await;
    }
    let bounded = [
        "customer_search:gin_pending_list_limit=256",
        "paykey_search:gin_pending_list_limit=256",
    ];
    assert_eq!(gin_pending_bounds(&app.database_url).await, bounded);
    // As an index made by an earlier version.
    let mut admin = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    for index in ["paykey_search", "customer_search"] {
        let reset = format!("ALTER INDEX {index} RESET (gin_pending_list_limit)");
        sqlx::query(&reset).execute(&mut admin).await.unwrap();
    }
    assert_eq!(
        gin_pending_bounds(&app.database_url).await,
        ["customer_search:", "paykey_search:"]
    );
    let database_url = app.database_url.clone();
    let restarted = app.restart().await;
    assert_eq!(gin_pending_bounds(&database_url).await, bounded);
    restarted
        .create_customer(&customer_body("Leslie Knope", "leslie@example.com"))
        .await;
    let found = restarted.get("/v1/customers?search_text=knope").await;
    assert_eq!(found.body["meta"]["total_items"], 1, "{}", found.body);
    restarted.stop().await;
}

/// A bridge token for a new customer, created with `api_key`.
async fn bridge_token_with(app: &TestApp, api_key: &str) -> String {
    let customer_id = customer(app, "Ann Perkins").await;
    let reply = app
        .send_as(
            api_key,
            Method::POST,
            "/v1/bridge/initialize",
            Some(&json!({"customer_id": customer_id})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.data()["bridge_token"].as_str().unwrap().to_string()
}

async fn widget_get(app: &TestApp, token: &str, path: &str) -> Reply {
    app.send_as(
        token,
        Method::GET,
        &format!("/widget/api/{path}"),
        None,
        &[],
    )
    .await
}

fn assert_rate_limited(reply: &Reply) {
    reply.assert_error(429, "invalid_request_error");
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
}

#[tokio::test]
async fn the_widget_api_is_limited_per_bridge_token() {
    let app = spawn_app_with(Options {
        configure: Some(|config| {
            config.guard.widget_per_token = 5;
            config.guard.widget_per_address = 0;
        }),
        ..Options::default()
    })
    .await;
    let token = bridge_token_with(&app, &app.api_key).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(widget_get(&app, &token, "session").await.status.as_u16());
    }
    assert_eq!(statuses[..5], [200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_rate_limited(&widget_get(&app, &token, "institutions").await);
    // Another session is not held back by this one.
    let other = bridge_token_with(&app, &app.api_key).await;
    assert_eq!(widget_get(&app, &other, "session").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn the_widget_api_is_limited_per_client_address_even_with_bad_tokens() {
    let app = spawn_app_with(Options {
        configure: Some(|config| {
            config.guard.widget_per_token = 0;
            config.guard.widget_per_address = 5;
        }),
        ..Options::default()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let reply = widget_get(&app, &format!("forged.token.{i}"), "session").await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    let token = bridge_token_with(&app, &app.api_key).await;
    assert_rate_limited(&widget_get(&app, &token, "session").await);
    app.stop().await;
}

#[tokio::test]
async fn the_sandbox_sign_in_locks_out_after_five_wrong_passwords() {
    let app = spawn_app().await;
    let token = bridge_token_with(&app, &app.api_key).await;
    let sign_in = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let body = json!({"institution_id": "first_platypus", "username": "user_good", "password": password});
            app.send_as(
                &token,
                Method::POST,
                "/widget/api/open_banking/accounts",
                Some(&body),
                &[],
            )
            .await
        }
    };
    for _ in 0..5 {
        sign_in("pass_bad")
            .await
            .assert_error(422, "validation_error");
    }
    // Locked out: even the right password is refused until the lockout ends.
    let locked = sign_in("pass_good").await;
    assert_rate_limited(&locked);
    let retry: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    let link = json!({"institution_id": "first_platypus", "account_id": "plaid_checking",
        "username": "user_good", "password": "pass_good"});
    let reply = app
        .send_as(
            &token,
            Method::POST,
            "/widget/api/open_banking/paykey",
            Some(&link),
            &[],
        )
        .await;
    assert_rate_limited(&reply);

    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(sign_in("pass_good").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_bridge_token_dies_with_the_api_key_that_created_it() {
    let app = spawn_app().await;
    let secrets = Secrets::load_or_create(&app.secrets_file).unwrap();
    let (key_id, key) = admin::create_key(&app.state.pipeline, &secrets, app.account_id)
        .await
        .unwrap();
    let token = bridge_token_with(&app, &key.0).await;
    let kept = bridge_token_with(&app, &app.api_key).await;
    assert_eq!(widget_get(&app, &token, "session").await.status, 200);
    admin::revoke_key(&app.state.pipeline, key_id)
        .await
        .unwrap();
    let reply = widget_get(&app, &token, "session").await;
    reply.assert_error(401, "authentication_error");
    assert_eq!(reply.body["error"]["items"][0]["detail"], "invalid_token");
    assert_eq!(widget_get(&app, &kept, "session").await.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn responses_with_unmasked_data_or_tokens_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let (_, unmask_key) = app.other_platform(true).await;
    let customer_id = customer(&app, "Ann Perkins").await;
    let body = json!({"customer_id": customer_id, "routing_number": "026009593",
        "account_number": "004417253381", "account_type": "checking"});
    let paykey = app.post("/v1/bridge/bank_account", &body).await;
    let id = paykey.data()["id"].as_str().unwrap().to_string();
    let token = bridge_token_with(&app, &app.api_key).await;
    let replies = [
        paykey,
        app.get(&format!("/v1/paykeys/{id}/reveal")).await,
        app.send_as(
            &unmask_key,
            Method::GET,
            &format!("/v1/customers/{customer_id}/unmasked"),
            None,
            &[],
        )
        .await,
        widget_get(&app, &token, "session").await,
        app.get("/v1/customers").await,
        app.get("/v1/no-such-route").await,
    ];
    for reply in replies {
        assert_eq!(reply.headers["cache-control"], "no-store", "{}", reply.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn failed_authentications_are_logged_as_one_count_per_interval() {
    capture_warnings();
    let app = spawn_app().await;
    for i in 0..237 {
        let reply = app
            .send_as(
                &format!("not-a-key-{i}"),
                Method::GET,
                "/v1/customers",
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    app.state.guard.report(app.clock.now());
    let lines: Vec<String> = logged_warnings()
        .lines()
        .filter(|l| l.contains("requests refused"))
        .map(String::from)
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("unauthorized=237")),
        "{lines:?}"
    );
    app.stop().await;
}
