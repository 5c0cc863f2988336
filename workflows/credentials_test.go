package workflows

import (
	"strings"
	"testing"
)

// TestIsCredentialName: the names of credentials are found in any case, and the usual
// headers looked up without the search are none.
func TestIsCredentialName(t *testing.T) {
	for _, name := range []string{"Authorization", "X-Api-Key", "X-Hub-Signature-256", "refresh_token",
		"PASSWORD", "Cookie", "Stripe-Signature", "X-Shopify-Hmac-Sha256", "Ocp-Apim-Subscription-Key",
		"auth", "X-Auth-Token", "oauth", "authentication", "Proxy-Authorization", "authorisation", "author_auth"} {
		if !IsCredentialName(name) {
			t.Errorf("%s is a credential's name", name)
		}
	}
	// A commit's author, in a GitHub push, and names like it are not.
	for _, name := range []string{"author", "Author", "authored_at", "co_authors", "authority"} {
		if IsCredentialName(name) {
			t.Errorf("%s is no credential's name", name)
		}
	}
	for name := range plainHeaders {
		lower := strings.ToLower(name)
		for _, w := range credentialWords {
			if strings.Contains(lower, w) {
				t.Errorf("%s holds %q: it is no plain header", name, w)
			}
		}
		if IsCredentialName(name) || IsCredentialName(lower) {
			t.Errorf("%s is no credential's name", name)
		}
	}
}

// BenchmarkCredentialValues: what a run's first step record pays to find the values of
// its event body's credential fields, for a relay's four-field body.
func BenchmarkCredentialValues(b *testing.B) {
	body := map[string]any{"seq": 398.0, "sent_ns": 1796343742814202005.0, "kind": "bench", "pad": ""}
	b.ReportAllocs()
	for b.Loop() {
		CredentialValues(body, nil)
	}
}
