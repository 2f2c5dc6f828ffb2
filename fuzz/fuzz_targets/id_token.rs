//! ID tokens and JWK sets from an OpenID provider: the first line is the token, the rest the key
//! set as JSON.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (token, jwks) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(jwks) = serde_json::from_str::<serde_json::Value>(jwks) else {
        let _ = crypto::jwt::parse(token);
        return;
    };
    if let Ok(unverified) = crypto::jwt::parse(token) {
        let _ = unverified.verify(&jwks);
    }
});
