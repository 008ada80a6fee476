//go:build !wasm && !tinygo.wasm

package ext

// The native backend: built for anything but wasm, the host calls of api.go
// go to the mock host that package exttest installs (internal/hostapi), with
// the same names and signatures as the wasm side (ffi.go). Each passes the
// name of the import it stands for, which the mock names in its errors as the
// engine does.

import "example.invalid/extwasm/tinygo-sdk/internal/hostapi"

func host() hostapi.Host { return hostapi.Current() }

func getKey(storage, entity string) uint64 { return host().GetKey(storage, entity) }

func getValue(key uint64) uint64 { return host().Query("hostGetValue", key, true) }

func queryValue(key uint64) uint64 { return host().Query("hostQueryValue", key, false) }

func readValues(key uint64) { host().ReadValues(key, onReadValue) }

func newValue(key uint64) uint64 { return host().NewValue(key) }

func updateValue(key, existing uint64) uint64 { return host().UpdateValue(key, existing) }

func putString(id uint64, kind uint32, name string, value string) {
	host().Put("hostRowWriterPutString", id, kind, name, hostapi.Scalar{Type: hostapi.String, String: value})
}

func putBytes(id uint64, kind uint32, name string, value []byte) {
	host().Put("hostRowWriterPutBytes", id, kind, name, hostapi.Scalar{Type: hostapi.Bytes, Bytes: value})
}

func putBool(id uint64, kind uint32, name string, value bool) {
	host().Put("hostRowWriterPutBool", id, kind, name, hostapi.Scalar{Type: hostapi.Bool, Int: int64(wireBool(value))})
}

func putInt32(id uint64, kind uint32, name string, value int32) {
	host().Put("hostRowWriterPutInt32", id, kind, name, hostapi.Scalar{Type: hostapi.Int32, Int: int64(value)})
}

func putInt64(id uint64, kind uint32, name string, value int64) {
	host().Put("hostRowWriterPutInt64", id, kind, name, hostapi.Scalar{Type: hostapi.Int64, Int: value})
}

func putFloat32(id uint64, kind uint32, name string, value float32) {
	host().Put("hostRowWriterPutFloat32", id, kind, name, hostapi.Scalar{Type: hostapi.Float32, Float: float64(value)})
}

func putFloat64(id uint64, kind uint32, name string, value float64) {
	host().Put("hostRowWriterPutFloat64", id, kind, name, hostapi.Scalar{Type: hostapi.Float64, Float: value})
}

func putQName(id uint64, kind uint32, name, pkg, entity string) {
	host().Put("hostRowWriterPutQName", id, kind, name, hostapi.Scalar{Type: hostapi.QName, String: pkg, Entity: entity})
}

func wireBool(v bool) int {
	if v {
		return 1
	}
	return 0
}

func valueLength(value uint64) int32 { return host().ValueLength(value) }

func byName(name string) hostapi.Selector { return hostapi.Selector{Name: name} }

func byIndex(index int32) hostapi.Selector { return hostapi.Selector{Index: index, ByIndex: true} }

func read(call string, handle uint64, ofKey bool, field hostapi.Selector, want hostapi.Type) hostapi.Scalar {
	return host().Read(call, handle, ofKey, field, want)
}

func valueAsString(value uint64, name string) string {
	return read("hostValueAsString", value, false, byName(name), hostapi.String).String
}

func valueAsBytes(value uint64, name string) []byte {
	return read("hostValueAsBytes", value, false, byName(name), hostapi.Bytes).Bytes
}

func valueAsQNamePkg(value uint64, name string) string {
	return read("hostValueAsQNamePkg", value, false, byName(name), hostapi.QNamePkg).String
}

func valueAsQNameEntity(value uint64, name string) string {
	return read("hostValueAsQNameEntity", value, false, byName(name), hostapi.QNameEntity).String
}

func valueAsInt32(value uint64, name string) int32 {
	return int32(read("hostValueAsInt32", value, false, byName(name), hostapi.Int32).Int)
}

func valueAsInt64(value uint64, name string) int64 {
	return read("hostValueAsInt64", value, false, byName(name), hostapi.Int64).Int
}

func valueAsBool(value uint64, name string) bool {
	return read("hostValueAsBool", value, false, byName(name), hostapi.Bool).Int != 0
}

func valueAsFloat32(value uint64, name string) float32 {
	return float32(read("hostValueAsFloat32", value, false, byName(name), hostapi.Float32).Float)
}

func valueAsFloat64(value uint64, name string) float64 {
	return read("hostValueAsFloat64", value, false, byName(name), hostapi.Float64).Float
}

func valueAsValue(value uint64, name string) uint64 {
	return uint64(read("hostValueAsValue", value, false, byName(name), hostapi.Value).Int)
}

func valueGetAsString(value uint64, index int32) string {
	return read("hostValueGetAsString", value, false, byIndex(index), hostapi.String).String
}

func valueGetAsBytes(value uint64, index int32) []byte {
	return read("hostValueGetAsBytes", value, false, byIndex(index), hostapi.Bytes).Bytes
}

func valueGetAsQNamePkg(value uint64, index int32) string {
	return read("hostValueGetAsQNamePkg", value, false, byIndex(index), hostapi.QNamePkg).String
}

func valueGetAsQNameEntity(value uint64, index int32) string {
	return read("hostValueGetAsQNameEntity", value, false, byIndex(index), hostapi.QNameEntity).String
}

func valueGetAsInt32(value uint64, index int32) int32 {
	return int32(read("hostValueGetAsInt32", value, false, byIndex(index), hostapi.Int32).Int)
}

func valueGetAsInt64(value uint64, index int32) int64 {
	return read("hostValueGetAsInt64", value, false, byIndex(index), hostapi.Int64).Int
}

func valueGetAsBool(value uint64, index int32) bool {
	return read("hostValueGetAsBool", value, false, byIndex(index), hostapi.Bool).Int != 0
}

func valueGetAsFloat32(value uint64, index int32) float32 {
	return float32(read("hostValueGetAsFloat32", value, false, byIndex(index), hostapi.Float32).Float)
}

func valueGetAsFloat64(value uint64, index int32) float64 {
	return read("hostValueGetAsFloat64", value, false, byIndex(index), hostapi.Float64).Float
}

func valueGetAsValue(value uint64, index int32) uint64 {
	return uint64(read("hostValueGetAsValue", value, false, byIndex(index), hostapi.Value).Int)
}

func keyAsString(key uint64, name string) string {
	return read("hostKeyAsString", key, true, byName(name), hostapi.String).String
}

func keyAsBytes(key uint64, name string) []byte {
	return read("hostKeyAsBytes", key, true, byName(name), hostapi.Bytes).Bytes
}

func keyAsQNamePkg(key uint64, name string) string {
	return read("hostKeyAsQNamePkg", key, true, byName(name), hostapi.QNamePkg).String
}

func keyAsQNameEntity(key uint64, name string) string {
	return read("hostKeyAsQNameEntity", key, true, byName(name), hostapi.QNameEntity).String
}

func keyAsInt32(key uint64, name string) int32 {
	return int32(read("hostKeyAsInt32", key, true, byName(name), hostapi.Int32).Int)
}

func keyAsInt64(key uint64, name string) int64 {
	return read("hostKeyAsInt64", key, true, byName(name), hostapi.Int64).Int
}

func keyAsBool(key uint64, name string) bool {
	return read("hostKeyAsBool", key, true, byName(name), hostapi.Bool).Int != 0
}

func keyAsFloat32(key uint64, name string) float32 {
	return float32(read("hostKeyAsFloat32", key, true, byName(name), hostapi.Float32).Float)
}

func keyAsFloat64(key uint64, name string) float64 {
	return read("hostKeyAsFloat64", key, true, byName(name), hostapi.Float64).Float
}
