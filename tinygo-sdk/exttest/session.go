package exttest

// One invocation on the mock host: the engine's host functions
// (host/src/session.rs), answered from a JSON state, with the engine's
// handles, checks and type rules, and its error texts rendered from the same
// templates (the contract, from the abi crate, is in contract_gen.go).

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"example.invalid/extwasm/tinygo-sdk/internal/hostapi"
)

// name is the kind's name in messages (a kind, not any top byte).
func (k handleKind) name() string { return handleKindNames[k] }

// article is the name with its indefinite article.
func (k handleKind) article() string { return handleKindArticles[k] }

// lastGeneration is the generation of the latest session; each session has
// a new one, so that a handle kept from an earlier run is stale, as on the
// engine.
var lastGeneration uint32

// scalarKind is the type of a field put on a key builder or an intent.
type scalarKind uint8

const (
	scalarInt32 scalarKind = iota
	scalarInt64
	scalarFloat32
	scalarFloat64
	scalarBool
	scalarString
	scalarBytes
	scalarQName
)

// scalar is a field put on a key builder or an intent.
type scalar struct {
	kind   scalarKind
	i      int64
	f      float64
	b      bool
	s      string // string, or the package of a qualified name
	entity string
	raw    []byte
}

func (s *scalar) isInteger() bool { return s.kind == scalarInt32 || s.kind == scalarInt64 }

func (s *scalar) asFloat() (float64, bool) {
	switch s.kind {
	case scalarInt32, scalarInt64:
		return float64(s.i), true
	case scalarFloat32, scalarFloat64:
		return s.f, true
	}
	return 0, false
}

// display writes the scalar as not-found errors name it (msgKey): numbers
// as Rust writes them, strings quoted, bytes as their count.
func (s *scalar) display(out *strings.Builder) {
	switch s.kind {
	case scalarInt32, scalarInt64:
		out.WriteString(strconv.FormatInt(s.i, 10))
	case scalarFloat32:
		out.WriteString(rustFloat(s.f, 32))
	case scalarFloat64:
		out.WriteString(rustFloat(s.f, 64))
	case scalarBool:
		out.WriteString(strconv.FormatBool(s.b))
	case scalarString:
		out.WriteString(render(msgScalarString, "value", s.s))
	case scalarBytes:
		out.WriteString(render(msgScalarBytes, "len", strconv.Itoa(len(s.raw))))
	case scalarQName:
		out.WriteString(s.s + "." + s.entity)
	}
}

// node is the scalar as the JSON state holds it.
func (s *scalar) node() *node {
	switch s.kind {
	case scalarInt32, scalarInt64:
		return &node{kind: nodeInt, i: s.i}
	case scalarFloat32:
		return &node{kind: nodeFloat, f: float32Decimal(float32(s.f))}
	case scalarFloat64:
		return &node{kind: nodeFloat, f: s.f}
	case scalarBool:
		return &node{kind: nodeBool, b: s.b}
	case scalarString:
		return &node{kind: nodeString, s: s.s}
	case scalarBytes:
		return &node{kind: nodeBytes, raw: s.raw}
	}
	return &node{kind: nodeQName, s: s.s + "." + s.entity, dot: len(s.s)}
}

// rustFloat formats a float as Rust's Display: the shortest decimal that
// reads back, never with an exponent.
func rustFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// rustQuote quotes a string as Rust's Debug does (the JSON state's errors
// do; host-call errors quote plainly, as their templates say).
func rustQuote(s string) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out.WriteByte('\\')
			out.WriteRune(r)
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r == 0:
			out.WriteString(`\0`)
		case r < 0x20 || r == 0x7F:
			fmt.Fprintf(&out, `\u{%x}`, r)
		default:
			out.WriteRune(r)
		}
	}
	out.WriteByte('"')
	return out.String()
}

// row is named scalars in the order their names were first put; putting a
// name again replaces its value in place (the engine's Row).
type row struct {
	fields []rowField
}

type rowField struct {
	name  string
	value scalar
}

func (r *row) put(name string, value scalar) {
	for i := range r.fields {
		if r.fields[i].name == name {
			r.fields[i].value = value
			return
		}
	}
	r.fields = append(r.fields, rowField{name, value})
}

type keyBuilder struct {
	storage, entity string
	fields          row
}

// String is the key as not-found errors name it (msgKey).
func (k *keyBuilder) String() string {
	var fields strings.Builder
	fields.WriteByte('{')
	for i := range k.fields.fields {
		if i > 0 {
			fields.WriteString(", ")
		}
		fields.WriteString(k.fields.fields[i].name + ": ")
		k.fields.fields[i].value.display(&fields)
	}
	fields.WriteByte('}')
	return render(msgKey, "storage", k.storage, "entity", k.entity, "fields", fields.String())
}

// matches reports whether the record has every field of the (partial) key.
func (k *keyBuilder) matches(r *record) bool {
	if r.entity != k.entity {
		return false
	}
	for i := range k.fields.fields {
		want := &k.fields.fields[i]
		have := r.key.field(want.name)
		if have == nil || !have.matches(&want.value) {
			return false
		}
	}
	return true
}

type intentSlot struct {
	key      int
	existing int // index of the value updated, or -1 for an insert
	fields   row
}

// hostFailure is what a failing host call panics with, to leave the
// extension the way a trap leaves a wasm guest; the session keeps the error.
type hostFailure struct{}

// session is the host side of one invocation; it implements hostapi.Host.
type session struct {
	state      *state
	label      string
	generation uint32
	keys       []keyBuilder
	values     []*node
	readKeys   []*node
	intents    []intentSlot
	// failure is the invocation's error: the first failed host call wins, as
	// on the engine, even if the extension recovered from its panic.
	failure *Error
	// arena holds copies of the bytes put (the extension may reuse its slice).
	arena []byte
	// spareFields are buffers for the key copies of ReadValues.
	spareFields [][]rowField
}

func newSession(s *state, label string) *session {
	lastGeneration = (lastGeneration + 1) & generationMask
	if lastGeneration == 0 {
		lastGeneration = 1
	}
	return &session{state: s, label: label, generation: lastGeneration}
}

func (s *session) encode(kind handleKind, index int) uint64 {
	return encodeHandle(kind, s.generation, uint32(index))
}

// fail records the invocation's error (unless one is recorded already):
// template, a msg* constant of the contract, rendered with args (name,
// value, …) and the site; then leaves the extension.
func (s *session) fail(kind ErrorKind, call, argument, template string, args ...string) {
	if s.failure == nil {
		s.failure = hostCallError(kind, s.label, call, argument, template, args...)
	}
	panic(hostFailure{})
}

// hex is a handle as messages write it.
func handleHex(handle uint64) string { return "0x" + strconv.FormatUint(handle, 16) }

// decode is the index of a handle of kind want among length, or a failed
// call naming the argument (the checks of the abi crate's decode_handle, in
// its order).
func (s *session) decode(call, argument string, handle uint64, want handleKind, length int) int {
	reason := ""
	index := uint32(handle)
	switch kind := handleKind(handle >> handleKindShift); {
	case kind < firstHandleKind || kind > lastHandleKind:
		reason = render(msgNotAHandle, "expected", want.article())
	case kind != want:
		reason = render(msgWrongKind, "found", kind.article(), "expected", want.article())
	case uint32(handle>>handleGenerationShift)&generationMask != s.generation:
		reason = render(msgStaleHandle, "kind", want.name())
	case int(index) >= length:
		reason = render(msgForgedHandle, "kind", want.name(), "index", strconv.FormatUint(uint64(index), 10))
	default:
		return int(index)
	}
	s.fail(KindInvalidHandle, call, argument, msgInvalidHandle, "handle", handleHex(handle), "reason", reason)
	return 0
}

// checkUTF8 fails the call when text is not UTF-8, as the engine checks
// every name and string a guest passes.
func (s *session) checkUTF8(call, argument, text string) {
	if utf8.ValidString(text) {
		return
	}
	valid := 0
	for valid < len(text) {
		r, size := utf8.DecodeRuneInString(text[valid:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		valid += size
	}
	s.fail(KindInvalidUTF8, call, argument, msgInvalidUTF8, "valid_up_to", strconv.Itoa(valid))
}

func (s *session) pushValue(n *node) uint64 {
	s.values = append(s.values, n)
	return s.encode(handleValue, len(s.values)-1)
}

// records are the records of a storage, or a failed call when the storage
// fails.
func (s *session) records(call string, key *keyBuilder) []record {
	st := s.state.storage(key.storage)
	switch {
	case st == nil:
		return nil
	case st.failing != nil:
		s.fail(KindState, call, argKeyBuilder, msgState, "message", *st.failing)
	}
	return st.records
}

func (s *session) GetKey(storage, entity string) uint64 {
	s.checkUTF8(callHostGetKey, argStoragePtr, storage)
	s.checkUTF8(callHostGetKey, argEntityPtr, entity)
	s.keys = append(s.keys, keyBuilder{storage: storage, entity: entity})
	return s.encode(handleKeyBuilder, len(s.keys)-1)
}

func (s *session) Query(call string, key uint64, must bool) uint64 {
	k := &s.keys[s.decode(call, argKeyBuilder, key, handleKeyBuilder, len(s.keys))]
	records := s.records(call, k)
	for i := range records {
		if k.matches(&records[i]) {
			return s.pushValue(records[i].value)
		}
	}
	if must {
		s.fail(KindNotFound, call, argKeyBuilder, msgNotFound, "key", k.String())
	}
	return notFound
}

func (s *session) ReadValues(key uint64, each func(key, value uint64)) {
	const call = callHostReadValues
	// A copy: the extension may change the key builder from the callback.
	// Its fields go into a reused buffer (one per nesting level), so that a
	// read allocates nothing once the session has warmed up.
	k := s.keys[s.decode(call, argKeyBuilder, key, handleKeyBuilder, len(s.keys))]
	var fields []rowField
	if n := len(s.spareFields); n > 0 {
		fields, s.spareFields = s.spareFields[n-1], s.spareFields[:n-1]
	}
	k.fields = row{fields: append(fields[:0], k.fields.fields...)}
	defer func() { s.spareFields = append(s.spareFields, k.fields.fields) }()
	records := s.records(call, &k)
	for i := range records {
		if k.matches(&records[i]) {
			s.readKeys = append(s.readKeys, records[i].key)
			keyHandle := s.encode(handleKey, len(s.readKeys)-1)
			each(keyHandle, s.pushValue(records[i].value))
		}
	}
}

func (s *session) NewValue(key uint64) uint64 {
	const call = callHostNewValue
	index := s.decode(call, argKeyBuilder, key, handleKeyBuilder, len(s.keys))
	// As the engine: a failing storage refuses writes too.
	s.records(call, &s.keys[index])
	s.intents = append(s.intents, intentSlot{key: index, existing: -1})
	return s.encode(handleIntent, len(s.intents)-1)
}

func (s *session) UpdateValue(key, existing uint64) uint64 {
	const call = callHostUpdateValue
	index := s.decode(call, argKeyBuilder, key, handleKeyBuilder, len(s.keys))
	value := s.decode(call, argExistingValue, existing, handleValue, len(s.values))
	s.records(call, &s.keys[index]) // the storage of the key, not of the existing value
	s.intents = append(s.intents, intentSlot{key: index, existing: value})
	return s.encode(handleIntent, len(s.intents)-1)
}

func (s *session) Put(call string, id uint64, kind uint32, name string, value hostapi.Scalar) {
	s.checkUTF8(call, argNamePtr, name)
	var put scalar
	switch value.Type {
	case hostapi.Int32:
		put = scalar{kind: scalarInt32, i: value.Int}
	case hostapi.Int64:
		put = scalar{kind: scalarInt64, i: value.Int}
	case hostapi.Float32:
		put = scalar{kind: scalarFloat32, f: value.Float}
	case hostapi.Float64:
		put = scalar{kind: scalarFloat64, f: value.Float}
	case hostapi.Bool:
		put = scalar{kind: scalarBool, b: value.Int != 0}
	case hostapi.String:
		s.checkUTF8(call, argValuePtr, value.String)
		put = scalar{kind: scalarString, s: value.String}
	case hostapi.Bytes:
		// Copied: the extension may reuse its slice after the call.
		start := len(s.arena)
		s.arena = append(s.arena, value.Bytes...)
		put = scalar{kind: scalarBytes, raw: s.arena[start:len(s.arena):len(s.arena)]}
	case hostapi.QName:
		s.checkUTF8(call, argPkgPtr, value.String)
		s.checkUTF8(call, argEntityPtr, value.Entity)
		put = scalar{kind: scalarQName, s: value.String, entity: value.Entity}
	default:
		panic("exttest: no put of type " + typeNames[value.Type])
	}
	switch kind {
	case rowWriterKeyBuilder:
		s.keys[s.decode(call, argId, id, handleKeyBuilder, len(s.keys))].fields.put(name, put)
	case rowWriterIntent:
		s.intents[s.decode(call, argId, id, handleIntent, len(s.intents))].fields.put(name, put)
	default:
		// The ABI's kind is an i32; the engine shows it as the handle
		// sign-extended, and as the number it is.
		wire := int32(kind)
		s.fail(KindInvalidHandle, call, argKind, msgInvalidHandle, "handle", handleHex(uint64(int64(wire))),
			"reason", render(msgBadRowWriterKind, "kind", strconv.Itoa(int(wire))))
	}
}

func (s *session) ValueLength(value uint64) int32 {
	const call = callHostValueLength
	n := s.values[s.decode(call, argValue, value, handleValue, len(s.values))]
	if n.kind != nodeArray {
		s.fail(KindTypeMismatch, call, argValue, msgTypeMismatch,
			"field", msgTheValueItself, "found", msgObjectOrScalar, "expected", msgArray)
	}
	return int32(len(n.items))
}

// readable is the engine's type rule: integers read as any integer width and
// as floats, strings also as bytes, qualified names as their halves.
func readable(n *node, want hostapi.Type) bool {
	switch n.kind {
	case nodeInt:
		return want == hostapi.Int32 || want == hostapi.Int64 || want == hostapi.Float32 || want == hostapi.Float64
	case nodeFloat:
		return want == hostapi.Float32 || want == hostapi.Float64
	case nodeBool:
		return want == hostapi.Bool
	case nodeString:
		return want == hostapi.String || want == hostapi.Bytes
	case nodeBytes:
		return want == hostapi.Bytes
	case nodeQName:
		return want == hostapi.QName || want == hostapi.QNamePkg || want == hostapi.QNameEntity
	}
	return want == hostapi.Value
}

func (s *session) Read(call string, handle uint64, ofKey bool, selector hostapi.Selector, want hostapi.Type) hostapi.Scalar {
	argument := argNamePtr
	if selector.ByIndex {
		argument = argIndex
	} else {
		s.checkUTF8(call, argument, selector.Name)
	}
	var target *node
	if ofKey {
		target = s.readKeys[s.decode(call, argKey, handle, handleKey, len(s.readKeys))]
	} else {
		target = s.values[s.decode(call, argValue, handle, handleValue, len(s.values))]
	}
	var n *node
	if selector.ByIndex {
		n = target.element(selector.Index)
		if n == nil {
			s.fail(KindMissingField, call, argument, msgMissingField,
				"what", render(msgNoElement, "index", strconv.Itoa(int(selector.Index))))
		}
	} else {
		n = target.field(selector.Name)
		if n == nil {
			s.fail(KindMissingField, call, argument, msgMissingField, "what", render(msgNoField, "name", selector.Name))
		}
	}
	mismatch := func(found string) {
		// Named here, not up front: a read that succeeds allocates nothing.
		field := selector.Name
		if selector.ByIndex {
			field = "[" + strconv.Itoa(int(selector.Index)) + "]"
		}
		s.fail(KindTypeMismatch, call, argument, msgTypeMismatch,
			"field", field, "found", found, "expected", typeNames[want])
	}
	if !readable(n, want) {
		mismatch(n.typeName())
	}
	switch want {
	case hostapi.Value:
		if ofKey {
			mismatch(typeNames[hostapi.Value]) // the ABI has no nested reads of keys
		}
		return hostapi.Scalar{Type: want, Int: int64(s.pushValue(n))}
	case hostapi.Int32:
		if n.i < math.MinInt32 || n.i > math.MaxInt32 {
			mismatch(msgInt64OutOfInt32Range)
		}
		return hostapi.Scalar{Type: want, Int: n.i}
	case hostapi.Int64:
		return hostapi.Scalar{Type: want, Int: n.i}
	case hostapi.Float32, hostapi.Float64:
		f := n.f
		if n.kind == nodeInt {
			f = float64(n.i)
		}
		return hostapi.Scalar{Type: want, Float: f}
	case hostapi.Bool:
		if n.b {
			return hostapi.Scalar{Type: want, Int: 1}
		}
		return hostapi.Scalar{Type: want}
	case hostapi.QNamePkg:
		return hostapi.Scalar{Type: want, String: n.s[:n.dot]}
	case hostapi.QNameEntity:
		return hostapi.Scalar{Type: want, String: n.s[n.dot+1:]}
	case hostapi.Bytes:
		if n.kind == nodeString {
			// A view, not a copy, as the exchange buffer is on wasm.
			return hostapi.Scalar{Type: want, Bytes: unsafe.Slice(unsafe.StringData(n.s), len(n.s))}
		}
		return hostapi.Scalar{Type: want, Bytes: n.raw}
	}
	return hostapi.Scalar{Type: want, String: n.s}
}

// result is the invocation's intents, as the engine hands them over.
func (s *session) result() []Intent {
	intents := make([]Intent, len(s.intents))
	for i, slot := range s.intents {
		k := &s.keys[slot.key]
		key := &node{kind: nodeObject}
		for _, f := range k.fields.fields {
			key.fields = append(key.fields, field{f.name, f.value.node()})
		}
		op, value := "insert", &node{kind: nodeObject}
		if slot.existing >= 0 {
			op = "update"
			if existing := s.values[slot.existing]; existing.kind == nodeObject {
				value.fields = append(value.fields, existing.fields...)
			}
		}
		for _, f := range slot.fields.fields {
			value.fields = setField(value.fields, f.name, f.value.node())
		}
		intents[i] = newIntent(op, k.storage, k.entity, key, value)
	}
	return intents
}

func setField(fields []field, name string, value *node) []field {
	for i := range fields {
		if fields[i].name == name {
			fields[i].value = value
			return fields
		}
	}
	return append(fields, field{name, value})
}
