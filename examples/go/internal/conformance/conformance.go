// Package conformance runs the cross-language conformance table
// (examples/conformance/scenarios.json) on the Go SDK's mock host: the
// table's go-native column. engine/tests/all/conformance.rs runs the other
// columns (TinyGo, Rust, Go on the engine); every column must give the
// expected result of every scenario it runs.
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"example.invalid/extwasm/tinygo-sdk/exttest"
)

// column is the table's name for this runner's kind of build.
const column = "go-native"

type table struct {
	Columns   map[string]struct{ Kind string }
	Scenarios []scenario
}

type scenario struct {
	Name      string
	Module    string
	State     json.RawMessage
	Strings   map[string][2]json.RawMessage
	Native    *bool
	Extension string
	Expect    json.RawMessage
	Steps     []step
}

type step struct {
	Extension        string
	Expect           json.RawMessage
	Apply            bool
	RepeatUntilError int `json:"repeat_until_error"`
}

type expectation struct {
	Intents []any
	Error   *struct {
		Kind    string
		Message *string
	}
}

// root is the project root: the first directory up with Cargo.lock.
func root(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Cargo.lock")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no Cargo.lock above the test's directory: run the tests inside the project")
		}
		dir = parent
	}
}

// Run runs every scenario of module whose extensions are all in extensions
// (export name -> function) on the mock host, as subtests.
func Run(t *testing.T, module string, extensions map[string]func()) {
	base := root(t)
	text, err := os.ReadFile(filepath.Join(base, "examples/conformance/scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tbl table
	if err := json.Unmarshal(text, &tbl); err != nil {
		t.Fatalf("examples/conformance/scenarios.json: %v", err)
	}
	if tbl.Columns[column].Kind != column {
		t.Fatalf("the table has no %s column", column)
	}
	ran := 0
	for _, s := range tbl.Scenarios {
		if s.Module != module || (s.Native != nil && !*s.Native) {
			continue
		}
		steps := s.Steps
		if len(steps) == 0 {
			steps = []step{{Extension: s.Extension, Expect: s.Expect}}
		}
		if !all(steps, extensions) {
			continue
		}
		ran++
		t.Run(s.Name, func(t *testing.T) { runScenario(t, base, s, steps, extensions) })
	}
	if ran == 0 {
		t.Fatalf("no scenario of module %s ran", module)
	}
}

func all(steps []step, extensions map[string]func()) bool {
	for _, st := range steps {
		if extensions[st.Extension] == nil {
			return false
		}
	}
	return true
}

func runScenario(t *testing.T, base string, s scenario, steps []step, extensions map[string]func()) {
	state := []byte(s.State)
	var path string
	if json.Unmarshal(s.State, &path) == nil {
		var err error
		if state, err = os.ReadFile(filepath.Join(base, path)); err != nil {
			t.Fatal(err)
		}
	}
	for placeholder, spec := range s.Strings {
		var text string
		var times int
		if json.Unmarshal(spec[0], &text) != nil || json.Unmarshal(spec[1], &times) != nil {
			t.Fatalf("strings[%q] is not [text, times]", placeholder)
		}
		state = bytes.ReplaceAll(state, []byte(strconv.Quote(placeholder)), []byte(strconv.Quote(strings.Repeat(text, times))))
	}
	host, err := exttest.FromJSON(string(state))
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		var want expectation
		decoder := json.NewDecoder(bytes.NewReader(st.Expect))
		decoder.UseNumber()
		if err := decoder.Decode(&want); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var intents []exttest.Intent
		for range max(st.RepeatUntilError, 1) {
			if intents, err = host.RunExtension(st.Extension, extensions[st.Extension]); err != nil {
				break
			}
		}
		if why := mismatch(st.Extension, want, intents, err); why != "" {
			t.Errorf("step %d (%s): %s", i, st.Extension, why)
			return
		}
		if st.Apply {
			if err := host.Apply(intents); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// mismatch says how the outcome differs from what is expected, or "".
func mismatch(extension string, want expectation, intents []exttest.Intent, err error) string {
	if want.Error != nil {
		var failure *exttest.Error
		if !errors.As(err, &failure) {
			return "expected a " + want.Error.Kind + " error, got " + describe(intents, err)
		}
		text := strings.ReplaceAll(failure.Error(), "mock/"+extension, "<ext>")
		switch {
		case string(failure.Kind) != want.Error.Kind:
			return "expected a " + want.Error.Kind + " error, got " + string(failure.Kind) + ": " + text
		case want.Error.Message != nil && !textsMatch(text, *want.Error.Message):
			return "error " + strconv.Quote(text) + "\n      expected " + strconv.Quote(*want.Error.Message)
		}
		return ""
	}
	if err != nil {
		return "failed: " + err.Error()
	}
	got := make([]any, len(intents))
	for i, intent := range intents {
		decoder := json.NewDecoder(strings.NewReader(intent.JSON()))
		decoder.UseNumber()
		if err := decoder.Decode(&got[i]); err != nil {
			return "intent " + intent.JSON() + ": " + err.Error()
		}
	}
	if !equal(got, want.Intents) {
		wanted, _ := json.Marshal(want.Intents)
		return "intents " + describe(intents, nil) + "\n      expected " + string(wanted)
	}
	return ""
}

// textsMatch reports whether an error's text is the table's want, where each
// <handle> stands for a handle in hex (0x…): a handle carries its
// invocation's generation, which each host counts its own way. Everything
// else is compared exactly.
func textsMatch(text, want string) bool {
	parts := strings.Split(want, "<handle>")
	rest, ok := strings.CutPrefix(text, parts[0])
	if !ok {
		return false
	}
	for _, part := range parts[1:] {
		hex, ok := strings.CutPrefix(rest, "0x")
		digits := len(hex) - len(strings.TrimLeft(hex, "0123456789abcdef"))
		if !ok || digits == 0 {
			return false
		}
		if rest, ok = strings.CutPrefix(hex[digits:], part); !ok {
			return false
		}
	}
	return rest == ""
}

func describe(intents []exttest.Intent, err error) string {
	if err != nil {
		return err.Error()
	}
	texts := make([]string, len(intents))
	for i, intent := range intents {
		texts[i] = intent.JSON()
	}
	return "[" + strings.Join(texts, ",") + "]"
}

// equal compares JSON as serde_json does: numbers are typed (2 is not 2.0).
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok || isFloat(a) != isFloat(b) {
			return false
		}
		if isFloat(a) {
			x, errX := strconv.ParseFloat(string(a), 64)
			y, errY := strconv.ParseFloat(string(b), 64)
			return errX == nil && errY == nil && x == y
		}
		return a == b
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if other, ok := b[k]; !ok || !equal(v, other) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func isFloat(n json.Number) bool { return strings.ContainsAny(string(n), ".eE") }
