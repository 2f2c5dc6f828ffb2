//! Envelope encryption (S2).
//!
//! The master keyring holds one or more 256-bit master keys, one of them active. It lives in a key
//! file (mode 0600) in the data directory, or comes from `CONCLAVE_MASTER_KEY`. Master keys only
//! ever wrap data keys; data keys seal field values.
//!
//! Ciphertext layout: `0x01 ‖ nonce (12) ‖ AES-256-GCM(ciphertext ‖ tag)`. The nonce is random;
//! at 2^32 seals per key the collision chance stays below 2^-32, and per-enterprise keys keep each
//! key's count far below that. The associated data is `table ‖ 0 ‖ row ‖ 0 ‖ column`, so a
//! ciphertext copied into another row or column fails to open.

use crate::{random_bytes, Error};
use aws_lc_rs::aead::{self, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop};

const FORMAT_V1: u8 = 1;
/// Marks a value stored without encryption by a benchmark-only key (see
/// [`DataKey::plaintext_for_benchmark`]). A real key refuses to open it, and a benchmark key
/// refuses real ciphertext, so the two can never be mistaken for each other.
const FORMAT_PLAINTEXT_BENCHMARK: u8 = 0;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where a ciphertext belongs. Every sealed value names its table, row and column.
#[derive(Clone, Copy, Debug)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub column: &'a str,
}

impl Aad<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.table.len() + self.row.len() + self.column.len() + 2);
        out.extend_from_slice(self.table.as_bytes());
        out.push(0);
        out.extend_from_slice(self.row.as_bytes());
        out.push(0);
        out.extend_from_slice(self.column.as_bytes());
        out
    }
}

/// A 256-bit key that seals field values of one enterprise (or one purpose).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey {
    bytes: [u8; 32],
    /// `None` only for the benchmark key that stores values unencrypted.
    #[zeroize(skip)]
    sealing: Option<LessSafeKey>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        DataKey::from_bytes(random_bytes::<32>())
    }

    fn from_bytes(bytes: [u8; 32]) -> DataKey {
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).expect("32 bytes is an AES-256 key");
        DataKey { bytes, sealing: Some(LessSafeKey::new(unbound)) }
    }

    /// A key that stores values *unencrypted* (framed with a marker byte), so that a benchmark
    /// can measure what encryption at rest costs on the very same code path. Only a process
    /// started with the benchmark switch ever builds one; see `Settings::plaintext_at_rest`.
    pub fn plaintext_for_benchmark() -> DataKey {
        DataKey { bytes: [0; 32], sealing: None }
    }

    /// Seals `plaintext` for the place `aad` names.
    pub fn seal(&self, plaintext: &[u8], aad: Aad<'_>) -> Vec<u8> {
        match &self.sealing {
            Some(key) => seal_with(key, plaintext, &aad.bytes()),
            None => {
                let mut out = Vec::with_capacity(1 + plaintext.len());
                out.push(FORMAT_PLAINTEXT_BENCHMARK);
                out.extend_from_slice(plaintext);
                out
            }
        }
    }

    /// Opens a ciphertext sealed for exactly the place `aad` names.
    pub fn open(&self, ciphertext: &[u8], aad: Aad<'_>) -> Result<Vec<u8>, Error> {
        match &self.sealing {
            Some(key) => open_with(key, ciphertext, &aad.bytes()),
            None => match ciphertext.split_first() {
                Some((&FORMAT_PLAINTEXT_BENCHMARK, rest)) => Ok(rest.to_vec()),
                _ => Err(Error::Decrypt),
            },
        }
    }

    /// Seals a UTF-8 string; the common case for names and emails.
    pub fn seal_str(&self, plaintext: &str, aad: Aad<'_>) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), aad)
    }

    pub fn open_str(&self, ciphertext: &[u8], aad: Aad<'_>) -> Result<String, Error> {
        String::from_utf8(self.open(ciphertext, aad)?).map_err(|_| Error::Decrypt)
    }

    /// Raw bytes, for deriving sub-keys (e.g. a blind-index key). Never log them.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }
}

fn seal_with(key: &LessSafeKey, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(1 + NONCE_LEN);
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), aead::Aad::from(aad), &mut body)
        .expect("sealing fails only for inputs over 64 GiB");
    out.extend_from_slice(&body);
    out
}

fn open_with(key: &LessSafeKey, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
    if ciphertext.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() || ciphertext[0] != FORMAT_V1 {
        return Err(Error::Decrypt);
    }
    let nonce = Nonce::try_assume_unique_for_key(&ciphertext[1..1 + NONCE_LEN]).map_err(|_| Error::Decrypt)?;
    let mut body = ciphertext[1 + NONCE_LEN..].to_vec();
    let n = key.open_in_place(nonce, aead::Aad::from(aad), &mut body).map_err(|_| Error::Decrypt)?.len();
    body.truncate(n);
    Ok(body)
}

/// A data key sealed under one master key, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub master_key_id: String,
    pub ciphertext: Vec<u8>,
}

struct MasterKey {
    bytes: [u8; 32],
    sealing: LessSafeKey,
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// The master keys. One is active and wraps new data keys; the others remain only while a
/// rotation re-wraps what they wrapped.
pub struct MasterKeyring {
    active: String,
    keys: BTreeMap<String, MasterKey>,
}

impl std::fmt::Debug for MasterKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeyring")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    active: String,
    keys: BTreeMap<String, String>,
}

const KEY_FILE_FORMAT: &str = "conclave-master-keys-v1";

fn wrap_aad(purpose_id: &str) -> Vec<u8> {
    format!("conclave/data-key/{purpose_id}").into_bytes()
}

impl MasterKeyring {
    /// A keyring with one fresh master key.
    pub fn generate() -> MasterKeyring {
        let mut ring = MasterKeyring { active: String::new(), keys: BTreeMap::new() };
        ring.add_active_key();
        ring
    }

    /// Adds a fresh master key and makes it active; returns its id. Used by rotation.
    pub fn add_active_key(&mut self) -> String {
        let id = format!("mk-{}", hex::encode(random_bytes::<6>()));
        self.keys.insert(id.clone(), master_key(random_bytes::<32>()));
        self.active = id.clone();
        id
    }

    /// Removes every key but the active one (after a rotation has re-wrapped everything).
    pub fn retire_inactive(&mut self) -> usize {
        let before = self.keys.len();
        let active = self.active.clone();
        self.keys.retain(|id, _| *id == active);
        before - self.keys.len()
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Seals a data key under the active master key, bound to `purpose_id` (the key row's id).
    pub fn wrap(&self, key: &DataKey, purpose_id: &str) -> WrappedKey {
        let master = &self.keys[&self.active];
        WrappedKey {
            master_key_id: self.active.clone(),
            ciphertext: seal_with(&master.sealing, key.expose(), &wrap_aad(purpose_id)),
        }
    }

    pub fn unwrap(&self, wrapped: &WrappedKey, purpose_id: &str) -> Result<DataKey, Error> {
        let master = self
            .keys
            .get(&wrapped.master_key_id)
            .ok_or_else(|| Error::UnknownMasterKey(wrapped.master_key_id.clone()))?;
        let mut bytes = open_with(&master.sealing, &wrapped.ciphertext, &wrap_aad(purpose_id))?;
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| Error::Decrypt)?;
        bytes.zeroize();
        Ok(DataKey::from_bytes(array))
    }

    /// Parses the key file's text.
    pub fn from_file_text(text: &str) -> Result<MasterKeyring, Error> {
        let corrupt = |why: &str| Error::MasterKeyCorrupt(why.to_owned());
        let file: KeyFile =
            serde_json::from_str(text).map_err(|e| corrupt(&format!("not a Conclave key file ({e})")))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(corrupt(&format!("unknown format {:?}", file.format)));
        }
        let mut keys = BTreeMap::new();
        for (id, encoded) in &file.keys {
            keys.insert(
                id.clone(),
                master_key(decode_key(encoded).map_err(|why| corrupt(&format!("key {id}: {why}")))?),
            );
        }
        if !keys.contains_key(&file.active) {
            return Err(corrupt("the active key id names no key in the file"));
        }
        Ok(MasterKeyring { active: file.active, keys })
    }

    pub fn to_file_text(&self) -> String {
        let file = KeyFile {
            format: KEY_FILE_FORMAT.to_owned(),
            active: self.active.clone(),
            keys: self.keys.iter().map(|(id, k)| (id.clone(), B64.encode(k.bytes))).collect(),
        };
        serde_json::to_string_pretty(&file).expect("a key file always serialises") + "\n"
    }

    /// A single-key ring from `CONCLAVE_MASTER_KEY` (base64 of 32 bytes).
    pub fn from_env_value(value: &str) -> Result<MasterKeyring, Error> {
        let bytes =
            decode_key(value.trim()).map_err(|why| Error::MasterKeyCorrupt(format!("CONCLAVE_MASTER_KEY: {why}")))?;
        let mut keys = BTreeMap::new();
        keys.insert("env".to_owned(), master_key(bytes));
        Ok(MasterKeyring { active: "env".to_owned(), keys })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<MasterKeyring, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKeyring::from_file_text(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::MasterKeyMissing(path.display().to_string()))
            }
            Err(e) => Err(Error::MasterKeyCorrupt(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the keyring to `path` only if no file is there yet, atomically and with its full
    /// content (written aside, then hard-linked into place). Returns `false` when another
    /// process created the file first; the caller must then load that one.
    pub fn create_new(&self, path: &Path) -> Result<bool, Error> {
        let aside = path.with_extension(format!("new-{}", hex::encode(random_bytes::<6>())));
        self.save(&aside)?;
        let linked = std::fs::hard_link(&aside, path);
        let _ = std::fs::remove_file(&aside);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the keyring to `path` with mode 0600, atomically (temporary file, then rename), so a
    /// crash mid-write never leaves a half-written key file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        use std::io::Write as _;
        let io = |e: std::io::Error| Error::Io(format!("{}: {e}", path.display()));
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(self.to_file_text().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }
}

fn master_key(bytes: [u8; 32]) -> MasterKey {
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).expect("32 bytes is an AES-256 key");
    MasterKey { bytes, sealing: LessSafeKey::new(unbound) }
}

fn decode_key(encoded: &str) -> Result<[u8; 32], String> {
    let mut bytes = B64.decode(encoded).map_err(|_| "not base64".to_owned())?;
    let result = bytes.as_slice().try_into().map_err(|_| format!("{} bytes, expected 32", bytes.len()));
    bytes.zeroize();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS_EMAIL: Aad<'static> = Aad { table: "users", row: "u1", column: "email" };

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let key = DataKey::generate();
        let sealed = key.seal_str("ada@example.com", USERS_EMAIL);
        assert_eq!(key.open_str(&sealed, USERS_EMAIL).unwrap(), "ada@example.com");
        for wrong in [
            Aad { table: "users", row: "u2", column: "email" },
            Aad { table: "users", row: "u1", column: "name" },
            Aad { table: "teams", row: "u1", column: "email" },
        ] {
            assert_eq!(key.open(&sealed, wrong), Err(Error::Decrypt));
        }
    }

    #[test]
    fn aad_fields_cannot_be_shifted() {
        let key = DataKey::generate();
        let sealed = key.seal(b"x", Aad { table: "ab", row: "c", column: "d" });
        assert!(key.open(&sealed, Aad { table: "a", row: "bc", column: "d" }).is_err());
    }

    #[test]
    fn tampering_and_wrong_keys_are_detected() {
        let key = DataKey::generate();
        let mut sealed = key.seal(b"secret", USERS_EMAIL);
        assert!(DataKey::generate().open(&sealed, USERS_EMAIL).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&sealed, USERS_EMAIL).is_err());
        assert!(key.open(&[1, 2, 3], USERS_EMAIL).is_err());
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let key = DataKey::generate();
        assert_ne!(key.seal(b"x", USERS_EMAIL), key.seal(b"x", USERS_EMAIL));
    }

    #[test]
    fn wrapped_keys_survive_rotation_and_stay_bound_to_their_purpose() {
        let mut ring = MasterKeyring::generate();
        let data = DataKey::generate();
        let sealed = data.seal(b"hello", USERS_EMAIL);
        let wrapped = ring.wrap(&data, "key-1");
        assert!(ring.unwrap(&wrapped, "key-2").is_err());

        let old_id = ring.active_id().to_owned();
        ring.add_active_key();
        let rewrapped = ring.wrap(&ring.unwrap(&wrapped, "key-1").unwrap(), "key-1");
        assert_ne!(rewrapped.master_key_id, old_id);
        assert_eq!(ring.retire_inactive(), 1);
        assert_eq!(ring.unwrap(&wrapped, "key-1").unwrap_err(), Error::UnknownMasterKey(old_id));
        let again = ring.unwrap(&rewrapped, "key-1").unwrap();
        assert_eq!(again.open(&sealed, USERS_EMAIL).unwrap(), b"hello");
    }

    #[test]
    fn key_files_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let ring = MasterKeyring::generate();
        ring.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let loaded = MasterKeyring::load(&path).unwrap();
        let data = DataKey::generate();
        assert!(loaded.unwrap(&ring.wrap(&data, "k"), "k").is_ok());
        assert!(format!("{loaded:?}").contains(ring.active_id()));
        assert!(!ring.to_file_text().is_empty());
        assert!(!MasterKeyring::generate().create_new(&path).unwrap(), "an existing key file is never replaced");
        assert!(MasterKeyring::load(&path).unwrap().unwrap(&ring.wrap(&data, "k"), "k").is_ok());
        let fresh = dir.path().join("fresh.key");
        assert!(ring.create_new(&fresh).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary files left");
    }

    #[test]
    fn corrupt_and_missing_key_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(matches!(MasterKeyring::load(&path), Err(Error::MasterKeyMissing(_))));
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(MasterKeyring::load(&path), Err(Error::MasterKeyCorrupt(_))));
        std::fs::write(&path, r#"{"format":"conclave-master-keys-v1","active":"a","keys":{"a":"c2hvcnQ="}}"#).unwrap();
        let err = MasterKeyring::load(&path).unwrap_err();
        assert!(err.to_string().contains("5 bytes, expected 32"), "{err}");
        assert!(MasterKeyring::from_env_value("AAAA").is_err());
    }

    #[test]
    fn benchmark_plaintext_and_real_ciphertext_never_open_as_each_other() {
        let aad = Aad { table: "messages", row: "m1", column: "body" };
        let plain = DataKey::plaintext_for_benchmark();
        let real = DataKey::generate();
        let stored = plain.seal(b"hello", aad);
        assert_eq!(plain.open(&stored, aad).unwrap(), b"hello");
        assert!(matches!(real.open(&stored, aad), Err(Error::Decrypt)));
        let sealed = real.seal(b"hello", aad);
        assert!(matches!(plain.open(&sealed, aad), Err(Error::Decrypt)));
    }

    #[test]
    fn debug_output_hides_key_bytes() {
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(***)");
    }
}

/// Chunked file encryption (S3): each chunk is sealed on its own, bound to the file, its index,
/// and whether it is the last one, so chunks cannot be reordered, swapped between files, dropped
/// from the end, or have data appended after the last.
pub mod chunks {
    use super::{Aad, DataKey};
    use crate::Error;

    /// Plaintext bytes per chunk.
    pub const CHUNK_BYTES: usize = 64 * 1024;

    fn aad_row(file_id: &str, index: u64) -> String {
        format!("{file_id}/{index}")
    }

    pub fn seal(key: &DataKey, file_id: &str, index: u64, last: bool, plaintext: &[u8]) -> Vec<u8> {
        let row = aad_row(file_id, index);
        key.seal(plaintext, Aad { table: "files", row: &row, column: if last { "last" } else { "more" } })
    }

    pub fn open(key: &DataKey, file_id: &str, index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let row = aad_row(file_id, index);
        key.open(sealed, Aad { table: "files", row: &row, column: if last { "last" } else { "more" } })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn chunks_are_bound_to_file_index_and_position() {
            let key = DataKey::generate();
            let sealed = seal(&key, "f1", 0, false, b"abc");
            assert_eq!(open(&key, "f1", 0, false, &sealed).unwrap(), b"abc");
            assert!(open(&key, "f2", 0, false, &sealed).is_err(), "another file");
            assert!(open(&key, "f1", 1, false, &sealed).is_err(), "another position");
            assert!(
                open(&key, "f1", 0, true, &sealed).is_err(),
                "a truncated file cannot pass a middle chunk off as the last"
            );
        }
    }
}
