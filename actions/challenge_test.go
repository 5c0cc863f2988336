package actions

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestChallengeParams: the auth-params of a WWW-Authenticate value are read past
// schemes, token68s and quoted commas, a quoted value's escapes undone.
func TestChallengeParams(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        map[string]string
	}{
		{"RFC 6750", `Bearer realm="example", error="insufficient_scope", scope="admin:write read"`,
			map[string]string{"realm": "example", "error": "insufficient_scope", "scope": "admin:write read"}},
		{"tokens", `Bearer error=insufficient_scope,scope=admin`, map[string]string{"error": "insufficient_scope", "scope": "admin"}},
		{"quoted comma and escape", `Bearer error_description="no scope=x, \"really\"", Error = invalid_token`,
			map[string]string{"error_description": `no scope=x, "really"`, "error": "invalid_token"}},
		{"two challenges, the first kept", `Basic realm="a", Bearer realm="b", error="invalid_token"`,
			map[string]string{"realm": "a", "error": "invalid_token"}},
		{"scheme only", `Negotiate`, map[string]string{}},
		{"unclosed quote", `Bearer scope="admin`, map[string]string{"scope": "admin"}},
		{"stray equals", `= Bearer error=x`, map[string]string{"error": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := challengeParams(tc.value); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// A 401 that says the step's token lacks a scope says so in the step's error, with the
// scope the API names, cut when long and with the workflow's secrets redacted; a step
// without OAuth2 fetches no token in any case, so its error says nothing of one. A 401
// that says nothing of a scope keeps its error as it was.
func TestHTTPStepSaysTheScopeItLacks(t *testing.T) {
	for _, tc := range []struct {
		name, challenge, want string
	}{
		{"scope", `Bearer error="insufficient_scope", scope="orders:write"`,
			"status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope orders:write)"},
		{"no scope", `Bearer realm="shop", error=insufficient_scope`,
			"status 401 Unauthorized, expected 2xx (the API says insufficient_scope)"},
		{"secret", `Bearer error="insufficient_scope", scope="` + strings.ReplaceAll(requestCanary, `"`, `\"`) + `"`,
			"status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope [redacted])"},
		{"long", `Bearer error="insufficient_scope", scope="` + strings.Repeat("s", 300) + `"`,
			"status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope " + strings.Repeat("s", maxShownScope) + "…)"},
		// A secret the cut would split is redacted before the cut: none of it shows.
		{"secret at the cut", `Bearer error="insufficient_scope", scope="` + strings.Repeat("s", maxShownScope-10) + strings.ReplaceAll(requestCanary, `"`, `\"`) + `"`,
			"status 401 Unauthorized, expected 2xx (the API says insufficient_scope: scope " + strings.Repeat("s", maxShownScope-10) + "[redacted])"},
		{"revoked", `Bearer error="invalid_token"`, "status 401 Unauthorized, expected 2xx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", tc.challenge)
				w.WriteHeader(http.StatusUnauthorized)
			}))
			defer srv.Close()
			step, secrets := loadSecretStep(t, fmt.Sprintf(`
  step "http" "send" {
    url     = "%s/orders"
    headers = { Authorization = "Bearer ${vars.token}" }
  }`, srv.URL))
			c := &workflows.Call{Env: &workflows.Env{}, RunID: "r1", Step: "send", Attempt: 1, Secrets: secrets}
			_, err := step.Action.Do(context.Background(), c)
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to end %q", err, tc.want)
			}
		})
	}
}
