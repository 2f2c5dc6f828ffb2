//! The `User-Agent` parser that names a session's device.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = domain::device::describe(text);
});
