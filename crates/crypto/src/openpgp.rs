//! The organisation's OpenPGP key (D2), on rPGP: generate or import it, publish its public half
//! (armoured for the Encryption URL and HKP, binary for WKD), cleartext-sign security.txt, and
//! decrypt reports that finders encrypted to it.
//!
//! Keys are made as v4 keys with the "legacy" Ed25519 / Cv25519 algorithm ids, because those are
//! what GnuPG 2.2 and 2.4 (what finders actually run) read; RSA 4096 is offered for
//! organisations whose policy asks for it. The private key never leaves this module except as
//! armoured text that the caller seals under envelope encryption before storing it.

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable as _, EncryptionCaps, KeyType, Message, MessageBuilder,
    SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{PacketTrait as _, SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize as _;
use pgp::types::{CompressionAlgorithm, KeyDetails as _, Password, Timestamp};

/// Why an OpenPGP operation failed, in words a security team (or a finder) can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PgpError {
    #[error("this is not an OpenPGP message or key ({0})")]
    NotOpenPgp(String),
    #[error("the message is encrypted to a different key, not to this organisation's key")]
    NotForThisKey,
    #[error("this is a public key; import the private (secret) key so reports can be decrypted")]
    PublicKeyOnly,
    #[error("the key expired on {0}; extend its expiry or generate a new key")]
    Expired(String),
    #[error("the key has no subkey that can encrypt, so finders could not encrypt reports to it")]
    NoEncryptionSubkey,
    #[error("the key's secret material is protected by a passphrase; remove it before importing (the server seals the key itself)")]
    Passphrase,
    #[error("unsupported key: {0}")]
    Unsupported(String),
    #[error("the key does not verify: {0}")]
    Invalid(String),
    #[error("the decrypted message is larger than {0} bytes")]
    TooLarge(usize),
}

/// Which kind of key to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 signing key with a Cv25519 encryption subkey (the default).
    Ed25519,
    /// RSA 4096 signing key with an RSA 4096 encryption subkey.
    Rsa4096,
}

/// Facts about a key, for pages, security.txt, HKP and the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// 40 upper-case hex digits.
    pub fingerprint: String,
    /// The low 64 bits of the fingerprint, 16 upper-case hex digits.
    pub key_id: String,
    /// "ed25519" or "rsa4096" style, for people.
    pub algorithm: String,
    /// The OpenPGP public-key algorithm number (HKP index output).
    pub algorithm_id: u8,
    pub bits: u32,
    pub user_ids: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` when the key never expires.
    pub expires_at: Option<i64>,
}

/// The organisation's key pair.
pub struct OrgKey {
    secret: SignedSecretKey,
    public: SignedPublicKey,
}

impl std::fmt::Debug for OrgKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OrgKey({})", self.info().fingerprint)
    }
}

fn invalid(e: impl std::fmt::Display) -> PgpError {
    PgpError::Invalid(our_words(&e.to_string()))
}

/// What a library error may contribute to a message people read: its first clause, cut short.
/// The library's text can carry a debug dump of the input (kilobytes of byte values echoed
/// back); nothing after a bracket, brace or colon, and nothing past 80 characters, is kept.
fn our_words(library: &str) -> String {
    let clause = library.split(['[', '{', ':', '\n']).next().unwrap_or("").trim();
    let short: String = clause.chars().take(80).collect();
    if short.is_empty() {
        "it could not be read".to_owned()
    } else {
        short
    }
}

/// A part of an OpenPGP text that could not be read, in our words.
fn unreadable(what: &'static str) -> impl Fn(pgp::errors::Error) -> PgpError {
    move |_| PgpError::NotOpenPgp(what.to_owned())
}

impl OrgKey {
    /// Generates a key for `user_id` ("Security Team <security@example.org>") valid for `days`.
    pub fn generate(user_id: &str, algorithm: KeyAlgorithm, days: u32) -> Result<OrgKey, PgpError> {
        let mut rng = rand08::thread_rng();
        let (primary, encryption) = match algorithm {
            KeyAlgorithm::Ed25519 => (KeyType::Ed25519Legacy, KeyType::ECDH(ECCCurve::Curve25519Legacy)),
            KeyAlgorithm::Rsa4096 => (KeyType::Rsa(4096), KeyType::Rsa(4096)),
        };
        let subkey = SubkeyParamsBuilder::default()
            .key_type(encryption)
            .can_sign(false)
            .can_encrypt(EncryptionCaps::All)
            .build()
            .map_err(invalid)?;
        let params = SecretKeyParamsBuilder::default()
            .key_type(primary)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.to_owned())
            .preferred_symmetric_algorithms(
                vec![SymmetricKeyAlgorithm::AES256, SymmetricKeyAlgorithm::AES192, SymmetricKeyAlgorithm::AES128]
                    .into(),
            )
            .preferred_hash_algorithms(vec![HashAlgorithm::Sha512, HashAlgorithm::Sha256].into())
            .preferred_compression_algorithms(vec![CompressionAlgorithm::ZLIB, CompressionAlgorithm::ZIP].into())
            .subkey(subkey)
            .build()
            .map_err(invalid)?;
        let mut secret = params.generate(&mut rng).map_err(invalid)?;
        set_expiry(&mut secret, days.saturating_mul(86_400))?;
        secret.verify_bindings().map_err(invalid)?;
        let public = secret.to_public_key();
        Ok(OrgKey { secret, public })
    }

    /// Imports an armoured secret key the security team already has, checking that it can serve:
    /// secret (not public), unprotected, unexpired at `now` (Unix seconds), with a subkey that
    /// can encrypt, and with bindings that verify.
    pub fn import(armored: &str, now: i64) -> Result<OrgKey, PgpError> {
        let text = armored.trim();
        if text.contains("BEGIN PGP PUBLIC KEY BLOCK") {
            return Err(PgpError::PublicKeyOnly);
        }
        if !text.contains("BEGIN PGP PRIVATE KEY BLOCK") {
            return Err(PgpError::NotOpenPgp("expected an ASCII-armoured private key block".into()));
        }
        let (secret, _) =
            SignedSecretKey::from_string(text).map_err(unreadable("its armour or packets could not be read"))?;
        secret.verify_bindings().map_err(invalid)?;
        if secret.primary_key.secret_params().is_encrypted()
            || secret.secret_subkeys.iter().any(|s| s.key.secret_params().is_encrypted())
        {
            return Err(PgpError::Passphrase);
        }
        let key = OrgKey { public: secret.to_public_key(), secret };
        let info = key.info();
        if let Some(expiry) = info.expires_at {
            if expiry <= now {
                return Err(PgpError::Expired(format_day(expiry)));
            }
        }
        if !key.can_encrypt() {
            return Err(PgpError::NoEncryptionSubkey);
        }
        Ok(key)
    }

    /// Reads back a key this module produced (from the store, after unsealing).
    pub fn from_secret_armor(armored: &str) -> Result<OrgKey, PgpError> {
        let (secret, _) =
            SignedSecretKey::from_string(armored).map_err(unreadable("its armour or packets could not be read"))?;
        Ok(OrgKey { public: secret.to_public_key(), secret })
    }

    fn can_encrypt(&self) -> bool {
        self.public.public_subkeys.iter().any(|sub| {
            sub.algorithm().can_encrypt()
                && sub.signatures.iter().any(|s| {
                    let flags = s.key_flags();
                    flags.encrypt_comms() || flags.encrypt_storage()
                })
        })
    }

    pub fn secret_armored(&self) -> String {
        self.secret.to_armored_string(ArmorOptions::default()).expect("a generated key serialises")
    }

    pub fn public_armored(&self) -> String {
        self.public.to_armored_string(ArmorOptions::default()).expect("a public key serialises")
    }

    /// The binary transferable public key, as WKD serves it.
    pub fn public_binary(&self) -> Vec<u8> {
        self.public.to_bytes().expect("a public key serialises")
    }

    pub fn info(&self) -> KeyInfo {
        let created_at = i64::from(self.public.created_at().as_secs());
        let expires_at = self
            .public
            .details
            .users
            .iter()
            .flat_map(|u| &u.signatures)
            .filter_map(|s| s.key_expiration_time())
            .map(|d| d.as_secs())
            .filter(|d| *d != 0)
            .max()
            .map(|d| created_at + i64::from(d));
        let algorithm_id = u8::from(self.public.algorithm());
        let bits = public_bits(&self.public);
        let algorithm = match algorithm_id {
            1..=3 => format!("rsa{bits}"),
            22 | 27 => "ed25519".to_owned(),
            other => format!("algorithm-{other}"),
        };
        let fingerprint = hex::encode_upper(self.public.fingerprint().as_bytes());
        KeyInfo {
            key_id: fingerprint[fingerprint.len() - 16..].to_owned(),
            fingerprint,
            algorithm,
            algorithm_id,
            bits,
            user_ids: self
                .public
                .details
                .users
                .iter()
                .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
                .collect(),
            created_at,
            expires_at,
        }
    }

    /// A cleartext signature over `text` (RFC 9580 section 7), as `gpg --verify` reads it.
    /// Trailing white space is dropped from each line first: verifiers ignore it, so signing it
    /// would make the signature fail.
    pub fn clearsign(&self, text: &str) -> String {
        let text: String = text.lines().map(|l| l.trim_end_matches([' ', '\t'])).collect::<Vec<_>>().join("\n") + "\n";
        let signed =
            CleartextSignedMessage::sign(rand08::thread_rng(), &text, &self.secret.primary_key, &Password::empty())
                .expect("signing with an unprotected key succeeds");
        signed.to_armored_string(ArmorOptions::default()).expect("a signed message serialises")
    }

    /// Decrypts an ASCII-armoured message encrypted to this key (or to one of its subkeys).
    /// Reads at most `max_bytes` of plaintext: a small compressed message can expand without
    /// bound, so a larger plaintext is refused before it is held in memory.
    pub fn decrypt(&self, armored: &str, max_bytes: usize) -> Result<Vec<u8>, PgpError> {
        let text = armored.trim();
        if !text.starts_with("-----BEGIN PGP MESSAGE-----") {
            return Err(PgpError::NotOpenPgp("expected an ASCII-armoured PGP MESSAGE block".into()));
        }
        let (message, _) = Message::from_string(text).map_err(unreadable("its armour or packets could not be read"))?;
        if !message.is_encrypted() {
            return Err(PgpError::NotOpenPgp("the message is not encrypted".into()));
        }
        let mut plain = message.decrypt(&Password::empty(), &self.secret).map_err(|e| match e {
            pgp::errors::Error::MissingKey => PgpError::NotForThisKey,
            _ => PgpError::NotOpenPgp("it could not be decrypted".to_owned()),
        })?;
        if plain.is_compressed() {
            plain = plain.decompress().map_err(unreadable("its compressed data could not be read"))?;
            if plain.is_compressed() {
                return Err(PgpError::NotOpenPgp("compressed data inside compressed data is refused".into()));
            }
        }
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut plain, max_bytes as u64 + 1), &mut out)
            .map_err(|_| PgpError::NotOpenPgp("its decrypted data could not be read".to_owned()))?;
        if out.len() > max_bytes {
            return Err(PgpError::TooLarge(max_bytes));
        }
        Ok(out)
    }
}

/// Re-signs each user id's self-certification with a key expiration time (rPGP's builder does
/// not set one), so published keys carry the expiry that security.txt and the console show.
fn set_expiry(secret: &mut SignedSecretKey, seconds: u32) -> Result<(), PgpError> {
    let mut rng = rand08::thread_rng();
    let SignedSecretKey { primary_key, details, .. } = secret;
    for user in details.users.iter_mut() {
        let old = user.signatures[0].config().ok_or_else(|| invalid("no v4 self-signature"))?.clone();
        let mut config =
            SignatureConfig::from_key(&mut rng, &*primary_key, SignatureType::CertPositive).map_err(invalid)?;
        config.hashed_subpackets = old
            .hashed_subpackets
            .into_iter()
            .filter(|p| {
                !matches!(p.data, SubpacketData::SignatureCreationTime(_) | SubpacketData::KeyExpirationTime(_))
            })
            .collect();
        config
            .hashed_subpackets
            .insert(0, Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).map_err(invalid)?);
        config.hashed_subpackets.push(
            Subpacket::regular(SubpacketData::KeyExpirationTime(pgp::types::Duration::from_secs(seconds)))
                .map_err(invalid)?,
        );
        config.unhashed_subpackets = old.unhashed_subpackets;
        let signature = config
            .sign_certification(&*primary_key, primary_key.public_key(), &Password::empty(), user.id.tag(), &user.id)
            .map_err(invalid)?;
        user.signatures = vec![signature];
    }
    Ok(())
}

fn public_bits(key: &SignedPublicKey) -> u32 {
    match key.primary_key.public_params() {
        pgp::types::PublicParams::RSA(rsa) => {
            use rsa::traits::PublicKeyParts as _;
            (rsa.key.n().bits()) as u32
        }
        _ => 256,
    }
}

fn format_day(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The fingerprints (40 upper-case hex digits) of an armoured public key's subkeys: key servers
/// are asked for a key by any of them. Empty when the armour cannot be read.
pub fn subkey_fingerprints(public_armored: &str) -> Vec<String> {
    match SignedPublicKey::from_string(public_armored) {
        Ok((public, _)) => {
            public.public_subkeys.iter().map(|k| hex::encode_upper(k.fingerprint().as_bytes())).collect()
        }
        Err(_) => Vec::new(),
    }
}

/// Encrypts `data` to the armoured public key, as a finder's tool would (tests and the bench).
pub fn encrypt_to(public_armored: &str, data: &[u8]) -> Result<String, PgpError> {
    let (public, _) =
        SignedPublicKey::from_string(public_armored).map_err(unreadable("its armour or packets could not be read"))?;
    let mut rng = rand08::thread_rng();
    let subkey =
        public.public_subkeys.iter().find(|k| k.algorithm().can_encrypt()).ok_or(PgpError::NoEncryptionSubkey)?;
    let mut builder = MessageBuilder::from_bytes("", data.to_vec()).seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
    builder.encrypt_to_key(&mut rng, subkey).map_err(invalid)?;
    builder.to_armored_string(&mut rng, ArmorOptions::default()).map_err(invalid)
}

/// The WKD local-part hash: z-base-32 of SHA-1 of the lower-cased local part.
pub fn wkd_hash(local_part: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        local_part.to_ascii_lowercase().as_bytes(),
    );
    let (mut out, mut buffer, mut bits) = (String::with_capacity(32), 0u32, 0u32);
    for &byte in digest.as_ref() {
        buffer = ((buffer << 8) | u32::from(byte)) & 0xFFFF;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_armour_is_refused_in_our_words_without_echoing_the_input() {
        let junk: String = (0..4000).map(|i| char::from(b'A' + (i % 26) as u8)).collect();
        let armoured = format!("-----BEGIN PGP MESSAGE-----\n\n{junk}\n-----END PGP MESSAGE-----\n");
        let key = OrgKey::generate("Security <security@example.org>", KeyAlgorithm::Ed25519, 30).unwrap();
        for text in [armoured.as_str(), "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n\u{1}\u{2}\n"] {
            let e = key.decrypt(text, 1024).unwrap_err().to_string();
            assert!(e.len() < 160, "{e}");
            assert!(!e.contains("ABCDEFGHIJ") && !e.contains('['), "{e}");
            let e = OrgKey::import(text, 0).unwrap_err().to_string();
            assert!(e.len() < 160 && !e.contains("ABCDEFGHIJ") && !e.contains('['), "{e}");
        }
        assert_eq!(our_words("bad packet: [1, 2, 3, 4]"), "bad packet");
        assert_eq!(our_words(""), "it could not be read");
    }

    #[test]
    fn wkd_hashes_match_the_drafts_example() {
        assert_eq!(wkd_hash("Joe.Doe"), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
        assert_eq!(wkd_hash("security"), "t5s8ztdbon8yzntexy6oz5y48etqsnbb");
    }

    #[test]
    fn a_generated_key_signs_decrypts_and_round_trips() {
        let key = OrgKey::generate("Security Team <security@example.org>", KeyAlgorithm::Ed25519, 365).unwrap();
        let info = key.info();
        assert_eq!(info.algorithm, "ed25519");
        assert_eq!(info.fingerprint.len(), 40);
        assert!(info.fingerprint.ends_with(&info.key_id));
        let expiry = info.expires_at.expect("an expiry is set");
        assert!((expiry - info.created_at - 365 * 86_400).abs() < 5);
        assert_eq!(info.user_ids, vec!["Security Team <security@example.org>".to_owned()]);

        let again = OrgKey::import(&key.secret_armored(), info.created_at).unwrap();
        assert_eq!(again.info(), info);

        let report = encrypt_to(&key.public_armored(), b"SQL injection in /search").unwrap();
        // A compression bomb: 8 MiB of zeros in a message of a few KiB is refused after reading
        // the limit, never held whole.
        let (public, _) = SignedPublicKey::from_string(&key.public_armored()).unwrap();
        let mut rng = rand08::thread_rng();
        let mut builder =
            MessageBuilder::from_bytes("", vec![0u8; 8 << 20]).seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        builder.compression(CompressionAlgorithm::ZLIB);
        builder.encrypt_to_key(&mut rng, &public.public_subkeys[0]).unwrap();
        let bomb = builder.to_armored_string(&mut rng, ArmorOptions::default()).unwrap();
        assert!(bomb.len() < 64 * 1024, "the bomb is small: {} bytes", bomb.len());
        assert_eq!(key.decrypt(&bomb, 320 * 1024), Err(PgpError::TooLarge(320 * 1024)));
        assert_eq!(key.decrypt(&report, 1024).unwrap(), b"SQL injection in /search");
        let other = OrgKey::generate("Other <o@example.org>", KeyAlgorithm::Ed25519, 30).unwrap();
        assert_eq!(other.decrypt(&report, 1024), Err(PgpError::NotForThisKey));
        assert!(matches!(key.decrypt("hello", 1024), Err(PgpError::NotOpenPgp(_))));
        assert!(matches!(
            key.decrypt("-----BEGIN PGP MESSAGE-----\n\nnot base64 at all!\n-----END PGP MESSAGE-----\n", 1024),
            Err(PgpError::NotOpenPgp(_))
        ));

        let signed = key.clearsign("Contact: https://example.org/security/report  \nExpires: 2027-01-01T00:00:00Z\n");
        assert!(signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"));
        let (parsed, _) = CleartextSignedMessage::from_string(&signed).unwrap();
        parsed.verify(&key.public).unwrap();
        assert!(parsed.verify(&other.public).is_err());
    }

    #[test]
    fn imports_refuse_public_expired_and_garbage_keys() {
        let key = OrgKey::generate("T <t@example.org>", KeyAlgorithm::Ed25519, 10).unwrap();
        assert_eq!(OrgKey::import(&key.public_armored(), 0).unwrap_err(), PgpError::PublicKeyOnly);
        let later = key.info().created_at + 11 * 86_400;
        assert!(matches!(OrgKey::import(&key.secret_armored(), later), Err(PgpError::Expired(_))));
        assert!(matches!(OrgKey::import("hello", 0), Err(PgpError::NotOpenPgp(_))));
        assert!(matches!(
            OrgKey::import("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n", 0),
            Err(PgpError::NotOpenPgp(_))
        ));
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(format_day(1_795_392_000), "2026-11-23");
    }
}
