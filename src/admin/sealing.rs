//! Secrets at rest (TOTP secrets): AES-256-GCM with a random nonce, bound to
//! the row they belong to by the associated data, stored as
//! `nonce || ciphertext || tag`. A database dump alone opens nothing.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

pub struct SecretBox {
    key: LessSafeKey,
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> anyhow::Result<SecretBox> {
        let key = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| anyhow::anyhow!("cannot make the sealing key"))?;
        Ok(SecretBox {
            key: LessSafeKey::new(key),
        })
    }

    pub fn seal(&self, plain: &[u8], bound_to: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound_to),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// `None` when the box was sealed with another key (the private key was
    /// rotated) or for another row, or was tampered with.
    pub fn open(&self, sealed: &[u8], bound_to: &[u8]) -> Option<Vec<u8>> {
        let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(bound_to), &mut buffer)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::SecretBox;

    #[test]
    fn sealed_secrets_open_only_for_their_row_and_key() {
        let boxed = SecretBox::new(&[1; 32]).unwrap();
        let sealed = boxed.seal(b"secret", b"user 7").unwrap();
        assert_eq!(boxed.open(&sealed, b"user 7").unwrap(), b"secret");
        assert!(boxed.open(&sealed, b"user 8").is_none());
        assert!(
            SecretBox::new(&[2; 32])
                .unwrap()
                .open(&sealed, b"user 7")
                .is_none()
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(boxed.open(&tampered, b"user 7").is_none());
    }
}
