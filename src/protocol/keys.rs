//! Reading and writing RSA key files in every form Alipay+ material uses:
//! PKCS#8 or PKCS#1 PEM, SPKI PEM, or bare base64 DER. The `rsa` crate only
//! parses and converts here; all private-key operations go through aws-lc.

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::signature::{Signer, Verifier};

/// Parses a private key (PKCS#8 PEM, PKCS#1 PEM, or bare base64 of either DER)
/// into a signer that signs with `key_version` in its headers.
pub fn signer_from_text(text: &str, key_version: &str) -> anyhow::Result<Signer> {
    let key = private_key_from_text(text)?;
    let der = key
        .to_pkcs8_der()
        .context("cannot re-encode the private key")?;
    Signer::from_pkcs8_der(der.as_bytes(), key_version)
}

/// Parses a public key (SPKI PEM, PKCS#1 PEM, or bare base64 of either DER).
pub fn verifier_from_text(text: &str) -> anyhow::Result<Verifier> {
    let key = public_key_from_text(text)?;
    let der = key
        .to_pkcs1_der()
        .context("cannot re-encode the public key")?;
    Verifier::from_der(der.as_bytes())
}

/// Reads a private key file; the error names the file, never its content.
pub fn read_signer(path: &Path, key_version: &str) -> anyhow::Result<Signer> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    signer_from_text(&text, key_version)
        .with_context(|| format!("{} holds no usable RSA private key", path.display()))
}

/// Reads a public key file.
pub fn read_verifier(path: &Path) -> anyhow::Result<Verifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    verifier_from_text(&text)
        .with_context(|| format!("{} holds no usable RSA public key", path.display()))
}

fn private_key_from_text(text: &str) -> anyhow::Result<RsaPrivateKey> {
    let text = text.trim();
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs8_pem(text).context("invalid PKCS#8 PEM private key");
    }
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs1_pem(text).context("invalid PKCS#1 PEM private key");
    }
    if text.contains("-----BEGIN") {
        bail!(
            "unsupported PEM block (expected PRIVATE KEY or RSA PRIVATE KEY; encrypted keys are not supported)"
        );
    }
    let der = bare_base64(text)?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .context("base64 content is neither a PKCS#8 nor a PKCS#1 RSA private key")
}

fn public_key_from_text(text: &str) -> anyhow::Result<RsaPublicKey> {
    let text = text.trim();
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        return RsaPublicKey::from_public_key_pem(text).context("invalid SPKI PEM public key");
    }
    if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
        return RsaPublicKey::from_pkcs1_pem(text).context("invalid PKCS#1 PEM public key");
    }
    if text.contains("-----BEGIN") {
        bail!("unsupported PEM block (expected PUBLIC KEY or RSA PUBLIC KEY)");
    }
    let der = bare_base64(text)?;
    RsaPublicKey::from_public_key_der(&der)
        .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
        .context("base64 content is neither an SPKI nor a PKCS#1 RSA public key")
}

fn bare_base64(text: &str) -> anyhow::Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        bail!("the key file is empty");
    }
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .context("not PEM and not base64")
}

/// A freshly generated key pair as PEM text.
pub struct GeneratedKeyPair {
    /// PKCS#8 `BEGIN PRIVATE KEY`.
    pub private_pem: String,
    /// SubjectPublicKeyInfo `BEGIN PUBLIC KEY`.
    pub public_pem: String,
}

/// Generates a 2048-bit RSA key pair.
pub fn generate_key_pair() -> anyhow::Result<GeneratedKeyPair> {
    let key =
        RsaPrivateKey::new(&mut rand_core::OsRng, 2048).context("RSA key generation failed")?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .context("cannot encode the private key")?
        .to_string();
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .context("cannot encode the public key")?;
    Ok(GeneratedKeyPair {
        private_pem,
        public_pem,
    })
}

/// Writes `private_key.pem` (mode 0600) and `public_key.pem` into `dir`,
/// refusing to overwrite an existing private key.
pub fn write_key_pair(
    dir: &Path,
    pair: &GeneratedKeyPair,
    private_name: &str,
    public_name: &str,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let private_path = dir.join(private_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_path)
        .with_context(|| {
            format!(
                "cannot create {} (it must not exist yet)",
                private_path.display()
            )
        })?;
    file.write_all(pair.private_pem.as_bytes())?;
    let public_path = dir.join(public_name);
    std::fs::write(&public_path, &pair.public_pem)
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Reproduces the official test vectors (checked with Alipay's Python SDK
    //! and openssl) byte for byte, from every accepted key format.

    use super::*;
    use crate::protocol::signature::{SignatureHeader, string_to_sign};

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/test-vectors")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn text(name: &str) -> String {
        String::from_utf8(fixture(name)).unwrap()
    }

    fn vector(index: usize) -> serde_json::Value {
        let all: serde_json::Value = serde_json::from_slice(&fixture("vector.json")).unwrap();
        all["vectors"][index].clone()
    }

    fn check_vector(index: usize) {
        let v = vector(index);
        let body = fixture(v["bodyFile"].as_str().unwrap());
        let built = string_to_sign(
            v["httpMethod"].as_str().unwrap(),
            v["path"].as_str().unwrap(),
            v["clientId"].as_str().unwrap(),
            v["time"].as_str().unwrap(),
            &body,
        );
        assert_eq!(
            built,
            fixture(v["stringToSignFile"].as_str().unwrap()),
            "string-to-sign differs"
        );

        let b64_key = text("private_key_pkcs8.b64");
        let pkcs1_as_b64 = text("private_key_pkcs1.pem")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        for key_text in [
            text("private_key_pkcs8.pem"),
            text("private_key_pkcs1.pem"),
            b64_key,
            pkcs1_as_b64,
        ] {
            let signer = signer_from_text(&key_text, "1").unwrap();
            let header = signer.header_for(&built).unwrap();
            assert_eq!(
                header,
                v["signatureHeader"].as_str().unwrap(),
                "signature differs"
            );
        }

        for key_text in [text("public_key.pem"), text("public_key.b64")] {
            let verifier = verifier_from_text(&key_text).unwrap();
            let header = v["signatureHeader"].as_str().unwrap();
            let spaced = header.replace(',', ", ");
            for h in [header, spaced.as_str()] {
                let parsed = SignatureHeader::parse(h).unwrap();
                assert!(verifier.verify(&built, &parsed.signature));
            }
            let mut tampered = built.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            let parsed = SignatureHeader::parse(header).unwrap();
            assert!(
                !verifier.verify(&tampered, &parsed.signature),
                "a flipped body byte must not verify"
            );
        }
    }

    #[test]
    fn request_vector_is_reproduced_byte_for_byte() {
        check_vector(0);
    }

    #[test]
    fn response_vector_is_reproduced_byte_for_byte() {
        check_vector(1);
    }

    #[test]
    fn pkcs1_public_keys_are_accepted() {
        let key = public_key_from_text(&text("public_key.pem")).unwrap();
        let pem = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_pem(&key, LineEnding::LF).unwrap();
        assert!(verifier_from_text(&pem).is_ok());
    }

    #[test]
    fn garbage_keys_are_refused_without_echoing_them() {
        let err = signer_from_text(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----",
            "1",
        )
        .unwrap_err();
        assert!(!format!("{err:#}").contains("c2VjcmV0"));
        assert!(verifier_from_text("not a key").is_err());
        assert!(verifier_from_text("").is_err());
    }
}
