//! Readable backtraces: each frame's function named as its source language
//! writes it, with file:line where the module carries DWARF.
//!
//! What wasmtime's [`wasmtime::FrameInfo::func_name`] gives is the module's
//! name section, as the toolchain wrote it:
//!
//! - **Rust**: mangled symbols (`_ZN26extwasm_example_basicusage9new_order17h…E`,
//!   or `_R…` with the v0 scheme), demangled here without the hash
//!   (`extwasm_example_basicusage::new_order`);
//! - **TinyGo**: Go's own names (`main.NewOrder`,
//!   `(github.com/voedger/exttinygo.TValue).AsString`), kept;
//! - **standard Go**: Go's names with every character other than letters,
//!   digits, `_` and `.` replaced by `_` (the linker's doing:
//!   `example.com/x-y/ext.(*T).M` becomes `example.com_x_y_ext.__T_.M`).
//!   The replacement loses what it replaced, so the names are restored from
//!   the module's own table of function names (the runtime's `funcnametab`,
//!   NUL-terminated strings in its data), read once when the package loads
//!   ([`FuncNames::of_module`]).
//!
//! With DWARF (a Rust module built with `debug = "line-tables-only"`, say)
//! and [`crate::Config::backtrace_lines`] on, a frame becomes one entry per
//! function inlined at that point plus the function itself, each
//! `name at file:line:column`.

use std::borrow::Cow;
use std::collections::HashMap;

use extwasm_state::excerpt;

/// Entries of a backtrace that an error keeps: a stack overflow has
/// thousands of frames, and the innermost say where the guest failed.
pub(crate) const MAX_FRAMES: usize = 64;

/// Longest file path kept in a frame, in characters: the end of it (the
/// file's name) is what says most.
const MAX_PATH_CHARS: usize = 200;

/// The names of a module's functions where its name section does not say
/// them as the source does (see the module docs): standard Go's.
#[derive(Debug, Default)]
pub(crate) struct FuncNames {
    /// Function index -> its name as the source writes it.
    restored: HashMap<u32, Box<str>>,
}

/// Longest Go function name looked for in a module's data.
const MAX_GO_NAME: usize = 1024;

impl FuncNames {
    /// The names of `wasm`'s functions to restore: empty unless it is a
    /// standard Go module (it has a `go:buildid` section) whose name section
    /// has replaced characters. A module that does not parse has none.
    pub(crate) fn of_module(wasm: &[u8]) -> FuncNames {
        let mut is_go = false;
        let mut sanitized: Vec<(u32, &str)> = Vec::new();
        let mut data: Vec<&[u8]> = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload {
                Ok(wasmparser::Payload::CustomSection(section)) => match section.as_known() {
                    wasmparser::KnownCustom::Name(names) => {
                        for name in names.into_iter().flatten() {
                            if let wasmparser::Name::Function(map) = name {
                                sanitized.extend(
                                    map.into_iter()
                                        .flatten()
                                        .filter(|n| n.name.contains('_'))
                                        .map(|n| (n.index, n.name)),
                                );
                            }
                        }
                    }
                    _ => is_go |= section.name() == "go:buildid",
                },
                Ok(wasmparser::Payload::DataSection(segments)) => {
                    data.extend(segments.into_iter().flatten().map(|segment| segment.data));
                }
                Ok(_) => {}
                Err(_) => return FuncNames::default(),
            }
        }
        if !is_go || sanitized.is_empty() {
            return FuncNames::default();
        }
        // Every NUL-terminated string of the data that a function's name
        // could be, by the name the linker made of it.
        let mut originals: HashMap<String, &str> = HashMap::new();
        for segment in data {
            for bytes in segment.split(|&b| b == 0) {
                if bytes.len() < 3 || bytes.len() > MAX_GO_NAME || !bytes.contains(&b'.') {
                    continue;
                }
                let Ok(text) = std::str::from_utf8(bytes) else { continue };
                let made = go_linker_name(text);
                if made != text {
                    originals.entry(made).or_insert(text);
                }
            }
        }
        let restored = sanitized
            .into_iter()
            .filter_map(|(index, name)| originals.get(name).map(|original| (index, Box::from(*original))))
            .collect();
        FuncNames { restored }
    }

    /// The restored name of function `index`, if it has one.
    fn get(&self, index: u32) -> Option<&str> {
        self.restored.get(&index).map(|name| &**name)
    }
}

/// The name Go's wasm linker writes for `name`: every character but ASCII
/// letters, digits, `_` and `.` replaced by `_` (its `[^\w.]`).
fn go_linker_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// `name` as its source language writes it: Rust symbols (legacy `_ZN…E`
/// and v0 `_R…`) demangled without their hash; other names as they are.
pub(crate) fn demangle(name: &str) -> Cow<'_, str> {
    match rustc_demangle::try_demangle(name) {
        Ok(symbol) => Cow::Owned(format!("{symbol:#}")),
        Err(_) => Cow::Borrowed(name),
    }
}

/// The wasm backtrace of `error`, innermost frame first: at most
/// [`MAX_FRAMES`] entries, each name and path cut short (a module names its
/// own functions and files, at any length), then `… more frames` when
/// there were more. `names` are the module's restored function names.
pub(crate) fn backtrace_of(error: &wasmtime::Error, names: &FuncNames) -> Vec<String> {
    let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut more = false;
    for frame in backtrace.frames() {
        if !push_frame(frame, names, &mut kept) {
            more = true;
            break;
        }
    }
    // The engine has wasmtime capture one frame more than it keeps, so
    // that a longer stack is told from one of exactly MAX_FRAMES.
    if more || backtrace.frames().len() > MAX_FRAMES {
        kept.truncate(MAX_FRAMES);
        kept.push("… more frames".to_owned());
    }
    kept
}

/// Appends the entries of `frame` to `kept`; false when there was no room
/// for all of them.
fn push_frame(frame: &wasmtime::FrameInfo, names: &FuncNames, kept: &mut Vec<String>) -> bool {
    let name = || match names.get(frame.func_index()) {
        Some(restored) => excerpt(restored),
        None => match frame.func_name() {
            Some(name) => excerpt(&demangle(name)),
            None => format!("<wasm function {}>", frame.func_index()),
        },
    };
    let symbols = frame.symbols();
    if symbols.is_empty() {
        if kept.len() == MAX_FRAMES {
            return false;
        }
        kept.push(name());
        return true;
    }
    // DWARF: the functions inlined at this point, innermost first, then the
    // function itself (whose name the name section has too).
    for (i, symbol) in symbols.iter().enumerate() {
        if kept.len() == MAX_FRAMES {
            return false;
        }
        let function = match symbol.name() {
            Some(symbol) => excerpt(&demangle(symbol)),
            None if i + 1 == symbols.len() => name(),
            None => "<inlined function>".to_owned(),
        };
        kept.push(match (symbol.file(), symbol.line()) {
            (Some(file), Some(line)) => {
                let file = path_excerpt(file);
                match symbol.column() {
                    Some(column) if column > 0 => format!("{function} at {file}:{line}:{column}"),
                    _ => format!("{function} at {file}:{line}"),
                }
            }
            (Some(file), None) => format!("{function} at {}", path_excerpt(file)),
            _ => function,
        });
    }
    true
}

/// `path`, or its last [`MAX_PATH_CHARS`] characters after `…`.
fn path_excerpt(path: &str) -> Cow<'_, str> {
    let chars = path.chars().count();
    if chars <= MAX_PATH_CHARS {
        return Cow::Borrowed(path);
    }
    let tail: String = path.chars().skip(chars - MAX_PATH_CHARS).collect();
    Cow::Owned(format!("…{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_symbols_are_demangled_without_their_hash() {
        assert_eq!(
            demangle("_ZN26extwasm_example_basicusage9new_order17h0123456789abcdefE"),
            "extwasm_example_basicusage::new_order"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
        for kept in ["main.NewOrder", "(github.com/voedger/exttinygo.TValue).AsString", "NewOrder", "_start"] {
            assert_eq!(demangle(kept), kept);
        }
    }

    #[test]
    fn go_linker_names_replace_all_but_word_characters_and_dots() {
        assert_eq!(
            go_linker_name("example.invalid/extwasm/tinygo-sdk/ext.(*T).M"),
            "example.invalid_extwasm_tinygo_sdk_ext.__T_.M"
        );
        assert_eq!(go_linker_name("type:.eq.[2]interface {}"), "type_.eq._2_interface___");
        assert_eq!(go_linker_name("main.NewOrder"), "main.NewOrder");
    }

    #[test]
    fn go_names_are_restored_from_the_modules_data() {
        let wat = r#"(module
            (func $a) (func $b) (func $c) (func $d)
            (memory 1)
            (data (i32.const 0) "\00example.invalid/x-y/ext.(*T).M\00main.main\00runtime.gopanic\00")
            (@custom "go:buildid" "abc"))"#;
        // Named as Go's linker names them.
        let mut wasm = wat::parse_str(wat).unwrap();
        let names = ["example.invalid_x_y_ext.__T_.M", "main.main", "runtime.gopanic", "not_in_the_data"];
        wasm.extend(name_section(&names));
        let restored = FuncNames::of_module(&wasm);
        assert_eq!(restored.get(0), Some("example.invalid/x-y/ext.(*T).M"));
        // Names the linker did not change need nothing, and a name not in
        // the data stays as the name section says.
        assert_eq!((restored.get(1), restored.get(2), restored.get(3)), (None, None, None));
        // Not Go (no go:buildid): nothing is restored.
        let mut wasm = wat::parse_str(wat.replace("go:buildid", "other")).unwrap();
        wasm.extend(name_section(&names));
        assert_eq!(FuncNames::of_module(&wasm).get(0), None);
    }

    /// A name section naming functions 0, 1, … `names`.
    fn name_section(names: &[&str]) -> Vec<u8> {
        let leb = |mut n: usize, out: &mut Vec<u8>| loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                break;
            }
        };
        let mut map = Vec::new();
        leb(names.len(), &mut map);
        for (i, name) in names.iter().enumerate() {
            leb(i, &mut map);
            leb(name.len(), &mut map);
            map.extend_from_slice(name.as_bytes());
        }
        let mut payload = Vec::new();
        leb(4, &mut payload);
        payload.extend_from_slice(b"name");
        payload.push(1); // function names
        leb(map.len(), &mut payload);
        payload.extend(map);
        let mut section = vec![0];
        leb(payload.len(), &mut section);
        section.extend(payload);
        section
    }

    #[test]
    fn a_standard_go_modules_names_are_restored() {
        if extwasm_go_examples::skipped("restoring the names of a standard Go module") {
            return;
        }
        let restored = FuncNames::of_module(extwasm_go_examples::BASICUSAGE.wasm);
        let names: Vec<&str> = restored.restored.values().map(|name| &**name).collect();
        // The runtime's methods on pointers, and packages with a path.
        for expected in ["internal/abi.(*Type).DescriptorSize", "internal/runtime/maps.(*Map).putSlotSmall"] {
            assert!(names.contains(&expected), "{expected} not among {} restored names", names.len());
        }
        assert!(names.iter().all(|name| !name.contains(".__")), "{names:?}");
    }

    #[test]
    fn long_paths_keep_their_end() {
        let path = format!("/{}/src/lib.rs", "d".repeat(300));
        let kept = path_excerpt(&path);
        assert!(kept.starts_with('…') && kept.ends_with("/src/lib.rs"), "{kept}");
        assert_eq!(kept.chars().count(), MAX_PATH_CHARS + 1);
        assert_eq!(path_excerpt("src/lib.rs"), "src/lib.rs");
    }
}
