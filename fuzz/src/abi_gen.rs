//! Generator 1: guests that are random programs of host calls, driven by
//! the ABI table ([`extwasm_abi::HOST_IMPORTS`]).
//!
//! A generated module imports every host function and five WASI functions,
//! and exports `memory`, `WasmAbiVersion_0_0_1`, a bump `malloc` that a
//! program can make misbehave (return a chosen pointer, trap, grow memory,
//! spin), `free`, `WasmOnReadValue` (which runs one of several random
//! sub-programs, chosen by a global, and may read values again from inside),
//! the extensions `e0`… and the known-good extension `ok`.
//!
//! A program is a list of *statements*, each stack-neutral WAT (results are
//! stored in locals or dropped), so any subset of a program is a valid
//! program: that is what lets the minimiser drop statements one at a time.
//! Arguments are chosen by the parameter names of the ABI table (`keyBuilder`
//! gets a key builder, `namePtr`/`nameLen` a field name, …) from: handles
//! made earlier (locals; globals, which outlive the invocation and so go
//! stale), fresh host calls, forged handles (every kind tag, bad generation
//! and index), boundary integers (0, ±1, `i32::MIN`/`MAX`, the memory size
//! and one less, huge lengths), names that exist in the state, invalid UTF-8,
//! whole-memory ranges and results of earlier string reads.

use std::fmt::Write as _;

use extwasm_abi::{FieldType, HOST_IMPORTS, HostFunction, HostImport, ValType};

use crate::rng::Rng;
use crate::run::MEMORY_LIMIT_PAGES;
use crate::state::{ENTITIES, FIELDS, INVALID_UTF8, OK_FIELD, OK_STORAGE, QNAME_PARTS, STORAGES, STRINGS};

/// Where data segments start; below is scratch (iovecs, out-parameters).
const DATA_START: u32 = 0x100;
/// End of the data segments.
const DATA_END: u32 = 0x4000;
/// Scratch for iovec and subscription arrays (16 KiB).
const ARRAYS: u32 = 0x4000;
/// Where `random_get` may write without changing names or arrays.
const RANDOM_AREA: u32 = 0x8000;
/// Start of the guest heap (and so of the exchange buffer).
pub const HEAP_START: u32 = 0x1_0000;
/// The memory size in bytes, at run time.
const MEMSIZE: &str = "(i32.shl (memory.size) (i32.const 16))";
/// Handle locals per function.
const HANDLE_SLOTS: usize = 6;
/// Handle globals (they keep handles across invocations: stale handles).
const GLOBAL_SLOTS: usize = 4;
/// Locals of every function that runs a program.
const LOCALS: &str = "(local $h0 i64) (local $h1 i64) (local $h2 i64) (local $h3 i64) (local $h4 i64) (local $h5 i64) \
                      (local $x i64) (local $i0 i32) (local $i1 i32) (local $t i32) (local $a i32)";

/// The bytes every module has in its data segments, at fixed addresses.
pub struct Data {
    entries: Vec<(Vec<u8>, u32)>,
}

impl Data {
    fn standard() -> Data {
        let mut data = Data { entries: Vec::new() };
        let mut next = DATA_START;
        let mut place = |bytes: &[u8]| {
            if data.entries.iter().any(|(b, _)| b == bytes) || bytes.is_empty() {
                return;
            }
            data.entries.push((bytes.to_vec(), next));
            next = (next + bytes.len() as u32 + 8) & !7;
        };
        for name in STORAGES.iter().chain(ENTITIES).chain(FIELDS).chain(QNAME_PARTS).chain(STRINGS) {
            place(name.as_bytes());
        }
        for bad in INVALID_UTF8 {
            place(bad);
        }
        place(OK_STORAGE.as_bytes());
        place(OK_FIELD.as_bytes());
        place(b"panic: fuzz boom\n");
        place(&[b'L'; 1000]);
        assert!(next < DATA_END, "data segments overrun the arrays");
        data
    }

    /// `(ptr, len)` of `bytes` (the empty string is `(0, 0)`).
    fn at(&self, bytes: &[u8]) -> (u32, u32) {
        if bytes.is_empty() {
            return (0, 0);
        }
        let (_, ptr) = self.entries.iter().find(|(b, _)| b == bytes).expect("placed by Data::standard");
        (*ptr, bytes.len() as u32)
    }

    /// `(i32.const ptr) (i32.const len)` of `bytes`.
    fn pair(&self, bytes: &[u8]) -> String {
        let (ptr, len) = self.at(bytes);
        format!("(i32.const {ptr}) (i32.const {len})")
    }

    fn segments(&self) -> String {
        let mut out = String::new();
        for (bytes, ptr) in &self.entries {
            let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            let _ = writeln!(out, "  (data (i32.const {ptr}) \"{escaped}\")");
        }
        out
    }
}

/// How a module initialises: what its start function or `_initialize` does.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// No initialisation code.
    None,
    /// A start section running `body`.
    Start(String),
    /// An `_initialize` export running `body`.
    Initialize(String),
}

/// A generated guest, before rendering: statements can be dropped one at a
/// time and the module stays valid.
#[derive(Clone, Debug)]
pub struct Program {
    /// Initial memory pages.
    pub pages: u32,
    /// Declared maximum pages.
    pub max_pages: Option<u32>,
    /// Initialisation.
    pub init: Init,
    /// Whether initialisation cannot fail (the module must load).
    pub init_benign: bool,
    /// `WasmOnReadValue` sub-programs 1… (sub-program 0 does nothing).
    pub callbacks: Vec<Vec<String>>,
    /// Extension bodies; extension `i` is exported as `e{i}`; `None` when
    /// removed by the minimiser (names stay stable).
    pub extensions: Vec<Option<Vec<String>>>,
}

/// Name of extension `i`.
pub fn extension_name(i: usize) -> String {
    format!("e{i}")
}

impl Program {
    /// Extension names, the known-good `ok` last.
    pub fn extension_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            (0..self.extensions.len()).filter(|&i| self.extensions[i].is_some()).map(extension_name).collect();
        names.push("ok".into());
        names
    }

    /// The module as WAT text.
    pub fn to_wat(&self) -> String {
        let data = Data::standard();
        let mut m = String::from("(module\n");
        for import in HOST_IMPORTS {
            let _ = writeln!(m, "  (import \"env\" \"{0}\" (func ${0}{1}))", import.name, signature(import));
        }
        for (name, sig) in WASI {
            let _ = writeln!(m, "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} {sig}))");
        }
        match self.max_pages {
            Some(max) => {
                let _ = writeln!(m, "  (memory (export \"memory\") {} {max})", self.pages);
            }
            None => {
                let _ = writeln!(m, "  (memory (export \"memory\") {})", self.pages);
            }
        }
        let _ = writeln!(m, "  (global $heap (mut i32) (i32.const {HEAP_START}))");
        for g in ["malloc_mode", "malloc_result", "cb_mode", "depth"] {
            let _ = writeln!(m, "  (global ${g} (mut i32) (i32.const 0))");
        }
        for g in 0..GLOBAL_SLOTS {
            let _ = writeln!(m, "  (global $g{g} (mut i64) (i64.const 0))");
        }
        m += &data.segments();
        m += "  (type $void (func))\n  (table 2 funcref)\n  (elem (i32.const 0) $noop)\n";
        m += PRELUDE;
        // WasmOnReadValue: sub-program $cb_mode, between a depth count.
        let n = self.callbacks.len() + 1;
        let _ = writeln!(m, "  (func (export \"WasmOnReadValue\") (param $k i64) (param $v i64) {LOCALS}");
        m += "    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))\n    (block $end\n";
        for i in (0..n).rev() {
            let _ = writeln!(m, "    (block $c{i}");
        }
        let labels: Vec<String> = (0..n).map(|i| format!("$c{i}")).collect();
        let _ = writeln!(m, "    (br_table {} $end (global.get $cb_mode))", labels.join(" "));
        for i in 0..n {
            m += "    )\n";
            if i > 0 {
                for statement in &self.callbacks[i - 1] {
                    let _ = writeln!(m, "      {statement}");
                }
            }
            m += "    (br $end)\n";
        }
        m += "    )\n    (global.set $depth (i32.sub (global.get $depth) (i32.const 1))))\n";
        match &self.init {
            Init::None => {}
            Init::Start(body) => {
                let _ = writeln!(m, "  (func $init {LOCALS} {body})\n  (start $init)");
            }
            Init::Initialize(body) => {
                let _ = writeln!(m, "  (func (export \"_initialize\") {LOCALS} {body})");
            }
        }
        for (i, body) in self.extensions.iter().enumerate() {
            let Some(body) = body else { continue };
            let _ = writeln!(m, "  (func (export \"{}\") {LOCALS}", extension_name(i));
            for statement in body {
                let _ = writeln!(m, "    {statement}");
            }
            m += "  )\n";
        }
        // The known-good extension: one insert intent; no globals, no heap,
        // so it works whatever the extensions did before the last restore.
        let _ = writeln!(
            m,
            "  (func (export \"ok\")\n    (call $hostRowWriterPutInt32 (call $hostNewValue (call $hostGetKey {} (i32.const 0) (i32.const 0)))\n      (i32.const 1) {} (i32.const 1)))",
            data.pair(OK_STORAGE.as_bytes()),
            data.pair(OK_FIELD.as_bytes())
        );
        m += ")\n";
        m
    }
}

/// The WASI imports, with their signatures.
const WASI: &[(&str, &str)] = &[
    ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
    ("random_get", "(param i32 i32) (result i32)"),
    ("poll_oneoff", "(param i32 i32 i32 i32) (result i32)"),
    ("clock_time_get", "(param i32 i64 i32) (result i32)"),
    ("proc_exit", "(param i32)"),
];

/// Exports and helpers every module has.
const PRELUDE: &str = r#"  (func (export "WasmAbiVersion_0_0_1"))
  (func $noop)
  ;; malloc modes: 0 bump, 1 return $malloc_result, 2 trap, 3 grow by $malloc_result pages then bump, 4 spin.
  (func (export "malloc") (param $size i32) (result i32) (local $p i32)
    (if (i32.eq (global.get $malloc_mode) (i32.const 1)) (then (return (global.get $malloc_result))))
    (if (i32.eq (global.get $malloc_mode) (i32.const 2)) (then unreachable))
    (if (i32.eq (global.get $malloc_mode) (i32.const 3)) (then (drop (memory.grow (global.get $malloc_result)))))
    (if (i32.eq (global.get $malloc_mode) (i32.const 4)) (then (loop $spin (br $spin))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
        (br $grow)))
    (local.get $p))
  (func (export "free") (param i32))
  ;; Recursion $n deep (not a tail call: the stack grows).
  (func $rec (param $n i32)
    (if (local.get $n) (then (call $rec (i32.sub (local.get $n) (i32.const 1))))))
"#;

/// ` (param …) (result …)` of a host import.
fn signature(import: &HostImport) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    if !import.params.is_empty() {
        let _ = write!(out, " (param {})", list(import.params));
    }
    if !import.results.is_empty() {
        let _ = write!(out, " (result {})", list(import.results));
    }
    out
}

/// What a handle argument should be, when it is meant to be valid.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    KeyBuilder,
    Value,
    Intent,
    Key,
    Any,
}

/// What a `(ptr, len)` argument names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Span {
    Storage,
    Entity,
    Field,
    /// A field name, preferably of a field of this type.
    FieldOf(FieldType),
    String,
    Bytes,
    QPkg,
    QEntity,
    Message,
}

/// The kinds of statement.
#[derive(Clone, Copy)]
enum Statement {
    HostCall,
    KeyedQuery,
    Loop,
    FdWrite,
    PollOneoff,
    RandomGet,
    ClockTimeGet,
    ProcExit,
    Grow,
    Trap,
    MallocMode,
    CallbackMode,
    KeepHandle,
    Store,
    Stress,
    PrintPanic,
}

/// Generates one [`Program`].
pub fn generate(rng: &mut Rng) -> Program {
    let data = Data::standard();
    let mut g = Gen {
        rng,
        data: &data,
        in_callback: false,
        loop_depth: 0,
        expr_depth: 0,
        labels: 0,
        hostility: 10,
        slots: [None; HANDLE_SLOTS],
    };
    let pages = [1, 2, 2, 2, 2, 2, 2, 4, 4, 2][g.rng.below(10)];
    let max_pages = match g.rng.below(20) {
        0 | 1 => Some(64),
        2 => Some(8),
        3 => Some(100),
        _ => None,
    };
    let (init, init_benign) = g.init();
    let callbacks = (0..g.rng.range(1, 3))
        .map(|_| {
            g.in_callback = true;
            let body = g.body(1, 6);
            g.in_callback = false;
            body
        })
        .collect();
    let extensions = (0..g.rng.range(2, 5)).map(|_| Some(g.body(1, 12))).collect();
    Program { pages, max_pages, init, init_benign, callbacks, extensions }
}

struct Gen<'a> {
    rng: &'a mut Rng,
    data: &'a Data,
    in_callback: bool,
    loop_depth: usize,
    expr_depth: usize,
    labels: usize,
    /// Percent of arguments (and statements) chosen to be bad, per body: a
    /// calm body gets deep into the host (reads, nested reads, intents)
    /// before anything fails; a hostile one hammers the checks.
    hostility: u32,
    /// What each handle local was last set to, as far as the generator
    /// knows (a loop or an earlier failure may make it wrong: fine).
    slots: [Option<Want>; HANDLE_SLOTS],
}

impl Gen<'_> {
    fn label(&mut self, prefix: &str) -> String {
        self.labels += 1;
        format!("${prefix}{}", self.labels)
    }

    /// Rarely, initialisation code: benign, failing, or never ending.
    fn init(&mut self) -> (Init, bool) {
        if !self.rng.chance(4) {
            return (Init::None, true);
        }
        let (kb, print) = (self.data.pair(b"sys.Obj"), self.data.pair(b"panic: fuzz boom\n"));
        let bodies: [(&str, bool); 9] = [
            ("(nop)", true),
            (
                "(local.set $t (i32.const 100000)) (loop $l (br_if $l (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))",
                true,
            ),
            (
                "(i32.store (i32.const 16) (i32.const 0x200)) (i32.store (i32.const 20) (i32.const 5)) (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))",
                true,
            ),
            ("unreachable", false),
            ("(drop (memory.grow (i32.const 65535))) (drop (i32.div_u (i32.const 1) (i32.const 0)))", false),
            ("(call $proc_exit (i32.const 1))", false),
            ("(call $rec (i32.const -1))", false),
            ("(loop $forever (br $forever))", false),
            ("", false),
        ];
        let pick = self.rng.weighted(&[10, 10, 5, 10, 5, 5, 5, 2, 5]);
        let (body, benign) = match pick {
            8 => {
                (format!("(drop (call $hostGetKey {kb} (i32.const 0) (i32.const 0))) (call $hostPanic {print})"), false)
            }
            i => (bodies[i].0.to_owned(), bodies[i].1),
        };
        // A start function runs while the module is being instantiated,
        // before the host has its memory: whether a host call may work then
        // is the engine's choice, so only a clear error is asked of it.
        let calls_host = body.contains("(call $");
        if self.rng.chance(50) { (Init::Start(body), benign && !calls_host) } else { (Init::Initialize(body), benign) }
    }

    /// A function body: a hostility level, then statements.
    fn body(&mut self, min: u64, max: u64) -> Vec<String> {
        self.hostility = [2, 10, 40][self.rng.weighted(&[40, 40, 20])];
        self.slots = [None; HANDLE_SLOTS];
        self.statements(min, max)
    }

    fn statements(&mut self, min: u64, max: u64) -> Vec<String> {
        (0..self.rng.range(min, max)).map(|_| self.statement()).collect()
    }

    /// Whether this argument (or statement) is to be a bad one.
    fn bad(&mut self) -> bool {
        self.rng.chance(self.hostility)
    }

    fn statement(&mut self) -> String {
        use Statement as S;
        let loops = if self.loop_depth < 2 { 8 } else { 0 };
        // Traps, exits and boundary WASI calls end an invocation early: the
        // calmer the body, the rarer.
        let rare = |w: u32| (w * self.hostility).div_ceil(10);
        let table = [
            (60, S::HostCall),
            (6, S::KeyedQuery),
            (loops, S::Loop),
            (5, S::FdWrite),
            (rare(1), S::PollOneoff),
            (2, S::RandomGet),
            (2, S::ClockTimeGet),
            (rare(1) / 2, S::ProcExit),
            (rare(2), S::Grow),
            (rare(4), S::Trap),
            (3, S::MallocMode),
            (3, S::CallbackMode),
            (6, S::KeepHandle),
            (2, S::Store),
            (8, S::Stress),
            (1, S::PrintPanic),
        ];
        let weights: Vec<u32> = table.iter().map(|(w, _)| *w).collect();
        match table[self.rng.weighted(&weights)].1 {
            S::HostCall => self.host_call(),
            S::KeyedQuery => self.keyed_query(),
            S::Loop => self.repeat(),
            S::FdWrite => self.fd_write(),
            S::PollOneoff => self.poll_oneoff(),
            S::RandomGet => self.random_get(),
            S::ClockTimeGet => self.clock_time_get(),
            S::ProcExit => {
                format!("(call $proc_exit {})", self.rng.pick(&["(i32.const 0)", "(i32.const 1)", "(i32.const -1)"]))
            }
            S::Grow => self.grow(),
            S::Trap => self.trap(),
            S::MallocMode => self.malloc_mode(),
            S::CallbackMode => format!("(global.set $cb_mode (i32.const {}))", self.rng.below(4)),
            // Into a global: next invocation, a stale handle.
            S::KeepHandle => format!(
                "(global.set $g{} (local.get $h{}))",
                self.rng.below(GLOBAL_SLOTS),
                self.rng.below(HANDLE_SLOTS)
            ),
            S::Store => format!("(i64.store {} (i64.const {}))", self.store_address(), self.rng.next_u64() as i64),
            S::Stress => self.stress(),
            S::PrintPanic => {
                // What TinyGo prints when it panics, then (maybe) its trap.
                let (ptr, len) = self.data.at(b"panic: fuzz boom\n");
                let fd = self.rng.range(1, 2);
                let tail = if self.rng.chance(50) { " unreachable" } else { "" };
                format!(
                    "(i32.store (i32.const 16) (i32.const {ptr})) (i32.store (i32.const 20) (i32.const {len})) (drop (call $fd_write (i32.const {fd}) (i32.const 16) (i32.const 1) (i32.const 24))){tail}"
                )
            }
        }
    }

    /// Any host import of the ABI table, with arguments chosen by its
    /// parameter names.
    fn host_call(&mut self) -> String {
        let weights: Vec<u32> = HOST_IMPORTS
            .iter()
            .map(|i| match i.function {
                HostFunction::GetKey => 10,
                HostFunction::GetValue => 4,
                HostFunction::QueryValue => 8,
                HostFunction::ReadValues => 3,
                HostFunction::NewValue => 6,
                HostFunction::UpdateValue => 3,
                HostFunction::RowWriterPut(_) => 2,
                HostFunction::ValueLength => 2,
                HostFunction::ValueAs(_) => 2,
                HostFunction::ValueGetAs(_) => 1,
                HostFunction::KeyAs(_) if self.in_callback => 3,
                HostFunction::KeyAs(_) => 1,
                HostFunction::Panic => 1,
            })
            .collect();
        let import = &HOST_IMPORTS[self.rng.weighted(&weights)];
        let call = self.call(import);
        let made = match import.function {
            HostFunction::GetKey => Some(Want::KeyBuilder),
            HostFunction::GetValue | HostFunction::QueryValue => Some(Want::Value),
            HostFunction::ValueAs(FieldType::Value) | HostFunction::ValueGetAs(FieldType::Value) => Some(Want::Value),
            HostFunction::NewValue | HostFunction::UpdateValue => Some(Want::Intent),
            _ => None,
        };
        let statement = match import.results.first() {
            None => call,
            Some(ValType::I64) if import.function.returns_bytes() && self.rng.chance(80) => {
                format!("(local.set $x {call})")
            }
            Some(ValType::I64) if made.is_some() || self.rng.chance(30) => {
                let slot = self.rng.below(HANDLE_SLOTS);
                self.slots[slot] = made;
                format!("(local.set $h{slot} {call})")
            }
            Some(_) => format!("(drop {call})"),
        };
        // Nested reads from inside a callback: bounded, most of the time.
        if self.in_callback && import.function == HostFunction::ReadValues {
            let bound = self.rng.pick(&[2, 3, 1_000_000]);
            return format!("(if (i32.lt_u (global.get $depth) (i32.const {bound})) (then {statement}))");
        }
        statement
    }

    /// `(call $name args…)` for `import`.
    fn call(&mut self, import: &HostImport) -> String {
        let mut args = Vec::new();
        let function = import.function;
        // The row-writer kind decides what `id` should be.
        let kind = match (self.bad(), self.rng.chance(50)) {
            (true, _) if self.rng.chance(30) => *self.rng.pick(&[2, -1, i32::MIN, i32::MAX]),
            (_, false) => 0,
            (_, true) => 1,
        };
        let mut i = 0;
        while i < import.params.len() {
            let (ty, name) = (import.params[i], import.param_names[i]);
            let arg = match (name, function) {
                ("storagePtr", _) => self.span(Span::Storage),
                ("entityPtr", HostFunction::GetKey) => self.span(Span::Entity),
                ("entityPtr", _) => self.span(Span::QEntity),
                ("pkgPtr", _) => self.span(Span::QPkg),
                ("namePtr", HostFunction::ValueAs(t) | HostFunction::KeyAs(t)) => self.span(Span::FieldOf(t)),
                ("namePtr", _) => self.span(Span::Field),
                ("valuePtr", HostFunction::RowWriterPut(FieldType::String)) => self.span(Span::String),
                ("valuePtr", _) => self.span(Span::Bytes),
                ("msgPtr", _) => self.span(Span::Message),
                ("keyBuilder", _) => self.handle(Want::KeyBuilder),
                ("existingValue", _) => self.handle(Want::Value),
                ("key", _) => self.handle(Want::Key),
                ("id", _) => self.handle(match kind {
                    0 => Want::KeyBuilder,
                    1 => Want::Intent,
                    _ => Want::Any,
                }),
                ("kind", _) => format!("(i32.const {kind})"),
                ("index", _) => {
                    format!("(i32.const {})", self.rng.pick(&[0, 0, 1, 1, 2, 3, -1, i32::MIN, i32::MAX, 63, 64]))
                }
                ("value", HostFunction::RowWriterPut(_)) => self.scalar(ty),
                ("value", _) => self.handle(Want::Value),
                (other, _) => unreachable!("{}: parameter {other} has no generator", import.name),
            };
            args.push(arg);
            // A span covers its length parameter too.
            i += if name.ends_with("Ptr") { 2 } else { 1 };
        }
        format!("(call ${} {})", import.name, args.join(" "))
    }

    /// A stack-neutral statement that builds a key with fields and queries it.
    fn keyed_query(&mut self) -> String {
        let (view, entity) = (self.data.pair(b"sys.View"), self.data.pair(b"mypkg.TestView"));
        let (pk, cc) = (self.data.pair(b"pk"), self.data.pair(b"cc"));
        let slot = self.rng.below(HANDLE_SLOTS);
        let (a, b) = (self.rng.below(3), self.rng.below(3));
        let query = *self.rng.pick(&["hostQueryValue", "hostGetValue", "hostReadValues", "hostNewValue"]);
        let last = if query == "hostReadValues" {
            format!("(call $hostReadValues (local.get $h{slot}))")
        } else {
            format!("(local.set $h{} (call ${query} (local.get $h{slot})))", self.rng.below(HANDLE_SLOTS))
        };
        format!(
            "(local.set $h{slot} (call $hostGetKey {view} {entity})) \
             (call $hostRowWriterPutInt32 (local.get $h{slot}) (i32.const 0) {pk} (i32.const {a})) \
             (call $hostRowWriterPutInt64 (local.get $h{slot}) (i32.const 0) {cc} (i64.const {b})) {last}"
        )
    }

    /// A loop running 1–3 statements N times.
    fn repeat(&mut self) -> String {
        let n = [2, 16, 256, 10_000, 100_000, 1_000_000][self.rng.weighted(&[30, 25, 15, 12, 10, 8])];
        let depth = self.loop_depth;
        self.loop_depth += 1;
        let body = self.statements(1, 3).join(" ");
        self.loop_depth -= 1;
        let label = self.label("loop");
        format!(
            "(local.set $i{depth} (i32.const {n})) (loop {label} {body} (br_if {label} (i32.gt_s (local.tee $i{depth} (i32.sub (local.get $i{depth}) (i32.const 1))) (i32.const 0))))"
        )
    }

    /// Stress patterns the budgets exist for.
    fn stress(&mut self) -> String {
        let n = *self.rng.pick(&[1_000, 100_000, 1_000_000]);
        let obj = self.data.pair(b"sys.Obj");
        let many = self.data.pair(b"sys.Many");
        let field = self.data.pair(b"s");
        let kb = format!("(call $hostGetKey {obj} (i32.const 0) (i32.const 0))");
        let times = |body: String| {
            format!(
                "(local.set $t (i32.const {n})) (loop $stress {body} (br_if $stress (i32.gt_s (local.tee $t (i32.sub (local.get $t) (i32.const 1))) (i32.const 0))))"
            )
        };
        let big = self.rng.take(vec![
            format!("(i32.const {HEAP_START}) (i32.sub {MEMSIZE} (i32.const {HEAP_START}))"),
            format!("(i32.const {HEAP_START}) (i32.const 65536)"),
            "(i32.const 0) (i32.const 4096)".to_owned(),
        ]);
        match self.rng.below(9) {
            // Many key builders.
            0 => times(format!("(local.set $h0 {kb})")),
            // Many intents.
            1 => {
                format!("(local.set $h1 {kb}) {}", times("(local.set $h2 (call $hostNewValue (local.get $h1)))".into()))
            }
            // Many value handles.
            2 => format!("(local.set $h1 {kb}) {}", times("(drop (call $hostQueryValue (local.get $h1)))".into())),
            // The same field put again and again, with a big value.
            3 => {
                let (put, kind, target) = match self.rng.below(3) {
                    0 => ("hostRowWriterPutBytes", 1, format!("(call $hostNewValue {kb})")),
                    1 => ("hostRowWriterPutString", 1, format!("(call $hostNewValue {kb})")),
                    _ => ("hostRowWriterPutBytes", 0, kb.clone()),
                };
                format!(
                    "{} (local.set $h3 {target}) {}",
                    self.maybe_grow_to_limit(),
                    times(format!("(call ${put} (local.get $h3) (i32.const {kind}) {field} {big})"))
                )
            }
            // Many different fields (names from guest memory) on one key builder.
            4 => format!(
                "(local.set $h3 {kb}) {}",
                times(format!(
                    "(call $hostRowWriterPutInt32 (local.get $h3) (i32.const 0) (i32.add (i32.const {HEAP_START}) (i32.and (local.get $t) (i32.const 0x7fff))) (i32.const 8) (local.get $t))"
                ))
            ),
            // Every record, with the current callback.
            5 => times(format!("(call $hostReadValues (call $hostGetKey {many} (i32.const 0) (i32.const 0)))")),
            // A panic message as long as memory.
            6 => format!("{} (call $hostPanic (i32.const 0) {MEMSIZE})", self.maybe_grow_to_limit()),
            // Many iovecs, each covering all of memory.
            7 => self.iovec_flood(),
            // Grow to the limit, then go on (and maybe never end).
            _ => {
                let then = self.rng.take(vec![
                    "(loop $forever (br $forever))".to_owned(),
                    "(local.set $t (i32.const 1000000)) (loop $l (br_if $l (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))".to_owned(),
                    "unreachable".to_owned(),
                    String::new(),
                ]);
                format!(
                    "(block $full (loop $g (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $g))) {then}"
                )
            }
        }
    }

    /// Half the time, memory grown to the engine's limit (without asking for
    /// more, which would make the failure a memory limit), so that "all of
    /// memory" is as much as a guest can pass.
    fn maybe_grow_to_limit(&mut self) -> String {
        if self.rng.chance(50) {
            format!("(drop (memory.grow (i32.sub (i32.const {MEMORY_LIMIT_PAGES}) (memory.size))))")
        } else {
            String::new()
        }
    }

    /// `fd_write` of many iovecs that each cover all of memory.
    fn iovec_flood(&mut self) -> String {
        // The array at ARRAYS (up to 2048 iovecs), or all of memory as iovecs.
        let (base, count) = match self.rng.below(4) {
            0 => (format!("(i32.const {ARRAYS})"), "(i32.const 16)".to_owned()),
            1 => (format!("(i32.const {ARRAYS})"), "(i32.const 2048)".to_owned()),
            2 => ("(i32.const 0)".to_owned(), format!("(i32.shr_u {MEMSIZE} (i32.const 3))")),
            _ => (
                format!("(i32.const {HEAP_START})"),
                format!("(i32.shr_u (i32.sub {MEMSIZE} (i32.const {HEAP_START})) (i32.const 3))"),
            ),
        };
        let len = if self.rng.chance(70) { MEMSIZE.to_owned() } else { "(i32.const 65536)".to_owned() };
        format!(
            "(local.set $t (i32.const 0)) (block $filled (loop $fill (br_if $filled (i32.ge_u (local.get $t) {count})) \
             (i32.store (i32.add {base} (i32.shl (local.get $t) (i32.const 3))) (i32.const 0)) \
             (i32.store (i32.add {base} (i32.add (i32.shl (local.get $t) (i32.const 3)) (i32.const 4))) {len}) \
             (local.set $t (i32.add (local.get $t) (i32.const 1))) (br $fill))) \
             (drop (call $fd_write (i32.const {}) {base} {count} (i32.const 24)))",
            self.rng.range(1, 2)
        )
    }

    fn fd_write(&mut self) -> String {
        match self.rng.below(4) {
            0 => self.iovec_flood(),
            1 => {
                let fd = self.rng.pick(&[1, 2, 0, 3, -1]);
                let (p, l) = (self.i32_arg(), self.i32_arg());
                format!("(drop (call $fd_write (i32.const {fd}) {p} {l} {}))", self.i32_arg())
            }
            _ => {
                let text = *self.rng.pick(STRINGS);
                let (ptr, len) = self.data.at(text.as_bytes());
                let fd = self.rng.pick(&[1, 2, 1, 2, 0, 7]);
                format!(
                    "(i32.store (i32.const 16) (i32.const {ptr})) (i32.store (i32.const 20) (i32.const {len})) (drop (call $fd_write (i32.const {fd}) (i32.const 16) (i32.const 1) {}))",
                    if self.rng.chance(80) { "(i32.const 24)".to_owned() } else { self.i32_arg() }
                )
            }
        }
    }

    fn poll_oneoff(&mut self) -> String {
        let (a, b, c) = (self.i32_arg(), self.i32_arg(), self.i32_arg());
        let subs = self.rng.take(vec![format!("(i32.const {ARRAYS})"), format!("(i32.const {HEAP_START})"), a]);
        let events = self.rng.take(vec![format!("(i32.const {HEAP_START})"), format!("(i32.const {ARRAYS})"), b]);
        let nsubs = self.rng.take(vec![
            "(i32.const 1)".to_owned(),
            "(i32.const 100)".to_owned(),
            format!("(i32.div_u (i32.sub {MEMSIZE} (i32.const {HEAP_START})) (i32.const 48))"),
            c,
        ]);
        format!("(drop (call $poll_oneoff {subs} {events} {nsubs} (i32.const 24)))")
    }

    fn random_get(&mut self) -> String {
        if self.rng.chance(50) {
            let len = self.rng.range(0, 0x2000);
            format!("(drop (call $random_get (i32.const {RANDOM_AREA}) (i32.const {len})))")
        } else {
            // Out of range only: random bytes elsewhere would make later
            // names and lengths nondeterministic.
            let (p, l) = self.rng.take(vec![
                (format!("(i32.const {RANDOM_AREA})"), "(i32.const -1)".to_owned()),
                (MEMSIZE.to_owned(), "(i32.const 1)".to_owned()),
                ("(i32.const -1)".to_owned(), "(i32.const 2)".to_owned()),
                (format!("(i32.sub {MEMSIZE} (i32.const 1))"), "(i32.const 2)".to_owned()),
                ("(i32.const 2147483647)".to_owned(), "(i32.const 2147483647)".to_owned()),
            ]);
            format!("(drop (call $random_get {p} {l}))")
        }
    }

    fn clock_time_get(&mut self) -> String {
        let id = self.rng.pick(&[0, 1, 2, 3, 4, -1]);
        let out = self.rng.take(vec![
            "(i32.const 32)".to_owned(),
            "(i32.const -1)".to_owned(),
            format!("(i32.sub {MEMSIZE} (i32.const 8))"),
            format!("(i32.sub {MEMSIZE} (i32.const 4))"),
        ]);
        format!("(drop (call $clock_time_get (i32.const {id}) (i64.const {}) {out}))", self.i64_boundary())
    }

    fn grow(&mut self) -> String {
        let pages = self.rng.pick(&[0, 1, 4, 16, 64, 65535, -1]);
        format!("(drop (memory.grow (i32.const {pages})))")
    }

    fn trap(&mut self) -> String {
        match self.rng.weighted(&[10, 5, 3, 5, 3, 5, 3, 2, 2, 1]) {
            0 => "unreachable".into(),
            1 => "(drop (i32.div_u (i32.const 1) (i32.const 0)))".into(),
            2 => "(drop (i32.div_s (i32.const -2147483648) (i32.const -1)))".into(),
            3 => format!("(drop (i32.load (i32.sub {MEMSIZE} (i32.const 2))))"),
            4 => "(drop (i32.trunc_f32_s (f32.const nan)))".into(),
            5 => format!("(call $rec (i32.const {}))", self.rng.pick(&[100, 10_000, 1_000_000, -1])),
            6 => "(call_indirect (type $void) (i32.const 1))".into(),
            7 => "(call_indirect (type $void) (i32.const 7))".into(),
            8 => "(loop $forever (br $forever))".into(),
            _ => "(local.set $t (i32.const 0)) (loop $spin (local.set $t (i32.add (local.get $t) (i32.const 1))) (br $spin))".into(),
        }
    }

    fn malloc_mode(&mut self) -> String {
        let mode = self.rng.weighted(&[3, 4, 3, 3, 1]);
        let result = match mode {
            3 => format!("(i32.const {})", self.rng.pick(&[1, 16, 65535])),
            _ => self.rng.take(vec![
                "(i32.const 0)".to_owned(),
                "(i32.const -1)".to_owned(),
                MEMSIZE.to_owned(),
                format!("(i32.sub {MEMSIZE} (i32.const 1))"),
                format!("(i32.sub {MEMSIZE} (i32.const 64000))"),
                "(i32.const 16)".to_owned(),
                "(i32.const 2147483647)".to_owned(),
            ]),
        };
        format!("(global.set $malloc_mode (i32.const {mode})) (global.set $malloc_result {result})")
    }

    /// An address for a random store: the heap (never the names and arrays,
    /// so later handles still mean something), or out of bounds.
    fn store_address(&mut self) -> String {
        if self.rng.chance(85) {
            format!("(i32.const {})", HEAP_START as u64 + self.rng.range(0, 0xFFF0) / 8 * 8)
        } else {
            format!("(i32.sub {MEMSIZE} (i32.const {}))", self.rng.pick(&[1, 4, 8]))
        }
    }

    /// A handle argument: what `want` asks for, unless this argument is to
    /// be bad.
    fn handle(&mut self, want: Want) -> String {
        if !self.bad() || want == Want::Any {
            // A slot that holds the kind wanted, a fresh handle, or (in a
            // callback) the key and value it was handed.
            let typed: Vec<usize> = (0..HANDLE_SLOTS).filter(|&i| self.slots[i] == Some(want)).collect();
            if self.in_callback && (want == Want::Key || want == Want::Value) && self.rng.chance(50) {
                return if want == Want::Key { "(local.get $k)" } else { "(local.get $v)" }.to_owned();
            }
            if !typed.is_empty() && (self.expr_depth >= 2 || self.rng.chance(60)) {
                return format!("(local.get $h{})", self.rng.pick(&typed));
            }
            if self.expr_depth < 3 && want != Want::Any && want != Want::Key {
                self.expr_depth += 1;
                let expr = match want {
                    Want::KeyBuilder => self.key_builder(),
                    Want::Value => self.value(),
                    _ => self.intent(),
                };
                self.expr_depth -= 1;
                return expr;
            }
            return format!("(local.get $h{})", self.rng.below(HANDLE_SLOTS));
        }
        match self.rng.below(5) {
            // Whatever a slot holds (maybe another kind, maybe nothing).
            0 => format!("(local.get $h{})", self.rng.below(HANDLE_SLOTS)),
            // Kept in a global: from an earlier invocation, stale.
            1 => format!("(global.get $g{})", self.rng.below(GLOBAL_SLOTS)),
            2 | 3 => self.forged(),
            // A real handle, bent: next index, another kind, next generation.
            _ => format!(
                "(i64.add (local.get $h{}) (i64.const {}))",
                self.rng.below(HANDLE_SLOTS),
                self.rng.pick(&[1_i64, 1 << 56, 1 << 32, -1, -(1 << 56)])
            ),
        }
    }

    /// A key builder, mostly for a storage and entity with records.
    fn key_builder(&mut self) -> String {
        if self.bad() || self.rng.chance(20) {
            let storage = self.span(Span::Storage);
            let entity = self.span(Span::Entity);
            return format!("(call $hostGetKey {storage} {entity})");
        }
        let (storage, entity) = *self.rng.pick(&[
            ("sys.Obj", ""),
            ("sys.Obj", ""),
            ("sys.Many", ""),
            ("sys.Big", ""),
            ("sys.View", "mypkg.TestView"),
            ("sys.View", "mypkg.Other"),
            ("sys.Scalar", ""),
            ("sys.Fail", ""),
        ]);
        format!("(call $hostGetKey {} {})", self.data.pair(storage.as_bytes()), self.data.pair(entity.as_bytes()))
    }

    fn value(&mut self) -> String {
        match self.rng.below(5) {
            0 | 1 => format!("(call $hostQueryValue {})", self.handle(Want::KeyBuilder)),
            2 => format!("(call $hostGetValue {})", self.handle(Want::KeyBuilder)),
            3 => format!("(call $hostValueAsValue {} {})", self.handle(Want::Value), self.span(Span::Field)),
            _ => format!("(call $hostValueGetAsValue {} (i32.const {}))", self.handle(Want::Value), self.rng.below(3)),
        }
    }

    fn intent(&mut self) -> String {
        if self.rng.chance(70) {
            format!("(call $hostNewValue {})", self.handle(Want::KeyBuilder))
        } else {
            format!("(call $hostUpdateValue {} {})", self.handle(Want::KeyBuilder), self.handle(Want::Value))
        }
    }

    /// A handle the host never handed out: every kind tag, with a bad
    /// generation or index, and plain boundary values.
    fn forged(&mut self) -> String {
        let tag = *self.rng.pick(&[0_u64, 1, 2, 3, 4, 5, 0xFF]);
        let any = self.rng.range(0, 0xFF_FFFF);
        let generation = *self.rng.pick(&[0_u64, 1, 2, 3, 0xFF_FFFF, any]);
        let index = *self.rng.pick(&[0_u64, 1, 2, 1000, u32::MAX as u64]);
        let handle = (tag << 56) | (generation << 32) | index;
        match self.rng.below(4) {
            0 => format!("(i64.const {})", self.i64_boundary()),
            _ => format!("(i64.const {})", handle as i64),
        }
    }

    /// A `(ptr, len)` pair for a parameter that names `span`.
    fn span(&mut self, span: Span) -> String {
        let choice = if self.bad() { 1 + self.rng.below(5) } else { 0 };
        match choice {
            0 => {
                let text: &[u8] = match span {
                    Span::Storage => self.rng.pick(&STORAGES[..8]).as_bytes(),
                    Span::Entity => self.rng.pick(ENTITIES).as_bytes(),
                    Span::Field => self.rng.pick(FIELDS).as_bytes(),
                    Span::FieldOf(t) if self.rng.chance(60) => {
                        let names: &[&str] = match t {
                            FieldType::String => &["s", "long"],
                            FieldType::Bytes => &["b", "lbytes"],
                            FieldType::QName | FieldType::QNamePkg | FieldType::QNameEntity => &["q"],
                            FieldType::Bool => &["t"],
                            FieldType::Int32 => &["i", "n", "vv"],
                            FieldType::Int64 => &["big", "i", "n"],
                            FieldType::Float32 | FieldType::Float64 => &["f"],
                            FieldType::Value => &["v", "a_v", "a_s", "a_i32", "arr", "empty"],
                        };
                        self.rng.pick(names).as_bytes()
                    }
                    Span::FieldOf(_) => self.rng.pick(FIELDS).as_bytes(),
                    Span::String | Span::Bytes | Span::Message => self.rng.pick(STRINGS).as_bytes(),
                    Span::QPkg | Span::QEntity => self.rng.pick(QNAME_PARTS).as_bytes(),
                };
                self.data.pair(text)
            }
            // Bytes that are not UTF-8.
            1 => {
                let bad = *self.rng.pick(INVALID_UTF8);
                self.data.pair(bad)
            }
            // What an earlier string read returned (maybe from an earlier invocation).
            2 => "(i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 32))) (i32.wrap_i64 (local.get $x))".into(),
            // Big: the heap up to the end of memory (zeros: valid UTF-8), or all of memory.
            3 => self.rng.take(vec![
                format!("(i32.const {HEAP_START}) (i32.sub {MEMSIZE} (i32.const {HEAP_START}))"),
                format!("(i32.const 0) {MEMSIZE}"),
                "(i32.const 0x200) (i32.const 1000)".to_owned(),
            ]),
            // At the end of memory.
            4 => self.rng.take(vec![
                format!("(i32.sub {MEMSIZE} (i32.const 1)) (i32.const 1)"),
                format!("(i32.sub {MEMSIZE} (i32.const 1)) (i32.const 2)"),
                format!("{MEMSIZE} (i32.const 0)"),
                format!("{MEMSIZE} (i32.const 1)"),
                format!("(i32.const 1) {MEMSIZE}"),
            ]),
            _ => format!("{} {}", self.i32_arg(), self.i32_arg()),
        }
    }

    /// A boundary i32 (constant or memory-relative).
    fn i32_arg(&mut self) -> String {
        match self.rng.below(4) {
            0 => format!("(i32.sub {MEMSIZE} (i32.const {}))", self.rng.pick(&[0, 1, 4, 8])),
            _ => format!(
                "(i32.const {})",
                self.rng.pick(&[
                    0,
                    1,
                    -1,
                    i32::MIN,
                    i32::MAX,
                    2,
                    8,
                    255,
                    0x1_0000,
                    0x7FFF_FFF0,
                    -8,
                    0x8000_0000_u32 as i32
                ])
            ),
        }
    }

    fn i64_boundary(&mut self) -> i64 {
        *self.rng.pick(&[0, 1, -1, i64::MIN, i64::MAX, i32::MAX as i64, 1 << 32, 5_000_000_000])
    }

    /// A scalar of type `ty` to put.
    fn scalar(&mut self, ty: ValType) -> String {
        match ty {
            ValType::I32 => format!("(i32.const {})", self.rng.pick(&[0, 1, -1, i32::MIN, i32::MAX, 42])),
            ValType::I64 => format!("(i64.const {})", self.i64_boundary()),
            ValType::F32 => format!(
                "(f32.const {})",
                self.rng.pick(&["0", "-0", "nan", "-inf", "inf", "1.5", "0x1p-149", "3.4028235e38", "nan:0x200001"])
            ),
            ValType::F64 => format!(
                "(f64.const {})",
                self.rng.pick(&["0", "-0", "nan", "-inf", "inf", "0.1", "0x1p-1074", "1.7976931348623157e308"])
            ),
        }
    }
}
