//! What a widget session can do: describe itself, list and sign in to the
//! sandbox banks, and create its one paykey, from typed-in numbers or from
//! a signed-in bank account, with the session's config and `external_id`.

use straddle_types::paykey::{Paykey, PaykeySource};

use super::institutions::{self, Institution, SandboxAccount};
use super::session::{claim, WidgetSession};
use super::types::{
    AccountView, InstitutionView, ManualEntryRequest, OpenBankingLinkRequest, SessionView,
    SignInRequest,
};
use crate::bridge::routes::typed_bank;
use crate::bridge::{check_account_number, check_typed_routing};
use crate::error::ApiError;
use crate::paykeys::service::{LinkPaykey, LinkRequest, LinkedBank};
use crate::state::AppState;
use crate::storage::sql::Conn;
use crate::validation::Problems;
use crate::write::pipeline::{Command, WriteContext};

/// What the widget shows before linking.
pub fn describe(state: &AppState, session: &WidgetSession) -> SessionView {
    let environment = state.config.environment;
    SessionView {
        account_name: session.account_name.clone(),
        environment: environment.as_str(),
        expires_at: session.expires_at,
        open_banking: !institutions::catalogue(environment).is_empty(),
    }
}

/// The banks the customer can sign in to.
pub fn institutions(state: &AppState) -> Vec<InstitutionView> {
    institutions::catalogue(state.config.environment)
        .iter()
        .map(|institution| InstitutionView {
            id: institution.id,
            name: institution.name,
        })
        .collect()
}

/// Signs in to a bank and lists its accounts.
pub fn sign_in(
    state: &AppState,
    session: &WidgetSession,
    request: &SignInRequest,
) -> Result<Vec<AccountView>, ApiError> {
    let institution = signed_in(
        state,
        session,
        &request.institution_id,
        &request.username,
        &request.password,
    )?;
    Ok(institution.accounts.iter().map(account_view).collect())
}

/// Links a typed-in bank account (same checks as `POST /v1/bridge/bank_account`).
pub async fn link_manual(
    state: &AppState,
    session: &WidgetSession,
    request: ManualEntryRequest,
) -> Result<Paykey, ApiError> {
    let mut problems = Problems::default();
    check_typed_routing(&mut problems, &request.routing_number);
    check_account_number(&mut problems, "account_number", &request.account_number);
    problems.finish()?;
    let bank = typed_bank(
        request.routing_number,
        request.account_number,
        request.account_type,
    );
    create_paykey(state, session, PaykeySource::BankAccount, bank).await
}

/// Links an account of a bank signed in to: `source: "straddle"`, verified
/// by the owner-name match.
pub async fn link_open_banking(
    state: &AppState,
    session: &WidgetSession,
    request: OpenBankingLinkRequest,
) -> Result<Paykey, ApiError> {
    let institution = signed_in(
        state,
        session,
        &request.institution_id,
        &request.username,
        &request.password,
    )?;
    let account = institution
        .account(&request.account_id)
        .ok_or_else(|| ApiError::not_found("account", "account_id", &request.account_id))?;
    let bank = aggregated_bank(institution, account);
    create_paykey(state, session, PaykeySource::Straddle, bank).await
}

/// The institution, once the credentials are right. A session that sent
/// wrong credentials too often is locked out for a while (429).
fn signed_in(
    state: &AppState,
    session: &WidgetSession,
    institution_id: &str,
    username: &str,
    password: &str,
) -> Result<&'static Institution, ApiError> {
    let institution = institutions::find(state.config.environment, institution_id)
        .ok_or_else(|| ApiError::not_found("institution", "institution_id", institution_id))?;
    let valid = institutions::credentials_valid(username, password);
    if !state
        .guard
        .sign_in(session.bridge_token_id, valid, state.clock.now())?
    {
        return Err(ApiError::unprocessable(
            "credentials",
            "The username or password is incorrect.",
        ));
    }
    Ok(institution)
}

fn account_view(account: &'static SandboxAccount) -> AccountView {
    AccountView {
        id: account.id,
        name: account.name,
        account_type: account.account_type,
        mask: last4(account.account_number).to_string(),
        balance_cents: account.balance_cents,
    }
}

fn last4(number: &str) -> &str {
    &number[number.len().saturating_sub(4)..]
}

/// A sandbox account as an aggregator would report it.
fn aggregated_bank(institution: &Institution, account: &SandboxAccount) -> LinkedBank {
    LinkedBank {
        institution_name: Some(institution.paykey_name.to_string()),
        routing_number: institution.routing_number.to_string(),
        account_number: account.account_number.to_string(),
        account_type: account.account_type,
        owner_names: account.owners.iter().map(|o| o.to_string()).collect(),
        balance_cents: Some(account.balance_cents),
        provider_token: None,
    }
}

/// Creates the session's paykey and marks the session used, in one write
/// transaction: a second attempt (even a concurrent one) is refused as
/// `used_token` and leaves nothing behind.
async fn create_paykey(
    state: &AppState,
    session: &WidgetSession,
    source: PaykeySource,
    bank: LinkedBank,
) -> Result<Paykey, ApiError> {
    let link = LinkPaykey {
        account_id: session.account_id,
        request: LinkRequest {
            source,
            customer_id: session.customer_id,
            bank,
            config: Some(session.config),
            external_id: session.external_id.clone(),
            metadata: None,
        },
    };
    state
        .pipeline
        .commit(LinkWidgetPaykey {
            link,
            bridge_token_id: session.bridge_token_id,
        })
        .await
}

/// Links the one paykey of a widget session and marks the session used.
#[derive(Debug)]
pub struct LinkWidgetPaykey {
    /// The paykey to link.
    pub link: LinkPaykey,
    /// The session it uses up.
    pub bridge_token_id: uuid::Uuid,
}

impl Command for LinkWidgetPaykey {
    type Output = Paykey;

    async fn run(self, tx: &mut Conn<'_>, cx: &WriteContext) -> Result<Paykey, ApiError> {
        let paykey = self.link.run(tx, cx).await?;
        claim(tx, self.bridge_token_id, paykey.id).await?;
        Ok(paykey)
    }
}
