"""Bridge, driven through the official Python SDK (straddle==0.5.0).

`client.bridge.initialize` opens a widget session; `client.bridge.link.*`
turns bank details or a data provider's processor token into a paykey:
`bank_account` (typed-in numbers), `create_tan` (tokenized account number),
`plaid` and `create_paykey` (a Quiltt token). Every client validates responses
strictly, so each test also checks that our responses parse as the SDK's types.

Each test links accounts for a customer of its own, so tests never count
records made by other tests.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
import straddle

from bridge_helpers import (
    ALL_SOURCES,
    BAD_CHECK_DIGIT_ROUTING,
    BOFA,
    BOFA_ROUTING,
    CHASE,
    CHASE_ROUTING,
    DEFAULT_CONFIG,
    F2_ACCOUNT_NUMBER,
    F4_PLAID_TOKEN,
    F5_ROUTING,
    F5_TAN,
    F6_QUILTT_TOKEN,
    FULL_PAYKEY,
    OUTCOMES,
    PROVIDER_SOURCES,
    PROVIDER_TOKENS,
    UNKNOWN_ID,
    UNLISTED_ROUTING,
    assert_error_envelope,
    error_references,
    idempotency_key,
    link,
    link_bank_account,
    link_body,
    new_customer,
    paykey_ids,
    plaid_token,
    post_raw,
    quiltt_token,
    unique_tag,
    wait_until_settled,
)

ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
FOUR_HOURS_S = 4 * 60 * 60
SANDBOX_OWNER = "Alberta Bobbeth Charleson"  # account holder of the sandbox provider's test accounts


def jwt_segments(token: str) -> tuple[dict, dict]:
    """Header and claims of a JWT, decoded without checking the signature."""
    segments = token.split(".")
    assert len(segments) == 3, token

    def decode(segment: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    return decode(segments[0]), decode(segments[1])


def bridge_claims(client: straddle.Straddle, customer_id: str, **options) -> dict:
    return jwt_segments(client.bridge.initialize(customer_id=customer_id, **options).data.bridge_token)[1]


def customer_in_state(client: straddle.Straddle, state: str) -> str:
    """A customer that is `rejected` (by its sandbox outcome) or `inactive` (by update)."""
    if state == "rejected":
        return new_customer(client, config={"sandbox_outcome": "rejected"})
    fields = {
        "name": "Ron Swanson",
        "email": f"ron.{uuid.uuid4().hex[:16]}@example.com",
        "phone": "+12128675309",
        "device": {"ip_address": "203.0.113.7"},
    }
    customer_id = new_customer(client, **fields)
    client.customers.update(customer_id, status="inactive", **fields)
    return customer_id


# --- initialize --------------------------------------------------------------------


def test_initialize_answers_200_with_an_hs256_bridge_token_for_the_customer(client):
    customer_id = new_customer(client)

    response = client.bridge.with_raw_response.initialize(customer_id=customer_id)

    assert response.status_code == 200
    token = response.parse()
    assert token.response_type == "object"
    header, claims = jwt_segments(token.data.bridge_token)
    assert header["alg"] == "HS256"
    assert claims["customer_id"] == customer_id
    assert claims["environment"] == "sandbox"
    assert claims["iss"] == "straddle-bridge"
    assert claims[ROLE_CLAIM] == "straddle-bridge"
    assert claims["sandbox_outcome"] == "standard"
    assert isinstance(claims["account_name"], str) and claims["account_name"]
    assert uuid.UUID(claims["bridge_token_id"])


def test_the_bridge_token_is_issued_now_and_expires_four_hours_later(client):
    before = int(time.time())
    claims = bridge_claims(client, new_customer(client))
    after = int(time.time())

    assert type(claims["iat"]) is int and type(claims["exp"]) is int
    assert before - 5 <= claims["iat"] <= after + 5
    assert claims["exp"] - claims["iat"] == FOUR_HOURS_S


@pytest.mark.parametrize("outcome", ["active", "review", "rejected"])
def test_the_bridge_token_carries_the_requested_sandbox_outcome(client, outcome):
    claims = bridge_claims(client, new_customer(client), config={"sandbox_outcome": outcome})

    assert claims["sandbox_outcome"] == outcome


def test_every_initialize_opens_a_new_bridge_session(client):
    customer_id = new_customer(client)

    first, second = bridge_claims(client, customer_id), bridge_claims(client, customer_id)

    assert first["bridge_token_id"] != second["bridge_token_id"]


def test_initialize_for_an_embedded_account_names_that_account(server, client):
    name = f"Embedded Tutoring {unique_tag()}"
    account = server.admin("accounts", "create", "--name", name, "--parent", server.platform_account_id)
    account_id = account["account_id"]
    customer_id = new_customer(client, straddle_account_id=account_id)

    claims = bridge_claims(client, customer_id, straddle_account_id=account_id)

    assert claims["customer_id"] == customer_id
    assert claims["account_name"] == name


def test_initialize_for_an_unknown_customer_is_not_found(client):
    with pytest.raises(straddle.NotFoundError) as caught:
        client.bridge.initialize(customer_id=UNKNOWN_ID)

    assert_error_envelope(caught.value, 404, "invalid_request_error")


@pytest.mark.parametrize("state", ["rejected", "inactive"])
def test_initialize_for_a_rejected_or_inactive_customer_is_unprocessable(client, state):
    customer_id = customer_in_state(client, state)

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        client.bridge.initialize(customer_id=customer_id)

    assert_error_envelope(caught.value, 422, "validation_error")


# --- what each link endpoint answers ----------------------------------------------------


def test_bank_account_answers_201_with_an_active_paykey_as_in_fixture_f2(client):
    customer_id = new_customer(client)
    external_id = f"acme-pk-{unique_tag()}"

    response = client.bridge.link.with_raw_response.bank_account(
        customer_id=customer_id,
        routing_number=BOFA_ROUTING,
        account_number=F2_ACCOUNT_NUMBER,
        account_type="checking",
        external_id=external_id,
        metadata={"plan": "gold"},
    )

    assert response.status_code == 201
    paykey = response.parse()
    assert paykey.response_type == "object"
    data = paykey.data
    assert uuid.UUID(data.id).version == 7
    assert data.customer_id == customer_id
    assert FULL_PAYKEY.match(data.paykey), data.paykey
    assert data.label == "BANK OF AMERICA, N.A. - *3381"
    assert data.institution_name == BOFA
    assert data.source == "bank_account"
    assert data.status == "active"
    assert (data.status_details.reason, data.status_details.source) == ("ok", "system")
    assert data.status_details.message
    assert data.bank_data.to_dict() == {
        "routing_number": BOFA_ROUTING,
        "account_number": "******3381",
        "account_type": "checking",
    }
    assert data.config.to_dict() == DEFAULT_CONFIG
    assert (data.external_id, data.metadata) == (external_id, {"plan": "gold"})
    assert data.created_at.utcoffset() == timedelta(0)
    assert data.updated_at >= data.created_at
    assert data.unblock_eligible is None
    assert None not in response.json()["data"].values(), "absent optional fields are omitted, not null"


def test_tan_answers_201_with_an_active_tan_paykey_as_in_fixture_f5(client):
    customer_id = new_customer(client)

    response = client.bridge.link.with_raw_response.create_tan(
        customer_id=customer_id, routing_number=F5_ROUTING, tan=F5_TAN, account_type="checking"
    )

    assert response.status_code == 201
    data = response.parse().data
    assert data.source == "tan"
    assert data.label == "JPMORGAN CHASE BANK, NA - *2651"
    assert data.institution_name == CHASE
    assert data.bank_data.to_dict() == {
        "routing_number": F5_ROUTING,
        "account_number": "******2651",
        "account_type": "checking",
    }
    assert data.status == "active"
    assert data.config.to_dict() == DEFAULT_CONFIG


# Accounts of the sandbox provider (SANDBOX.md): token → label, routing number, type, balance in cents.
PLATYPUS = "FIRST PLATYPUS BANK"
SANDBOX_ACCOUNTS = {
    "plaid, fixture F4": ("plaid", F4_PLAID_TOKEN, f"{PLATYPUS} - *9606", "011401533", "checking", 10_000),
    "plaid savings": ("plaid", plaid_token("savings-"), f"{PLATYPUS} - *9614", "011401533", "savings", 21_000),
    "plaid overdrawn": ("plaid", plaid_token("overdrawn-"), f"{PLATYPUS} - *9622", "011401533", "checking", -2_500),
    "plaid chase": ("plaid", plaid_token("chase-"), f"{CHASE} - *0011", CHASE_ROUTING, "checking", 250_000),
    "quiltt, fixture F6": ("quiltt", F6_QUILTT_TOKEN, "MX BANK - *0457", "091000019", "checking", 125_000),
    "quiltt savings": ("quiltt", quiltt_token("savings"), "MX BANK - *1180", "091000019", "savings", 500_000),
    "quiltt chase": ("quiltt", quiltt_token("chase"), f"{CHASE} - *0068", F5_ROUTING, "checking", 87_500),
}


@pytest.mark.parametrize(
    "source, token, label, routing, account_type, balance", SANDBOX_ACCOUNTS.values(), ids=SANDBOX_ACCOUNTS.keys()
)
def test_a_provider_token_links_its_sandbox_account_with_the_balance(
    client, source, token, label, routing, account_type, balance
):
    token_field = "plaid_token" if source == "plaid" else "quiltt_token"

    created = link(client, source, new_customer(client), config={"sandbox_outcome": "active"}, **{token_field: token})

    data = created.data
    assert data.source == source
    assert data.label == label
    assert data.institution_name == label.split(" - *")[0]
    assert data.bank_data.to_dict() == {
        "routing_number": routing,
        "account_number": "******" + label[-4:],
        "account_type": account_type,
    }
    assert data.balance.status == "completed"
    assert data.balance.account_balance == balance


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_every_link_endpoint_answers_201_with_the_full_paykey_token_and_a_masked_account_number(client, source):
    customer_id = new_customer(client)

    response = link(client, source, customer_id, raw=True, config={"sandbox_outcome": "active"})

    assert response.status_code == 201
    data = response.parse().data
    assert FULL_PAYKEY.match(data.paykey), data.paykey
    assert (data.source, data.customer_id) == (source, customer_id)
    last4 = data.bank_data.account_number[-4:]
    assert data.bank_data.account_number == "******" + last4
    assert data.label == f"{data.institution_name or 'BANK ACCOUNT'} - *{last4}"
    assert None not in response.json()["data"].values(), "absent optional fields are omitted, not null"


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_every_link_endpoint_echoes_external_id_and_metadata(client, source):
    external_id, metadata = f"crm-{unique_tag()}", {"plan": "gold", "k" * 40: "v" * 40}

    created = link(client, source, new_customer(client), external_id=external_id, metadata=metadata)

    assert (created.data.external_id, created.data.metadata) == (external_id, metadata)
    fetched = client.paykeys.get(created.data.id)
    assert (fetched.data.external_id, fetched.data.metadata) == (external_id, metadata)


def test_a_routing_number_missing_from_the_directory_gives_a_generic_label(client):
    created = link_bank_account(
        client, new_customer(client), routing_number=UNLISTED_ROUTING, account_number="55512345"
    )

    assert created.data.institution_name is None
    assert created.data.label == "BANK ACCOUNT - *2345"
    assert created.data.bank_data.routing_number == UNLISTED_ROUTING


# --- status by config (spec §C.2) -----------------------------------------------------------


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize("source", ALL_SOURCES)
def test_sandbox_outcome_decides_the_status_for_every_source(client, source, outcome):
    status, reason, details_source = OUTCOMES[outcome]

    created = link(client, source, new_customer(client), config={"sandbox_outcome": outcome})

    data = created.data
    assert data.status == status
    assert (data.status_details.reason, data.status_details.source) == (reason, details_source)
    assert data.config.to_dict() == {"processing_method": "inline", "sandbox_outcome": outcome}
    assert client.paykeys.get(data.id).data.status == status


@pytest.mark.parametrize("source", ["bank_account", "tan"])
def test_typed_in_accounts_are_active_under_the_standard_outcome(client, source):
    created = link(client, source, new_customer(client), config={"sandbox_outcome": "standard"})

    assert created.data.status == "active"
    assert created.data.status_details.reason == "ok"


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_skip_processing_activates_the_paykey_whatever_the_outcome(client, source):
    config = {"processing_method": "skip", "sandbox_outcome": "rejected"}

    created = link(client, source, new_customer(client), config=config)

    assert created.data.status == "active"
    assert created.data.config.to_dict() == config


@pytest.mark.parametrize("outcome", list(OUTCOMES))
@pytest.mark.parametrize("source", ["bank_account", "plaid"])
def test_background_processing_starts_pending_and_settles_on_the_outcome(client, source, outcome):
    status, reason, details_source = OUTCOMES[outcome]
    config = {"processing_method": "background", "sandbox_outcome": outcome}

    created = link(client, source, new_customer(client), config=config)

    assert created.data.status == "pending"
    assert (created.data.status_details.reason, created.data.status_details.source) == ("validating", "system")
    settled = wait_until_settled(client, created.data.id).data
    assert settled.status == status
    assert (settled.status_details.reason, settled.status_details.source) == (reason, details_source)
    assert settled.status_details.changed_at >= created.data.status_details.changed_at


# The customer's name against the sandbox account holder (SANDBOX.md, "Owner names").
NAME_MATCHES = {
    "the holder's own name": (SANDBOX_OWNER, "", "active", "ok"),
    "only the holder's last name": ("Jordan Charleson", "", "review", "require_review"),
    "someone else's name": ("Ron Swanson", "", "rejected", "failed_verification"),
    "the holder the token names": ("Ron Swanson", "ron-swanson", "active", "ok"),
    "an account with no holder on record": ("Ron Swanson", "none", "active", "ok"),
}


@pytest.mark.parametrize("customer_name, owner, status, reason", NAME_MATCHES.values(), ids=NAME_MATCHES.keys())
@pytest.mark.parametrize("source", PROVIDER_SOURCES)
def test_the_standard_outcome_matches_the_customers_name_against_the_account_holder(
    client, source, customer_name, owner, status, reason
):
    token_field = "plaid_token" if source == "plaid" else "quiltt_token"
    token = PROVIDER_TOKENS[source](owner=owner)

    created = link(client, source, new_customer(client, name=customer_name), **{token_field: token})

    assert created.data.config.sandbox_outcome == "standard"
    assert (created.data.status, created.data.status_details.reason) == (status, reason)


# --- validation ---------------------------------------------------------------------------

INVALID_BANK_ACCOUNT_FIELDS = {
    "routing number with a wrong check digit": ({"routing_number": BAD_CHECK_DIGIT_ROUTING}, "routing_number"),
    "routing number of 8 digits": ({"routing_number": "02600959"}, "routing_number"),
    "account number of 3 digits": ({"account_number": "123"}, "account_number"),
    "account number of 18 digits": ({"account_number": "1" * 18}, "account_number"),
    "account number with letters": ({"account_number": "12345abc"}, "account_number"),
    "unknown account type": ({"account_type": "brokerage"}, "account_type"),
    "metadata key over 40 characters": ({"metadata": {"k" * 41: "value"}}, "metadata"),
}


@pytest.mark.parametrize(
    "overrides, field", INVALID_BANK_ACCOUNT_FIELDS.values(), ids=INVALID_BANK_ACCOUNT_FIELDS.keys()
)
def test_bank_account_with_an_invalid_field_is_a_bad_request_naming_it_and_creates_nothing(client, overrides, field):
    customer_id = new_customer(client)

    with pytest.raises(straddle.BadRequestError) as caught:
        link_bank_account(client, customer_id, **overrides)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")
    assert field in error_references(caught.value)
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []


def test_every_invalid_field_is_reported_at_once_as_in_fixture_f7(client):
    with pytest.raises(straddle.BadRequestError) as caught:
        link_bank_account(
            client,
            new_customer(client),
            routing_number=BAD_CHECK_DIGIT_ROUTING,
            metadata={"this_key_is_definitely_longer_than_forty_chars": "x"},
        )

    assert_error_envelope(caught.value, 400, "validation_error")
    assert {"routing_number", "metadata"} <= set(error_references(caught.value))


def test_tan_with_a_wrong_routing_check_digit_is_a_bad_request(client):
    with pytest.raises(straddle.BadRequestError) as caught:
        link(client, "tan", new_customer(client), routing_number=BAD_CHECK_DIGIT_ROUTING)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")
    assert "routing_number" in error_references(caught.value)


REQUIRED_FIELDS = {
    "initialize without customer_id": ("/v1/bridge/initialize", {}),
    "bank_account without routing_number": (
        "/v1/bridge/bank_account",
        {"account_number": F2_ACCOUNT_NUMBER, "account_type": "checking"},
    ),
    "bank_account without account_type": (
        "/v1/bridge/bank_account",
        {"routing_number": BOFA_ROUTING, "account_number": F2_ACCOUNT_NUMBER},
    ),
    "tan without tan": ("/v1/bridge/tan", {"routing_number": F5_ROUTING, "account_type": "checking"}),
    "plaid without plaid_token": ("/v1/bridge/plaid", {}),
    "quiltt without quiltt_token": ("/v1/bridge/quiltt", {}),
}


@pytest.mark.parametrize("path, body", REQUIRED_FIELDS.values(), ids=REQUIRED_FIELDS.keys())
def test_a_request_missing_a_required_field_is_a_bad_request(client, path, body):
    if path != "/v1/bridge/initialize":
        body = {"customer_id": new_customer(client), **body}

    with pytest.raises(straddle.BadRequestError) as caught:
        post_raw(client, path, body)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")


REFUSED_TOKENS = {
    "plaid token the provider calls invalid": ("plaid", plaid_token("invalid-")),
    "plaid token of another environment": ("plaid", f"processor-production-{uuid.uuid4()}"),
    "plaid token for an account that is not checking or savings": ("plaid", plaid_token("unsupported-")),
    "quiltt token the provider calls invalid": ("quiltt", quiltt_token("invalid")),
    "quiltt token that is not base64 of id:secret": ("quiltt", "processor-sandbox-123abc"),
}


@pytest.mark.parametrize("source, token", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
def test_a_token_the_provider_refuses_is_unprocessable_and_names_the_token_field(client, source, token):
    customer_id, field = new_customer(client), f"{source}_token"

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        link(client, source, customer_id, **{field: token})

    assert_error_envelope(caught.value, 422, "validation_error")
    assert field in error_references(caught.value)
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []


@pytest.mark.parametrize("source", PROVIDER_SOURCES)
def test_a_provider_outage_is_a_bad_gateway_and_creates_nothing(client, source):
    customer_id = new_customer(client)

    with pytest.raises(straddle.InternalServerError) as caught:
        link(client, source, customer_id, **{f"{source}_token": PROVIDER_TOKENS[source]("timeout-")})

    assert_error_envelope(caught.value, 502, "api_error")
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []


def test_quiltt_also_accepts_the_token_as_quiltt_processor_token(client):
    customer_id = new_customer(client)

    response = post_raw(
        client,
        "/v1/bridge/quiltt",
        {
            "customer_id": customer_id,
            "quiltt_processor_token": F6_QUILTT_TOKEN,
            "config": {"sandbox_outcome": "active"},
        },
    )

    assert response.status_code == 201
    assert response.json()["data"]["source"] == "quiltt"
    assert response.json()["data"]["label"] == "MX BANK - *0457"


# --- which customers can link ------------------------------------------------------------


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_linking_for_an_unknown_customer_is_not_found(client, source):
    with pytest.raises(straddle.NotFoundError) as caught:
        link(client, source, UNKNOWN_ID)

    assert_error_envelope(caught.value, 404, "invalid_request_error")


@pytest.mark.parametrize("state", ["rejected", "inactive"])
@pytest.mark.parametrize("source", ALL_SOURCES)
def test_linking_for_a_rejected_or_inactive_customer_is_unprocessable(client, source, state):
    customer_id = customer_in_state(client, state)

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        link(client, source, customer_id)

    assert_error_envelope(caught.value, 422, "validation_error")
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []


@pytest.mark.parametrize("state", [{}, {"config": {"sandbox_outcome": "review"}}], ids=["verified", "review"])
def test_linking_is_allowed_for_a_verified_customer_or_one_in_review(client, state):
    created = link_bank_account(client, new_customer(client, **state))

    assert created.data.status == "active"


def test_a_customer_of_another_platform_cannot_be_linked(client, unmasking_client):
    customer_id = new_customer(client)

    with pytest.raises(straddle.NotFoundError):
        link_bank_account(unmasking_client, customer_id)


# --- embedded accounts ---------------------------------------------------------------------------


def test_a_paykey_of_an_embedded_account_is_visible_only_with_straddle_account_id(client, embedded_account_id):
    customer_id = new_customer(client, straddle_account_id=embedded_account_id)

    created = link(client, "plaid", customer_id, straddle_account_id=embedded_account_id)

    fetched = client.paykeys.get(created.data.id, straddle_account_id=embedded_account_id)
    assert fetched.data.customer_id == customer_id
    with pytest.raises(straddle.NotFoundError):
        client.paykeys.get(created.data.id)
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []


def test_a_platform_customer_cannot_be_linked_in_an_embedded_accounts_scope(client, embedded_account_id):
    customer_id = new_customer(client)

    with pytest.raises(straddle.NotFoundError):
        link(client, "quiltt", customer_id, straddle_account_id=embedded_account_id)


# --- idempotency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_repeating_a_link_with_the_same_idempotency_key_returns_the_same_paykey(client, source):
    customer_id = new_customer(client)
    fields = {**link_body(source), "external_id": f"crm-{unique_tag()}", "idempotency_key": idempotency_key()}

    first = link(client, source, customer_id, **fields)
    second = link(client, source, customer_id, **fields)

    assert (second.data.id, second.data.paykey) == (first.data.id, first.data.paykey)
    assert len(paykey_ids(client.paykeys.list(customer_id=customer_id))) == 1


def test_a_replayed_link_answers_201_again_and_says_it_was_replayed(client):
    customer_id, key = new_customer(client), idempotency_key()
    fields = {"routing_number": BOFA_ROUTING, "account_number": F2_ACCOUNT_NUMBER, "account_type": "checking"}

    first = client.bridge.link.with_raw_response.bank_account(customer_id=customer_id, idempotency_key=key, **fields)
    second = client.bridge.link.with_raw_response.bank_account(customer_id=customer_id, idempotency_key=key, **fields)

    assert first.status_code == second.status_code == 201
    assert second.parse().data.id == first.parse().data.id
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None


def test_reusing_an_idempotency_key_for_a_different_account_is_a_conflict(client):
    customer_id, key = new_customer(client), idempotency_key()
    link_bank_account(client, customer_id, idempotency_key=key, account_number=F2_ACCOUNT_NUMBER)

    with pytest.raises(straddle.ConflictError) as caught:
        link_bank_account(
            client, customer_id, idempotency_key=key, account_number=F2_ACCOUNT_NUMBER, account_type="savings"
        )

    assert_error_envelope(caught.value, 409, "invalid_request_error")
    assert caught.value.response.headers.get("x-should-retry") == "false"
    assert len(paykey_ids(client.paykeys.list(customer_id=customer_id))) == 1
