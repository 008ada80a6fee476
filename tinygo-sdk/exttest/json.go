package exttest

// A JSON tree that keeps the order of object members (encoding/json's maps
// do not): records are matched in file order, and intents render their
// fields in the order the engine does.

import (
	"encoding/json"
	"fmt"
)

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

type jsonValue struct {
	kind    jsonKind
	boolean bool
	text    string // a string, or a number's literal
	items   []*jsonValue
	members []jsonMember
}

type jsonMember struct {
	name  string
	value *jsonValue
}

// member is the last member called name (as serde_json keeps the last of
// duplicate names), or nil.
func (j *jsonValue) member(name string) *jsonValue {
	for i := len(j.members) - 1; i >= 0; i-- {
		if j.members[i].name == name {
			return j.members[i].value
		}
	}
	return nil
}

// parseJSON reads one value from a decoder that uses json.Number.
func parseJSON(decoder *json.Decoder) (*jsonValue, error) {
	token, err := decoder.Token()
	if err != nil {
		return nil, err
	}
	switch token := token.(type) {
	case nil:
		return &jsonValue{kind: jsonNull}, nil
	case bool:
		return &jsonValue{kind: jsonBool, boolean: token}, nil
	case json.Number:
		return &jsonValue{kind: jsonNumber, text: string(token)}, nil
	case string:
		return &jsonValue{kind: jsonString, text: token}, nil
	case json.Delim:
		switch token {
		case '[':
			array := &jsonValue{kind: jsonArray}
			for decoder.More() {
				item, err := parseJSON(decoder)
				if err != nil {
					return nil, err
				}
				array.items = append(array.items, item)
			}
			_, err := decoder.Token() // ]
			return array, err
		case '{':
			object := &jsonValue{kind: jsonObject}
			for decoder.More() {
				name, err := decoder.Token()
				if err != nil {
					return nil, err
				}
				value, err := parseJSON(decoder)
				if err != nil {
					return nil, err
				}
				object.members = appendMember(object.members, name.(string), value)
			}
			_, err := decoder.Token() // }
			return object, err
		}
	}
	return nil, fmt.Errorf("unexpected %v", token)
}

// appendMember adds a member, replacing an earlier one of the same name in
// place (serde_json's map with preserve_order does the same).
func appendMember(members []jsonMember, name string, value *jsonValue) []jsonMember {
	for i := range members {
		if members[i].name == name {
			members[i].value = value
			return members
		}
	}
	return append(members, jsonMember{name, value})
}
