package workflows

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Hide replaces whole each string that holds a hidden value, however encoded, and
// keeps the rest of the value as it was: a value that holds none is never hidden.
func TestHideReplacesTheStringsThatHoldAValue(t *testing.T) {
	r := (*Redactor)(nil).Plus("tok-5e4f9a2b7c").Encoded()
	in := map[string]any{
		"token":  "tok-5e4f9a2b7c",
		"header": "Bearer tok-5e4f9a2b7c",
		"url":    "https://x.test/?t=tok-5e4f9a2b7c",
		"list":   []any{"plain-value", int64(42), true, nil, map[string]any{"deep": "tok-5e4f9a2b7c"}},
		"plain":  "plain-value",
	}
	got, hid := r.Hide(in, SensitiveShown)
	want := map[string]any{
		"token":  SensitiveShown,
		"header": SensitiveShown,
		"url":    SensitiveShown,
		"list":   []any{"plain-value", int64(42), true, nil, map[string]any{"deep": SensitiveShown}},
		"plain":  "plain-value",
	}
	if !hid || !reflect.DeepEqual(got, want) {
		t.Errorf("Hide = %v, %v; want %v, true", got, hid, want)
	}
	if in["token"] != "tok-5e4f9a2b7c" {
		t.Error("Hide changed the value it was given")
	}
	plain := map[string]any{"a": "plain-value", "n": []any{int64(1)}}
	if got, hid := r.Hide(plain, SensitiveShown); hid || !reflect.DeepEqual(got, plain) {
		t.Errorf("Hide of a value holding none = %v, %v", got, hid)
	}
	if got, hid := (*Redactor)(nil).Hide("tok-5e4f9a2b7c", SensitiveShown); hid || got != "tok-5e4f9a2b7c" {
		t.Errorf("a nil redactor hid %v", got)
	}
}

// The items of a sensitive for_each step are outputs of their own: their outcome and
// an http item's headers are no secrets, as a step's are not.
func TestSensitiveValuesOfForEachItems(t *testing.T) {
	item := func(v string) any {
		return map[string]any{"outcome": "succeeded", "headers": map[string]any{"content-type": "application/json"},
			"body": map[string]any{"token": v}}
	}
	for _, tc := range []struct {
		name    string
		v       any
		forEach bool
		want    []string
	}{
		{"a step", item("tok-one"), false, []string{"tok-one"}},
		{"a list's items", []any{item("tok-one"), item("tok-two")}, true, []string{"tok-one", "tok-two"}},
		{"a map's items", map[string]any{"a": item("tok-one")}, true, []string{"tok-one"}},
		{"a set step's items", []any{map[string]any{"outcome": "succeeded", "v": "value-x"}}, true, []string{"value-x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SensitiveValues(tc.v, tc.forEach, nil)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A secret is found in the forms quoting gives it in text, escaped in a JSON string
// or quoted by Go's %q and a text log line, by the redactor itself, not only by its
// Encoded one.
func TestRedactorFindsQuotedForms(t *testing.T) {
	secret := "pem-5e4f\n\"q\"\\x\x01<&>"
	r := (*Redactor)(nil).Plus(secret)
	quoted, _ := json.Marshal(secret)
	for name, text := range map[string]string{
		"as it is":     "a " + secret + " b",
		"json":         `{"k":` + string(quoted) + `}`,
		"json as sent": `{"k":"pem-5e4f\n\"q\"\\x\u0001<&>"}`,
		"go quoted":    fmt.Sprintf("bad %q", "a "+secret),
	} {
		if got := r.String(text); strings.Contains(got, "5e4f") || !strings.Contains(got, Redacted) {
			t.Errorf("%s: %q", name, got)
		}
	}
	if got := r.String(`pem-5e4f only`); got != `pem-5e4f only` {
		t.Errorf("a piece of the secret is redacted: %q", got)
	}
}
