package workflows

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestParseBody(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		want                    any
	}{
		{"json", "application/json", `{"id": 12, "amount": 10.5, "ok": true}`, map[string]any{"id": 12, "amount": 10.5, "ok": true}},
		{"json with charset", "application/json; charset=utf-8", `[1, "a"]`, []any{1, "a"}},
		{"vendor json", "application/vnd.github+json", `{"a": null}`, map[string]any{"a": nil}},
		{"form", "application/x-www-form-urlencoded", "text=hi+there&tag=a&tag=b", map[string]any{"text": "hi there", "tag": []any{"a", "b"}}},
		{"form that is JSON (curl -d)", "application/x-www-form-urlencoded", `{"name":"Ada"}`, map[string]any{"name": "Ada"}},
		{"no content type, JSON", "", ` {"a": 1}`, map[string]any{"a": 1}},
		{"no content type, text", "", "hello", "hello"},
		{"text", "text/plain", `{"not": "parsed"}`, `{"not": "parsed"}`},
		{"other types are text", "application/xml", "<a/>", "<a/>"},
		{"empty body", "application/json", "  ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBody(tt.contentType, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseBodyErrors(t *testing.T) {
	for _, tt := range []struct{ contentType, body string }{
		{"application/json", `{"a": `},
		{"application/json", `{"a": 1} trailing`},
		{"application/json", `{"a": 1}{"b": 2}`},
		{"application/json", strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)},
		{"application/json;;", `{}`},
		{"application/json", `{"total": 1e400}`},
		{"application/json", `[1, -1e309]`},
		{"application/json", "{\"name\": \"caf\xe9\"}"}, // Latin-1, not UTF-8
		{"application/cloudevents+json", "[\"\xff\"]"},
		{"application/x-www-form-urlencoded", "name=caf%E9"},
		{"application/x-www-form-urlencoded", `{"name":"Ada",email:"x"}`},
		{"application/x-www-form-urlencoded", " [1, 2"},
	} {
		if _, err := ParseBody(tt.contentType, []byte(tt.body)); !errors.Is(err, ErrBody) {
			t.Errorf("ParseBody(%q, %.20q) = %v, want ErrBody", tt.contentType, tt.body, err)
		}
	}
}

// A JSON-looking body that is not UTF-8, sent without a JSON content type, is not
// read as JSON (which would replace its bytes): it is refused as not text.
func TestParseBodyNotUTF8(t *testing.T) {
	for _, ct := range []string{"", "application/x-www-form-urlencoded"} {
		if _, err := ParseBody(ct, []byte("{\"a\": \"\xff\"}")); !errors.Is(err, ErrNotText) && !errors.Is(err, ErrBody) {
			t.Errorf("content type %q: %v, want it refused", ct, err)
		}
	}
}

func TestDecodeJSONNumbers(t *testing.T) {
	got, err := DecodeJSON([]byte(`{"id": 9007199254740993, "neg": -3, "f": 0.1, "e": 1e3, "big": 123456789012345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["id"] != 9007199254740993 || m["neg"] != -3 || m["f"] != 0.1 || m["e"] != 1000.0 {
		t.Errorf("numbers: %#v", m)
	}
	if _, ok := m["big"].(float64); !ok {
		t.Errorf("an integer beyond 64 bits should become a float, got %T", m["big"])
	}
}

// ExactBody parses a body as Body is parsed, by its content type, but keeps each
// number of a JSON body as it was written, where Body holds a float64 for one past 64
// bits or with a fraction or an exponent.
func TestExactBody(t *testing.T) {
	tests := []struct {
		name, contentType, raw string
		want                   any
	}{
		{"json", "application/json", `{"big": 12345678901234567890123, "id": 12, "f": 1.50, "e": 1E3, "z": -0}`,
			map[string]any{"big": json.Number("12345678901234567890123"), "id": json.Number("12"), "f": json.Number("1.50"),
				"e": json.Number("1E3"), "z": json.Number("-0")}},
		{"a number alone", "application/vnd.api+json", ` 9007199254740993.0 `, json.Number("9007199254740993.0")},
		{"no content type, JSON", "", `[1, {"a": 2.0}]`, []any{json.Number("1"), map[string]any{"a": json.Number("2.0")}}},
		{"form that is JSON (curl -d)", "application/x-www-form-urlencoded", `{"n":1.0}`, map[string]any{"n": json.Number("1.0")}},
		{"form", "application/x-www-form-urlencoded", "n=1.0", map[string]any{"n": "1.0"}},
		{"form kept that looks like JSON", "application/x-www-form-urlencoded", `{"n":1.0,x:"y"}`, map[string]any{`{"n":1.0,x:"y"}`: ""}},
		{"no content type, a number is text", "", "12345678901234567890123", "12345678901234567890123"},
		{"text", "text/plain", `{"n": 1.0}`, `{"n": 1.0}`},
		{"empty", "application/json", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Event{ContentType: tt.contentType, Raw: tt.raw}).ExactBody()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	if _, err := (&Event{ContentType: "application/json", Raw: `{"n": 1e400}`}).ExactBody(); !errors.Is(err, ErrBody) {
		t.Errorf("a number no float64 holds: %v, want ErrBody as Body refuses it", err)
	}
}

func TestDecodeJSONDepth(t *testing.T) {
	ok := strings.Repeat(`{"a":`, MaxJSONDepth) + "1" + strings.Repeat("}", MaxJSONDepth)
	if _, err := DecodeJSON([]byte(ok)); err != nil {
		t.Errorf("depth %d should pass: %v", MaxJSONDepth, err)
	}
	// Brackets inside strings do not count.
	if _, err := DecodeJSON([]byte(`{"a": "` + strings.Repeat("[", 100) + `\"["}`)); err != nil {
		t.Errorf("brackets in a string counted as nesting: %v", err)
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	if _, err := DecodeJSON([]byte(deep)); err == nil || !strings.Contains(err.Error(), "deeper than 64") {
		t.Errorf("20,000 levels: %v", err)
	}
}

// What a run stores may nest MaxStoredDepth deep, deeper than what arrives: the one
// limit of CheckStoredDepth, which a run writes by, and of DecodeStored, which every
// reader of what it stored reads by.
func TestStoredDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":[`, n/2) + `"[{\"]"` + strings.Repeat("]}", n/2))
	}
	for _, n := range []int{MaxJSONDepth + 2, MaxStoredDepth} {
		if _, err := DecodeJSON(nest(n)); err == nil {
			t.Errorf("DecodeJSON takes %d levels, past MaxJSONDepth", n)
		}
		if err := CheckStoredDepth(nest(n)); err != nil {
			t.Errorf("%d levels: CheckStoredDepth says %v", n, err)
		}
		if _, err := DecodeStored(nest(n)); err != nil {
			t.Errorf("%d levels: DecodeStored says %v", n, err)
		}
	}
	over := nest(MaxStoredDepth + 2)
	var de *DepthError
	if err := CheckStoredDepth(over); !errors.As(err, &de) || de.Depth != MaxStoredDepth+2 ||
		err.Error() != "it nests 130 levels deep, past the 128 a run stores" {
		t.Errorf("CheckStoredDepth of %d levels: %v", MaxStoredDepth+2, err)
	}
	if _, err := DecodeStored(over); err == nil || !strings.Contains(err.Error(), "deeper than 128 levels") {
		t.Errorf("DecodeStored of %d levels: %v", MaxStoredDepth+2, err)
	}
	// Brackets in strings, escaped quotes among them, do not count.
	if err := CheckStoredDepth([]byte(`["` + strings.Repeat(`[\"{`, 200) + `"]`)); err != nil {
		t.Errorf("brackets in a string counted: %v", err)
	}
}

func TestEventRoundTrip(t *testing.T) {
	ev := &Event{
		ID: "e1", Trigger: "webhook", ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Method: "POST", Path: "/orders/{id}", Params: map[string]string{"id": "42"},
		Query:   map[string][]string{"a": {"1"}, "b": {"2", "3"}},
		Headers: map[string]string{"content-type": "application/json"}, ContentType: "application/json",
		Raw: `{"total": 1999}`,
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	v := back.Value()
	want := map[string]any{
		"id": "e1", "trigger": "webhook", "received_at": "2026-01-02T03:04:05.000000006Z",
		"method": "POST", "path": "/orders/{id}", "params": map[string]any{"id": "42"},
		"query":   map[string]any{"a": "1", "b": []any{"2", "3"}},
		"headers": map[string]any{"content-type": "application/json"},
		"body":    map[string]any{"total": 1999}, "raw": `{"total": 1999}`,
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v\nwant %#v", v, want)
	}
}

func TestConditionThatIsNotBoolAtRunTime(t *testing.T) {
	c, diags := compileCondition("event.body.x", location{rng: hcl.Range{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := c.Eval(&Env{Event: map[string]any{"body": map[string]any{"x": "yes"}}})
	if err == nil || !strings.HasPrefix(err.Error(), "event.body.x: ") {
		t.Errorf("got %v", err)
	}
}

// A condition on a field of a value that is nil tests nil, as the wait step of a run
// whose wait timed out has no body: steps.approval.body.approved == true is false.
func TestConditionOnAFieldOfNil(t *testing.T) {
	env := &Env{Steps: map[string]any{"approval": map[string]any{"body": nil, "timed_out": true}}}
	for src, want := range map[string]bool{
		"steps.approval.body.approved == true":      false,
		"steps.approval.body.approved != nil":       false,
		"steps.approval.body.approved == nil":       true,
		"steps.approval.body.who.name == 'Ada'":     false,
		"steps.approval.body?.approved ?? true":     true,
		"len(steps.approval.body.items ?? []) == 0": true,
	} {
		c, diags := compileCondition(src, location{rng: hcl.Range{}})
		if diags.HasErrors() {
			t.Fatalf("%s: %s", src, diags.Error())
		}
		if got, err := c.Eval(env); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", src, got, err, want)
		}
	}
}

// An index past the end of a list is not nil, ?. or not: it fails, as language.md
// says, and first(), last() and get() read an item that may not be there as nil.
func TestIndexPastTheEndOfAList(t *testing.T) {
	env := &Env{Steps: map[string]any{"find": map[string]any{"body": map[string]any{"results": []any{}}}}}
	for _, src := range []string{"steps.find.body.results[0].name", "steps.find.body.results[0]?.name"} {
		if _, err := compileT(t, "{{ "+src+" }}").Render(env); err == nil || !strings.Contains(err.Error(), "index out of range") {
			t.Errorf("%s: %v, want index out of range", src, err)
		}
	}
	for _, src := range []string{"first(steps.find.body.results).name", "last(steps.find.body.results).name",
		"get(steps.find.body.results, 0).name", "first(steps.find.body.missing).name"} {
		if v, err := compileT(t, "{{ "+src+" }}").Render(env); err != nil || v != nil {
			t.Errorf("%s: %v %v, want nil", src, v, err)
		}
	}
}

// TestAsStored: the event a job leased by its start takes is the one its worker would
// decode from the run (Marshal, DecodeEvent): the same values for every kind of body,
// sealed (a webhook's) or not.
func TestAsStored(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 0, 0, 123456789, time.FixedZone("x", 3600))
	events := map[string]func() *Event{
		"json": func() *Event {
			return &Event{ID: "e1", Trigger: "webhook", ReceivedAt: at, ContentType: "application/json", Raw: `{"n": 12345678901234567890, "a": [1, 2.5, "x"]}`}
		},
		"form": func() *Event {
			return &Event{ID: "e2", Trigger: "webhook", ReceivedAt: at, ContentType: "application/x-www-form-urlencoded", Raw: "a=1&a=2&b=%20", Query: map[string][]string{"q": {"1"}}}
		},
		"text": func() *Event {
			return &Event{ID: "e3", Trigger: "webhook", ReceivedAt: at, ContentType: "text/plain", Raw: "hello", Headers: map[string]string{"x": "y"}}
		},
		"empty":        func() *Event { return &Event{ID: "e4", Trigger: "manual", ReceivedAt: at} },
		"body not set": func() *Event { return &Event{ID: "e5", Trigger: "webhook", ReceivedAt: at, Raw: `{"name": "Ada"}`} },
		"child": func() *Event {
			return &Event{ID: "e6", Trigger: "workflow", ReceivedAt: at, Raw: `{}`, Parent: &EventParent{RunID: "r", Workflow: "w", Step: "s"}}
		},
	}
	for name, event := range events {
		for _, seal := range []bool{false, true} {
			ev, sub := event(), name
			if seal {
				sub += ", sealed"
				if err := ev.Seal(); err != nil {
					t.Fatal(err)
				}
			}
			t.Run(sub, func(t *testing.T) {
				data, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				stored, err := DecodeEvent(data)
				if err != nil {
					t.Fatal(err)
				}
				got := ev.AsStored()
				if got == nil {
					t.Fatal("no event")
				}
				if seal != (got == ev) {
					t.Errorf("AsStored gave the event itself: %v; want %v", got == ev, seal)
				}
				if !reflect.DeepEqual(got.Value(), stored.Value()) {
					t.Errorf("started %v\n stored %v", got.Value(), stored.Value())
				}
			})
		}
	}
	if (&Event{Trigger: "poll", Raw: "{}", Poll: map[string]any{"page": 1}}).AsStored() != nil {
		t.Error("a poll's event is taken as it is: its values would not read as stored")
	}
}

// TestSealedEventCopy: a sealed event's value is built once and shared; a copy of it,
// whose fields may change, is not sealed.
func TestSealedEventCopy(t *testing.T) {
	ev := &Event{ID: "e1", Trigger: "webhook", ContentType: "application/json", Raw: `{"a": 1}`}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(ev.Value()).Pointer() != reflect.ValueOf(ev.Value()).Pointer() {
		t.Error("a sealed event built its value again")
	}
	c := *ev
	c.Raw, c.Body = `{"a": 2}`, map[string]any{"a": 2}
	if got := c.Value()["raw"]; got != `{"a": 2}` {
		t.Errorf("a copy's raw is %v: it took the sealed event's value", got)
	}
	if got := c.AsStored(); got == &c || got.Value()["body"].(map[string]any)["a"] != 2 {
		t.Errorf("a copy is not sealed: AsStored gave %v", got.Value())
	}
	bad := &Event{ContentType: "application/json", Raw: `{"a":`}
	if err := bad.Seal(); !errors.Is(err, ErrBody) {
		t.Errorf("sealing a malformed body: %v, want ErrBody", err)
	}
}

// TestDecodeSealedEvent: an event decoded sealed reads as DecodeEvent reads it (a form
// that looks like JSON, kept by an older build, a key given twice), with its value built
// once and shared.
func TestDecodeSealedEvent(t *testing.T) {
	for name, ev := range map[string]*Event{
		"json":           {ID: "e1", Trigger: "webhook", ContentType: "application/json", Raw: `{"a": [1, {"b": "c"}], "a": 2}`},
		"form like json": {ID: "e2", Trigger: "webhook", ContentType: "application/x-www-form-urlencoded", Raw: `{not json`},
		"child":          {ID: "e3", Trigger: "workflow", Raw: `{"x": 1}`, Parent: &EventParent{RunID: "r", Workflow: "w", Step: "s", Depth: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			want, err := DecodeEvent(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeSealedEvent(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Value(), want.Value()) {
				t.Errorf("sealed %v\n  want %v", got.Value(), want.Value())
			}
			if reflect.ValueOf(got.Value()).Pointer() != reflect.ValueOf(got.Value()).Pointer() {
				t.Error("a sealed event built its value again")
			}
			if got.AsStored() != got {
				t.Error("AsStored of a sealed event is not the event itself")
			}
		})
	}
	if _, err := DecodeSealedEvent([]byte(`{"raw": "{", "content_type": "application/json"}`)); err == nil {
		t.Error("an event whose body does not parse was decoded")
	}
}

// A condition that reads a field of a body sent as text says so, where expr says only
// "invalid operation".
func TestConditionOnAFieldOfText(t *testing.T) {
	c, diags := compileCondition("event.body.email != nil", location{rng: hcl.Range{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := c.Eval(&Env{Event: map[string]any{"body": `{"email": "a@b.c"}`}})
	if want := "event.body.email != nil: event.body is a string, which has no fields (1:12)\n | "; err == nil ||
		!strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "int(string)") {
		t.Errorf("got %v, want it to start %q, without expr's words", err, want)
	}
	// The field read that failed is the one named, not another in a branch not taken.
	c, diags = compileCondition("event.body.flag ? event.body.text.x == 1 : event.body.num.y == 1", location{rng: hcl.Range{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err = c.Eval(&Env{Event: map[string]any{"body": map[string]any{"flag": false, "text": "hi", "num": 3}}})
	if want := "event.body.num is a number, which has no fields"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to say %q", err, want)
	}
	// Through an index of a list too.
	c, diags = compileCondition("event.body.items[0].sku.x == 1", location{rng: hcl.Range{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err = c.Eval(&Env{Event: map[string]any{"body": map[string]any{"items": []any{map[string]any{"sku": "A"}}}}})
	if want := "event.body.items[0].sku is a string, which has no fields"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to say %q", err, want)
	}
	// An error of another kind is not put on a field read in a branch not taken.
	c, diags = compileCondition("event.body.n > 5 ? event.body.text.x == 1 : int('z') == 1", location{rng: hcl.Range{}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err = c.Eval(&Env{Event: map[string]any{"body": map[string]any{"n": 3, "text": "hi"}}})
	if err == nil || strings.Contains(err.Error(), "has no fields") {
		t.Errorf("got %v, want int's own error", err)
	}
}

// A form body that looks like JSON but is not is refused as it arrives, but one kept
// before (an event an older hookflow took, a resume) is read back as the form it was
// taken as: a queued run, a replay or a resume of it still reads its body.
func TestStoredFormThatLooksLikeJSON(t *testing.T) {
	raw := []byte(`{"name":"Ada",email:"x"}`)
	if _, err := ParseBody("application/x-www-form-urlencoded", raw); !errors.Is(err, ErrBody) {
		t.Errorf("ParseBody: %v, want ErrBody", err)
	}
	body, err := ParseStoredBody("application/x-www-form-urlencoded", raw)
	if m, ok := body.(map[string]any); err != nil || !ok || len(m) != 1 {
		t.Errorf("ParseStoredBody: %#v, %v; want the form of one field", body, err)
	}
	ev, err := DecodeEvent([]byte(`{"id":"e1","trigger":"webhook","content_type":"application/x-www-form-urlencoded","raw":` +
		strconv.Quote(string(raw)) + `}`))
	if err != nil || ev.Body == nil {
		t.Errorf("DecodeEvent of a kept event: %v", err)
	}
	res := &Resume{ContentType: "application/x-www-form-urlencoded", Raw: string(raw)}
	if _, err := res.Output(); err != nil {
		t.Errorf("the output of a kept resume: %v", err)
	}
}

// JSON arriving with a key given twice in an object is refused (ParseBody), with where;
// JSON kept before (an event an older hookflow took, an API's answer) is read with the
// last value (ParseStoredBody, DecodeEvent), as it was taken.
func TestDuplicateJSONKeys(t *testing.T) {
	raw := []byte(`{"a":1,"b":{"c":[{"d":1,"d":2}]},"a":3}`)
	for _, ct := range []string{"application/json", "", "application/x-www-form-urlencoded"} {
		_, err := ParseBody(ct, raw)
		if want := `malformed body: duplicate key "d" in the JSON object at b.c[0] (at byte 24)`; !errors.Is(err, ErrBody) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBody(%q): %v, want ErrBody saying %q", ct, err, want)
		}
	}
	want := map[string]any{"a": 3, "b": map[string]any{"c": []any{map[string]any{"d": 2}}}}
	if body, err := ParseStoredBody("application/json", raw); err != nil || !reflect.DeepEqual(body, want) {
		t.Errorf("ParseStoredBody: %#v, %v; want %#v", body, err, want)
	}
	ev, err := DecodeEvent([]byte(`{"id":"e1","trigger":"webhook","content_type":"application/json","raw":` + strconv.Quote(string(raw)) + `}`))
	if err != nil || !reflect.DeepEqual(ev.Body, want) {
		t.Errorf("DecodeEvent of a kept event: %#v, %v", ev, err)
	}
	if v, err := DecodeJSON(raw); err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("DecodeJSON: %#v, %v", v, err)
	}
}

// A JSON body after a byte order mark is refused with that reason.
func TestParseBodyByteOrderMark(t *testing.T) {
	_, err := ParseBody("application/json", []byte("\xef\xbb\xbf{}"))
	if !errors.Is(err, ErrBody) || !strings.Contains(err.Error(), "a JSON body may not start with a byte order mark") {
		t.Errorf("got %v", err)
	}
}
