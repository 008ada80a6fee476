//! The engine's integration tests, in one test binary as wasmtime keeps
//! its own: every test binary links wasmtime, and on a small machine each
//! link is a long wait. A module per topic; they share `common`.
//!
//! Tests that measure the whole process stay binaries of their own beside
//! this one, because the tests here run in parallel threads of one process:
//! `no_creep.rs` (resident memory), `threads.rs` (the engine's threads) and
//! `huge_pages.rs` (the process's huge pages). Another test running beside
//! them would make them fail (threads, resident memory) or pass without
//! proving anything (huge pages made by another test).

#[path = "../common/mod.rs"]
mod common;

mod boundary;
mod cache;
mod go_examples;
mod hostile;
mod limits;
mod load;
mod restore;
mod rust_examples;
mod tinygo;
mod tools;
