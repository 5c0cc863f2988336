package workflows

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// A function or an operator given a value it does not take says which value, what it
// was, what was needed and, for a nil, where it went missing, pointing at the call:
// never Go's "interface conversion" or "reflect" words.
func TestRunTimeTypeErrors(t *testing.T) {
	env := testEnv()
	env.Steps["list"] = map[string]any{"body": map[string]any{
		"items": []any{map[string]any{"id": "a"}, map[string]any{"name": "b"}},
		"none":  nil, "count": 3,
	}}
	env.Steps["each"] = map[string]any{"a": map[string]any{"outcome": "succeeded"}} // a for_each over a map
	tests := []struct{ src, want string }{
		{`{{ join(map(steps.list.body.items, .id), ",") }}`,
			`map(steps.list.body.items, #.id)[1] is nil (steps.list.body.items[1]: no field id), where join needs a string (1:2)`},
		{`{{ join(map(steps.list.body.items, #.id)) }}`,
			`map(steps.list.body.items, #.id)[1] is nil (steps.list.body.items[1]: no field id), where join needs a string`},
		{`{{ upper(steps.list.body.title) }}`,
			`steps.list.body.title is nil (steps.list.body: no field title), where upper needs a string (1:2)`},
		{`{{ lower(steps.list.body.items[1].id) }}`,
			`steps.list.body.items[1].id is nil (steps.list.body.items[1]: no field id), where lower needs a string`},
		{`{{ sha256(steps.list.body.none) }}`,
			`steps.list.body.none is nil (steps.list.body.none is null), where sha256 needs a string`},
		{`{{ replace(steps.list.body.count, "a", "b") }}`,
			`steps.list.body.count is a number, where replace needs a string`},
		{`{{ trim(steps.list.body.items[0]) }}`,
			`steps.list.body.items[0] is an object, where trim needs a string`},
		{`{{ filter(steps.list.body.tags, # == "x") }}`,
			`steps.list.body.tags is nil (steps.list.body: no field tags), where filter needs a list`},
		{`{{ int(steps.list.body.none) }}`,
			`steps.list.body.none is nil (steps.list.body.none is null), where int needs a number or a string (1:2)`},
		{`{{ float(steps.list.body.items[0]) }}`,
			`steps.list.body.items[0] is an object, where float needs a number or a string`},
		{`{{ join(steps.list.body.tags, ",") }}`,
			`steps.list.body.tags is nil (steps.list.body: no field tags), where join needs a list of strings (1:2)`},
		{`{{ keys(steps.list.body.none) }}`,
			`steps.list.body.none is nil (steps.list.body.none is null), where keys needs an object`},
		{`{{ values(steps.list.body.items) }}`,
			`steps.list.body.items is a list, where values needs an object`},
		{`{{ len(steps.list.body.tags) }}`,
			`steps.list.body.tags is nil (steps.list.body: no field tags), where len needs a string, a list or an object`},
		{`{{ round(steps.list.body.none) }}`,
			`steps.list.body.none is nil (steps.list.body.none is null), where round needs a number`},
		{`{{ map(steps.each, .outcome) }}`,
			`steps.each is an object, where map needs a list (values() gives an object's values as one)`},
		{`{{ all(steps.each, .outcome == "succeeded") }}`,
			`steps.each is an object, where all needs a list`},
		{`{{ sum(steps.each) }}`,
			`steps.each is an object, where sum needs a list`},
		{`{{ steps.list.body.none + 1 }}`,
			`steps.list.body.none is nil (steps.list.body.none is null): invalid operation: <nil> + int (1:`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := compileT(t, tt.src).Render(env)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error\n  %s\nlacks\n  %s", msg, tt.want)
			}
			if strings.Contains(msg, "interface conversion") || strings.Contains(msg, "reflect") ||
				strings.Contains(msg, "%!") || strings.Contains(msg, "invalid argument") || strings.Contains(msg, "from invalid") {
				t.Errorf("Go's words leak:\n%s", msg)
			}
			if !strings.Contains(msg, "\n | ") {
				t.Errorf("the error does not point at the expression:\n%s", msg)
			}
		})
	}
	// int() of a text that is no number quotes the text, which is no type.
	if _, err := compileT(t, `{{ int("12a") }}`).Render(env); err == nil || !strings.Contains(err.Error(), "int(12a)") {
		t.Errorf("int of a text that is no number: %v", err)
	}
	// The cause is kept, for whoever classifies the error.
	_, err := compileT(t, `{{ upper(steps.list.body.none) }}`).Render(env)
	if tae := (*runtime.TypeAssertionError)(nil); !errors.As(err, &tae) {
		t.Errorf("the cause is lost: %v", err)
	}
	// A condition says the same.
	c, diags := compileCondition(`upper(steps.list.body.title) == "ADA"`, location{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, err := c.Eval(env); err == nil || !strings.Contains(err.Error(), "steps.list.body.title is nil (steps.list.body: no field title), where upper needs a string") {
		t.Errorf("condition: %v", err)
	}
}

// string(x) is x as a template writes it in text: nil as "", not Go's "<nil>"; an
// object or a list as JSON, not Go's map[a:1] or [1 a]; a date as RFC 3339.
func TestStringAsText(t *testing.T) {
	env := &Env{Event: map[string]any{"body": map[string]any{
		"n": 12.5, "i": 3, "big": 1e21,
		"m": map[string]any{"a": 1.0, "b": "x<y"}, "l": []any{1.0, "a", nil},
	}}}
	for in, want := range map[string]any{
		"{{ string(event.body.m) }}":                 `{"a":1,"b":"x<y"}`,
		"{{ string(event.body.l) }}":                 `[1,"a",null]`,
		"{{ string(event.body.big) }}":               "1e+21",
		"{{ string(true) }}":                         "true",
		"{{ string(date('2026-12-05T10:00:00Z')) }}": "2026-12-05T10:00:00Z",
		"{{ string(duration('90m')) }}":              "1h30m0s",
		"{{ string('as is') }}":                      "as is",
		"{{ string(event.body.missing) }}":           "",
		"x{{ string(event.body.missing) }}y":         "xy",
		"{{ string(nil) == '' }}":                    true,
		"{{ string(event.body.n) }}":                 "12.5",
		"{{ string(event.body.i) + '!' }}":           "3!",
		"{{ len(string(event.body.missing)) }}":      0,
		"{{ upper(string(event.body.missing)) }}":    "",
	} {
		got, err := compileT(t, in).Render(env)
		if err != nil || got != want {
			t.Errorf("%s: %#v, %v; want %#v", in, got, err, want)
		}
	}
}
