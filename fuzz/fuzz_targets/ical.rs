//! iCalendar holiday files uploaded to the desk's working-day calendar.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = services::desk::calendar::holidays_from_ics(text);
});
