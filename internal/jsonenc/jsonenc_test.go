package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/jsonenc"
	"github.com/hookflow/hookflow/workflows"
)

// stdlib is v as encoding/json writes it: Marshal with escapeHTML, else an Encoder
// with SetEscapeHTML(false), less its newline.
func stdlib(v any, escapeHTML bool) ([]byte, error) {
	if escapeHTML {
		return json.Marshal(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// same fails unless Append writes v as encoding/json does, both ways, and errs when it
// does.
func same(t *testing.T, v any) {
	t.Helper()
	for _, html := range []bool{true, false} {
		want, wantErr := stdlib(v, html)
		got, err := jsonenc.Append([]byte("x"), v, html)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("escapeHTML %v: %#v: error %v, encoding/json's %v", html, v, err, wantErr)
		}
		if err != nil {
			if err.Error() != wantErr.Error() {
				t.Errorf("escapeHTML %v: %#v: error %q, encoding/json's %q", html, v, err, wantErr)
			}
			continue
		}
		if string(got) != "x"+string(want) {
			t.Errorf("escapeHTML %v: %#v:\n got %s\nwant x%s", html, v, got, want)
		}
	}
}

func TestAppendAsEncodingJSON(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	for _, v := range []any{
		nil, "", "plain", `"quoted" \ back`, "<a href='x'>&amp;</a>", "tab\tnew\nline\rcr\bbs\fff",
		"\x00\x01\x1f\x7f", "é ü 日本 😀", "\u2028 and \u2029", "bad \xff utf8 \xe2\x82", "\xed\xa0\x80",
		true, false, 0, -1, 42, int64(math.MaxInt64), int64(math.MinInt64), int32(-7), uint64(math.MaxUint64),
		0.0, math.Copysign(0, -1), 1.5, -2.25, 1e20, 1e21, 123456789e15, 1e-6, 1e-7, 0.000001234, 1.7976931348623157e308,
		5e-324, 3.0, 1e100, -1e-100, math.NaN(), math.Inf(1), math.Inf(-1),
		map[string]any{}, map[string]any(nil), []any{}, []any(nil), map[string]string(nil), []string(nil),
		map[string]any{"b": 1, "a": []any{"x", 2.5, nil, true, map[string]any{"z": "<", "y": []any{}}}, "": "empty key", "é": 1, "B": 2},
		map[string]string{"content-type": "application/json", "x-b": "2", "x-a": "<1>"},
		[]string{"a", "<b>"}, map[string][]string{"q": {"1", "2"}, "e": nil},
		map[string]any{"t": time.Date(2026, 12, 2, 21, 0, 0, 5, time.UTC), "p": point{X: 3}, "n": json.Number("12.5")},
		map[string]any{"bad": math.Inf(1)}, []any{1, math.NaN()}, float32(1.1), uint8(3),
	} {
		same(t, v)
	}
}

func TestAppendDeepTree(t *testing.T) {
	var v any = "leaf"
	for range 500 {
		v = map[string]any{"k": []any{v}}
	}
	same(t, v)
}

func TestAppendCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	if _, err := jsonenc.Marshal(m); err == nil {
		t.Error("a map holding itself was encoded")
	}
}

// Any JSON, decoded as hookflow decodes it, encodes as encoding/json encodes the same
// tree.
func FuzzAppendDecoded(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,"x"],"c":{"d":1.5e-9,"e":"<\u2028>"}}`,
		`[1, 2.0, -0, 1e21, 123456789012345678901234567890, "\ud800"]`,
		`"\u0000\u001f\"\\/"`,
		`{"z":{},"y":[],"x":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := workflows.DecodeJSON(data)
		if err != nil {
			return
		}
		same(t, v)
	})
}

// Any string escapes as encoding/json escapes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "<&>", "\x00\n\t\"\\", "\u2028\u2029", "\xff\xfe", "日本語", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		same(t, s)
		same(t, map[string]any{s: s})
	})
}

// Any float64 is written as encoding/json writes it.
func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, 1, -1.5, 1e-7, 1e21, 9.999999e20, 1e-6, 5e-324, math.MaxFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		same(t, x)
	})
}

// An http step's output: a Stripe event's body, decoded, with a status and headers.
func BenchmarkAppend(b *testing.B) {
	data, err := os.ReadFile("testdata/stripe.json")
	if err != nil {
		b.Fatal(err)
	}
	body, err := workflows.DecodeJSON(data)
	if err != nil {
		b.Fatal(err)
	}
	output := map[string]any{"status": 200, "body": body, "headers": map[string]any{
		"Content-Type": "application/json", "Date": "Wed, 02 Dec 2026 21:37:43 GMT", "Request-Id": "req_8Qz1"}}
	b.Run("jsonenc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonenc.Marshal(output); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(output); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type appender struct{ s string }

func (a appender) AppendJSON(b []byte, escapeHTML bool) []byte {
	return append(jsonenc.AppendString(append(b, `{"s":`...), a.s, escapeHTML), '}')
}

// A value that writes its own JSON is asked to, with the escaping Append was given.
func TestAppender(t *testing.T) {
	v := map[string]any{"a": appender{"<x>"}}
	for html, want := range map[bool]string{true: `{"a":{"s":"\u003cx\u003e"}}`, false: `{"a":{"s":"<x>"}}`} {
		if got, err := jsonenc.Append(nil, v, html); err != nil || string(got) != want {
			t.Errorf("escapeHTML %v: %s, %v; want %s", html, got, err, want)
		}
	}
}
