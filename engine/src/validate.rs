//! Whether a compiled module speaks the ABI: every export the ABI defines
//! with its exact signature, every import one the host provides with its
//! exact signature, the extensions asked for, and the exports that some
//! imports need. Driven by the ABI's tables; every problem is a typed
//! [`LoadError`] in the module's and the ABI's terms.

use extwasm_abi::{self as abi, HostFunction, ValType, export};
use extwasm_host::LoadError;
use extwasm_state::excerpt;
use wasmtime::{ExternType, FuncType, Module};

use crate::host::{DENIED_WASI, SUPPORTED_WASI};

/// What validation learnt of a module.
pub(crate) struct Validated {
    /// The extensions, sorted (the order a worker numbers them in).
    pub(crate) extensions: Vec<Box<str>>,
    /// WASI functions the module imports that the engine denies, with the
    /// signature they are imported with.
    pub(crate) denied_wasi: Vec<(String, FuncType)>,
}

/// Whether a host function needs an export.
type Needs = fn(HostFunction) -> bool;

/// Exports an import needs: a module that imports a host function for which
/// `needs` holds must export `export`.
const IMPORT_NEEDS: &[(Needs, &str)] = &[
    (HostFunction::returns_bytes, export::MALLOC),
    (|function| function == HostFunction::ReadValues, export::ON_READ_VALUE),
];

/// Checks `module` against the ABI, with `extensions` as its extensions.
pub(crate) fn validate(module: &Module, extensions: &[&str]) -> Result<Validated, LoadError> {
    let func_export = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(ty)) => Ok(Some(ty)),
        Some(other) => Err(LoadError::ExportNotAFunction { export: name.to_owned(), found: extern_kind(&other) }),
        None => Ok(None),
    };

    if !matches!(module.get_export(export::MEMORY), Some(ExternType::Memory(_))) {
        return Err(LoadError::NoMemory);
    }
    if func_export(export::ABI_VERSION)?.is_none() {
        return Err(LoadError::NoAbiVersion);
    }
    for known in abi::GUEST_EXPORTS.iter().filter(|e| e.name != export::MEMORY) {
        if let Some(ty) = func_export(known.name)? {
            check_signature(&ty, known.params, known.results).map_err(|found| LoadError::ExportSignature {
                export: known.name.to_owned(),
                found,
                expected: render(known.params, known.results),
            })?;
        }
    }

    let mut names: Vec<Box<str>> = Vec::with_capacity(extensions.len());
    for &extension in extensions {
        if abi::is_reserved_extension_name(extension) {
            return Err(LoadError::ReservedName { extension: extension.to_owned() });
        }
        match func_export(extension)? {
            None => return Err(missing_extension(module, extension)),
            Some(ty) => check_signature(&ty, &[], &[])
                .map_err(|found| LoadError::ExtensionSignature { extension: extension.to_owned(), found })?,
        }
        if names.iter().any(|n| **n == *extension) {
            return Err(LoadError::DuplicateExtension { extension: extension.to_owned() });
        }
        names.push(extension.into());
    }
    names.sort();

    let mut denied_wasi = Vec::new();
    let mut needed: Vec<(&str, String)> = Vec::new();
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let ExternType::Func(ty) = import.ty() else {
            return Err(LoadError::ImportNotAFunction {
                module: module_name.to_owned(),
                name: name.to_owned(),
                found: extern_kind(&import.ty()),
            });
        };
        let (params, results): (&[ValType], &[ValType]) = if module_name == abi::HOST_MODULE {
            let Some(host) = abi::host_import(name) else {
                return Err(unknown(module_name, name, &ty));
            };
            for (needs, export) in IMPORT_NEEDS {
                if needs(host.function) {
                    needed.push((export, name.to_owned()));
                }
            }
            (host.params, host.results)
        } else if module_name == abi::WASI_MODULE {
            if let Some(wasi) = SUPPORTED_WASI.iter().find(|wasi| wasi.name == name) {
                (wasi.params, wasi.results)
            } else if DENIED_WASI.contains(&name) {
                // Denied functions link with the module's own signature, as
                // long as they return an errno.
                if ty.results().len() != 1 || !matches!(ty.results().next(), Some(wasmtime::ValType::I32)) {
                    return Err(LoadError::ImportSignature {
                        module: module_name.to_owned(),
                        name: name.to_owned(),
                        found: render_func(&ty),
                        expected: "(…) -> i32".to_owned(),
                    });
                }
                denied_wasi.push((name.to_owned(), ty));
                continue;
            } else {
                return Err(unknown(module_name, name, &ty));
            }
        } else {
            return Err(LoadError::UnknownImportModule { module: module_name.to_owned(), name: name.to_owned() });
        };
        check_signature(&ty, params, results).map_err(|found| LoadError::ImportSignature {
            module: module_name.to_owned(),
            name: name.to_owned(),
            found,
            expected: render(params, results),
        })?;
    }
    for (export, import) in needed {
        if func_export(export)?.is_none() {
            return Err(LoadError::MissingExportFor { export, import });
        }
    }

    Ok(Validated { extensions: names, denied_wasi })
}

/// The error for `extension`, which `module` does not export: it lists the
/// exports that could be extensions (functions `() -> ()` of names the ABI
/// does not reserve), sorted, at most [`MAX_KNOWN`], each cut short (a
/// module names its exports at any length).
pub(crate) fn missing_extension(module: &Module, extension: &str) -> LoadError {
    let mut names: Vec<String> = module
        .exports()
        .filter(|e| !abi::is_reserved_extension_name(e.name()))
        .filter(|e| matches!(e.ty(), ExternType::Func(ty) if check_signature(&ty, &[], &[]).is_ok()))
        .map(|e| excerpt(e.name()))
        .collect();
    names.sort();
    if names.len() > MAX_KNOWN {
        let more = names.len() - MAX_KNOWN;
        names.truncate(MAX_KNOWN);
        names.push(format!("… {more} more"));
    }
    LoadError::missing_extension(extension, names.iter().map(String::as_str))
}

/// Exports a missing extension's error lists.
const MAX_KNOWN: usize = 100;

fn unknown(module: &str, name: &str, ty: &FuncType) -> LoadError {
    LoadError::UnknownImport { module: module.to_owned(), name: name.to_owned(), signature: render_func(ty) }
}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        _ => "non-function",
    }
}

fn to_abi(ty: &wasmtime::ValType) -> Option<ValType> {
    match ty {
        wasmtime::ValType::I32 => Some(ValType::I32),
        wasmtime::ValType::I64 => Some(ValType::I64),
        wasmtime::ValType::F32 => Some(ValType::F32),
        wasmtime::ValType::F64 => Some(ValType::F64),
        _ => None,
    }
}

/// `Ok` when `ty` is exactly `params -> results`; otherwise the rendered
/// signature that was found.
fn check_signature(ty: &FuncType, params: &[ValType], results: &[ValType]) -> Result<(), String> {
    let same = |found: &mut dyn ExactSizeIterator<Item = wasmtime::ValType>, want: &[ValType]| {
        found.len() == want.len() && found.zip(want).all(|(f, w)| to_abi(&f) == Some(*w))
    };
    if same(&mut ty.params(), params) && same(&mut ty.results(), results) { Ok(()) } else { Err(render_func(ty)) }
}

/// `(i64, i32) -> i64`, `() -> ()`.
fn render(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    let results = match results {
        [] => "()".to_owned(),
        [one] => one.as_str().to_owned(),
        many => format!("({})", list(many)),
    };
    format!("({}) -> {results}", list(params))
}

fn render_func(ty: &FuncType) -> String {
    let list = |types: Vec<String>| types.join(", ");
    let params = list(ty.params().map(|t| t.to_string()).collect());
    let results: Vec<String> = ty.results().map(|t| t.to_string()).collect();
    let results = match results.len() {
        0 => "()".to_owned(),
        1 => results[0].clone(),
        _ => format!("({})", list(results)),
    };
    format!("({params}) -> {results}")
}
