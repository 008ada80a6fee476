//! The example modules on bare wasmtime: their signatures against the ABI
//! tables, and their exports called directly. Shared by the Rust and Go
//! examples' `tests/modules.rs` (included with `#[path]`: each example crate
//! defines its own `Module`).

use extwasm_abi::ValType;
use wasmtime::{Engine, FuncType, Instance, Store};

fn val_type(t: ValType) -> wasmtime::ValType {
    match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
    }
}

/// Whether `ty` has exactly these parameters and results.
pub fn same_signature(ty: &FuncType, params: &[ValType], results: &[ValType]) -> bool {
    let eq = |a: Vec<wasmtime::ValType>, b: &[ValType]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| wasmtime::ValType::eq(x, &val_type(*y)))
    };
    eq(ty.params().collect(), params) && eq(ty.results().collect(), results)
}

/// Compiles module `name`, panicking with the name on failure.
pub fn compile(engine: &Engine, name: &str, wasm: &[u8]) -> wasmtime::Module {
    wasmtime::Module::new(engine, wasm).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// An instance of an example module and its store; each test file adds the
/// constructor its guest language needs.
pub struct Guest<T: 'static> {
    pub store: Store<T>,
    pub instance: Instance,
}

impl<T: 'static> Guest<T> {
    /// Calls export `name`.
    pub fn call<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> wasmtime::Result<R> {
        let func = self.instance.get_typed_func::<P, R>(&mut self.store, name)?;
        func.call(&mut self.store, params)
    }

    /// The value of a memory-statistics export (`WasmGetMallocs`, ...).
    pub fn stat(&mut self, name: &str) -> i64 {
        self.call::<(), i64>(name, ()).unwrap()
    }
}
