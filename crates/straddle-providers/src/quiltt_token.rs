//! Quiltt processor tokens: base64 of `"<quiltt account id>:<secret>"`
//! (spec §E.2, fixture F6).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

use crate::error::{ProviderError, QUILTT_TOKEN};

/// What a caller is told while Quiltt is still fetching the ACH numbers
/// (its `202 Accepted`).
pub(crate) const NOT_READY: &str = "account numbers are not ready yet; retry";

/// Extracts the Quiltt account id from a processor token.
///
/// The id ends up in a URL path, so it is restricted to ASCII letters,
/// digits, `_` and `-`. Any other shape is a refusal: such a token could
/// never have been issued by Quiltt.
pub(crate) fn account_id(token: &str) -> Result<String, ProviderError> {
    let decoded = STANDARD
        .decode(token)
        .or_else(|_| STANDARD_NO_PAD.decode(token))
        .map_err(|_| malformed("it is not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("it does not decode to text"))?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(|| malformed("it does not decode to `<account id>:<secret>`"))?;
    if id.is_empty() || secret.is_empty() {
        return Err(malformed("its account id or secret is empty"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(malformed("its account id has unexpected characters"));
    }
    Ok(id.to_owned())
}

fn malformed(why: &str) -> ProviderError {
    ProviderError::refused(
        QUILTT_TOKEN,
        format!("This is not a Quiltt processor token: {why}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_token_decodes_to_its_account_id() {
        let token = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA=";
        assert_eq!(account_id(token).unwrap(), "acct_19FixtureAcct001");
    }

    #[test]
    fn unpadded_tokens_are_accepted() {
        let token = STANDARD_NO_PAD.encode("acct_x:s");
        assert_eq!(account_id(&token).unwrap(), "acct_x");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for raw in ["no-colon", ":secret", "acct_1:", "acct/../x:secret"] {
            let token = STANDARD.encode(raw);
            let err = account_id(&token).unwrap_err();
            assert_eq!(err.reference(), Some(QUILTT_TOKEN), "{raw}");
        }
        assert!(account_id("not base64!").is_err());
        assert!(account_id("").is_err());
    }
}
