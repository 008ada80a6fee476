//! The compiled-package cache (`Config::cache_dir`): a second load is a hit
//! that compiles and initialises nothing and behaves as the first; entries
//! that are corrupt, truncated, of another configuration, not entries at
//! all, or writable by others are not used but rebuilt and replaced; a
//! cache that cannot be written costs a warning; concurrent loaders never
//! see half an entry.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use extwasm_engine::{
    CacheRejection, CacheStatus, Config, Engine, Isolation, JsonState, Package, PackageLimits, Warning, Worker,
};
use serde_json::{Value as Json, json};

/// Initialisation counts itself, `malloc` remembers the first block it gave
/// (the exchange buffer's), a denied WASI function is imported with a
/// signature of the module's own: `run` reports all three.
const MODULE: &str = r#"(module
  (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $new (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i64 f32) (result i32)))
  (memory (export "memory") 3)
  (global $inits (mut i32) (i32.const 0))
  (global $heap (mut i32) (i32.const 4096))
  (global $exchange (mut i32) (i32.const 0))
  (data (i32.const 16) "sys.Outiex")
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "_initialize") (global.set $inits (i32.add (global.get $inits) (i32.const 1))))
  (func (export "malloc") (param $size i32) (result i32) (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (if (i32.eqz (global.get $exchange)) (then (global.set $exchange (local.get $at))))
    (local.get $at))
  (func (export "run") (local $intent i64)
    (local.set $intent (call $new (call $key (i32.const 16) (i32.const 7) (i32.const 0) (i32.const 0))))
    (call $put (local.get $intent) (i32.const 1) (i32.const 23) (i32.const 1) (global.get $inits))
    (call $put (local.get $intent) (i32.const 1) (i32.const 24) (i32.const 1) (call $fd_close (i64.const 3) (f32.const 0)))
    (call $put (local.get $intent) (i32.const 1) (i32.const 25) (i32.const 1) (global.get $exchange)))
  (func (export "other"))
  ;; EXTRA
)"#;

/// What `run` reports: initialised once, `fd_close` denied (EBADF), the
/// exchange buffer where `malloc` put it.
fn expected() -> Json {
    json!({"i": 1, "e": 8, "x": 4096})
}

/// An empty directory for `test` under cargo's temporary directory.
fn fresh_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cache-{test}"));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn cached(dir: &Path) -> Config {
    Config::default().cache_dir(Some(dir.to_owned()))
}

fn engine(config: Config) -> Engine {
    Engine::new(config).expect("valid config")
}

/// The files in `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        fs::read_dir(dir).map(|entries| entries.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    files.retain(|path| path.to_string_lossy().ends_with(suffix));
    files.sort();
    files
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    files(dir, ".extwasm")
}

/// The one entry in `dir`.
fn entry(dir: &Path) -> PathBuf {
    let entries = entries(dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// What `run` of `package` reports, on a new worker.
fn run(engine: &Engine, package: &Package) -> Json {
    let mut worker = Worker::new(engine);
    worker.add_package(package).unwrap();
    let state = JsonState::from_json_str("{}").unwrap();
    let done = worker.invoke(package.name(), "run", &state).unwrap();
    let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
    intents[0]["value"].clone()
}

fn load(engine: &Engine) -> Package {
    engine.load_package("p", MODULE.as_bytes(), &["run"]).unwrap()
}

/// Loads with `dir`'s entry rejected for `why`, checks the package works
/// and that the rebuilt entry is a hit.
#[track_caller]
fn assert_rejected_then_rebuilt(dir: &Path, why: CacheRejection) {
    let engine = engine(cached(dir));
    let path = entry(dir);
    let package = load(&engine);
    assert_eq!(package.cache_status(), CacheStatus::Miss, "{why:?}");
    match package.warnings() {
        [Warning::CacheEntryRejected { path: rejected, kind, reason }] => {
            assert_eq!((rejected, *kind), (&path, why), "{reason}");
        }
        other => panic!("{why:?}: {other:?}"),
    }
    assert_eq!(run(&engine, &package), expected());
    let again = load(&engine);
    assert_eq!((again.cache_status(), again.warnings()), (CacheStatus::Hit, &[][..]), "{why:?}: rebuilt");
    assert_eq!(run(&engine, &again), expected());
    assert_eq!(files(dir, ".tmp"), Vec::<PathBuf>::new());
}

#[test]
fn a_second_load_is_a_hit_that_behaves_as_the_first() {
    let dir = fresh_dir("hit");
    let first = engine(cached(&dir));
    let cold = load(&first);
    assert_eq!((cold.cache_status(), cold.warnings()), (CacheStatus::Miss, &[][..]));
    let path = entry(&dir);
    assert_eq!(files(&dir, ".tmp"), Vec::<PathBuf>::new());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o077, 0, "private entry");
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o077, 0, "private directory");
    }

    // Another engine, as another process would have.
    let second = engine(cached(&dir));
    let hot = second.load_package("q", MODULE.as_bytes(), &["run"]).unwrap();
    assert_eq!((hot.cache_status(), hot.warnings()), (CacheStatus::Hit, &[][..]));
    assert_eq!(hot.name(), "q");
    assert_eq!(hot.preinitialized(), Ok(()));
    assert_eq!(hot.snapshot_pages(), cold.snapshot_pages());
    assert_eq!(hot.extensions().collect::<Vec<_>>(), ["run"]);
    assert_eq!(run(&first, &cold), expected());
    assert_eq!(run(&second, &hot), expected());
    assert_eq!(entries(&dir), [path]);

    // Other extensions, other bytes: other entries.
    let both = second.load_package("p", MODULE.as_bytes(), &["run", "other"]).unwrap();
    assert_eq!(both.cache_status(), CacheStatus::Miss);
    let edited = MODULE.replace(";; EXTRA", "(func (export \"third\"))");
    assert_eq!(second.load_package("p", edited.as_bytes(), &["run"]).unwrap().cache_status(), CacheStatus::Miss);
    assert_eq!(entries(&dir).len(), 3);
    assert_eq!(second.load_package("p", edited.as_bytes(), &["run"]).unwrap().cache_status(), CacheStatus::Hit);
    // Without a cache directory, nothing is cached.
    assert_eq!(load(&engine(Config::default())).cache_status(), CacheStatus::Off);
}

#[test]
fn a_module_that_cannot_be_preinitialised_is_cached_as_such() {
    let dir = fresh_dir("not-preinitialised");
    // wizer cannot snapshot a module that drops data segments.
    let wasm = MODULE.replace(";; EXTRA", r#"(data $passive "abc") (func (data.drop $passive))"#);
    let engine = engine(cached(&dir));
    let cold = engine.load_package("p", wasm.as_bytes(), &["run"]).unwrap();
    let reason = cold.preinitialized().expect_err("wizer refuses data.drop");
    let hot = engine.load_package("p", wasm.as_bytes(), &["run"]).unwrap();
    assert_eq!(hot.cache_status(), CacheStatus::Hit);
    assert_eq!(hot.preinitialized(), Err(reason));
    assert_eq!(hot.snapshot_pages(), cold.snapshot_pages());
    // Every instance initialises itself, once.
    assert_eq!(run(&engine, &hot), expected());
}

#[test]
fn a_corrupt_entry_is_rejected_rebuilt_and_replaced() {
    use CacheRejection::{Corrupt, Foreign, NotAnEntry, Truncated};
    let dir = fresh_dir("corrupt");
    load(&engine(cached(&dir)));
    let path = entry(&dir);
    let whole = fs::read(&path).unwrap();
    let len = whole.len();
    // The header: magic, format, lengths, key, digest (88 bytes); then metadata and code.
    for (offset, why) in [
        (0, NotAnEntry),
        (8, Foreign),
        (13, Truncated),
        (17, Truncated),
        (30, Foreign),
        (70, Corrupt),
        (89, Corrupt),
        (len / 2, Corrupt),
        (len - 1, Corrupt),
    ] {
        let mut corrupt = whole.clone();
        corrupt[offset] ^= 0x20;
        fs::write(&path, &corrupt).unwrap();
        assert_rejected_then_rebuilt(&dir, why);
    }
}

#[test]
fn a_truncated_or_extended_entry_is_rejected_rebuilt_and_replaced() {
    use CacheRejection::{NotAnEntry, Truncated};
    let dir = fresh_dir("truncated");
    load(&engine(cached(&dir)));
    let path = entry(&dir);
    let whole = fs::read(&path).unwrap();
    for (bytes, why) in [
        (&whole[..0], Truncated),
        (&whole[..50], Truncated),
        (&whole[..88], Truncated),
        (&whole[..whole.len() / 2], Truncated),
        (&whole[..whole.len() - 1], Truncated),
    ] {
        fs::write(&path, bytes).unwrap();
        assert_rejected_then_rebuilt(&dir, why);
    }
    let mut extended = whole.clone();
    extended.push(0);
    fs::write(&path, &extended).unwrap();
    assert_rejected_then_rebuilt(&dir, Truncated);
    fs::write(&path, b"#!/bin/sh\necho not an entry at all, but long enough to have a header's worth of bytes in it\n")
        .unwrap();
    assert_rejected_then_rebuilt(&dir, NotAnEntry);
}

/// Loads `MODULE` with `config` and `limits`; returns the status and the
/// entry the load added, if any.
fn load_with(dir: &Path, config: Config, limits: PackageLimits) -> (CacheStatus, Option<PathBuf>) {
    let before = entries(dir);
    let engine = engine(config);
    let package = engine.load_package_with("p", MODULE.as_bytes(), &["run"], &limits).unwrap();
    assert_eq!(package.warnings(), []);
    assert_eq!(run(&engine, &package), expected());
    let added = entries(dir).into_iter().find(|path| !before.contains(path));
    (package.cache_status(), added)
}

#[test]
fn entries_are_per_configuration_and_an_entry_of_another_is_rejected() {
    use CacheStatus::{Hit, Miss};
    let dir = fresh_dir("configs");
    let (status, a) = load_with(&dir, cached(&dir), PackageLimits::new());
    assert_eq!(status, Miss);
    let a = a.unwrap();
    // What shapes the compiled code or the snapshot is in the key.
    let smaller = cached(&dir).memory_limit_pages(128);
    let (status, b) = load_with(&dir, smaller.clone(), PackageLimits::new());
    assert_eq!(status, Miss);
    let b = b.unwrap();
    for (config, limits) in [
        (cached(&dir).fuel(Some(1 << 40)), PackageLimits::new()),
        (cached(&dir).exchange_buffer_bytes(1000), PackageLimits::new()),
        (cached(&dir).load_timeout(Some(Duration::from_secs(3))), PackageLimits::new()),
        (cached(&dir).timeout(None).load_timeout(None), PackageLimits::new()),
        (cached(&dir), PackageLimits::new().memory_limit_pages(64)),
    ] {
        let (status, added) = load_with(&dir, config.clone(), limits.clone());
        assert_eq!((status, added.is_some()), (Miss, true), "{config:?} {limits:?}");
        assert_eq!(load_with(&dir, config.clone(), limits.clone()).0, Hit, "{config:?} {limits:?}");
    }
    // What changes nothing compiled shares the entry.
    let runtime_only = cached(&dir)
        .timeout(Some(Duration::from_secs(1)))
        .isolation(Isolation::Fresh)
        .restore_threshold_pages(100)
        .max_instances(8)
        .background_restore_above(None);
    assert_eq!(load_with(&dir, runtime_only, PackageLimits::new()), (Hit, None));
    let package_runtime_only =
        PackageLimits::new().timeout(Some(Duration::from_millis(300))).isolation(Isolation::Fresh);
    assert_eq!(load_with(&dir, cached(&dir), package_runtime_only), (Hit, None));

    // A's entry under B's name: whole, but another configuration's.
    fs::copy(&a, &b).unwrap();
    let engine = engine(smaller);
    let package = load(&engine);
    match package.warnings() {
        [Warning::CacheEntryRejected { path, kind, reason }] => {
            assert_eq!((path, *kind), (&b, CacheRejection::Foreign), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run(&engine, &package), expected());
    assert_eq!(load(&engine).cache_status(), Hit);
}

#[cfg(unix)]
#[test]
fn an_entry_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir("permissions");
    load(&engine(cached(&dir)));
    let path = entry(&dir);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    assert_rejected_then_rebuilt(&dir, CacheRejection::NotPrivate);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "replaced");
}

#[test]
fn a_cache_that_cannot_be_written_costs_only_a_warning() {
    let dir = fresh_dir("unwritable");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    fs::write(&file, "not a directory").unwrap();
    let engine = engine(cached(&file.join("cache")));
    for _ in 0..2 {
        let package = load(&engine);
        assert_eq!(package.cache_status(), CacheStatus::Miss);
        match package.warnings() {
            [Warning::CacheNotWritten { detail, .. }] => assert!(detail.contains("cannot create"), "{detail}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(run(&engine, &package), expected());
    }
}

/// `MODULE` with an extra extension `name`: another module, another entry.
fn variant(name: &str) -> String {
    MODULE.replace(";; EXTRA", &format!("(func (export \"{name}\"))"))
}

#[test]
fn the_cache_keeps_to_its_limit_deleting_the_least_recently_used() {
    let dir = fresh_dir("limit");
    let load_variant = |engine: &Engine, name: &str| {
        let package = engine.load_package("p", variant(name).as_bytes(), &["run"]).unwrap();
        assert_eq!(run(engine, &package), expected());
        package
    };
    load_variant(&engine(cached(&dir)), "a");
    let size = fs::metadata(entry(&dir)).unwrap().len();
    // Room for two entries of this size (the variants differ by a byte), not three.
    let bounded = engine(cached(&dir).cache_limit_bytes(size * 5 / 2));
    let a = entry(&dir);
    let b_package = load_variant(&bounded, "b");
    assert_eq!((b_package.cache_status(), b_package.warnings()), (CacheStatus::Miss, &[][..]));
    assert_eq!(entries(&dir).len(), 2);
    let b: Vec<_> = entries(&dir).into_iter().filter(|path| path != &a).collect();
    std::thread::sleep(Duration::from_millis(20));
    // A hit makes `a` the most recently used: `b` goes when `c` comes.
    assert_eq!(load_variant(&bounded, "a").cache_status(), CacheStatus::Hit);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(load_variant(&bounded, "c").cache_status(), CacheStatus::Miss);
    let left = entries(&dir);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&a) && !left.contains(&b[0]), "{left:?}");
    assert_eq!(load_variant(&bounded, "a").cache_status(), CacheStatus::Hit);
    assert_eq!(load_variant(&bounded, "c").cache_status(), CacheStatus::Hit);
    assert_eq!(load_variant(&bounded, "b").cache_status(), CacheStatus::Miss);

    // An entry larger than the whole limit is not written, and not read.
    let tiny = engine(cached(&dir).cache_limit_bytes(size / 2));
    let package = load_variant(&tiny, "d");
    match package.warnings() {
        [Warning::CacheNotWritten { detail, .. }] => {
            assert!(detail.contains("more than the cache's limit"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    let package = load_variant(&tiny, "c");
    match package.warnings() {
        [Warning::CacheEntryRejected { kind, reason, .. }, Warning::CacheNotWritten { .. }] => {
            assert_eq!(*kind, CacheRejection::TooLarge, "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn temporary_files_of_writers_that_died_are_deleted() {
    let dir = fresh_dir("stale");
    fs::create_dir_all(&dir).unwrap();
    let stale = dir.join(".0123456789abcdef.1.0.tmp");
    let recent = dir.join(".0123456789abcdef.2.0.tmp");
    for path in [&stale, &recent] {
        fs::write(path, b"half an entry").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();
    load(&engine(cached(&dir)));
    // A recent one may be another process's write in progress.
    assert_eq!(files(&dir, ".tmp"), [recent]);
    entry(&dir);
}

#[test]
fn concurrent_loaders_never_see_half_an_entry() {
    let dir = fresh_dir("concurrent");
    let threads = 4;
    // Round one: loaders in separate engines (as separate processes would
    // be) miss at once; each compiles and writes, the renames race.
    let barrier = Arc::new(Barrier::new(threads));
    let round: Vec<_> = (0..threads)
        .map(|_| {
            let (dir, barrier) = (dir.clone(), barrier.clone());
            std::thread::spawn(move || {
                let engine = engine(cached(&dir));
                barrier.wait();
                let package = load(&engine);
                assert_eq!(package.warnings(), []);
                assert_eq!(run(&engine, &package), expected());
                package.cache_status()
            })
        })
        .collect();
    for thread in round {
        assert_ne!(thread.join().unwrap(), CacheStatus::Off);
    }
    let path = entry(&dir);
    assert_eq!(files(&dir, ".tmp"), Vec::<PathBuf>::new());

    // Round two: loaders of one engine hit at once, while another thread
    // keeps deleting the entry and loading, so that entries are written
    // (renamed over the name) while they are read.
    let shared = engine(cached(&dir));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let readers: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, barrier) = (shared.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..5)
                    .map(|_| {
                        let package = load(&engine);
                        assert_eq!(package.warnings(), []);
                        assert_eq!(run(&engine, &package), expected());
                        package.cache_status()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    barrier.wait();
    let writer = engine(cached(&dir));
    for _ in 0..3 {
        let _ = fs::remove_file(&path);
        let package = load(&writer);
        assert_eq!(package.warnings(), []);
    }
    let hits: usize = readers
        .into_iter()
        .map(|reader| reader.join().unwrap().into_iter().filter(|&s| s == CacheStatus::Hit).count())
        .sum();
    assert!(hits > 0, "some loads were hits");
    assert_eq!(entries(&dir), [path]);
    assert_eq!(files(&dir, ".tmp"), Vec::<PathBuf>::new());
}

/// Cold and cached loads of real modules run every extension alike.
fn compare_cold_and_cached(label: &str, wasm: &[u8], extensions: &[&str]) {
    let dir = fresh_dir(label);
    let engine = engine(cached(&dir));
    let state = common::state("benchmarks.json");
    let started = Instant::now();
    let cold = engine.load_package("cold", wasm, extensions).unwrap();
    let cold_took = started.elapsed();
    let started = Instant::now();
    let hot = engine.load_package("hot", wasm, extensions).unwrap();
    let hot_took = started.elapsed();
    eprintln!("{label}: cold load {cold_took:?}, cached {hot_took:?} (debug build)");
    assert_eq!((cold.cache_status(), hot.cache_status()), (CacheStatus::Miss, CacheStatus::Hit));
    assert_eq!(hot.snapshot_pages(), cold.snapshot_pages());
    assert_eq!(hot.preinitialized(), Ok(()));
    let mut worker = Worker::new(&engine);
    worker.add_package(&cold).unwrap();
    worker.add_package(&hot).unwrap();
    for extension in extensions {
        let mut outcome = |package: &str| {
            let done = worker.invoke(package, extension, &state).unwrap();
            let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
            (intents, done.host_calls(), done.output())
        };
        assert_eq!(outcome("hot"), outcome("cold"), "{label} {extension}");
    }
}

#[test]
fn tinygo_and_go_modules_load_from_the_cache_and_run_alike() {
    const EXTENSIONS: &[&str] =
        &["doNothing", "oneKey1call", "oneGetNoIntents2calls", "oneGetLongStr3calls", "oneGetOneIntent5calls"];
    if let Some(path) = common::tinygo_module("benchmarks-pkg.wasm") {
        compare_cold_and_cached("tinygo", &fs::read(path).unwrap(), EXTENSIONS);
    }
    let go = extwasm_go_examples::BENCHMARKS;
    if !extwasm_go_examples::skipped("the Go module from the cache") {
        compare_cold_and_cached("go", go.wasm, go.extensions);
    }
}
