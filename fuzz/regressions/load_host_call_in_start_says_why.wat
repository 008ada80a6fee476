;; extwasm-fuzz generator=hand expect-load=any ok=yes rounds=1
;; Found by extwasm-fuzz (seed 1 case 23, untyped-error/load-internal-message: a wasm-smith module whose
;; start function calls hostGetKey), written small by hand. The start function runs before any
;; invocation, so the call fails and so does loading: with an error that says which call and why
;; (it is outside an invocation), not the engine's "extwasm: host call hostGetKey failed".
(module
  (import "env" "hostGetKey" (func $hostGetKey (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $hostNewValue (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $hostRowWriterPutInt32 (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "sys.Okok")
  (func $init (drop (call $hostGetKey (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0))))
  (start $init)
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "ok")
    (call $hostRowWriterPutInt32 (call $hostNewValue (call $hostGetKey (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0)))
      (i32.const 1) (i32.const 22) (i32.const 2) (i32.const 1))))
