//! Message control (M2–M5): the rules a message policy template sets, and the one function that
//! decides what a reader may see of a message under them. Every path that can reveal content
//! (history, threads, search, live events, files, forwards) asks [`access`]; the clock and the
//! reader's network and device are passed in, so the decision is a pure function of its inputs.

use crate::device::DeviceKind;
use crate::{FieldError, Millis, Rule};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Most networks one template may list.
pub const MAX_NETWORKS: usize = 64;
/// Longest expiry or burn: a year and a day.
pub const MAX_SECONDS: u64 = 366 * 24 * 3600;
/// Longest template name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// The kinds of client a template can allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReaderDevice {
    Web,
    Desktop,
    Mobile,
    Api,
}

impl ReaderDevice {
    pub const ALL: [ReaderDevice; 4] =
        [ReaderDevice::Web, ReaderDevice::Desktop, ReaderDevice::Mobile, ReaderDevice::Api];

    /// The kind a session's device record counts as (the command-line client is an API client).
    pub fn of(kind: DeviceKind) -> ReaderDevice {
        match kind {
            DeviceKind::Browser => ReaderDevice::Web,
            DeviceKind::Desktop => ReaderDevice::Desktop,
            DeviceKind::Mobile => ReaderDevice::Mobile,
            DeviceKind::Api | DeviceKind::Cli => ReaderDevice::Api,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReaderDevice::Web => "web",
            ReaderDevice::Desktop => "desktop",
            ReaderDevice::Mobile => "mobile",
            ReaderDevice::Api => "api",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ReaderDevice::Web => "a web browser",
            ReaderDevice::Desktop => "the desktop app",
            ReaderDevice::Mobile => "a phone",
            ReaderDevice::Api => "an API client",
        }
    }
}

/// What a template sets. `None` in a list means "any"; an empty list (reached only by
/// combining two templates that share nothing) means "none". Times are milliseconds since the
/// epoch; durations are seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Not readable before this time.
    pub readable_from: Option<Millis>,
    /// Not readable after this time.
    pub readable_until: Option<Millis>,
    /// The message and its files are destroyed this long after sending.
    pub expire_after_seconds: Option<u64>,
    /// Each recipient sees the message concealed, reveals it, and loses it this long after.
    pub burn_after_seconds: Option<u64>,
    /// Readable only from these networks (stored as CIDR text, parsed once when read).
    pub networks: Option<Vec<ipnet::IpNet>>,
    /// Readable only on these kinds of client.
    pub devices: Option<Vec<ReaderDevice>>,
    /// Nobody may forward it (nor a copy of it).
    pub no_forward: bool,
    /// Clients disable selecting and copying its text; its file cannot be downloaded.
    pub no_copy: bool,
}

fn invalid(field: &str, rule: Rule, message: impl Into<String>) -> FieldError {
    FieldError::new(field, rule, message)
}

/// A template's name: 1 to 80 characters, no control characters.
pub fn name(raw: &str) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("name", Rule::Empty, "a template needs a name"));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(invalid("name", Rule::TooLong, format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    if trimmed.chars().any(crate::validate::is_hidden_character) {
        return Err(crate::validate::hidden_characters("name"));
    }
    Ok(trimmed.to_owned())
}

/// Parses networks as an admin wrote them, each naming its place in the list when it is wrong.
pub fn networks(raw: &[String]) -> Result<Vec<ipnet::IpNet>, FieldError> {
    raw.iter().enumerate().map(|(i, n)| network(&format!("networks[{i}]"), n)).collect()
}

/// Parses one network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a
/// single host) into its canonical form.
pub fn network(field: &str, raw: &str) -> Result<ipnet::IpNet, FieldError> {
    let raw = raw.trim();
    let parsed = raw.parse::<ipnet::IpNet>().ok().or_else(|| raw.parse::<IpAddr>().ok().map(ipnet::IpNet::from));
    parsed.map(|n| n.trunc()).ok_or_else(|| {
        invalid(field, Rule::InvalidValue, "must be an IPv4 or IPv6 network such as 10.0.0.0/8 or 2001:db8::/32")
    })
}

fn seconds(field: &str, value: Option<u64>) -> Result<(), FieldError> {
    match value {
        Some(0) => Err(invalid(field, Rule::InvalidValue, "must be at least one second")),
        Some(s) if s > MAX_SECONDS => Err(invalid(field, Rule::InvalidValue, "must be at most 366 days")),
        _ => Ok(()),
    }
}

impl Rules {
    /// Checks a template's rules as an admin wrote them and returns them in canonical form
    /// (networks truncated to their prefix and de-duplicated, devices sorted).
    pub fn checked(mut self, now: Millis) -> Result<Rules, FieldError> {
        if let (Some(from), Some(until)) = (self.readable_from, self.readable_until) {
            if until <= from {
                return Err(invalid("readable_until", Rule::InvalidValue, "the window must end after it starts"));
            }
        }
        if self.readable_until.is_some_and(|until| until <= now) {
            return Err(invalid("readable_until", Rule::InvalidValue, "the window has already ended"));
        }
        seconds("expire_after_seconds", self.expire_after_seconds)?;
        seconds("burn_after_seconds", self.burn_after_seconds)?;
        if let (Some(burn), Some(expire)) = (self.burn_after_seconds, self.expire_after_seconds) {
            if burn > expire {
                return Err(invalid(
                    "burn_after_seconds",
                    Rule::InvalidValue,
                    "must not be longer than expire_after_seconds: a message cannot outlive its expiry",
                ));
            }
        }
        if let Some(networks) = &self.networks {
            if networks.is_empty() {
                return Err(invalid("networks", Rule::Empty, "list at least one network, or leave the field out"));
            }
            if networks.len() > MAX_NETWORKS {
                return Err(invalid("networks", Rule::TooLong, format!("at most {MAX_NETWORKS} networks")));
            }
            let mut canonical: Vec<ipnet::IpNet> = Vec::with_capacity(networks.len());
            for n in networks.iter().map(ipnet::IpNet::trunc) {
                if !canonical.contains(&n) {
                    canonical.push(n);
                }
            }
            self.networks = Some(canonical);
        }
        if let Some(devices) = &mut self.devices {
            if devices.is_empty() {
                return Err(invalid(
                    "devices",
                    Rule::Empty,
                    "list at least one kind of device, or leave the field out",
                ));
            }
            if devices.len() > 4 {
                return Err(invalid("devices", Rule::TooLong, "at most the 4 kinds of device"));
            }
            devices.sort();
            devices.dedup();
        }
        Ok(self)
    }

    /// Whether the rules restrict who may read, beyond the actions (forward, copy).
    pub fn gates_reading(&self) -> bool {
        self.readable_from.is_some()
            || self.readable_until.is_some()
            || self.burn_after_seconds.is_some()
            || self.networks.is_some()
            || self.devices.is_some()
    }

    /// The rules a forwarded copy keeps: the stricter of each, so a copy never loosens what
    /// any of its ancestors set.
    pub fn strictest(&self, other: &Rules) -> Rules {
        fn min<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Rules {
            readable_from: match (self.readable_from, other.readable_from) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            readable_until: min(self.readable_until, other.readable_until),
            expire_after_seconds: min(self.expire_after_seconds, other.expire_after_seconds),
            burn_after_seconds: min(self.burn_after_seconds, other.burn_after_seconds),
            networks: match (&self.networks, &other.networks) {
                (Some(a), Some(b)) => Some(intersect_networks(a, b)),
                (a, b) => a.clone().or_else(|| b.clone()),
            },
            devices: match (&self.devices, &other.devices) {
                (Some(a), Some(b)) => Some(a.iter().copied().filter(|d| b.contains(d)).collect()),
                (a, b) => a.clone().or_else(|| b.clone()),
            },
            no_forward: self.no_forward || other.no_forward,
            no_copy: self.no_copy || other.no_copy,
        }
    }
}

/// The addresses both lists allow. Two prefixes either nest or do not meet, so the
/// intersection is every prefix of one list that lies inside some prefix of the other.
fn intersect_networks(a: &[ipnet::IpNet], b: &[ipnet::IpNet]) -> Vec<ipnet::IpNet> {
    let mut out: Vec<ipnet::IpNet> = Vec::new();
    for (from, within) in [(a, b), (b, a)] {
        for n in from {
            if within.iter().any(|w| w.contains(n)) && !out.contains(n) {
                out.push(*n);
            }
        }
    }
    out
}

/// Who is reading, from where, and when.
#[derive(Clone, Copy, Debug)]
pub struct Reader {
    /// The reader wrote these words (the original's author, whichever copy they read): an
    /// author always sees their own words. Whoever forwarded a copy is a reader like any other.
    pub is_author: bool,
    pub ip: Option<IpAddr>,
    pub device: ReaderDevice,
    pub now: Millis,
    /// When this reader's burn countdown ends, if they have revealed the message.
    pub burns_at: Option<Millis>,
}

/// What one reader may see of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The content, with the end of the reader's countdown for a burn-after-reading message.
    Readable { burns_at: Option<Millis> },
    /// Not for this reader now: a placeholder says why, and from when it opens if it will.
    Restricted { reason: String, opens_at: Option<Millis> },
    /// Burn after reading, not yet revealed by this reader.
    Concealed,
    /// Expired, or burned for this reader: nothing is shown.
    Gone,
}

fn minute(t: Millis) -> String {
    // "2026-12-05T09:00:00Z" → "2026-12-05 09:00 UTC": a sentence for people, not a timestamp.
    let text = t.rfc3339();
    format!("{} {} UTC", &text[..10.min(text.len())], text.get(11..16).unwrap_or_default())
}

/// Decides what `reader` may see of a message under `rules`, which expires at `expires_at`.
pub fn access(rules: &Rules, expires_at: Option<Millis>, reader: &Reader) -> Access {
    if expires_at.is_some_and(|at| at <= reader.now) {
        return Access::Gone;
    }
    if reader.is_author {
        return Access::Readable { burns_at: None };
    }
    if let Some(from) = rules.readable_from.filter(|from| reader.now < *from) {
        return Access::Restricted { reason: format!("readable from {}", minute(from)), opens_at: Some(from) };
    }
    if let Some(until) = rules.readable_until.filter(|until| reader.now >= *until) {
        return Access::Restricted { reason: format!("was readable until {}", minute(until)), opens_at: None };
    }
    if let Some(networks) = &rules.networks {
        let inside = reader.ip.is_some_and(|ip| {
            let ip = match ip {
                // An IPv4 client seen through an IPv6 socket is still that IPv4 client.
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            networks.iter().any(|n| n.contains(&ip))
        });
        if !inside {
            return Access::Restricted { reason: "readable only on the allowed networks".to_owned(), opens_at: None };
        }
    }
    if let Some(devices) = &rules.devices {
        if !devices.contains(&reader.device) {
            let allowed: Vec<&str> = devices.iter().map(|d| d.label()).collect();
            let reason = if allowed.is_empty() {
                "readable on no kind of device".to_owned()
            } else {
                format!("readable only on {}", allowed.join(" or "))
            };
            return Access::Restricted { reason, opens_at: None };
        }
    }
    if rules.burn_after_seconds.is_some() {
        return match reader.burns_at {
            None => Access::Concealed,
            Some(at) if at <= reader.now => Access::Gone,
            Some(at) => Access::Readable { burns_at: Some(at) },
        };
    }
    Access::Readable { burns_at: None }
}

/// When a message sent at `sent_at` under `rules` expires, never later than `inherited`
/// (the expiry of the message a copy was forwarded from).
pub fn expires_at(rules: &Rules, sent_at: Millis, inherited: Option<Millis>) -> Option<Millis> {
    let own = rules.expire_after_seconds.map(|s| Millis(sent_at.0.saturating_add(s as i64 * 1000)));
    match (own, inherited) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When a reader who reveals a message at `now` loses it: after the burn time, never after
/// the message expires.
pub fn burns_at(rules: &Rules, now: Millis, expires_at: Option<Millis>) -> Option<Millis> {
    let burn = Millis(now.0.saturating_add(rules.burn_after_seconds? as i64 * 1000));
    Some(expires_at.map_or(burn, |e| burn.min(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(now: i64) -> Reader {
        Reader {
            is_author: false,
            ip: Some("10.1.2.3".parse().unwrap()),
            device: ReaderDevice::Web,
            now: Millis(now),
            burns_at: None,
        }
    }

    #[test]
    fn a_window_opens_and_closes() {
        let rules =
            Rules { readable_from: Some(Millis(1_000)), readable_until: Some(Millis(2_000)), ..Rules::default() };
        assert!(matches!(access(&rules, None, &reader(999)), Access::Restricted { opens_at: Some(Millis(1_000)), .. }));
        assert_eq!(access(&rules, None, &reader(1_000)), Access::Readable { burns_at: None });
        assert!(matches!(access(&rules, None, &reader(2_000)), Access::Restricted { opens_at: None, .. }));
        // The author is never locked out of their own words, but expiry takes it from them too.
        let author = Reader { is_author: true, ..reader(500) };
        assert_eq!(access(&rules, None, &author), Access::Readable { burns_at: None });
        assert_eq!(access(&rules, Some(Millis(400)), &author), Access::Gone);
    }

    #[test]
    fn networks_and_devices_gate_reading() {
        let list = networks(&["10.0.0.0/8".into(), "2001:db8::/32".into()]).unwrap();
        let rules = Rules { networks: Some(list), ..Rules::default() };
        assert_eq!(access(&rules, None, &reader(0)), Access::Readable { burns_at: None });
        let outside = Reader { ip: Some("192.0.2.1".parse().unwrap()), ..reader(0) };
        assert!(matches!(access(&rules, None, &outside), Access::Restricted { .. }));
        let mapped = Reader { ip: Some("::ffff:10.9.9.9".parse().unwrap()), ..reader(0) };
        assert_eq!(access(&rules, None, &mapped), Access::Readable { burns_at: None });
        let unknown = Reader { ip: None, ..reader(0) };
        assert!(matches!(access(&rules, None, &unknown), Access::Restricted { .. }));
        let rules = Rules { devices: Some(vec![ReaderDevice::Mobile]), ..Rules::default() };
        match access(&rules, None, &reader(0)) {
            Access::Restricted { reason, .. } => assert_eq!(reason, "readable only on a phone"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn burn_after_reading_conceals_then_counts_down() {
        let rules = Rules { burn_after_seconds: Some(10), expire_after_seconds: Some(60), ..Rules::default() };
        assert_eq!(access(&rules, None, &reader(0)), Access::Concealed);
        let revealed = Reader { burns_at: burns_at(&rules, Millis(0), Some(Millis(60_000))), ..reader(5_000) };
        assert_eq!(access(&rules, None, &revealed), Access::Readable { burns_at: Some(Millis(10_000)) });
        assert_eq!(access(&rules, None, &Reader { now: Millis(10_000), ..revealed }), Access::Gone);
        // Revealed just before expiry: the countdown stops at the expiry.
        assert_eq!(burns_at(&rules, Millis(55_000), Some(Millis(60_000))), Some(Millis(60_000)));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let now = Millis(10_000);
        let check = |r: Rules| r.checked(now).unwrap_err().field;
        assert_eq!(
            check(Rules {
                readable_from: Some(Millis(50_000)),
                readable_until: Some(Millis(40_000)),
                ..Rules::default()
            }),
            "readable_until"
        );
        assert_eq!(check(Rules { readable_until: Some(Millis(5_000)), ..Rules::default() }), "readable_until");
        assert_eq!(
            check(Rules { burn_after_seconds: Some(120), expire_after_seconds: Some(60), ..Rules::default() }),
            "burn_after_seconds"
        );
        assert_eq!(check(Rules { expire_after_seconds: Some(0), ..Rules::default() }), "expire_after_seconds");
        assert_eq!(networks(&["10.0.0.0/8".into(), "10.0.0.300/8".into()]).unwrap_err().field, "networks[1]");
        assert_eq!(check(Rules { networks: Some(vec![]), ..Rules::default() }), "networks");
        assert_eq!(check(Rules { devices: Some(vec![]), ..Rules::default() }), "devices");
        let parsed = networks(&["10.1.2.3/8".into(), "10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap();
        let ok = Rules { networks: Some(parsed), ..Rules::default() }.checked(now).unwrap();
        let text: Vec<String> = ok.networks.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(text, ["10.0.0.0/8", "192.0.2.7/32"]);
    }

    #[test]
    fn a_copy_keeps_the_strictest_rules() {
        let a = Rules {
            networks: Some(networks(&["10.0.0.0/8".into()]).unwrap()),
            devices: Some(vec![ReaderDevice::Web, ReaderDevice::Mobile]),
            expire_after_seconds: Some(600),
            readable_from: Some(Millis(1_000)),
            ..Rules::default()
        };
        let b = Rules {
            networks: Some(networks(&["10.20.0.0/16".into(), "192.0.2.0/24".into()]).unwrap()),
            devices: Some(vec![ReaderDevice::Mobile]),
            expire_after_seconds: Some(60),
            readable_from: Some(Millis(500)),
            no_forward: true,
            ..Rules::default()
        };
        let s = a.strictest(&b);
        assert_eq!(s.networks, Some(networks(&["10.20.0.0/16".into()]).unwrap()));
        assert_eq!(s.devices, Some(vec![ReaderDevice::Mobile]));
        assert_eq!(s.expire_after_seconds, Some(60));
        assert_eq!(s.readable_from, Some(Millis(1_000)));
        assert!(s.no_forward);
        assert_eq!(a.strictest(&Rules::default()), a);
        // Nothing in common: nobody may read, rather than everybody.
        let c = Rules { devices: Some(vec![ReaderDevice::Api]), ..Rules::default() };
        assert_eq!(a.strictest(&c).devices, Some(vec![]));
    }
}
