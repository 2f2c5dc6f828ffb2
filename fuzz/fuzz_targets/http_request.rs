//! JSON request bodies through the strict extractor, the report intake's multipart and
//! urlencoded forms, SAML responses at the assertion consumer, and the `X-Forwarded-For` and
//! `User-Agent` headers: whole requests through the whole application (see `src/lib.rs`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| conclave_fuzz::request(data));
