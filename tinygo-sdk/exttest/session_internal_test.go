package exttest

import (
	"testing"

	"example.invalid/extwasm/tinygo-sdk/internal/hostapi"
)

// A row writer's kind that is neither 0 nor 1 fails as an invalid handle
// whose handle is the kind, an i32 on the wire, as the engine reports it.
// (The SDK always passes 0 or 1, so only a direct call reaches this.)
func TestABadRowWriterKindIsAnInvalidHandle(t *testing.T) {
	for kind, want := range map[uint32]string{
		2: "extension mock/put: hostRowWriterPutInt32(kind): invalid handle 0x2: " +
			"row-writer kind must be 0 (key builder) or 1 (intent), got 2",
		0xFFFF_FFFF: "extension mock/put: hostRowWriterPutInt32(kind): invalid handle 0xffffffffffffffff: " +
			"row-writer kind must be 0 (key builder) or 1 (intent), got -1",
	} {
		s := newSession(&state{}, "mock/put")
		func() {
			defer func() { _ = recover() }()
			s.Put(callHostRowWriterPutInt32, 0, kind, "n", hostapi.Scalar{Type: hostapi.Int32, Int: 1})
		}()
		if s.failure == nil || s.failure.Kind != KindInvalidHandle || s.failure.Error() != want {
			t.Errorf("kind %d: got %v\nwant %s", kind, s.failure, want)
		}
		if s.failure != nil && s.failure.Message != want[len("extension mock/put: hostRowWriterPutInt32(kind): "):] {
			t.Errorf("kind %d: Message %q is not what follows the site", kind, s.failure.Message)
		}
	}
}

// render fills in every part of a template, and only those.
func TestRenderFillsInTheTemplates(t *testing.T) {
	got := render(msgTypeMismatch, "site", render(msgSite, "extension", "p/e", "call", "c", "argument", "a"),
		"field", "{found}", "found", "int64", "expected", "int32")
	if want := `extension p/e: c(a): field "{found}" is int64, read as int32`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a part without a value is a bug, not a message")
		}
	}()
	render(msgNoField)
}
