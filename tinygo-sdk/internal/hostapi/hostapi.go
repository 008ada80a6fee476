// Package hostapi connects the native (non-wasm) build of package ext to the
// mock host of package exttest: ext calls the Host installed here where a
// wasm build calls the host imports.
package hostapi

// Type is the type a field is put or read as (the abi crate's FieldType,
// whose variant names these are; exttest names them in its messages from the
// abi crate's names, in its generated contract_gen.go).
type Type uint8

// The field types.
const (
	String Type = iota
	Bytes
	QName
	QNamePkg
	QNameEntity
	Bool
	Int32
	Int64
	Float32
	Float64
	Value
)

// Scalar is a field put on a key builder or an intent, or the result of a
// read: Int for integers, bools (0/1) and value handles; Float for floats;
// String for strings and the package of a qualified name (Entity its
// entity); Bytes for bytes.
type Scalar struct {
	Type   Type
	Int    int64
	Float  float64
	String string
	Entity string
	Bytes  []byte
}

// Selector names the field a read asks for: by name, or by index in an
// array value.
type Selector struct {
	Name    string
	Index   int32
	ByIndex bool
}

// Host answers the host calls of ABI 0.0.1. Each method is named after, and
// fails like, the import it stands for; call is the import's name, for
// errors.
type Host interface {
	GetKey(storage, entity string) uint64
	// Query is hostGetValue (must) or hostQueryValue.
	Query(call string, key uint64, must bool) uint64
	// ReadValues calls each once per match before it returns.
	ReadValues(key uint64, each func(key, value uint64))
	NewValue(key uint64) uint64
	UpdateValue(key, existing uint64) uint64
	// Put is hostRowWriterPut*: kind 0 for a key builder, 1 for an intent.
	Put(call string, id uint64, kind uint32, name string, value Scalar)
	ValueLength(value uint64) int32
	// Read is hostValueAs*, hostValueGetAs* and (ofKey) hostKeyAs*.
	Read(call string, handle uint64, ofKey bool, field Selector, want Type) Scalar
}

var current Host

// Install makes h answer the host calls until the returned function is
// called.
func Install(h Host) (uninstall func()) {
	if current != nil {
		panic("ext: an extension is already running on a mock host (exttest runs are not nested or concurrent)")
	}
	current = h
	return func() { current = nil }
}

// Current is the installed host.
func Current() Host {
	if current == nil {
		panic("ext: a host call outside an invocation: natively, run extensions with exttest " +
			"(host, _ := exttest.FromJSON(state); host.Run(extension))")
	}
	return current
}
