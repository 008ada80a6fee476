//! Host-function safety at the guest/host boundary, with inline WAT guests.
//!
//! Every host import of [`HOST_IMPORTS`] is called with bad arguments:
//! pointers outside memory, pointer + length overflowing `u32`, invalid
//! UTF-8, forged, stale and wrong-kind handles, bad row-writer kinds and
//! indexes. Each must fail the invocation with the exact [`ErrorKind`] and a
//! message naming the extension (`pkg/<ext>`), the host call and the
//! argument, and the next invocation on the same worker must succeed. Then:
//! field reads (types, conversions, nesting, results larger than the
//! exchange buffer), must-get and state errors, `hostReadValues` callbacks,
//! panics, traps, memory limits and intents.

use extwasm_abi::{FieldType, HOST_IMPORTS, HostFunction, HostImport, ValType};
use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, Worker};
use serde_json::{Map, Value as Json, json};

/// The package name of every test module.
const PKG: &str = "pkg";
/// Where data segments start; the bytes below are scratch (iovecs).
const DATA_START: u32 = 0x100;
/// Where the guest heap, and so the exchange buffer, starts.
const HEAP_START: u32 = 0x1_0000;
/// Locals of every extension and callback besides `$k` and `$v`.
const LOCALS: &str = "(local $x i64) (local $y i64) (local $z i64) (local $a i32) (local $n i32)";

/// The exports every test module has besides its extensions.
const PRELUDE: &str = r#"
  (func (export "WasmOnReadValue") (param $k i64) (param $v i64)
    (call_indirect (type $callback) (local.get $k) (local.get $v) (global.get $mode)))
  (func (export "WasmAbiVersion_0_0_1"))
  ;; malloc_mode 0: bump allocator; 1: returns $malloc_result; 2: traps.
  (func (export "malloc") (param $size i32) (result i32) (local $p i32)
    (global.set $mallocs (i32.add (global.get $mallocs) (i32.const 1)))
    (if (i32.eq (global.get $malloc_mode) (i32.const 1)) (then (return (global.get $malloc_result))))
    (if (i32.eq (global.get $malloc_mode) (i32.const 2)) (then unreachable))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $grow)))
    (local.get $p))
  (func (export "free") (param i32)
    (global.set $frees (i32.add (global.get $frees) (i32.const 1))))
"#;

// ---------------------------------------------------------------------------
// A tiny WAT module builder.
// ---------------------------------------------------------------------------

/// A test module: the host imports it calls (as `$<name>`) and `fd_write`, a
/// memory, a bump `malloc` that counts (and can be told to misbehave), a
/// counting `free`, `WasmOnReadValue` dispatching to callback number
/// `$mode`, string data, the helpers it calls, and the extensions.
///
/// Helpers: `$kb` (key builder for `sys.Obj`), `$val` (its value),
/// `$intent` (an insert intent at `sys.Obj`), `$key p l` / `$new p l` (key
/// builder / insert intent for the storage at `p, l`), `$ptr` / `$len`
/// (unpack), `$put_str` / `$put_bytes` / `$put_i32` (puts on an intent from a
/// packed result or an i32), `$print fd p l` and `$ok` (inserts
/// `{"ok": 1}` into `sys.Ok`). Extensions have locals `$k $v $x $y $z` (i64)
/// and `$a $n` (i32); callbacks get `$k` and `$v` as parameters.
struct Wat {
    pages: u32,
    data: Vec<(u32, Vec<u8>)>,
    next_data: u32,
    /// Read callbacks, dispatched by `$mode`; callback 0 does nothing.
    callbacks: Vec<String>,
    extensions: Vec<(String, String)>,
    items: Vec<String>,
}

impl Wat {
    fn new() -> Self {
        let mut wat = Wat {
            pages: 2,
            data: Vec::new(),
            next_data: DATA_START,
            callbacks: vec![String::new()],
            extensions: Vec::new(),
            items: Vec::new(),
        };
        wat.ext("ok", "(call $ok)");
        wat
    }

    /// Places `bytes` in a data segment (once) and returns `(ptr, len)`.
    fn place(&mut self, bytes: &[u8]) -> (u32, u32) {
        let len = bytes.len() as u32;
        if let Some((ptr, _)) = self.data.iter().find(|(_, b)| b == bytes) {
            return (*ptr, len);
        }
        let ptr = self.next_data;
        self.next_data = (ptr + len + 8) & !7;
        assert!(self.next_data < HEAP_START, "data segments overrun the heap");
        self.data.push((ptr, bytes.to_vec()));
        (ptr, len)
    }

    /// `(i32.const ptr) (i32.const len)` of `bytes`.
    fn bytes(&mut self, bytes: &[u8]) -> String {
        let (ptr, len) = self.place(bytes);
        format!("(i32.const {ptr}) (i32.const {len})")
    }

    /// `(i32.const ptr) (i32.const len)` of `text`.
    fn s(&mut self, text: &str) -> String {
        self.bytes(text.as_bytes())
    }

    fn ext(&mut self, name: &str, body: impl AsRef<str>) {
        assert!(self.extensions.iter().all(|(n, _)| n != name), "extension {name} defined twice");
        self.extensions.push((name.to_owned(), body.as_ref().to_owned()));
    }

    /// An extension that first sets `$v` to the value of `sys.Obj`.
    fn ext_v(&mut self, name: &str, body: impl AsRef<str>) {
        self.ext(name, format!("(local.set $v (call $val)) {}", body.as_ref()));
    }

    /// Adds a read callback; returns its `$mode`.
    fn callback(&mut self, body: impl AsRef<str>) -> usize {
        self.callbacks.push(body.as_ref().to_owned());
        self.callbacks.len() - 1
    }

    /// An extension that runs `body` as the read callback of every `sys.Obj` record.
    fn ext_read(&mut self, name: &str, body: impl AsRef<str>) {
        let mode = self.callback(body);
        self.ext(name, read(mode, "(call $kb)"));
    }

    /// An extension `name` that runs `bodies[n]`, `n` being the case number
    /// the state holds (see [`case_state`]): as an extension with `$v` set,
    /// or as the read callback of every `sys.Obj` record. One function
    /// instead of one per case keeps the module small.
    fn dispatch(&mut self, name: &str, bodies: &[String], in_callback: bool) {
        let (storage, field) = (self.s("sys.Case"), self.s("n"));
        let case =
            format!("(global.set $case (call $hostValueAsInt32 (call $hostGetValue (call $key {storage})) {field}))");
        let labels: Vec<String> = (0..bodies.len()).map(|i| format!("$c{i}")).collect();
        let mut table = String::from("(block $out ");
        for label in labels.iter().rev() {
            table += &format!("(block {label} ");
        }
        table += &format!("(br_table {} $out (global.get $case)))\n", labels.join(" "));
        for body in bodies {
            table += &format!("      {body} (br $out))\n");
        }
        if in_callback {
            let mode = self.callback(table);
            self.ext(name, format!("{case} {}", read(mode, "(call $kb)")));
        } else {
            self.ext_v(name, format!("{case} {table}"));
        }
    }

    fn item(&mut self, item: impl AsRef<str>) {
        self.items.push(item.as_ref().to_owned());
    }

    fn names(&self) -> Vec<&str> {
        self.extensions.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn build(&mut self) -> String {
        let obj = self.s("sys.Obj");
        let ok_storage = self.s("sys.Ok");
        let ok_name = self.s("ok");
        let mut m = format!("  (memory (export \"memory\") {})\n", self.pages);
        m += &format!("  (global $heap (mut i32) (i32.const {HEAP_START}))\n");
        for global in ["mode", "case", "count", "mallocs", "frees", "malloc_mode", "malloc_result"] {
            m += &format!("  (global ${global} (mut i32) (i32.const 0))\n");
        }
        for global in ["saved", "saved2", "intent"] {
            m += &format!("  (global ${global} (mut i64) (i64.const 0))\n");
        }
        for (ptr, bytes) in &self.data {
            let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            m += &format!("  (data (i32.const {ptr}) \"{escaped}\")\n");
        }
        let callbacks: Vec<String> = (0..self.callbacks.len()).map(|i| format!("$cb{i}")).collect();
        m += &format!(
            "  (type $callback (func (param i64 i64)))\n  (table {} funcref)\n  (elem (i32.const 0) {})\n",
            callbacks.len(),
            callbacks.join(" ")
        );
        m += PRELUDE;
        let helpers = [
            ("key", "(func $key (param $p i32) (param $l i32) (result i64)\n    (call $hostGetKey (local.get $p) (local.get $l) (i32.const 0) (i32.const 0)))".to_owned()),
            ("kb", format!("(func $kb (result i64) (call $key {obj}))")),
            ("val", "(func $val (result i64) (call $hostGetValue (call $kb)))".into()),
            ("intent", "(func $intent (result i64) (call $hostNewValue (call $kb)))".into()),
            ("new", "(func $new (param $p i32) (param $l i32) (result i64) (call $hostNewValue (call $key (local.get $p) (local.get $l))))".into()),
            ("ptr", "(func $ptr (param $packed i64) (result i32) (i32.wrap_i64 (i64.shr_u (local.get $packed) (i64.const 32))))".into()),
            ("len", "(func $len (param $packed i64) (result i32) (i32.wrap_i64 (local.get $packed)))".into()),
            ("put_str", "(func $put_str (param $id i64) (param $np i32) (param $nl i32) (param $packed i64)
    (call $hostRowWriterPutString (local.get $id) (i32.const 1) (local.get $np) (local.get $nl)
      (call $ptr (local.get $packed)) (call $len (local.get $packed))))".into()),
            ("put_bytes", "(func $put_bytes (param $id i64) (param $np i32) (param $nl i32) (param $packed i64)
    (call $hostRowWriterPutBytes (local.get $id) (i32.const 1) (local.get $np) (local.get $nl)
      (call $ptr (local.get $packed)) (call $len (local.get $packed))))".into()),
            ("put_i32", "(func $put_i32 (param $id i64) (param $np i32) (param $nl i32) (param $value i32)
    (call $hostRowWriterPutInt32 (local.get $id) (i32.const 1) (local.get $np) (local.get $nl) (local.get $value)))".into()),
            ("print", "(func $print (param $fd i32) (param $p i32) (param $l i32)
    (i32.store (i32.const 16) (local.get $p))
    (i32.store (i32.const 20) (local.get $l))
    (drop (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24))))".into()),
            ("ok", format!("(func $ok (call $put_i32 (call $new {ok_storage}) {ok_name} (i32.const 1)))")),
        ];
        for (i, body) in self.callbacks.iter().enumerate() {
            m += &format!("  (func $cb{i} (param $k i64) (param $v i64) {LOCALS}\n    {body})\n");
        }
        for (name, body) in &self.extensions {
            m += &format!(
                "  (func (export \"{name}\") (local $k i64) (local $v i64) {LOCALS}\n    (global.set $mode (i32.const 0))\n    {body})\n"
            );
        }
        for item in &self.items {
            m += &format!("  {item}\n");
        }
        // Only the helpers and host imports the module uses: every module of
        // this file is compiled (three times: wizer) in a debug build, at a
        // cost per function.
        let mut used = vec![false; helpers.len()];
        while let Some(i) = (0..helpers.len()).find(|&i| !used[i] && calls(&m, helpers[i].0)) {
            used[i] = true;
            m += &format!("  {}\n", helpers[i].1);
        }
        let mut imports = String::new();
        for import in HOST_IMPORTS.iter().filter(|i| calls(&m, i.name)) {
            imports += &format!(
                "  (import \"env\" \"{0}\" (func ${0}{1}))\n",
                import.name,
                signature(import.params, import.results)
            );
        }
        imports += "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $fd_write (param i32 i32 i32 i32) (result i32)))\n";
        format!("(module\n{imports}{m})\n")
    }
}

/// Whether `text` refers to `$name`.
fn calls(text: &str, name: &str) -> bool {
    let needle = format!("${name}");
    text.match_indices(&needle)
        .any(|(at, _)| !text[at + needle.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

/// ` (param …) (result …)` of a signature.
fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    if !params.is_empty() {
        out += &format!(" (param {})", list(params));
    }
    if !results.is_empty() {
        out += &format!(" (result {})", list(results));
    }
    out
}

/// Runs read callback `mode` for every record matching the key builder `key`.
fn read(mode: usize, key: &str) -> String {
    format!("(global.set $mode (i32.const {mode})) (call $hostReadValues {key})")
}

// ---------------------------------------------------------------------------
// Running and checking.
// ---------------------------------------------------------------------------

fn worker(wat: &mut Wat, config: Config) -> Worker<JsonState> {
    let text = wat.build();
    let engine = Engine::new(config).expect("valid config");
    let package = match engine.load_package(PKG, text.as_bytes(), &wat.names()) {
        Ok(package) => package,
        Err(e) => panic!("{e}\n{text}"),
    };
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap_or_else(|e| panic!("{e}"));
    worker
}

/// Invokes `extension`; its intents as JSON, or the error.
fn run(worker: &mut Worker<JsonState>, extension: &str, state: &JsonState) -> Result<Vec<Json>, Error> {
    let done = worker.invoke(PKG, extension, state)?;
    Ok(done.intents().map(|i| JsonState::intent_json(&i)).collect())
}

fn fails(worker: &mut Worker<JsonState>, extension: &str, state: &JsonState) -> Error {
    match run(worker, extension, state) {
        Ok(intents) => panic!("{extension} succeeded with {intents:?}"),
        Err(e) => e,
    }
}

fn succeeds(worker: &mut Worker<JsonState>, extension: &str, state: &JsonState) -> Vec<Json> {
    run(worker, extension, state).unwrap_or_else(|e| panic!("{extension}: {e}"))
}

fn ok_intent() -> Json {
    json!({"op": "insert", "storage": "sys.Ok", "entity": "", "key": {}, "value": {"ok": 1}})
}

/// The worker still works: extension `ok` hands over exactly its one intent.
fn assert_recovers(worker: &mut Worker<JsonState>, state: &JsonState) {
    assert_eq!(succeeds(worker, "ok", state), vec![ok_intent()]);
}

/// `err` is a host-call error of `kind` at `pkg/<extension>`: `call(argument)`,
/// and its message names all three and contains every needle.
fn check_error(
    err: &Error,
    kind: ErrorKind,
    extension: &str,
    call: &str,
    argument: &str,
    needles: &[&str],
) -> Result<(), String> {
    let message = err.to_string();
    let label = format!("{PKG}/{extension}");
    if err.kind() != kind {
        return Err(format!("kind {} instead of {kind}: {message}", err.kind()));
    }
    match err.site() {
        Some(site) if site.extension == label && site.host_call == call && site.argument == argument => {}
        other => return Err(format!("site {other:?} instead of {label} {call}({argument}): {message}")),
    }
    for needle in [label.as_str(), call, argument].into_iter().chain(needles.iter().copied()) {
        if !message.contains(needle) {
            return Err(format!("message lacks {needle:?}: {message}"));
        }
    }
    Ok(())
}

#[track_caller]
fn assert_error(err: &Error, kind: ErrorKind, extension: &str, call: &str, argument: &str, needles: &[&str]) {
    if let Err(why) = check_error(err, kind, extension, call, argument, needles) {
        panic!("{extension}: {why}");
    }
}

/// The state of most tests: one `sys.Obj` record with a field of every
/// type, arrays of two elements of every type, and a key of every scalar
/// type; a failing storage; a scalar record.
fn obj_state() -> JsonState {
    JsonState::from_json(&obj_json()).expect("valid state")
}

/// [`obj_state`] with case number `n` for [`Wat::dispatch`].
fn case_state(n: usize) -> JsonState {
    let mut json = obj_json();
    json["sys.Case"] = json!([{"value": {"n": n}}]);
    JsonState::from_json(&json).expect("valid state")
}

fn obj_json() -> Json {
    json!({
        "sys.Obj": [{
            "key": {"s": "a", "b": {"$bytes": "AAE="}, "i": 1, "big": 6_000_000_000_i64, "f": 2.5, "t": true,
                    "q": {"$qname": "k.l.M"}},
            "value": {
                "s": "hello", "b": {"$bytes": "AAEC/w=="}, "i": -7, "big": 5_000_000_000_i64, "f": 1.5, "t": true,
                "q": {"$qname": "github.com/a/b.Entity"}, "v": {"x": 11, "arr": [1, 2, 3]}, "nul": null,
                "a_s": ["x", "yz"], "a_b": [{"$bytes": "AAE="}, {"$bytes": "/w=="}], "a_i32": [1, 2],
                "a_i64": [1, 5_000_000_000_i64], "a_t": [false, true], "a_f": [0.25, -2.5],
                "a_q": [{"$qname": "a.b.C"}, {"$qname": "x.y/z.W"}], "a_v": [{"x": 1}, [7, 8]], "empty": []
            }
        }],
        "sys.Fail": {"$error": "disk unavailable"},
        "sys.Scalar": [{"value": 7}]
    })
}

/// The `sys.Obj` value field holding a `t`.
fn field_for(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "s",
        FieldType::Bytes => "b",
        FieldType::Int32 => "i",
        FieldType::Int64 => "big",
        FieldType::Float32 | FieldType::Float64 => "f",
        FieldType::Bool => "t",
        FieldType::QName | FieldType::QNamePkg | FieldType::QNameEntity => "q",
        FieldType::Value => "v",
    }
}

/// The `sys.Obj` array of `t`s (two elements each).
fn array_for(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "a_s",
        FieldType::Bytes => "a_b",
        FieldType::Int32 => "a_i32",
        FieldType::Int64 => "a_i64",
        FieldType::Float32 | FieldType::Float64 => "a_f",
        FieldType::Bool => "a_t",
        FieldType::QName | FieldType::QNamePkg | FieldType::QNameEntity => "a_q",
        FieldType::Value => "a_v",
    }
}

// ---------------------------------------------------------------------------
// 1. Every host import with bad arguments, generated from the ABI table.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum HandleKind {
    KeyBuilder,
    Value,
    Key,
}

/// What a parameter (or a pair of them) of a host import is, with a valid
/// argument for it.
enum Param {
    /// A `(ptr, len)` pair; `utf8` when the host decodes it as a string.
    Bytes { arg: &'static str, valid: Vec<u8>, utf8: bool },
    /// An i64 handle.
    Handle { arg: &'static str, kind: HandleKind, valid: String },
    /// `id` and `kind` of a row-writer put.
    Row,
    /// An array index.
    Index,
    /// The scalar of a put.
    Scalar(&'static str),
}

impl Param {
    fn names(&self) -> Vec<String> {
        match self {
            Param::Bytes { arg, .. } => vec![arg.to_string(), arg.replace("Ptr", "Len")],
            Param::Handle { arg, .. } => vec![arg.to_string()],
            Param::Row => vec!["id".into(), "kind".into()],
            Param::Index => vec!["index".into()],
            Param::Scalar(_) => vec!["value".into()],
        }
    }

    fn valid(&self, wat: &mut Wat) -> String {
        match self {
            Param::Bytes { valid, .. } => wat.bytes(valid),
            Param::Handle { valid, .. } => valid.clone(),
            Param::Row => "(call $kb) (i32.const 0)".into(),
            Param::Index => "(i32.const 1)".into(),
            Param::Scalar(value) => value.to_string(),
        }
    }

    /// The bad arguments for this parameter, each with what it must cause.
    fn mutations(&self, wat: &mut Wat) -> Vec<Mutation> {
        match self {
            Param::Bytes { arg, valid, utf8 } => {
                let (ptr, _) = wat.place(valid);
                let memory = |label: &str, args: String, needles: &[&str]| {
                    Mutation::new(format!("{arg}: {label}"), args, ErrorKind::InvalidMemoryAccess, arg, needles)
                };
                let mut out = vec![
                    memory(
                        "straddles the end of memory",
                        "(i32.const 0x1ffff) (i32.const 2)".into(),
                        &["[0x1ffff, +2)", "131072 bytes"],
                    ),
                    memory("far outside memory", "(i32.const 0x7fffffff) (i32.const 1)".into(), &["[0x7fffffff, +1)"]),
                    memory(
                        "ptr + len overflows u32",
                        "(i32.const 0xfffffff0) (i32.const 0x20)".into(),
                        &["[0xfffffff0, +32)"],
                    ),
                    memory("negative length", format!("(i32.const {ptr}) (i32.const -1)"), &["+4294967295)"]),
                ];
                if *utf8 {
                    out.push(Mutation::new(
                        format!("{arg}: invalid UTF-8"),
                        wat.bytes(b"ok\xff\xfe"),
                        ErrorKind::InvalidUtf8,
                        arg,
                        &["not valid UTF-8", "valid up to byte 2"],
                    ));
                }
                out
            }
            Param::Handle { arg, kind, valid } => {
                let wrong: &[(&str, &str)] = match kind {
                    HandleKind::KeyBuilder => &[("value", "(local.get $v)"), ("intent", "(call $intent)")],
                    HandleKind::Value => &[("key builder", "(call $kb)"), ("intent", "(call $intent)")],
                    HandleKind::Key => &[("value", "(local.get $v)"), ("key builder", "(call $kb)")],
                };
                handle_mutations(arg, "", valid, "", wrong)
            }
            Param::Row => {
                let mut out = handle_mutations(
                    "id",
                    "kind 0, ",
                    "(call $kb)",
                    " (i32.const 0)",
                    &[("value", "(local.get $v)"), ("intent", "(call $intent)")],
                );
                out.extend(handle_mutations(
                    "id",
                    "kind 1, ",
                    "(call $intent)",
                    " (i32.const 1)",
                    &[("key builder", "(call $kb)"), ("value", "(local.get $v)")],
                ));
                for kind in [2, 7, -1] {
                    out.push(Mutation::new(
                        format!("kind {kind}"),
                        format!("(call $kb) (i32.const {kind})"),
                        ErrorKind::InvalidHandle,
                        "kind",
                        &[&format!("row-writer kind must be 0 (key builder) or 1 (intent), got {kind}")],
                    ));
                }
                out
            }
            Param::Index => [(2, "no element 2"), (100, "no element 100"), (-1, "no element -1")]
                .into_iter()
                .map(|(index, needle)| {
                    Mutation::new(
                        format!("index {index}"),
                        format!("(i32.const {index})"),
                        ErrorKind::MissingField,
                        "index",
                        &[needle],
                    )
                })
                .collect(),
            Param::Scalar(_) => Vec::new(),
        }
    }
}

/// One bad argument and what it must cause.
struct Mutation {
    label: String,
    /// A body run in the invocation before, storing a handle in `$saved`.
    prime: Option<String>,
    args: String,
    kind: ErrorKind,
    argument: &'static str,
    needles: Vec<String>,
}

impl Mutation {
    fn new(label: String, args: String, kind: ErrorKind, argument: &'static str, needles: &[&str]) -> Self {
        let needles = needles.iter().map(|n| n.to_string()).collect();
        Mutation { label, prime: None, args, kind, argument, needles }
    }
}

/// Forged (0, -1, random, an index beyond the table), stale and wrong-kind
/// handles for `argument`, whose valid value is `valid`; `suffix` follows
/// the handle in the argument list.
fn handle_mutations(
    argument: &'static str,
    prefix: &str,
    valid: &str,
    suffix: &str,
    wrong: &[(&str, &str)],
) -> Vec<Mutation> {
    let handle = |label: &str, expr: &str, needle: &str| {
        Mutation::new(
            format!("{prefix}{argument}: {label}"),
            format!("{expr}{suffix}"),
            ErrorKind::InvalidHandle,
            argument,
            &["invalid handle", needle],
        )
    };
    let mut out = vec![
        handle("0", "(i64.const 0)", "not a handle the host handed out"),
        handle("-1", "(i64.const -1)", "not a handle the host handed out"),
        handle("random", "(i64.const 0x5a17c0de12345678)", "not a handle the host handed out"),
        handle("index beyond the table", &format!("(i64.add {valid} (i64.const 1000))"), "forged"),
        Mutation {
            prime: Some(format!("(global.set $saved {valid})")),
            ..handle("stale (from the previous invocation)", "(global.get $saved)", "stale")
        },
    ];
    for (what, expr) in wrong {
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        out.push(handle(&format!("wrong kind ({what})"), expr, &format!("{article} {what} handle where")));
    }
    out
}

/// The parameters of `import`, with valid arguments against [`obj_state`].
fn params_of(import: &HostImport, wat: &mut Wat) -> Vec<Param> {
    use FieldType as F;
    use HostFunction as H;
    let text = |arg, text: &str| Param::Bytes { arg, valid: text.as_bytes().to_vec(), utf8: true };
    let key_builder = || Param::Handle { arg: "keyBuilder", kind: HandleKind::KeyBuilder, valid: "(call $kb)".into() };
    let value = |valid: String| Param::Handle { arg: "value", kind: HandleKind::Value, valid };
    match import.function {
        H::GetKey => vec![text("storagePtr", "sys.Obj"), text("entityPtr", "")],
        H::GetValue | H::QueryValue | H::ReadValues | H::NewValue => vec![key_builder()],
        H::UpdateValue => vec![
            key_builder(),
            Param::Handle { arg: "existingValue", kind: HandleKind::Value, valid: "(local.get $v)".into() },
        ],
        H::RowWriterPut(t) => {
            let mut params = vec![Param::Row, text("namePtr", "n")];
            match t {
                F::String => params.push(text("valuePtr", "val")),
                F::Bytes => params.push(Param::Bytes { arg: "valuePtr", valid: vec![0, 1, 0xff], utf8: false }),
                F::QName => params.extend([text("pkgPtr", "a.b"), text("entityPtr", "C")]),
                F::Bool => params.push(Param::Scalar("(i32.const 1)")),
                F::Int32 => params.push(Param::Scalar("(i32.const 5)")),
                F::Int64 => params.push(Param::Scalar("(i64.const 5)")),
                F::Float32 => params.push(Param::Scalar("(f32.const 1.5)")),
                F::Float64 => params.push(Param::Scalar("(f64.const 1.5)")),
                other => panic!("the ABI has no put of {other:?}"),
            }
            params
        }
        H::ValueLength => vec![value(format!("(call $hostValueAsValue (local.get $v) {})", wat.s("a_i32")))],
        H::ValueAs(t) => vec![value("(local.get $v)".into()), text("namePtr", field_for(t))],
        H::ValueGetAs(t) => {
            vec![value(format!("(call $hostValueAsValue (local.get $v) {})", wat.s(array_for(t)))), Param::Index]
        }
        H::KeyAs(t) => vec![
            Param::Handle { arg: "key", kind: HandleKind::Key, valid: "(local.get $k)".into() },
            text("namePtr", field_for(t)),
        ],
        H::Panic => vec![Param::Bytes { arg: "msgPtr", valid: b"boom".to_vec(), utf8: false }],
    }
}

/// The bad-argument cases of one import: `extension` runs case 0 (a
/// valid call, then `$ok`) and, for each mutation, an optional priming case
/// and the bad call.
struct ImportCases {
    import: &'static HostImport,
    extension: String,
    /// Each mutation with the case numbers of its priming and of its bad call.
    cases: Vec<(Mutation, Option<usize>, usize)>,
}

fn add_import_cases(import: &'static HostImport, wat: &mut Wat, extension: String) -> ImportCases {
    let params = params_of(import, wat);
    let names: Vec<String> = params.iter().flat_map(Param::names).collect();
    assert_eq!(names, import.param_names, "{}: the test's view of the parameters", import.name);

    let valid: Vec<String> = params.iter().map(|p| p.valid(wat)).collect();
    let call = |args: &[String]| {
        let call = format!("(call ${} {})", import.name, args.join(" "));
        if import.results.is_empty() { call } else { format!("(drop {call})") }
    };
    let mut bodies = vec![match import.function {
        HostFunction::Panic => "(call $ok)".to_owned(),
        _ => format!("{} (call $ok)", call(&valid)),
    }];
    let mut cases = Vec::new();
    for (i, param) in params.iter().enumerate() {
        for mutation in param.mutations(wat) {
            let prime = mutation.prime.clone().map(|prime| {
                bodies.push(prime);
                bodies.len() - 1
            });
            let mut args = valid.clone();
            args[i] = mutation.args.clone();
            bodies.push(call(&args));
            cases.push((mutation, prime, bodies.len() - 1));
        }
    }
    // Key handles exist only inside a read callback.
    wat.dispatch(&extension, &bodies, matches!(import.function, HostFunction::KeyAs(_)));
    ImportCases { import, extension, cases }
}

/// Runs the cases of one import: each bad call must fail as its mutation
/// says, and the valid call must work before and after each; what went wrong
/// goes to `failures`. Returns the number of cases.
fn run_import_cases(worker: &mut Worker<JsonState>, cases: &ImportCases, failures: &mut Vec<String>) -> usize {
    let ImportCases { import, extension, cases } = cases;
    // A valid call of NewValue / UpdateValue makes an intent of its own.
    let expected_intents = 1 + matches!(import.function, HostFunction::NewValue | HostFunction::UpdateValue) as usize;
    let valid_state = case_state(0);
    let valid_call = |worker: &mut Worker<JsonState>| match run(worker, extension, &valid_state) {
        Ok(intents) if intents.len() == expected_intents && intents.last() == Some(&ok_intent()) => Ok(()),
        Ok(intents) => Err(format!("intents {intents:?}")),
        Err(e) => Err(format!("failed: {e}")),
    };
    if let Err(why) = valid_call(worker) {
        failures.push(format!("{}: the valid call, before the bad ones: {why}", import.name));
        return 0;
    }
    for (case, prime, n) in cases {
        let label = format!("{}: {}", import.name, case.label);
        if let Some(prime) = prime
            && let Err(e) = run(worker, extension, &case_state(*prime))
        {
            failures.push(format!("{label}: priming failed: {e}"));
            continue;
        }
        match run(worker, extension, &case_state(*n)) {
            Ok(intents) => failures.push(format!("{label}: succeeded with {intents:?}")),
            Err(err) => {
                let needles: Vec<&str> = case.needles.iter().map(String::as_str).collect();
                if let Err(why) = check_error(&err, case.kind, extension, import.name, case.argument, &needles) {
                    failures.push(format!("{label}: {why}"));
                }
            }
        }
        if let Err(why) = valid_call(worker) {
            failures.push(format!("{label}: the next invocation (a valid call): {why}"));
        }
    }
    cases.len()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Group {
    Lookups,
    Puts,
    ValueReads,
    KeyReads,
}

/// Which bad-argument test covers `function`. Exhaustive: a new host
/// function does not compile until it has a group.
fn group(function: HostFunction) -> Group {
    match function {
        HostFunction::GetKey
        | HostFunction::GetValue
        | HostFunction::QueryValue
        | HostFunction::ReadValues
        | HostFunction::NewValue
        | HostFunction::UpdateValue
        | HostFunction::ValueLength
        | HostFunction::Panic => Group::Lookups,
        HostFunction::RowWriterPut(_) => Group::Puts,
        HostFunction::ValueAs(_) | HostFunction::ValueGetAs(_) => Group::ValueReads,
        HostFunction::KeyAs(_) => Group::KeyReads,
    }
}

/// One module with the bad-argument cases of every import of group `which`.
fn check_group(which: Group) {
    let mut wat = Wat::new();
    let all: Vec<ImportCases> = HOST_IMPORTS
        .iter()
        .filter(|import| group(import.function) == which)
        .map(|import| add_import_cases(import, &mut wat, format!("bad_{}", import.name)))
        .collect();
    let mut worker = worker(&mut wat, Config::default());
    let mut failures = Vec::new();
    let mut total = 0;
    for cases in &all {
        assert!(cases.cases.len() >= 4, "{}: only {} bad-argument cases", cases.import.name, cases.cases.len());
        total += run_import_cases(&mut worker, cases, &mut failures);
    }
    eprintln!("{which:?}: {total} bad-argument cases over {} imports", all.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bad_arguments_to_keys_lookups_intents_length_and_panic() {
    check_group(Group::Lookups);
}

#[test]
fn bad_arguments_to_row_writer_puts() {
    check_group(Group::Puts);
}

#[test]
fn bad_arguments_to_value_reads() {
    check_group(Group::ValueReads);
}

#[test]
fn bad_arguments_to_key_reads() {
    check_group(Group::KeyReads);
}

#[test]
fn a_handle_made_during_initialisation_is_stale_in_the_first_invocation() {
    let mut wat = Wat::new();
    wat.item(r#"(func (export "_initialize") (global.set $saved (call $kb)))"#);
    wat.ext("use", "(drop (call $hostGetValue (global.get $saved)))");
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    let err = fails(&mut worker, "use", &state);
    assert_error(&err, ErrorKind::InvalidHandle, "use", "hostGetValue", "keyBuilder", &["stale key builder handle"]);
    assert_recovers(&mut worker, &state);
}

#[test]

fn intent_handle_messages_use_the_right_article() {
    let mut wat = Wat::new();
    let name = wat.s("n");
    wat.ext("kb_as_intent", format!("(call $hostRowWriterPutInt32 (call $kb) (i32.const 1) {name} (i32.const 1))"));
    wat.ext(
        "zero_as_intent",
        format!("(call $hostRowWriterPutInt32 (i64.const 0) (i32.const 1) {name} (i32.const 1))"),
    );
    wat.ext("intent_as_kb", "(drop (call $hostGetValue (call $intent)))");
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    for (extension, call, argument, needle) in [
        ("kb_as_intent", "hostRowWriterPutInt32", "id", "a key builder handle where an intent was expected"),
        ("zero_as_intent", "hostRowWriterPutInt32", "id", "(expected an intent)"),
        ("intent_as_kb", "hostGetValue", "keyBuilder", "an intent handle where a key builder was expected"),
    ] {
        let err = fails(&mut worker, extension, &state);
        assert_error(&err, ErrorKind::InvalidHandle, extension, call, argument, &[needle]);
    }
}

#[test]
fn handles_stay_valid_for_the_whole_invocation_including_after_a_read() {
    let mut wat = Wat::new();
    let cc = wat.s("i");
    let out = wat.s("sys.Out");
    let (kname, vname) = (wat.s("key_i"), wat.s("value_i"));
    let save = wat.callback("(global.set $saved (local.get $k)) (global.set $saved2 (local.get $v))");
    wat.ext(
        "later",
        format!(
            "{} (local.set $x (call $new {out}))
             (call $put_i32 (local.get $x) {kname} (call $hostKeyAsInt32 (global.get $saved) {cc}))
             (call $put_i32 (local.get $x) {vname} (call $hostValueAsInt32 (global.get $saved2) {cc}))",
            read(save, "(call $kb)")
        ),
    );
    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "later", &obj_state());
    assert_eq!(got[0]["value"], json!({"key_i": 1, "value_i": -7}));
}

// ---------------------------------------------------------------------------
// 2. Field reads.
// ---------------------------------------------------------------------------

/// Puts the result of `read` (a read of type `t`) on intent `id` as field `name`.
fn put_read(wat: &mut Wat, t: FieldType, id: &str, name: &str, read: &str) -> String {
    let name = wat.s(name);
    let put = |import: &str, value: &str| format!("(call ${import} {id} (i32.const 1) {name} {value})\n");
    match t {
        FieldType::String | FieldType::QNamePkg | FieldType::QNameEntity => {
            format!("(call $put_str {id} {name} {read})\n")
        }
        FieldType::Bytes => format!("(call $put_bytes {id} {name} {read})\n"),
        FieldType::Int32 => put("hostRowWriterPutInt32", read),
        FieldType::Int64 => put("hostRowWriterPutInt64", read),
        FieldType::Float32 => put("hostRowWriterPutFloat32", read),
        FieldType::Float64 => put("hostRowWriterPutFloat64", read),
        FieldType::Bool => put("hostRowWriterPutBool", &format!("(i32.wrap_i64 {read})")),
        FieldType::QName | FieldType::Value => panic!("no put for a read of {t:?}"),
    }
}

/// What a scalar read of `t` returns from a value field, array element 1, or
/// key field of [`obj_state`], as JSON.
fn expected_read(function: HostFunction) -> Json {
    use FieldType as F;
    match function {
        HostFunction::ValueAs(t) => match t {
            F::String => json!("hello"),
            F::Bytes => json!({"$bytes": "AAEC/w=="}),
            F::Int32 => json!(-7),
            F::Int64 => json!(5_000_000_000_i64),
            F::Float32 | F::Float64 => json!(1.5),
            F::Bool => json!(true),
            F::QNamePkg => json!("github.com/a/b"),
            F::QNameEntity => json!("Entity"),
            F::QName | F::Value => unreachable!(),
        },
        HostFunction::ValueGetAs(t) => match t {
            F::String => json!("yz"),
            F::Bytes => json!({"$bytes": "/w=="}),
            F::Int32 => json!(2),
            F::Int64 => json!(5_000_000_000_i64),
            F::Float32 | F::Float64 => json!(-2.5),
            F::Bool => json!(true),
            F::QNamePkg => json!("x.y/z"),
            F::QNameEntity => json!("W"),
            F::QName | F::Value => unreachable!(),
        },
        HostFunction::KeyAs(t) => match t {
            F::String => json!("a"),
            F::Bytes => json!({"$bytes": "AAE="}),
            F::Int32 => json!(1),
            F::Int64 => json!(6_000_000_000_i64),
            F::Float32 | F::Float64 => json!(2.5),
            F::Bool => json!(true),
            F::QNamePkg => json!("k.l"),
            F::QNameEntity => json!("M"),
            F::QName | F::Value => unreachable!(),
        },
        other => panic!("{other:?} is not a field read"),
    }
}

#[test]
fn every_scalar_read_import_returns_the_field_it_names() {
    let mut wat = Wat::new();
    let out = wat.s("sys.Out");
    let (mut body, mut callback) = (String::new(), String::new());
    let mut expected = Map::new();
    for import in HOST_IMPORTS {
        let (t, read) = match import.function {
            HostFunction::ValueAs(t) if t != FieldType::Value => {
                (t, format!("(call ${} (local.get $v) {})", import.name, wat.s(field_for(t))))
            }
            HostFunction::ValueGetAs(t) if t != FieldType::Value => {
                let array = wat.s(array_for(t));
                (t, format!("(call ${} (call $hostValueAsValue (local.get $v) {array}) (i32.const 1))", import.name))
            }
            HostFunction::KeyAs(t) => (t, format!("(call ${} (local.get $k) {})", import.name, wat.s(field_for(t)))),
            _ => continue,
        };
        let put = put_read(&mut wat, t, "(global.get $intent)", import.name, &read);
        if matches!(import.function, HostFunction::KeyAs(_)) {
            callback += &put;
        } else {
            body += &put;
        }
        expected.insert(import.name.to_owned(), expected_read(import.function));
    }
    // Conversions the engine allows: integers as wider types and floats,
    // strings as bytes, a scalar record read with the name "".
    for (import, t, field, name, value) in [
        ("hostValueAsInt64", FieldType::Int64, "i", "i_as_int64", json!(-7)),
        ("hostValueAsFloat64", FieldType::Float64, "i", "i_as_float64", json!(-7.0)),
        ("hostValueAsFloat32", FieldType::Float32, "i", "i_as_float32", json!(-7.0)),
        ("hostValueAsFloat64", FieldType::Float64, "big", "big_as_float64", json!(5e9)),
        ("hostValueAsBytes", FieldType::Bytes, "s", "s_as_bytes", json!({"$bytes": "aGVsbG8="})),
    ] {
        let read = format!("(call ${import} (local.get $v) {})", wat.s(field));
        body += &put_read(&mut wat, t, "(global.get $intent)", name, &read);
        expected.insert(name.to_owned(), value);
    }
    let scalar = wat.s("sys.Scalar");
    let empty = wat.s("");
    body += &put_read(
        &mut wat,
        FieldType::Int32,
        "(global.get $intent)",
        "scalar_root",
        &format!("(call $hostValueAsInt32 (call $hostGetValue (call $key {scalar})) {empty})"),
    );
    expected.insert("scalar_root".into(), json!(7));
    let mode = wat.callback(callback);
    wat.ext_v("reads", format!("(global.set $intent (call $new {out}))\n{body}{}", read(mode, "(call $kb)")));

    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "reads", &obj_state());
    assert_eq!(got.len(), 1);
    let value = got[0]["value"].as_object().expect("an object");
    for (name, want) in &expected {
        assert_eq!(value.get(name), Some(want), "{name}");
    }
    assert_eq!(value.len(), expected.len(), "{value:?}");
}

#[test]
fn nested_values_through_value_as_value_and_get_as_value() {
    let mut wat = Wat::new();
    let s = |wat: &mut Wat, text: &str| wat.s(text);
    let (out, v, x, arr, a_v, empty) = (
        s(&mut wat, "sys.Out"),
        s(&mut wat, "v"),
        s(&mut wat, "x"),
        s(&mut wat, "arr"),
        s(&mut wat, "a_v"),
        s(&mut wat, "empty"),
    );
    let put =
        |wat: &mut Wat, name: &str, value: &str| format!("(call $put_i32 (local.get $z) {} {value})\n", wat.s(name));
    let mut body =
        format!("(local.set $z (call $new {out}))\n(local.set $x (call $hostValueAsValue (local.get $v) {v}))\n");
    body += &put(&mut wat, "v.x", &format!("(call $hostValueAsInt32 (local.get $x) {x})"));
    body += &format!("(local.set $y (call $hostValueAsValue (local.get $x) {arr}))\n");
    body += &put(&mut wat, "v.arr.len", "(call $hostValueLength (local.get $y))");
    body += &put(&mut wat, "v.arr[2]", "(call $hostValueGetAsInt32 (local.get $y) (i32.const 2))");
    body += &format!("(local.set $x (call $hostValueAsValue (local.get $v) {a_v}))\n");
    body += &put(&mut wat, "a_v.len", "(call $hostValueLength (local.get $x))");
    body += &put(
        &mut wat,
        "a_v[0].x",
        &format!("(call $hostValueAsInt32 (call $hostValueGetAsValue (local.get $x) (i32.const 0)) {x})"),
    );
    body += "(local.set $y (call $hostValueGetAsValue (local.get $x) (i32.const 1)))\n";
    body += &put(&mut wat, "a_v[1].len", "(call $hostValueLength (local.get $y))");
    body += &put(&mut wat, "a_v[1][1]", "(call $hostValueGetAsInt32 (local.get $y) (i32.const 1))");
    body += &put(
        &mut wat,
        "empty.len",
        &format!("(call $hostValueLength (call $hostValueAsValue (local.get $v) {empty}))"),
    );
    wat.ext_v("nested", body);

    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "nested", &obj_state());
    assert_eq!(
        got[0]["value"],
        json!({"v.x": 11, "v.arr.len": 3, "v.arr[2]": 3, "a_v.len": 2, "a_v[0].x": 1, "a_v[1].len": 2,
               "a_v[1][1]": 8, "empty.len": 0})
    );
}

/// A field read that must fail: import, handle (`$v`, `$k` or an array
/// field of `$v`), field name or `[index]`, kind, argument, needles.
type BadRead = (&'static str, &'static str, &'static str, ErrorKind, &'static str, &'static [&'static str]);

#[test]
fn bad_field_reads_name_the_field_and_the_types() {
    use ErrorKind::{MissingField, TypeMismatch};
    let mut wat = Wat::new();
    // (import, handle: the value, an array field of it, or the key; selector: a name or an index)
    let cases: Vec<BadRead> = vec![
        ("hostValueAsInt32", "$v", "nope", MissingField, "namePtr", &["no field \"nope\""]),
        ("hostValueAsInt32", "$v", "nul", MissingField, "namePtr", &["no field \"nul\""]),
        ("hostValueAsInt32", "$v", "s", TypeMismatch, "namePtr", &["field \"s\" is string, read as int32"]),
        ("hostValueAsInt32", "$v", "big", TypeMismatch, "namePtr", &["field \"big\" is int64 out of int32 range"]),
        ("hostValueAsInt32", "$v", "f", TypeMismatch, "namePtr", &["field \"f\" is float64, read as int32"]),
        ("hostValueAsInt64", "$v", "t", TypeMismatch, "namePtr", &["field \"t\" is bool, read as int64"]),
        ("hostValueAsInt32", "$v", "v", TypeMismatch, "namePtr", &["field \"v\" is value, read as int32"]),
        ("hostValueAsString", "$v", "b", TypeMismatch, "namePtr", &["field \"b\" is bytes, read as string"]),
        ("hostValueAsString", "$v", "i", TypeMismatch, "namePtr", &["field \"i\" is int64, read as string"]),
        ("hostValueAsBool", "$v", "i", TypeMismatch, "namePtr", &["field \"i\" is int64, read as bool"]),
        ("hostValueAsQNamePkg", "$v", "s", TypeMismatch, "namePtr", &["is string, read as qname package"]),
        ("hostValueAsValue", "$v", "i", TypeMismatch, "namePtr", &["field \"i\" is int64, read as value"]),
        ("hostValueAsInt32", "a_i32", "x", MissingField, "namePtr", &["no field \"x\""]),
        ("hostValueGetAsInt32", "a_i32", "[2]", MissingField, "index", &["no element 2"]),
        ("hostValueGetAsInt32", "$v", "[0]", MissingField, "index", &["no element 0", "not an array"]),
        ("hostValueGetAsString", "a_i32", "[0]", TypeMismatch, "index", &["field \"[0]\" is int64, read as string"]),
        ("hostValueGetAsInt32", "a_i64", "[1]", TypeMismatch, "index", &["int64 out of int32 range"]),
        ("hostValueGetAsValue", "a_i32", "[0]", TypeMismatch, "index", &["is int64, read as value"]),
        ("hostValueLength", "$v", "", TypeMismatch, "value", &["read as array"]),
        ("hostKeyAsInt32", "$k", "zzz", MissingField, "namePtr", &["no field \"zzz\""]),
        ("hostKeyAsInt32", "$k", "s", TypeMismatch, "namePtr", &["field \"s\" is string, read as int32"]),
        ("hostKeyAsInt32", "$k", "big", TypeMismatch, "namePtr", &["int64 out of int32 range"]),
        ("hostKeyAsString", "$k", "q", TypeMismatch, "namePtr", &["field \"q\" is qname, read as string"]),
    ];
    for (n, (import, handle, selector, ..)) in cases.iter().enumerate() {
        let handle = match *handle {
            "$v" | "$k" => format!("(local.get {handle})"),
            array => format!("(call $hostValueAsValue (local.get $v) {})", wat.s(array)),
        };
        let selector = match selector.strip_prefix('[') {
            Some(index) => format!("(i32.const {})", index.trim_end_matches(']')),
            None if *import == "hostValueLength" => String::new(),
            None => wat.s(selector),
        };
        let call = format!("(drop (call ${import} {handle} {selector}))");
        if import.starts_with("hostKey") {
            wat.ext_read(&format!("e{n}"), call);
        } else {
            wat.ext_v(&format!("e{n}"), call);
        }
    }
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    for (n, (import, _, _, kind, argument, needles)) in cases.iter().enumerate() {
        let err = fails(&mut worker, &format!("e{n}"), &state);
        assert_error(&err, *kind, &format!("e{n}"), import, argument, needles);
        assert_recovers(&mut worker, &state);
    }
}

/// Strings, bytes, elements and key fields larger than a 64-byte exchange
/// buffer go through the guest's `malloc`; the extra buffers are freed after
/// the invocation, and the exchange offset starts at 0 every invocation.
#[test]
fn results_larger_than_the_exchange_buffer_go_through_malloc() {
    let s40: String = "0123456789".repeat(4);
    let long: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let key: String = "k".repeat(100);
    let element: String = "e".repeat(70);
    let state = JsonState::from_json(&json!({
        "sys.Obj": [{"key": {"ks": key}, "value": {"s40": s40, "long": long, "b99": {"$bytes": "YWJj".repeat(33)},
                                                     "arr": [element]}}]
    }))
    .unwrap();
    let mut wat = Wat::new();
    let out = wat.s("sys.Out");
    let intent = "(global.get $intent)";
    let mut body = format!("(global.set $intent (call $new {out}))\n");
    let (f_s40, f_long, f_b99, f_arr, f_ks) = (wat.s("s40"), wat.s("long"), wat.s("b99"), wat.s("arr"), wat.s("ks"));
    // The first read fits (offset 40 of 64), the second does not.
    body += &format!("(local.set $x (call $hostValueAsString (local.get $v) {f_s40}))\n");
    body += &format!("(local.set $y (call $hostValueAsString (local.get $v) {f_s40}))\n");
    body += &put_read(&mut wat, FieldType::String, intent, "s40_a", "(local.get $x)");
    body += &put_read(&mut wat, FieldType::String, intent, "s40_b", "(local.get $y)");
    body += &put_read(
        &mut wat,
        FieldType::Int32,
        intent,
        "s40_a_at",
        &format!("(i32.sub (call $ptr (local.get $x)) (i32.const {HEAP_START}))"),
    );
    body += &put_read(
        &mut wat,
        FieldType::Int32,
        intent,
        "s40_b_at",
        &format!("(i32.sub (call $ptr (local.get $y)) (i32.const {HEAP_START}))"),
    );
    body += &put_read(
        &mut wat,
        FieldType::String,
        intent,
        "long",
        &format!("(call $hostValueAsString (local.get $v) {f_long})"),
    );
    body += &put_read(
        &mut wat,
        FieldType::Bytes,
        intent,
        "b99",
        &format!("(call $hostValueAsBytes (local.get $v) {f_b99})"),
    );
    body += &put_read(
        &mut wat,
        FieldType::String,
        intent,
        "arr[0]",
        &format!("(call $hostValueGetAsString (call $hostValueAsValue (local.get $v) {f_arr}) (i32.const 0))"),
    );
    let key_read =
        put_read(&mut wat, FieldType::String, intent, "ks", &format!("(call $hostKeyAsString (local.get $k) {f_ks})"));
    let mode = wat.callback(key_read);
    body += &read(mode, "(call $kb)");
    body += &put_read(&mut wat, FieldType::Int32, intent, "mallocs", "(global.get $mallocs)");
    body += &put_read(&mut wat, FieldType::Int32, intent, "frees", "(global.get $frees)");
    wat.ext_v("big", body);

    let config = Config::default().exchange_buffer_bytes(64).memory_limit_pages(4);
    let mut worker = worker(&mut wat, config);
    for (round, (mallocs, frees)) in [(6, 0), (11, 5)].into_iter().enumerate() {
        let got = succeeds(&mut worker, "big", &state);
        let value = &got[0]["value"];
        assert_eq!(value["s40_a"], json!(s40), "round {round}");
        assert_eq!(value["s40_b"], json!(s40), "round {round}");
        assert_eq!(value["s40_a_at"], json!(0), "round {round}: the exchange buffer starts over");
        assert!(value["s40_b_at"].as_i64().unwrap() >= 64, "round {round}: {value}");
        assert_eq!(value["long"], json!(long), "round {round}");
        assert_eq!(value["b99"], json!({"$bytes": "YWJj".repeat(33)}), "round {round}");
        assert_eq!(value["arr[0]"], json!(element), "round {round}");
        assert_eq!(value["ks"], json!(key), "round {round}");
        // One malloc for the exchange buffer, then one per result that did not fit.
        assert_eq!((value["mallocs"].as_i64(), value["frees"].as_i64()), (Some(mallocs), Some(frees)), "round {round}");
    }
}

#[test]
fn a_malloc_that_fails_during_a_read_fails_the_invocation() {
    let state = JsonState::from_json(&json!({"sys.Obj": [{"value": {"long": "x".repeat(200)}}]})).unwrap();
    let mut wat = Wat::new();
    let long = wat.s("long");
    let read_long = format!("(drop (call $hostValueAsString (local.get $v) {long}))");
    wat.ext_v(
        "outside",
        format!(
            "(global.set $malloc_mode (i32.const 1)) (global.set $malloc_result (i32.const 0xffff0000)) {read_long}"
        ),
    );
    wat.ext_v("traps", format!("(global.set $malloc_mode (i32.const 2)) {read_long}"));
    wat.ext_v("fine", format!("(global.set $malloc_mode (i32.const 0)) {read_long} (call $ok)"));
    let mut worker = worker(&mut wat, Config::default().exchange_buffer_bytes(64));

    let err = fails(&mut worker, "outside", &state);
    assert_error(
        &err,
        ErrorKind::InvalidMemoryAccess,
        "outside",
        "hostValueAsString",
        "malloc result",
        &["0xffff0000"],
    );
    assert_eq!(succeeds(&mut worker, "fine", &state), vec![ok_intent()]);
    let err = fails(&mut worker, "traps", &state);
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert!(err.to_string().contains("pkg/traps"), "{err}");
    assert_eq!(succeeds(&mut worker, "fine", &state), vec![ok_intent()]);
}

/// `malloc` returning 0 (C's out-of-memory answer) during a read must not
/// make the host write the result over guest memory at address 0.
#[test]

fn a_malloc_returning_null_during_a_read_fails_the_invocation() {
    let state = JsonState::from_json(&json!({"sys.Obj": [{"value": {"long": "x".repeat(200)}}]})).unwrap();
    let mut wat = Wat::new();
    let long = wat.s("long");
    wat.ext_v(
        "null",
        format!(
            "(global.set $malloc_mode (i32.const 1)) (global.set $malloc_result (i32.const 0))
             (drop (call $hostValueAsString (local.get $v) {long}))"
        ),
    );
    let mut worker = worker(&mut wat, Config::default().exchange_buffer_bytes(64));
    match run(&mut worker, "null", &state) {
        Ok(_) => panic!("the 200-byte result was written at guest address 0 (over the guest's own data)"),
        Err(err) => {
            assert_error(&err, ErrorKind::InvalidMemoryAccess, "null", "hostValueAsString", "malloc result", &[]);
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Must-get, query and state errors.
// ---------------------------------------------------------------------------

#[test]
fn get_value_of_a_missing_key_is_not_found_naming_the_key() {
    let mut wat = Wat::new();
    let (missing, i) = (wat.s("sys.Missing"), wat.s("i"));
    wat.ext("missing_storage", format!("(drop (call $hostGetValue (call $key {missing})))"));
    wat.ext(
        "no_match",
        format!(
            "(local.set $x (call $kb)) (call $hostRowWriterPutInt32 (local.get $x) (i32.const 0) {i} (i32.const 999))
             (drop (call $hostGetValue (local.get $x)))"
        ),
    );
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    let err = fails(&mut worker, "missing_storage", &state);
    assert_error(
        &err,
        ErrorKind::NotFound,
        "missing_storage",
        "hostGetValue",
        "keyBuilder",
        &["no value for storage \"sys.Missing\", entity \"\", key {}"],
    );
    assert_recovers(&mut worker, &state);
    let err = fails(&mut worker, "no_match", &state);
    assert_error(
        &err,
        ErrorKind::NotFound,
        "no_match",
        "hostGetValue",
        "keyBuilder",
        &["storage \"sys.Obj\", entity \"\", key {i: 999}"],
    );
    assert_recovers(&mut worker, &state);
}

#[test]
fn a_failing_storage_is_a_state_error_carrying_its_message() {
    let mut wat = Wat::new();
    let fail = wat.s("sys.Fail");
    wat.ext("get", format!("(drop (call $hostGetValue (call $key {fail})))"));
    wat.ext("query", format!("(drop (call $hostQueryValue (call $key {fail})))"));
    wat.ext("read", format!("(call $hostReadValues (call $key {fail}))"));
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    for (extension, call) in [("get", "hostGetValue"), ("query", "hostQueryValue"), ("read", "hostReadValues")] {
        let err = fails(&mut worker, extension, &state);
        assert_error(&err, ErrorKind::State, extension, call, "keyBuilder", &["state error: disk unavailable"]);
        assert_recovers(&mut worker, &state);
    }
}

#[test]
fn query_value_returns_all_ones_when_absent_and_a_handle_when_present() {
    let mut wat = Wat::new();
    let (out, missing, i) = (wat.s("sys.Out"), wat.s("sys.Missing"), wat.s("i"));
    let put_i64 = |wat: &mut Wat, name: &str, value: &str| {
        format!("(call $hostRowWriterPutInt64 (local.get $z) (i32.const 1) {} {value})\n", wat.s(name))
    };
    let mut body = format!("(local.set $z (call $new {out}))\n");
    body += &put_i64(&mut wat, "missing_storage", &format!("(call $hostQueryValue (call $key {missing}))"));
    body += &format!(
        "(local.set $x (call $kb)) (call $hostRowWriterPutInt32 (local.get $x) (i32.const 0) {i} (i32.const 999))\n"
    );
    body += &put_i64(&mut wat, "no_match", "(call $hostQueryValue (local.get $x))");
    body += &format!(
        "(local.set $x (call $kb)) (call $hostRowWriterPutInt32 (local.get $x) (i32.const 0) {i} (i32.const 1))\n"
    );
    body += &put_i64(
        &mut wat,
        "match",
        &format!("(i64.extend_i32_s (call $hostValueAsInt32 (call $hostQueryValue (local.get $x)) {i}))"),
    );
    wat.ext("query", body);
    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "query", &obj_state());
    assert_eq!(extwasm_abi::NOT_FOUND as i64, -1);
    assert_eq!(got[0]["value"], json!({"missing_storage": -1, "no_match": -1, "match": -7}));
}

// ---------------------------------------------------------------------------
// 4. hostReadValues.
// ---------------------------------------------------------------------------

fn view_state() -> JsonState {
    JsonState::from_json(&json!({
        "sys.View": [
            {"key": {"pk": 1, "cc": 1}, "value": {"vv": 10}},
            {"key": {"pk": 1, "cc": 2}, "value": {"vv": 20}},
            {"key": {"pk": 2, "cc": 3}, "value": {"vv": 30}}
        ],
        "sys.Inner": [{"key": {"n": 1}, "value": {"w": 100}}, {"key": {"n": 2}, "value": {"w": 200}}]
    }))
    .unwrap()
}

fn out_intent(key: Json, value: Json) -> Json {
    json!({"op": "insert", "storage": "sys.Out", "entity": "", "key": key, "value": value})
}

#[test]
fn read_values_calls_back_once_per_match_with_key_and_value() {
    let mut wat = Wat::new();
    let (view, out, pk, cc, vv) = (wat.s("sys.View"), wat.s("sys.Out"), wat.s("pk"), wat.s("cc"), wat.s("vv"));
    let each = wat.callback(format!(
        "(local.set $x (call $key {out}))
         (call $hostRowWriterPutInt32 (local.get $x) (i32.const 0) {cc} (call $hostKeyAsInt32 (local.get $k) {cc}))
         (call $put_i32 (call $hostNewValue (local.get $x)) {vv} (call $hostValueAsInt32 (local.get $v) {vv}))"
    ));
    wat.ext(
        "each",
        format!(
            "(local.set $x (call $key {view})) (call $hostRowWriterPutInt64 (local.get $x) (i32.const 0) {pk} (i64.const 1))
             {}",
            read(each, "(local.get $x)")
        ),
    );
    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "each", &view_state());
    assert_eq!(
        got,
        vec![out_intent(json!({"cc": 1}), json!({"vv": 10})), out_intent(json!({"cc": 2}), json!({"vv": 20}))]
    );
}

#[test]
fn read_values_is_re_entrant() {
    let mut wat = Wat::new();
    let (view, inner, out, cc, n, w) =
        (wat.s("sys.View"), wat.s("sys.Inner"), wat.s("sys.Out"), wat.s("cc"), wat.s("n"), wat.s("w"));
    let outer_name = wat.s("outer");
    let inner_mode = wat.callback(format!(
        "(local.set $x (call $new {out}))
         (call $put_i32 (local.get $x) {outer_name} (global.get $count))
         (call $put_i32 (local.get $x) {n} (call $hostKeyAsInt32 (local.get $k) {n}))
         (call $put_i32 (local.get $x) {w} (call $hostValueAsInt32 (local.get $v) {w}))"
    ));
    let outer_mode = inner_mode + 1;
    let registered = wat.callback(format!(
        "(global.set $count (call $hostKeyAsInt32 (local.get $k) {cc}))
         (call $put_i32 (call $new {out}) {outer_name} (global.get $count))
         {}
         (global.set $mode (i32.const {outer_mode}))",
        read(inner_mode, &format!("(call $key {inner})"))
    ));
    assert_eq!(registered, outer_mode);
    wat.ext("nested", read(outer_mode, &format!("(call $key {view})")));

    // The guest changes the key builder it is reading with from inside the
    // callback: the running read is not affected, the nested query is.
    let (pk_seen, queried, vv) = (wat.s("seen"), wat.s("queried"), wat.s("vv"));
    let mutate = wat.callback(format!(
        "(call $hostRowWriterPutInt32 (global.get $saved) (i32.const 0) {cc} (i32.const 2))
         (local.set $x (call $new {out}))
         (call $put_i32 (local.get $x) {pk_seen} (call $hostKeyAsInt32 (local.get $k) {cc}))
         (call $put_i32 (local.get $x) {queried} (call $hostValueAsInt32 (call $hostQueryValue (global.get $saved)) {vv}))"
    ));
    wat.ext("mutate", format!("(global.set $saved (call $key {view})) {}", read(mutate, "(global.get $saved)")));

    let mut worker = worker(&mut wat, Config::default());
    let state = view_state();
    let got = succeeds(&mut worker, "nested", &state);
    let mut want = Vec::new();
    for outer in 1..=3 {
        want.push(out_intent(json!({}), json!({"outer": outer})));
        for (n, w) in [(1, 100), (2, 200)] {
            want.push(out_intent(json!({}), json!({"outer": outer, "n": n, "w": w})));
        }
    }
    assert_eq!(got, want);

    let got = succeeds(&mut worker, "mutate", &state);
    let want: Vec<Json> = (1..=3).map(|cc| out_intent(json!({}), json!({"seen": cc, "queried": 20}))).collect();
    assert_eq!(got, want);
}

#[test]
fn a_failure_inside_the_read_callback_fails_the_invocation() {
    let mut wat = Wat::new();
    let (view, nope, boom) = (wat.s("sys.View"), wat.s("nope"), wat.s("from the callback"));
    let key = format!("(call $key {view})");
    let trap = wat.callback(
        "(global.set $count (i32.add (global.get $count) (i32.const 1)))
         (if (i32.eq (global.get $count) (i32.const 2)) (then unreachable))
         (drop (call $intent))",
    );
    wat.ext("trap", format!("(global.set $count (i32.const 0)) {}", read(trap, &key)));
    let host_error = wat.callback(format!("(drop (call $hostValueAsInt32 (local.get $v) {nope}))"));
    wat.ext("host_error", read(host_error, &key));
    let panics = wat.callback(format!("(call $hostPanic {boom}) unreachable"));
    wat.ext("panics", read(panics, &key));
    let recurse_mode = wat.callbacks.len();
    let recurse = wat.callback(read(recurse_mode, &key));
    assert_eq!(recurse, recurse_mode);
    wat.ext("recurse", read(recurse, &key));
    let mut worker = worker(&mut wat, Config::default());
    let state = view_state();

    let err = fails(&mut worker, "trap", &state);
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert!(err.to_string().contains("pkg/trap") && err.to_string().contains("unreachable"), "{err}");
    assert!(err.backtrace().iter().any(|f| f.contains("cb")), "{:?}", err.backtrace());
    assert_recovers(&mut worker, &state);

    let err = fails(&mut worker, "host_error", &state);
    assert_error(&err, ErrorKind::MissingField, "host_error", "hostValueAsInt32", "namePtr", &["no field \"nope\""]);
    assert_recovers(&mut worker, &state);

    let err = fails(&mut worker, "panics", &state);
    assert_eq!(err.kind(), ErrorKind::GuestPanic, "{err}");
    assert!(matches!(&err, Error::GuestPanic { message, .. } if message == "from the callback"), "{err}");
    assert_recovers(&mut worker, &state);

    // Unbounded recursion through the host: the wasm stack limit ends it.
    let err = fails(&mut worker, "recurse", &state);
    assert_eq!(err.kind(), ErrorKind::StackOverflow, "{err}");
    assert!(err.to_string().contains("extension pkg/recurse overflowed its call stack"), "{err}");
    assert!(!err.backtrace().is_empty());
    assert_recovers(&mut worker, &state);
}

// ---------------------------------------------------------------------------
// 5. Panics, traps and memory limits.
// ---------------------------------------------------------------------------

fn panic_message(err: &Error) -> &str {
    match err {
        Error::GuestPanic { message, .. } => message,
        other => panic!("not a guest panic: {other}"),
    }
}

#[test]
fn host_panic_and_tinygo_panics_are_guest_panics() {
    let mut wat = Wat::new();
    wat.pages = 4;
    let (boom, bad, line, on_stderr) =
        (wat.s("boom"), wat.bytes(b"bad \xff"), wat.s("panic: boom\n"), wat.s("panic: on stderr\n"));
    let nl_line = wat.s("\npanic: boom\n");
    wat.ext("host_panic", format!("(call $hostPanic {boom}) unreachable"));
    wat.ext("host_panic_invalid_utf8", format!("(call $hostPanic {bad}) unreachable"));
    wat.ext("tinygo", format!("(call $print (i32.const 1) {line}) unreachable"));
    wat.ext("stderr", format!("(call $print (i32.const 2) {on_stderr}) unreachable"));
    // 100 KiB of output in 80-byte lines, then the panic line.
    let flood = "(memory.fill (i32.const 0x20000) (i32.const 0x78) (i32.const 102400))
        (local.set $a (i32.const 0x2004f))
        (loop $lines
          (i32.store8 (local.get $a) (i32.const 10))
          (local.set $a (i32.add (local.get $a) (i32.const 80)))
          (br_if $lines (i32.lt_u (local.get $a) (i32.const 0x39000))))
        (call $print (i32.const 1) (i32.const 0x20000) (i32.const 102400))";
    wat.ext("flood", format!("{flood} (call $print (i32.const 1) {line}) unreachable"));
    // 100 KiB without a newline, then the panic on a line of its own.
    wat.ext(
        "flood_one_line",
        format!(
            "(memory.fill (i32.const 0x20000) (i32.const 0x78) (i32.const 102400))
             (call $print (i32.const 1) (i32.const 0x20000) (i32.const 102400))
             (call $print (i32.const 1) {nl_line}) unreachable"
        ),
    );
    wat.ext("chatter", format!("{flood} (call $ok)"));
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();

    for (extension, message) in [
        ("host_panic", "boom"),
        ("host_panic_invalid_utf8", "bad \u{fffd}"),
        ("tinygo", "boom"),
        ("stderr", "on stderr"),
        ("flood", "boom"),
        ("flood_one_line", "boom"),
    ] {
        let err = fails(&mut worker, extension, &state);
        assert_eq!(err.kind(), ErrorKind::GuestPanic, "{extension}: {err}");
        assert_eq!(panic_message(&err), message, "{extension}");
        assert!(err.to_string().contains(&format!("extension pkg/{extension} panicked: {message}")), "{err}");
        assert!(!err.backtrace().is_empty(), "{extension}: no backtrace");
        assert_recovers(&mut worker, &state);
    }

    // A flood that does not panic: the invocation works, its output is bounded.
    let done = worker.invoke(PKG, "chatter", &state).unwrap();
    let output = done.output();
    assert!(output.len() < 2048, "{} bytes kept", output.len());
    assert!(output.contains("more bytes of output dropped"), "{output}");
    assert_eq!(done.intents().len(), 1);
}

#[test]
fn host_panic_with_a_message_outside_memory_is_an_invalid_memory_access() {
    let mut wat = Wat::new();
    wat.ext("p", "(call $hostPanic (i32.const 0x1fff0) (i32.const 0x100)) unreachable");
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    let err = fails(&mut worker, "p", &state);
    assert_error(&err, ErrorKind::InvalidMemoryAccess, "p", "hostPanic", "msgPtr", &["[0x1fff0, +256)"]);
    assert_recovers(&mut worker, &state);
}

#[test]
fn traps_are_traps_and_the_host_survives_them() {
    let mut wat = Wat::new();
    wat.item("(func $recurse (param $n i32) (result i32) (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))");
    wat.item("(func $unreachable_here unreachable)");
    wat.ext("unreachable", "(call $unreachable_here)");
    wat.ext("recursion", "(drop (call $recurse (i32.const 0)))");
    wat.ext("divide", "(drop (i32.div_s (i32.const 1) (i32.sub (global.get $count) (global.get $count))))");
    wat.ext("load", "(drop (i32.load (i32.const 0x7ffffff0)))");
    wat.ext("indirect", "(call_indirect (type $callback) (i64.const 0) (i64.const 0) (i32.const 1000))");
    let mut worker = worker(&mut wat, Config::default());
    let state = obj_state();
    for (extension, message) in [
        ("unreachable", "wasm `unreachable` instruction executed"),
        ("divide", "integer divide by zero"),
        ("load", "out of bounds memory access"),
        ("indirect", "undefined element"),
    ] {
        let err = fails(&mut worker, extension, &state);
        assert_eq!(err.kind(), ErrorKind::Trap, "{extension}: {err}");
        let Error::Trap { extension: label, message: got, backtrace } = &err else { unreachable!() };
        assert_eq!(label, &format!("pkg/{extension}"));
        assert!(got.contains(message), "{extension}: {got}");
        assert!(!backtrace.is_empty(), "{extension}: no backtrace");
        assert!(err.site().is_none());
        assert_recovers(&mut worker, &state);
    }
    let err = fails(&mut worker, "unreachable", &state);
    assert_eq!(err.backtrace().first().map(String::as_str), Some("unreachable_here"), "{:?}", err.backtrace());

    // Deep recursion is a stack overflow of its own kind; the host is unharmed.
    let err = fails(&mut worker, "recursion", &state);
    assert_eq!(err.kind(), ErrorKind::StackOverflow, "{err}");
    assert_eq!(err.to_string(), "extension pkg/recursion overflowed its call stack");
    // The innermost 64 frames, then a note that there were more.
    let (more, frames) = err.backtrace().split_last().expect("a backtrace");
    assert_eq!(more, "… more frames");
    assert_eq!(frames.len(), 64);
    assert!(frames.iter().all(|f| f == "recurse"), "{frames:?}");
    assert!(err.site().is_none());
    assert_recovers(&mut worker, &state);
}

#[test]
fn a_guest_that_loops_forever_is_stopped_by_the_deadline_or_the_fuel() {
    let mut wat = Wat::new();
    wat.ext("forever", "(loop $forever (br $forever))");
    let state = obj_state();

    let config = Config::default().timeout(Some(std::time::Duration::from_millis(50)));
    let mut timed = worker(&mut wat, config);
    let started = std::time::Instant::now();
    let err = fails(&mut timed, "forever", &state);
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.to_string(), "extension pkg/forever ran past its deadline of 50 ms");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert_recovers(&mut timed, &state);

    let mut fueled = worker(&mut wat, Config::default().timeout(None).fuel(Some(100_000)));
    let err = fails(&mut fueled, "forever", &state);
    assert_eq!(err.kind(), ErrorKind::FuelExhausted, "{err}");
    assert_eq!(err.to_string(), "extension pkg/forever used up its fuel budget of 100000");
    assert_recovers(&mut fueled, &state);
}

#[test]
fn growing_memory_beyond_the_limit_is_a_memory_limit_error() {
    let mut wat = Wat::new();
    let oom = wat.s("panic: runtime error: out of memory\n");
    let grow = |pages: u32| format!("(i32.eq (memory.grow (i32.const {pages})) (i32.const -1))");
    wat.ext("beyond", format!("(if {} (then unreachable))", grow(3)));
    wat.ext("tinygo_oom", format!("(if {} (then (call $print (i32.const 1) {oom}) unreachable))", grow(3)));
    // A guest may handle a failed grow itself.
    wat.ext("handled", format!("(if {} (then (call $ok)))", grow(3)));
    wat.ext("to_the_limit", format!("(if {} (then unreachable)) (call $ok)", grow(2)));
    wat.ext("one_more", format!("(if {} (then unreachable)) (if {} (then unreachable))", grow(2), grow(1)));
    let mut worker = worker(&mut wat, Config::default().memory_limit_pages(4));
    let state = obj_state();
    let limit = |err: &Error| match err {
        Error::MemoryLimit { extension, limit_pages, requested_pages, message } => {
            (extension.clone(), *limit_pages, *requested_pages, message.clone())
        }
        other => panic!("not a memory-limit error: {other}"),
    };

    let err = fails(&mut worker, "beyond", &state);
    assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
    let (extension, limit_pages, requested, _) = limit(&err);
    assert_eq!((extension.as_str(), limit_pages, requested), ("pkg/beyond", 4, 5));
    assert!(err.to_string().contains("pkg/beyond") && err.to_string().contains("4 pages"), "{err}");
    assert_recovers(&mut worker, &state);

    let err = fails(&mut worker, "tinygo_oom", &state);
    assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
    // The guest's line as printed, and the error's text ends with it.
    assert_eq!(limit(&err).3, "panic: runtime error: out of memory");
    assert!(err.to_string().ends_with("; the guest said: panic: runtime error: out of memory"), "{err}");
    assert_recovers(&mut worker, &state);

    assert_eq!(succeeds(&mut worker, "handled", &state), vec![ok_intent()]);
    // Exactly the limit is allowed.
    assert_eq!(succeeds(&mut worker, "to_the_limit", &state), vec![ok_intent()]);
    assert_eq!(worker.memory_bytes(PKG), Some(4 << 16));
    let err = fails(&mut worker, "one_more", &state);
    let (_, limit_pages, requested, _) = limit(&err);
    assert_eq!((limit_pages, requested), (4, 5));
    assert_recovers(&mut worker, &state);
}

#[test]

fn the_memory_limit_message_does_not_round_small_limits_to_zero() {
    let mut wat = Wat::new();
    wat.ext("beyond", "(if (i32.eq (memory.grow (i32.const 3)) (i32.const -1)) (then unreachable))");
    let mut worker = worker(&mut wat, Config::default().memory_limit_pages(4));
    let err = fails(&mut worker, "beyond", &obj_state());
    let message = err.to_string();
    assert!(message.contains("4 pages"), "{message}");
    assert!(!message.contains("(0 MiB)"), "{message}");
}

fn load_error(wat: &mut Wat, config: Config) -> Error {
    let text = wat.build();
    let engine = Engine::new(config).unwrap();
    match engine.load_package(PKG, text.as_bytes(), &["ok"]) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    }
}

#[test]
fn a_module_whose_initial_memory_exceeds_the_limit_does_not_load() {
    let mut wat = Wat::new();
    wat.pages = 5;
    let err = load_error(&mut wat, Config::default().memory_limit_pages(4));
    assert_eq!(err.kind(), ErrorKind::Load, "{err}");
    assert!(err.to_string().starts_with("package \"pkg\": "), "{err}");
    // Exactly at the limit is fine.
    wat.pages = 4;
    let mut worker = worker(&mut wat, Config::default().memory_limit_pages(4));
    assert_recovers(&mut worker, &obj_state());
}

#[test]

fn the_initial_memory_error_says_what_is_wrong() {
    let mut wat = Wat::new();
    wat.pages = 5;
    let message = load_error(&mut wat, Config::default().memory_limit_pages(4)).to_string();
    assert!(!message.contains("not a valid WebAssembly module"), "{message}");
    assert!(message.contains("needs 5 pages of memory at start, more than the limit of 4 pages"), "{message}");
}

// ---------------------------------------------------------------------------
// 6. Intents.
// ---------------------------------------------------------------------------

/// A put of `import` on `id` (of `kind`) with a value, and the value as JSON.
fn put_every_type(wat: &mut Wat, id: &str, kind: u32, prefix: &str) -> (String, Map<String, Json>) {
    let mut body = String::new();
    let mut fields = Map::new();
    for import in HOST_IMPORTS {
        let HostFunction::RowWriterPut(t) = import.function else { continue };
        let name = format!("{prefix}{}", import.name);
        let (value, json) = match t {
            FieldType::String => (wat.s("text"), json!("text")),
            FieldType::Bytes => (wat.bytes(&[0, 1, 2]), json!({"$bytes": "AAEC"})),
            FieldType::QName => (format!("{} {}", wat.s("a.b/c"), wat.s("D")), json!({"$qname": "a.b/c.D"})),
            // Anything but 0 is true.
            FieldType::Bool if import.name == "hostRowWriterPutIntBool" => ("(i32.const 0)".into(), json!(false)),
            FieldType::Bool => ("(i32.const 2)".into(), json!(true)),
            FieldType::Int32 => ("(i32.const -5)".into(), json!(-5)),
            FieldType::Int64 => ("(i64.const -5000000000)".into(), json!(-5_000_000_000_i64)),
            FieldType::Float32 => ("(f32.const 0.1)".into(), json!(0.1)),
            FieldType::Float64 => ("(f64.const 0.1)".into(), json!(0.1)),
            other => panic!("no put of {other:?}"),
        };
        body += &format!("(call ${} {id} (i32.const {kind}) {} {value})\n", import.name, wat.s(&name));
        fields.insert(name, json);
    }
    (body, fields)
}

#[test]
fn puts_of_every_type_on_key_builders_and_intents() {
    let mut wat = Wat::new();
    let (out, entity, dup, last) = (wat.s("sys.Out"), wat.s("e.E"), wat.s("dup"), wat.s("last"));
    let (key_puts, key) = put_every_type(&mut wat, "(local.get $x)", 0, "k_");
    let (value_puts, mut value) = put_every_type(&mut wat, "(local.get $y)", 1, "");
    wat.ext(
        "puts",
        format!(
            "(local.set $x (call $hostGetKey {out} {entity}))
             {key_puts}
             (local.set $y (call $hostNewValue (local.get $x)))
             (call $put_i32 (local.get $y) {dup} (i32.const 1))
             {value_puts}
             (call $hostRowWriterPutString (local.get $y) (i32.const 1) {dup} {last})"
        ),
    );
    value.insert("dup".into(), json!("last"));
    let mut worker = worker(&mut wat, Config::default());
    let got = succeeds(&mut worker, "puts", &obj_state());
    assert_eq!(got, vec![json!({"op": "insert", "storage": "sys.Out", "entity": "e.E", "key": key, "value": value})]);
    // The field put twice kept the position of its first put.
    assert_eq!(got[0]["value"].as_object().unwrap().keys().next().map(String::as_str), Some("dup"));
}

#[test]
fn new_and_update_intents_in_order_and_none_from_a_failed_invocation() {
    let state = JsonState::from_json(&json!({
        "sys.View": [{"entity": "p.V", "key": {"pk": 1}, "value": {"vv": 41, "other": "kept"}}]
    }))
    .unwrap();
    let mut wat = Wat::new();
    let (view, entity, out, pk, vv, n) =
        (wat.s("sys.View"), wat.s("p.V"), wat.s("sys.Out"), wat.s("pk"), wat.s("vv"), wat.s("n"));
    let intents = format!(
        "(call $put_i32 (call $new {out}) {n} (i32.const 1))
         (local.set $x (call $hostGetKey {view} {entity}))
         (call $hostRowWriterPutInt32 (local.get $x) (i32.const 0) {pk} (i32.const 1))
         (local.set $v (call $hostGetValue (local.get $x)))
         (local.set $y (call $hostUpdateValue (local.get $x) (local.get $v)))
         (call $put_i32 (local.get $y) {vv} (i32.add (call $hostValueAsInt32 (local.get $v) {vv}) (i32.const 1)))
         (call $put_i32 (call $new {out}) {n} (i32.const 2))"
    );
    wat.ext("intents", &intents);
    wat.ext("intents_then_trap", format!("{intents} unreachable"));
    wat.ext("nothing", "");
    let mut worker = worker(&mut wat, Config::default());
    let want = vec![
        out_intent(json!({}), json!({"n": 1})),
        json!({"op": "update", "storage": "sys.View", "entity": "p.V", "key": {"pk": 1}, "value": {"vv": 42, "other": "kept"}}),
        out_intent(json!({}), json!({"n": 2})),
    ];
    assert_eq!(succeeds(&mut worker, "intents", &state), want);

    let err = fails(&mut worker, "intents_then_trap", &state);
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert_eq!(succeeds(&mut worker, "nothing", &state), Vec::<Json>::new());
    assert_eq!(succeeds(&mut worker, "intents", &state), want);
}
