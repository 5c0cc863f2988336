package workflows_test

import (
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// The credentials an http step or an api block writes out in the file are hidden like
// secrets, as an auth block's are; the values beside them under other names are shown.
func TestCredentialsWrittenInStepsAreHidden(t *testing.T) {
	tests := []struct {
		name, src     string
		hidden, shown []string
	}{
		{"bearer header", `headers = { Authorization = "Bearer tok-123456", X-Shop = "shop-123456" }`,
			[]string{"tok-123456"}, []string{"shop-123456", "Bearer"}},
		{"header beside a template", `headers = { X-Api-Key = "key-123456", X-Run = "{{ run.id }}" }`,
			[]string{"key-123456"}, nil},
		{"header from a var", `headers = { Authorization = "Token {{ vars.token }}" }`,
			[]string{"var-123456"}, nil},
		{"basic_auth", `basic_auth = { username = "billing-user", password = "pass-123456" }`,
			[]string{"pass-123456"}, []string{"billing-user"}},
		{"query", `query = { api_key = "qkey-123456", page = "page-123456" }`,
			[]string{"qkey-123456"}, []string{"page-123456"}},
		{"url", `url = "https://api.example.com/v1?signature=sig%2B123456&page=page-123456"`,
			[]string{"sig%2B123456", "sig+123456"}, []string{"page-123456"}},
		{"json", `json = { login = { user = "ada-lovelace", password = "json-123456" } }`,
			[]string{"json-123456"}, []string{"ada-lovelace"}},
		{"form", `form = { client_secret = "form-123456", grant_type = "client_credentials" }`,
			[]string{"form-123456"}, []string{"client_credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := `url = "https://api.example.com/v1"`
			if tt.name == "url" {
				url = ""
			}
			src := `vars {
  token = "var-123456"
}

workflow "w" {
  step "http" "call" {
    ` + url + `
    ` + tt.src + `
  }
}`
			set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			secrets := set.Workflow("w").Secrets
			for _, v := range tt.hidden {
				if got := secrets.String("echoed " + v); got != "echoed [redacted]" {
					t.Errorf("%s is not hidden: %q", v, got)
				}
			}
			for _, v := range tt.shown {
				if secrets.Secret(v) {
					t.Errorf("%s is hidden", v)
				}
			}
		})
	}
}

// The base64 of basic_auth's user:password, which an answer may repeat, is hidden
// with the password it holds.
func TestBasicAuthWrittenInStepHidesItsBase64(t *testing.T) {
	src := `workflow "w" {
  step "http" "call" {
    url        = "https://api.example.com/v1"
    basic_auth = { username = "u", password = "LITERALstepBASIC444" }
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := set.Workflow("w").Secrets.WithBasicAuth("u", "LITERALstepBASIC444")
	if got := r.String(`{"Authorization":"Basic dTpMSVRFUkFMc3RlcEJBU0lDNDQ0"}`); got != `{"Authorization":"Basic [redacted]"}` {
		t.Errorf("the echoed basic auth shows %s", got)
	}
}

// An api block's credential headers are hidden as its auth block's credentials are.
func TestAPIHeaderCredentialsAreHidden(t *testing.T) {
	src := `api "crm" {
  base_url = "https://crm.example.com"
  headers  = { X-Api-Key = "apikey-123456", Authorization = "Bearer apitok-123456", X-Tenant = "tenant-123456" }
}

workflow "w" {
  step "http" "call" {
    api = "crm"
    url = "/customers"
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	secrets := set.Workflow("w").Secrets
	if got := secrets.String("apikey-123456 Bearer apitok-123456 tenant-123456"); got != "[redacted] Bearer [redacted] tenant-123456" {
		t.Errorf("shown: %q", got)
	}
}

// The values under credential names that name a credential's kind or say how it is
// sent, and the words of settings, are no credentials: they are hidden neither in the
// workflow that writes them nor in another of the set. A credential written out is
// hidden in its own workflow only.
func TestCredentialsWrittenInStepsSpareWords(t *testing.T) {
	src := `workflow "w" {
  step "http" "revoke" {
    url  = "https://api.example.com/revoke"
    form = { token_type_hint = "access_token", token = "tok_9fQ2xLr7Vb3Kp1Zs" }
  }
  step "http" "bearer" {
    url  = "https://api.example.com/a"
    json = { token_type = "Bearer", auth_method = "client_secret_post", secret_name = "production" }
  }
  step "http" "signed" {
    url     = "https://api.example.com/b"
    query   = { oauth_signature_method = "HMAC-SHA256", session = "active" }
    headers = { X-Api-Key-Name = "default", X-Auth-Scheme = "signature" }
  }
  step "http" "reset" {
    url  = "https://api.example.com/c"
    json = { password_reset = "enabled", credentials = "include", api_key = "ak_live_Q8mN2vT5wR1yU7pX" }
  }
  step "http" "login" {
    url  = "https://api.example.com/login?session_mode=persistent&access_token=AbC123xYz789qRs"
    json = { password = "sunshine", totp_secret = "JBSWYDPEHPKPXPQRJBSW" }
  }
}

workflow "other" {
  step "http" "call" {
    url = "https://api.example.com/d"
  }
}`
	set, diags := workflows.Load([]workflows.Source{{Name: "w.hcl", Data: []byte(src)}}, realKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	words := []string{"access_token", "Bearer", "client_secret_post", "production", "HMAC-SHA256",
		"active", "default", "signature", "enabled", "include", "persistent"}
	credentials := []string{"tok_9fQ2xLr7Vb3Kp1Zs", "ak_live_Q8mN2vT5wR1yU7pX", "AbC123xYz789qRs", "sunshine",
		"JBSWYDPEHPKPXPQRJBSW"}
	for _, name := range []string{"w", "other"} {
		secrets := set.Workflow(name).Secrets
		for _, v := range words {
			if secrets.Secret(v) {
				t.Errorf("workflow %s hides %q", name, v)
			}
		}
		for _, v := range credentials {
			if got, want := secrets.Secret(v), name == "w"; got != want {
				t.Errorf("workflow %s hides %q: %v, want %v", name, v, got, want)
			}
		}
	}
	if got := set.Workflow("w").Secrets.String(`{"access_token":"x","token_type":"Bearer"}`); got != `{"access_token":"x","token_type":"Bearer"}` {
		t.Errorf("a token answer shows %s", got)
	}
}
