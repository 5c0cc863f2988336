package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func testEnv() *Env {
	return &Env{
		Event: map[string]any{"body": map[string]any{
			"n":    3,
			"name": "Ada",
			"obj":  map[string]any{"a": 1},
			"list": []any{1, "two"},
			"ok":   true,
		}},
		Steps: map[string]any{"first": map[string]any{"status": 200, "body": map[string]any{"id": "c_1"}}},
		Vars:  map[string]any{"base": "https://api.example.com"},
		Run:   map[string]any{"id": "r1"},
	}
}

func compileT(t *testing.T, v any) *Template {
	t.Helper()
	tpl, diags := compileTemplate(v, location{})
	if diags.HasErrors() {
		t.Fatalf("compile %v: %s", v, diags.Error())
	}
	return tpl
}

func TestTemplateRender(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"plain text stays text", "hello", "hello"},
		{"single expression keeps its number type", "{{ event.body.n }}", 3},
		{"single expression keeps its bool type", "{{event.body.ok}}", true},
		{"single expression keeps its object type", "{{ event.body.obj }}", map[string]any{"a": 1}},
		{"single expression keeps its list type", "{{ event.body.list }}", []any{1, "two"}},
		{"arithmetic", "{{ event.body.n * 100 }}", 300},
		{"division gives a float", "{{ 7 / 2 }}", 3.5},
		{"joined text", "n={{ event.body.n }}, name={{ event.body.name }}", "n=3, name=Ada"},
		{"nil joins as empty", "x{{ event.body.missing }}y", "xy"},
		{"objects join as JSON", "obj={{ event.body.obj }}", `obj={"a":1}`},
		{"lists join as JSON", "l={{ event.body.list }}", `l=[1,"two"]`},
		{"whole floats join without a fraction", "{{ 10 / 2 }} items", "5 items"},
		{"earlier step output", "{{ vars.base }}/customers/{{ steps.first.body.id }}", "https://api.example.com/customers/c_1"},
		{"braces inside the expression", "{{ {'a': {'b': 1}} }}", map[string]any{"a": map[string]any{"b": 1}}},
		{"closing braces inside a string", "{{ '}}' }}", "}}"},
		{"a literal opening", `{{ "{{" }} literal`, "{{ literal"},
		{"nil coalescing", "{{ event.body.missing ?? 'unknown' }}", "unknown"},
		{"a field of nil is nil", "{{ event.body.missing.x.y }}", nil},
		{"a field of nil joins as empty", "x{{ event.body.missing.x }}y", "xy"},
		{"an index of nil is nil", "{{ event.body.missing[0].id }}", nil},
		{"a field of nil, coalesced", "{{ event.body.missing.x ?? 'unknown' }}", "unknown"},
		{"a field of nil, written ?.", "{{ event.body.missing?.x.y ?? 'unknown' }}", "unknown"},
		{"deep object", map[string]any{"id": "{{ run.id }}", "fixed": int(1), "nested": map[string]any{"n": "{{ event.body.n }}"}},
			map[string]any{"id": "r1", "fixed": 1, "nested": map[string]any{"n": 3}}},
		{"list of templates", []any{"{{ event.body.n }}", "x"}, []any{3, "x"}},
		{"numbers and nil pass through", nil, nil},
		{"a map groupBy gives has its keys as text", "{{ groupBy([{'k': 'a', 'n': 1}, {'k': 2, 'n': 2}], .k) }}",
			map[string]any{"a": []any{map[string]any{"k": "a", "n": 1}}, "2": []any{map[string]any{"k": 2, "n": 2}}}},
		{"and in a list", "{{ [groupBy([1], # % 2)] }}", []any{map[string]any{"1": []any{1}}}},
		{"joined, it is JSON", "g={{ groupBy([1], # % 2) }}", `g={"1":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compileT(t, tt.in).Render(testEnv())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestTemplateConstFolding(t *testing.T) {
	tpl := compileT(t, map[string]any{"a": "x", "b": []any{int(1), "y"}})
	v, ok := tpl.Const()
	if !ok {
		t.Fatal("an object without {{ }} should be constant")
	}
	if !reflect.DeepEqual(v, map[string]any{"a": "x", "b": []any{1, "y"}}) {
		t.Errorf("got %#v", v)
	}
	if _, ok := compileT(t, map[string]any{"a": "{{ run.id }}"}).Const(); ok {
		t.Error("an object with {{ }} should not be constant")
	}
}

func TestTemplateRenderError(t *testing.T) {
	_, err := compileT(t, "{{ event.body.name.first.x }}").Render(testEnv())
	if err == nil || !strings.Contains(err.Error(), "event.body.name.first.x") {
		t.Errorf("error should name the expression, got %v", err)
	}
}

// plain keeps a nil map or list of another type as nil, and a key of a named string
// type as its text.
func TestPlainCopyEdges(t *testing.T) {
	type name string
	for _, c := range []struct {
		in   any
		want string
	}{
		{[]string(nil), "<nil>"},
		{map[any][]any(nil), "<nil>"},
		{map[name]int{"a": 1}, "map[a:1]"},
		{map[any]any{name("k"): map[string]any(nil), "l": []any(nil)}, "map[k:map[] l:[]]"},
		{[]int{1, 2}, "[1 2]"},
	} {
		got, err := plain(c.in)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%#v: %v %v, want %s", c.in, got, err, c.want)
		}
		if m, ok := got.(map[string]any); ok && len(m) == 2 {
			if data, _ := json.Marshal(m); string(data) != `{"k":null,"l":null}` {
				t.Errorf("%#v as JSON: %s, want the nil map and list as null and the key as its text", c.in, data)
			}
		}
	}
}

// A number JSON cannot hold fails the render, wherever it is in the value, and in
// text as in a whole value: a run keeps its steps' values as JSON, and text sent with
// +Inf, or a list written as Go writes it, is no value the receiver reads.
func TestTemplateRenderNoJSONNumber(t *testing.T) {
	for _, in := range []string{
		"{{ 1 / event.body.zero }}", "{{ {'a': [1, -1 / event.body.zero]} }}", "{{ groupBy([1 / event.body.zero], 'k') }}",
		"x{{ 1 / event.body.zero }}", "x{{ [1, 1 / event.body.zero] }}", "x{{ {'k': 1 / event.body.zero} }}",
		"x{{ 0 / event.body.zero }}", "x{{ groupBy([1 / event.body.zero], 'k') }}",
	} {
		env := testEnv()
		env.Event = map[string]any{"body": map[string]any{"zero": 0}}
		tpl := compileT(t, in)
		out, err := tpl.Render(env)
		if err == nil || !strings.Contains(err.Error(), "which is no number JSON holds") || !strings.HasPrefix(err.Error(), "{{ ") {
			t.Errorf("%s: %#v, %v", in, out, err)
		}
		if s, err := tpl.RenderString(env); err == nil {
			t.Errorf("%s as text: %q", in, s)
		}
	}
	env := &Env{Event: map[string]any{"body": map[string]any{"zero": 0}}}
	for _, in := range []string{"https://x.test/a/{{ 1 / event.body.zero }}", "https://x.test/a?q={{ [0 / event.body.zero] }}"} {
		tpl := compileT(t, in)
		if u, err := tpl.RenderURL(env); err == nil || !strings.Contains(err.Error(), "which is no number JSON holds") {
			t.Errorf("%s: %q, %v", in, u, err)
		}
	}
}

// A duration is its text as Go writes it, as a whole value and in text alike, at any
// depth: as duration() and a delay step's duration read it back.
func TestTemplateRenderDuration(t *testing.T) {
	for in, want := range map[string]any{
		"{{ duration('1h30m') }}":                "1h30m0s",
		"d={{ duration('1h30m') }}":              "d=1h30m0s",
		"{{ [duration('1s')] }}":                 []any{"1s"},
		"{{ {'d': duration('1s')} }}":            map[string]any{"d": "1s"},
		"l={{ [duration('1s')] }}":               `l=["1s"]`,
		"{{ duration(string(duration('2m'))) }}": "2m0s",
	} {
		got, err := compileT(t, in).Render(&Env{})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, %v; want %#v", in, got, err, want)
		}
	}
}

func TestTemplateCompileErrors(t *testing.T) {
	tests := []struct {
		value   string
		summary string
		col     int // where the diagnostic starts, in the line x = "VALUE"
	}{
		// The value starts at column 6, after `x = "`.
		{"id={{ event.body.id + }}", "Invalid expression", 27},
		{"id={{ event.body.id", "Unclosed {{", 9},
		{"id={{   }}", "Empty {{ }}", 9},
		{"{{ upper(event.body.name }}", "Invalid expression", 30}, // where the ) is missing
		{"{{ event.body.x[0 }}", "Invalid expression", 23},
		{"{{ event.body.name ) }}", "Invalid expression", 25},
		{"a {{ 1 }} b {{ evnt.body }}", `Unknown name "evnt"`, 21},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			src := []byte(`x = "` + tt.value + `"`)
			rng := hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: 1, Column: 5, Byte: 4},
				End: hcl.Pos{Line: 1, Column: len(src) + 1, Byte: len(src)}}
			_, diags := compileTemplate(tt.value, location{rng: rng, src: src})
			if !diags.HasErrors() {
				t.Fatal("want an error")
			}
			d := diags[0]
			if d.Summary != tt.summary {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tt.summary, d.Detail)
			}
			if d.Subject.Start.Column != tt.col || d.Subject.Start.Line != 1 {
				t.Errorf("at %d:%d, want 1:%d", d.Subject.Start.Line, d.Subject.Start.Column, tt.col)
			}
		})
	}
}

func TestExprEnd(t *testing.T) {
	tests := map[string]int{
		" a }}":               3,
		" {'a': 1} }}":        10,
		` "}}" }}`:            6,
		` 'it\'s' }}`:         9,
		" `}}` }}":            6,
		" a ":                 -1,
		" {'a': {'b': 1}} }}": 17,
	}
	for in, want := range tests {
		if got := exprEnd(in); got != want {
			t.Errorf("exprEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""}, {"s", "s"}, {true, "true"}, {42, "42"}, {int64(-7), "-7"}, {2.5, "2.5"},
		{map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`}, {[]any{1, nil}, "[1,null]"},
		// Floats as JSON writes them; whole numbers digit for digit.
		{0.1, "0.1"}, {12.5, "12.5"}, {5.0, "5"}, {-0.25, "-0.25"}, {1e20, "100000000000000000000"},
		{1e21, "1e+21"}, {1.5e300, "1.5e+300"}, {1e-7, "1e-7"}, {-2.5e-8, "-2.5e-8"}, {0.000001, "0.000001"},
		{int64(9007199254740993), "9007199254740993"}, {math.MaxInt64, "9223372036854775807"},
		{[]any{1e21, 0.5}, "[1e+21,0.5]"},
		// A duration as Go writes it, alone or in a list, as a whole value is kept.
		{90 * time.Minute, "1h30m0s"}, {[]any{time.Second}, `["1s"]`},
		// Numbers JSON cannot hold, for messages: as Go writes them.
		{math.Inf(1), "+Inf"}, {math.NaN(), "NaN"}, {[]any{1, math.Inf(-1)}, `[1,"-Inf"]`},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConstantExpressionsFoldIntoText(t *testing.T) {
	for in, want := range map[string]string{
		`x{{ 'y' }}z`:               "xyz",
		`{{ "{{" }} literal }}`:     "{{ literal }}",
		`a{{ "{{" }}b{{ "{" }}`:     "a{{b{",
		literal("p4ss{{w0rd}}x{"):   "p4ss{{w0rd}}x{",
		literal("{{ name }} and {"): "{{ name }} and {",
	} {
		tpl := compileT(t, in)
		if v, ok := tpl.Const(); !ok || v != want {
			t.Errorf("%q: %v %v, want constant %q", in, v, ok, want)
		}
	}
}

func TestLoadTimeValuesAreNotTemplates(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_BRACES", "p4ss{{w0rd}}x")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "welcome.txt"), []byte("Hello {{ name }}!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `workflow "w" {
  filter = "event.body.msg contains '{{'"
  step "call" "a" {
    url     = "https://x"
    headers = { Authorization = "Bearer ${secret("HOOKFLOW_TEST_BRACES")}", Id = "{{ event.body.id }}" }
    json    = { text = file("welcome.txt"), env = env("HOOKFLOW_TEST_BRACES") }
  }
}`
	if err := os.WriteFile(filepath.Join(dir, "w.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, _ := ReadDir(dir)
	set, diags := Load(srcs, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env := &Env{Event: map[string]any{"body": map[string]any{"id": 7, "msg": "a {{ b"}}}
	if ok, err := set.Workflow("w").Filter.Eval(env); !ok || err != nil {
		t.Errorf("filter with '{{': %v %v", ok, err)
	}
	out, err := set.Workflow("w").Steps[0].Action.Do(context.Background(), &Call{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if h := m["headers"].(map[string]any); h["Authorization"] != "Bearer p4ss{{w0rd}}x" || h["Id"] != 7 {
		t.Errorf("headers %v", h)
	}
	if j := m["json"]; !reflect.DeepEqual(j, map[string]any{"text": "Hello {{ name }}!", "env": "p4ss{{w0rd}}x"}) {
		t.Errorf("json %v", j)
	}
}

// A var written in the file is put in place by ${}: a {{ }} in its value is a template
// there, as language.md says; {{ vars.x }} reads its value, braces and all.
func TestVarTextIsATemplateWhereItIsPut(t *testing.T) {
	src := `vars {
  mail = "{{ event.body.mail }}"
}
workflow "w" {
  step "call" "a" {
    url  = "https://x"
    json = { put = "${vars.mail}/send", read = "{{ vars.mail }}/send" }
  }
}`
	set, diags := Load([]Source{{Name: "w.hcl", Data: []byte(src)}}, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env := &Env{Event: map[string]any{"body": map[string]any{"mail": "mail.example.com"}},
		Vars: set.Workflow("w").Vars}
	out, err := set.Workflow("w").Steps[0].Action.Do(context.Background(), &Call{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"put": "mail.example.com/send", "read": "{{ event.body.mail }}/send"}
	if j := out.(map[string]any)["json"]; !reflect.DeepEqual(j, want) {
		t.Errorf("json %v, want %v", j, want)
	}
}

// A var read by env(), secret() or file() holds the text as it was read: "{{ vars.x }}",
// len(vars.x) and a comparison read it braces and all, while "${vars.x}" puts it in
// place as text, never as a template.
func TestVarReadFromTheEnvironmentIsItsText(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_VAR_E", "{{ 1+1 }}")
	t.Setenv("HOOKFLOW_TEST_VAR_S", "s{{ 2+2 }}ecret{")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("{{ x }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `vars {
  e  = env("HOOKFLOW_TEST_VAR_E")
  s  = secret("HOOKFLOW_TEST_VAR_S")
  fl = file("f.txt")
  o  = { e = env("HOOKFLOW_TEST_VAR_E") }
}
workflow "w" {
  step "call" "a" {
    url  = "https://x"
    json = {
      e = "{{ vars.e }}", in = "<{{ vars.e }}>", s = "{{ vars.s }}", fl = "{{ vars.fl }}", o = "{{ vars.o.e }}",
      len = "{{ len(vars.e) }}", eq = "{{ vars.e == '{{ 1+1 }}' }}",
      put = "<${vars.e}>", puts = "${vars.s}", putfl = "${vars.fl}"
    }
  }
}`
	if err := os.WriteFile(filepath.Join(dir, "w.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, _ := ReadDir(dir)
	set, diags := Load(srcs, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("w")
	wantVars := map[string]any{"e": "{{ 1+1 }}", "s": "s{{ 2+2 }}ecret{", "fl": "{{ x }}", "o": map[string]any{"e": "{{ 1+1 }}"}}
	if !reflect.DeepEqual(wf.Vars, wantVars) {
		t.Errorf("vars %v, want %v", wf.Vars, wantVars)
	}
	out, err := wf.Steps[0].Action.Do(context.Background(), &Call{Env: &Env{Vars: wf.Vars}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"e": "{{ 1+1 }}", "in": "<{{ 1+1 }}>", "s": "s{{ 2+2 }}ecret{", "fl": "{{ x }}", "o": "{{ 1+1 }}",
		"len": 9, "eq": true, "put": "<{{ 1+1 }}>", "puts": "s{{ 2+2 }}ecret{", "putfl": "{{ x }}"}
	if j := out.(map[string]any)["json"]; !reflect.DeepEqual(j, want) {
		t.Errorf("json %v,\nwant %v", j, want)
	}
	if got := wf.Secrets.String(`sent "s{{ 2+2 }}ecret{"`); strings.Contains(got, "ecret") {
		t.Errorf("the secret is not hidden: %s", got)
	}
}
