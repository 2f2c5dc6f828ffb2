//! Device records: what kind of client a session was opened from, named from its user agent so a
//! person recognises it in their device list ("Firefox on Linux").

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Browser,
    /// The desktop app (an Electron shell around the web client).
    Desktop,
    Mobile,
    Api,
    Cli,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Browser => "browser",
            DeviceKind::Desktop => "desktop",
            DeviceKind::Mobile => "mobile",
            DeviceKind::Api => "api",
            DeviceKind::Cli => "cli",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        [DeviceKind::Browser, DeviceKind::Desktop, DeviceKind::Mobile, DeviceKind::Api, DeviceKind::Cli]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Longest user-agent string kept; longer ones are cut, never rejected.
const MAX_USER_AGENT_BYTES: usize = 512;

/// Classifies a user agent and gives it a short human name.
pub fn describe(user_agent: &str) -> (DeviceKind, String) {
    let ua = truncate(user_agent, MAX_USER_AGENT_BYTES);
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| name);
    let mobile = ua.contains("Mobile") || ua.contains("Android") || ua.contains("iPhone");
    match (browser, os) {
        // Electron shells also name Chrome; the desktop app says so with its own product token.
        (Some(_), Some(o)) if ua.contains("Electron/") => (DeviceKind::Desktop, format!("Desktop app on {o}")),
        (Some(b), Some(o)) => (if mobile { DeviceKind::Mobile } else { DeviceKind::Browser }, format!("{b} on {o}")),
        (Some(b), None) => (DeviceKind::Browser, b.to_owned()),
        (None, _) if ua.starts_with("conclave-cli") => (DeviceKind::Cli, "Conclave CLI".to_owned()),
        (None, _) if ua.is_empty() => (DeviceKind::Api, "API client".to_owned()),
        (None, _) => {
            let product = ua.split([' ', '/']).next().unwrap_or("API client");
            (DeviceKind::Api, truncate(product, 60).to_owned())
        }
    }
}

fn truncate(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_user_agents_get_readable_names() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe(firefox), (DeviceKind::Browser, "Firefox on Linux".into()));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(iphone), (DeviceKind::Mobile, "Safari on iOS".into()));
        assert_eq!(describe("curl/8.5.0"), (DeviceKind::Api, "curl".into()));
        assert_eq!(describe(""), (DeviceKind::Api, "API client".into()));
        assert_eq!(describe(&"é".repeat(400)).0, DeviceKind::Api);
    }
}
