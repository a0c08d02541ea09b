//! RSA256 message signatures as Alipay+ defines them: the string-to-sign, the
//! `Signature` header grammar, and constant-time signing and verification
//! (aws-lc-rs; the `rsa` crate is only used to read key files).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The only algorithm name Alipay+ registration uses.
pub const ALGORITHM: &str = "RSA256";

/// Builds `<METHOD> <URI>\n<Client-Id>.<Time>.<Body>` as bytes, without
/// re-serialising anything: the body bytes are used exactly as sent.
pub fn string_to_sign(
    method: &str,
    uri: &str,
    client_id: &str,
    time: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len() + uri.len() + client_id.len() + time.len() + body.len() + 4,
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(client_id.as_bytes());
    out.push(b'.');
    out.extend_from_slice(time.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

/// Characters Java's `URLEncoder` leaves alone: `A-Z a-z 0-9 - _ . *`.
const FORM_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

/// Standard base64 that accepts the value with or without `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a `Signature` header could not be used. All of these mean `INVALID_SIGNATURE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureHeaderError {
    #[error("the Signature header has no signature value")]
    MissingSignature,
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    #[error("the signature value is not correctly percent-encoded")]
    BadPercentEncoding,
    #[error("the signature value is not base64")]
    BadBase64,
    #[error("the Signature header names {0} more than once")]
    Repeated(&'static str),
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// `keyVersion`, verbatim; `None` means "the newest key".
    pub key_version: Option<String>,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

impl SignatureHeader {
    /// Parses `algorithm=RSA256, keyVersion=1, signature=...`: pairs split on `,`,
    /// optional spaces, each pair split at its first `=`, keys compared
    /// case-insensitively, unknown keys ignored. `%XX` is decoded but `+` is left
    /// alone, so a sender that forgot to URL-encode still verifies (A12). A key
    /// named twice is refused: parsers that keep the first and the last would
    /// check different signatures (or keys) of one header.
    pub fn parse(header: &str) -> Result<SignatureHeader, SignatureHeaderError> {
        let mut algorithm = None;
        let mut key_version = None;
        let mut signature = None;
        for part in header.split(',') {
            let part = part.trim_matches([' ', '\t']);
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let key = key.trim_matches([' ', '\t']);
            let (slot, name) = if key.eq_ignore_ascii_case("algorithm") {
                (&mut algorithm, "algorithm")
            } else if key.eq_ignore_ascii_case("keyVersion") {
                (&mut key_version, "keyVersion")
            } else if key.eq_ignore_ascii_case("signature") {
                (&mut signature, "signature")
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(SignatureHeaderError::Repeated(name));
            }
        }
        if let Some(alg) = algorithm
            && !alg.eq_ignore_ascii_case(ALGORITHM)
        {
            return Err(SignatureHeaderError::UnsupportedAlgorithm);
        }
        let encoded = signature
            .filter(|s| !s.is_empty())
            .ok_or(SignatureHeaderError::MissingSignature)?;
        let decoded = strict_percent_decode(encoded)?;
        let signature = LENIENT_BASE64
            .decode(decoded)
            .map_err(|_| SignatureHeaderError::BadBase64)?;
        if signature.is_empty() {
            return Err(SignatureHeaderError::MissingSignature);
        }
        Ok(SignatureHeader {
            key_version: key_version.filter(|v| !v.is_empty()).map(str::to_owned),
            signature,
        })
    }
}

/// Decodes `%XX` escapes and refuses a `%` that is not followed by two hex digits.
fn strict_percent_decode(value: &str) -> Result<Vec<u8>, SignatureHeaderError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(SignatureHeaderError::BadPercentEncoding)?;
            let hex =
                std::str::from_utf8(hex).map_err(|_| SignatureHeaderError::BadPercentEncoding)?;
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| SignatureHeaderError::BadPercentEncoding)?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Formats a `Signature` header value: `algorithm=RSA256,keyVersion=N,signature=<urlencoded base64>`.
pub fn format_header(key_version: &str, signature: &[u8]) -> String {
    let b64 = STANDARD.encode(signature);
    format!(
        "algorithm={ALGORITHM},keyVersion={key_version},signature={}",
        utf8_percent_encode(&b64, FORM_ENCODE)
    )
}

#[derive(Debug, thiserror::Error)]
#[error("RSA signing failed")]
pub struct SignError;

/// Our private key, ready to sign. Signing is constant-time (aws-lc).
pub struct Signer {
    key: RsaKeyPair,
    key_version: String,
    rng: SystemRandom,
    data_key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Takes an unencrypted PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8], key_version: impl Into<String>) -> anyhow::Result<Signer> {
        let key = RsaKeyPair::from_pkcs8(der)
            .map_err(|e| anyhow::anyhow!("the private key is not a usable RSA key: {e}"))?;
        Ok(Signer {
            key,
            key_version: key_version.into(),
            rng: SystemRandom::new(),
            data_key: derive_data_key(der)?,
        })
    }

    /// A 256-bit key for sealing data at rest (reviewers' TOTP secrets),
    /// derived from this private key with HKDF-SHA256: secret wherever the
    /// private key is, never in the database, and unrelated to signatures.
    pub fn data_key(&self) -> &[u8; 32] {
        &self.data_key
    }

    pub fn key_version(&self) -> &str {
        &self.key_version
    }

    /// A verifier for this key's signatures.
    pub fn verifier(&self) -> anyhow::Result<Verifier> {
        use aws_lc_rs::signature::KeyPair as _;
        Verifier::from_der(self.key.public_key().as_ref())
    }

    /// The raw SHA256withRSA signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
            .map_err(|_| SignError)?;
        Ok(sig)
    }

    /// The complete `Signature` header value for `message`.
    pub fn header_for(&self, message: &[u8]) -> Result<String, SignError> {
        Ok(format_header(&self.key_version, &self.sign(message)?))
    }
}

fn derive_data_key(der: &[u8]) -> anyhow::Result<[u8; 32]> {
    use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
    let prk = Salt::new(HKDF_SHA256, b"mpp-registrar").extract(der);
    let mut key = [0u8; 32];
    prk.expand(&[b"data key v1"], HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut key))
        .map_err(|_| anyhow::anyhow!("cannot derive the data key"))?;
    Ok(key)
}

/// A peer's public key, parsed once for fast verification.
#[derive(Clone)]
pub struct Verifier {
    key: ParsedPublicKey,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

impl Verifier {
    /// Takes a DER `RSAPublicKey` (PKCS#1) or SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> anyhow::Result<Verifier> {
        let key = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(|e| anyhow::anyhow!("the public key is not a usable RSA key: {e}"))?;
        Ok(Verifier { key })
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// The peer's public keys by `keyVersion` (rotation keeps several at once).
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: std::collections::BTreeMap<u32, Verifier>,
}

impl KeyRing {
    pub fn insert(&mut self, version: u32, verifier: Verifier) {
        self.keys.insert(version, verifier);
    }

    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    /// The key for `key_version`, or the newest key when the header named none.
    pub fn find(&self, key_version: Option<&str>) -> Option<&Verifier> {
        match key_version {
            Some(v) => v.trim().parse::<u32>().ok().and_then(|v| self.keys.get(&v)),
            None => self.keys.last_key_value().map(|(_, k)| k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_accepts_spaces_and_any_key_case() {
        let h = SignatureHeader::parse("Algorithm=rsa256, keyVersion=2,\tsignature=AAEC%2B%2F8%3D")
            .unwrap();
        assert_eq!(h.key_version.as_deref(), Some("2"));
        assert_eq!(h.signature, vec![0, 1, 2, 0xfb, 0xff]);
    }

    #[test]
    fn raw_plus_is_kept_and_missing_padding_accepted() {
        let h = SignatureHeader::parse("signature=AAEC+/8").unwrap();
        assert_eq!(h.key_version, None);
        assert_eq!(h.signature, vec![0, 1, 2, 0xfb, 0xff]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        use SignatureHeaderError::*;
        assert_eq!(SignatureHeader::parse(""), Err(MissingSignature));
        assert_eq!(
            SignatureHeader::parse("algorithm=RSA256,keyVersion=1"),
            Err(MissingSignature)
        );
        assert_eq!(SignatureHeader::parse("signature="), Err(MissingSignature));
        assert_eq!(
            SignatureHeader::parse("algorithm=ECC224,signature=AAAA"),
            Err(UnsupportedAlgorithm)
        );
        assert_eq!(
            SignatureHeader::parse("signature=AA%2"),
            Err(BadPercentEncoding)
        );
        assert_eq!(
            SignatureHeader::parse("signature=AA%zz"),
            Err(BadPercentEncoding)
        );
        assert_eq!(SignatureHeader::parse("signature=A!!A"), Err(BadBase64));
        assert_eq!(
            SignatureHeader::parse("keyVersion=1,signature=AAAA,Signature=BBBB"),
            Err(Repeated("signature"))
        );
        assert_eq!(
            SignatureHeader::parse("keyVersion=1,signature=AAAA,keyversion=2"),
            Err(Repeated("keyVersion"))
        );
    }

    #[test]
    fn formatted_headers_encode_only_base64_punctuation() {
        let header = format_header("1", &[0xfb, 0xff, 0xfe]);
        assert_eq!(
            header,
            "algorithm=RSA256,keyVersion=1,signature=%2B%2F%2F%2B"
        );
        let parsed = SignatureHeader::parse(&header).unwrap();
        assert_eq!(parsed.signature, vec![0xfb, 0xff, 0xfe]);
    }

    #[test]
    fn string_to_sign_has_the_documented_shape() {
        let s = string_to_sign("POST", "/a", "C", "T", b"{}");
        assert_eq!(s, b"POST /a\nC.T.{}");
    }
}
