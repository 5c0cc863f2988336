package workflows

import "testing"

func TestRenderURL(t *testing.T) {
	env := &Env{
		Event: map[string]any{"body": map[string]any{
			"id":    "a/../b c",
			"q":     "x&admin=1",
			"host":  "api.example.com",
			"next":  "https://api.example.com/items?page=2&per=50",
			"n":     42,
			"query": "?",
			"sub":   "eu",
			"dots":  "..",
			"dot":   ".",
		}},
		Vars: map[string]any{"api": "https://api.example.com/v1"},
	}
	tests := []struct{ in, want string }{
		{"https://api.example.com/items/{{ event.body.id }}", "https://api.example.com/items/a%2F..%2Fb%20c"},
		{"https://api.example.com/items/{{ event.body.n }}/notes", "https://api.example.com/items/42/notes"},
		{"https://api.example.com/search?q={{ event.body.q }}&n={{ event.body.n }}", "https://api.example.com/search?q=x%26admin%3D1&n=42"},
		{"https://api.example.com/p#{{ event.body.q }}", "https://api.example.com/p#x%26admin%3D1"},
		{"https://{{ event.body.host }}/items", "https://api.example.com/items"},
		{"https://api.example.com/{{ event.body.query }}x", "https://api.example.com/%3Fx"},
		// A whole-URL expression is taken as it is.
		{"{{ event.body.next }}", "https://api.example.com/items?page=2&per=50"},
		{"{{ vars.api + '/repos/' + event.body.id }}", "https://api.example.com/v1/repos/a/../b c"},
		{"https://api.example.com/plain", "https://api.example.com/plain"},
		{"https://{{ event.body.sub }}.example.com/x", "https://eu.example.com/x"},
		{"{{ vars.api }}/repos/{{ event.body.id }}", "https://api.example.com/v1/repos/a%2F..%2Fb%20c"},
		{"https://api.example.com/users/{{ event.body.dots }}/delete", "https://api.example.com/users/%2E%2E/delete"},
		{"https://api.example.com/users/{{ event.body.dot }}/delete", "https://api.example.com/users/%2E/delete"},
	}
	for _, tt := range tests {
		got, err := compileT(t, tt.in).RenderURL(env)
		if err != nil || got != tt.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tt.in, got, err, tt.want)
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
