//! Several instances on one database: concurrent state changes keep every
//! update, background work runs once, idempotent requests reach the data
//! provider once, and abandoned requests leave each write whole.
//!
//! Each test counts what a user would notice and prints the counts
//! (`eprintln!`) before asserting, so a failing run still reports figures.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::cluster::{
    spawn_cluster, Cluster, ClusterOptions, FakePlaid, PLAID_AUTH, PLAID_BALANCE, PLAID_IDENTITY,
    PLAID_OWNER,
};
use crate::helpers::Reply;

/// Races per race test.
const RACES: usize = 100;

/// Requests in flight at once while setting up fixtures.
const SETUP_CONCURRENCY: usize = 8;

fn bank_body(customer_id: &str, config: Value) -> Value {
    json!({"customer_id": customer_id, "routing_number": "121000248", "account_number": "7730019921",
           "account_type": "savings", "config": config})
}

fn plaid_body(customer_id: &str, token: &str) -> Value {
    json!({"customer_id": customer_id, "plaid_token": token})
}

/// Runs `count` requests built by `send`, a few at a time, spread over the
/// instances; returns the replies in order.
async fn in_batches<F, Fut>(count: usize, send: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let mut replies = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(SETUP_CONCURRENCY) {
        replies.extend(join_all(chunk.iter().map(|&i| send(i))).await);
    }
    replies
}

/// Links `count` paykeys with `config` and returns their ids.
async fn link_paykeys(
    cluster: &Cluster,
    customer_id: &str,
    config: &Value,
    count: usize,
) -> Vec<String> {
    let replies = in_batches(count, |i| {
        let body = bank_body(customer_id, config.clone());
        async move { cluster.post(i, "/v1/bridge/bank_account", &body).await }
    })
    .await;
    created_ids(&replies)
}

/// The ids of created resources; every reply must be a 201.
fn created_ids(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.data()["id"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn status_of(cluster: &Cluster, i: usize, id: &str) -> Value {
    cluster.get(i, &format!("/v1/paykeys/{id}")).await.data()["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_review_decision_race_loses_no_update() {
    let cluster = spawn_cluster(ClusterOptions::default()).await;
    let customer_id = cluster.customer("Leslie Knope").await;
    let ids = link_paykeys(
        &cluster,
        &customer_id,
        &json!({"sandbox_outcome": "review"}),
        RACES,
    )
    .await;

    let (reason, approve) = (json!({"reason": "x"}), json!({"status": "active"}));
    let (mut lost, mut unexpected, mut decided_first) = (0, 0, 0);
    for (n, id) in ids.iter().enumerate() {
        let cancel_path = format!("/v1/paykeys/{id}/cancel");
        let review_path = format!("/v1/paykeys/{id}/review");
        let (cancel, decide) = tokio::join!(
            cluster.send(n, Method::PUT, &cancel_path, Some(&reason), &[]),
            cluster.send(n + 1, Method::PATCH, &review_path, Some(&approve), &[]),
        );
        unexpected += usize::from(cancel.status != 200);
        match decide.status.as_u16() {
            200 => decided_first += 1,
            422 => {}
            _ => unexpected += 1,
        }
        lost += usize::from(status_of(&cluster, n, id).await != "inactive");
    }
    eprintln!(
        "cancel vs review decision ({} instances): {lost}/{RACES} races ended active (cancel lost), \
         {unexpected} answers not 200/422, decision answered 200 in {decided_first}",
        cluster.size()
    );
    cluster.stop().await;
    assert_eq!(lost, 0, "an acknowledged cancel was overwritten");
    assert_eq!(
        unexpected, 0,
        "cancel must succeed; a decision is 200 or 422"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_review_decisions_one_wins() {
    let cluster = spawn_cluster(ClusterOptions::default()).await;
    let customer_id = cluster.customer("Ann Perkins").await;
    let ids = link_paykeys(
        &cluster,
        &customer_id,
        &json!({"sandbox_outcome": "review"}),
        RACES,
    )
    .await;

    let (mut both_acknowledged, mut wrong_final, mut unexpected) = (0, 0, 0);
    let shared = &cluster;
    for (n, id) in ids.iter().enumerate() {
        let path = format!("/v1/paykeys/{id}/review");
        let decide = |i: usize, status: &'static str| {
            let path = path.clone();
            async move {
                let body = json!({ "status": status });
                (
                    status,
                    shared.send(i, Method::PATCH, &path, Some(&body), &[]).await,
                )
            }
        };
        let (approve, reject) = tokio::join!(decide(n, "active"), decide(n + 1, "rejected"));
        let codes = (approve.1.status.as_u16(), reject.1.status.as_u16());
        let winner = match codes {
            (200, 422) => approve.0,
            (422, 200) => reject.0,
            (200, 200) => {
                both_acknowledged += 1;
                continue;
            }
            _ => {
                unexpected += 1;
                continue;
            }
        };
        wrong_final += usize::from(status_of(&cluster, n, id).await != winner);
    }
    eprintln!(
        "opposite review decisions ({} instances): {both_acknowledged}/{RACES} races acknowledged both, \
         {wrong_final} final statuses differ from the winner, {unexpected} other answers",
        cluster.size()
    );
    cluster.stop().await;
    assert_eq!(
        both_acknowledged, 0,
        "only one decision may be acknowledged"
    );
    assert_eq!(wrong_final, 0);
    assert_eq!(unexpected, 0);
}

/// Waits (bounded) until a provider call count stops changing, and returns it.
async fn settled_calls(plaid: &FakePlaid, route: &str) -> usize {
    let mut last = plaid.calls(route).await;
    let mut stable = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = plaid.calls(route).await;
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable == 5 {
            break;
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_balance_refresh_calls_provider_once_per_paykey() {
    const PAYKEYS: usize = 40;
    let plaid = FakePlaid::start().await;
    let cluster = spawn_cluster(ClusterOptions {
        plaid_url: Some(plaid.uri()),
        ..Default::default()
    })
    .await;
    let customer_id = cluster.customer(PLAID_OWNER).await;
    let linked = in_batches(PAYKEYS, |i| {
        let body = plaid_body(&customer_id, &format!("processor-sandbox-balance-{i}"));
        let cluster = &cluster;
        async move { cluster.post(i, "/v1/bridge/plaid", &body).await }
    })
    .await;
    let ids = created_ids(&linked);
    let before = settled_calls(&plaid, PLAID_BALANCE).await;

    for (i, id) in ids.iter().enumerate() {
        let path = format!("/v1/paykeys/{id}/refresh_balance");
        let reply = cluster.send(i, Method::PUT, &path, None, &[]).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    cluster.advance_past_background_delay();
    let mut waiting: HashSet<&String> = ids.iter().collect();
    for _ in 0..200 {
        let mut done = vec![];
        for id in &waiting {
            let reply = cluster.get(0, &format!("/v1/paykeys/{id}")).await;
            if reply.data()["balance"]["status"] == "completed" {
                done.push(*id);
            }
        }
        for id in done {
            waiting.remove(id);
        }
        if waiting.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = settled_calls(&plaid, PLAID_BALANCE).await - before;
    eprintln!(
        "balance refresh ({} instances): {calls} provider balance calls for {PAYKEYS} paykeys, \
         {} never completed",
        cluster.size(),
        waiting.len()
    );
    cluster.stop().await;
    assert!(waiting.is_empty(), "every refresh completes");
    assert_eq!(calls, PAYKEYS, "one provider call per refreshed paykey");
}

/// What a completed background verification looks like from outside.
fn completion(item: &Value) -> (Value, Value, Value) {
    (
        item["status"].clone(),
        item["status_details"]["changed_at"].clone(),
        item["updated_at"].clone(),
    )
}

/// Counts of one round of background verifications.
#[derive(Default)]
struct Completions {
    completed: usize,
    completed_again: usize,
    wrong_final: usize,
}

/// Links `count` background paykeys, makes them due, and watches the list
/// (through every instance) until each is final and a few worker ticks more.
async fn background_round(cluster: &Cluster, count: usize) -> Completions {
    let customer_id = cluster.customer("Donna Meagle").await;
    let mut expected = HashMap::new();
    for outcome in ["active", "review", "rejected"] {
        let config = json!({"processing_method": "background", "sandbox_outcome": outcome});
        for id in link_paykeys(cluster, &customer_id, &config, count / 3).await {
            expected.insert(id, outcome);
        }
    }
    let list = format!("/v1/paykeys?customer_id={customer_id}&page_size=1000");
    cluster.advance_past_background_delay();
    // The first completion seen per paykey, and paykeys seen to change after it.
    let mut first_seen: HashMap<String, (Value, Value, Value)> = HashMap::new();
    let mut changed = HashSet::new();
    let mut settle_polls = 0;
    for poll in 0..2000 {
        let reply = cluster.get(poll, &list).await;
        for item in reply.data().as_array().unwrap() {
            if item["status"] == "pending" {
                continue;
            }
            let id = item["id"].as_str().unwrap().to_string();
            let seen = completion(item);
            match first_seen.get(&id) {
                None => {
                    first_seen.insert(id, seen);
                }
                Some(first) if *first != seen => {
                    changed.insert(id);
                }
                Some(_) => {}
            }
        }
        if first_seen.len() == expected.len() {
            settle_polls += 1;
            if settle_polls == 40 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let items = cluster.get(0, &list).await.data().clone();
    let wrong_final = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| expected[item["id"].as_str().unwrap()] != item["status"])
        .count();
    Completions {
        completed: first_seen.len(),
        completed_again: changed.len(),
        wrong_final,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_verification_completes_once() {
    const ROUNDS: usize = 3;
    const PAYKEYS: usize = 30;
    let cluster = spawn_cluster(ClusterOptions::default()).await;
    let mut total = Completions::default();
    for _ in 0..ROUNDS {
        let round = background_round(&cluster, PAYKEYS).await;
        total.completed += round.completed;
        total.completed_again += round.completed_again;
        total.wrong_final += round.wrong_final;
    }
    eprintln!(
        "background verification ({} instances): {} of {} completed, {} seen completing again \
         (changed_at/updated_at moved after final), {} wrong final status",
        cluster.size(),
        total.completed,
        ROUNDS * PAYKEYS,
        total.completed_again,
        total.wrong_final
    );
    cluster.stop().await;
    assert_eq!(
        total.completed,
        ROUNDS * PAYKEYS,
        "every verification completes"
    );
    assert_eq!(total.wrong_final, 0);
    assert_eq!(total.completed_again, 0, "a final status was written again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_plaid_links_call_the_provider_once() {
    const REQUESTS: usize = 12;
    let plaid = FakePlaid::start().await;
    let cluster = spawn_cluster(ClusterOptions {
        plaid_url: Some(plaid.uri()),
        ..Default::default()
    })
    .await;
    let customer_id = cluster.customer(PLAID_OWNER).await;
    let body = plaid_body(&customer_id, "processor-sandbox-idempotent");
    let key = [("Idempotency-Key", "plaid-link-once-0001")];
    let replies = join_all(
        (0..REQUESTS).map(|i| cluster.send(i, Method::POST, "/v1/bridge/plaid", Some(&body), &key)),
    )
    .await;
    let mut ids = HashSet::new();
    let (mut created, mut retry_later, mut other) = (0, 0, 0);
    for reply in &replies {
        match reply.status.as_u16() {
            201 => {
                created += 1;
                ids.insert(reply.data()["id"].as_str().unwrap().to_string());
            }
            409 if reply
                .headers
                .get("x-should-retry")
                .is_some_and(|v| v == "true") =>
            {
                retry_later += 1
            }
            _ => other += 1,
        }
    }
    let calls = [
        plaid.calls(PLAID_AUTH).await,
        plaid.calls(PLAID_IDENTITY).await,
        plaid.calls(PLAID_BALANCE).await,
    ];
    eprintln!(
        "{REQUESTS} identical Plaid links ({} instances): provider auth/identity/balance calls {calls:?}; \
         {created}x201 naming {} paykey(s), {retry_later}x409 retry, {other} other",
        cluster.size(),
        ids.len()
    );
    let replay = cluster
        .send(1, Method::POST, "/v1/bridge/plaid", Some(&body), &key)
        .await;
    let after = [
        plaid.calls(PLAID_AUTH).await,
        plaid.calls(PLAID_IDENTITY).await,
        plaid.calls(PLAID_BALANCE).await,
    ];
    cluster.stop().await;
    assert_eq!(other, 0, "every answer is 201 or 409 x-should-retry: true");
    assert!(created >= 1);
    assert_eq!(ids.len(), 1, "every success names the same paykey");
    assert_eq!(calls[0], 1, "one auth call");
    assert_eq!(calls[1], 1, "one identity call");
    assert!(calls[2] <= 1, "at most one balance call");
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert!(ids.contains(replay.data()["id"].as_str().unwrap()));
    assert_eq!(after, calls, "a replay asks the provider nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_duplicate_gets_409_at_once() {
    let plaid = FakePlaid::start().await;
    plaid.hold_next_auth(Duration::from_secs(3)).await;
    let cluster = spawn_cluster(ClusterOptions {
        plaid_url: Some(plaid.uri()),
        ..Default::default()
    })
    .await;
    let customer_id = cluster.customer(PLAID_OWNER).await;
    let body = plaid_body(&customer_id, "processor-sandbox-in-flight");
    let key = [("Idempotency-Key", "plaid-in-flight-0001")];
    let first = cluster.send(0, Method::POST, "/v1/bridge/plaid", Some(&body), &key);
    let duplicate = async {
        // Sent once the first request is held at Plaid.
        for _ in 0..500 {
            if plaid.calls(PLAID_AUTH).await >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        let reply = cluster
            .send(1, Method::POST, "/v1/bridge/plaid", Some(&body), &key)
            .await;
        (reply, started.elapsed())
    };
    let (first, (duplicate, latency)) = tokio::join!(first, duplicate);
    let retry_flag = duplicate
        .headers
        .get("x-should-retry")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    eprintln!(
        "in-flight duplicate ({} instances): answered {} (x-should-retry {retry_flag:?}) after {} ms; \
         first answered {}; provider auth calls {}",
        cluster.size(),
        duplicate.status.as_u16(),
        latency.as_millis(),
        first.status.as_u16(),
        plaid.calls(PLAID_AUTH).await
    );
    let retry = cluster
        .send(1, Method::POST, "/v1/bridge/plaid", Some(&body), &key)
        .await;
    let auth_calls = plaid.calls(PLAID_AUTH).await;
    cluster.stop().await;
    assert_eq!(
        duplicate.status, 409,
        "a duplicate is refused while the first runs"
    );
    assert_eq!(retry_flag.as_deref(), Some("true"));
    assert!(latency < Duration::from_secs(1), "answered at once");
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.data()["id"], first.data()["id"]);
    assert_eq!(auth_calls, 1, "Plaid is asked once");
}

/// Sends a keyed write and retries it while the server says to (bounded).
async fn send_until_settled(
    cluster: &Cluster,
    i: usize,
    body: &Value,
    key: &str,
) -> Result<Reply, reqwest::Error> {
    let mut reply = None;
    for _ in 0..40 {
        let response = cluster
            .request(i, Method::POST, "/v1/bridge/bank_account")
            .header("Idempotency-Key", key)
            .json(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        let answer = Reply::read(response).await;
        let again = answer.status == 409
            && answer
                .headers
                .get("x-should-retry")
                .is_some_and(|v| v == "true");
        reply = Some(answer);
        if !again {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(reply.expect("at least one attempt"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_hang_up_leave_each_write_whole() {
    const WRITES: usize = 200;
    const IN_FLIGHT: usize = 4;
    crate::helpers::capture_warnings();
    let cluster = spawn_cluster(ClusterOptions::default()).await;
    let customer_id = cluster.customer("Jean-Ralphio Saperstein").await;
    let writes: Vec<(String, String, Value)> = (0..WRITES)
        .map(|i| {
            let external_id = format!("hangup-{i:04}");
            let mut body = bank_body(&customer_id, json!({"sandbox_outcome": "active"}));
            body["external_id"] = json!(external_id);
            (format!("hangup-key-{i:04}"), external_id, body)
        })
        .collect();

    let mut abandoned = 0;
    for (c, chunk) in writes.chunks(IN_FLIGHT).enumerate() {
        let sends = chunk.iter().enumerate().map(|(j, (key, _, body))| {
            let i = c * IN_FLIGHT + j;
            cluster
                .request(i, Method::POST, "/v1/bridge/bank_account")
                .header("Idempotency-Key", key)
                .json(body)
                .timeout(Duration::from_millis(2 + (i % 11) as u64))
                .send()
        });
        abandoned += join_all(sends).await.iter().filter(|r| r.is_err()).count();
    }

    let (mut not_created, mut duplicated, mut missing, mut mismatched) = (0, 0, 0, 0);
    let mut replayed = 0;
    for (i, (key, external_id, body)) in writes.iter().enumerate() {
        let retry = match send_until_settled(&cluster, i + 1, body, key).await {
            Ok(reply) if reply.status == 201 => reply,
            _ => {
                not_created += 1;
                continue;
            }
        };
        replayed += usize::from(retry.headers.contains_key("idempotent-replayed"));
        let listed = cluster
            .get(
                i,
                &format!("/v1/paykeys?customer_id={customer_id}&search_text={external_id}"),
            )
            .await;
        let matches: Vec<&Value> = listed
            .data()
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["external_id"] == external_id.as_str())
            .collect();
        match matches.len() {
            0 => missing += 1,
            1 => mismatched += usize::from(matches[0]["id"] != retry.data()["id"]),
            _ => duplicated += 1,
        }
    }
    let total = cluster
        .get(
            0,
            &format!("/v1/paykeys?customer_id={customer_id}&page_size=1"),
        )
        .await
        .body["meta"]["total_items"]
        .clone();
    eprintln!(
        "hang-ups ({} instances): {abandoned}/{WRITES} abandoned by the client; retries: \
         {replayed} replayed, {not_created} not 201, {duplicated} external ids with several paykeys, {missing} with none, \
         {mismatched} retries naming another paykey; {total} paykeys stored",
        cluster.size()
    );
    cluster.stop().await;
    assert_eq!(not_created, 0, "every retry answers 201");
    assert_eq!(duplicated, 0, "one paykey per write");
    assert_eq!(missing, 0);
    assert_eq!(mismatched, 0, "the retry names the stored paykey");
    assert_eq!(total, WRITES);
    let warnings = crate::helpers::logged_warnings();
    assert!(
        !warnings.contains("no transaction in progress"),
        "a dropped client never cuts a transaction short: {warnings}"
    );
}
