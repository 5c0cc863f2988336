package workflows

import (
	"reflect"
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
