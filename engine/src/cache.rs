//! The compiled-package cache (see [`crate::Config::cache_dir`]): a
//! validated, pre-initialised package's code, serialised by wasmtime, with
//! what the package needs besides it, one file per entry, so that loading it
//! again compiles and initialises nothing.
//!
//! # Key
//!
//! An entry's file is `<key in hex>.extwasm`; the key is a SHA-256 of
//! everything the entry's contents depend on:
//!
//! - [`FORMAT`] and this crate's version;
//! - wasmtime's compatibility hash of the engine
//!   (`Engine::precompile_compatibility_hash`): wasmtime's version, the
//!   target and compiler flags, the tunables (memory reservation, guard
//!   pages, whether epochs and fuel are checked) and the wasm features, i.e.
//!   what wasmtime itself says decides whether compiled code can be reused;
//! - the settings initialisation ran under, which shape the snapshot or
//!   decided that the module loads at all: the package's memory limit, the
//!   engine's (the pool's slot size), the exchange buffer's size, the load
//!   deadline, the host budget, the handle limit and the output limit;
//! - the module's bytes as given (a hit parses nothing) and the extensions
//!   asked for, in order.
//!
//! Invocation deadlines, fuel budgets, isolation and restore thresholds are
//! not in it: they change nothing compiled or initialised.
//!
//! # Entry
//!
//! A header of [`HEADER`] bytes, little-endian: the magic `EXTWASMC`, the
//! format (u32), the metadata's length (u32), the code's length (u64), the
//! key (32 bytes) and a SHA-256 of everything else in the file (32 bytes);
//! then the metadata (the snapshot's size, the exchange buffer's address,
//! why the module could not be pre-initialised, the extensions as
//! validation sorted them, the denied WASI imports) and the code
//! (`Module::serialize`).
//!
//! # Trust
//!
//! Deserialised code runs unchecked, so an entry is used only when it is
//! whole and this engine's: the file is owned by this user and writable by
//! no one else (so only this user's processes wrote it), it is exactly as
//! long as its header says (not truncated), its magic, format and key are
//! this load's (not another config's or version's entry under this name),
//! and the SHA-256 of its contents matches (not corrupt). The bytes checked
//! are the bytes deserialised: the file is read once, into memory
//! (`Module::deserialize`). `Module::deserialize_file` would map the file
//! again after the check, when the path may name another file, and cannot
//! skip a header. Any failed check makes the entry a miss, reported as
//! [`crate::Warning::CacheEntryRejected`]; the package is compiled again
//! and the entry replaced.
//!
//! # Concurrency
//!
//! An entry is written to a temporary file of its own (the process id and a
//! counter in its name) and renamed over the entry's name: a reader sees
//! the old entry, the new one, or none, never half of one. Loaders that miss
//! at once each compile and write; the last rename wins, and every version
//! is whole. An entry is not synced to disk: one torn by a crash fails the
//! check and is rebuilt.
//!
//! # Size
//!
//! A hit sets its entry's modification time; after each write, the least
//! recently modified entries are deleted until the directory's entries fit
//! [`crate::Config::cache_limit_bytes`], and temporary files older than an
//! hour (of writers that died) are deleted too. An entry larger than the
//! limit is neither written nor read.

use std::fs::{self, File};
use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{ExternType, Module};

use crate::config::Config;
use crate::engine::Engine;
use crate::package::{CacheRejection, Compiled};

/// Why an entry was not used, and the details.
pub(crate) type Rejection = (CacheRejection, String);

/// The entry format. Bump it when an entry's layout changes, or what it
/// holds would be computed differently (validation, pre-initialisation),
/// so that entries of the old engine are not found.
pub(crate) const FORMAT: u32 = 1;

/// The first bytes of every entry.
const MAGIC: &[u8; 8] = b"EXTWASMC";

/// The header's length: magic, format, two lengths, key, digest.
pub(crate) const HEADER: usize = 8 + 4 + 4 + 8 + 32 + 32;

/// Where the digest starts in the header (it covers what precedes it and
/// what follows the header).
const DIGEST_AT: usize = HEADER - 32;

/// The key of an entry: a SHA-256 (see the module's documentation).
pub(crate) type Key = [u8; 32];

/// Feeds what a `Hash` implementation writes into a SHA-256, so that
/// wasmtime's compatibility hash becomes part of the key.
struct Feed<'a>(&'a mut Sha256);

impl Hasher for Feed<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only what was written matters; the key is the SHA-256's.
        0
    }
}

/// The key of `wasm` loaded with `extensions` under `config` (the engine's
/// settings with the package's limits) by `engine`.
pub(crate) fn key(engine: &Engine, config: &Config, wasm: &[u8], extensions: &[&str]) -> Key {
    let mut sha = Sha256::new();
    sha.update(b"extwasm package cache\0");
    sha.update(FORMAT.to_le_bytes());
    let bytes = |sha: &mut Sha256, bytes: &[u8]| {
        sha.update((bytes.len() as u64).to_le_bytes());
        sha.update(bytes);
    };
    bytes(&mut sha, env!("CARGO_PKG_VERSION").as_bytes());
    std::hash::Hash::hash(&engine.wasmtime().precompile_compatibility_hash(), &mut Feed(&mut sha));
    let load_timeout = config.get_load_timeout().map_or(u128::MAX, |t| t.as_nanos());
    for setting in [
        u128::from(config.get_memory_limit_pages()),
        u128::from(engine.config().get_memory_limit_pages()),
        u128::from(config.get_exchange_buffer_bytes()),
        load_timeout,
        config.get_host_budget_bytes() as u128,
        u128::from(config.get_max_handles()),
        config.get_output_limit_bytes() as u128,
    ] {
        sha.update(setting.to_le_bytes());
    }
    bytes(&mut sha, wasm);
    sha.update((extensions.len() as u64).to_le_bytes());
    for extension in extensions {
        bytes(&mut sha, extension.as_bytes());
    }
    sha.finalize().into()
}

/// The file of the entry with `key` in `dir`.
pub(crate) fn entry_path(dir: &Path, key: &Key) -> PathBuf {
    dir.join(format!("{}.extwasm", hex(key)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The package of the entry at `path`: `Ok(None)` when there is no entry,
/// `Err(why)` when there is one that must not be used.
pub(crate) fn read(engine: &Engine, path: &Path, key: &Key, limit: u64) -> Result<Option<Compiled>, Rejection> {
    use CacheRejection::{Corrupt, TooLarge, Unreadable};
    let mut file = match File::open(path) {
        Ok(file) => file,
        // No entry, or no directory for one (the write will say why).
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(e) => return Err((Unreadable, format!("cannot open it: {e}"))),
    };
    let metadata = file.metadata().map_err(|e| (Unreadable, format!("cannot inspect it: {e}")))?;
    check_private(&metadata)?;
    if metadata.len() > limit {
        return Err((TooLarge, format!("it is {} bytes, more than the cache's limit of {limit}", metadata.len())));
    }
    let mut bytes = Vec::with_capacity(metadata.len().try_into().unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| (Unreadable, format!("cannot read it: {e}")))?;
    let (info, code) = verify(&bytes, key)?;
    let info = Info::decode(info).ok_or((Corrupt, "its metadata is malformed".to_owned()))?;
    // SAFETY: `code` is what `Module::serialize` gave this engine's crate
    // version for this key: `verify` found the entry whole (its length and
    // the SHA-256 of all its bytes match its header) and made with this
    // key, which covers wasmtime's version and the engine's compilation
    // settings; `check_private` found the file writable only by this user,
    // whose processes write entries only through `write`. The bytes checked
    // are these very bytes (read once, not mapped again). Besides, wasmtime
    // checks its own version and settings in the code and refuses others
    // with an error.
    let module = unsafe { Module::deserialize(engine.wasmtime(), code) }
        .map_err(|e| (Corrupt, format!("wasmtime refused its code: {e:#}")))?;
    // Used now: the last to go when the cache is trimmed. An entry whose
    // time cannot be set is merely trimmed earlier.
    let _ = file.set_modified(SystemTime::now());
    // The denied WASI imports link with the signature the module imports
    // them with, which validation read from the same module.
    let mut denied_wasi = Vec::with_capacity(info.denied_wasi.len());
    for name in info.denied_wasi {
        let ty = module.imports().find_map(|import| match import.ty() {
            ExternType::Func(ty) if import.module() == extwasm_abi::WASI_MODULE && import.name() == name => Some(ty),
            _ => None,
        });
        denied_wasi.push((name, ty.ok_or((Corrupt, "it names a WASI import its module lacks".to_owned()))?));
    }
    Ok(Some(Compiled {
        module,
        extensions: info.extensions,
        denied_wasi,
        exchange: info.exchange,
        not_preinitialized: info.not_preinitialized,
        snapshot_pages: info.snapshot_pages,
    }))
}

/// An entry's metadata and code, once it proved whole and this key's.
fn verify<'a>(bytes: &'a [u8], key: &Key) -> Result<(&'a [u8], &'a [u8]), Rejection> {
    use CacheRejection::{Corrupt, Foreign, NotAnEntry, Truncated};
    let header = bytes
        .get(..HEADER)
        .ok_or_else(|| (Truncated, format!("it is truncated: {} bytes, shorter than a header", bytes.len())))?;
    if &header[..8] != MAGIC {
        return Err((NotAnEntry, "it is not an extwasm cache entry (no magic)".into()));
    }
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let format = word(8);
    if format != FORMAT {
        return Err((Foreign, format!("it has format {format}, this engine writes {FORMAT}")));
    }
    let info_len = word(12) as u64;
    let code_len = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
    let expected = (HEADER as u64).checked_add(info_len).and_then(|n| n.checked_add(code_len));
    if expected != Some(bytes.len() as u64) {
        return Err((
            Truncated,
            format!(
                "it is {} bytes, its header says {} (truncated or extended)",
                bytes.len(),
                expected.map_or_else(|| "more than can be".to_owned(), |n| n.to_string())
            ),
        ));
    }
    if header[24..56] != key[..] {
        return Err((Foreign, "it was made for another module, engine version or configuration".into()));
    }
    let body = &bytes[HEADER..];
    if digest(&header[..DIGEST_AT], body) != header[DIGEST_AT..] {
        return Err((Corrupt, "it is corrupt (its SHA-256 does not match)".into()));
    }
    Ok(body.split_at(info_len as usize))
}

/// The SHA-256 an entry's header holds: of the header before it and of
/// everything after the header.
fn digest(header: &[u8], body: &[u8]) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update(header);
    sha.update(body);
    sha.finalize().into()
}

/// Whether the entry may have been written by someone else: its code would
/// run unchecked, so it must be this user's and writable by no one else.
#[cfg(unix)]
fn check_private(metadata: &fs::Metadata) -> Result<(), Rejection> {
    use CacheRejection::NotPrivate;
    use std::os::unix::fs::MetadataExt;
    if !metadata.is_file() {
        return Err((NotPrivate, "it is not a regular file".into()));
    }
    // SAFETY: `geteuid` has no preconditions, touches no memory and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err((NotPrivate, format!("it belongs to user {}, not to this user ({me})", metadata.uid())));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err((NotPrivate, format!("others may write it (mode {:o})", metadata.mode() & 0o7777)));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(metadata: &fs::Metadata) -> Result<(), Rejection> {
    if metadata.is_file() { Ok(()) } else { Err((CacheRejection::NotPrivate, "it is not a regular file".into())) }
}

/// Numbers the temporary files of this process.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Stores `compiled` as the entry with `key` at `path` in `dir`: written to
/// a temporary file, then renamed into place, and the cache trimmed to
/// `limit` bytes. `Err` says why it could not be.
pub(crate) fn write(dir: &Path, path: &Path, key: &Key, compiled: &Compiled, limit: u64) -> Result<(), String> {
    let code = compiled.module.serialize().map_err(|e| format!("wasmtime cannot serialise the module: {e:#}"))?;
    let info = Info::encode(compiled);
    let info_len = u32::try_from(info.len()).map_err(|_| "the metadata is over 4 GiB")?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT.to_le_bytes());
    header.extend_from_slice(&info_len.to_le_bytes());
    header.extend_from_slice(&(code.len() as u64).to_le_bytes());
    header.extend_from_slice(key);
    let mut sha = Sha256::new();
    sha.update(&header);
    sha.update(&info);
    sha.update(&code);
    header.extend_from_slice(&sha.finalize());
    debug_assert_eq!(header.len(), HEADER);
    let size = (HEADER + info.len() + code.len()) as u64;
    if size > limit {
        return Err(format!("the entry's {size} bytes are more than the cache's limit of {limit}"));
    }

    make_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temporary =
        dir.join(format!(".{}.{}.{}.tmp", hex(&key[..8]), std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
    let written = create_private(&temporary).and_then(|mut file| {
        file.write_all(&header)?;
        file.write_all(&info)?;
        file.write_all(&code)?;
        drop(file);
        fs::rename(&temporary, path)
    });
    written.map_err(|e| {
        let _ = fs::remove_file(&temporary);
        format!("cannot write it: {e}")
    })?;
    trim(dir, path, limit);
    Ok(())
}

/// A temporary file older than this was left by a writer that died.
const STALE: Duration = Duration::from_secs(3600);

/// Deletes the least recently used entries in `dir` until the rest, with
/// `kept` (the entry just written), take at most `limit` bytes; and
/// temporary files that writers left behind. Best effort: entries another
/// process deletes or replaces meanwhile are merely counted wrong once, and
/// an entry deleted while another process reads it stays readable to that
/// process (it holds the file open).
fn trim(dir: &Path, kept: &Path, limit: u64) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        let Ok(metadata) = item.metadata() else { continue };
        if !metadata.is_file() || path == kept {
            continue;
        }
        let used = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".extwasm") {
            entries.push((used, metadata.len(), path));
        } else if name.starts_with('.')
            && name.ends_with(".tmp")
            && now.duration_since(used).is_ok_and(|age| age > STALE)
        {
            let _ = fs::remove_file(&path);
        }
    }
    let mut total = fs::metadata(kept).map_or(0, |metadata| metadata.len());
    // Most recently used first: they stay while they fit.
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    for (_, len, path) in entries {
        total = total.saturating_add(len);
        if total > limit {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Creates `dir` (and its parents) readable by this user alone when missing.
fn make_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A new file at `path` (never an existing one) that only this user may
/// read and write.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// What an entry holds besides the code.
struct Info {
    snapshot_pages: u32,
    exchange: Option<u32>,
    not_preinitialized: Option<String>,
    extensions: Vec<Box<str>>,
    /// The names of the denied WASI imports (their signatures are the module's).
    denied_wasi: Vec<String>,
}

impl Info {
    fn encode(compiled: &Compiled) -> Vec<u8> {
        let mut out = Vec::new();
        let word = |out: &mut Vec<u8>, n: u32| out.extend_from_slice(&n.to_le_bytes());
        let text = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        word(&mut out, compiled.snapshot_pages);
        match compiled.exchange {
            Some(address) => {
                out.push(1);
                word(&mut out, address);
            }
            None => out.push(0),
        }
        match &compiled.not_preinitialized {
            Some(reason) => {
                out.push(1);
                text(&mut out, reason);
            }
            None => out.push(0),
        }
        word(&mut out, compiled.extensions.len() as u32);
        for extension in &compiled.extensions {
            text(&mut out, extension);
        }
        word(&mut out, compiled.denied_wasi.len() as u32);
        for (name, _) in &compiled.denied_wasi {
            text(&mut out, name);
        }
        out
    }

    /// `None` when `bytes` are not what [`Info::encode`] makes (which the
    /// digest makes unlikely, but the format is never trusted).
    fn decode(bytes: &[u8]) -> Option<Info> {
        let mut reader = Reader(bytes);
        let snapshot_pages = reader.word()?;
        let exchange = if reader.flag()? { Some(reader.word()?) } else { None };
        let not_preinitialized = if reader.flag()? { Some(reader.text()?.to_owned()) } else { None };
        let count = reader.word()?;
        let extensions = (0..count).map(|_| reader.text().map(Box::from)).collect::<Option<_>>()?;
        let count = reader.word()?;
        let denied_wasi = (0..count).map(|_| reader.text().map(str::to_owned)).collect::<Option<_>>()?;
        reader.0.is_empty().then_some(Info { snapshot_pages, exchange, not_preinitialized, extensions, denied_wasi })
    }
}

/// Reads metadata, every read bounded by what is left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn word(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn flag(&mut self) -> Option<bool> {
        match self.take(1)? {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = self.word()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}
