//! The sandbox open-banking catalogue: made-up institutions, each with test
//! accounts and their owners, behind the test credentials `user_good` /
//! `pass_good`. Only a sandbox server offers it; a production server has no
//! aggregator behind the widget, so its catalogue is empty.
//!
//! Owners follow the sandbox provider (`SANDBOX.md`): every account belongs
//! to Alberta Bobbeth Charleson, and the joint savings account also to
//! Jordan Charleson, so the customer's name decides the §C.2 name match.

use straddle_types::paykey::AccountType;

use crate::config::Environment;

/// The sandbox username that signs in.
pub const TEST_USERNAME: &str = "user_good";
/// The sandbox password that signs in.
pub const TEST_PASSWORD: &str = "pass_good";

/// A bank the widget lets the customer sign in to.
#[derive(Debug)]
pub struct Institution {
    /// Stable id used by the widget.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// The name paykeys carry (upper case, as aggregators report it).
    pub paykey_name: &'static str,
    /// The routing number of all its accounts.
    pub routing_number: &'static str,
    /// Its test accounts.
    pub accounts: &'static [SandboxAccount],
}

/// A test account at a sandbox institution.
#[derive(Debug)]
pub struct SandboxAccount {
    /// Stable id used by the widget.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Full account number.
    pub account_number: &'static str,
    /// Checking or savings.
    pub account_type: AccountType,
    /// Current balance in cents.
    pub balance_cents: i64,
    /// Account holders.
    pub owners: &'static [&'static str],
}

const ALBERTA: &[&str] = &["Alberta Bobbeth Charleson"];
const JOINT: &[&str] = &["Alberta Bobbeth Charleson", "Jordan Charleson"];

const SANDBOX: &[Institution] = &[
    Institution {
        id: "first_platypus",
        name: "First Platypus Bank",
        paykey_name: "FIRST PLATYPUS BANK",
        routing_number: "011401533",
        accounts: &[
            SandboxAccount {
                id: "plaid_checking",
                name: "Plaid Checking",
                account_number: "9900009606",
                account_type: AccountType::Checking,
                balance_cents: 10_000,
                owners: ALBERTA,
            },
            SandboxAccount {
                id: "plaid_saving",
                name: "Plaid Saving",
                account_number: "9900009614",
                account_type: AccountType::Savings,
                balance_cents: 21_000,
                owners: ALBERTA,
            },
        ],
    },
    Institution {
        id: "harbor_light",
        name: "Harbor Light Bank",
        paykey_name: "HARBOR LIGHT BANK",
        routing_number: "021200009",
        accounts: &[
            SandboxAccount {
                id: "everyday_checking",
                name: "Everyday Checking",
                account_number: "5500012041",
                account_type: AccountType::Checking,
                balance_cents: 245_017,
                owners: ALBERTA,
            },
            SandboxAccount {
                id: "joint_savings",
                name: "Joint Savings",
                account_number: "5500012058",
                account_type: AccountType::Savings,
                balance_cents: 1_830_000,
                owners: JOINT,
            },
        ],
    },
    Institution {
        id: "prairie_state",
        name: "Prairie State Credit Union",
        paykey_name: "PRAIRIE STATE CREDIT UNION",
        routing_number: "102000018",
        accounts: &[SandboxAccount {
            id: "share_draft",
            name: "Share Draft Checking",
            account_number: "40017723",
            account_type: AccountType::Checking,
            balance_cents: 61_250,
            owners: ALBERTA,
        }],
    },
    Institution {
        id: "summit_federal",
        name: "Summit Federal Savings",
        paykey_name: "SUMMIT FEDERAL SAVINGS",
        routing_number: "261070002",
        accounts: &[SandboxAccount {
            id: "money_market",
            name: "Money Market Savings",
            account_number: "810044219730",
            account_type: AccountType::Savings,
            balance_cents: 5_004_233,
            owners: ALBERTA,
        }],
    },
];

/// The institutions a server of `environment` offers.
pub fn catalogue(environment: Environment) -> &'static [Institution] {
    match environment {
        Environment::Sandbox => SANDBOX,
        Environment::Production => &[],
    }
}

/// One institution of the catalogue.
pub fn find(environment: Environment, id: &str) -> Option<&'static Institution> {
    catalogue(environment).iter().find(|i| i.id == id)
}

impl Institution {
    /// One of its accounts.
    pub fn account(&self, id: &str) -> Option<&'static SandboxAccount> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

/// Whether a sign-in with these credentials succeeds.
pub fn credentials_valid(username: &str, password: &str) -> bool {
    username.trim() == TEST_USERNAME && password == TEST_PASSWORD
}

#[cfg(test)]
mod tests {
    use straddle_providers::routing::{check_digit_valid, institution_name};

    use super::*;

    #[test]
    fn sandbox_numbers_are_well_formed_and_belong_to_no_real_directory_bank() {
        for institution in SANDBOX {
            assert!(check_digit_valid(institution.routing_number));
            assert_eq!(institution_name(institution.routing_number), None);
            for account in institution.accounts {
                let digits = account.account_number.len();
                assert!((4..=17).contains(&digits), "{}", account.id);
            }
        }
    }

    #[test]
    fn production_offers_no_test_banks() {
        assert!(catalogue(Environment::Production).is_empty());
        assert!(find(Environment::Production, "first_platypus").is_none());
        assert!(find(Environment::Sandbox, "first_platypus").is_some());
    }

    #[test]
    fn only_the_test_credentials_sign_in() {
        assert!(credentials_valid("user_good", "pass_good"));
        assert!(credentials_valid(" user_good ", "pass_good"));
        assert!(!credentials_valid("user_good", "pass_bad"));
        assert!(!credentials_valid("user_bad", "pass_good"));
    }
}
