//! The slice of WASI preview 1 that TinyGo and Go guests import: output is
//! captured (bounded, per invocation), clocks and entropy are real, and there
//! is no filesystem, no environment and no arguments. File and socket
//! functions link (so Go's `os` package loads) but answer `EBADF` /
//! `ENOTCAPABLE`.

use extwasm_abi::{WASI_MODULE, WasiImport};
use extwasm_host::{Fault, guest_bytes};
use extwasm_state::State;
use extwasm_state::budget::CHUNK;
use wasmtime::{FuncType, Linker, Val};

use super::memory::{guest_bytes_mut, read_u32, write_u32};
use super::{Ctx, HostCtx, guest};

/// Most iovecs one `fd_write` takes (POSIX's `IOV_MAX`); more is `EINVAL`.
const MAX_IOVECS: i32 = 1024;
/// Most subscriptions one `poll_oneoff` answers; more is `EINVAL`.
const MAX_SUBSCRIPTIONS: i32 = 1024;

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_INVAL: i32 = 28;
const ERRNO_IO: i32 = 29;
const ERRNO_NOTCAPABLE: i32 = 76;

/// The WASI functions the engine implements, with their signatures (the
/// table the Rust SDK's `fd_write` import is checked against, too).
pub(crate) const SUPPORTED: &[WasiImport] = extwasm_abi::WASI_IMPORTS;

/// Filesystem and socket functions: they link with whatever signature the
/// module declares (as long as it returns an errno) and always fail.
pub(crate) const DENIED: &[&str] = extwasm_abi::WASI_DENIED;

/// The errno a denied function answers.
fn denied_errno(name: &str) -> i32 {
    if name.starts_with("path_") { ERRNO_NOTCAPABLE } else { ERRNO_BADF }
}

fn with_memory<S: State>(
    caller: &mut Ctx<'_, S>,
    call: &'static str,
    body: impl FnOnce(&mut [u8], &mut HostCtx<S>) -> Result<i32, Fault>,
) -> wasmtime::Result<i32> {
    let (mem, ctx) = guest(caller);
    ctx.host_calls += 1;
    body(mem, ctx).map_err(|fault| ctx.fail(call, fault))
}

fn fd_write<S: State>(
    mut caller: Ctx<'_, S>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    with_memory(&mut caller, "fd_write", |mem, ctx| {
        let stream = match fd {
            1 => 0,
            2 => 1,
            _ => return Ok(ERRNO_BADF),
        };
        if !(0..=MAX_IOVECS).contains(&iovs_len) {
            return Ok(ERRNO_INVAL);
        }
        // The count of bytes written is a u32: a write that would pass it is
        // cut short there, as a short write the guest may continue.
        let mut total: u32 = 0;
        for i in 0..iovs_len {
            let iov = (iovs as u32).wrapping_add((i as u32).wrapping_mul(8));
            let buf = read_u32(mem, iov, "iovs")?;
            let len = read_u32(mem, iov.wrapping_add(4), "iovs")?;
            let bytes = guest_bytes(mem, buf, len, "iovs")?;
            let Some(sum) = total.checked_add(len) else { break };
            // Output examines a bounded amount per invocation (see Output::write).
            ctx.output.write(stream, bytes);
            total = sum;
        }
        write_u32(mem, nwritten as u32, total, "nwritten")?;
        Ok(ERRNO_SUCCESS)
    })
}

fn clock_time_get<S: State>(mut caller: Ctx<'_, S>, id: i32, _precision: i64, out: i32) -> wasmtime::Result<i32> {
    with_memory(&mut caller, "clock_time_get", |mem, ctx| {
        let nanos = match id {
            0 => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
            1..=3 => ctx.started.elapsed().as_nanos() as u64 + 1,
            _ => return Ok(ERRNO_INVAL),
        };
        guest_bytes_mut(mem, out as u32, 8, "time")?.copy_from_slice(&nanos.to_le_bytes());
        Ok(ERRNO_SUCCESS)
    })
}

fn random_get<S: State>(mut caller: Ctx<'_, S>, buf: i32, len: i32) -> wasmtime::Result<i32> {
    with_memory(&mut caller, "random_get", |mem, ctx| {
        let dst = guest_bytes_mut(mem, buf as u32, len as u32, "buf")?;
        // A chunk at a time: the kernel fills ≈ 0.5 GB/s, and a guest may ask
        // for all of its memory.
        for chunk in dst.chunks_mut(CHUNK) {
            if getrandom::fill(chunk).is_err() {
                return Ok(ERRNO_IO);
            }
            ctx.session.budget().check_deadline().map_err(Fault::exceeded("buf"))?;
        }
        Ok(ERRNO_SUCCESS)
    })
}

/// `args_sizes_get` / `environ_sizes_get`: zero entries, zero bytes.
fn sizes_get<S: State>(mut caller: Ctx<'_, S>, call: &'static str, count: i32, size: i32) -> wasmtime::Result<i32> {
    with_memory(&mut caller, call, |mem, _| {
        write_u32(mem, count as u32, 0, "count")?;
        write_u32(mem, size as u32, 0, "bufSize")?;
        Ok(ERRNO_SUCCESS)
    })
}

/// Answers every subscription at once: clocks fire immediately (a pure
/// extension has nothing to wait for), file descriptors fail with `EBADF`.
fn poll_oneoff<S: State>(
    mut caller: Ctx<'_, S>,
    subs: i32,
    events: i32,
    nsubs: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    const SUBSCRIPTION: u32 = 48;
    const EVENT: u32 = 32;
    with_memory(&mut caller, "poll_oneoff", |mem, _| {
        if !(1..=MAX_SUBSCRIPTIONS).contains(&nsubs) {
            return Ok(ERRNO_INVAL);
        }
        for i in 0..nsubs {
            let at = (subs as u32).wrapping_add((i as u32).wrapping_mul(SUBSCRIPTION));
            let sub = guest_bytes(mem, at, SUBSCRIPTION, "in")?;
            let userdata: [u8; 8] = sub[0..8].try_into().expect("8 bytes");
            let tag = sub[8];
            let error: u16 = if tag == 0 { 0 } else { ERRNO_BADF as u16 };
            let at = (events as u32).wrapping_add((i as u32).wrapping_mul(EVENT));
            let event = guest_bytes_mut(mem, at, EVENT, "out")?;
            event.fill(0);
            event[0..8].copy_from_slice(&userdata);
            event[8..10].copy_from_slice(&error.to_le_bytes());
            event[10] = tag;
        }
        write_u32(mem, nevents as u32, nsubs as u32, "nevents")?;
        Ok(ERRNO_SUCCESS)
    })
}

/// Defines the supported WASI functions on `linker`.
pub(crate) fn define<S: State>(linker: &mut Linker<HostCtx<S>>) -> wasmtime::Result<()> {
    let m = WASI_MODULE;
    linker.func_wrap(m, "fd_write", fd_write::<S>)?;
    linker.func_wrap(m, "proc_exit", |mut caller: Ctx<'_, S>, code: i32| -> wasmtime::Result<()> {
        Err(caller.data_mut().fail("proc_exit", Fault::Exit(code)))
    })?;
    linker.func_wrap(m, "clock_time_get", clock_time_get::<S>)?;
    linker.func_wrap(m, "random_get", random_get::<S>)?;
    linker.func_wrap(m, "args_sizes_get", |c: Ctx<'_, S>, a: i32, b: i32| sizes_get(c, "args_sizes_get", a, b))?;
    linker
        .func_wrap(m, "environ_sizes_get", |c: Ctx<'_, S>, a: i32, b: i32| sizes_get(c, "environ_sizes_get", a, b))?;
    // With zero entries there is nothing to write.
    linker.func_wrap(m, "args_get", |_: Ctx<'_, S>, _: i32, _: i32| ERRNO_SUCCESS)?;
    linker.func_wrap(m, "environ_get", |_: Ctx<'_, S>, _: i32, _: i32| ERRNO_SUCCESS)?;
    linker.func_wrap(m, "sched_yield", |_: Ctx<'_, S>| ERRNO_SUCCESS)?;
    linker.func_wrap(m, "poll_oneoff", poll_oneoff::<S>)?;
    Ok(())
}

/// Defines a denied function with the signature the module imports it with.
pub(crate) fn define_denied<S: State>(
    linker: &mut Linker<HostCtx<S>>,
    name: &str,
    ty: &FuncType,
) -> wasmtime::Result<()> {
    let errno = denied_errno(name);
    linker.func_new(WASI_MODULE, name, ty.clone(), move |_, _, results| {
        results[0] = Val::I32(errno);
        Ok(())
    })?;
    Ok(())
}
