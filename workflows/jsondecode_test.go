package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// referenceDecode is how DecodeJSON decoded before decodeAny: encoding/json with
// UseNumber, numbers turned into int or float64 afterwards, the depth checked first.
// decodeAny must agree with it on every input: the same value, or an error for both.
func referenceDecode(data []byte) (any, error) {
	v, err := referenceExact(data)
	if err != nil {
		return nil, err
	}
	return referenceNumbers(v)
}

// referenceExact is encoding/json with UseNumber, the depth checked first: decodeExact
// must give the same value wherever referenceDecode gives one.
func referenceExact(data []byte) (any, error) {
	if referenceDepth(data) > MaxJSONDepth {
		return nil, fmt.Errorf("JSON nests deeper than %d levels", MaxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: more data after the value")
	}
	return v, nil
}

func referenceNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return int(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %.40s is out of range", v)
		}
		return f, nil
	case map[string]any:
		for k, e := range v {
			n, err := referenceNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := referenceNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
}

func referenceDepth(data []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			d++
			if d > deepest {
				deepest = d
				if deepest > MaxJSONDepth {
					return deepest
				}
			}
		case '}', ']':
			d--
		}
	}
	return deepest
}

var jsonCases = []string{
	`{"id": 12, "amount": 10.5, "ok": true, "none": null, "list": [1, "a", [], {}]}`,
	` [1, -0, 0, -1, 9007199254740993, 9223372036854775807, 9223372036854775808, -9223372036854775808, 1.0, 1e3, 1E-2, -2.5e+3] `,
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t \u00e9 \u20AC \ud83d\ude00"`, `"lone \ud800 x"`, `"lone \udc00"`, `"pair then \ud83d\u0041"`,
	`"café 日本"`, "\"bad \xff utf8 \xe2\x82\"", `{"a": 1, "a": 2}`, `{"n": 1e400}`, `[1, -1e309]`, `123456789012345678901234567890`,
	`{"a": `, `{"a" 1}`, `{"a": 1,}`, `[1,]`, `[1 2]`, `{1: 2}`, `tru`, `nul`, `falsey`, `01`, `-`, `1.`, `1e`, `1e+`, `.5`, `+1`,
	`"unterminated`, "\"ctrl \x01\"", `"bad \x escape"`, `"\u12"`, `"\u12g4"`, `{"a": 1} trailing`, `{"a": 1}{"b": 2}`, ``, `   `,
	strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth),
	strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
	strings.Repeat(`{"a":`, MaxJSONDepth) + `1` + strings.Repeat("}", MaxJSONDepth),
	`[` + strings.Repeat(`"[",`, 100) + `1]`,
	// Keys given twice, or not: decodeUnique refuses the first one repeated once its
	// value is read, and nothing else.
	`{"x": {"b": [1, {"c": 1, "d": {"c": 2}, "c": 3}]}}`, `[{"a": 1}, {"a": 1}]`, `{"a": {"a": 1}}`,
	`{"a": 1, "\u0061": 2}`, `{"\ud800": 1, "\udc00": 2}`, `{"a": 1, "A": 2, "a ": 3}`,
	`{"a": 1, "a": {"b": 1, "b": 2}}`, `{"a": 1, "a": 2, "b": 1, "b": 2}`, `{"a": 1, "a": [1, 2] } trailing`,
	`{"a": 1, "a": tru}`, `{"a": 1, "a": 1e400}`, `{"a": 1, "a": 2,}`, `{"a": 1, "a"}`, `{"a": 1 "a": 2}`,
	strings.Repeat(`{"a":`, MaxJSONDepth-1) + `{"b": 1, "b": 2}` + strings.Repeat("}", MaxJSONDepth-1),
	strings.Repeat(`{"a":`, MaxJSONDepth) + `{"b": 1, "b": 2}` + strings.Repeat("}", MaxJSONDepth),
}

func TestDecodeJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range jsonCases {
		checkAgree(t, []byte(c))
	}
}

func checkAgree(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := referenceDecode(data)
	got, err := DecodeJSON(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %#v, encoding/json %#v", data, got, want)
	}
	// Exact, each number is the json.Number encoding/json gives, digit for digit.
	exact, exactErr := decodeExact(data)
	if (exactErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: exact: error %v, encoding/json %v", data, exactErr, wantErr)
	}
	if want, _ := referenceExact(data); exactErr == nil && !reflect.DeepEqual(exact, want) {
		t.Fatalf("%q: exact: %#v, encoding/json %#v", data, exact, want)
	}
	// decodeUnique reads what decodeAny reads, but refuses a key given twice (found
	// as soon as its value is read: JSON malformed after it is refused for the key),
	// and only that: it refuses for a duplicate exactly when encoding/json's tokens
	// hold one, and otherwise agrees with decodeAny.
	unique, uniqueErr := decodeUnique(data)
	var dup *duplicateKeyError
	isDup := errors.As(uniqueErr, &dup)
	wantDup, found := referenceDuplicate(data)
	switch {
	case isDup != found:
		t.Fatalf("%q: decodeUnique %v, a duplicate key in encoding/json's tokens: %v", data, uniqueErr, found)
	case isDup && dup.Key != wantDup:
		t.Fatalf("%q: decodeUnique refuses key %q, encoding/json's tokens repeat %q first", data, dup.Key, wantDup)
	case isDup:
	case (uniqueErr == nil) != (err == nil) || err != nil && uniqueErr.Error() != err.Error():
		t.Fatalf("%q: decodeUnique %v, decodeAny %v", data, uniqueErr, err)
	case err == nil && !reflect.DeepEqual(unique, got):
		t.Fatalf("%q: decodeUnique %#v, decodeAny %#v", data, unique, got)
	}
}

// referenceDuplicate walks data's tokens with encoding/json's Decoder.Token, a set of
// the keys read for each object open (a stack), and reports the first key an object
// holds twice, as decodeUnique finds it: once the second one's value is read whole,
// everything before it valid (its syntax, its numbers in range, its depth). found is
// false for JSON with no such key, and for JSON found invalid first.
func referenceDuplicate(data []byte) (key string, found bool) {
	type object struct {
		keys    map[string]bool
		key     bool   // a key comes next, or the end
		pending string // a key read twice, whose value is being read
		dup     bool
	}
	var stack []*object // nil for an array
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// done is called as a value ends: in an object, its key's.
	done := func() bool {
		if len(stack) == 0 {
			return false
		}
		if o := stack[len(stack)-1]; o != nil {
			if o.dup {
				return true
			}
			o.key = true
		}
		return false
	}
	for started := false; !started || len(stack) > 0; started = true {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := (*object)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if len(stack) >= MaxJSONDepth {
					return "", false
				}
				o := (*object)(nil)
				if tok == '{' {
					o = &object{keys: map[string]bool{}, key: true}
				}
				stack = append(stack, o)
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if top != nil && top.key {
				top.dup, top.pending, top.key = top.keys[tok], tok, false
				top.keys[tok] = true
				continue
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(tok), 64); err != nil {
				return "", false // out of range
			}
		}
		if done() {
			return stack[len(stack)-1].pending, true
		}
	}
	return "", false
}

// FuzzDecodeJSON: decodeAny and encoding/json agree on arbitrary input, and
// decodeUnique refuses the keys encoding/json's tokens repeat, and no other; run with
// go test ./workflows -run XXX -fuzz FuzzDecodeJSON -fuzztime 1m.
func FuzzDecodeJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkAgree(t, data) })
}

func BenchmarkDecodeJSON(b *testing.B) {
	data := []byte(`{"id":"evt_1Nq","type":"payment_intent.succeeded","created":1764650000,"livemode":false,"data":{"object":{"id":"pi_3N","amount":1999,"currency":"eur","customer":"cus_9s6","description":"Order #1042 — café","metadata":{"order_id":"1042","channel":"web"},"charges":[{"id":"ch_1","paid":true,"amount":1999,"fee":0.29}]}},"request":{"id":null,"idempotency_key":"a1b2"}}`)
	// unique is how a webhook's body is decoded: an object's keys checked to differ.
	for _, name := range []string{"hookflow", "unique", "encoding/json"} {
		decode := DecodeJSON
		switch name {
		case "unique":
			decode = decodeUnique
		case "encoding/json":
			decode = referenceDecode
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for range b.N {
				if _, err := decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
