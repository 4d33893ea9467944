//! The deterministic sandbox provider: no network, fixed test accounts.
//!
#![doc = include_str!("../../SANDBOX.md")]

use straddle_types::paykey::AccountType;

use crate::account::{account_type_from_plaid_subtype, AccountNumber, LinkedAccount};
use crate::error::{ProviderError, PLAID_TOKEN, QUILTT_TOKEN};
use crate::quiltt_token::{self, NOT_READY};

/// Prefix every Plaid sandbox processor token carries.
const PLAID_PREFIX: &str = "processor-sandbox-";

/// Marker that starts an owner override inside a token's id.
const OWNER_MARKER: &str = "-owner-";

/// Owner of every sandbox account unless the token overrides it: Plaid's own
/// sandbox identity.
pub const DEFAULT_OWNER: &str = "Alberta Bobbeth Charleson";

/// One fixed sandbox account.
struct TestAccount {
    /// Word in the token that selects this account; `""` marks the default.
    keyword: &'static str,
    institution: &'static str,
    routing: &'static str,
    number: &'static str,
    /// Plaid-style subtype: `checking`, `savings`, or anything else for an
    /// account that cannot back a paykey.
    subtype: &'static str,
    balance_cents: i64,
}

/// Plaid sandbox accounts; the first one is the default.
const PLAID_ACCOUNTS: &[TestAccount] = &[
    test_account(
        "",
        "FIRST PLATYPUS BANK",
        "011401533",
        "9900009606",
        "checking",
        10_000,
    ),
    test_account(
        "savings",
        "FIRST PLATYPUS BANK",
        "011401533",
        "9900009614",
        "savings",
        21_000,
    ),
    test_account(
        "overdrawn",
        "FIRST PLATYPUS BANK",
        "011401533",
        "9900009622",
        "checking",
        -2_500,
    ),
    test_account(
        "unsupported",
        "FIRST PLATYPUS BANK",
        "011401533",
        "9900009630",
        "cd",
        100_000,
    ),
    test_account(
        "chase",
        "JPMORGAN CHASE BANK, NA",
        "021000021",
        "4417250011",
        "checking",
        250_000,
    ),
    test_account(
        "wells",
        "WELLS FARGO BANK, N.A.",
        "121000248",
        "6132094875",
        "savings",
        1_234_567,
    ),
    test_account(
        "bofa",
        "BANK OF AMERICA, N.A.",
        "026009593",
        "004417251234",
        "checking",
        52_000,
    ),
];

/// Quiltt sandbox accounts; the first one is the default.
const QUILTT_ACCOUNTS: &[TestAccount] = &[
    test_account(
        "",
        "MX BANK",
        "091000019",
        "8810000457",
        "checking",
        125_000,
    ),
    test_account(
        "savings",
        "MX BANK",
        "091000019",
        "8810001180",
        "savings",
        500_000,
    ),
    test_account(
        "overdrawn",
        "MX BANK",
        "091000019",
        "8810002216",
        "checking",
        -2_500,
    ),
    test_account(
        "chase",
        "JPMORGAN CHASE BANK, NA",
        "322271627",
        "3021770068",
        "checking",
        87_500,
    ),
];

const fn test_account(
    keyword: &'static str,
    institution: &'static str,
    routing: &'static str,
    number: &'static str,
    subtype: &'static str,
    balance_cents: i64,
) -> TestAccount {
    TestAccount {
        keyword,
        institution,
        routing,
        number,
        subtype,
        balance_cents,
    }
}

/// A token split into the part that selects the account and the optional
/// owner override.
struct ParsedToken<'a> {
    selector: String,
    owner: Option<&'a str>,
}

impl<'a> ParsedToken<'a> {
    fn new(id: &'a str) -> Self {
        let (selector, owner) = match id.split_once(OWNER_MARKER) {
            Some((selector, owner)) => (selector, Some(owner)),
            None => (id, None),
        };
        Self {
            selector: selector.to_ascii_lowercase(),
            owner,
        }
    }

    fn has(&self, word: &str) -> bool {
        self.selector.contains(word)
    }

    fn owner_names(&self) -> Vec<String> {
        let name = match self.owner {
            Some(raw) if raw.eq_ignore_ascii_case("none") => return Vec::new(),
            Some(raw) => owner_name(raw),
            None => String::new(),
        };
        if name.is_empty() {
            vec![DEFAULT_OWNER.to_owned()]
        } else {
            vec![name]
        }
    }
}

/// `jane-q_doe` → `Jane Q Doe`.
fn owner_name(raw: &str) -> String {
    raw.split(['-', '_'])
        .filter(|word| !word.is_empty())
        .map(capitalize)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Deterministic stand-in for Plaid and Quiltt. See the module docs (and
/// `SANDBOX.md`) for the token table.
#[derive(Clone, Copy, Debug, Default)]
pub struct SandboxProvider;

impl SandboxProvider {
    /// The sandbox provider; it has no configuration.
    pub fn new() -> Self {
        Self
    }

    /// Account behind a Plaid sandbox processor token.
    pub fn plaid_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        let parsed = parse_plaid(token)?;
        let account = pick(PLAID_ACCOUNTS, &parsed, PLAID_TOKEN)?;
        linked(account, &parsed, PLAID_TOKEN)
    }

    /// Balance in cents of the account behind a Plaid sandbox token.
    pub fn plaid_balance(&self, token: &str) -> Result<i64, ProviderError> {
        let parsed = parse_plaid(token)?;
        Ok(pick(PLAID_ACCOUNTS, &parsed, PLAID_TOKEN)?.balance_cents)
    }

    /// Account behind a Quiltt processor token.
    pub fn quiltt_account(&self, token: &str) -> Result<LinkedAccount, ProviderError> {
        let id = quiltt_token::account_id(token)?;
        let parsed = ParsedToken::new(&id);
        let account = pick(QUILTT_ACCOUNTS, &parsed, QUILTT_TOKEN)?;
        if parsed.has("notready") {
            // What Quiltt's `202 Accepted` on `ach_numbers` turns into.
            return Err(ProviderError::unavailable(NOT_READY));
        }
        linked(account, &parsed, QUILTT_TOKEN)
    }

    /// Balance in cents of the account behind a Quiltt processor token.
    pub fn quiltt_balance(&self, token: &str) -> Result<i64, ProviderError> {
        let id = quiltt_token::account_id(token)?;
        let parsed = ParsedToken::new(&id);
        Ok(pick(QUILTT_ACCOUNTS, &parsed, QUILTT_TOKEN)?.balance_cents)
    }
}

/// Checks the `processor-sandbox-<id>` shape and splits the id.
fn parse_plaid(token: &str) -> Result<ParsedToken<'_>, ProviderError> {
    let id = token
        .strip_prefix(PLAID_PREFIX)
        .filter(|id| !id.is_empty())
        .filter(|id| {
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(|| {
            ProviderError::refused(
                PLAID_TOKEN,
                "This is not a Plaid sandbox processor token (expected `processor-sandbox-<id>`).",
            )
        })?;
    Ok(ParsedToken::new(id))
}

/// Applies the special words, then picks the account the token selects.
fn pick(
    table: &'static [TestAccount],
    parsed: &ParsedToken<'_>,
    reference: &'static str,
) -> Result<&'static TestAccount, ProviderError> {
    if parsed.has("invalid") {
        return Err(ProviderError::refused(
            reference,
            "The processor token is invalid or has expired.",
        ));
    }
    if parsed.has("timeout") {
        return Err(ProviderError::unavailable("provider timed out"));
    }
    let chosen = table[1..]
        .iter()
        .find(|account| parsed.has(account.keyword))
        .unwrap_or(&table[0]);
    Ok(chosen)
}

fn linked(
    account: &TestAccount,
    parsed: &ParsedToken<'_>,
    reference: &'static str,
) -> Result<LinkedAccount, ProviderError> {
    let account_type: AccountType =
        account_type_from_plaid_subtype(account.subtype).ok_or_else(|| {
            ProviderError::unsupported(
                reference,
                format!(
                    "Account subtype `{}` is not supported; link a checking or savings account.",
                    account.subtype
                ),
            )
        })?;
    Ok(LinkedAccount {
        institution_name: Some(account.institution.to_owned()),
        routing_number: account.routing.to_owned(),
        account_number: AccountNumber::new(account.number),
        account_type,
        owner_names: parsed.owner_names(),
        balance_cents: Some(account.balance_cents),
    })
}

#[cfg(test)]
mod tests;
