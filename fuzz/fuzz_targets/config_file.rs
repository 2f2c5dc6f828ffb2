//! The configuration file (`--config`), parsed and checked as `conclave serve` does.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(file) = toml::from_str::<conclave::config::FileConfig>(text) {
        let _ = conclave::config::Config::resolve_with(&conclave::config::Overrides::default(), file);
    }
});
