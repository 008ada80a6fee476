//! What a module declares, read without compiling it: imports, exports with
//! their signatures, memory, function count; and what the ABI makes of each
//! (an extension, an ABI export, a host or WASI import that matches or not).
//!
//! `extwasm build`, `inspect` and `test` find a module's extensions here:
//! every `() -> ()` function export whose name the ABI does not reserve.

use std::fmt;

use extwasm_abi::{self as abi, ValType};

/// A function signature: `(i64, i32) -> i64`, `() -> ()`. Types the ABI has
/// no word for (`v128`, references) are kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<String>,
    /// Result types.
    pub results: Vec<String>,
}

impl Signature {
    fn of(ty: &wasmparser::FuncType) -> Signature {
        let names = |types: &[wasmparser::ValType]| types.iter().map(val_type_name).collect();
        Signature { params: names(ty.params()), results: names(ty.results()) }
    }

    /// The signature of `params -> results` in the ABI's types.
    pub fn abi(params: &[ValType], results: &[ValType]) -> Signature {
        let names = |types: &[ValType]| types.iter().map(|t| t.as_str().to_owned()).collect();
        Signature { params: names(params), results: names(results) }
    }

    /// Whether this is exactly `params -> results`.
    pub fn is(&self, params: &[ValType], results: &[ValType]) -> bool {
        *self == Signature::abi(params, results)
    }
}

/// As the engine's load errors write signatures.
impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let results = match &self.results[..] {
            [] => "()".to_owned(),
            [one] => one.clone(),
            many => format!("({})", many.join(", ")),
        };
        write!(f, "({}) -> {results}", self.params.join(", "))
    }
}

fn val_type_name(ty: &wasmparser::ValType) -> String {
    match ty {
        wasmparser::ValType::I32 => "i32".into(),
        wasmparser::ValType::I64 => "i64".into(),
        wasmparser::ValType::F32 => "f32".into(),
        wasmparser::ValType::F64 => "f64".into(),
        wasmparser::ValType::V128 => "v128".into(),
        wasmparser::ValType::Ref(r) => format!("{r}"),
    }
}

/// What an import or export is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A function, with its signature (`None` when its type is not a plain
    /// function type).
    Func(Option<Signature>),
    /// A linear memory.
    Memory {
        /// Initial size in pages.
        initial: u64,
        /// Maximum size in pages, if declared.
        maximum: Option<u64>,
    },
    /// A table.
    Table,
    /// A global.
    Global,
    /// A tag (exception handling).
    Tag,
}

impl Item {
    /// `function`, `memory`, `table`, `global`, `tag`.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Func(_) => "function",
            Item::Memory { .. } => "memory",
            Item::Table => "table",
            Item::Global => "global",
            Item::Tag => "tag",
        }
    }

    /// The signature, for a function.
    pub fn signature(&self) -> Option<&Signature> {
        match self {
            Item::Func(signature) => signature.as_ref(),
            _ => None,
        }
    }
}

/// One import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The module it is imported from (`env`, `wasi_snapshot_preview1`).
    pub module: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub item: Item,
}

/// One export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Its name.
    pub name: String,
    /// What it is.
    pub item: Item,
}

/// What a module declares.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// Size of the module in bytes (binary form).
    pub size: usize,
    /// Imports, in the module's order.
    pub imports: Vec<Import>,
    /// Exports, in the module's order.
    pub exports: Vec<Export>,
    /// Functions the module defines (imports not counted).
    pub defined_functions: u32,
    /// The first memory the module defines: (initial, maximum) pages.
    pub memory: Option<(u64, Option<u64>)>,
    /// Names of the module's custom sections (`name`, `producers`, DWARF's
    /// `.debug_*`).
    pub custom_sections: Vec<String>,
}

/// Why a module cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("not a valid WebAssembly module: {detail}")]
pub struct InvalidModule {
    /// The parser's message.
    pub detail: String,
}

impl ModuleInfo {
    /// Reads a module (binary or text format).
    pub fn parse(wasm: &[u8]) -> Result<ModuleInfo, InvalidModule> {
        let binary = wat::parse_bytes(wasm).map_err(|e| InvalidModule { detail: e.to_string() })?;
        let invalid = |e: wasmparser::BinaryReaderError| InvalidModule { detail: e.to_string() };
        let mut info = ModuleInfo { size: binary.len(), ..ModuleInfo::default() };
        let mut types: Vec<Option<Signature>> = Vec::new();
        // Type index of every function, imported ones first (the index space).
        let mut functions: Vec<u32> = Vec::new();
        let mut exports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&binary) {
            match payload.map_err(invalid)? {
                wasmparser::Payload::TypeSection(reader) => {
                    for group in reader {
                        // Every type of a group counts; only plain function types have a signature.
                        for sub in group.map_err(invalid)?.into_types() {
                            types.push(match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(Signature::of(f)),
                                _ => None,
                            });
                        }
                    }
                }
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.map_err(invalid)?;
                        let item = match import.ty {
                            wasmparser::TypeRef::Func(index) | wasmparser::TypeRef::FuncExact(index) => {
                                functions.push(index);
                                Item::Func(types.get(index as usize).cloned().flatten())
                            }
                            wasmparser::TypeRef::Memory(m) => Item::Memory { initial: m.initial, maximum: m.maximum },
                            wasmparser::TypeRef::Table(_) => Item::Table,
                            wasmparser::TypeRef::Global(_) => Item::Global,
                            wasmparser::TypeRef::Tag(_) => Item::Tag,
                        };
                        info.imports.push(Import { module: import.module.into(), name: import.name.into(), item });
                    }
                }
                wasmparser::Payload::FunctionSection(reader) => {
                    for index in reader {
                        functions.push(index.map_err(invalid)?);
                        info.defined_functions += 1;
                    }
                }
                wasmparser::Payload::MemorySection(reader) => {
                    for memory in reader {
                        let memory = memory.map_err(invalid)?;
                        info.memory.get_or_insert((memory.initial, memory.maximum));
                    }
                }
                wasmparser::Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.map_err(invalid)?;
                        exports.push((export.name.to_owned(), export.kind, export.index));
                    }
                }
                wasmparser::Payload::CustomSection(section) => info.custom_sections.push(section.name().to_owned()),
                _ => {}
            }
        }
        let memories: Vec<Item> = info
            .imports
            .iter()
            .filter(|i| matches!(i.item, Item::Memory { .. }))
            .map(|i| i.item.clone())
            .chain(info.memory.map(|(initial, maximum)| Item::Memory { initial, maximum }))
            .collect();
        for (name, kind, index) in exports {
            let item = match kind {
                wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                    Item::Func(functions.get(index as usize).and_then(|&ty| types.get(ty as usize).cloned().flatten()))
                }
                wasmparser::ExternalKind::Memory => {
                    memories.get(index as usize).cloned().unwrap_or(Item::Memory { initial: 0, maximum: None })
                }
                wasmparser::ExternalKind::Table => Item::Table,
                wasmparser::ExternalKind::Global => Item::Global,
                wasmparser::ExternalKind::Tag => Item::Tag,
            };
            info.exports.push(Export { name, item });
        }
        Ok(info)
    }

    /// The extensions: every `() -> ()` function export whose name the ABI
    /// does not reserve, in the module's order.
    pub fn extensions(&self) -> Vec<String> {
        self.exports.iter().filter(|e| export_role(e) == ExportRole::Extension).map(|e| e.name.clone()).collect()
    }

    /// The ABI version the module's `WasmAbiVersion_<x>_<y>_<z>` export
    /// declares (`"0.0.1"`), if it has one.
    pub fn abi_version(&self) -> Option<String> {
        self.exports.iter().find_map(|e| {
            let version = e.name.strip_prefix("WasmAbiVersion_")?;
            let parts: Vec<&str> = version.split('_').collect();
            let numeric =
                parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            numeric.then(|| parts.join("."))
        })
    }

    /// Whether the module has a `name` section (function names in
    /// backtraces).
    pub fn has_names(&self) -> bool {
        self.custom_sections.iter().any(|s| s == "name")
    }
}

/// What the ABI makes of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportRole {
    /// An export the ABI defines, with its signature.
    Abi,
    /// An export the ABI defines, with another signature or of another kind:
    /// the engine refuses the module.
    AbiMismatch,
    /// An extension.
    Extension,
    /// A reserved name the ABI does not define (`calloc`, `realloc`, a
    /// `Wasm…` name): allowed, not an extension.
    Reserved,
    /// Anything else (a function of another signature, a global): ignored.
    Other,
}

impl ExportRole {
    /// `abi`, `abi-mismatch`, `extension`, `reserved`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportRole::Abi => "abi",
            ExportRole::AbiMismatch => "abi-mismatch",
            ExportRole::Extension => "extension",
            ExportRole::Reserved => "reserved",
            ExportRole::Other => "other",
        }
    }
}

/// What the ABI makes of `export`.
pub fn export_role(export: &Export) -> ExportRole {
    if let Some(known) = abi::guest_export(&export.name) {
        let matches = match (&export.item, known.name) {
            (Item::Memory { .. }, abi::export::MEMORY) => true,
            (Item::Func(Some(signature)), name) if name != abi::export::MEMORY => {
                signature.is(known.params, known.results)
            }
            _ => false,
        };
        return if matches { ExportRole::Abi } else { ExportRole::AbiMismatch };
    }
    if abi::is_reserved_extension_name(&export.name) {
        return ExportRole::Reserved;
    }
    match export.item.signature() {
        Some(signature) if signature.is(&[], &[]) => ExportRole::Extension,
        _ => ExportRole::Other,
    }
}

/// What the engine makes of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    /// A host function of the ABI, with its signature.
    Host,
    /// A WASI function the engine implements, with its signature.
    WasiSupported,
    /// A WASI filesystem or socket function: it links and always fails
    /// (`EBADF` / `ENOTCAPABLE`).
    WasiDenied,
    /// The engine provides it with another signature (given).
    WrongSignature(Signature),
    /// A denied WASI function that does not return an errno.
    DeniedWithoutErrno,
    /// The engine provides nothing of that name.
    Unknown,
    /// Not a function: the engine links functions only.
    NotAFunction,
}

impl ImportStatus {
    /// Whether the engine links the import.
    pub fn matches(&self) -> bool {
        matches!(self, ImportStatus::Host | ImportStatus::WasiSupported | ImportStatus::WasiDenied)
    }

    /// `host`, `wasi`, `wasi-denied`, `wrong-signature`, `unknown`, `not-a-function`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImportStatus::Host => "host",
            ImportStatus::WasiSupported => "wasi",
            ImportStatus::WasiDenied => "wasi-denied",
            ImportStatus::WrongSignature(_) | ImportStatus::DeniedWithoutErrno => "wrong-signature",
            ImportStatus::Unknown => "unknown",
            ImportStatus::NotAFunction => "not-a-function",
        }
    }

    /// The signature the engine provides, when the module's is another.
    pub fn expected(&self) -> Option<String> {
        match self {
            ImportStatus::WrongSignature(signature) => Some(signature.to_string()),
            ImportStatus::DeniedWithoutErrno => Some("(…) -> i32".to_owned()),
            _ => None,
        }
    }
}

/// What the engine makes of `import`.
pub fn import_status(import: &Import) -> ImportStatus {
    let Item::Func(signature) = &import.item else {
        return ImportStatus::NotAFunction;
    };
    let check = |params: &[ValType], results: &[ValType], ok: ImportStatus| match signature {
        Some(signature) if signature.is(params, results) => ok,
        _ => ImportStatus::WrongSignature(Signature::abi(params, results)),
    };
    if import.module == abi::HOST_MODULE {
        return match abi::host_import(&import.name) {
            Some(host) => check(host.params, host.results, ImportStatus::Host),
            None => ImportStatus::Unknown,
        };
    }
    if import.module == abi::WASI_MODULE {
        if let Some(wasi) = abi::wasi_import(&import.name) {
            return check(wasi.params, wasi.results, ImportStatus::WasiSupported);
        }
        if abi::WASI_DENIED.contains(&import.name.as_str()) {
            return match signature {
                Some(signature) if signature.results == ["i32"] => ImportStatus::WasiDenied,
                _ => ImportStatus::DeniedWithoutErrno,
            };
        }
    }
    ImportStatus::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = r#"(module
      (import "env" "hostGetKey" (func (param i32 i32 i32 i32) (result i64)))
      (import "env" "hostGetValue" (func (param i32) (result i64)))
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open" (func (param i32 i64) (result i32)))
      (import "env" "hostNoSuch" (func))
      (memory (export "memory") 3 10)
      (func (export "WasmAbiVersion_0_0_1"))
      (func (export "malloc") (param i32) (result i32) (i32.const 0))
      (func (export "calloc") (param i32 i32) (result i32) (i32.const 0))
      (func (export "countOrders"))
      (func (export "withArgs") (param i32))
      (func (export "free") (param i64))
      (global (export "g") i32 (i32.const 0)))"#;

    #[test]
    fn reads_signatures_roles_and_statuses() {
        let info = ModuleInfo::parse(MODULE.as_bytes()).unwrap();
        assert_eq!(info.abi_version().as_deref(), Some("0.0.1"));
        assert_eq!(info.extensions(), ["countOrders"]);
        assert_eq!(info.defined_functions, 6);
        assert_eq!(info.memory, Some((3, Some(10))));
        let roles: Vec<(&str, ExportRole)> = info.exports.iter().map(|e| (e.name.as_str(), export_role(e))).collect();
        assert_eq!(
            roles,
            [
                ("memory", ExportRole::Abi),
                ("WasmAbiVersion_0_0_1", ExportRole::Abi),
                ("malloc", ExportRole::Abi),
                ("calloc", ExportRole::Reserved),
                ("countOrders", ExportRole::Extension),
                ("withArgs", ExportRole::Other),
                ("free", ExportRole::AbiMismatch),
                ("g", ExportRole::Other),
            ]
        );
        let statuses: Vec<ImportStatus> = info.imports.iter().map(import_status).collect();
        assert_eq!(statuses[0], ImportStatus::Host);
        assert_eq!(statuses[1], ImportStatus::WrongSignature(Signature::abi(&[ValType::I64], &[ValType::I64])));
        assert_eq!(statuses[1].expected().as_deref(), Some("(i64) -> i64"));
        assert_eq!(statuses[2], ImportStatus::WasiSupported);
        assert_eq!(statuses[3], ImportStatus::WasiDenied);
        assert_eq!(statuses[4], ImportStatus::Unknown);
        assert_eq!(info.imports[1].item.signature().unwrap().to_string(), "(i32) -> i64");
    }

    /// A module with one function import `module.name` of `signature` (wat),
    /// and the exports some imports need (`WasmOnReadValue`, `malloc`).
    fn importing(module: &str, name: &str, signature: &str) -> String {
        let callback = abi::guest_export(abi::export::ON_READ_VALUE).unwrap();
        let callback = wat_signature(callback.params, callback.results);
        format!(
            r#"(module (import "{module}" "{name}" (func {signature})) (memory (export "memory") 1)
                 (func (export "WasmAbiVersion_0_0_1")) (func (export "WasmOnReadValue") {callback})
                 (func (export "malloc") (param i32) (result i32) (i32.const 0x400))
                 (func (export "run")))"#
        )
    }

    fn wat_signature(params: &[ValType], results: &[ValType]) -> String {
        let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
        format!("(param {}) (result {})", list(params), list(results))
    }

    #[test]
    fn import_statuses_agree_with_what_the_engine_links() {
        // The abi's tables, as the engine links them: every import they
        // accept must load, and a wrong signature must not.
        let engine = extwasm_engine::Engine::new(extwasm_engine::Config::default()).unwrap();
        let mut cases: Vec<(&str, &str, String)> = Vec::new();
        for host in abi::HOST_IMPORTS {
            cases.push((abi::HOST_MODULE, host.name, wat_signature(host.params, host.results)));
        }
        for wasi in abi::WASI_IMPORTS {
            cases.push((abi::WASI_MODULE, wasi.name, wat_signature(wasi.params, wasi.results)));
        }
        for name in abi::WASI_DENIED {
            cases.push((abi::WASI_MODULE, name, "(param i32 i64) (result i32)".to_owned()));
        }
        for (module, name, signature) in &cases {
            let accepted = importing(module, name, signature);
            let status = import_status(&ModuleInfo::parse(accepted.as_bytes()).unwrap().imports[0]);
            assert!(status.matches(), "{module}.{name}: {status:?}");
            let loaded = engine.load_package("p", accepted.as_bytes(), &["run"]);
            assert!(loaded.is_ok(), "{module}.{name} {signature}: {:?}", loaded.err().map(|e| e.to_string()));

            let wrong = importing(module, name, "(param f32)");
            let status = import_status(&ModuleInfo::parse(wrong.as_bytes()).unwrap().imports[0]);
            assert!(!status.matches(), "{module}.{name} (f32) -> (): {status:?}");
            assert!(engine.load_package("p", wrong.as_bytes(), &["run"]).is_err(), "{module}.{name} (f32) -> ()");
        }
        let unknown = importing(abi::HOST_MODULE, "hostNoSuch", "");
        assert_eq!(import_status(&ModuleInfo::parse(unknown.as_bytes()).unwrap().imports[0]), ImportStatus::Unknown);
        assert!(engine.load_package("p", unknown.as_bytes(), &["run"]).is_err());
    }

    #[test]
    fn garbage_is_an_invalid_module() {
        let error = ModuleInfo::parse(b"\0asm\x01\0\0\0\x01").unwrap_err();
        assert!(error.to_string().starts_with("not a valid WebAssembly module: "), "{error}");
    }
}
