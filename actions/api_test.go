package actions

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// loadWithAPIs loads top-level blocks (api blocks) and one workflow whose steps are
// written in steps, and returns the workflow.
func loadWithAPIs(t testing.TB, client *http.Client, top, steps string) *workflows.Workflow {
	t.Helper()
	return loadWith(t, Options{Client: client}, top, steps)
}

// loadWith is loadWithAPIs with the step kinds registered with o.
func loadWith(t testing.TB, o Options, top, steps string) *workflows.Workflow {
	t.Helper()
	k := workflows.NewKinds()
	Register(k, o)
	src := top + "\nworkflow \"w\" {\n" + steps + "\n}\n"
	set, diags := workflows.Load([]workflows.Source{{Name: "test.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set.Workflow("w")
}

func TestAPIStepJoinsBaseURLAndSendsItsAuth(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	client := NewClient(NewGuard(loopback))
	tests := []struct {
		name, auth, stepExtra string
		check                 func(t *testing.T, r recorded)
	}{
		{"bearer", `auth "bearer" { token = "tok-123456" }`, "", func(t *testing.T, r recorded) {
			if got := r.header.Get("Authorization"); got != "Bearer tok-123456" {
				t.Errorf("Authorization = %q", got)
			}
		}},
		{"basic", `auth "basic" {
    username = "ada"
    password = "pw-123456"
  }`, "", func(t *testing.T, r recorded) {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:pw-123456"))
			if got := r.header.Get("Authorization"); got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
		}},
		{"header", `auth "header" {
    name  = "X-Api-Key"
    value = "key-123456"
  }`, "", func(t *testing.T, r recorded) {
			if got := r.header.Get("X-Api-Key"); got != "key-123456" {
				t.Errorf("X-Api-Key = %q", got)
			}
		}},
		{"step headers win", `auth "bearer" { token = "tok-123456" }`, `headers = { X-Api-Version = "2025", Authorization = "Token mine" }`,
			func(t *testing.T, r recorded) {
				if got := r.header.Get("X-Api-Version"); got != "2025" {
					t.Errorf("X-Api-Version = %q", got)
				}
				if got := r.header.Get("Authorization"); got != "Token mine" {
					t.Errorf("Authorization = %q", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := loadWithAPIs(t, client, `
api "crm" {
  base_url = "`+srv.URL+`/api/"
  headers  = { X-Api-Version = "2024-01" }
  `+tt.auth+`
}`, `
  step "http" "find" {
    api   = "crm"
    url   = "/customers/{{ event.body.id }}"
    query = { expand = "notes" }
    `+tt.stepExtra+`
  }`)
			step := wf.Steps[0]
			c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "c1"}}}, RunID: "r", Step: "find", Attempt: 1, Secrets: wf.Secrets}
			if _, err := step.Action.Do(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.path != "/api/customers/c1" || r.query != "expand=notes" {
				t.Errorf("sent %s?%s, want /api/customers/c1?expand=notes", r.path, r.query)
			}
			if tt.stepExtra == "" && r.header.Get("X-Api-Version") != "2024-01" {
				t.Errorf("X-Api-Version = %q", r.header.Get("X-Api-Version"))
			}
			tt.check(t, r)
			for _, secret := range []string{"tok-123456", "pw-123456", "key-123456", base64.StdEncoding.EncodeToString([]byte("ada:pw-123456"))} {
				for name, v := range c.Sent.Headers {
					if strings.Contains(v, secret) {
						t.Errorf("history shows %s: %s", name, v)
					}
				}
			}
		})
	}
}

// TestAPIStepValuesLandInThePath: a value in a url relative to the api's base_url is
// in the path (or the query after a '?'), encoded there as in an absolute url, never
// read as a host: "jane@example.com" is a path segment, and a '/' or '?' stays in it.
func TestAPIStepValuesLandInThePath(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI // as sent, before any decoding
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	client := NewClient(NewGuard(loopback))
	for _, tt := range []struct{ name, url, id, want string }{
		{"an email", "/users/{{ event.body.id }}/profile", "jane@example.com", "/api/users/jane@example.com/profile"},
		{"a slash", "/users/{{ event.body.id }}/profile", "a/b", "/api/users/a%2Fb/profile"},
		{"dots among other characters", "/users/{{ event.body.id }}/profile", "v1.2", "/api/users/v1.2/profile"},
		{"no leading slash", "users/{{ event.body.id }}", "a?b", "/api/users/a%3Fb"},
		{"at the very start", "{{ event.body.id }}/profile", "a/b", "/api/a%2Fb/profile"},
		{"in the query", "/search?q={{ event.body.id }}", "a b&c=d", "/api/search?q=a+b%26c%3Dd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wf := loadWithAPIs(t, client, `
api "crm" {
  base_url = "`+srv.URL+`/api"
  auth "bearer" { token = "tok-123456" }
}`, `
  step "http" "find" {
    api = "crm"
    url = "`+tt.url+`"
  }`)
			c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"id": tt.id}}}, RunID: "r", Step: "find", Attempt: 1, Secrets: wf.Secrets}
			if _, err := wf.Steps[0].Action.Do(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if uri := <-got; uri != tt.want {
				t.Errorf("sent %s, want %s", uri, tt.want)
			}
		})
	}
}

// TestHTTPStepRefusesDotSegments: a value that makes a path segment "." or ".." fails
// the step before anything is sent, for good, whether the url is relative to an
// api's base_url (whose credentials the call would carry up its path) or absolute.
func TestHTTPStepRefusesDotSegments(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	client := NewClient(NewGuard(loopback))
	for _, tt := range []struct{ name, api, url, id, want string }{
		{"api, whole segment", "crm", "/users/{{ event.body.id }}/profile", "..",
			`url: {{ event.body.id }}: the value ".." is a whole path segment`},
		{"api, one dot", "crm", "/users/{{ event.body.id }}/profile", ".",
			`url: {{ event.body.id }}: the value "." is a whole path segment`},
		{"api, with the text around it", "crm", "/files/.{{ event.body.id }}", ".",
			`url: {{ event.body.id }}: the value "." makes the path segment ".." with the text around it`},
		{"api, at the very start", "crm", "{{ event.body.id }}/admin", "..",
			`url: {{ event.body.id }}: the value ".." is a whole path segment`},
		{"api, a whole url from the event", "crm", "{{ event.body.id }}", "/../../steal",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"api, a whole url from the event, encoded", "crm", "{{ event.body.id }}", "users/%2E%2e/x",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "%2E%2e"`},
		{"api, a whole url from the event, slash encoded", "crm", "{{ event.body.id }}", "..%2Fadmin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"api, a whole url from the event, backslash", "crm", "{{ event.body.id }}", `users\..\admin`,
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"api, a whole url from the event: ..;/admin", "crm", "{{ event.body.id }}", "..;/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..;"`},
		{"api, a whole url from the event: a/..;/..;/admin", "crm", "{{ event.body.id }}", "a/..;/..;/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..;"`},
		{"api, a whole url from the event: %2e%2e;/admin", "crm", "{{ event.body.id }}", "%2e%2e;/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "%2e%2e;"`},
		{"api, a whole url from the event: .;/admin", "crm", "{{ event.body.id }}", ".;/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".;"`},
		{"api, a whole url from the event: ..%3b/admin", "crm", "{{ event.body.id }}", "..%3b/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..%3b"`},
		{"api, a whole url from the event: ..%00/admin", "crm", "{{ event.body.id }}", "..%00/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..%00"`},
		{"api, a whole url from the event: ..%20/admin", "crm", "{{ event.body.id }}", "..%20/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..%20"`},
		{"api, a whole url from the event: ..%3F/admin", "crm", "{{ event.body.id }}", "..%3F/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "..%3F"`},
		{"api, a whole url from the event: %252e%252e/admin", "crm", "{{ event.body.id }}", "%252e%252e/admin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment "%2e%2e"`},
		{"absolute", "", srv.URL + "/api/users/{{ event.body.id }}/profile", "..",
			`url: {{ event.body.id }}: the value ".." is a whole path segment`},
		{"absolute, a slash in the value", "", srv.URL + "/api/users/{{ event.body.id }}admin", "../",
			`url: {{ event.body.id }}: the value "../" makes the path segment "..%2Fadmin" with the text around it, which holds the segment ".."`},
		{"absolute, a backslash in the value", "", srv.URL + "/api/users/{{ event.body.id }}admin", `..\`,
			`url: {{ event.body.id }}: the value "..\\" makes the path segment "..%5Cadmin" with the text around it, which holds the segment ".."`},
		{"api, a slash in the value", "crm", "/users/{{ event.body.id }}admin", "../",
			`url: {{ event.body.id }}: the value "../" makes the path segment "..%2Fadmin" with the text around it, which holds the segment ".."`},
		{"api, a whole url from the event: %252e%252e%252fadmin", "crm", "{{ event.body.id }}", "%252e%252e%252fadmin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"api, a whole url from the event: ..%252Fadmin", "crm", "{{ event.body.id }}", "..%252Fadmin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"api, a whole url from the event: ..%255Cadmin", "crm", "{{ event.body.id }}", "..%255Cadmin",
			`url: relative to api "crm"'s base_url, it cannot hold the path segment ".."`},
		{"absolute, with a path parameter", "", srv.URL + "/api/users/{{ event.body.id }}/profile", "..;x",
			`url: {{ event.body.id }}: the value "..;x" is a whole path segment`},
		{"api, with a path parameter", "crm", "/users/{{ event.body.id }}/profile", "..;",
			`url: {{ event.body.id }}: the value "..;" is a whole path segment`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := ""
			if tt.api != "" {
				api = "api = \"" + tt.api + "\""
			}
			wf := loadWithAPIs(t, client, `
api "crm" {
  base_url = "`+srv.URL+`/api"
  auth "bearer" { token = "tok-123456" }
}`, `
  step "http" "find" {
    `+api+`
    url = "`+tt.url+`"
  }`)
			c := &workflows.Call{Env: &workflows.Env{Event: map[string]any{"body": map[string]any{"id": tt.id}}}, RunID: "r", Step: "find", Attempt: 1, Secrets: wf.Secrets}
			_, err := wf.Steps[0].Action.Do(t.Context(), c)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one that starts %s", err, tt.want)
			}
			if retry, _ := workflows.Retryable(err); retry {
				t.Error("the error is retried; the same value renders the same way again")
			}
			if n := sent.Load(); n != 0 || c.Sent != nil {
				t.Errorf("%d requests sent (recorded: %v), want none", n, c.Sent)
			}
		})
	}
}

func TestAPIDefaultsAndStepOverrides(t *testing.T) {
	wf := loadWithAPIs(t, nil, `
api "crm" {
  base_url = "https://crm.example.com/api"
  timeout  = "7s"
  retry {
    attempts = 4
  }
}`, `
  step "http" "a" {
    api = "crm"
    url = "/a"
  }
  step "http" "b" {
    api     = "crm"
    url     = "/b"
    timeout = "2s"
    retry {
      attempts = 2
    }
  }`)
	a, b := wf.Steps[0], wf.Steps[1]
	if a.Timeout.Seconds() != 7 || a.Retry == nil || a.Retry.Attempts != 4 {
		t.Errorf("step a: timeout %s, retry %+v; want the api's 7s and 4 attempts", a.Timeout, a.Retry)
	}
	if b.Timeout.Seconds() != 2 || b.Retry == nil || b.Retry.Attempts != 2 {
		t.Errorf("step b: timeout %s, retry %+v; want its own 2s and 2 attempts", b.Timeout, b.Retry)
	}
}

func TestAPIJoinURL(t *testing.T) {
	for _, tt := range []struct{ base, rel, want string }{
		{"https://crm.example.com/api", "/customers", "https://crm.example.com/api/customers"},
		{"https://crm.example.com/api/", "/customers", "https://crm.example.com/api/customers"},
		{"https://crm.example.com/api", "customers?x=1", "https://crm.example.com/api/customers?x=1"},
		{"https://crm.example.com", "/customers", "https://crm.example.com/customers"},
		{"https://crm.example.com/api", "", "https://crm.example.com/api"},
	} {
		if got := (&workflows.API{BaseURL: tt.base}).JoinURL(tt.rel); got != tt.want {
			t.Errorf("JoinURL(%q, %q) = %q, want %q", tt.base, tt.rel, got, tt.want)
		}
	}
}

// An api's basic auth whose username holds a ":" does not load; in a version stored
// for runs in flight, which loads with a warning, its steps fail for good and send
// nothing: the server would read the user up to the ":" (RFC 7617).
func TestAPIBasicAuthRefusesAColonInTheUsername(t *testing.T) {
	srv, got := recorder(t, 200, `{}`)
	k := workflows.NewKinds()
	Register(k, Options{Client: NewClient(NewGuard(loopback))})
	src := []workflows.Source{{Name: "test.hcl", Data: []byte(`api "crm" {
  base_url = "` + srv.URL + `"
  auth "basic" {
    username = "a:b"
    password = "pw-123456"
  }
}
workflow "w" {
  step "http" "h" {
    api = "crm"
    url = "/a"
  }
}`)}}
	if _, diags := workflows.Load(src, k); !diags.HasErrors() || !strings.Contains(diags.Error(), `Invalid username; The username holds a ":"`) {
		t.Errorf("load: %v", diags)
	}
	set, diags := workflows.LoadWith(src, k, workflows.Options{Stored: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := call(set.Workflow("w").Steps[0], &workflows.Env{})
	if err == nil || !strings.Contains(err.Error(), `api "crm": auth "basic": the username holds a ":"`) || isRetryable(err) {
		t.Errorf("got %v, want a permanent failure", err)
	}
	select {
	case r := <-got:
		t.Errorf("sent %s with %q", r.method, r.header.Get("Authorization"))
	default:
	}
}
