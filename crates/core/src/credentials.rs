//! The private API key pair and the HTTP Basic header made from it.

use crate::error::TriggerError;
use crate::secret::Secret;
use base64::Engine as _;

/// A Bloomreach private API key: its id and secret. `Debug` prints `Credentials(***)`:
/// neither value, nor their lengths.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key_id: Secret,
    secret: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(***)")
    }
}

fn check_part(field: &str, value: &str, may_hold_colon: bool) -> Result<(), TriggerError> {
    if value.is_empty() {
        return Err(TriggerError::invalid(field, "must not be empty"));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(TriggerError::invalid(
            field,
            "must not contain white space or control characters",
        ));
    }
    if !may_hold_colon && value.contains(':') {
        return Err(TriggerError::invalid(field, "must not contain ':'"));
    }
    Ok(())
}

impl Credentials {
    /// Validates both parts; errors name `key_id_field` or `secret_field`, never a value.
    pub fn new(
        key_id_field: &str,
        key_id: &str,
        secret_field: &str,
        secret: &str,
    ) -> Result<Self, TriggerError> {
        // HTTP Basic cannot carry a ':' in the user part.
        check_part(key_id_field, key_id, false)?;
        check_part(secret_field, secret, true)?;
        Ok(Credentials {
            key_id: Secret::new(key_id),
            secret: Secret::new(secret),
        })
    }

    /// `Basic base64(key_id:secret)`, itself a secret.
    pub fn basic_authorization(&self) -> Secret {
        let raw = format!("{}:{}", self.key_id.expose(), self.secret.expose());
        Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_is_base64_of_key_id_colon_secret() {
        let c = Credentials::new(
            "id",
            "Aladdin",
            "secret",
            "open sesame".replace(' ', "-").as_str(),
        )
        .unwrap();
        assert_eq!(
            c.basic_authorization().expose(),
            "Basic QWxhZGRpbjpvcGVuLXNlc2FtZQ=="
        );
        let c = Credentials::new("id", "key", "secret", "a:b").unwrap();
        assert_eq!(c.basic_authorization().expose(), "Basic a2V5OmE6Yg==");
    }

    #[test]
    fn credentials_refuse_empty_colon_and_white_space_naming_the_field() {
        let e = Credentials::new("KEY", "", "SECRET", "s").unwrap_err();
        assert!(e.message.starts_with("KEY:"));
        let e = Credentials::new("KEY", "a:b", "SECRET", "s").unwrap_err();
        assert!(e.message.starts_with("KEY:"));
        let e = Credentials::new("KEY", "a", "SECRET", "s s").unwrap_err();
        assert!(e.message.starts_with("SECRET:") && !e.message.contains("s s"));
    }

    #[test]
    fn credentials_debug_shows_nothing() {
        let c = Credentials::new("id", "the-key-id", "secret", "the-secret").unwrap();
        let shown = format!("{c:?} {:?}", c.basic_authorization());
        assert!(
            !shown.contains("the-key-id")
                && !shown.contains("the-secret")
                && !shown.contains("Basic")
        );
    }
}
