"""Customers, driven through the official Python SDK (straddle==0.5.0).

Every call goes through `client.customers` / `client.customers.review` with
strict response validation, so each test also checks that our responses parse
as the SDK's own types.

Tests share one server and one database, so each test finds its own customers
by a unique tag in their names (or a unique email) rather than by counting.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import straddle

import sdk
from sdk import CustomerSummaryPage as CustomerSummaryPagedV1

DEVICE_IP = "203.0.113.7"
ADDRESS = {"address1": "123 Main St", "city": "Pawnee", "state": "IN", "zip": "46001"}
INDIVIDUAL_PROFILE = {"dob": "1969-04-01", "ssn": "123-45-6789"}
BUSINESS_PROFILE = {
    "ein": "12-3456789",
    "legal_business_name": "Very Good Building Company",
    "website": "https://verygoodbuilding.example.com",
}
MASKED_INDIVIDUAL_PROFILE = {"dob": "****-**-**", "ssn": "***-**-****"}
MASKED_EIN = "**-*******"
UNKNOWN_ID = "019b8dda-3333-7444-8555-666677778888"
SETTLE_TIMEOUT_S = 5.0


# --- helpers -----------------------------------------------------------------


def unique_tag() -> str:
    """Twelve lowercase letters that only this test puts in customer names."""
    return uuid.uuid4().hex[:12].translate(str.maketrans("0123456789", "ghijklmnop"))


def idempotency_key() -> str:
    return f"conformance-{uuid.uuid4().hex[:24]}"  # 36 characters, within 10-40


def customer_fields(**overrides) -> dict:
    """A well-formed individual customer with a unique email."""
    fields = {
        "name": "Ron Swanson",
        "type": "individual",
        "email": f"ron.{uuid.uuid4().hex[:16]}@example.com",
        "phone": "+12128675309",
        "device": {"ip_address": DEVICE_IP},
    }
    return {**fields, **overrides}


def contact_of(fields: dict | None = None) -> dict:
    """The fields `update` requires besides `status`."""
    fields = fields or customer_fields()
    return {key: fields[key] for key in ("name", "email", "phone", "device")}


def create_named(client: straddle.Straddle, *names: str, **overrides) -> list[str]:
    """Create one customer per name, in order, and return their ids."""
    return [client.customers.create(**customer_fields(name=name, **overrides)).data.id for name in names]


def listed_ids(page) -> list[str]:
    return [customer.id for customer in page.data]


def wait_until_settled(client: straddle.Straddle, customer_id: str):
    """Poll `get` until the customer leaves `pending` (gives up after a few seconds)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        customer = client.customers.get(customer_id)
        if customer.data.status != "pending" or time.monotonic() > deadline:
            return customer
        time.sleep(0.05)


def profile_of(customer) -> dict:
    return customer.data.compliance_profile.to_dict(mode="json")


def assert_error_envelope(error: straddle.APIStatusError, status: int, *types: str) -> None:
    """Errors come as {meta, response_type: "error", error: {status, type, title, detail}}."""
    body = error.body
    assert error.status_code == status
    assert isinstance(body, dict), body
    assert body["response_type"] == "error"
    assert "data" not in body
    assert body["meta"]["api_request_id"]
    assert body["error"]["status"] == status
    assert body["error"]["type"] in types
    assert body["error"]["title"]
    assert body["error"]["detail"]


# --- create ------------------------------------------------------------------


def test_create_answers_201_with_the_customer_as_sent(client):
    fields = customer_fields(address=ADDRESS, compliance_profile=INDIVIDUAL_PROFILE)

    response = client.customers.with_raw_response.create(**fields)

    assert response.status_code == 201
    customer = response.parse()
    assert customer.response_type == "object"
    data = customer.data
    for field in ("name", "type", "email", "phone"):
        assert getattr(data, field) == fields[field]
    assert data.address.to_dict() == ADDRESS
    assert data.status == "verified"
    assert uuid.UUID(data.id).version == 7
    assert data.id == data.id.lower()
    assert data.created_at.utcoffset() == timedelta(0)
    assert data.updated_at >= data.created_at
    assert None not in response.json()["data"].values(), "absent optional fields are omitted, not null"


@pytest.mark.parametrize(
    "config",
    [None, {"sandbox_outcome": "standard"}, {"processing_method": "inline"}],
    ids=["no config", "standard outcome", "inline processing"],
)
def test_a_well_formed_customer_is_verified_by_default(client, config):
    fields = customer_fields(address=ADDRESS, compliance_profile=INDIVIDUAL_PROFILE)
    if config is not None:
        fields["config"] = config

    customer = client.customers.create(**fields)

    assert customer.data.status == "verified"


@pytest.mark.parametrize("outcome", ["review", "rejected", "verified"])
def test_sandbox_outcome_decides_the_status_at_creation(client, outcome):
    customer = client.customers.create(**customer_fields(config={"sandbox_outcome": outcome}))

    assert customer.data.status == outcome
    assert customer.data.config.sandbox_outcome == outcome
    assert client.customers.get(customer.data.id).data.status == outcome


@pytest.mark.parametrize(
    "config",
    [{"processing_method": "skip"}, {"processing_method": "skip", "sandbox_outcome": "rejected"}],
    ids=["skip", "skip with rejected outcome"],
)
def test_skip_processing_verifies_the_customer_without_checks(client, config):
    customer = client.customers.create(**customer_fields(config=config))

    assert customer.data.status == "verified"
    assert customer.data.config.processing_method == "skip"


@pytest.mark.parametrize(
    "outcome, final_status",
    [("standard", "verified"), ("review", "review"), ("rejected", "rejected")],
)
def test_background_processing_starts_pending_and_settles_on_the_outcome(client, outcome, final_status):
    config = {"processing_method": "background", "sandbox_outcome": outcome}

    created = client.customers.create(**customer_fields(config=config))

    assert created.data.status == "pending"
    assert wait_until_settled(client, created.data.id).data.status == final_status


def test_a_business_customer_shows_a_masked_ein_that_unmasked_reveals(unmasking_client):
    fields = customer_fields(name="Very Good Building Company", type="business", compliance_profile=BUSINESS_PROFILE)

    created = unmasking_client.customers.create(**fields)

    assert created.data.type == "business"
    fetched = unmasking_client.customers.get(created.data.id)
    assert profile_of(fetched)["ein"] == MASKED_EIN
    assert profile_of(fetched)["legal_business_name"] == BUSINESS_PROFILE["legal_business_name"]
    assert profile_of(unmasking_client.customers.unmasked(created.data.id))["ein"] == BUSINESS_PROFILE["ein"]


# --- get, masking and unmasked -------------------------------------------------


def test_get_returns_the_customer_that_create_returned(client):
    created = client.customers.create(**customer_fields(address=ADDRESS, external_id=f"crm-{unique_tag()}"))

    fetched = client.customers.get(created.data.id)

    assert fetched.data.to_dict() == created.data.to_dict()


def test_create_and_get_mask_dob_ssn_and_device_ip(client):
    created = client.customers.create(**customer_fields(compliance_profile=INDIVIDUAL_PROFILE))
    fetched = client.customers.get(created.data.id)

    for customer in (created, fetched):
        assert profile_of(customer) == MASKED_INDIVIDUAL_PROFILE
        assert customer.data.device.ip_address != DEVICE_IP


def test_unmasked_reveals_dob_ssn_and_device_ip_to_a_platform_allowed_to_unmask(unmasking_client):
    fields = customer_fields(compliance_profile=INDIVIDUAL_PROFILE)
    created = unmasking_client.customers.create(**fields)

    unmasked = unmasking_client.customers.unmasked(created.data.id)

    assert unmasked.data.id == created.data.id
    assert unmasked.data.email == fields["email"]
    assert profile_of(unmasked) == INDIVIDUAL_PROFILE
    assert unmasked.data.device.ip_address == DEVICE_IP
    assert profile_of(unmasking_client.customers.get(created.data.id)) == MASKED_INDIVIDUAL_PROFILE


def test_unmasked_is_forbidden_for_a_platform_not_allowed_to_unmask(client):
    created = client.customers.create(**customer_fields(compliance_profile=INDIVIDUAL_PROFILE))

    with pytest.raises(straddle.PermissionDeniedError) as caught:
        client.customers.unmasked(created.data.id)

    assert_error_envelope(caught.value, 403, "authentication_error")


# --- update and delete -------------------------------------------------------------


def test_update_replaces_the_customer_details(client):
    created = client.customers.create(**customer_fields(metadata={"tier": "bronze"}))
    changes = {
        "name": "Leslie Knope",
        "email": f"leslie.{uuid.uuid4().hex[:16]}@example.com",
        "phone": "+13175550123",
        "device": {"ip_address": "198.51.100.20"},
        "address": ADDRESS,
        "external_id": f"crm-{unique_tag()}",
        "metadata": {"tier": "gold"},
    }

    updated = client.customers.update(created.data.id, status=created.data.status, **changes)

    data = updated.data
    assert data.id == created.data.id
    assert (data.name, data.email, data.phone) == (changes["name"], changes["email"], changes["phone"])
    assert data.address.to_dict() == ADDRESS
    assert data.external_id == changes["external_id"]
    assert data.metadata == {"tier": "gold"}
    assert data.created_at == created.data.created_at
    assert data.updated_at >= created.data.updated_at
    assert client.customers.get(created.data.id).data.to_dict() == data.to_dict()


def test_update_can_deactivate_a_customer(client):
    fields = customer_fields()
    created = client.customers.create(**fields)

    updated = client.customers.update(created.data.id, status="inactive", **contact_of(fields))

    assert updated.data.status == "inactive"
    assert client.customers.get(created.data.id).data.status == "inactive"


def test_delete_returns_the_customer_and_then_it_is_gone(client):
    fields = customer_fields()
    created = client.customers.create(**fields)

    deleted = client.customers.delete(created.data.id)

    assert deleted.data.id == created.data.id
    assert deleted.data.email == fields["email"]
    with pytest.raises(straddle.NotFoundError):
        client.customers.get(created.data.id)
    assert listed_ids(client.customers.list(email=fields["email"])) == []


# --- list ----------------------------------------------------------------------------


def test_list_filters_by_a_fragment_of_the_name(client):
    tag = unique_tag()
    tagged = create_named(client, f"Ann {tag}", f"Ben {tag}")
    create_named(client, f"Cal {unique_tag()}")

    page = client.customers.list(name=tag)

    assert sorted(listed_ids(page)) == sorted(tagged)


def test_list_filters_by_email(client):
    wanted = client.customers.create(**customer_fields())
    client.customers.create(**customer_fields())

    page = client.customers.list(email=wanted.data.email)

    assert listed_ids(page) == [wanted.data.id]
    assert page.data[0].email == wanted.data.email


def test_list_filters_by_several_statuses_at_once(client):
    tag = unique_tag()
    ids = {
        outcome: create_named(client, f"{outcome} {tag}", config={"sandbox_outcome": outcome})[0]
        for outcome in ("review", "rejected", "verified")
    }

    both = client.customers.list(name=tag, status=["review", "rejected"])
    only_verified = client.customers.list(name=tag, status=["verified"])

    assert sorted(listed_ids(both)) == sorted([ids["review"], ids["rejected"]])
    assert {customer.status for customer in both.data} == {"review", "rejected"}
    assert listed_ids(only_verified) == [ids["verified"]]


def test_list_filters_by_customer_type(client):
    tag = unique_tag()
    [person] = create_named(client, f"Person {tag}")
    [company] = create_named(client, f"Company {tag}", type="business", compliance_profile=BUSINESS_PROFILE)

    assert listed_ids(client.customers.list(name=tag, types=["business"])) == [company]
    assert listed_ids(client.customers.list(name=tag, types=["individual"])) == [person]


def test_list_filters_by_creation_time(client):
    tag = unique_tag()
    [customer_id] = create_named(client, f"Ann {tag}")
    now, hour = datetime.now(timezone.utc), timedelta(hours=1)

    assert listed_ids(client.customers.list(name=tag, created_from=now - hour, created_to=now + hour)) == [customer_id]
    assert listed_ids(client.customers.list(name=tag, created_from=now + hour)) == []
    assert listed_ids(client.customers.list(name=tag, created_to=now - hour)) == []


def test_list_search_text_finds_customers_by_name(client):
    tag = unique_tag()
    [customer_id] = create_named(client, f"Ann {tag}")

    assert listed_ids(client.customers.list(search_text=tag)) == [customer_id]


def test_list_returns_the_newest_customers_first_by_default(client):
    tag = unique_tag()
    created = create_named(client, f"First {tag}", f"Second {tag}", f"Third {tag}")

    assert listed_ids(client.customers.list(name=tag)) == list(reversed(created))


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_list_sorts_by_name_in_either_order(client, sort_order):
    tag = unique_tag()
    bravo, charlie, alpha = create_named(client, f"Bravo {tag}", f"Charlie {tag}", f"Alpha {tag}")
    alphabetical = [alpha, bravo, charlie]

    page = client.customers.list(name=tag, sort_by="name", sort_order=sort_order)

    assert listed_ids(page) == (alphabetical if sort_order == "asc" else alphabetical[::-1])


def test_list_pages_through_results_with_page_number_and_page_size(client):
    tag = unique_tag()
    newest_first = create_named(client, *(f"Customer {letter} {tag}" for letter in "ABCDE"))[::-1]

    pages = [client.customers.list(name=tag, page_size=2, page_number=number) for number in (1, 2, 3, 4)]

    assert [listed_ids(page) for page in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]


def test_list_meta_carries_every_paging_field(client):
    tag = unique_tag()
    create_named(client, *(f"Customer {letter} {tag}" for letter in "ABCDE"))

    response = client.customers.with_raw_response.list(name=tag, page_size=2, page_number=2)

    assert response.status_code == 200
    paged = CustomerSummaryPagedV1.model_validate(response.json())
    assert paged.response_type == "array"
    meta = paged.meta
    assert (meta.page_number, meta.page_size, meta.total_items, meta.total_pages) == (2, 2, 5, 3)
    assert meta.max_page_size == 1000
    assert (meta.sort_by, meta.sort_order) == ("created_at", "desc")


def test_list_defaults_to_the_first_page_of_100_newest_first(client):
    response = client.customers.with_raw_response.list(name=unique_tag())

    paged = CustomerSummaryPagedV1.model_validate(response.json())
    assert paged.data == []
    meta = paged.meta
    assert (meta.page_number, meta.page_size, meta.total_items) == (1, 100, 0)
    assert (meta.sort_by, meta.sort_order) == ("created_at", "desc")


def test_a_page_past_the_end_is_empty(client):
    tag = unique_tag()
    create_named(client, f"Ann {tag}")

    page = client.customers.list(name=tag, page_number=5)

    assert page.data == []
    if not sdk.IS_1X:  # 1.0.5 has no auto-pagination
        assert not page.has_next_page()


@pytest.mark.skipif(sdk.IS_1X, reason="straddle 1.0.5 has no auto-pagination")
def test_iterating_a_list_walks_through_every_page(client):
    tag = unique_tag()
    created = create_named(client, *(f"Customer {letter} {tag}" for letter in "ABCDE"))

    walked = [customer.id for customer in client.customers.list(name=tag, page_size=2)]

    assert walked == created[::-1]


def test_list_refuses_a_page_size_above_1000(client):
    with pytest.raises(straddle.BadRequestError) as caught:
        client.customers.list(page_size=1001)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")


# --- review --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, decision",
    [("review", "review"), ("rejected", "reject"), ("verified", "accept")],
)
def test_review_get_shows_the_customer_and_its_identity_decision(client, outcome, decision):
    fields = customer_fields(config={"sandbox_outcome": outcome})
    created = client.customers.create(**fields)

    review = client.customers.review.get(created.data.id)

    details = review.data.customer_details
    assert (details.id, details.email, details.status) == (created.data.id, fields["email"], outcome)
    identity = review.data.identity_details
    if identity is not None:  # optional in SDK 0.5.0; when present it must agree with the status
        assert identity.decision == decision


@pytest.mark.parametrize("decision", ["verified", "rejected"])
def test_review_decision_settles_a_customer_in_review(client, decision):
    created = client.customers.create(**customer_fields(config={"sandbox_outcome": "review"}))

    decided = client.customers.review.decision(created.data.id, status=decision)

    assert decided.data.id == created.data.id
    assert decided.data.status == decision
    assert client.customers.get(created.data.id).data.status == decision


@pytest.mark.parametrize("outcome", ["verified", "rejected"])
def test_review_decision_is_refused_unless_the_customer_is_in_review(client, outcome):
    created = client.customers.create(**customer_fields(config={"sandbox_outcome": outcome}))
    opposite = "rejected" if outcome == "verified" else "verified"

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        client.customers.review.decision(created.data.id, status=opposite)

    assert_error_envelope(caught.value, 422, "validation_error")
    assert client.customers.get(created.data.id).data.status == outcome


def test_refresh_review_is_accepted_and_the_customer_keeps_its_outcome(client):
    created = client.customers.create(**customer_fields(config={"sandbox_outcome": "review"}))

    response = client.customers.review.with_raw_response.refresh_review(created.data.id)

    assert response.status_code == 202
    assert response.parse().data.id == created.data.id
    assert wait_until_settled(client, created.data.id).data.status == "review"


# --- errors --------------------------------------------------------------------------

OPERATIONS_ON_ONE_CUSTOMER = {
    "get": lambda sdk, customer_id: sdk.customers.get(customer_id),
    "update": lambda sdk, customer_id: sdk.customers.update(customer_id, status="verified", **contact_of()),
    "delete": lambda sdk, customer_id: sdk.customers.delete(customer_id),
    "unmasked": lambda sdk, customer_id: sdk.customers.unmasked(customer_id),
    "review.get": lambda sdk, customer_id: sdk.customers.review.get(customer_id),
    "review.decision": lambda sdk, customer_id: sdk.customers.review.decision(customer_id, status="verified"),
    "review.refresh_review": lambda sdk, customer_id: sdk.customers.review.refresh_review(customer_id),
}


@pytest.mark.parametrize("operation", OPERATIONS_ON_ONE_CUSTOMER.values(), ids=OPERATIONS_ON_ONE_CUSTOMER.keys())
def test_every_operation_on_an_unknown_customer_is_not_found(unmasking_client, operation):
    # The unmasking platform, so that `unmasked` answers 404 rather than 403.
    with pytest.raises(straddle.NotFoundError) as caught:
        operation(unmasking_client, UNKNOWN_ID)

    assert_error_envelope(caught.value, 404, "invalid_request_error")


INVALID_CREATE_FIELDS = {
    "phone not in E.164": {"phone": "555-0100"},
    "unknown customer type": {"type": "robot"},
    "unknown sandbox outcome": {"config": {"sandbox_outcome": "maybe"}},
    "metadata key over 40 characters": {"metadata": {"k" * 41: "value"}},
    "metadata value over 40 characters": {"metadata": {"key": "v" * 41}},
    "more than 20 metadata pairs": {"metadata": {f"key_{n:02d}": "value" for n in range(21)}},
}


@pytest.mark.parametrize("overrides", INVALID_CREATE_FIELDS.values(), ids=INVALID_CREATE_FIELDS.keys())
def test_create_with_invalid_input_is_a_bad_request_and_creates_nothing(client, overrides):
    fields = customer_fields(**overrides)

    with pytest.raises(straddle.BadRequestError) as caught:
        client.customers.create(**fields)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")
    assert listed_ids(client.customers.list(email=fields["email"])) == []


def test_a_bad_api_key_is_unauthenticated(server):
    with server.connect("sk_sandbox_not_a_real_key") as stranger:
        with pytest.raises(straddle.AuthenticationError) as caught:
            stranger.customers.list()

    assert_error_envelope(caught.value, 401, "authentication_error")


# --- metadata and external_id ----------------------------------------------------------


def test_metadata_round_trips_up_to_20_pairs_of_40_characters(client):
    metadata = {f"key_{n:02d}": f"value {n}" for n in range(19)}
    metadata["k" * 40] = "v" * 40

    created = client.customers.create(**customer_fields(metadata=metadata))

    assert created.data.metadata == metadata
    assert client.customers.get(created.data.id).data.metadata == metadata
    assert client.customers.review.get(created.data.id).data.customer_details.metadata == metadata


def test_external_id_is_returned_and_can_be_listed_by(client):
    external_id = f"crm-{unique_tag()}"

    created = client.customers.create(**customer_fields(external_id=external_id))

    assert created.data.external_id == external_id
    page = client.customers.list(external_id=external_id)
    assert listed_ids(page) == [created.data.id]
    assert page.data[0].external_id == external_id


# --- account scope --------------------------------------------------------------------------


def test_a_customer_of_an_embedded_account_is_hidden_without_straddle_account_id(client, embedded_account_id):
    fields = customer_fields()
    created = client.customers.create(**fields, straddle_account_id=embedded_account_id)

    with pytest.raises(straddle.NotFoundError):
        client.customers.get(created.data.id)
    assert listed_ids(client.customers.list(email=fields["email"])) == []


@pytest.mark.parametrize("header_form", ["{}", "acct_{}"], ids=["bare uuid", "acct_ prefix"])
def test_a_customer_of_an_embedded_account_is_visible_with_straddle_account_id(
    client, embedded_account_id, header_form
):
    account = header_form.format(embedded_account_id)
    fields = customer_fields()
    created = client.customers.create(**fields, straddle_account_id=embedded_account_id)

    fetched = client.customers.get(created.data.id, straddle_account_id=account)

    assert fetched.data.email == fields["email"]
    assert listed_ids(client.customers.list(email=fields["email"], straddle_account_id=account)) == [created.data.id]


def test_customers_of_another_platform_are_not_found(client, unmasking_client):
    created = client.customers.create(**customer_fields())

    with pytest.raises(straddle.NotFoundError):
        unmasking_client.customers.get(created.data.id)


# --- idempotency --------------------------------------------------------------------------


def test_repeating_a_create_with_the_same_idempotency_key_returns_the_same_customer(client):
    fields, key = customer_fields(), idempotency_key()

    first = client.customers.with_raw_response.create(**fields, idempotency_key=key)
    second = client.customers.with_raw_response.create(**fields, idempotency_key=key)

    assert first.status_code == second.status_code == 201
    assert second.parse().data.id == first.parse().data.id
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(listed_ids(client.customers.list(email=fields["email"]))) == 1


def test_reusing_an_idempotency_key_for_a_different_body_is_a_conflict(client):
    key = idempotency_key()
    client.customers.create(**customer_fields(), idempotency_key=key)

    with pytest.raises(straddle.ConflictError) as caught:
        client.customers.create(**customer_fields(), idempotency_key=key)

    assert_error_envelope(caught.value, 409, "invalid_request_error")
    assert caught.value.response.headers.get("x-should-retry") == "false"


@pytest.mark.parametrize("key", ["k" * 9, "k" * 41], ids=["9 characters", "41 characters"])
def test_an_idempotency_key_outside_10_to_40_characters_is_a_bad_request(client, key):
    with pytest.raises(straddle.BadRequestError) as caught:
        client.customers.create(**customer_fields(), idempotency_key=key)

    assert_error_envelope(caught.value, 400, "invalid_request_error")
