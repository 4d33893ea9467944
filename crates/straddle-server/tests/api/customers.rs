//! The customers resource.

use chrono::Duration;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{customer_body, spawn_app, spawn_app_with, Options, TestApp};

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    let app = spawn_app().await;
    let mut body = customer_body("Ron Swanson", "ron@pawnee.com");
    body["external_id"] = json!("cust-ron");
    body["metadata"] = json!({"plan": "gold"});
    let created = app.create_customer(&body).await;
    assert_eq!(created["status"], "verified");
    assert_eq!(
        created["config"],
        json!({"processing_method": "inline", "sandbox_outcome": "standard"})
    );
    assert_eq!(created["metadata"], json!({"plan": "gold"}));
    assert_eq!(created["external_id"], "cust-ron");
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.data(), &created);

    let update = json!({"name": "Ron Swanson", "email": "ron@swanson.com", "phone": "+13175550100", "device": {"ip_address": "198.51.100.2"}, "status": "inactive", "metadata": {"plan": "wood"}});
    let updated = app.send(Method::PUT, &path, Some(&update), &[]).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.data()["email"], "ron@swanson.com");
    assert_eq!(updated.data()["status"], "inactive");
    assert_eq!(updated.data()["metadata"], json!({"plan": "wood"}));

    let deleted = app.send(Method::DELETE, &path, None, &[]).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.data()["id"], created["id"]);
    app.get(&path)
        .await
        .assert_error(404, "invalid_request_error");
    app.stop().await;
}

#[tokio::test]
async fn pii_is_masked_except_for_accounts_allowed_to_unmask() {
    let app = spawn_app().await;
    let created = app
        .create_customer(&customer_body("Mark Brendanawicz", "mark@pawnee.com"))
        .await;
    assert_eq!(
        created["compliance_profile"],
        json!({"dob": "****-**-**", "ssn": "***-**-****"})
    );
    assert_ne!(created["device"]["ip_address"], "203.0.113.7");
    let path = format!("/v1/customers/{}/unmasked", created["id"].as_str().unwrap());
    app.get(&path)
        .await
        .assert_error(403, "authentication_error");

    let (_, unmask_key) = app.other_platform(true).await;
    let theirs = app
        .send_as(
            &unmask_key,
            Method::POST,
            "/v1/customers",
            Some(&customer_body("Mark B", "mb@pawnee.com")),
            &[],
        )
        .await;
    let path = format!(
        "/v1/customers/{}/unmasked",
        theirs.data()["id"].as_str().unwrap()
    );
    let unmasked = app
        .send_as(&unmask_key, Method::GET, &path, None, &[])
        .await;
    assert_eq!(unmasked.status, 200);
    assert_eq!(
        unmasked.data()["compliance_profile"],
        json!({"dob": "1980-02-29", "ssn": "123-45-6789"})
    );
    assert_eq!(unmasked.data()["device"]["ip_address"], "203.0.113.7");
    app.stop().await;
}

#[tokio::test]
async fn sandbox_outcomes_and_processing_methods_decide_the_status() {
    let app = spawn_app().await;
    for (config, status) in [
        (json!({"sandbox_outcome": "verified"}), "verified"),
        (json!({"sandbox_outcome": "rejected"}), "rejected"),
        (json!({"sandbox_outcome": "review"}), "review"),
        (
            json!({"processing_method": "skip", "sandbox_outcome": "rejected"}),
            "verified",
        ),
        (
            json!({"processing_method": "background", "sandbox_outcome": "review"}),
            "pending",
        ),
    ] {
        let mut body = customer_body("Outcome", &format!("{}@pawnee.com", uuid::Uuid::now_v7()));
        body["config"] = config.clone();
        assert_eq!(
            app.create_customer(&body).await["status"],
            status,
            "{config}"
        );
    }
    // Standard: an incomplete compliance profile goes to review.
    let mut body = customer_body("Incomplete", "incomplete@pawnee.com");
    body["compliance_profile"] = json!({"dob": "1980-02-29", "ssn": null});
    assert_eq!(app.create_customer(&body).await["status"], "review");
    app.stop().await;
}

#[tokio::test]
async fn background_verification_completes_after_the_delay() {
    let app = spawn_app().await;
    let mut body = customer_body("Bobby Newport", "bobby@pawnee.com");
    body["config"] = json!({"processing_method": "background", "sandbox_outcome": "rejected"});
    let created = app.create_customer(&body).await;
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    assert_eq!(created["status"], "pending");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.get(&path).await.data()["status"],
        "pending",
        "nothing happens before the delay"
    );
    app.clock.advance(Duration::seconds(4));
    app.eventually(&path, |c| c["status"] == "rejected").await;
    app.stop().await;
}

#[tokio::test]
async fn background_verification_survives_a_restart() {
    let mut app = spawn_app().await;
    let mut body = customer_body("Jean-Ralphio", "jr@pawnee.com");
    body["config"] = json!({"processing_method": "background", "sandbox_outcome": "verified"});
    let created = app.create_customer(&body).await;
    let (database_url, secrets_file, clock, api_key) = (
        app.database_url.clone(),
        app.secrets_file.clone(),
        app.clock.clone(),
        app.api_key.clone(),
    );
    app.shut_down().await;

    clock.advance(Duration::seconds(10));
    let mut restarted = spawn_app_with(Options {
        database_url: Some(database_url),
        secrets_file: Some(secrets_file),
        clock: Some(clock),
        ..Default::default()
    })
    .await;
    restarted.api_key = api_key;
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    restarted
        .eventually(&path, |c| c["status"] == "verified")
        .await;
    restarted.stop().await;
}

#[tokio::test]
async fn reviews_are_decided_only_from_review() {
    let app = spawn_app().await;
    let mut body = customer_body("Tammy Two", "tammy@pawnee.com");
    body["config"] = json!({"sandbox_outcome": "review"});
    let created = app.create_customer(&body).await;
    let path = format!("/v1/customers/{}/review", created["id"].as_str().unwrap());
    let review = app.get(&path).await;
    assert_eq!(review.data()["customer_details"]["id"], created["id"]);
    assert_eq!(review.data()["identity_details"]["decision"], "review");

    let decided = app
        .send(
            Method::PATCH,
            &path,
            Some(&json!({"status": "verified"})),
            &[],
        )
        .await;
    assert_eq!(decided.status, 200);
    assert_eq!(decided.data()["status"], "verified");
    app.send(
        Method::PATCH,
        &path,
        Some(&json!({"status": "rejected"})),
        &[],
    )
    .await
    .assert_error(422, "validation_error");
    app.send(Method::PATCH, &path, Some(&json!({"status": "maybe"})), &[])
        .await
        .assert_error(400, "invalid_request_error");

    let refresh = format!(
        "/v1/customers/{}/refresh_review",
        created["id"].as_str().unwrap()
    );
    let refreshed = app.send(Method::PUT, &refresh, None, &[]).await;
    assert_eq!(refreshed.status, 202);
    assert_eq!(
        refreshed.data()["status"],
        "review",
        "sandbox outcome review decides again"
    );
    app.stop().await;
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let app = spawn_app().await;
    for (name, outcome) in [
        ("Alpha Person", "verified"),
        ("Bravo Person", "review"),
        ("Charlie Person", "rejected"),
    ] {
        let mut body = customer_body(
            name,
            &format!(
                "{}@pawnee.com",
                name.split(' ').next().unwrap().to_lowercase()
            ),
        );
        body["config"] = json!({"sandbox_outcome": outcome});
        body["external_id"] = json!(format!("ext-{name}"));
        app.create_customer(&body).await;
    }
    let all = app.get("/v1/customers").await;
    let meta = &all.body["meta"];
    assert_eq!(
        (
            meta["page_number"].clone(),
            meta["page_size"].clone(),
            meta["total_items"].clone()
        ),
        (json!(1), json!(100), json!(3))
    );
    assert_eq!(
        (
            meta["sort_by"].clone(),
            meta["sort_order"].clone(),
            meta["max_page_size"].clone(),
            meta["total_pages"].clone()
        ),
        (json!("created_at"), json!("desc"), json!(1000), json!(1))
    );
    assert_eq!(all.data()[0]["name"], "Charlie Person", "newest first");

    let names = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&app.get("/v1/customers?sort_by=name&sort_order=asc").await),
        ["Alpha Person", "Bravo Person", "Charlie Person"]
    );
    assert_eq!(
        names(
            &app.get("/v1/customers?status=review,rejected&sort_by=name&sort_order=asc")
                .await
        ),
        ["Bravo Person", "Charlie Person"]
    );
    assert_eq!(
        names(
            &app.get("/v1/customers?status=review&status=verified&sort_by=name&sort_order=asc")
                .await
        ),
        ["Alpha Person", "Bravo Person"]
    );
    assert_eq!(
        names(&app.get("/v1/customers?name=brav").await),
        ["Bravo Person"]
    );
    assert_eq!(
        names(&app.get("/v1/customers?search_text=CHARLIE").await),
        ["Charlie Person"]
    );
    assert_eq!(
        names(&app.get("/v1/customers?email=alpha@pawnee.com").await),
        ["Alpha Person"]
    );
    assert_eq!(
        names(
            &app.get("/v1/customers?external_id=ext-Bravo%20Person")
                .await
        ),
        ["Bravo Person"]
    );
    assert_eq!(
        names(&app.get("/v1/customers?types=business").await),
        Vec::<String>::new()
    );

    let page2 = app
        .get("/v1/customers?page_size=2&page_number=2&sort_by=name&sort_order=asc")
        .await;
    assert_eq!(names(&page2), ["Charlie Person"]);
    assert_eq!(page2.body["meta"]["total_pages"], 2);
    let past_end = app.get("/v1/customers?page_size=2&page_number=9").await;
    assert_eq!(past_end.status, 200);
    assert_eq!(past_end.data(), &json!([]));
    app.get("/v1/customers?page_size=1001")
        .await
        .assert_error(400, "invalid_request_error");
    let future = (chrono::Utc::now() + Duration::days(1)).to_rfc3339();
    let reply = app
        .get(&format!(
            "/v1/customers?created_from={}",
            urlencode(&future)
        ))
        .await;
    assert_eq!(reply.body["meta"]["total_items"], 0);
    app.stop().await;
}

/// `search_text` finds a substring of any one field, whatever its case,
/// takes `%`, `_` and quotes literally, and follows updates and deletions
/// at once (the search index is kept in the background; a search also
/// checks the rows it does not hold yet) and once the index holds them.
#[tokio::test]
async fn search_text_finds_substrings_of_one_field() {
    let app = spawn_app().await;
    let mut ids = std::collections::HashMap::new();
    for (name, email, external_id) in [
        ("Leslie Knope", "leslie@pawnee.com", "ext_50%\"q"),
        ("Ann Perkins", "ann@eagleton.com", "ext-ann"),
        ("Émile Zoë", "emile@pawnee.com", "ext-emile"),
    ] {
        let mut body = customer_body(name, email);
        body["external_id"] = json!(external_id);
        let created = app.create_customer(&body).await;
        ids.insert(name, created["id"].as_str().unwrap().to_string());
    }
    let search = |text: &str| {
        let path = format!(
            "/v1/customers?sort_by=name&sort_order=asc&search_text={}",
            text.replace('%', "%25").replace('"', "%22")
        );
        let app = &app;
        async move {
            let reply = app.get(&path).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply
                .data()
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("KNOPE").await, ["Leslie Knope"]);
    assert_eq!(search("eagleton").await, ["Ann Perkins"]);
    assert_eq!(search("ÉMILE").await, ["Émile Zoë"]);
    assert_eq!(
        search("zo").await,
        ["Émile Zoë"],
        "terms shorter than a trigram"
    );
    assert_eq!(search("50%").await, ["Leslie Knope"]);
    assert_eq!(search("xt_").await, ["Leslie Knope"], "_ is no wildcard");
    assert_eq!(search("%\"q").await, ["Leslie Knope"]);
    assert!(search("kinsann").await.is_empty(), "no match across fields");
    assert!(
        search("lesnee").await.is_empty(),
        "a term's trigrams apart in one field are no match"
    );
    assert_eq!(search("pawnee").await, ["Leslie Knope", "Émile Zoë"]);
    // Pages of a search count every match, past the last page too.
    for (page, expected) in [(1, &["Leslie Knope"][..]), (2, &["Émile Zoë"]), (3, &[])] {
        let reply = app
            .get(&format!(
                "/v1/customers?sort_by=name&sort_order=asc&search_text=pawnee&page_size=1&page_number={page}"
            ))
            .await;
        let names: Vec<_> = reply
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, expected, "page {page}");
        assert_eq!(reply.body["meta"]["total_items"], 2, "page {page}");
        assert_eq!(reply.body["meta"]["total_pages"], 2, "page {page}");
    }

    let ann = format!("/v1/customers/{}", ids["Ann Perkins"]);
    let update = json!({"name": "Ann Meagle", "email": "ann@eagleton.com", "phone": "+13175550100", "device": {"ip_address": "198.51.100.2"}, "status": "inactive"});
    let updated = app.send(Method::PUT, &ann, Some(&update), &[]).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert!(search("perkins").await.is_empty());
    assert_eq!(search("meagle").await, ["Ann Meagle"]);

    let leslie = format!("/v1/customers/{}", ids["Leslie Knope"]);
    assert_eq!(
        app.send(Method::DELETE, &leslie, None, &[]).await.status,
        200
    );
    assert!(search("knope").await.is_empty());

    app.state.db.search_caught_up().await.unwrap();
    assert!(search("perkins").await.is_empty());
    assert_eq!(search("meagle").await, ["Ann Meagle"]);
    assert!(search("knope").await.is_empty());
    assert_eq!(search("pawnee").await, ["Émile Zoë"]);
    app.stop().await;
}

/// Race: customers written while the indexer indexes and the writer
/// forgets what it has indexed are each found by a search that follows
/// their write, whichever of the three gets there first.
#[tokio::test]
async fn every_written_customer_is_found_while_the_index_catches_up() {
    let app = spawn_app().await;
    let found = futures::future::join_all((0..300).map(|n| {
        let app = &app;
        async move {
            let name = format!("Racer Q{n}x");
            app.create_customer(&customer_body(&name, &format!("racer{n}@pawnee.com")))
                .await;
            (n, searched_total(app, &format!("q{n}x")).await)
        }
    }))
    .await;
    let missed: Vec<_> = found.iter().filter(|(_, total)| *total != 1).collect();
    assert!(
        missed.is_empty(),
        "not found right after their write: {missed:?}"
    );
    app.stop().await;
}

/// The search index is a file beside the database: after a restart it
/// still finds what was indexed before, and keeps up with new writes.
#[tokio::test]
async fn search_finds_customers_across_a_restart() {
    let app = spawn_app().await;
    let created = app
        .create_customer(&customer_body("Ann Perkins", "ann@eagleton.com"))
        .await;
    app.state.db.search_caught_up().await.unwrap();
    let restarted = app.restart().await;
    assert_eq!(searched_total(&restarted, "perkins").await, 1);
    let path = format!("/v1/customers/{}", created["id"].as_str().unwrap());
    let update = json!({"name": "Ann Meagle", "email": "ann@eagleton.com", "phone": "+13175550100", "device": {"ip_address": "198.51.100.2"}, "status": "verified"});
    let updated = restarted.send(Method::PUT, &path, Some(&update), &[]).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    restarted.state.db.search_caught_up().await.unwrap();
    assert_eq!(searched_total(&restarted, "perkins").await, 0);
    assert_eq!(searched_total(&restarted, "meagle").await, 1);
    restarted.stop().await;
}

/// How many customers `search_text=text` finds (`meta.total_items`).
async fn searched_total(app: &TestApp, text: &str) -> u64 {
    let reply = app.get(&format!("/v1/customers?search_text={text}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["meta"]["total_items"].as_u64().unwrap()
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
