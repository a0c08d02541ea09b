//! The second factor's rules: TOTP as every authenticator app reads it
//! (RFC 6238: SHA-1, 6 digits, 30 s), one step either side of now and no
//! more, and single-use recovery codes. Whether a step was used already is
//! the database's to say (see `db::two_factor::accept_step`).

use sha2::{Digest as _, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "mpp-registrar";

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(Secret::from(secret.to_vec()))
        .build()
        .ok()
}

/// The time step `code` is valid for at `unix_seconds`, within one step of now.
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret)?.check(&code, unix_seconds)?;
    i64::try_from(step).ok()
}

/// The code for `unix_seconds` (tests and the benchmark's sign-in).
pub fn code_at(secret: &[u8], unix_seconds: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(unix_seconds).to_string())
}

pub fn to_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    Secret::try_from_base32(text.trim())
        .ok()
        .map(|s| s.to_vec())
}

/// The `otpauth://` URI an authenticator app enrols from.
pub fn otpauth_uri(username: &str, secret: &[u8]) -> String {
    let label: String =
        url::form_urlencoded::byte_serialize(format!("{ISSUER}:{username}").as_bytes()).collect();
    format!(
        "otpauth://totp/{label}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits=6&period=30",
        to_base32(secret)
    )
}

/// Recovery codes look like `k7qzm-2xv4d`: ten letters and digits (50 bits).
pub fn recovery_code(random: &[u8; 10]) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let chars: Vec<char> = random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!(
        "{}-{}",
        chars[..5].iter().collect::<String>(),
        chars[5..].iter().collect::<String>()
    )
}

/// The stored form of a recovery code as typed: case, spaces and the dash do
/// not matter. `None` when the input cannot be one.
pub fn recovery_code_hash(input: &str) -> Option<Vec<u8>> {
    let normal: String = input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (normal.len() == 10).then(|| Sha256::digest(normal.as_bytes()).to_vec())
}

/// `MPP_MFA`: whether password accounts need a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mfa {
    /// After the password, a TOTP code (enrolment at the first sign-in).
    Required,
    /// The password alone (development and tests that say so).
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1: secret "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_follow_rfc_6238() {
        // The RFC's 8-digit value at 59 s is 94287082: 6 digits keep the tail.
        assert_eq!(code_at(RFC_SECRET, 59).as_deref(), Some("287082"));
        assert_eq!(
            code_at(RFC_SECRET, 1_111_111_109).as_deref(),
            Some("081804")
        );
    }

    #[test]
    fn one_step_either_side_of_now_and_no_more() {
        let now = 1_700_000_000;
        let step = (now / 30) as i64;
        for (offset, expected) in [
            (-60i64, None),
            (-30, Some(step - 1)),
            (0, Some(step)),
            (30, Some(step + 1)),
            (60, None),
        ] {
            let code = code_at(RFC_SECRET, (now as i64 + offset) as u64).unwrap();
            assert_eq!(matching_step(RFC_SECRET, &code, now), expected, "{offset}");
        }
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "abcdef", now), None);
    }

    #[test]
    fn secrets_and_recovery_codes_read_back() {
        let secret = [7u8; SECRET_BYTES];
        assert_eq!(from_base32(&to_base32(&secret)).unwrap(), secret);
        assert!(
            otpauth_uri("alice", &secret)
                .starts_with("otpauth://totp/mpp-registrar%3Aalice?secret=")
        );
        let code = recovery_code(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_code_hash(&code.to_uppercase().replace('-', " ")),
            recovery_code_hash(&code)
        );
        assert!(recovery_code_hash("123456").is_none());
    }
}
