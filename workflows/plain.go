package workflows

import (
	"fmt"
	"iter"
	"maps"
	"math"
	"reflect"
	"slices"
	"time"
)

// plain returns an expression's value as a run keeps it: as JSON holds it. A map
// whose keys are not strings (groupBy's map[any][]any) becomes a map[string]any with
// its keys as text (Text), a list of another type a []any, and a duration its text as
// Go writes it (1h30m0s: JSON would hold its nanoseconds); a number JSON cannot
// hold (NaN, or the infinity of a division by zero) is an error, so that the step
// fails rather than record nothing and go on. A value that is plain already, the
// common case, is returned as it is, without a copy.
func plain(v any) (any, error) {
	ok, err := isPlain(v)
	if ok || err != nil {
		return v, err
	}
	return plainCopy(v), nil
}

// isPlain reports whether v is plain as it is; its error is that of a number JSON
// cannot hold, wherever it is in v.
func isPlain(v any) (bool, error) {
	switch v := v.(type) {
	case string, bool, int, nil:
		return true, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false, fmt.Errorf("gave %v, which is no number JSON holds (a division by zero?)", v)
		}
		return true, nil
	case time.Duration:
		return false, nil // its text
	case map[string]any:
		return allPlain(maps.Values(v))
	case []any:
		return allPlain(slices.Values(v))
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Map:
		for it := rv.MapRange(); it.Next(); {
			if _, err := isPlain(it.Value().Interface()); err != nil {
				return false, err
			}
		}
		return false, nil
	case isList(rv):
		for i := range rv.Len() {
			if _, err := isPlain(rv.Index(i).Interface()); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	return true, nil // a time: encoded as it is, RFC 3339
}

// allPlain reports whether every value of values is plain as it is; its error is
// the first of a number JSON cannot hold.
func allPlain(values iter.Seq[any]) (bool, error) {
	all := true
	for e := range values {
		ok, err := isPlain(e)
		if err != nil {
			return false, err
		}
		all = all && ok
	}
	return all, nil
}

// isList reports whether rv is a list JSON holds as one: a slice or array, but not
// bytes (encoded as base64 text).
func isList(rv reflect.Value) bool {
	k := rv.Kind()
	return (k == reflect.Slice || k == reflect.Array) && rv.Type().Elem().Kind() != reflect.Uint8
}

// plainCopy copies v with every map and list in it made a map[string]any or a []any;
// isPlain has found no number in it that JSON cannot hold.
func plainCopy(v any) any {
	switch v := v.(type) {
	case string, bool, int, float64, nil:
		return v
	case time.Duration:
		return v.String() // as duration() and a delay's duration read it back
	case map[string]any:
		if v == nil {
			return v // null, as JSON has it
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plainCopy(e)
		}
		return out
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainCopy(e)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch {
	case (rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.IsNil():
		return nil // null, as JSON has it
	case rv.Kind() == reflect.Map:
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key()
			if k.Kind() == reflect.Interface {
				k = k.Elem() // a map[any]…'s key: what it holds
			}
			key := ""
			if k.Kind() == reflect.String {
				key = k.String() // a named string type: its text, not JSON's quoted form
			} else {
				key = Text(k.Interface())
			}
			out[key] = plainCopy(it.Value().Interface())
		}
		return out
	case isList(rv):
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = plainCopy(rv.Index(i).Interface())
		}
		return out
	}
	return v
}
