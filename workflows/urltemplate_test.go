package workflows

import (
	"fmt"
	"testing"
)

func TestRenderURL(t *testing.T) {
	env := &Env{
		Event: map[string]any{"body": map[string]any{
			"id":      "a/b c",
			"q":       "x&admin=1",
			"host":    "api.example.com",
			"next":    "https://api.example.com/items?page=2&per=50",
			"n":       42,
			"query":   "?",
			"sub":     "eu",
			"dots":    "..",
			"version": "v1.2",
			"name":    "a..b",
		}},
		Vars: map[string]any{"api": "https://api.example.com/v1"},
	}
	tests := []struct{ in, want string }{
		{"https://api.example.com/items/{{ event.body.id }}", "https://api.example.com/items/a%2Fb%20c"},
		{"https://api.example.com/items/{{ event.body.n }}/notes", "https://api.example.com/items/42/notes"},
		{"https://api.example.com/search?q={{ event.body.q }}&n={{ event.body.n }}", "https://api.example.com/search?q=x%26admin%3D1&n=42"},
		{"https://api.example.com/p#{{ event.body.q }}", "https://api.example.com/p#x%26admin%3D1"},
		{"https://{{ event.body.host }}/items", "https://api.example.com/items"},
		{"https://api.example.com/{{ event.body.query }}x", "https://api.example.com/%3Fx"},
		// A whole-URL expression is taken as it is.
		{"{{ event.body.next }}", "https://api.example.com/items?page=2&per=50"},
		{"{{ vars.api + '/repos/' + event.body.id }}", "https://api.example.com/v1/repos/a/b c"},
		{"https://api.example.com/plain", "https://api.example.com/plain"},
		{"https://{{ event.body.sub }}.example.com/x", "https://eu.example.com/x"},
		{"{{ vars.api }}/repos/{{ event.body.id }}", "https://api.example.com/v1/repos/a%2Fb%20c"},
		// Dots among other characters are a name like any other.
		{"https://api.example.com/users/{{ event.body.dots }}{{ event.body.n }}/delete", "https://api.example.com/users/..42/delete"},
		{"https://api.example.com/files/{{ event.body.version }}", "https://api.example.com/files/v1.2"},
		{"https://api.example.com/files/{{ event.body.name }}", "https://api.example.com/files/a..b"},
		{"https://api.example.com/files/{{ event.body.dots }}.", "https://api.example.com/files/..."},
		{"https://api.example.com/files?at={{ event.body.dots }}", "https://api.example.com/files?at=.."},
		// A URL without a host (an error to send) has its values in the path.
		{"/users/{{ event.body.id }}", "/users/a%2Fb%20c"},
	}
	for _, tt := range tests {
		got, err := compileT(t, tt.in).RenderURL(env)
		if err != nil || got != tt.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tt.in, got, err, tt.want)
		}
	}
}

// TestRenderRelativeURL: in a url relative to a base URL, a value lands in the path
// (the one at the very start included) up to a '?' or '#', and is encoded there as in
// an absolute URL; it is never read as a host.
func TestRenderRelativeURL(t *testing.T) {
	env := &Env{Event: map[string]any{"body": map[string]any{
		"id":    "a/b c",
		"email": "jane@example.com",
		"q":     "x&admin=1",
		"host":  "evil.com",
		"v":     "v1.2",
		"n":     42,
	}}}
	tests := []struct{ in, want string }{
		{"/users/{{ event.body.email }}/profile", "/users/jane@example.com/profile"},
		{"/users/{{ event.body.id }}/profile", "/users/a%2Fb%20c/profile"},
		{"users/{{ event.body.id }}", "users/a%2Fb%20c"},
		{"{{ event.body.id }}/profile", "a%2Fb%20c/profile"},
		{"{{ event.body.host }}/x", "evil.com/x"},
		{"/files/{{ event.body.v }}/{{ event.body.n }}", "/files/v1.2/42"},
		{"/a://b/{{ event.body.id }}", "/a://b/a%2Fb%20c"},
		{"/search?q={{ event.body.q }}&n={{ event.body.n }}", "/search?q=x%26admin%3D1&n=42"},
		{"?q={{ event.body.id }}", "?q=a%2Fb+c"},
		{"/p#{{ event.body.q }}", "/p#x%26admin%3D1"},
		{"/plain", "/plain"},
	}
	for _, tt := range tests {
		got, err := compileT(t, tt.in).RenderRelativeURL(env)
		if err != nil || got != tt.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tt.in, got, err, tt.want)
		}
	}
	for in, want := range map[string]string{
		"{{ event.body.none }}/x":      "event.body.none is nil (event.body: no field none)",
		"/users/{{ event.body.none }}": "event.body.none is nil (event.body: no field none)",
	} {
		if _, err := compileT(t, in).RenderRelativeURL(env); fmt.Sprint(err) != want {
			t.Errorf("%s:\n got %v\nwant %s", in, err, want)
		}
	}
}

// TestRenderURLRefusesDotSegments: a value that makes its path segment "." or ".."
// (alone, with the text around it, or with another value), as written or once a
// server or a proxy in front decodes the path once or twice ("../" is "..%2F"), is an
// error, in an absolute URL and in a relative one alike: servers and proxies read
// "..", and "%2E%2E", as a step up the path.
func TestRenderURLRefusesDotSegments(t *testing.T) {
	env := &Env{
		Event: map[string]any{"body": map[string]any{"dot": ".", "dots": "..", "empty": "", "e": "e",
			"up": "../", "back": `..\`, "mid": "a/../b", "twice": "%2e%2e", "twice_slash": "..%2Fadmin", "semi": "../;x"}},
		Vars: map[string]any{"api": "https://api.example.com/v1"},
	}
	const whole = `{{ event.body.dots }}: the value ".." is a whole path segment, which servers read as a step up the path ("/users/../delete" is "/delete"); a value in the path may not make a segment "." or ".."`
	tests := []struct {
		in       string
		relative bool
		want     string // the error, when it is checked whole
	}{
		{in: "https://api.example.com/users/{{ event.body.dots }}/delete", want: whole},
		{in: "/users/{{ event.body.dots }}/delete", relative: true, want: whole},
		{in: "{{ event.body.dots }}/delete", relative: true, want: whole},
		{in: "https://api.example.com/files/.{{ event.body.dot }}", want: `{{ event.body.dot }}: the value "." makes the path segment ".." with the text around it, which servers read as a step up the path ("/users/../delete" is "/delete"); a value in the path may not make a segment "." or ".."`},
		{in: "https://api.example.com/users/{{ event.body.dot }}/delete"},
		{in: "https://api.example.com/users/{{ event.body.dot }}"},
		{in: "https://api.example.com/users/{{ event.body.dots }}?x=1"},
		{in: "https://api.example.com/users/{{ event.body.dots }}#x"},
		{in: "{{ vars.api }}/users/{{ event.body.dots }}"},
		{in: "https://api.example.com/files/{{ event.body.dot }}{{ event.body.dot }}/x"},
		{in: "https://api.example.com/files/..{{ event.body.empty }}/x"},
		{in: "https://api.example.com/files/%2E{{ event.body.dot }}/x"},
		{in: "https://api.example.com/files/%2{{ event.body.e }}/x"},
		// What a server or a proxy in front finds once it decodes the path, once or
		// twice: the same in an absolute url as in one relative to an api's base_url.
		{in: "https://api.example.com/users/{{ event.body.up }}admin", want: `{{ event.body.up }}: the value "../" makes the path segment "..%2Fadmin" with the text around it, which holds the segment ".." once a server or a proxy in front decodes the path, which servers read as a step up the path ("/users/../delete" is "/delete"); a value in the path may not make a segment "." or ".."`},
		{in: "https://api.example.com/users/{{ event.body.up }}", want: `{{ event.body.up }}: the value "../" is a whole path segment, "..%2F", which holds the segment ".." once a server or a proxy in front decodes the path, which servers read as a step up the path ("/users/../delete" is "/delete"); a value in the path may not make a segment "." or ".."`},
		{in: "https://api.example.com/users/{{ event.body.back }}admin"},
		{in: "https://api.example.com/users/{{ event.body.mid }}"},
		{in: "https://api.example.com/users/{{ event.body.twice }}"},
		{in: "https://api.example.com/users/{{ event.body.twice_slash }}"},
		{in: "https://api.example.com/users/{{ event.body.semi }}"},
		{in: "/users/{{ event.body.up }}admin", relative: true},
		{in: "/users/{{ event.body.back }}admin", relative: true},
		{in: "/users/{{ event.body.twice_slash }}", relative: true},
		{in: "/users/{{ event.body.dot }}", relative: true},
		{in: "/files/.{{ event.body.dot }}/x", relative: true},
		{in: "/files/{{ event.body.dots }}?x=1", relative: true},
	}
	for _, tt := range tests {
		tpl := compileT(t, tt.in)
		render := tpl.RenderURL
		if tt.relative {
			render = tpl.RenderRelativeURL
		}
		got, err := render(env)
		switch {
		case err == nil:
			t.Errorf("%s: rendered %q, want an error", tt.in, got)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

// TestRenderURLRefusesValuesThatLeaveTheHost: a value in the host that would end it is
// an error, not a call to another host.
func TestRenderURLRefusesValuesThatLeaveTheHost(t *testing.T) {
	env := &Env{Event: map[string]any{"body": map[string]any{"evil": "evil.com/", "user": "a@evil.com", "q": "x?y", "wide": "evil／x"}}}
	for _, in := range []string{
		"https://{{ event.body.evil }}.example.com/x",
		"https://{{ event.body.user }}.example.com/x",
		"https://api.{{ event.body.q }}.com/x",
		"https://api.{{ event.body.wide }}.com/x",
	} {
		if got, err := compileT(t, in).RenderURL(env); err == nil {
			t.Errorf("%s: rendered %q, want an error", in, got)
		}
	}
}

// TestRenderURLRefusesNil: nil in a URL's path, host or base is an error that says
// where the value went missing; in the query it is an empty value.
func TestRenderURLRefusesNil(t *testing.T) {
	env := &Env{
		Event: map[string]any{"body": map[string]any{"id": nil, "n": 3, "customer": map[string]any{"id": "c1"}}},
		Steps: map[string]any{"find": map[string]any{"status": 200, "body": nil, "outcome": "succeeded"}},
		Vars:  map[string]any{},
	}
	tests := []struct{ in, want string }{
		{"https://api.example.com/c/{{ event.body.id }}", "event.body.id is nil (event.body.id is null)"},
		{"https://api.example.com/c/{{ event.body.idd }}/x", "event.body.idd is nil (event.body: no field idd; did you mean event.body.id?)"},
		{"https://api.example.com/c/{{ event.body.customer_id }}", "event.body.customer_id is nil (event.body: no field customer_id)"},
		{"https://api.example.com/c/{{ steps.find?.body?.id }}", "steps.find?.body?.id is nil (steps.find.body is nil)"},
		{"https://api.example.com/c/{{ steps.find.id }}", "steps.find.id is nil (steps.find: no field id)"},
		{"https://{{ vars.host }}/c", "vars.host is nil (vars: no field host)"},
		{"{{ vars.api }}/c", "vars.api is nil (vars: no field api)"},
		{"{{ vars.url }}", "vars.url is nil (vars: no field url)"},
		{"https://api.example.com/c/{{ event.body.id ?? nil }}", "event.body.id ?? nil is nil"},
		{"https://api.example.com/c/{{ event.body.customer.id }}", ""},
		{"https://api.example.com/c?id={{ event.body.id }}", ""},
	}
	for _, tt := range tests {
		_, err := compileT(t, tt.in).RenderURL(env)
		if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.in, got, tt.want)
		}
	}
}

// TestRenderURLRefusesEmptySegments: an empty value that is a whole path segment is an
// error, as nil is there: "/users//orders" is "/users/orders" to many servers and
// proxies, and "/customers/" is the list. An empty value with text around it in its
// segment, or in the query, is fine.
func TestRenderURLRefusesEmptySegments(t *testing.T) {
	env := &Env{
		Event: map[string]any{"body": map[string]any{"v": "", "e": "e"}},
		Vars:  map[string]any{"rec": "https://api.example.com"},
	}
	const why = `: the value is empty, and it is the whole path segment: the URL would name another resource ("/users/{{ id }}/orders" would call "/users//orders", which many servers and proxies read as "/users/orders", and "/customers/{{ id }}" would call "/customers/"); a value alone in a path segment may not be empty`
	tests := []struct {
		in       string
		relative bool
		want     string // the error; "" for none
	}{
		{in: "{{ vars.rec }}/path/{{ event.body.v }}/end", want: "{{ event.body.v }}" + why},
		{in: "{{ vars.rec }}/each/{{ event.body.v }}?v=3", want: "{{ event.body.v }}" + why},
		{in: "{{ vars.rec }}/each/{{ event.body.v }}#x", want: "{{ event.body.v }}" + why},
		{in: "https://api.example.com/customers/{{ event.body.v }}", want: "{{ event.body.v }}" + why},
		{in: "https://api.example.com/{{ event.body.v }}", want: "{{ event.body.v }}" + why},
		{in: "https://api.example.com/a/{{ event.body.v }}{{ event.body.v }}/b", want: "{{ event.body.v }}" + why},
		{in: "/users/{{ event.body.v }}/orders", relative: true, want: "{{ event.body.v }}" + why},
		{in: "{{ event.body.v }}/orders", relative: true, want: "{{ event.body.v }}" + why},
		{in: "/users/{{ event.body.v }}", relative: true, want: "{{ event.body.v }}" + why},
		// Text around the value in its segment, another value that is not empty, the
		// query: an empty value is nothing there.
		{in: "https://api.example.com/files/{{ event.body.v }}.json"},
		{in: "https://api.example.com/files/v{{ event.body.v }}/x"},
		{in: "https://api.example.com/a/{{ event.body.v }}{{ event.body.e }}/b"},
		{in: "https://api.example.com/a/{{ event.body.e }}{{ event.body.v }}/b"},
		{in: "https://api.example.com/a?q={{ event.body.v }}"},
		{in: "https://api.example.com/a#{{ event.body.v }}"},
		{in: "/users?q={{ event.body.v }}", relative: true},
		// Taken whole, a URL is as it is.
		{in: "{{ vars.rec + '/a/' + event.body.v + '/b' }}"},
	}
	for _, tt := range tests {
		tpl := compileT(t, tt.in)
		render := tpl.RenderURL
		if tt.relative {
			render = tpl.RenderRelativeURL
		}
		got, err := render(env)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: rendered %q, want an error", tt.in, got)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}
