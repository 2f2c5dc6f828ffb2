//! SAML identity-provider metadata an admin uploads or the server fetches. (Responses at the
//! assertion consumer go through `http_request`.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = services::identity::sso::saml::parse_idp_metadata(text);
});
