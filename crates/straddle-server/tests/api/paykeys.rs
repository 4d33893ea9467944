//! The paykeys resource: reads, state changes, the R29 simulation.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::bridge::{customer, f2_body};
use crate::helpers::{spawn_app, TestApp};

async fn bank_paykey(app: &TestApp, customer_id: &str, config: Value) -> Value {
    let mut body = f2_body(customer_id);
    body["config"] = config;
    let reply = app.post("/v1/bridge/bank_account", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

async fn plaid_paykey(app: &TestApp, customer_id: &str, token: &str) -> Value {
    let body = json!({"customer_id": customer_id, "plaid_token": token, "config": {"sandbox_outcome": "active"}});
    let reply = app.post("/v1/bridge/plaid", &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

fn id(paykey: &Value) -> &str {
    paykey["id"].as_str().unwrap()
}

#[tokio::test]
async fn reveal_and_unmasked_show_what_get_masks() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let created = bank_paykey(&app, &customer_id, json!({})).await;
    let token = created["paykey"].as_str().unwrap();
    let got = app.get(&format!("/v1/paykeys/{}", id(&created))).await;
    assert_ne!(got.data()["paykey"], token);
    assert_eq!(got.data()["bank_data"]["account_number"], "******3381");
    let revealed = app
        .get(&format!("/v1/paykeys/{}/reveal", id(&created)))
        .await;
    assert_eq!(revealed.data()["paykey"], token);
    assert_eq!(revealed.data()["bank_data"]["account_number"], "******3381");
    app.get(&format!("/v1/paykeys/{}/unmasked", id(&created)))
        .await
        .assert_error(403, "authentication_error");

    let (_, unmask_key) = app.other_platform(true).await;
    let theirs = app
        .send_as(
            &unmask_key,
            Method::POST,
            "/v1/customers",
            Some(&crate::helpers::customer_body("R S", "rs@example.com")),
            &[],
        )
        .await;
    let theirs = app
        .send_as(
            &unmask_key,
            Method::POST,
            "/v1/bridge/bank_account",
            Some(&f2_body(theirs.data()["id"].as_str().unwrap())),
            &[],
        )
        .await;
    let unmasked = app
        .send_as(
            &unmask_key,
            Method::GET,
            &format!("/v1/paykeys/{}/unmasked", id(theirs.data())),
            None,
            &[],
        )
        .await;
    assert_eq!(unmasked.status, 200);
    assert_eq!(
        unmasked.data()["bank_data"]["account_number"],
        "004417253381"
    );
    assert_eq!(unmasked.data()["paykey"], theirs.data()["paykey"]);
    app.get(&format!("/v1/paykeys/{}", id(theirs.data())))
        .await
        .assert_error(404, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn cancel_makes_a_paykey_inactive_once() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let created = bank_paykey(&app, &customer_id, json!({})).await;
    let path = format!("/v1/paykeys/{}/cancel", id(&created));
    let cancelled = app
        .send(
            Method::PUT,
            &path,
            Some(&json!({"reason": "Customer closed the account"})),
            &[],
        )
        .await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.data()["status"], "inactive");
    assert_eq!(
        cancelled.data()["status_details"]["message"],
        "Customer closed the account"
    );
    assert_eq!(cancelled.data()["status_details"]["reason"], "user_request");
    assert_eq!(cancelled.data()["status_details"]["source"], "user_action");
    app.send(Method::PUT, &path, Some(&json!({})), &[])
        .await
        .assert_error(422, "validation_error");
    app.stop().await;
}

#[tokio::test]
async fn balance_refresh_is_accepted_then_completes() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Alberta Charleson").await;
    let plaid = plaid_paykey(&app, &customer_id, "processor-sandbox-chase-1").await;
    assert_eq!(plaid["balance"]["status"], "completed");
    assert_eq!(plaid["balance"]["account_balance"], 250000);
    let path = format!("/v1/paykeys/{}", id(&plaid));
    let refresh = app
        .send(Method::PUT, &format!("{path}/refresh_balance"), None, &[])
        .await;
    assert_eq!(refresh.status, 202);
    assert_eq!(refresh.data()["balance"], json!({"status": "pending"}));
    app.clock.advance(Duration::seconds(4));
    let done = app
        .eventually(&path, |p| p["balance"]["status"] == "completed")
        .await;
    assert_eq!(done["balance"]["account_balance"], 250000);

    let manual = bank_paykey(&app, &customer_id, json!({})).await;
    app.send(
        Method::PUT,
        &format!("/v1/paykeys/{}/refresh_balance", id(&manual)),
        None,
        &[],
    )
    .await
    .assert_error(422, "validation_error");
    app.stop().await;
}

#[tokio::test]
async fn review_reads_decides_only_from_review_and_refreshes() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let active = bank_paykey(&app, &customer_id, json!({})).await;
    let review_path = format!("/v1/paykeys/{}/review", id(&active));
    let review = app.get(&review_path).await;
    assert_eq!(review.data()["paykey_details"]["id"], active["id"]);
    assert_eq!(review.data()["verification_details"]["decision"], "accept");
    app.send(
        Method::PATCH,
        &review_path,
        Some(&json!({"status": "active"})),
        &[],
    )
    .await
    .assert_error(422, "validation_error");

    let in_review = bank_paykey(&app, &customer_id, json!({"sandbox_outcome": "review"})).await;
    let review_path = format!("/v1/paykeys/{}/review", id(&in_review));
    let rejected = app
        .send(
            Method::PATCH,
            &review_path,
            Some(&json!({"status": "rejected"})),
            &[],
        )
        .await;
    assert_eq!(rejected.data()["status"], "rejected");
    let refreshed = app
        .send(
            Method::PUT,
            &format!("/v1/paykeys/{}/refresh_review", id(&in_review)),
            None,
            &[],
        )
        .await;
    assert_eq!(refreshed.status, 202);
    assert_eq!(
        refreshed.data()["status"],
        "review",
        "the sandbox outcome decides again"
    );

    let skipped = bank_paykey(
        &app,
        &customer_id,
        json!({"processing_method": "skip", "sandbox_outcome": "rejected"}),
    )
    .await;
    assert_eq!(skipped["status"], "active");
    let review = app
        .get(&format!("/v1/paykeys/{}/review", id(&skipped)))
        .await;
    assert!(review.data().get("verification_details").is_none());
    app.stop().await;
}

#[tokio::test]
async fn an_r29_return_blocks_and_unblock_reactivates_once() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Ron Swanson").await;
    let paykey = bank_paykey(&app, &customer_id, json!({})).await;
    let simulate = format!("/v1/sandbox/paykeys/{}/simulate_return", id(&paykey));
    let unblock = format!("/v1/paykeys/{}/unblock", id(&paykey));
    app.send(Method::PATCH, &unblock, Some(&json!({})), &[])
        .await
        .assert_error(422, "validation_error");

    let blocked = app.post(&simulate, &json!({"code": "R29"})).await;
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    assert_eq!(blocked.data()["status"], "blocked");
    assert_eq!(blocked.data()["unblock_eligible"], true);
    assert_eq!(blocked.data()["status_details"]["code"], "R29");
    assert_eq!(blocked.data()["status_details"]["source"], "bank_decline");
    let eligible = app.get("/v1/paykeys?unblock_eligible=true").await;
    assert_eq!(eligible.body["meta"]["total_items"], 1);
    assert_eq!(
        app.get("/v1/paykeys?unblock_eligible=false").await.body["meta"]["total_items"],
        0
    );

    let unblocked = app
        .send(
            Method::PATCH,
            &unblock,
            Some(&json!({"message": "Customer confirmed"})),
            &[],
        )
        .await;
    assert_eq!(unblocked.data()["status"], "active");
    assert!(unblocked.data().get("unblock_eligible").is_none());
    let again = app.post(&simulate, &json!({"code": "R29"})).await;
    assert_eq!(
        again.data()["unblock_eligible"],
        false,
        "only the first R29 may be unblocked"
    );
    app.send(Method::PATCH, &unblock, Some(&json!({})), &[])
        .await
        .assert_error(422, "validation_error");

    let other = bank_paykey(&app, &customer_id, json!({})).await;
    let closed = app
        .post(
            &format!("/v1/sandbox/paykeys/{}/simulate_return", id(&other)),
            &json!({"code": "R02"}),
        )
        .await;
    assert_eq!(closed.data()["unblock_eligible"], false);
    assert_eq!(
        closed.data()["status_details"]["reason"],
        "closed_bank_account"
    );
    app.post(
        &format!("/v1/sandbox/paykeys/{}/simulate_return", id(&other)),
        &json!({"code": "R99"}),
    )
    .await
    .assert_error(400, "validation_error");
    app.stop().await;
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let app = spawn_app().await;
    let ron = customer(&app, "Ron Swanson").await;
    let ann = customer(&app, "Alberta Bobbeth Charleson").await;
    let bofa = bank_paykey(&app, &ron, json!({})).await;
    let review = bank_paykey(&app, &ron, json!({"sandbox_outcome": "review"})).await;
    let plaid = plaid_paykey(&app, &ann, "processor-sandbox-wells").await;
    let ids = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = app.get("/v1/paykeys").await;
    assert_eq!(
        ids(&all),
        [id(&plaid), id(&review), id(&bofa)],
        "newest first"
    );
    let item = &all.data()[0];
    assert!(
        item.get("balance").is_none() && item.get("metadata").is_none(),
        "list items omit balance and metadata"
    );
    assert!(item["paykey"].as_str().unwrap().contains("***"));
    assert_eq!(
        ids(&app.get(&format!("/v1/paykeys?customer_id={ann}")).await),
        [id(&plaid)]
    );
    assert_eq!(
        ids(&app.get("/v1/paykeys?status=review").await),
        [id(&review)]
    );
    assert_eq!(
        ids(&app.get("/v1/paykeys?source=plaid,tan").await),
        [id(&plaid)]
    );
    assert_eq!(
        ids(&app.get("/v1/paykeys?search_text=wells").await),
        [id(&plaid)]
    );
    let by_bank = app
        .get("/v1/paykeys?sort_by=institution_name&sort_order=asc")
        .await;
    assert_eq!(
        by_bank.data()[2]["institution_name"],
        "WELLS FARGO BANK, N.A."
    );
    assert_eq!(by_bank.body["meta"]["sort_by"], "institution_name");
    let page = app.get("/v1/paykeys?page_size=2&page_number=2").await;
    assert_eq!(ids(&page), [id(&bofa)]);
    assert_eq!(page.body["meta"]["total_pages"], 2);
    assert_eq!(
        app.get("/v1/paykeys?page_number=5").await.data(),
        &json!([])
    );
    app.get("/v1/paykeys?status=gone")
        .await
        .assert_error(400, "invalid_request_error");
    app.get("/v1/paykeys?customer_id=nope")
        .await
        .assert_error(400, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn a_paykey_that_cannot_be_read_never_blocks_background_work() {
    let app = spawn_app().await;
    let customer_id = customer(&app, "Alberta Charleson").await;
    let broken = plaid_paykey(&app, &customer_id, "processor-sandbox-one").await;
    let healthy = plaid_paykey(&app, &customer_id, "processor-sandbox-chase-2").await;
    for paykey in [&broken, &healthy] {
        let refresh = app
            .send(
                Method::PUT,
                &format!("/v1/paykeys/{}/refresh_balance", id(paykey)),
                None,
                &[],
            )
            .await;
        assert_eq!(refresh.status, 202);
    }
    // Sealed with a key this server does not have (as if written by a
    // misconfigured instance).
    sqlx::query(
        "UPDATE paykey SET sealed = 'v1:k9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE paykey_id = $1",
    )
    .bind(id(&broken))
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    app.clock.advance(Duration::seconds(4));
    let done = app
        .eventually(&format!("/v1/paykeys/{}", id(&healthy)), |p| {
            p["balance"]["status"] == "completed"
        })
        .await;
    assert_eq!(done["balance"]["account_balance"], 250000);
    app.stop().await;
}

#[tokio::test]
async fn background_paykey_verification_survives_a_restart() {
    let mut app = spawn_app().await;
    let customer_id = customer(&app, "Alberta Charleson").await;
    let body = json!({"customer_id": customer_id, "plaid_token": "processor-sandbox-restart",
                      "config": {"processing_method": "background", "sandbox_outcome": "review"}});
    let created = app.post("/v1/bridge/plaid", &body).await;
    assert_eq!(created.data()["status"], "pending");
    let (database_url, secrets_file, clock, api_key) = (
        app.database_url.clone(),
        app.secrets_file.clone(),
        app.clock.clone(),
        app.api_key.clone(),
    );
    app.shut_down().await;

    clock.advance(Duration::seconds(10));
    let mut restarted = crate::helpers::spawn_app_with(crate::helpers::Options {
        database_url: Some(database_url),
        secrets_file: Some(secrets_file),
        clock: Some(clock),
        ..Default::default()
    })
    .await;
    restarted.api_key = api_key;
    let path = format!("/v1/paykeys/{}", id(created.data()));
    let done = restarted
        .eventually(&path, |p| p["status"] == "review")
        .await;
    assert_eq!(done["status_details"]["reason"], "require_review");
    assert_eq!(done["balance"]["status"], "completed");
    assert_eq!(done["balance"]["account_balance"], 10000);
    restarted.stop().await;
}

#[tokio::test]
async fn many_first_pages_of_a_list_over_ten_thousand_paykeys_agree_on_its_total() {
    let app = spawn_app().await;
    let seeded =
        straddle_server::admin::seed(&app.state.pipeline, app.account_id, 2_101, 5, |_| {}).await;
    assert_eq!(seeded.unwrap(), 10_505);
    // Above 10,000 matches the total is counted once and shared by every
    // request that asked meanwhile.
    let pages = futures::future::join_all(
        (0..16).map(|_| app.get("/v1/paykeys?page_size=1&sort_order=asc")),
    )
    .await;
    for page in &pages {
        assert_eq!(page.status, 200, "{:?}", page.body);
        assert_eq!(page.body["meta"]["total_items"], 10_505);
        assert_eq!(page.body["meta"]["total_pages"], 10_505);
    }
    app.stop().await;
}

/// `search_text` gives the same matches, total and order whether the trigram
/// index finds few candidates (read by rowid) or more than ten thousand
/// (the account is scanned instead): checked against every paykey's fields.
#[tokio::test]
async fn search_agrees_with_the_paykeys_fields_for_rare_and_common_terms() {
    let app = spawn_app().await;
    let seeded =
        straddle_server::admin::seed(&app.state.pipeline, app.account_id, 10_000, 5, |_| {});
    assert_eq!(seeded.await.unwrap(), 50_000);
    let mut all = Vec::new();
    for page in 1..=50 {
        let path = format!("/v1/paykeys?page_size=1000&page_number={page}&sort_order=asc");
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        all.extend(reply.data().as_array().unwrap().iter().cloned());
    }
    assert_eq!(all.len(), 50_000);
    let text = |paykey: &Value, field: &str| paykey[field].as_str().unwrap_or("").to_lowercase();
    let holds = |paykey: &Value, term: &str| {
        let term = term.to_lowercase();
        ["label", "institution_name", "external_id"]
            .iter()
            .any(|field| text(paykey, field).contains(&term))
            || text(&paykey["bank_data"], "routing_number").contains(&term)
    };
    // "Platypus" is one bank in four (about 12,500 paykeys); a last-four
    // prefix narrows it to about a tenth of those, more than the thousand
    // that were once read by rowid at most.
    for (term, over_ten_thousand) in [
        ("Platypus", true),
        ("PLATYPUS BANK - *1", false),
        ("000021", true),
        ("no such bank", false),
    ] {
        let expected: Vec<&str> = all.iter().filter(|p| holds(p, term)).map(id).collect();
        assert_eq!(expected.len() > 10_000, over_ten_thousand, "{term}");
        if term == "PLATYPUS BANK - *1" {
            assert!(expected.len() > 1_000, "{}", expected.len());
        }
        let path = format!(
            "/v1/paykeys?page_size=100&sort_order=asc&search_text={}",
            term.replace(' ', "%20").replace('*', "%2A")
        );
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["meta"]["total_items"], expected.len(), "{term}");
        let first: Vec<&str> = reply.data().as_array().unwrap().iter().map(id).collect();
        let want = &expected[..expected.len().min(100)];
        assert_eq!(first, want, "{term}");
    }
    app.stop().await;
}
