//! Logon passwords: Argon2 hashes in PHC string format (`$argon2id$...`),
//! as `venue hash-password` prints them.

use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};

/// Whether `password` matches the PHC-format Argon2 `hash`. A malformed hash
/// matches nothing (config validation reports it at start-up).
#[must_use]
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password, &parsed)
        .is_ok()
}

/// Whether `hash` is a well-formed Argon2 PHC string.
#[must_use]
pub fn is_valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

/// Hashes `password` with a random salt (for `venue hash-password`).
///
/// # Errors
/// The hasher failed (it does not, for sane inputs).
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash_password(b"s3cret").unwrap();
        assert!(is_valid_hash(&h));
        assert!(verify_password(b"s3cret", &h));
        assert!(!verify_password(b"s3creT", &h));
        assert!(!verify_password(b"s3cret", "plaintext"));
        assert!(!is_valid_hash("plaintext"));
    }
}
