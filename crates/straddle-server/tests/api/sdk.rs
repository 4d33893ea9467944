//! The Rust SDK as the client: every SDK method against the real server,
//! with the shared wire types on both sides.

use futures::TryStreamExt;
use straddle_sdk::types::customer::{
    ComplianceProfile, Customer, CustomerConfig, CustomerCreateRequest, CustomerListQuery,
    CustomerReviewDecision, CustomerReviewDecisionRequest, CustomerSandboxOutcome, CustomerStatus,
    CustomerType, CustomerUpdateRequest, Device,
};
use straddle_sdk::types::paykey::{
    AccountType, BankAccountLinkRequest, BridgeInitializeRequest, Paykey, PaykeyCancelRequest,
    PaykeyConfig, PaykeyListQuery, PaykeyReviewDecision, PaykeyReviewDecisionRequest,
    PaykeySandboxOutcome, PaykeySource, PaykeyStatus, PaykeyUnblockRequest, PlaidLinkRequest,
    QuilttLinkRequest, SimulateReturnRequest, TanLinkRequest,
};
use straddle_sdk::types::ErrorType;
use straddle_sdk::{Client, Error, RequestOptions};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

fn sdk(app: &TestApp) -> Client {
    sdk_with_key(app, &app.api_key)
}

fn sdk_with_key(app: &TestApp, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(&app.base_url)
        .build()
        .unwrap()
}

fn new_customer(name: &str, outcome: Option<CustomerSandboxOutcome>) -> CustomerCreateRequest {
    CustomerCreateRequest {
        name: name.into(),
        customer_type: CustomerType::Individual,
        email: format!("{}@example.com", Uuid::now_v7()),
        phone: "+12128675309".into(),
        device: Device {
            ip_address: "203.0.113.7".into(),
        },
        address: None,
        compliance_profile: Some(ComplianceProfile {
            dob: Some("1980-02-29".into()),
            ssn: Some("123-45-6789".into()),
            ..Default::default()
        }),
        config: outcome.map(|sandbox_outcome| CustomerConfig {
            processing_method: None,
            sandbox_outcome: Some(sandbox_outcome),
        }),
        external_id: None,
        metadata: None,
    }
}

fn bank_account(
    customer_id: Uuid,
    outcome: Option<PaykeySandboxOutcome>,
) -> BankAccountLinkRequest {
    BankAccountLinkRequest {
        customer_id,
        routing_number: "026009593".into(),
        account_number: "004417253381".into(),
        account_type: AccountType::Checking,
        config: outcome.map(|sandbox_outcome| PaykeyConfig {
            processing_method: None,
            sandbox_outcome: Some(sandbox_outcome),
        }),
        external_id: Some("acme-pk-77".into()),
        metadata: Some([("plan".to_string(), "gold".to_string())].into()),
    }
}

async fn customer(client: &Client, name: &str) -> Customer {
    client
        .customers()
        .create(new_customer(name, None), None)
        .await
        .unwrap()
        .into_body()
        .data
}

async fn paykey(
    client: &Client,
    customer_id: Uuid,
    outcome: Option<PaykeySandboxOutcome>,
) -> Paykey {
    client
        .bridge()
        .link()
        .bank_account(bank_account(customer_id, outcome), None)
        .await
        .unwrap()
        .into_body()
        .data
}

/// The API error of a failed call; panics on success or another failure.
fn api_error<T: std::fmt::Debug>(result: Result<T, Error>) -> Box<straddle_sdk::ApiError> {
    match result {
        Err(Error::Api(api)) => api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_bridge_method_creates_what_it_says() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let owner = customer(&client, "Alberta Bobbeth Charleson").await;

    let session = client
        .bridge()
        .initialize(
            BridgeInitializeRequest {
                customer_id: owner.id,
                config: None,
                external_id: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    assert_eq!(session.data.bridge_token.split('.').count(), 3, "a JWT");

    let link = client.bridge().link();
    let manual = link
        .bank_account(bank_account(owner.id, None), None)
        .await
        .unwrap();
    assert_eq!(manual.status(), 201);
    assert_eq!(manual.data.source, PaykeySource::BankAccount);
    assert_eq!(manual.data.external_id.as_deref(), Some("acme-pk-77"));

    let plaid = PlaidLinkRequest {
        customer_id: owner.id,
        plaid_token: "processor-sandbox-chase-1".into(),
        config: None,
        external_id: None,
        metadata: None,
    };
    let plaid = link.plaid(plaid, None).await.unwrap();
    assert_eq!(plaid.status(), 201);
    assert_eq!(plaid.data.source, PaykeySource::Plaid);
    assert_eq!(plaid.data.status, PaykeyStatus::Active);

    let tan = TanLinkRequest {
        customer_id: owner.id,
        routing_number: "322271627".into(),
        tan: "9847310022651".into(),
        account_type: AccountType::Checking,
        config: None,
        external_id: None,
        metadata: None,
    };
    let tan = link.create_tan(tan, None).await.unwrap();
    assert_eq!(
        (tan.status().as_u16(), tan.data.source),
        (201, PaykeySource::Tan)
    );

    let quiltt = QuilttLinkRequest {
        customer_id: owner.id,
        quiltt_token: Some("YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=".into()),
        config: None,
        external_id: None,
        metadata: None,
    };
    let quiltt = link.create_paykey(quiltt, None).await.unwrap();
    assert_eq!(quiltt.status(), 201);
    assert_eq!(quiltt.data.source, PaykeySource::Quiltt);
    assert_eq!(quiltt.data.institution_name.as_deref(), Some("MX BANK"));
    app.stop().await;
}

#[tokio::test]
async fn validation_and_auth_failures_arrive_as_typed_api_errors() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let owner = customer(&client, "Ron Swanson").await;
    let mut bad = bank_account(owner.id, None);
    bad.routing_number = "123456789".into();

    let invalid = api_error(client.bridge().link().bank_account(bad, None).await);
    assert_eq!(invalid.status, 400);
    let body = invalid.error.as_ref().unwrap();
    assert_eq!(body.error_type, ErrorType::ValidationError);
    let references: Vec<_> = body
        .items
        .iter()
        .flatten()
        .map(|i| i.reference.as_str())
        .collect();
    assert_eq!(references, ["routing_number"]);
    assert!(invalid.api_request_id.is_some());

    let unknown = api_error(client.customers().get(Uuid::now_v7(), None).await);
    assert_eq!(unknown.status, 404);

    let forged = sdk_with_key(&app, "not-a-key");
    let refused = api_error(
        forged
            .customers()
            .list(CustomerListQuery::default(), None)
            .await,
    );
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.error.unwrap().error_type,
        ErrorType::AuthenticationError
    );
    app.stop().await;
}

#[tokio::test]
async fn every_customer_method_reads_and_changes_customers() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let customers = client.customers();
    let created = customers
        .create(new_customer("Leslie Knope", None), None)
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.data.id;

    let got = customers.get(id, None).await.unwrap();
    assert_eq!(got.data.email, created.data.email);
    assert_ne!(
        got.data.compliance_profile.as_ref().unwrap().ssn.as_deref(),
        Some("123-45-6789"),
        "masked"
    );

    let update = CustomerUpdateRequest {
        name: "Leslie Wyatt".into(),
        email: created.data.email.clone(),
        phone: "+12128675300".into(),
        device: Device {
            ip_address: "203.0.113.8".into(),
        },
        status: CustomerStatus::Verified,
        address: None,
        compliance_profile: None,
        external_id: Some("crm-1".into()),
        metadata: None,
    };
    let updated = customers.update(id, update, None).await.unwrap();
    assert_eq!(updated.data.name, "Leslie Wyatt");
    assert_eq!(updated.data.external_id.as_deref(), Some("crm-1"));

    let query = CustomerListQuery {
        external_id: Some("crm-1".into()),
        ..Default::default()
    };
    let listed = customers.list(query, None).await.unwrap();
    assert_eq!(listed.meta.total_items, 1);
    assert_eq!(listed.data[0].id, id);

    let forbidden = api_error(customers.unmasked(id, None).await);
    assert_eq!(forbidden.status, 403);
    let (_, unmask_key) = app.other_platform(true).await;
    let theirs_client = sdk_with_key(&app, &unmask_key);
    let theirs = customer(&theirs_client, "Ann Perkins").await;
    let unmasked = theirs_client
        .customers()
        .unmasked(theirs.id, None)
        .await
        .unwrap();
    assert_eq!(
        unmasked
            .data
            .compliance_profile
            .as_ref()
            .unwrap()
            .ssn
            .as_deref(),
        Some("123-45-6789")
    );

    let deleted = customers.delete(id, None).await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(api_error(customers.get(id, None).await).status, 404);
    app.stop().await;
}

#[tokio::test]
async fn customer_reviews_are_read_decided_and_refreshed() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let request = new_customer("Andy Dwyer", Some(CustomerSandboxOutcome::Review));
    let in_review = client
        .customers()
        .create(request, None)
        .await
        .unwrap()
        .into_body()
        .data;
    let reviews = client.customers().review();

    let review = reviews.get(in_review.id, None).await.unwrap();
    assert_eq!(review.data.customer_details.id, in_review.id);
    assert!(review.data.identity_details.is_some());

    let refreshed = reviews.refresh_review(in_review.id, None).await.unwrap();
    assert_eq!(refreshed.status(), 202);
    assert_eq!(refreshed.data.status, CustomerStatus::Review);

    let decision = CustomerReviewDecisionRequest {
        status: CustomerReviewDecision::Verified,
    };
    let decided = reviews
        .decision(in_review.id, decision.clone(), None)
        .await
        .unwrap();
    assert_eq!(decided.data.status, CustomerStatus::Verified);
    let again = api_error(reviews.decision(in_review.id, decision, None).await);
    assert_eq!(
        again.status, 422,
        "only a customer in review can be decided"
    );
    app.stop().await;
}

#[tokio::test]
async fn list_auto_paging_streams_every_page() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let mut created = vec![];
    for i in 0..5 {
        let owner = customer(&client, &format!("Customer {i}")).await;
        created.push(paykey(&client, owner.id, None).await.id);
        created.push(paykey(&client, owner.id, None).await.id);
    }

    let query = CustomerListQuery {
        page_size: Some(2),
        ..Default::default()
    };
    let customers: Vec<_> = client
        .customers()
        .list_auto_paging(query, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(customers.len(), 5);

    let query = PaykeyListQuery {
        page_size: Some(3),
        ..Default::default()
    };
    let mut paykeys: Vec<_> = client
        .paykeys()
        .list_auto_paging(query, None)
        .map_ok(|p| p.id)
        .try_collect()
        .await
        .unwrap();
    paykeys.sort();
    created.sort();
    assert_eq!(paykeys, created, "each paykey exactly once across 4 pages");
    app.stop().await;
}

#[tokio::test]
async fn every_paykey_read_shows_what_it_promises() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let owner = customer(&client, "Ron Swanson").await;
    let created = paykey(&client, owner.id, None).await;
    let paykeys = client.paykeys();

    let listed = paykeys
        .list(
            PaykeyListQuery {
                customer_id: Some(owner.id),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed.data.len(), 1);
    assert_eq!(listed.data[0].id, created.id);

    let got = paykeys.get(created.id, None).await.unwrap();
    assert_ne!(got.data.paykey, created.paykey, "masked");
    let revealed = paykeys.reveal(created.id, None).await.unwrap();
    assert_eq!(revealed.data.paykey, created.paykey);
    assert_eq!(
        api_error(paykeys.unmasked(created.id, None).await).status,
        403
    );

    let (_, unmask_key) = app.other_platform(true).await;
    let theirs_client = sdk_with_key(&app, &unmask_key);
    let theirs_owner = customer(&theirs_client, "R S").await;
    let theirs = paykey(&theirs_client, theirs_owner.id, None).await;
    let unmasked = theirs_client
        .paykeys()
        .unmasked(theirs.id, None)
        .await
        .unwrap();
    assert_eq!(
        unmasked.data.bank_data.as_ref().unwrap().account_number,
        "004417253381"
    );

    let review = paykeys.review().get(created.id, None).await.unwrap();
    assert_eq!(review.data.paykey_details.id, created.id);
    app.stop().await;
}

#[tokio::test]
async fn every_paykey_state_change_goes_through() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let owner = customer(&client, "Alberta Bobbeth Charleson").await;
    let paykeys = client.paykeys();

    let plaid = PlaidLinkRequest {
        customer_id: owner.id,
        plaid_token: "processor-sandbox-chase-1".into(),
        config: None,
        external_id: None,
        metadata: None,
    };
    let linked = client
        .bridge()
        .link()
        .plaid(plaid, None)
        .await
        .unwrap()
        .into_body()
        .data;
    let refreshing = paykeys.update_balance(linked.id, None).await.unwrap();
    assert_eq!(refreshing.status(), 202);

    let in_review = paykey(&client, owner.id, Some(PaykeySandboxOutcome::Review)).await;
    let refreshed = paykeys
        .review()
        .refresh_review(in_review.id, None)
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 202);
    let decision = PaykeyReviewDecisionRequest {
        status: PaykeyReviewDecision::Active,
    };
    let decided = paykeys
        .review()
        .decision(in_review.id, decision, None)
        .await
        .unwrap();
    assert_eq!(decided.data.status, PaykeyStatus::Active);

    let blocked = client
        .sandbox()
        .simulate_return(
            in_review.id,
            SimulateReturnRequest { code: "R29".into() },
            None,
        )
        .await
        .unwrap();
    assert_eq!(blocked.data.status, PaykeyStatus::Blocked);
    assert_eq!(blocked.data.unblock_eligible, Some(true));
    let unblock = PaykeyUnblockRequest {
        message: Some("Customer confirmed".into()),
    };
    let unblocked = paykeys.unblock(in_review.id, unblock, None).await.unwrap();
    assert_eq!(unblocked.data.status, PaykeyStatus::Active);

    let cancel = PaykeyCancelRequest {
        reason: Some("Customer closed the account".into()),
    };
    let cancelled = paykeys.cancel(in_review.id, cancel, None).await.unwrap();
    assert_eq!(cancelled.data.status, PaykeyStatus::Inactive);
    let twice = api_error(
        paykeys
            .cancel(in_review.id, PaykeyCancelRequest::default(), None)
            .await,
    );
    assert_eq!(twice.status, 422);
    app.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_a_different_body() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let options = || {
        Some(RequestOptions {
            idempotency_key: Some("order-0000000042".into()),
            ..Default::default()
        })
    };
    let request = new_customer("Donna Meagle", None);

    let first = client
        .customers()
        .create(request.clone(), options())
        .await
        .unwrap();
    let replay = client.customers().create(request, options()).await.unwrap();
    assert_eq!(replay.data.id, first.data.id);
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    let different = new_customer("Someone Else", None);
    let conflict = api_error(client.customers().create(different, options()).await);
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.headers["x-should-retry"], "false");
    app.stop().await;
}

#[tokio::test]
async fn header_options_scope_the_account_and_trace_the_request() {
    let app = spawn_app().await;
    let client = sdk(&app);
    let child = app.embedded_account().await.to_string();
    let as_child = || {
        Some(RequestOptions {
            straddle_account_id: Some(child.clone()),
            request_id: Some("trace-42".into()),
            correlation_id: Some("flow-7".into()),
            ..Default::default()
        })
    };

    let created = client
        .customers()
        .create(new_customer("Tom Haverford", None), as_child())
        .await
        .unwrap();
    assert_eq!(created.headers()["request-id"], "trace-42");
    assert_eq!(created.headers()["correlation-id"], "flow-7");
    let id = created.data.id;
    assert!(client.customers().get(id, as_child()).await.is_ok());
    assert_eq!(
        api_error(client.customers().get(id, None).await).status,
        404
    );
    app.stop().await;
}
