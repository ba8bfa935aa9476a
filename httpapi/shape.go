package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pathhook/pathhook"
)

// checkShape compares a parsed JSON value with the Go type it is to be
// decoded into and adds a field error for each unknown object key and each
// value of the wrong JSON type, named by its path ("learner.email").
//
// encoding/json reports an unknown field only as an untyped error, and stops
// at the first problem; walking the value ourselves names every bad field
// without matching error text. Keys must match a field's JSON name exactly:
// encoding/json would also take "Name" for "name", which only hides typos.
//
// A JSON null is accepted anywhere: it leaves the field at its zero value,
// as encoding/json does, and validation then says whether that will do.
func checkShape(v any, t reflect.Type, path string, errs *[]pathhook.FieldError) {
	if v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(format string, args ...any) {
		field := path
		if field == "" {
			field = "body"
		}
		*errs = append(*errs, pathhook.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if t == timeType {
		s, ok := v.(string)
		var tm time.Time
		if !ok || tm.UnmarshalText([]byte(s)) != nil {
			bad("must be a time in RFC 3339 format, such as 2026-11-29T10:00:00Z")
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			bad("must be %s", jsonKind(t))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("must be %s", jsonKind(t))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			bad("must be %s", jsonKind(t))
		} else if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			bad("must be a whole number within range")
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			bad("must be %s", jsonKind(t))
			return
		}
		checkObject(obj, t, path, errs)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			bad("must be %s", jsonKind(t))
			return
		}
		for i, e := range arr {
			checkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	default:
		// No input type of the API has other kinds; refuse rather than
		// guess, so that a new one is noticed in tests.
		bad("cannot be decoded")
	}
}

// checkObject checks an object's keys, in sorted order so that answers are
// stable, against the JSON fields of struct type t.
func checkObject(obj map[string]any, t reflect.Type, path string, errs *[]pathhook.FieldError) {
	fields := jsonFields(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sub := k
		if path != "" {
			sub = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			*errs = append(*errs, pathhook.FieldError{Field: sub, Message: "is not a known field"})
			continue
		}
		checkShape(obj[k], ft, sub, errs)
	}
}

// fieldsByType caches jsonFields, which every decoded request body needs.
var fieldsByType sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of struct type t's exported fields to
// their types, as encoding/json names them (embedded structs are not used
// by any input type, so they are not flattened). The map is shared: it
// must not be changed.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if fields, ok := fieldsByType.Load(t); ok {
		return fields.(map[string]reflect.Type)
	}
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldsByType.Store(t, fields)
	return fields
}

var timeType = reflect.TypeFor[time.Time]()

// typeOf returns the type that v, a pointer, points to.
func typeOf(v any) reflect.Type {
	return reflect.TypeOf(v).Elem()
}

// jsonKind names the JSON kind of value that Go type t takes, for messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a value of another kind"
}
