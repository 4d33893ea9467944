"""Paykeys, driven through the official Python SDK (straddle==0.5.0).

Every `client.paykeys` method of SDK 0.5.0 (list, get, cancel, reveal,
unmasked, update_balance, review.get, review.decision, review.refresh_review),
plus two calls the SDK lacks: `PATCH /v1/paykeys/{id}/unblock` and the sandbox
`POST /v1/sandbox/paykeys/{id}/simulate_return`. Responses are validated
strictly against the SDK's types.

Each test makes paykeys for a customer of its own and lists with
`customer_id=` (or a unique external_id), so tests never count records made by
other tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import straddle

import sdk
from sdk import PaykeySummaryPage as PaykeySummaryPagedV1

from bridge_helpers import (
    BOFA_ROUTING,
    CHASE_ROUTING,
    F2_ACCOUNT_NUMBER,
    FULL_PAYKEY,
    PROVIDER_SOURCES,
    UNKNOWN_ID,
    WELLS_ROUTING,
    assert_error_envelope,
    link,
    link_bank_account,
    masked_account,
    masked_paykey,
    new_customer,
    paykey_ids,
    simulate_return,
    unblock,
    unique_tag,
    wait_for_balance,
    wait_until_settled,
)


def link_several(client: straddle.Straddle, customer_id: str, count: int) -> list[str]:
    """Link `count` bank accounts for the customer, in order, and return the paykey ids."""
    return [link_bank_account(client, customer_id).data.id for _ in range(count)]


def paykey_in(client: straddle.Straddle, status: str, **fields) -> str:
    """A new bank-account paykey that is `active`, `review`, `rejected` or `inactive`."""
    outcome = "active" if status == "inactive" else status
    paykey_id = link_bank_account(client, new_customer(client), config={"sandbox_outcome": outcome}, **fields).data.id
    if status == "inactive":
        client.paykeys.cancel(paykey_id)
    return paykey_id


def without(data, *fields: str) -> dict:
    return {key: value for key, value in data.to_dict().items() if key not in fields}


# --- get, reveal, unmasked ----------------------------------------------------------


def test_get_returns_the_created_paykey_with_its_token_masked(client):
    created = link_bank_account(client, new_customer(client), external_id=f"crm-{unique_tag()}", metadata={"a": "b"})

    fetched = client.paykeys.get(created.data.id)

    assert fetched.data.paykey == masked_paykey(created.data.paykey)
    assert without(fetched.data, "paykey") == without(created.data, "paykey")


def test_reveal_shows_the_full_token_but_keeps_the_account_number_masked(client):
    created = link_bank_account(client, new_customer(client), account_number=F2_ACCOUNT_NUMBER)

    revealed = client.paykeys.reveal(created.data.id)

    assert revealed.data.id == created.data.id
    assert revealed.data.paykey == created.data.paykey
    assert FULL_PAYKEY.match(revealed.data.paykey)
    assert revealed.data.bank_data.account_number == masked_account(F2_ACCOUNT_NUMBER)


def test_unmasked_shows_the_full_token_and_account_number_to_a_platform_allowed_to_unmask(unmasking_client):
    created = link_bank_account(unmasking_client, new_customer(unmasking_client), account_number=F2_ACCOUNT_NUMBER)

    unmasked = unmasking_client.paykeys.unmasked(created.data.id)

    assert unmasked.data.id == created.data.id
    assert unmasked.data.paykey == created.data.paykey
    assert unmasked.data.bank_data.account_number == F2_ACCOUNT_NUMBER
    assert unmasking_client.paykeys.get(created.data.id).data.bank_data.account_number == "******3381"


def test_unmasked_is_forbidden_for_a_platform_not_allowed_to_unmask(client):
    created = link_bank_account(client, new_customer(client))

    with pytest.raises(straddle.PermissionDeniedError) as caught:
        client.paykeys.unmasked(created.data.id)

    assert_error_envelope(caught.value, 403, "authentication_error")


# --- list ------------------------------------------------------------------------------------


def test_list_filters_by_customer_and_shows_masked_tokens_newest_first(client):
    customer_id = new_customer(client)
    older, newer = (
        link_bank_account(client, customer_id, account_number=n).data for n in ("004417253381", "7730019921")
    )
    link_bank_account(client, new_customer(client))

    page = client.paykeys.list(customer_id=customer_id)

    assert paykey_ids(page) == [newer.id, older.id]
    assert [item.paykey for item in page.data] == [masked_paykey(newer.paykey), masked_paykey(older.paykey)]
    assert [item.bank_data.account_number for item in page.data] == ["******9921", "******3381"]
    assert {item.customer_id for item in page.data} == {customer_id}


def test_list_filters_by_several_statuses_at_once(client):
    customer_id = new_customer(client)
    ids = {
        outcome: link_bank_account(client, customer_id, config={"sandbox_outcome": outcome}).data.id
        for outcome in ("active", "review", "rejected")
    }

    both = client.paykeys.list(customer_id=customer_id, status=["review", "rejected"])
    only_active = client.paykeys.list(customer_id=customer_id, status=["active"])

    assert sorted(paykey_ids(both)) == sorted([ids["review"], ids["rejected"]])
    assert paykey_ids(only_active) == [ids["active"]]


def test_list_filters_by_source(client):
    customer_id = new_customer(client)
    by_source = {source: link(client, source, customer_id).data.id for source in ("bank_account", "tan", "plaid")}

    assert paykey_ids(client.paykeys.list(customer_id=customer_id, source=["tan"])) == [by_source["tan"]]
    both = client.paykeys.list(customer_id=customer_id, source=["bank_account", "plaid"])
    assert sorted(paykey_ids(both)) == sorted([by_source["bank_account"], by_source["plaid"]])


def test_list_filters_by_creation_time(client):
    customer_id = new_customer(client)
    [paykey_id] = link_several(client, customer_id, 1)
    now, hour = datetime.now(timezone.utc), timedelta(hours=1)

    def listed(**window) -> list[str]:
        return paykey_ids(client.paykeys.list(customer_id=customer_id, **window))

    assert listed(created_from=now - hour, created_to=now + hour) == [paykey_id]
    assert listed(created_from=now + hour) == []
    assert listed(created_to=now - hour) == []


def test_list_search_text_finds_a_paykey_by_its_external_id(client):
    external_id = f"crm-{unique_tag()}"
    wanted = link_bank_account(client, new_customer(client), external_id=external_id)
    link_bank_account(client, new_customer(client), external_id=f"crm-{unique_tag()}")

    page = client.paykeys.list(search_text=external_id)

    assert paykey_ids(page) == [wanted.data.id]
    assert page.data[0].external_id == external_id


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_list_sorts_by_institution_name_in_either_order(client, sort_order):
    customer_id = new_customer(client)
    wells, bofa, chase = (
        link_bank_account(client, customer_id, routing_number=routing).data.id
        for routing in (WELLS_ROUTING, BOFA_ROUTING, CHASE_ROUTING)
    )
    alphabetical = [bofa, chase, wells]  # BANK OF AMERICA, JPMORGAN CHASE, WELLS FARGO

    page = client.paykeys.list(customer_id=customer_id, sort_by="institution_name", sort_order=sort_order)

    assert paykey_ids(page) == (alphabetical if sort_order == "asc" else alphabetical[::-1])


def test_list_can_sort_by_expiry(client):
    customer_id = new_customer(client)
    created = link_several(client, customer_id, 2)

    response = client.paykeys.with_raw_response.list(customer_id=customer_id, sort_by="expires_at", sort_order="asc")

    paged = PaykeySummaryPagedV1.model_validate(response.json())
    assert sorted(paykey.id for paykey in paged.data) == sorted(created)
    assert (paged.meta.sort_by, paged.meta.sort_order) == ("expires_at", "asc")


def test_list_pages_through_results_with_page_number_and_page_size(client):
    customer_id = new_customer(client)
    newest_first = link_several(client, customer_id, 5)[::-1]

    pages = [client.paykeys.list(customer_id=customer_id, page_size=2, page_number=n) for n in (1, 2, 3, 4)]

    assert [paykey_ids(page) for page in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]
    if not sdk.IS_1X:  # 1.0.5 has no auto-pagination
        assert not pages[3].has_next_page()


def test_list_meta_carries_every_paging_field(client):
    customer_id = new_customer(client)
    link_several(client, customer_id, 5)

    response = client.paykeys.with_raw_response.list(customer_id=customer_id, page_size=2, page_number=2)

    assert response.status_code == 200
    paged = PaykeySummaryPagedV1.model_validate(response.json())
    assert paged.response_type == "array"
    meta = paged.meta
    assert (meta.page_number, meta.page_size, meta.total_items, meta.total_pages) == (2, 2, 5, 3)
    assert meta.max_page_size == 1000
    assert (meta.sort_by, meta.sort_order) == ("created_at", "desc")


@pytest.mark.skipif(sdk.IS_1X, reason="straddle 1.0.5 has no auto-pagination")
def test_iterating_a_list_walks_through_every_page(client):
    customer_id = new_customer(client)
    created = link_several(client, customer_id, 5)

    walked = [paykey.id for paykey in client.paykeys.list(customer_id=customer_id, page_size=2)]

    assert walked == created[::-1]


def test_list_refuses_a_page_size_above_1000(client):
    with pytest.raises(straddle.BadRequestError) as caught:
        client.paykeys.list(page_size=1001)

    assert_error_envelope(caught.value, 400, "invalid_request_error", "validation_error")


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_deactivates_the_paykey_and_keeps_the_reason(client):
    created = link_bank_account(client, new_customer(client))

    cancelled = client.paykeys.cancel(created.data.id, reason="Customer closed the account")

    data = cancelled.data
    assert data.id == created.data.id
    assert data.status == "inactive"
    assert (data.status_details.reason, data.status_details.source) == ("user_request", "user_action")
    assert data.status_details.message == "Customer closed the account"
    assert data.paykey == masked_paykey(created.data.paykey)
    assert client.paykeys.get(created.data.id).data.status == "inactive"


def test_cancel_without_a_reason_deactivates_the_paykey(client):
    created = link_bank_account(client, new_customer(client))

    cancelled = client.paykeys.cancel(created.data.id)

    assert cancelled.data.status == "inactive"
    assert cancelled.data.status_details.message


# --- balance --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", PROVIDER_SOURCES)
def test_update_balance_answers_202_pending_and_then_completes(client, source):
    created = link(client, source, new_customer(client), config={"sandbox_outcome": "active"})
    assert created.data.balance.status == "completed"

    response = client.paykeys.with_raw_response.update_balance(created.data.id)

    assert response.status_code == 202
    accepted = response.parse().data
    assert accepted.id == created.data.id
    assert accepted.balance.status == "pending"
    assert accepted.paykey == masked_paykey(created.data.paykey)
    balance = wait_for_balance(client, created.data.id).data.balance
    assert balance.status == "completed"
    assert balance.account_balance == created.data.balance.account_balance


# --- review ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome, decision", [("active", "accept"), ("review", "review"), ("rejected", "reject")])
def test_review_get_shows_the_paykey_and_its_verification_decision(client, outcome, decision):
    created = link_bank_account(client, new_customer(client), config={"sandbox_outcome": outcome})

    review = client.paykeys.review.get(created.data.id)

    details = review.data.paykey_details
    assert (details.id, details.status) == (created.data.id, outcome)
    assert details.paykey == masked_paykey(created.data.paykey)
    verification = review.data.verification_details
    if verification is not None:  # optional in SDK 0.5.0; when present it must agree with the status
        assert verification.decision == decision


def test_review_get_of_a_paykey_whose_checks_were_skipped_has_no_verification(client):
    created = link_bank_account(client, new_customer(client), config={"processing_method": "skip"})

    review = client.paykeys.review.get(created.data.id)

    assert review.data.paykey_details.status == "active"
    assert review.data.verification_details is None


@pytest.mark.parametrize("decision", ["active", "rejected"])
def test_review_decision_settles_a_paykey_in_review(client, decision):
    paykey_id = paykey_in(client, "review")

    decided = client.paykeys.review.decision(paykey_id, status=decision)

    assert decided.data.id == paykey_id
    assert decided.data.status == decision
    assert decided.data.status_details.source == "user_action"
    assert client.paykeys.get(paykey_id).data.status == decision


@pytest.mark.parametrize("status", ["active", "rejected", "inactive"])
def test_review_decision_is_refused_unless_the_paykey_is_in_review(client, status):
    paykey_id = paykey_in(client, status)

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        client.paykeys.review.decision(paykey_id, status="rejected" if status == "active" else "active")

    assert_error_envelope(caught.value, 422, "validation_error")
    assert client.paykeys.get(paykey_id).data.status == status


def test_refresh_review_is_accepted_and_the_paykey_keeps_its_outcome(client):
    paykey_id = paykey_in(client, "review")

    response = client.paykeys.review.with_raw_response.refresh_review(paykey_id)

    assert response.status_code == 202
    assert response.parse().data.id == paykey_id
    assert wait_until_settled(client, paykey_id).data.status == "review"


# --- R29 returns and unblock ------------------------------------------------------------------


def test_an_r29_return_blocks_the_paykey_and_makes_it_eligible_for_unblock(client):
    created = link_bank_account(client, new_customer(client))
    assert created.data.unblock_eligible is None

    blocked = simulate_return(client, created.data.id, "R29")

    data = blocked.data
    assert data.status == "blocked"
    assert data.status_details.code == "R29"
    assert data.unblock_eligible is True
    fetched = client.paykeys.get(created.data.id).data
    assert (fetched.status, fetched.unblock_eligible) == ("blocked", True)


def test_unblock_reactivates_an_r29_blocked_paykey_only_once(client):
    paykey_id = link_bank_account(client, new_customer(client)).data.id
    simulate_return(client, paykey_id, "R29")

    unblocked = unblock(client, paykey_id, message="Customer confirmed the account")

    assert unblocked.data.status == "active"
    assert unblocked.data.unblock_eligible is None
    blocked_again = simulate_return(client, paykey_id, "R29")
    assert (blocked_again.data.status, blocked_again.data.unblock_eligible) == ("blocked", False)
    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        unblock(client, paykey_id)
    assert_error_envelope(caught.value, 422, "validation_error")
    assert client.paykeys.get(paykey_id).data.status == "blocked"


def test_unblock_is_refused_for_a_paykey_that_is_not_blocked(client):
    paykey_id = link_bank_account(client, new_customer(client)).data.id

    with pytest.raises(straddle.UnprocessableEntityError) as caught:
        unblock(client, paykey_id)

    assert_error_envelope(caught.value, 422, "validation_error")
    assert client.paykeys.get(paykey_id).data.status == "active"


def test_list_filters_by_unblock_eligibility(client):
    customer_id = new_customer(client)
    eligible, spent, _active = link_several(client, customer_id, 3)
    simulate_return(client, eligible, "R29")
    simulate_return(client, spent, "R29")
    unblock(client, spent)
    simulate_return(client, spent, "R29")

    assert paykey_ids(client.paykeys.list(customer_id=customer_id, unblock_eligible=True)) == [eligible]
    assert paykey_ids(client.paykeys.list(customer_id=customer_id, unblock_eligible=False)) == [spent]


# --- errors and scope ---------------------------------------------------------------------------

OPERATIONS_ON_ONE_PAYKEY = {
    "get": lambda sdk, paykey_id: sdk.paykeys.get(paykey_id),
    "reveal": lambda sdk, paykey_id: sdk.paykeys.reveal(paykey_id),
    "unmasked": lambda sdk, paykey_id: sdk.paykeys.unmasked(paykey_id),
    "cancel": lambda sdk, paykey_id: sdk.paykeys.cancel(paykey_id),
    "update_balance": lambda sdk, paykey_id: sdk.paykeys.update_balance(paykey_id),
    "review.get": lambda sdk, paykey_id: sdk.paykeys.review.get(paykey_id),
    "review.decision": lambda sdk, paykey_id: sdk.paykeys.review.decision(paykey_id, status="active"),
    "review.refresh_review": lambda sdk, paykey_id: sdk.paykeys.review.refresh_review(paykey_id),
    "unblock": lambda sdk, paykey_id: unblock(sdk, paykey_id),
}


@pytest.mark.parametrize("operation", OPERATIONS_ON_ONE_PAYKEY.values(), ids=OPERATIONS_ON_ONE_PAYKEY.keys())
def test_every_operation_on_an_unknown_paykey_is_not_found(unmasking_client, operation):
    # The unmasking platform, so that `unmasked` answers 404 rather than 403.
    with pytest.raises(straddle.NotFoundError) as caught:
        operation(unmasking_client, UNKNOWN_ID)

    assert_error_envelope(caught.value, 404, "invalid_request_error")


@pytest.mark.parametrize("operation", OPERATIONS_ON_ONE_PAYKEY.values(), ids=OPERATIONS_ON_ONE_PAYKEY.keys())
def test_paykeys_of_another_platform_are_not_found(client, unmasking_client, operation):
    paykey_id = paykey_in(client, "review")

    with pytest.raises(straddle.NotFoundError):
        operation(unmasking_client, paykey_id)

    assert client.paykeys.get(paykey_id).data.status == "review"


def test_paykeys_of_an_embedded_account_are_listed_only_with_straddle_account_id(client, embedded_account_id):
    customer_id = new_customer(client, straddle_account_id=embedded_account_id)
    created = link_bank_account(client, customer_id, straddle_account_id=embedded_account_id)

    scoped = client.paykeys.list(customer_id=customer_id, straddle_account_id=embedded_account_id)

    assert paykey_ids(scoped) == [created.data.id]
    assert paykey_ids(client.paykeys.list(customer_id=customer_id)) == []
    with pytest.raises(straddle.NotFoundError):
        client.paykeys.cancel(created.data.id)
    cancelled = client.paykeys.cancel(created.data.id, straddle_account_id=embedded_account_id)
    assert cancelled.data.status == "inactive"


def test_a_bad_api_key_is_unauthenticated(server):
    with server.connect("sk_sandbox_not_a_real_key") as stranger:
        with pytest.raises(straddle.AuthenticationError) as caught:
            stranger.paykeys.list()

    assert_error_envelope(caught.value, 401, "authentication_error")
