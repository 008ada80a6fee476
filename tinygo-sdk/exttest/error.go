package exttest

import (
	"fmt"
	"strings"
)

// ErrorKind is the stable kind of an Error, spelled as the engine spells it
// (its ErrorKind::as_str, what `extwasm run` prints).
type ErrorKind string

// The kinds of failure an extension meets on the mock host: those of the
// engine that do not depend on wasm (no traps, memory limits or timeouts).
const (
	// KindGuestPanic: the extension panicked.
	KindGuestPanic ErrorKind = "guest_panic"
	// KindNotFound: MustGetValue found no value.
	KindNotFound ErrorKind = "not_found"
	// KindState: the state failed (a storage given as {"$error": message}).
	KindState ErrorKind = "state"
	// KindInvalidHandle: a handle of another kind, or from another invocation.
	KindInvalidHandle ErrorKind = "invalid_handle"
	// KindInvalidUTF8: a name or string that is not UTF-8.
	KindInvalidUTF8 ErrorKind = "invalid_utf8"
	// KindTypeMismatch: a field read as a type it does not have.
	KindTypeMismatch ErrorKind = "type_mismatch"
	// KindMissingField: a field or array element that does not exist.
	KindMissingField ErrorKind = "missing_field"
)

// Error is why an invocation failed, as the engine would report it for the
// same extension on the same state: Error() is the engine's text, word for
// word, with the extension named mock/<function> instead of
// <package>/<extension>.
type Error struct {
	Kind ErrorKind
	// Extension is mock/<name>.
	Extension string
	// HostCall is the import that failed (hostValueAsInt32, …); empty for a
	// panic.
	HostCall string
	// Argument is the argument at fault (namePtr, keyBuilder, …); empty for
	// a panic.
	Argument string
	// Message is the panic's message, or what went wrong in the host call.
	Message string
}

func (e *Error) Error() string {
	if e.Kind == KindGuestPanic {
		return "extension " + e.Extension + " panicked: " + e.Message
	}
	return "extension " + e.Extension + ": " + e.HostCall + "(" + e.Argument + "): " + e.Message
}

// panicMessage is what the engine reports for a panic with value v: the
// first line the runtime prints after "panic: " (an error's Error(), a
// Stringer's String(), a string itself), without trailing spaces.
func panicMessage(v any) string {
	var text string
	switch v := v.(type) {
	case error:
		text = v.Error()
	case fmt.Stringer:
		text = v.String()
	case string:
		text = v
	default:
		text = fmt.Sprint(v)
	}
	if line, _, found := strings.Cut(text, "\n"); found {
		text = line
	}
	return strings.TrimRight(text, " \t\r")
}
