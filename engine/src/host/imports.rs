//! Every host import of the ABI, defined from [`extwasm_abi::HOST_IMPORTS`]:
//! each takes its raw wasm arguments as the table declares them, hands them
//! with guest memory to [`extwasm_host::Session::call`], and puts the result
//! where the guest expects it (a value, or bytes in the exchange buffer).
//! A host function added to the table and the session needs nothing here.

use std::mem::MaybeUninit;
use std::ops::ControlFlow;

use extwasm_abi::{self as abi, HostFunction, HostImport, ValType};
use extwasm_host::{Fault, Read, Ret, Session};
use extwasm_state::{KeyBuilder, State};
use wasmtime::{FuncType, Linker, ValRaw};

use super::memory::guest_bytes_mut;
use super::{Ctx, HostCtx, guest};

/// The most parameters an import of the table has.
const MAX_PARAMS: usize = 8;

fn val_type(ty: ValType) -> wasmtime::ValType {
    match ty {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
    }
}

/// Defines every import of the ABI table on `linker`.
pub(super) fn define<S: State>(linker: &mut Linker<HostCtx<S>>) -> wasmtime::Result<()> {
    for import in abi::HOST_IMPORTS {
        assert!(import.params.len() <= MAX_PARAMS && import.results.len() <= 1, "{} fits the marshalling", import.name);
        if define_typed(linker, import)? {
            continue;
        }
        let params = import.params.iter().copied().map(val_type);
        let results = import.results.iter().copied().map(val_type);
        let ty = FuncType::new(linker.engine(), params, results);
        // SAFETY: `ty` is built from `import.params` and `import.results`,
        // and `call` reads exactly `import.params.len()` arguments, each as
        // the type the table gives it, and writes at most the one result
        // the table declares, of its type: the contract of
        // `func_new_unchecked`.
        unsafe {
            linker.func_new_unchecked(abi::HOST_MODULE, import.name, ty, move |caller, values| {
                call(caller, import, values)
            })?;
        }
    }
    Ok(())
}

/// The Rust type of a wasm value type.
macro_rules! rust_type {
    (I32) => {
        i32
    };
    (I64) => {
        i64
    };
    (F32) => {
        f32
    };
    (F64) => {
        f64
    };
}

/// A wasm value as raw bits (as [`call`] reads them).
macro_rules! to_raw {
    (I32, $v:expr) => {
        $v as u32 as u64
    };
    (I64, $v:expr) => {
        $v as u64
    };
    (F32, $v:expr) => {
        $v.to_bits() as u64
    };
    (F64, $v:expr) => {
        $v.to_bits()
    };
}

/// The result type of a signature (`()` for none).
macro_rules! result_type {
    () => {
        ()
    };
    ($ty:ident) => {
        rust_type!($ty)
    };
}

/// The raw result of a call as the signature's result (`()` for none).
macro_rules! from_raw {
    ($v:expr;) => {{
        let _ = $v;
    }};
    ($v:expr; I32) => {
        $v.unwrap_or_default() as u32 as i32
    };
    ($v:expr; I64) => {
        $v.unwrap_or_default() as i64
    };
    ($v:expr; F32) => {
        f32::from_bits($v.unwrap_or_default() as u32)
    };
    ($v:expr; F64) => {
        f64::from_bits($v.unwrap_or_default())
    };
}

/// Typed definitions for the signatures the table uses, each a plain
/// `func_wrap` (wasmtime's fastest host calls); an import of another
/// signature takes the generic path in [`define`]. The signatures are a
/// speed-up only: which function runs is still the table's and the
/// session's business.
macro_rules! typed_signatures {
    ($linker:ident, $import:ident; $( ($($arg:ident: $ty:ident),*) -> $($ret:ident)? ;)*) => {{
        use ValType::{F32, F64, I32, I64};
        match ($import.params, $import.results) {
            $(
                ([$($ty),*], [$($ret)?]) => {
                    let import = $import;
                    $linker.func_wrap(
                        abi::HOST_MODULE,
                        import.name,
                        move |mut caller: Ctx<'_, S>, $($arg: rust_type!($ty)),*| -> wasmtime::Result<result_type!($($ret)?)> {
                            let args = [$(to_raw!($ty, $arg)),*];
                            let result = dispatch(&mut caller, import, &args)?;
                            Ok(from_raw!(result; $($ret)?))
                        },
                    )?;
                    Ok(true)
                }
            )*
            _ => Ok(false),
        }
    }};
}

/// Defines `import` with a typed closure when its signature is one of the
/// table's; `false` when it is not.
fn define_typed<S: State>(linker: &mut Linker<HostCtx<S>>, import: &'static HostImport) -> wasmtime::Result<bool> {
    typed_signatures! { linker, import;
        (a: I32, b: I32) -> ;
        (a: I32, b: I32, c: I32, d: I32) -> I64;
        (a: I64) -> ;
        (a: I64) -> I32;
        (a: I64) -> I64;
        (a: I64, b: I64) -> I64;
        (a: I64, b: I32) -> I32;
        (a: I64, b: I32) -> I64;
        (a: I64, b: I32) -> F32;
        (a: I64, b: I32) -> F64;
        (a: I64, b: I32, c: I32) -> I32;
        (a: I64, b: I32, c: I32) -> I64;
        (a: I64, b: I32, c: I32) -> F32;
        (a: I64, b: I32, c: I32) -> F64;
        (a: I64, b: I32, c: I32, d: I32, e: I32) -> ;
        (a: I64, b: I32, c: I32, d: I32, e: I64) -> ;
        (a: I64, b: I32, c: I32, d: I32, e: F32) -> ;
        (a: I64, b: I32, c: I32, d: I32, e: F64) -> ;
        (a: I64, b: I32, c: I32, d: I32, e: I32, f: I32) -> ;
        (a: I64, b: I32, c: I32, d: I32, e: I32, f: I32, g: I32, h: I32) -> ;
    }
}

/// One host call: raw arguments in, the result out.
#[inline]
fn call<S: State>(
    mut caller: Ctx<'_, S>,
    import: &'static HostImport,
    values: &mut [MaybeUninit<ValRaw>],
) -> wasmtime::Result<()> {
    let mut args = [0u64; MAX_PARAMS];
    for (i, (ty, value)) in import.params.iter().zip(values.iter()).enumerate() {
        // SAFETY: wasmtime passes the arguments of the function's type
        // initialised, in order; `ty` is the type of argument `i`.
        let value = unsafe { value.assume_init_ref() };
        args[i] = match ty {
            ValType::I32 => value.get_i32() as u32 as u64,
            ValType::I64 => value.get_i64() as u64,
            ValType::F32 => value.get_f32() as u64,
            ValType::F64 => value.get_f64(),
        };
    }
    let Some(result) = dispatch(&mut caller, import, &args[..import.params.len()])? else {
        return Ok(());
    };
    let raw = match import.results.first() {
        Some(ValType::I32) => ValRaw::i32(result as u32 as i32),
        Some(ValType::I64) => ValRaw::i64(result as i64),
        Some(ValType::F32) => ValRaw::f32(result as u32),
        Some(ValType::F64) => ValRaw::f64(result),
        None => return Ok(()),
    };
    if let Some(slot) = values.first_mut() {
        slot.write(raw);
    }
    Ok(())
}

/// Runs the host call; its result as raw bits, `None` for none. Inlined
/// into each signature's closure: the call costs no frame of its own.
#[inline(always)]
fn dispatch<S: State>(
    caller: &mut Ctx<'_, S>,
    import: &'static HostImport,
    args: &[u64],
) -> wasmtime::Result<Option<u64>> {
    let (memory, ctx) = guest(caller);
    ctx.host_calls += 1;
    // A guest that calls the host after a denied grow went on from it;
    // reporting the failure (`hostPanic`) is not going on.
    if import.function != HostFunction::Panic {
        ctx.went_on |= ctx.limiter.denied.is_some();
    }
    let state = ctx.state.get();
    let overflow = match ctx.session.call(import, args, memory, state) {
        Ok(Ret::Unit) => return Ok(None),
        Ok(Ret::Read(read)) => match read {
            Read::I32(v) => return Ok(Some(v as u32 as u64)),
            Read::I64(v) => return Ok(Some(v as u64)),
            Read::F32(v) => return Ok(Some(v.to_bits() as u64)),
            Read::F64(v) => return Ok(Some(v.to_bits())),
            Read::Value(handle) => return Ok(Some(handle)),
            Read::Bytes(bytes) => match ctx.exchange.try_write(memory, bytes) {
                Some(packed) => return Ok(Some(packed)),
                // The guest's malloc must run for a buffer of its own,
                // which needs the whole caller: copy the bytes out first.
                None => bytes.to_vec(),
            },
        },
        Ok(Ret::ReadValues(scratch)) => return read_values(caller, import.name, scratch).map(|()| None),
        Err(fault) => return Err(ctx.fail(import.name, fault)),
    };
    write_overflow(caller, import.name, &overflow).map(Some)
}

/// `hostReadValues`: calls the guest's `WasmOnReadValue` once per match of
/// `scratch` in the state, re-entrantly.
fn read_values<S: State>(
    caller: &mut Ctx<'_, S>,
    call: &'static str,
    scratch: Box<KeyBuilder>,
) -> wasmtime::Result<()> {
    let ctx = caller.data_mut();
    let Some(on_read) = ctx.exports.on_read.clone() else {
        ctx.session.end_read(scratch);
        let what = format!("module exports no {}", abi::export::ON_READ_VALUE);
        return Err(ctx.fail(call, Fault::Missing { argument: "keyBuilder", what }));
    };
    let Some(state) = ctx.state.get() else {
        ctx.session.end_read(scratch);
        return Err(ctx.fail(call, Fault::OutsideInvocation));
    };
    let mut failure = None;
    let result = Session::read_state(state, &scratch, &mut |key, value| {
        let ctx = caller.data_mut();
        let (key, value) = match ctx.session.read_item(key, value) {
            Ok(handles) => handles,
            Err(fault) => {
                failure = Some(ctx.fail(call, fault));
                return ControlFlow::Break(());
            }
        };
        match on_read.call(&mut *caller, (key as i64, value as i64)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(trap) => {
                failure = Some(trap);
                ControlFlow::Break(())
            }
        }
    });
    let ctx = caller.data_mut();
    ctx.session.end_read(scratch);
    if let Some(trap) = failure {
        return Err(trap);
    }
    result.map_err(|fault| ctx.fail(call, fault))
}

/// Allocates a buffer with the guest's `malloc` for a result that did not fit
/// in the exchange buffer, and copies the result there.
fn write_overflow<S: State>(caller: &mut Ctx<'_, S>, call: &'static str, bytes: &[u8]) -> wasmtime::Result<u64> {
    let Some(malloc) = caller.data().exports.malloc.clone() else {
        let what = "the result does not fit the exchange buffer and the module exports no malloc".to_owned();
        return Err(caller.data_mut().fail(call, Fault::Missing { argument: "namePtr", what }));
    };
    // A result the guest cannot address (over 2 GiB: malloc takes an i32)
    // cannot be handed over.
    let Some(len) = u32::try_from(bytes.len()).ok().filter(|&len| len <= i32::MAX as u32) else {
        let fault = Fault::Missing { argument: "namePtr", what: format!("a result of {} bytes", bytes.len()) };
        return Err(caller.data_mut().fail(call, fault));
    };
    let size = len.max(abi::EXCHANGE_OVERFLOW_MIN);
    let ptr = malloc.call(&mut *caller, size as i32)? as u32;
    let (memory, ctx) = guest(caller);
    let HostCtx { session, exchange, .. } = &mut *ctx;
    if let Err(exceeded) = session.budget_mut().reserve_one(exchange.overflow_mut()) {
        return Err(ctx.fail(call, Fault::Exceeded { argument: "namePtr", exceeded }));
    }
    // A null result is an allocation failure, not an address to write to.
    let checked = match (ptr, ctx.limiter.denied) {
        (0, Some(requested_pages)) => {
            let limit_pages = ctx.limit_pages();
            return Err(ctx.fail(call, Fault::OutOfMemory { requested_pages, limit_pages }));
        }
        (0, None) => Err(Fault::Memory { argument: "malloc result", ptr, len, memory_size: memory.len() }),
        _ => guest_bytes_mut(memory, ptr, len, "malloc result"),
    };
    match checked {
        Ok(dst) => {
            dst.copy_from_slice(bytes);
            ctx.exchange.overflow_mut().push(ptr);
            Ok(abi::pack(ptr, len))
        }
        Err(fault) => Err(ctx.fail(call, fault)),
    }
}
