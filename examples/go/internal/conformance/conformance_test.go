package conformance

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, text string) any {
	t.Helper()
	decoder := json.NewDecoder(strings.NewReader(text))
	decoder.UseNumber()
	var v any
	if err := decoder.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The comparison is serde_json's: numbers are typed, objects unordered.
func TestEqualIsTyped(t *testing.T) {
	for _, c := range []struct {
		a, b any
		want bool
	}{
		{json.Number("2"), json.Number("2"), true},
		{json.Number("2"), json.Number("2.0"), false},
		{json.Number("2.50"), json.Number("2.5"), true},
		{json.Number("1e+300"), json.Number("1e300"), true},
		{decode(t, `{"a": [1, "x", true, null], "b": {}}`), decode(t, `{"b": {}, "a": [1, "x", true, null]}`), true},
		{decode(t, `{"a": [1]}`), decode(t, `{"a": [1, 2]}`), false},
		{decode(t, `{"a": 1}`), decode(t, `{"a": 1, "b": 1}`), false},
		{"x", json.Number("1"), false},
	} {
		if got := equal(c.a, c.b); got != c.want {
			t.Errorf("equal(%v, %v) = %v", c.a, c.b, got)
		}
	}
}

// <handle> stands for a handle in hex, and for nothing else.
func TestAHandlePlaceholderStandsForAHexHandleOnly(t *testing.T) {
	const want = "h(value): invalid handle <handle>: stale"
	for text, ok := range map[string]bool{
		"h(value): invalid handle 0x200000700000000: stale": true,
		"h(value): invalid handle 0x: stale":                false,
		"h(value): invalid handle 12: stale":                false,
		"h(value): invalid handle 0x2: stale!":              false,
	} {
		if textsMatch(text, want) != ok {
			t.Errorf("textsMatch(%q) = %v", text, !ok)
		}
	}
	if !textsMatch("no handle here", "no handle here") || textsMatch("no handle here", "no handle") {
		t.Error("texts without <handle> are compared exactly")
	}
}
