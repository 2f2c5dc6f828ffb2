//! Bearer secrets: session tokens and CSRF tokens. 256 random bits, base64url without padding.
//! The store keeps only their SHA-256: the tokens carry full entropy, so a slow hash adds nothing,
//! and a leaked database cannot be replayed as sessions.

use base64::Engine as _;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn generate() -> String {
    B64URL.encode(crate::random_bytes::<32>())
}

/// 128 random bits, for codes people must type (receipt codes are formatted by `domain::desk`).
pub fn random_128() -> [u8; 16] {
    crate::random_bytes::<16>()
}

/// The PKCE S256 code challenge of a verifier (RFC 7636): base64url of its SHA-256.
pub fn pkce_challenge(verifier: &str) -> String {
    B64URL.encode(hash(verifier))
}

pub fn hash(token: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

/// The CSRF token that goes with a session token: derived, so it needs no storage, and
/// unguessable without the session token, which the browser keeps in an HttpOnly cookie that
/// script (and so a cross-site attacker) cannot read.
pub fn csrf_for(session_token: &str) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("conclave-csrf\0{session_token}").as_bytes());
    B64URL.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_unique_and_url_safe() {
        let a = super::generate();
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, super::generate());
        assert_eq!(super::hash(&a), super::hash(&a));
        assert_eq!(super::csrf_for(&a), super::csrf_for(&a));
        assert_ne!(super::csrf_for(&a), super::csrf_for(&super::generate()));
    }
}
