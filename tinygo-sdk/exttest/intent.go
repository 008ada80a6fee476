package exttest

import (
	"sort"
	"strings"
)

// Intent is what an invocation asks the platform to do: insert a value, or
// update one (its Value is then the existing value with the intent's fields
// applied), as the engine hands intents over (JsonState::intent_json).
//
// Key and Value hold int64 (every integer put), float64 (float32s through
// their shortest decimal), bool, string, []byte, ext.QName, and for the
// parts of an updated value nested in it, map[string]any and []any.
type Intent struct {
	// Op is "insert" or "update".
	Op      string
	Storage string
	Entity  string
	Key     map[string]any
	Value   map[string]any

	// The same in field order, for JSON and Apply; nil in an Intent made by
	// hand (the maps are used then, names sorted).
	key, value *node
}

func newIntent(op, storage, entity string, key, value *node) Intent {
	return Intent{
		Op: op, Storage: storage, Entity: entity,
		Key: key.goValue().(map[string]any), Value: value.goValue().(map[string]any),
		key: key, value: value,
	}
}

// JSON is the intent as the engine renders it (`extwasm run` prints the
// same): {"op", "storage", "entity", "key", "value"}, in the state file's
// encoding ($bytes, $qname, $float), fields in the order they were put.
func (i Intent) JSON() string {
	key, value, err := i.nodes()
	var out strings.Builder
	if err != nil {
		return `{"error":` + quoted(err.Error()) + `}`
	}
	out.WriteString(`{"op":` + quoted(i.Op) + `,"storage":` + quoted(i.Storage) + `,"entity":` + quoted(i.Entity))
	out.WriteString(`,"key":`)
	key.writeJSON(&out)
	out.WriteString(`,"value":`)
	value.writeJSON(&out)
	out.WriteByte('}')
	return out.String()
}

func (i Intent) String() string { return i.JSON() }

func (i Intent) nodes() (key, value *node, err error) {
	if i.key != nil && i.value != nil {
		return i.key, i.value, nil
	}
	if key, err = nodeOf(i.Key); err != nil {
		return nil, nil, err
	}
	if key.kind == nodeNull {
		key = &node{kind: nodeObject}
	}
	if value, err = nodeOf(i.Value); err != nil {
		return nil, nil, err
	}
	if value.kind == nodeNull {
		value = &node{kind: nodeObject}
	}
	return key, value, nil
}

func quoted(s string) string {
	var out strings.Builder
	writeString(&out, s)
	return out.String()
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
