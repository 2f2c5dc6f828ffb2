//! The trusted-proxy CIDR list from configuration (first line, comma-separated) and the
//! `X-Forwarded-For` chain it is applied to (the rest).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (cidrs, chain) = text.split_once('\n').unwrap_or((text, ""));
    let entries: Vec<&str> = cidrs.split(',').collect();
    let Ok(proxies) = http_api::proxy::TrustedProxies::parse(&entries) else { return };
    let peer = std::net::IpAddr::from([203, 0, 113, 5]);
    let _ = proxies.client_ip(peer, chain.split(','));
});
