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
	// A server's challenge says how to authenticate and why a call was refused
	// (Bearer error="insufficient_scope"): shown, in whichever case it is named.
	for _, name := range []string{"WWW-Authenticate", "Www-Authenticate", "www-authenticate",
		"Proxy-Authenticate", "proxy-authenticate"} {
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

// TestCredentialNamesByWord: a credential's name is found however its words are
// joined (snake_case, camelCase, kebab-case, capitals), and short words only as
// words of their own, not inside others.
func TestCredentialNamesByWord(t *testing.T) {
	for _, name := range []string{
		// headers
		"X-Credentials", "X-Passphrase", "X-Pwd", "X-Jwt", "X-Signing-Key", "X-Bearer", "X-Otp",
		"X-Private-Key", "X-Apikey", "Paypal-Transmission-Sig", "X-Card-Pin",
		// body fields and query parameters
		"passphrase", "credentials", "pwd", "jwt", "privateKey", "private_key", "private-key",
		"PRIVATE_KEY", "privatekey", "signing_key", "signingKey", "otp", "otp_code", "totp",
		"cvv", "cvv2", "card_number", "cardNumber", "CARD_NUMBER", "creditCardNumber", "ssn",
		"SSN", "userSSN", "SSNLast4", "ssn_last4", "apiKey", "accessKey", "clientKey",
		"userJWT", "JWTPayload", "pin", "PIN", "card_pin", "cardPin", "pin_code", "pinCode",
		"PIN_NUMBER", "api_keys",
	} {
		if !IsCredentialName(name) {
			t.Errorf("%s is a credential's name", name)
		}
	}
	for _, name := range []string{
		// a short word inside another
		"pinned", "pinned_at", "spin", "shipping", "opinion", "mapping", "footprint",
		"classname", "jwtish", "cvvs", "pwdx", "bearers", "upwd",
		// pin before a word that is not its code or number
		"pin_count", "pinCount", "pin_to_top",
		// key alone names no credential
		"key", "X-Key", "primary_key", "sortKey", "object_key", "keys", "Idempotency-Key",
		"monkey", "keyboard", "turnkey",
		// numbers that are not a card's
		"number", "phone_number", "order_number", "account_number_last4_shown",
		"card_type", "card_brand",
	} {
		if IsCredentialName(name) {
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
