//! One-time codes (A3): RFC 6238 TOTP with HMAC-SHA1, 6 digits, 30-second steps, as every
//! authenticator app reads them from an `otpauth://` URI. Verification returns the matching time
//! step so the caller can refuse a code that was already used.

use aws_lc_rs::hmac;

pub const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps accepted either side of now, for clock drift between phone and server.
const WINDOW: i64 = 1;

/// A TOTP secret: 160 random bits, as RFC 4226 recommends.
pub struct TotpSecret([u8; 20]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        TotpSecret(crate::random_bytes::<20>())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<TotpSecret> {
        bytes.try_into().ok().map(TotpSecret)
    }

    /// Reads the base32 form an authenticator app is given (spaces and case ignored).
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let (mut bytes, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c.to_ascii_uppercase())? as u32;
            buffer = (buffer << 5) | value;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((buffer >> bits) as u8);
                buffer &= (1 << bits) - 1;
            }
        }
        TotpSecret::from_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, as authenticator apps expect.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The code for time step `step` (Unix seconds / 30).
    pub fn code_at_step(&self, step: i64) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0), &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = (mac[mac.len() - 1] & 0x0F) as usize;
        let binary = u32::from_be_bytes([mac[offset] & 0x7F, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
        format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize)
    }

    /// The time step whose code is `code`, within one step of `now` (Unix seconds).
    pub fn verify(&self, code: &str, now: i64) -> Option<i64> {
        let code = code.trim().replace(' ', "");
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.div_euclid(STEP_SECONDS);
        let mut found = None;
        // Check every step in the window, so timing does not tell which one matched.
        for step in current - WINDOW..=current + WINDOW {
            if crate::ct_eq(self.code_at_step(step).as_bytes(), code.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI an authenticator app scans.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent(issuer),
            percent(account),
            self.base32(),
            percent(issuer)
        )
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (String::new(), 0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Ten single-use recovery codes of 10 characters (about 50 bits each), grouped for reading.
pub fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let raw = base32(&crate::random_bytes::<7>()).to_lowercase();
            format!("{}-{}", &raw[..5], &raw[5..10])
        })
        .collect()
}

/// How a recovery code is stored: SHA-256 of its normalised form (50 random bits, single use,
/// behind the password: a slow hash would add little).
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let normalised: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    crate::token::hash(&normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to 6 digits.
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (time, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(secret.code_at_step(time / STEP_SECONDS), code, "t={time}");
        }
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap().as_bytes(),
            secret.as_bytes()
        );
    }

    #[test]
    fn verification_accepts_one_step_of_drift_and_names_the_step() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let step = now / STEP_SECONDS;
        assert_eq!(secret.verify(&secret.code_at_step(step), now), Some(step));
        assert_eq!(secret.verify(&secret.code_at_step(step - 1), now), Some(step - 1));
        assert_eq!(secret.verify(&secret.code_at_step(step + 2), now), None);
        assert_eq!(secret.verify("12345", now), None);
        assert_eq!(secret.verify("abcdef", now), None);
        assert!(secret
            .otpauth_uri("Acme Corp", "ada@acme.example")
            .starts_with("otpauth://totp/Acme%20Corp:ada@acme.example?secret="));
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(recovery_code_hash(&codes[0].to_uppercase()), recovery_code_hash(&codes[0].replace('-', "")));
    }
}
