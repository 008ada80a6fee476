package exttest

import (
	"fmt"
	"strings"
)

// ErrorKind is the stable kind of an Error, spelled as the engine spells it
// (its ErrorKind::as_str, what `extwasm run` prints). The kinds are the abi
// crate's, in contract_gen.go.
type ErrorKind string

// Error is why an invocation failed, as the engine would report it for the
// same extension on the same state: Error() is the engine's text, word for
// word (both render the abi crate's message templates), with the extension
// named mock/<function> instead of <package>/<extension>.
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
	// Message is the panic's message, or what went wrong in the host call
	// (the text after the host call and its argument).
	Message string

	// text is Error(), rendered when the mock host made the error.
	text string
}

func (e *Error) Error() string {
	switch {
	case e.text != "":
		return e.text
	case e.Kind == KindGuestPanic:
		return render(msgGuestPanic, "extension", e.Extension, "message", e.Message)
	}
	// An Error made by hand: every template of a host call's error is the
	// site, ": ", and what went wrong.
	return render(msgSite, "extension", e.Extension, "call", e.HostCall, "argument", e.Argument) + ": " + e.Message
}

// hostCallError is the error of a failed host call: template (a msg*
// constant of the contract whose {site} is the call's) rendered with args
// (name, value, …).
func hostCallError(kind ErrorKind, extension, call, argument, template string, args ...string) *Error {
	site := render(msgSite, "extension", extension, "call", call, "argument", argument)
	text := render(template, append(args, "site", site)...)
	return &Error{
		Kind: kind, Extension: extension, HostCall: call, Argument: argument,
		Message: strings.TrimPrefix(strings.TrimPrefix(text, site), ": "), text: text,
	}
}

// render fills in a template of the contract (contract_gen.go): each {name}
// becomes the value that follows name in args (name, value, name, value, …);
// every other character is literal. A part without a value is a bug of this
// package.
func render(template string, args ...string) string {
	var out strings.Builder
	out.Grow(len(template) + 32)
	for {
		open := strings.IndexByte(template, '{')
		if open < 0 {
			out.WriteString(template)
			return out.String()
		}
		length := strings.IndexByte(template[open:], '}')
		if length < 0 {
			panic("exttest: a template with an unclosed {: " + template)
		}
		out.WriteString(template[:open])
		out.WriteString(argument(template[open+1:open+length], args))
		template = template[open+length+1:]
	}
}

func argument(name string, args []string) string {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == name {
			return args[i+1]
		}
	}
	panic("exttest: no value for {" + name + "}")
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
