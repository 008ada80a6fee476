package exttest

// The engine's reference JSON state (state/src/json.rs), in Go: the
// same file format, the same lookups, the same rendering of intents.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"example.invalid/extwasm/tinygo-sdk/ext"
	"example.invalid/extwasm/tinygo-sdk/internal/hostapi"
)

// nodeKind is what a node of a JSON value holds.
type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeBool
	nodeInt
	nodeFloat
	nodeString
	nodeBytes
	nodeQName
	nodeObject
	nodeArray
)

// node is a JSON value of the state: a scalar, or an object (fields in file
// order) or array. Nodes are never changed once parsed, so handing one to an
// extension is handing a pointer.
type node struct {
	kind   nodeKind
	b      bool
	i      int64
	f      float64
	s      string // string, or the full qualified name
	dot    int    // qualified names: where the entity starts, minus one
	raw    []byte // bytes
	fields []field
	items  []*node
}

type field struct {
	name  string
	value *node
}

type record struct {
	entity string
	key    *node // an object of scalars
	value  *node
}

type storage struct {
	name    string
	records []record
	failing *string // a storage given as {"$error": message}
}

// state is a JSON state: storages in file order.
type state struct {
	storages []*storage
}

func (s *state) storage(name string) *storage {
	for _, st := range s.storages {
		if st.name == name {
			return st
		}
	}
	return nil
}

func (s *state) clone() *state {
	out := &state{storages: make([]*storage, len(s.storages))}
	for i, st := range s.storages {
		copied := *st
		copied.records = append([]record(nil), st.records...)
		out.storages[i] = &copied
	}
	return out
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("invalid state: "+format, args...)
}

// parseState reads a state in the engine's JSON state format.
func parseState(text []byte) (*state, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		// Said plainly, as the engine does: an empty file is more often a
		// truncated one than a state meant to be empty.
		return nil, invalid("empty (a state with no storages is {})")
	}
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber()
	root, err := parseJSON(decoder)
	if err == nil {
		if _, extra := decoder.Token(); extra != io.EOF {
			err = fmt.Errorf("trailing data after the top-level value")
		}
	}
	if err != nil {
		return nil, invalid("not JSON: %v", err)
	}
	if root.kind != jsonObject {
		return nil, invalid("the top level must be an object of storages")
	}
	s := &state{}
	for _, member := range root.members {
		st := &storage{name: member.name}
		switch content := member.value; {
		case content.kind == jsonArray:
			for i, item := range content.items {
				r, err := parseRecord(item, fmt.Sprintf("%s[%d]", member.name, i))
				if err != nil {
					return nil, err
				}
				st.records = append(st.records, r)
			}
		case content.kind == jsonObject && len(content.members) == 1 && content.members[0].name == "$error":
			message := content.members[0].value
			if message.kind != jsonString {
				return nil, invalid("%s: $error takes a string", member.name)
			}
			st.failing = &message.text
		default:
			return nil, invalid("%s: a storage is an array of records or {\"$error\": message}", member.name)
		}
		if existing := s.storage(member.name); existing != nil {
			*existing = *st
		} else {
			s.storages = append(s.storages, st)
		}
	}
	return s, nil
}

func parseRecord(j *jsonValue, path string) (record, error) {
	if j.kind != jsonObject {
		return record{}, invalid("%s: a record is an object with entity, key and value", path)
	}
	r := record{key: &node{kind: nodeObject}, value: &node{kind: nodeObject}}
	if entity := j.member("entity"); entity != nil {
		if entity.kind != jsonString {
			return record{}, invalid("%s.entity: must be a string", path)
		}
		r.entity = entity.text
	}
	if key := j.member("key"); key != nil {
		n, err := parseNode(key, path+".key")
		if err != nil {
			return record{}, err
		}
		if n.kind != nodeObject {
			return record{}, invalid("%s.key: must be an object", path)
		}
		for _, f := range n.fields {
			if f.value.kind == nodeObject || f.value.kind == nodeArray {
				return record{}, invalid("%s.key.%s: key fields must be scalars", path, f.name)
			}
		}
		r.key = n
	}
	if value := j.member("value"); value != nil {
		n, err := parseNode(value, path+".value")
		if err != nil {
			return record{}, err
		}
		r.value = n
	}
	return r, nil
}

func parseNode(j *jsonValue, path string) (*node, error) {
	switch j.kind {
	case jsonNull:
		return &node{kind: nodeNull}, nil
	case jsonBool:
		return &node{kind: nodeBool, b: j.boolean}, nil
	case jsonNumber:
		// serde_json's rule: an integer literal that fits int64 is an
		// integer, anything else a float.
		if i, err := strconv.ParseInt(j.text, 10, 64); err == nil {
			return &node{kind: nodeInt, i: i}, nil
		}
		f, err := strconv.ParseFloat(j.text, 64)
		if err != nil && !isRangeError(err) {
			return nil, invalid("%s: %v", path, err)
		}
		return &node{kind: nodeFloat, f: f}, nil
	case jsonString:
		return &node{kind: nodeString, s: j.text}, nil
	case jsonArray:
		n := &node{kind: nodeArray, items: make([]*node, len(j.items))}
		for i, item := range j.items {
			child, err := parseNode(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			n.items[i] = child
		}
		return n, nil
	}
	if len(j.members) == 1 {
		tag, content := j.members[0].name, j.members[0].value
		switch {
		case tag == "$bytes" && content.kind == jsonString:
			raw, err := base64.StdEncoding.DecodeString(content.text)
			if err != nil {
				return nil, invalid("%s: $bytes is not base64: %v", path, err)
			}
			return &node{kind: nodeBytes, raw: raw}, nil
		case tag == "$qname" && content.kind == jsonString:
			dot := strings.LastIndexByte(content.text, '.')
			if dot <= 0 || dot+1 >= len(content.text) {
				return nil, invalid("%s: $qname %q is not <package path>.<Entity>", path, content.text)
			}
			return &node{kind: nodeQName, s: content.text, dot: dot}, nil
		case tag == "$float" && content.kind == jsonString:
			f, ok := nonFinite[content.text]
			if !ok {
				return nil, invalid("%s: $float %s is not one of \"NaN\", \"Infinity\", \"-Infinity\" (finite numbers are JSON numbers)",
					path, rustQuote(content.text))
			}
			return &node{kind: nodeFloat, f: f}, nil
		case tag == "$bytes" || tag == "$qname" || tag == "$float":
			return nil, invalid("%s: %s takes a string", path, tag)
		}
	}
	n := &node{kind: nodeObject, fields: make([]field, 0, len(j.members))}
	for _, member := range j.members {
		child, err := parseNode(member.value, path+"."+member.name)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, field{member.name, child})
	}
	return n, nil
}

// nonFinite are the floats JSON numbers cannot hold, by their $float names.
var nonFinite = map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}

// sameFloat is float equality for key fields: IEEE equality, and a NaN
// equals a NaN (keys are identities; the state writes every NaN the same).
func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func isRangeError(err error) bool {
	numErr, ok := err.(*strconv.NumError)
	return ok && numErr.Err == strconv.ErrRange
}

// matches reports whether a key field the extension put equals this record
// key field (the engine's Node::matches: integers and floats compare as
// numbers, strings and bytes as bytes).
func (n *node) matches(want *scalar) bool {
	switch n.kind {
	case nodeInt:
		if want.isInteger() {
			return n.i == want.i
		}
		f, ok := want.asFloat()
		return ok && float64(n.i) == f
	case nodeFloat:
		f, ok := want.asFloat()
		return ok && sameFloat(n.f, f)
	case nodeBool:
		return want.kind == scalarBool && n.b == want.b
	case nodeString:
		return (want.kind == scalarString && n.s == want.s) || (want.kind == scalarBytes && n.s == string(want.raw))
	case nodeBytes:
		return (want.kind == scalarBytes && bytes.Equal(n.raw, want.raw)) ||
			(want.kind == scalarString && string(n.raw) == want.s)
	case nodeQName:
		return want.kind == scalarQName && n.s == want.s+"."+want.entity
	}
	return false
}

// field is the engine's Value::field: a field of an object; a scalar answers
// the name "" with itself; null is no field.
func (n *node) field(name string) *node {
	switch n.kind {
	case nodeObject:
		for i := range n.fields {
			if n.fields[i].name == name {
				return present(n.fields[i].value)
			}
		}
		return nil
	case nodeArray:
		return nil
	}
	if name == "" {
		return present(n)
	}
	return nil
}

func (n *node) element(index int32) *node {
	if n.kind != nodeArray || index < 0 || int(index) >= len(n.items) {
		return nil
	}
	return present(n.items[index])
}

func present(n *node) *node {
	if n.kind == nodeNull {
		return nil
	}
	return n
}

// typeName is the name of the field's type in messages: integers are int64
// and floats float64 (as the engine's JSON state holds them), objects and
// arrays values.
func (n *node) typeName() string {
	switch n.kind {
	case nodeBool:
		return typeNames[hostapi.Bool]
	case nodeInt:
		return typeNames[hostapi.Int64]
	case nodeFloat:
		return typeNames[hostapi.Float64]
	case nodeString:
		return typeNames[hostapi.String]
	case nodeBytes:
		return typeNames[hostapi.Bytes]
	case nodeQName:
		return typeNames[hostapi.QName]
	}
	return typeNames[hostapi.Value]
}

// goValue is the node as the values of Intent.Key and Intent.Value: int64,
// float64, bool, string, []byte, ext.QName, map[string]any, []any, nil.
func (n *node) goValue() any {
	switch n.kind {
	case nodeBool:
		return n.b
	case nodeInt:
		return n.i
	case nodeFloat:
		return n.f
	case nodeString:
		return n.s
	case nodeBytes:
		return n.raw
	case nodeQName:
		return ext.QName{Pkg: n.s[:n.dot], Entity: n.s[n.dot+1:]}
	case nodeObject:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.name] = f.value.goValue()
		}
		return m
	case nodeArray:
		items := make([]any, len(n.items))
		for i, item := range n.items {
			items[i] = item.goValue()
		}
		return items
	}
	return nil
}

// nodeOf is the node of a value of Intent.Key or Intent.Value (the inverse
// of goValue; ints of every width become integers, float32s go through their
// shortest decimal as the engine does, so 0.1 stays 0.1).
func nodeOf(v any) (*node, error) {
	switch v := v.(type) {
	case nil:
		return &node{kind: nodeNull}, nil
	case bool:
		return &node{kind: nodeBool, b: v}, nil
	case int:
		return &node{kind: nodeInt, i: int64(v)}, nil
	case int32:
		return &node{kind: nodeInt, i: int64(v)}, nil
	case int64:
		return &node{kind: nodeInt, i: v}, nil
	case float32:
		return &node{kind: nodeFloat, f: float32Decimal(v)}, nil
	case float64:
		return &node{kind: nodeFloat, f: v}, nil
	case string:
		return &node{kind: nodeString, s: v}, nil
	case []byte:
		return &node{kind: nodeBytes, raw: v}, nil
	case ext.QName:
		return &node{kind: nodeQName, s: v.Pkg + "." + v.Entity, dot: len(v.Pkg)}, nil
	case map[string]any:
		n := &node{kind: nodeObject}
		for _, name := range sortedNames(v) {
			child, err := nodeOf(v[name])
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name, child})
		}
		return n, nil
	case []any:
		n := &node{kind: nodeArray, items: make([]*node, len(v))}
		for i, item := range v {
			child, err := nodeOf(item)
			if err != nil {
				return nil, err
			}
			n.items[i] = child
		}
		return n, nil
	}
	return nil, fmt.Errorf("%T is not a value of the JSON state", v)
}

// float32Decimal is v as the float64 of its shortest decimal (NaN and the
// infinities convert exactly).
func float32Decimal(v float32) float64 {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return float64(v)
	}
	f, err := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	if err != nil {
		return float64(v)
	}
	return f
}

// writeJSON writes the node in the state file's encoding.
func (n *node) writeJSON(out *strings.Builder) {
	switch n.kind {
	case nodeNull:
		out.WriteString("null")
	case nodeBool:
		out.WriteString(strconv.FormatBool(n.b))
	case nodeInt:
		out.WriteString(strconv.FormatInt(n.i, 10))
	case nodeFloat:
		writeFloat(out, n.f)
	case nodeString:
		writeString(out, n.s)
	case nodeBytes:
		out.WriteString(`{"$bytes":`)
		writeString(out, base64.StdEncoding.EncodeToString(n.raw))
		out.WriteByte('}')
	case nodeQName:
		out.WriteString(`{"$qname":`)
		writeString(out, n.s)
		out.WriteByte('}')
	case nodeObject:
		out.WriteByte('{')
		for i, f := range n.fields {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, f.name)
			out.WriteByte(':')
			f.value.writeJSON(out)
		}
		out.WriteByte('}')
	case nodeArray:
		out.WriteByte('[')
		for i, item := range n.items {
			if i > 0 {
				out.WriteByte(',')
			}
			item.writeJSON(out)
		}
		out.WriteByte(']')
	}
}

// writeFloat writes a float as the engine does: with a fraction or exponent
// (2.0, not 2), as serde_json writes numbers, and what JSON numbers cannot
// hold as {"$float": "NaN" | "Infinity" | "-Infinity"}.
func writeFloat(out *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		out.WriteString(`{"$float":"NaN"}`)
		return
	case math.IsInf(f, 1):
		out.WriteString(`{"$float":"Infinity"}`)
		return
	case math.IsInf(f, -1):
		out.WriteString(`{"$float":"-Infinity"}`)
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-5 || abs >= 1e16) {
		format = 'e'
	}
	text := strconv.FormatFloat(f, format, -1, 64)
	if !strings.ContainsAny(text, ".eE") {
		text += ".0"
	}
	out.WriteString(text)
}

// writeString writes s as a JSON string, escaping what serde_json escapes:
// quotes, backslashes and control characters.
func writeString(out *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	out.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			out.WriteByte('\\')
			out.WriteByte(c)
		case c == '\n':
			out.WriteString(`\n`)
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\t':
			out.WriteString(`\t`)
		case c == '\b':
			out.WriteString(`\b`)
		case c == '\f':
			out.WriteString(`\f`)
		case c < 0x20:
			out.WriteString(`\u00`)
			out.WriteByte(hex[c>>4])
			out.WriteByte(hex[c&0xF])
		default:
			out.WriteByte(c)
		}
	}
	out.WriteByte('"')
}
