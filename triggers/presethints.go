package triggers

import (
	"strings"
	"unicode"
)

// presetHints say how to verify a sender that has no preset of its own name, by the
// name a verify block gives it, in lower case with only its letters and digits:
// verify "svix" is told of the standard preset, verify "twilio" of basic.
var presetHints = map[string]string{
	"svix":             svixHint,
	"clerk":            `Clerk signs its webhooks with Svix: use verify "standard", which reads Svix's svix-id, svix-timestamp and svix-signature headers.`,
	"resend":           `Resend signs its webhooks with Svix: use verify "standard", which reads Svix's svix-id, svix-timestamp and svix-signature headers.`,
	"standardwebhooks": `Standard Webhooks is the preset "standard": use verify "standard".`,
	"twilio": `Twilio signs the URL with its form fields (X-Twilio-Signature), which no preset checks: put a user and password in the webhook's URL ` +
		`(https://user:password@hooks.example.com/hooks/…), which Twilio sends as basic authentication, and check them with verify "basic" ` +
		`(see "Verification presets" in docs/language.md).`,
	"linear": `Linear signs the body with HMAC-SHA256, in hex, in Linear-Signature: use verify "hmac" with header = "Linear-Signature".`,
	"woocommerce": `WooCommerce signs the body with HMAC-SHA256, in base64, in X-WC-Webhook-Signature: ` +
		`use verify "hmac" with header = "X-WC-Webhook-Signature" and encoding = "base64".`,
	"hmacsha256": `Use verify "hmac", whose algorithm is sha256 unless it says otherwise.`,
	"basicauth":  `Use verify "basic", with username and password.`,
	"token":      `A token in Authorization: Bearer is checked by verify "bearer", with tokens.`,
}

const svixHint = `Svix signs with Standard Webhooks: use verify "standard", which reads Svix's svix-id, svix-timestamp and svix-signature headers too.`

// presetHint is what presetHints says of a verify block's preset name, "" for none.
func presetHint(name string) string {
	key := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, name)
	return presetHints[key]
}
