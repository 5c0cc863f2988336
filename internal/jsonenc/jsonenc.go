// Package jsonenc encodes the values hookflow records and sends (events, step outputs,
// request bodies) to JSON without reflection, byte for byte as encoding/json does.
//
// Those values are trees of maps, lists, strings and numbers: JSON decoded, or built
// from templates. encoding/json walks such a tree through reflect, copying each map
// entry and sorting boxed keys, and that was the most allocation a relay made. Here
// the common types are written directly; anything else goes to encoding/json.
package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Marshal is v's JSON as json.Marshal writes it: <, > and & escaped. On an error it
// returns nil, as json.Marshal does.
func Marshal(v any) ([]byte, error) {
	data, err := Append(nil, v, true)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Append appends v's JSON to dst. With escapeHTML, it writes what json.Marshal writes;
// without, what a json.Encoder with SetEscapeHTML(false) writes, less its newline. On an
// error (a NaN, an infinity, a value encoding/json refuses), what it appended so far is
// not JSON: drop it.
func Append(dst []byte, v any, escapeHTML bool) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, 256) // most outputs and bodies fit: fewer copies as it grows
	}
	e := encoder{escapeHTML: escapeHTML}
	return e.value(dst, v)
}

// Appender is a value that writes its own JSON: what encoding/json writes for it, with
// <, > and & escaped or not as escapeHTML says. Append calls it instead of reflecting.
type Appender interface {
	AppendJSON(b []byte, escapeHTML bool) []byte
}

type encoder struct {
	escapeHTML bool
	depth      int
}

// maxDepth is where a tree is handed to encoding/json, which stops a cycle (a map that
// holds itself) with an error instead of a stack overflow. Trees from hookflow's
// decoder nest 64 deep at most.
const maxDepth = 200

func (e *encoder) value(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return AppendString(b, v, e.escapeHTML), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float64:
		return appendFloat(b, v)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		if e.depth >= maxDepth {
			return e.fallback(b, v)
		}
		e.depth++
		b, err := e.object(b, v)
		e.depth--
		return b, err
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		if e.depth >= maxDepth {
			return e.fallback(b, v)
		}
		e.depth++
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.value(b, x); err != nil {
				e.depth--
				return b, err
			}
		}
		e.depth--
		return append(b, ']'), nil
	case map[string]string:
		return AppendStrings(b, v, e.escapeHTML), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, s, e.escapeHTML)
		}
		return append(b, ']'), nil
	case Appender:
		return v.AppendJSON(b, e.escapeHTML), nil
	}
	return e.fallback(b, v)
}

// object writes a map with its keys in order, as encoding/json sorts them.
func (e *encoder) object(b []byte, m map[string]any) ([]byte, error) {
	ks := sortedKeys(m)
	defer putKeys(ks)
	b = append(b, '{')
	for i, k := range *ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, k, e.escapeHTML), ':')
		var err error
		if b, err = e.value(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// fallback writes v with encoding/json.
func (e *encoder) fallback(b []byte, v any) ([]byte, error) {
	if e.escapeHTML {
		data, err := json.Marshal(v)
		return append(b, data...), err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// AppendStrings appends m as a JSON object, its keys in order; null for a nil map.
func AppendStrings(b []byte, m map[string]string, escapeHTML bool) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	ks := sortedKeys(m)
	defer putKeys(ks)
	b = append(b, '{')
	for i, k := range *ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(AppendString(b, k, escapeHTML), ':')
		b = AppendString(b, m[k], escapeHTML)
	}
	return append(b, '}')
}

var keyLists = sync.Pool{New: func() any { return new([]string) }}

// sortedKeys is m's keys in order, as encoding/json writes them, in a list from the
// pool: putKeys it when done.
func sortedKeys[V any](m map[string]V) *[]string {
	ks := keyLists.Get().(*[]string)
	*ks = slices.Grow((*ks)[:0], len(m))
	for k := range m {
		*ks = append(*ks, k)
	}
	slices.Sort(*ks)
	return ks
}

func putKeys(ks *[]string) {
	if cap(*ks) > 1024 {
		return // a rare large map's list is not kept
	}
	clear(*ks) // the keys are not held past their map
	*ks = (*ks)[:0]
	keyLists.Put(ks)
}

// appendFloat writes f as encoding/json does: the shortest form that reads back as f,
// with an exponent only below 1e-6 or from 1e21 on; NaN and infinities are refused.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// A two-digit negative exponent loses its leading zero: 1e-07 is 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json escapes it: quotes,
// backslashes and control characters; <, > and & with escapeHTML; U+2028 and U+2029
// always; and each byte of invalid UTF-8 written as U+FFFD.
func AppendString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
