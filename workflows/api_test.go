package workflows_test

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// A workflow naming an api defined in another file is built from both: another
// process loading its sources gets the same workflow.
func TestAPIFileIsPartOfItsWorkflowsSources(t *testing.T) {
	srcs := []workflows.Source{
		{Name: "apis.hcl", Data: []byte(`api "crm" {
  base_url = "https://crm.example.com/api"
  auth "bearer" { token = "tok-123456" }
}`)},
		{Name: "sync.hcl", Data: []byte(`workflow "sync" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`)},
	}
	set, diags := workflows.Load(srcs, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wf := set.Workflow("sync")
	if len(wf.Sources) != 2 {
		t.Fatalf("sources = %d files, want the workflow's and the api's", len(wf.Sources))
	}
	again, diags := workflows.Load(wf.Sources, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if v := again.Workflow("sync").Version; v != wf.Version {
		t.Errorf("version %s loaded again from its sources, want %s", v, wf.Version)
	}
	if got := wf.Secrets.String("Bearer tok-123456"); got != "Bearer [redacted]" {
		t.Errorf("an api's token is not hidden like a secret: %q", got)
	}
	if apis := set.APIs(); len(apis) != 1 || apis[0].Name != "crm" {
		t.Errorf("APIs() = %v", apis)
	}
}

// An auth block's credentials are hidden like secrets; its other attributes name
// things (a user, a header, the token endpoint, the client, the audience, the scopes)
// and are shown as written: an audience that is the api's own origin, as Auth0's
// are, would otherwise hide the URL of every call and answer.
func TestAPIAuthHidesOnlyCredentials(t *testing.T) {
	tests := []struct {
		name, auth    string
		hidden, shown []string
	}{
		{"bearer", `auth "bearer" { token = "tok-123456" }`, []string{"tok-123456"}, nil},
		{"basic", `auth "basic" {
    username = "billing-user"
    password = "pass-123456"
  }`, []string{"pass-123456"}, []string{"billing-user"}},
		{"header", `auth "header" {
    name  = "X-Api-Key-Name"
    value = "key-123456"
  }`, []string{"key-123456"}, []string{"X-Api-Key-Name"}},
		{"oauth2", `auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "client-123456"
    client_secret = "secret-123456"
    scopes        = ["invoices:write"]
    audience      = "https://crm.example.com"
    grant         = "refresh_token"
    refresh_token = "refresh-123456"
  }`, []string{"secret-123456", "refresh-123456"},
			[]string{"https://auth.example.com/oauth/token", "client-123456", "invoices:write", "https://crm.example.com", "refresh_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `api "crm" {
  base_url = "https://crm.example.com/api"
  ` + tt.auth + `
}
workflow "sync" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`
			set, diags := workflows.Load([]workflows.Source{{Name: "crm.hcl", Data: []byte(src)}}, realKinds())
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			secrets := set.Workflow("sync").Secrets
			for _, v := range tt.hidden {
				if got := secrets.String("<" + v + ">"); got != "<[redacted]>" {
					t.Errorf("the credential %q is shown: %q", v, got)
				}
			}
			for _, v := range tt.shown {
				if got := secrets.String(v + "/api/v2/invoices"); got != v+"/api/v2/invoices" {
					t.Errorf("%q is hidden like a credential: %q", v, got)
				}
			}
		})
	}
}

// loadOAuth2 loads an api whose auth "oauth2" block holds more, and a workflow that
// calls it.
func loadOAuth2(t *testing.T, more string) hcl.Diagnostics {
	t.Helper()
	src := `api "crm" {
  base_url = "https://crm.example.com/api"
  auth "oauth2" {
    token_url     = "https://auth.example.com/oauth/token"
    client_id     = "hookflow"
    client_secret = secret("HOOKFLOW_TEST_CLIENT_SECRET")
    ` + more + `
  }
}
workflow "sync" {
  step "http" "find" {
    api = "crm"
    url = "/customers"
  }
}`
	t.Setenv("HOOKFLOW_TEST_CLIENT_SECRET", "client-secret-123456")
	_, diags := workflows.Load([]workflows.Source{{Name: "crm.hcl", Data: []byte(src)}}, realKinds())
	return diags
}

// A refresh_token secret too short is one error, at the secret: the refresh_token is
// written, so the grant is not also said to lack one.
func TestAPIShortRefreshTokenIsOneError(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_REFRESH", "abc")
	diags := loadOAuth2(t, `grant = "refresh_token"
    refresh_token = secret("HOOKFLOW_TEST_REFRESH")`)
	if len(diags) != 1 || diags[0].Summary != "Secret too short" {
		t.Errorf("want one error, Secret too short; got %s", diags.Error())
	}
}

// client_auth is "basic" or "post".
func TestAPIClientAuth(t *testing.T) {
	for _, v := range []string{"basic", "post"} {
		if diags := loadOAuth2(t, `client_auth = "`+v+`"`); diags.HasErrors() {
			t.Errorf("client_auth = %q: %s", v, diags.Error())
		}
	}
	diags := loadOAuth2(t, `client_auth = "client_secret_post"`)
	if len(diags) != 1 || diags[0].Summary != `Invalid client_auth "client_secret_post"` {
		t.Errorf("client_auth = \"client_secret_post\": %s", diags.Error())
	}
}

// TestClimbsOut: a url relative to a base_url climbs out of its path when a segment
// is "." or ".." as a server reads it: percent-decoded (once, or twice where a proxy
// decodes before the server, the path split again at each decoding's / and \), cut at a ";" (path parameters, which Tomcat, Jetty and
// Spring drop: "..;" is ".."), a "?" or "#" a proxy decoded, or a NUL, and without
// trailing spaces. Dots among other characters are a name.
func TestClimbsOut(t *testing.T) {
	for rel, want := range map[string]string{
		"/../../steal":      "..",
		"users/%2E%2e/x":    "%2E%2e",
		"..%2Fadmin":        "..",
		`users\..\admin`:    "..",
		"..;/admin":         "..;",
		"a/..;/..;/admin":   "..;",
		"%2e%2e;/admin":     "%2e%2e;",
		".;/admin":          ".;",
		"..%3b/admin":       "..%3b",
		"..%3B/admin":       "..%3B",
		"..;jsessionid=1/x": "..;jsessionid=1",
		"..%00/admin":       "..%00",
		"..%00.json":        "..%00.json",
		"..%20/admin":       "..%20",
		"..%3F/admin":       "..%3F",
		"..%23/admin":       "..%23",
		"%252e%252e/admin":  "%2e%2e",
		// Decoded twice, and split each time: a %252F is a / to a server behind a
		// proxy that decoded the path.
		"%252e%252e%252fadmin": "..",
		"..%252Fadmin":         "..",
		"..%255Cadmin":         "..",
		"x/..%252f..%253B/a":   "..",
		"%2e%2e%5cadmin":       "..",
		"%25252e%25252e/admin": "", // "%2e%2e" once decoded twice: a third decoding is more than servers do
		"..%25252Fadmin":       "",
		"..%253b/admin":        "..%3b",
		"x/..%2F..;/admin?q=1": "..",
		"..%zz;/admin":         "", // "..%zz", a name, though the escape is not one
		"..foo/bar":            "",
		"a..b":                 "",
		"...":                  "",
		"...;x":                "",
		"v1.2;x=1":             "",
		".well-known/openid":   "",
		"files;v=1/a":          "",
		"..%20x":               "",
		"..%41":                "",
		"users?next=../..":     "",
		"users#..;":            "",
		"":                     "",
	} {
		if got := workflows.ClimbsOut(rel); got != want {
			t.Errorf("ClimbsOut(%q) = %q, want %q", rel, got, want)
		}
	}
}
