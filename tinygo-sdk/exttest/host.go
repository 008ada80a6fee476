// Package exttest runs extensions natively, with plain go test: a mock host
// answers their host calls from a state in the engine's JSON state format
// (state/src/json.rs), the way the engine answers them — same lookups,
// same type rules, same errors, word for word.
//
//	func TestIncrement(t *testing.T) {
//		host, err := exttest.FromJSON(`{"sys.View": []}`)
//		if err != nil {
//			t.Fatal(err)
//		}
//		intents, err := host.RunAndApply(incrementProjector)
//		// intents[0].Op == "insert", intents[0].Value["vv"] == int64(1)
//		intents, err = host.RunAndApply(incrementProjector)
//		// intents[0].Op == "update", intents[0].Value["vv"] == int64(2)
//	}
//
// A state is a JSON object of storages; a storage is an array of records
// ({"entity": "mypkg.TestView", "key": {"pk": 1}, "value": {…}}, entity and
// key optional) or {"$error": "message"}, which fails every host call on it
// (reads, and NewValue and UpdateValue at a key in it). Scalars are JSON
// numbers, strings and booleans, {"$bytes": "<base64>"},
// {"$qname": "<package path>.<Entity>"} and {"$float": "NaN" | "Infinity" |
// "-Infinity"} (the floats JSON numbers cannot hold, which intents and
// Host.JSON write so too). The whole format: docs/STATE-FORMAT.md.
//
// Runs are serialized (the extension API is package-level, as on wasm), so
// parallel tests may use it; an extension must not call Run itself.
package exttest

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"

	"example.invalid/extwasm/tinygo-sdk/internal/hostapi"
)

// Host is a mock host over a JSON state.
type Host struct {
	state *state
}

// FromJSON is a mock host over a state in the JSON state format.
func FromJSON(text string) (*Host, error) {
	s, err := parseState([]byte(text))
	if err != nil {
		return nil, err
	}
	return &Host{state: s}, nil
}

// FromFile is a mock host over a state file.
func FromFile(path string) (*Host, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invalid state: cannot read %s: %w", path, err)
	}
	s, err := parseState(text)
	if err != nil {
		return nil, fmt.Errorf("invalid state: %s: %s", path, strings.TrimPrefix(err.Error(), "invalid state: "))
	}
	return &Host{state: s}, nil
}

// runs serializes invocations: one extension runs at a time.
var runs sync.Mutex

// Run runs one invocation of extension and returns its intents, in the
// order it made them, or the error that failed it. The state is not
// changed. Errors name the extension mock/<function name>.
func (h *Host) Run(extension func()) ([]Intent, error) {
	return h.RunExtension(functionName(extension), extension)
}

// RunExtension is Run with the extension's name given (errors say
// mock/<name>).
func (h *Host) RunExtension(name string, extension func()) ([]Intent, error) {
	runs.Lock()
	defer runs.Unlock()
	s := newSession(h.state, "mock/"+name)
	uninstall := hostapi.Install(s)
	defer uninstall()
	if err := s.invoke(extension); err != nil {
		return nil, err
	}
	return s.result(), nil
}

// invoke runs the extension; a failed host call or a panic is the error.
func (s *session) invoke(extension func()) (err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			if s.failure != nil {
				err = s.failure
			} else {
				err = &Error{Kind: KindGuestPanic, Extension: s.label, Message: panicMessage(recovered)}
			}
		}
	}()
	extension()
	if s.failure != nil {
		// The extension recovered from a failed host call; on wasm the call
		// would have trapped.
		return s.failure
	}
	return nil
}

// RunAndApply is Run, then Apply of the intents (as the platform would
// before the next invocation).
func (h *Host) RunAndApply(extension func()) ([]Intent, error) {
	intents, err := h.Run(extension)
	if err != nil {
		return nil, err
	}
	return intents, h.Apply(intents)
}

// Apply applies intents to the state: an insert appends a record, an update
// replaces the value of the first record whose storage, entity and key equal
// the intent's.
func (h *Host) Apply(intents []Intent) error {
	next := h.state.clone()
	for _, intent := range intents {
		if err := next.apply(intent); err != nil {
			return err
		}
	}
	h.state = next
	return nil
}

func (s *state) apply(intent Intent) error {
	key, value, err := intent.nodes()
	if err != nil {
		return invalid("intent: %v", err)
	}
	st := s.storage(intent.Storage)
	if st == nil {
		st = &storage{name: intent.Storage}
		s.storages = append(s.storages, st)
	}
	if st.failing != nil {
		return invalid("%s: %s", intent.Storage, *st.failing)
	}
	switch intent.Op {
	case "insert":
		st.records = append(st.records, record{entity: intent.Entity, key: key, value: value})
	case "update":
		for i := range st.records {
			r := &st.records[i]
			if r.entity == intent.Entity && sameFields(r.key, key) {
				r.value = value
				return nil
			}
		}
		var rendered strings.Builder
		key.writeJSON(&rendered)
		return invalid("update of a record that is not in %s: entity %s, key %s",
			intent.Storage, rustQuote(intent.Entity), rendered.String())
	default:
		return invalid("unknown intent op %s", rustQuote(intent.Op))
	}
	return nil
}

// sameFields reports whether two keys have the same fields, in any order.
func sameFields(a, b *node) bool {
	if len(a.fields) != len(b.fields) {
		return false
	}
	for _, f := range b.fields {
		other := a.field(f.name)
		if other == nil || !equalNodes(other, f.value) {
			return false
		}
	}
	return true
}

// equalNodes is the engine's equality of key fields: an integer never equals
// a float, and a NaN equals a NaN.
func equalNodes(a, b *node) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case nodeBool:
		return a.b == b.b
	case nodeInt:
		return a.i == b.i
	case nodeFloat:
		return sameFloat(a.f, b.f)
	case nodeString, nodeQName:
		return a.s == b.s
	case nodeBytes:
		return string(a.raw) == string(b.raw)
	case nodeObject:
		return len(a.fields) == len(b.fields) && sameFields(a, b)
	case nodeArray:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !equalNodes(a.items[i], b.items[i]) {
				return false
			}
		}
	}
	return true
}

// JSON is the state in the file format.
func (h *Host) JSON() string {
	var out strings.Builder
	out.WriteByte('{')
	for i, st := range h.state.storages {
		if i > 0 {
			out.WriteByte(',')
		}
		writeString(&out, st.name)
		out.WriteByte(':')
		if st.failing != nil {
			out.WriteString(`{"$error":` + quoted(*st.failing) + `}`)
			continue
		}
		out.WriteByte('[')
		for j, r := range st.records {
			if j > 0 {
				out.WriteByte(',')
			}
			out.WriteByte('{')
			if r.entity != "" {
				out.WriteString(`"entity":` + quoted(r.entity) + `,`)
			}
			if len(r.key.fields) > 0 {
				out.WriteString(`"key":`)
				r.key.writeJSON(&out)
				out.WriteByte(',')
			}
			out.WriteString(`"value":`)
			r.value.writeJSON(&out)
			out.WriteByte('}')
		}
		out.WriteByte(']')
	}
	out.WriteByte('}')
	return out.String()
}

// functionName is the name errors give an extension: the function's, or for
// a closure the function it is in.
func functionName(extension func()) string {
	function := runtime.FuncForPC(reflect.ValueOf(extension).Pointer())
	if function == nil {
		return "extension"
	}
	full := function.Name()
	if slash := strings.LastIndexByte(full, '/'); slash >= 0 {
		full = full[slash+1:]
	}
	parts := strings.Split(strings.TrimSuffix(full, "-fm"), ".")
	for i := len(parts) - 1; i > 0; i-- {
		if !isClosureName(parts[i]) {
			return strings.Trim(parts[i], "(*)")
		}
	}
	return "extension"
}

// isClosureName reports whether a name segment is one Go gives closures
// (func1, func2.3, gowrap1).
func isClosureName(segment string) bool {
	for _, prefix := range []string{"func", "gowrap"} {
		if rest, ok := strings.CutPrefix(segment, prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return segment != "" && strings.Trim(segment, "0123456789") == ""
}
