package ext

// The extension author's API. Every host call goes through the unexported
// functions getKey … keyAsFloat64, which ffi.go implements on wasm (the host
// imports) and native.go everywhere else (the mock host of package exttest):
// the same names and signatures on both sides.

// Storages of the platform state.
const (
	// StorageEvent holds the event a projector handles.
	StorageEvent = "sys.Event"
	// StorageSendMail takes mails to send.
	StorageSendMail = "sys.SendMail"
	// StorageRecord holds records.
	StorageRecord = "sys.Record"
	// StorageView holds views.
	StorageView = "sys.View"
	// StorageWLog is the write-ahead log.
	StorageWLog = "sys.WLog"
	// StorageHTTP takes HTTP requests.
	StorageHTTP = "sys.Http"
	// StorageAppSecret holds application secrets.
	StorageAppSecret = "sys.AppSecret"
	// StorageRequestSubject holds the subject of the request.
	StorageRequestSubject = "sys.RequestSubject"
	// StorageResult takes the result of a command.
	StorageResult = "sys.Result"
	// StorageCommandContext holds the context (argument) of the command being
	// executed.
	StorageCommandContext = "sys.CommandContext"
	// NullEntity is the entity of a key that has none.
	NullEntity = ""
)

// QName is a qualified name: full package path and entity
// (github.com/org/app/mypkg + OrderedItems).
type QName struct {
	// Pkg is the full package path.
	Pkg string
	// Entity is the name within the package.
	Entity string
}

// TKeyBuilder is a key under construction: storage, entity and the key fields
// put on it. Valid during the invocation that made it.
type TKeyBuilder uint64

// TIntent is a value to insert or update, and the fields put on it. Valid
// during the invocation that made it.
type TIntent uint64

// TValue is a value of the state: a record's value, or an object or array
// nested in one. Valid during the invocation that read it.
type TValue uint64

// TKey is the key of a record handed to a ReadValues callback. Valid during
// the invocation that read it.
type TKey uint64

// KeyBuilder returns a new key builder for a storage (StorageView, …) and an
// entity (NullEntity for none).
func KeyBuilder(storage, entity string) TKeyBuilder {
	return TKeyBuilder(getKey(storage, entity))
}

// MustGetValue returns the value for key. When there is none the invocation
// fails (with a not-found error naming the key); use QueryValue when it may be
// absent.
func MustGetValue(key TKeyBuilder) TValue {
	return TValue(getValue(uint64(key)))
}

// QueryValue returns the value for key and true, or false when there is none.
func QueryValue(key TKeyBuilder) (TValue, bool) {
	value := queryValue(uint64(key))
	if value == notFound {
		return 0, false
	}
	return TValue(value), true
}

// readers are the callbacks of the ReadValues calls under way, innermost
// last: the host calls back (WasmOnReadValue) only for the innermost one.
// Made at initialisation, so that ReadValues does not allocate.
var readers = make([]func(key TKey, value TValue), 0, 8)

// ReadValues calls each(key, value) for every record that matches the
// (partial) key, in the state's order, before it returns. each may read
// again, ReadValues included.
func ReadValues(key TKeyBuilder, each func(key TKey, value TValue)) {
	readers = append(readers, each)
	defer popReader()
	readValues(uint64(key))
}

func popReader() {
	readers[len(readers)-1] = nil
	readers = readers[:len(readers)-1]
}

// onReadValue is the host's per-record callback of the innermost ReadValues.
func onReadValue(key, value uint64) {
	if len(readers) == 0 {
		panic("ext: the host called WasmOnReadValue outside ReadValues")
	}
	readers[len(readers)-1](TKey(key), TValue(value))
}

// NewValue returns an intent to insert a new value at key; put its fields on
// it.
func NewValue(key TKeyBuilder) TIntent {
	return TIntent(newValue(uint64(key)))
}

// UpdateValue returns an intent to update existing (a value read at key); the
// fields put on it are applied over the existing ones.
func UpdateValue(key TKeyBuilder, existing TValue) TIntent {
	return TIntent(updateValue(uint64(key), uint64(existing)))
}

// PutInt32 puts an int32 key field.
func (k TKeyBuilder) PutInt32(name string, value int32) TKeyBuilder {
	putInt32(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutInt64 puts an int64 key field.
func (k TKeyBuilder) PutInt64(name string, value int64) TKeyBuilder {
	putInt64(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutFloat32 puts a float32 key field.
func (k TKeyBuilder) PutFloat32(name string, value float32) TKeyBuilder {
	putFloat32(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutFloat64 puts a float64 key field.
func (k TKeyBuilder) PutFloat64(name string, value float64) TKeyBuilder {
	putFloat64(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutBool puts a bool key field.
func (k TKeyBuilder) PutBool(name string, value bool) TKeyBuilder {
	putBool(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutString puts a string key field.
func (k TKeyBuilder) PutString(name string, value string) TKeyBuilder {
	putString(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutBytes puts a bytes key field.
func (k TKeyBuilder) PutBytes(name string, value []byte) TKeyBuilder {
	putBytes(uint64(k), kindKeyBuilder, name, value)
	return k
}

// PutQName puts a qualified-name key field.
func (k TKeyBuilder) PutQName(name string, value QName) TKeyBuilder {
	putQName(uint64(k), kindKeyBuilder, name, value.Pkg, value.Entity)
	return k
}

// PutInt32 puts an int32 field on the intent.
func (i TIntent) PutInt32(name string, value int32) TIntent {
	putInt32(uint64(i), kindIntent, name, value)
	return i
}

// PutInt64 puts an int64 field on the intent.
func (i TIntent) PutInt64(name string, value int64) TIntent {
	putInt64(uint64(i), kindIntent, name, value)
	return i
}

// PutFloat32 puts a float32 field on the intent.
func (i TIntent) PutFloat32(name string, value float32) TIntent {
	putFloat32(uint64(i), kindIntent, name, value)
	return i
}

// PutFloat64 puts a float64 field on the intent.
func (i TIntent) PutFloat64(name string, value float64) TIntent {
	putFloat64(uint64(i), kindIntent, name, value)
	return i
}

// PutBool puts a bool field on the intent.
func (i TIntent) PutBool(name string, value bool) TIntent {
	putBool(uint64(i), kindIntent, name, value)
	return i
}

// PutString puts a string field on the intent.
func (i TIntent) PutString(name string, value string) TIntent {
	putString(uint64(i), kindIntent, name, value)
	return i
}

// PutBytes puts a bytes field on the intent.
func (i TIntent) PutBytes(name string, value []byte) TIntent {
	putBytes(uint64(i), kindIntent, name, value)
	return i
}

// PutQName puts a qualified-name field on the intent.
func (i TIntent) PutQName(name string, value QName) TIntent {
	putQName(uint64(i), kindIntent, name, value.Pkg, value.Entity)
	return i
}

// AsInt32 returns int32 field name (an integer that fits).
func (v TValue) AsInt32(name string) int32 { return valueAsInt32(uint64(v), name) }

// AsInt64 returns int64 field name (an integer).
func (v TValue) AsInt64(name string) int64 { return valueAsInt64(uint64(v), name) }

// AsFloat32 returns float32 field name (a number).
func (v TValue) AsFloat32(name string) float32 { return valueAsFloat32(uint64(v), name) }

// AsFloat64 returns float64 field name (a number).
func (v TValue) AsFloat64(name string) float64 { return valueAsFloat64(uint64(v), name) }

// AsBool returns bool field name.
func (v TValue) AsBool(name string) bool { return valueAsBool(uint64(v), name) }

// AsString returns string field name, valid until the extension returns.
func (v TValue) AsString(name string) string { return valueAsString(uint64(v), name) }

// AsBytes returns bytes (or string) field name, valid until the extension
// returns; do not modify them.
func (v TValue) AsBytes(name string) []byte { return valueAsBytes(uint64(v), name) }

// AsQName returns qualified-name field name, valid until the extension
// returns.
func (v TValue) AsQName(name string) QName {
	return QName{Pkg: valueAsQNamePkg(uint64(v), name), Entity: valueAsQNameEntity(uint64(v), name)}
}

// AsValue returns the object or array nested in field name.
func (v TValue) AsValue(name string) TValue { return TValue(valueAsValue(uint64(v), name)) }

// Len returns the number of elements of an array value.
func (v TValue) Len() int { return int(valueLength(uint64(v))) }

// GetAsInt32 returns int32 element index of an array value.
func (v TValue) GetAsInt32(index int) int32 { return valueGetAsInt32(uint64(v), wireIndex(index)) }

// GetAsInt64 returns int64 element index of an array value.
func (v TValue) GetAsInt64(index int) int64 { return valueGetAsInt64(uint64(v), wireIndex(index)) }

// GetAsFloat32 returns float32 element index of an array value.
func (v TValue) GetAsFloat32(index int) float32 {
	return valueGetAsFloat32(uint64(v), wireIndex(index))
}

// GetAsFloat64 returns float64 element index of an array value.
func (v TValue) GetAsFloat64(index int) float64 {
	return valueGetAsFloat64(uint64(v), wireIndex(index))
}

// GetAsBool returns bool element index of an array value.
func (v TValue) GetAsBool(index int) bool { return valueGetAsBool(uint64(v), wireIndex(index)) }

// GetAsString returns string element index of an array value, valid until
// the extension returns.
func (v TValue) GetAsString(index int) string {
	return valueGetAsString(uint64(v), wireIndex(index))
}

// GetAsBytes returns bytes (or string) element index of an array value,
// valid until the extension returns; do not modify them.
func (v TValue) GetAsBytes(index int) []byte {
	return valueGetAsBytes(uint64(v), wireIndex(index))
}

// GetAsQName returns qualified-name element index of an array value, valid
// until the extension returns.
func (v TValue) GetAsQName(index int) QName {
	i := wireIndex(index)
	return QName{Pkg: valueGetAsQNamePkg(uint64(v), i), Entity: valueGetAsQNameEntity(uint64(v), i)}
}

// GetAsValue returns the object or array that is element index of an array
// value.
func (v TValue) GetAsValue(index int) TValue {
	return TValue(valueGetAsValue(uint64(v), wireIndex(index)))
}

// wireIndex is index as the ABI's i32. An index that does not fit becomes -1,
// which the host reports as out of range (rather than wrapping around to an
// element that exists).
func wireIndex(index int) int32 {
	if index < 0 || index > 1<<31-1 {
		return -1
	}
	return int32(index)
}

// AsInt32 returns int32 key field name.
func (k TKey) AsInt32(name string) int32 { return keyAsInt32(uint64(k), name) }

// AsInt64 returns int64 key field name.
func (k TKey) AsInt64(name string) int64 { return keyAsInt64(uint64(k), name) }

// AsFloat32 returns float32 key field name.
func (k TKey) AsFloat32(name string) float32 { return keyAsFloat32(uint64(k), name) }

// AsFloat64 returns float64 key field name.
func (k TKey) AsFloat64(name string) float64 { return keyAsFloat64(uint64(k), name) }

// AsBool returns bool key field name.
func (k TKey) AsBool(name string) bool { return keyAsBool(uint64(k), name) }

// AsString returns string key field name, valid until the extension returns.
func (k TKey) AsString(name string) string { return keyAsString(uint64(k), name) }

// AsBytes returns bytes (or string) key field name, valid until the extension
// returns; do not modify them.
func (k TKey) AsBytes(name string) []byte { return keyAsBytes(uint64(k), name) }

// AsQName returns qualified-name key field name, valid until the extension
// returns.
func (k TKey) AsQName(name string) QName {
	return QName{Pkg: keyAsQNamePkg(uint64(k), name), Entity: keyAsQNameEntity(uint64(k), name)}
}
