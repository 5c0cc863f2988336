package workflows

import (
	"strings"
	"testing"
)

// TestIsCredentialName: the names of credentials are found in any case, and the usual
// headers looked up without the search are none.
func TestIsCredentialName(t *testing.T) {
	for _, name := range []string{"Authorization", "X-Api-Key", "X-Hub-Signature-256", "refresh_token",
		"PASSWORD", "Cookie", "Stripe-Signature", "X-Shopify-Hmac-Sha256", "Ocp-Apim-Subscription-Key"} {
		if !IsCredentialName(name) {
			t.Errorf("%s is a credential's name", name)
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
