//! What a WebSocket client may send: the one client message the server accepts is a ping.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = http_api::live::is_client_ping(text);
});
