//! CVSS vectors the desk enters (3.0, 3.1 and 4.0).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for version in [domain::cvss::CvssVersion::V3, domain::cvss::CvssVersion::V4] {
        let _ = domain::cvss::parse("cvss", text, version);
    }
});
