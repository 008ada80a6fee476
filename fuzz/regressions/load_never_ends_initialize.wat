;; extwasm-fuzz generator=hand expect-load=any ok=yes rounds=1
;; The _initialize twin of load_never_ends_start.wat (the fuzzer generates both; the start function
;; hung first). _initialize loops for ever: loading must fail with load_timeout, not hang.
(module
  (import "env" "hostGetKey" (func $hostGetKey (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $hostNewValue (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $hostRowWriterPutInt32 (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "sys.Okok")
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "ok")
    (call $hostRowWriterPutInt32 (call $hostNewValue (call $hostGetKey (i32.const 16) (i32.const 6) (i32.const 0) (i32.const 0)))
      (i32.const 1) (i32.const 22) (i32.const 2) (i32.const 1))))
