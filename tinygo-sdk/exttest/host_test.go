package exttest_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"example.invalid/extwasm/tinygo-sdk/ext"
	"example.invalid/extwasm/tinygo-sdk/exttest"
)

func host(t testing.TB, state string) *exttest.Host {
	t.Helper()
	h, err := exttest.FromJSON(state)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// failure runs extension and returns its *exttest.Error.
func failure(t *testing.T, state string, extension func()) *exttest.Error {
	t.Helper()
	_, err := host(t, state).Run(extension)
	var e *exttest.Error
	if !errors.As(err, &e) {
		t.Fatalf("expected an *exttest.Error, got %v", err)
	}
	return e
}

func event() ext.TValue { return ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity)) }

// The errors read as the engine's, word for word: both render the abi
// crate's templates (the conformance table checks the same texts on every
// host). Names and strings are quoted as they are, unescaped.
func TestErrorsReadAsTheEngines(t *testing.T) {
	const typed = `{"sys.Event": [{"value": {"n": 5, "big": 3000000000, "s": "x", "f": 1.5, "q": {"$qname": "a.b.C"}, "list": [1]}}]}`
	for _, c := range []struct {
		name, state string
		extension   func()
		kind        exttest.ErrorKind
		text        string
	}{
		{"not found", `{}`, func() {
			ext.MustGetValue(ext.KeyBuilder(ext.StorageView, "pkg.V").PutInt32("pk", 1).PutString("s", "x\"y").
				PutFloat64("f", 1e21).PutFloat32("g", 0.1).PutBytes("b", []byte{1, 2}).PutQName("q", ext.QName{Pkg: "a.b", Entity: "C"}).
				PutBool("t", true))
		}, exttest.KindNotFound, `extension mock/TestErrorsReadAsTheEngines: hostGetValue(keyBuilder): no value for storage "sys.View", ` +
			`entity "pkg.V", key {pk: 1, s: "x"y", f: 1000000000000000000000, g: 0.1, b: <2 bytes>, q: a.b.C, t: true}`},
		{"state", `{"sys.Event": {"$error": "disk unavailable"}}`, func() { event() }, exttest.KindState,
			`extension mock/TestErrorsReadAsTheEngines: hostGetValue(keyBuilder): state error: disk unavailable`},
		{"new value", `{"sys.SendMail": {"$error": "test i/o error"}}`, func() {
			ext.NewValue(ext.KeyBuilder(ext.StorageSendMail, ext.NullEntity))
		}, exttest.KindState, `extension mock/TestErrorsReadAsTheEngines: hostNewValue(keyBuilder): state error: test i/o error`},
		// The key's storage decides, not the existing value's.
		{"update value", `{"sys.Event": [{"value": {"n": 5}}], "sys.View": {"$error": "test i/o error"}}`, func() {
			ext.UpdateValue(ext.KeyBuilder(ext.StorageView, "pkg.V"), event())
		}, exttest.KindState, `extension mock/TestErrorsReadAsTheEngines: hostUpdateValue(keyBuilder): state error: test i/o error`},
		{"type", typed, func() { event().AsString("n") }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsString(namePtr): field "n" is int64, read as string`},
		{"range", typed, func() { event().AsInt32("big") }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsInt32(namePtr): field "big" is int64 out of int32 range, read as int32`},
		{"float as int", typed, func() { event().AsInt64("f") }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsInt64(namePtr): field "f" is float64, read as int64`},
		{"qname as string", typed, func() { event().AsString("q") }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsString(namePtr): field "q" is qname, read as string`},
		{"scalar as value", typed, func() { event().AsValue("s") }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsValue(namePtr): field "s" is string, read as value`},
		{"element type", typed, func() { event().AsValue("list").GetAsString(0) }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueGetAsString(index): field "[0]" is int64, read as string`},
		{"not an array", typed, func() { event().Len() }, exttest.KindTypeMismatch,
			`extension mock/TestErrorsReadAsTheEngines: hostValueLength(value): field "(the value itself)" is object or scalar, read as array`},
		{"missing", typed, func() { event().AsBool("nope") }, exttest.KindMissingField,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsBool(namePtr): no field "nope"`},
		{"element", typed, func() { event().AsValue("list").GetAsInt64(3) }, exttest.KindMissingField,
			`extension mock/TestErrorsReadAsTheEngines: hostValueGetAsInt64(index): no element 3: out of range or not an array`},
		{"utf-8", `{}`, func() { ext.KeyBuilder("sys.\xff", "") }, exttest.KindInvalidUTF8,
			`extension mock/TestErrorsReadAsTheEngines: hostGetKey(storagePtr): argument is not valid UTF-8 (valid up to byte 4)`},
		{"wrong kind", typed, func() { ext.TValue(ext.KeyBuilder(ext.StorageEvent, "")).AsInt32("n") }, exttest.KindInvalidHandle,
			"a key builder handle where a value was expected"},
		{"forged", typed, func() { event(); ext.TValue(uint64(event()) + 5).AsInt32("n") }, exttest.KindInvalidHandle,
			"forged value handle: this invocation has no value #6"},
		{"no handle", typed, func() { ext.TValue(0).AsInt32("n") }, exttest.KindInvalidHandle,
			"extension mock/TestErrorsReadAsTheEngines: hostValueAsInt32(value): invalid handle 0x0: not a handle the host handed out (expected a value)"},
		{"quoted as is", typed, func() { event().AsInt32(`say "hi"`) }, exttest.KindMissingField,
			`extension mock/TestErrorsReadAsTheEngines: hostValueAsInt32(namePtr): no field "say "hi""`},
		{"panic", `{}`, func() { panic("negative order amount") }, exttest.KindGuestPanic,
			"extension mock/TestErrorsReadAsTheEngines panicked: negative order amount"},
		{"error panic", `{}`, func() { panic(errors.New("bad\nsecond line")) }, exttest.KindGuestPanic,
			"extension mock/TestErrorsReadAsTheEngines panicked: bad"},
		{"runtime error", `{}`, func() { var list []int; _ = list[len(os.Args)+2] }, exttest.KindGuestPanic,
			fmt.Sprintf("extension mock/TestErrorsReadAsTheEngines panicked: runtime error: index out of range [%d] with length 0", len(os.Args)+2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := failure(t, c.state, c.extension)
			if e.Kind != c.kind || !strings.Contains(e.Error(), c.text) {
				t.Fatalf("got %s: %s\nwant %s: …%s…", e.Kind, e.Error(), c.kind, c.text)
			}
		})
	}
}

func TestAHandleFromAnEarlierRunIsStale(t *testing.T) {
	h := host(t, `{"sys.Event": [{"value": {"n": 1}}]}`)
	var kept ext.TValue
	if _, err := h.Run(func() { kept = event() }); err != nil {
		t.Fatal(err)
	}
	_, err := h.Run(func() { kept.AsInt32("n") })
	if err == nil || !strings.HasSuffix(err.Error(), "hostValueAsInt32(value): invalid handle "+
		fmt.Sprintf("%#x", uint64(kept))+": stale value handle from an earlier invocation") {
		t.Fatalf("got %v", err)
	}
}

// On wasm a failed host call traps: no recover sees it. The mock fails the
// run all the same.
func TestRecoveringFromAFailedHostCallStillFails(t *testing.T) {
	e := failure(t, `{}`, func() {
		defer func() { _ = recover() }()
		event()
	})
	if e.Kind != exttest.KindNotFound || e.HostCall != "hostGetValue" || e.Argument != "keyBuilder" {
		t.Fatalf("got %#v", e)
	}
}

func TestIntentsApplyAndRender(t *testing.T) {
	h := host(t, `{"sys.View": [{"entity": "V", "key": {"pk": 1}, "value": {"a": 1, "nested": {"x": [1, 2.5]}}}]}`)
	intents, err := h.RunAndApply(func() {
		key := ext.KeyBuilder(ext.StorageView, "V").PutInt32("pk", 1)
		existing := ext.MustGetValue(key)
		ext.UpdateValue(key, existing).PutFloat32("f", 0.1).PutFloat64("d", 2).PutBytes("b", []byte("hi")).
			PutQName("q", ext.QName{Pkg: "github.com/x/y", Entity: "Z"}).PutString("s", "\"quoted\"\n<tag>")
		ext.NewValue(ext.KeyBuilder(ext.StorageSendMail, ext.NullEntity)).PutBool("sent", true)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"op":"update","storage":"sys.View","entity":"V","key":{"pk":1},"value":{"a":1,"nested":{"x":[1,2.5]},` +
			`"f":0.1,"d":2.0,"b":{"$bytes":"aGk="},"q":{"$qname":"github.com/x/y.Z"},"s":"\"quoted\"\n<tag>"}}`,
		`{"op":"insert","storage":"sys.SendMail","entity":"","key":{},"value":{"sent":true}}`,
	}
	for i := range want {
		if intents[i].JSON() != want[i] {
			t.Fatalf("intent %d: %s\nwant %s", i, intents[i].JSON(), want[i])
		}
	}
	if intents[0].Value["f"] != 0.1 || intents[0].Key["pk"] != int64(1) {
		t.Fatalf("%#v", intents[0])
	}
	state := h.JSON()
	if !strings.Contains(state, `"sys.SendMail":[{"value":{"sent":true}}]`) || !strings.Contains(state, `"d":2.0`) {
		t.Fatal(state)
	}
	again, err := exttest.FromJSON(state)
	if err != nil || again.JSON() != state {
		t.Fatalf("%v\n%s\n%s", err, state, again.JSON())
	}
	if err := h.Apply([]exttest.Intent{{Op: "update", Storage: "sys.View", Entity: "W", Key: map[string]any{"pk": 2}}}); err == nil ||
		err.Error() != `invalid state: update of a record that is not in sys.View: entity "W", key {"pk":2}` {
		t.Fatalf("got %v", err)
	}
}

// NaN and the infinities are {"$float": …} in intents and in the state, as
// on the engine, and survive Apply and a re-read: no number becomes null.
func TestNonFiniteFloatsSurviveJSON(t *testing.T) {
	h := host(t, `{"sys.View": [{"key": {"k": {"$float": "NaN"}}, "value": {"was": {"$float": "-Infinity"}}}]}`)
	intents, err := h.RunAndApply(func() {
		key := ext.KeyBuilder(ext.StorageView, "").PutFloat64("k", math.NaN())
		existing := ext.MustGetValue(key)
		if v := existing.AsFloat64("was"); !math.IsInf(v, -1) {
			panic(fmt.Sprint("read ", v))
		}
		ext.UpdateValue(key, existing).PutFloat64("nan64", math.NaN()).PutFloat64("inf64", math.Inf(1)).
			PutFloat64("ninf64", math.Inf(-1)).PutFloat32("nan32", float32(math.NaN())).
			PutFloat32("inf32", float32(math.Inf(1))).PutFloat32("ninf32", float32(math.Inf(-1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	const nan, inf, ninf = `{"$float":"NaN"}`, `{"$float":"Infinity"}`, `{"$float":"-Infinity"}`
	want := `{"op":"update","storage":"sys.View","entity":"","key":{"k":` + nan + `},"value":{"was":` + ninf +
		`,"nan64":` + nan + `,"inf64":` + inf + `,"ninf64":` + ninf + `,"nan32":` + nan + `,"inf32":` + inf + `,"ninf32":` + ninf + `}}`
	if intents[0].JSON() != want {
		t.Fatalf("%s\nwant %s", intents[0].JSON(), want)
	}
	if v, ok := intents[0].Value["nan32"].(float64); !ok || !math.IsNaN(v) {
		t.Fatalf("%#v", intents[0].Value)
	}
	state := h.JSON()
	if want := `{"sys.View":[{"key":{"k":` + nan + `},"value":` + want[strings.Index(want, `"value":`)+8:len(want)-1] + `}]}`; state != want {
		t.Fatalf("the update was not applied to the record with the NaN key:\n%s\nwant %s", state, want)
	}
	again, err := exttest.FromJSON(state)
	if err != nil || again.JSON() != state {
		t.Fatalf("%v\n%s\n%s", err, state, again.JSON())
	}
}

func TestInvalidStatesSayWhere(t *testing.T) {
	for text, needle := range map[string]string{
		`[]`:                                   "top level",
		`{"s": 5}`:                             "s: a storage",
		`{"s": [{"key": {"k": {"a": 1}}}]}`:    "s[0].key.k",
		`{"s": [{"value": {"$bytes": "!!"}}]}`: "s[0].value",
		`{"s": [{"value": {"$qname": "noDot"}}]}`:      "noDot",
		`{"s": [{"entity": 3}]}`:                       "s[0].entity",
		`{"s": [] `:                                    "not JSON",
		`{"s": [{"value": {"f": {"$float": "nan"}}}]}`: `s[0].value.f: $float "nan" is not one of "NaN", "Infinity", "-Infinity"`,
		`{"s": [{"value": {"$float": 1.5}}]}`:          "s[0].value: $float takes a string",
		" \n":                                          "invalid state: empty (a state with no storages is {})",
	} {
		if _, err := exttest.FromJSON(text); err == nil || !strings.Contains(err.Error(), needle) {
			t.Errorf("%s: %v (lacks %q)", text, err, needle)
		}
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"s": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exttest.FromFile(path); err == nil || !strings.HasPrefix(err.Error(), "invalid state: "+path+": s: a storage") {
		t.Fatalf("got %v", err)
	}
}

func TestErrorsNameTheExtension(t *testing.T) {
	named := func() { panic("x") }
	if e := failure(t, `{}`, named); e.Extension != "mock/TestErrorsNameTheExtension" {
		t.Fatalf("a closure is named after its function: %s", e.Extension)
	}
	if e := failure(t, `{}`, failingExtension); e.Extension != "mock/failingExtension" {
		t.Fatalf("got %s", e.Extension)
	}
	_, err := host(t, `{}`).RunExtension("NewOrder", failingExtension)
	if err == nil || err.Error() != "extension mock/NewOrder panicked: fails" {
		t.Fatalf("got %v", err)
	}
}

func failingExtension() { panic(fmt.Errorf("fails")) }

// Runs are serialized: parallel tests may share the package-level API.
func TestParallelRuns(t *testing.T) {
	h := host(t, `{"sys.Event": [{"value": {"n": 7}}]}`)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int32
			_, err := h.Run(func() {
				ext.ReadValues(ext.KeyBuilder(ext.StorageEvent, ""), func(_ ext.TKey, v ext.TValue) { n += v.AsInt32("n") })
			})
			if err == nil && n != 7 {
				err = fmt.Errorf("read %d", n)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
