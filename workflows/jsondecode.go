package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeAny decodes one JSON value, with whitespace around it and nothing else, into
// the values events hold: map[string]any, []any, string, int (a whole number that
// fits in 64 bits), float64, bool and nil. It is what encoding/json with UseNumber and
// numbers() give, in one pass: every event is decoded once when it arrives and again
// by the worker that runs its step, and encoding/json's reflection is the largest
// share of both. Strings are read as encoding/json reads them (invalid UTF-8 becomes
// U+FFFD, a lone surrogate escape too); nesting deeper than MaxJSONDepth is refused.
// An object's key given twice keeps its last value, as encoding/json does.
func decodeAny(data []byte) (any, error) {
	return decodeOne(decoder{data: data})
}

// decodeExact decodes as decodeAny does, but gives each number as the json.Number it
// is written as, digit for digit, where decodeAny gives a float64 for one with a
// fraction or an exponent, or a whole one past 64 bits. It refuses what decodeAny
// refuses (a number no float64 holds among it).
func decodeExact(data []byte) (any, error) {
	return decodeOne(decoder{data: data, exact: true})
}

// decodeUnique is decodeAny for JSON arriving (a webhook's body, a resume's), which
// hookflow keeps as it came, beside what it parsed: an object with a key given twice
// is refused (a *duplicateKeyError), as event.body would hold one of its values and
// event.raw both.
func decodeUnique(data []byte) (any, error) {
	return decodeOne(decoder{data: data, unique: true})
}

// decodeOne decodes the one value of d.data.
func decodeOne(d decoder) (any, error) {
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i < len(d.data) {
		return nil, errors.New("invalid JSON: more data after the value")
	}
	return v, nil
}

type decoder struct {
	data     []byte
	i        int
	exact    bool // numbers as json.Number
	unique   bool // an object's keys must differ
	maxDepth int  // how deep it may nest; 0 for MaxJSONDepth
}

// duplicateKeyError is an object of JSON arriving that holds a key twice.
type duplicateKeyError struct {
	Key  string
	At   int      // the byte offset of the second one
	path []string // the object's place in the value, innermost first: .name, ["a b"], [2]
}

func (e *duplicateKeyError) Error() string {
	where := "the top-level JSON object"
	if len(e.path) > 0 {
		var b strings.Builder
		for i := len(e.path) - 1; i >= 0; i-- {
			b.WriteString(e.path[i])
		}
		where = "the JSON object at " + strings.TrimPrefix(b.String(), ".")
	}
	return fmt.Sprintf("duplicate key %s in %s (at byte %d): a key may appear once in an object", strconv.Quote(e.Key), where, e.At)
}

// within adds the place of a member (an object's key, or an array's index) to the path
// of a duplicate key found inside it. Only a failing decode calls it.
func within(err error, key string, index int) error {
	e, ok := err.(*duplicateKeyError)
	if !ok {
		return err
	}
	switch {
	case index >= 0:
		e.path = append(e.path, "["+strconv.Itoa(index)+"]")
	case isIdent(key):
		e.path = append(e.path, "."+key)
	default:
		e.path = append(e.path, "["+strconv.Quote(key)+"]")
	}
	return e
}

// isIdent reports whether key reads as a name in an expression: event.body.key.
func isIdent(key string) bool {
	for i, c := range key {
		if c != '_' && !unicode.IsLetter(c) && (i == 0 || !unicode.IsDigit(c)) {
			return false
		}
	}
	return key != ""
}

// JSONValueError is JSON that parses, but holds what hookflow does not read: a number
// no float64 holds (1e400), or nesting deeper than MaxJSONDepth. encoding/json would
// take the second, and give the first as an error of its own type, not a syntax
// error: an answer said to be JSON tells it apart by this type.
type JSONValueError struct {
	Reason string
	Offset int // the byte where the value it refuses starts
}

func (e *JSONValueError) Error() string { return e.Reason }

var errEnd = errors.New("invalid JSON: unexpected end of JSON input")

func (d *decoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) unexpected(what string) error {
	if d.i >= len(d.data) {
		return errEnd
	}
	return fmt.Errorf("invalid JSON: invalid character %s %s (at byte %d)", quoteChar(d.data[d.i]), what, d.i)
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(c) + "'"
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, errEnd
	}
	switch c := d.data[d.i]; {
	case c == '{':
		if err := d.deeper(depth); err != nil {
			return nil, err
		}
		return d.object(depth + 1)
	case c == '[':
		if err := d.deeper(depth); err != nil {
			return nil, err
		}
		return d.array(depth + 1)
	case c == '"':
		return d.str()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	}
	return nil, d.unexpected("looking for beginning of value")
}

// deeper says whether an object or a list may open at depth.
func (d *decoder) deeper(depth int) error {
	most := d.maxDepth
	if most == 0 {
		most = MaxJSONDepth
	}
	if depth >= most {
		return &JSONValueError{Reason: fmt.Sprintf("JSON nests deeper than %d levels", most), Offset: d.i}
	}
	return nil
}

func (d *decoder) literal(word string, v any) (any, error) {
	for k := 0; k < len(word); k++ {
		if d.i >= len(d.data) {
			return nil, errEnd
		}
		if d.data[d.i] != word[k] {
			return nil, d.unexpected("in literal " + word)
		}
		d.i++
	}
	return v, nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // {
	m := map[string]any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.data) {
			return nil, errEnd
		}
		if d.data[d.i] != '"' {
			return nil, d.unexpected("looking for beginning of object key string")
		}
		at := d.i
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.data) {
			return nil, errEnd
		}
		if d.data[d.i] != ':' {
			return nil, d.unexpected("after object key")
		}
		d.i++
		d.space()
		key := k.(string)
		v, err := d.value(depth)
		if err != nil {
			return nil, within(err, key, -1)
		}
		n := len(m)
		m[key] = v
		if d.unique && len(m) == n { // the key was there: one lookup, not two
			return nil, &duplicateKeyError{Key: key, At: at}
		}
		if done, err := d.separator('}', "after object key:value pair"); done || err != nil {
			return m, err
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // [
	a := []any{}
	d.space()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		d.space()
		v, err := d.value(depth)
		if err != nil {
			return nil, within(err, "", len(a))
		}
		a = append(a, v)
		if done, err := d.separator(']', "after array element"); done || err != nil {
			return a, err
		}
	}
}

// separator reads what follows a member of an object or an array: a comma (more
// follow) or the closing bracket (done).
func (d *decoder) separator(closing byte, where string) (done bool, err error) {
	d.space()
	switch {
	case d.i >= len(d.data):
		return false, errEnd
	case d.data[d.i] == ',':
		d.i++
		return false, nil
	case d.data[d.i] == closing:
		d.i++
		return true, nil
	}
	return false, d.unexpected(where)
}

// digits skips a run of decimal digits.
func (d *decoder) digits() {
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
}

// number reads a number as JSON writes them, and gives an int when it is a whole
// number in range written without a fraction or exponent, else a float64; one no
// float64 holds is an error.
func (d *decoder) number() (any, error) {
	start, whole := d.i, true
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i >= len(d.data):
		return nil, errEnd
	case d.data[d.i] == '0':
		d.i++
	case d.data[d.i] >= '1' && d.data[d.i] <= '9':
		d.digits()
	default:
		return nil, d.unexpected("in numeric literal")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		whole = false
		d.i++
		if d.i >= len(d.data) {
			return nil, errEnd
		}
		if d.data[d.i] < '0' || d.data[d.i] > '9' {
			return nil, d.unexpected("after decimal point in numeric literal")
		}
		d.digits()
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		whole = false
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.data) {
			return nil, errEnd
		}
		if d.data[d.i] < '0' || d.data[d.i] > '9' {
			return nil, d.unexpected("in exponent of numeric literal")
		}
		d.digits()
	}
	text := string(d.data[start:d.i])
	if whole {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			if d.exact {
				return json.Number(text), nil
			}
			return int(n), nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, &JSONValueError{Reason: fmt.Sprintf("number %.40s is out of range", text), Offset: start}
	}
	if d.exact {
		return json.Number(text), nil
	}
	return f, nil
}

// str reads a string; most have no escape and are valid UTF-8, and are one copy.
func (d *decoder) str() (any, error) {
	d.i++ // "
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			s := string(d.data[start:d.i])
			d.i++
			return s, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowStr(start)
		case c < 0x20:
			return nil, d.unexpected("in string literal")
		}
		d.i++
	}
	return nil, errEnd
}

// slowStr reads a string that has escapes or bytes past ASCII, from start.
func (d *decoder) slowStr(start int) (any, error) {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.data[start:d.i]...)
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return nil, d.unexpected("in string literal")
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return nil, errEnd
			}
			switch e := d.data[d.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
				d.i++
			case 'b':
				b, d.i = append(b, '\b'), d.i+1
			case 'f':
				b, d.i = append(b, '\f'), d.i+1
			case 'n':
				b, d.i = append(b, '\n'), d.i+1
			case 'r':
				b, d.i = append(b, '\r'), d.i+1
			case 't':
				b, d.i = append(b, '\t'), d.i+1
			case 'u':
				d.i++
				r, ok := d.hex4()
				if !ok {
					return nil, d.unexpected("in \\u hexadecimal character escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair is one rune; a surrogate alone is U+FFFD, as encoding/json
					// reads it (and the escape after it is read on its own).
					save := d.i
					if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						d.i += 2
						if r2, ok := d.hex4(); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								b = utf8.AppendRune(b, dec)
								continue
							}
						}
					}
					d.i = save
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return nil, d.unexpected("in string escape code")
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, d.data[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return nil, errEnd
}

// hex4 reads the four hex digits of a \u escape.
func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
