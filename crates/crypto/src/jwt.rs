//! Verifying ID tokens (A2): compact JWS signatures with RS256 or ES256 against a provider's
//! JSON Web Keys. Claims checks (issuer, audience, expiry, nonce) belong to the caller; this
//! module only answers "did the key with this id sign exactly these bytes".

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a signed JWT")]
    Malformed,
    #[error("the token's algorithm {0:?} is not accepted (RS256 or ES256)")]
    Algorithm(String),
    #[error("no key of the provider has the id {0:?}")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
}

/// A token split into its parts, before its signature is checked.
pub struct Unverified {
    pub alg: String,
    pub kid: String,
    signed: String,
    signature: Vec<u8>,
    pub claims: serde_json::Value,
}

pub fn parse(token: &str) -> Result<Unverified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let decode = |x: &str| B64URL.decode(x).map_err(|_| JwtError::Malformed);
    let header: serde_json::Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: serde_json::Value = serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)?;
    Ok(Unverified {
        alg: header["alg"].as_str().unwrap_or("").to_owned(),
        kid: header["kid"].as_str().unwrap_or("").to_owned(),
        signed: format!("{h}.{p}"),
        signature: decode(s)?,
        claims,
    })
}

impl Unverified {
    /// Verifies the signature with the key in `jwks` (a JWK Set) whose `kid` the token names.
    pub fn verify(self, jwks: &serde_json::Value) -> Result<serde_json::Value, JwtError> {
        if self.alg != "RS256" && self.alg != "ES256" {
            return Err(JwtError::Algorithm(self.alg));
        }
        let keys = jwks["keys"].as_array().ok_or(JwtError::UnknownKey(self.kid.clone()))?;
        let key = keys
            .iter()
            .find(|k| k["kid"].as_str() == Some(self.kid.as_str()) && k["use"].as_str().is_none_or(|u| u == "sig"))
            .ok_or_else(|| JwtError::UnknownKey(self.kid.clone()))?;
        let field = |name: &str| key[name].as_str().and_then(|v| B64URL.decode(v).ok()).ok_or(JwtError::BadSignature);
        let ok = match (self.alg.as_str(), key["kty"].as_str()) {
            ("RS256", Some("RSA")) => RsaPublicKeyComponents { n: field("n")?, e: field("e")? }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, self.signed.as_bytes(), &self.signature)
                .is_ok(),
            ("ES256", Some("EC")) if key["crv"].as_str() == Some("P-256") => {
                let mut point = vec![0x04];
                point.extend(field("x")?);
                point.extend(field("y")?);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(self.signed.as_bytes(), &self.signature)
                    .is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(self.claims)
        } else {
            Err(JwtError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};

    /// A provider's RSA key: signs tokens and publishes itself as a JWK with `kid`.
    struct TestKey(RsaKeyPair, &'static str);

    impl TestKey {
        fn new(kid: &'static str) -> TestKey {
            TestKey(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(), kid)
        }
        fn jwk(&self) -> serde_json::Value {
            let public = self.0.public_key();
            let (n, e) = (public.modulus(), public.exponent());
            serde_json::json!({
                "kty": "RSA", "kid": self.1, "use": "sig",
                "n": B64URL.encode(n.big_endian_without_leading_zero()),
                "e": B64URL.encode(e.big_endian_without_leading_zero()),
            })
        }
        fn sign(&self, kid: &str, claims: &serde_json::Value) -> String {
            let header = B64URL.encode(serde_json::json!({ "alg": "RS256", "kid": kid }).to_string());
            let body = B64URL.encode(claims.to_string());
            let signed = format!("{header}.{body}");
            let mut sig = vec![0; self.0.public_modulus_len()];
            self.0.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), signed.as_bytes(), &mut sig).unwrap();
            format!("{signed}.{}", B64URL.encode(sig))
        }
    }

    #[test]
    fn signatures_verify_with_the_named_key_only() {
        let (one, two) = (TestKey::new("one"), TestKey::new("two"));
        let jwks = serde_json::json!({ "keys": [one.jwk()] });
        let claims = serde_json::json!({ "sub": "ada" });
        assert_eq!(parse(&one.sign("one", &claims)).unwrap().verify(&jwks).unwrap(), claims);
        assert_eq!(parse(&two.sign("one", &claims)).unwrap().verify(&jwks).err(), Some(JwtError::BadSignature));
        assert_eq!(
            parse(&two.sign("two", &claims)).unwrap().verify(&jwks).err(),
            Some(JwtError::UnknownKey("two".into()))
        );
        let token = one.sign("one", &claims);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = B64URL.encode(br#"{"sub":"root"}"#);
        parts[1] = &forged;
        assert_eq!(
            parse(&parts.join(".")).unwrap().verify(&jwks).err(),
            Some(JwtError::BadSignature),
            "a changed claim"
        );
    }

    #[test]
    fn malformed_tokens_and_unknown_algorithms_are_refused() {
        assert_eq!(parse("a.b").err(), Some(JwtError::Malformed));
        let header = B64URL.encode(br#"{"alg":"none","kid":"k"}"#);
        let body = B64URL.encode(br#"{"sub":"x"}"#);
        let token = parse(&format!("{header}.{body}.")).unwrap();
        assert_eq!(token.verify(&serde_json::json!({ "keys": [] })).err(), Some(JwtError::Algorithm("none".into())));
        let header = B64URL.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let token = parse(&format!("{header}.{body}.AAAA")).unwrap();
        assert_eq!(token.verify(&serde_json::json!({ "keys": [] })).err(), Some(JwtError::UnknownKey("k".into())));
    }
}
