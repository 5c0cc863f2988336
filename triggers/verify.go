package triggers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// verifier checks that a request comes from who the workflow trusts, over the raw
// body, before it is parsed. Comparisons are constant-time; several secrets may be
// given, so that one can be rotated without dropping requests.
type verifier interface {
	verify(h http.Header, body []byte, now time.Time) error
	// settings are its effective settings, by name, defaults filled in, which tell
	// whether two webhooks verify alike (verifyalike.go).
	settings() map[string]setting
}

// errVerify is the cause of every verification failure; the message says what failed,
// never what was expected.
var errVerify = errors.New("verification failed")

func verifyFailed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errVerify, fmt.Sprintf(format, args...))
}

// DefaultTolerance is how far a signed timestamp may be from now, either way.
const DefaultTolerance = 5 * time.Minute

// preset is a verification scheme: its attributes and how to build it.
type preset struct {
	attrs []workflows.Attr
	new   func(b *workflows.Block) (verifier, hcl.Diagnostics)
}

var secretsAttr = workflows.Attr{Name: "secrets", Required: true}

var presets = map[string]preset{
	"github": {attrs: []workflows.Attr{secretsAttr}, new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
		secrets, diags := secretList(b)
		return &hmacScheme{header: "X-Hub-Signature-256", name: "X-Hub-Signature-256", prefix: "sha256=", hash: sha256.New, algorithm: "sha256", encoding: "hex", secrets: secrets}, diags
	}},
	"shopify": {attrs: []workflows.Attr{secretsAttr}, new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
		secrets, diags := secretList(b)
		return &hmacScheme{header: "X-Shopify-Hmac-Sha256", name: "X-Shopify-Hmac-Sha256", hash: sha256.New, algorithm: "sha256", encoding: "base64", secrets: secrets}, diags
	}},
	"hmac": {attrs: []workflows.Attr{secretsAttr, {Name: "header", Required: true}, {Name: "algorithm"}, {Name: "encoding"}, {Name: "prefix"}},
		new: newHMACScheme},
	"stripe": {attrs: []workflows.Attr{secretsAttr, {Name: "tolerance"}}, new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
		secrets, diags := secretList(b)
		tolerance, d := toleranceOf(b)
		return &stripeScheme{secrets: secrets, tolerance: tolerance}, append(diags, d...)
	}},
	"slack": {attrs: []workflows.Attr{secretsAttr, {Name: "tolerance"}}, new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
		secrets, diags := secretList(b)
		tolerance, d := toleranceOf(b)
		return &slackScheme{secrets: secrets, tolerance: tolerance}, append(diags, d...)
	}},
	"standard": {attrs: []workflows.Attr{secretsAttr, {Name: "tolerance"}}, new: newStandardScheme},
	"basic": {attrs: []workflows.Attr{{Name: "username", Required: true}, {Name: "password", Required: true}},
		new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
			user, diags := b.ConstString("username", "")
			if user == "" && !diags.HasErrors() {
				diags = append(diags, b.Attr("username").Error("Empty username", "Anyone could send an empty username; give a real one."))
			}
			passwords, d := credentialList(b, "password")
			return &basicScheme{user: user, passwords: passwords}, append(diags, d...)
		}},
	"bearer": {attrs: []workflows.Attr{{Name: "tokens", Required: true}}, new: func(b *workflows.Block) (verifier, hcl.Diagnostics) {
		tokens, diags := credentialList(b, "tokens")
		return &bearerScheme{tokens: tokens}, diags
	}},
}

// MinCredential is the shortest secret, password or token a verify block takes: a
// shorter one can be guessed, and an empty one (an unset env() with an empty default,
// say) would let anyone in.
const MinCredential = 8

// credentialList reads a string or list of credentials, none of them short.
func credentialList(b *workflows.Block, name string) ([]string, hcl.Diagnostics) {
	list, diags := b.Strings(name)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(list) == 0 {
		return nil, hcl.Diagnostics{b.Attr(name).Error("No "+name, fmt.Sprintf(`Give at least one: %s = [secret("…")].`, name))}
	}
	for _, c := range list {
		if len(c) < MinCredential {
			return nil, hcl.Diagnostics{b.Attr(name).Error(fmt.Sprintf("A %s is too short", strings.TrimSuffix(name, "s")),
				fmt.Sprintf("Each of %s must be at least %d characters; an empty or short one (an unset variable, say) would let anyone in.", name, MinCredential))}
		}
		// Spaces count for the length, but a value of only spaces (a variable set
		// to a padded blank) is as guessable as an empty one.
		if strings.TrimSpace(c) == "" {
			return nil, hcl.Diagnostics{b.Attr(name).Error(fmt.Sprintf("A %s is blank", strings.TrimSuffix(name, "s")),
				fmt.Sprintf("Each of %s must have characters other than spaces; a blank one (a variable set to spaces, say) would let anyone in.", name))}
		}
	}
	return list, nil
}

func presetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func secretList(b *workflows.Block) ([]string, hcl.Diagnostics) {
	return credentialList(b, "secrets")
}

// hmacScheme is a signature header holding an HMAC of the body: GitHub, Shopify and
// the generic hmac preset.
type hmacScheme struct {
	header    string // canonical, as it is looked up
	name      string // as the file spells it, as refusals name it
	prefix    string
	hash      func() hash.Hash
	algorithm string // the hash's name
	encoding  string // hex or base64
	secrets   []string
}

var hashes = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

func newHMACScheme(b *workflows.Block) (verifier, hcl.Diagnostics) {
	secrets, diags := secretList(b)
	header, d := b.ConstString("header", "")
	diags = append(diags, d...)
	if header == "" && !d.HasErrors() {
		diags = append(diags, b.Attr("header").Error("Empty header", "Name the header that carries the signature, such as \"X-Signature\"."))
	} else if err := workflows.HeaderNameError(header); err != nil && !d.HasErrors() {
		// No request carries it: every one would be refused.
		diags = append(diags, b.Attr("header").Error("Invalid header name", err.Error()))
	}
	alg, d := b.OneOf("algorithm", "sha256", "sha1", "sha256", "sha512")
	diags = append(diags, d...)
	enc, d := b.OneOf("encoding", "hex", "hex", "base64")
	diags = append(diags, d...)
	prefix, d := b.ConstString("prefix", "")
	diags = append(diags, d...)
	return &hmacScheme{header: http.CanonicalHeaderKey(header), name: header, prefix: prefix, hash: hashes[alg], algorithm: alg, encoding: enc, secrets: secrets}, diags
}

func (s *hmacScheme) verify(h http.Header, body []byte, _ time.Time) error {
	v, err := oneValue(h, s.header)
	if err != nil {
		return err
	}
	if v == "" {
		return verifyFailed("no %s header", s.name)
	}
	sig, ok := strings.CutPrefix(v, s.prefix)
	if !ok {
		return verifyFailed("%s does not start with %q", s.name, s.prefix)
	}
	given, err := decodeSig(s.encoding, sig)
	if err != nil {
		return verifyFailed("%s is not %s", s.name, s.encoding)
	}
	for _, secret := range s.secrets {
		if hmac.Equal(given, sign(s.hash, []byte(secret), body)) {
			return nil
		}
	}
	// Hex digits are base64 too: a hex signature sent where base64 is expected decodes,
	// to the wrong length. Say so, as the sender's code is then what is wrong.
	if size := s.hash().Size(); s.encoding == "base64" && len(sig) == 2*size && len(given) != size && isHex(sig) {
		return verifyFailed("the %s signature does not match: it is hex, where %s is base64", s.name, s.name)
	}
	return verifyFailed("the %s signature does not match", s.name)
}

// isHex reports whether s is hex digits only.
func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// stripeScheme: Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…] over "<t>.<body>".
type stripeScheme struct {
	secrets   []string
	tolerance time.Duration
}

func (s *stripeScheme) verify(h http.Header, body []byte, now time.Time) error {
	v, err := oneValue(h, "Stripe-Signature")
	if err != nil {
		return err
	}
	if v == "" {
		return verifyFailed("no Stripe-Signature header")
	}
	var ts string
	var sigs [][]byte
	notHex := false // a v1= signature that is not hex, which no secret can match
	for _, part := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = val
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, sig)
			} else {
				notHex = true
			}
		}
	}
	switch {
	case ts == "" && len(sigs) == 0 && !notHex:
		return verifyFailed("Stripe-Signature has no t= timestamp and no v1= signature")
	case ts == "":
		return verifyFailed("Stripe-Signature has no t= timestamp")
	case len(sigs) == 0 && notHex:
		return verifyFailed("Stripe-Signature's v1= signature is not hex")
	case len(sigs) == 0:
		return verifyFailed("Stripe-Signature has no v1= signature")
	}
	if err := checkTimestamp(ts, now, s.tolerance); err != nil {
		return err
	}
	payload := append([]byte(ts+"."), body...)
	failure := "the Stripe-Signature does not match"
	if notHex {
		failure += " (one of its v1= signatures is not hex)"
	}
	return matchAny(s.secrets, sigs, func(secret string) []byte { return sign(sha256.New, []byte(secret), payload) }, failure)
}

// slackScheme: X-Slack-Signature: v0=<hex> over "v0:<X-Slack-Request-Timestamp>:<body>".
type slackScheme struct {
	secrets   []string
	tolerance time.Duration
}

func (s *slackScheme) verify(h http.Header, body []byte, now time.Time) error {
	ts, v, err := twoValues(h, "X-Slack-Request-Timestamp", "X-Slack-Signature")
	if err != nil {
		return err
	}
	if ts == "" || v == "" {
		return verifyFailed("no X-Slack-Request-Timestamp or X-Slack-Signature header")
	}
	if err := checkTimestamp(ts, now, s.tolerance); err != nil {
		return err
	}
	hexSig, ok := strings.CutPrefix(v, "v0=")
	sig, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return verifyFailed("X-Slack-Signature is not v0=<hex>")
	}
	payload := append([]byte("v0:"+ts+":"), body...)
	return matchAny(s.secrets, [][]byte{sig}, func(secret string) []byte { return sign(sha256.New, []byte(secret), payload) },
		"the X-Slack-Signature does not match")
}

// standardScheme is Standard Webhooks (standardwebhooks.com): webhook-signature holds
// space-separated "v1,<base64>" signatures over "<webhook-id>.<webhook-timestamp>.<body>",
// keyed with the base64 secret after "whsec_". Svix, which the standard comes from,
// names the three headers svix-id, svix-timestamp and svix-signature by default.
type standardScheme struct {
	keys      [][]byte
	tolerance time.Duration
}

func newStandardScheme(b *workflows.Block) (verifier, hcl.Diagnostics) {
	secrets, diags := secretList(b)
	tolerance, d := toleranceOf(b)
	diags = append(diags, d...)
	s := &standardScheme{tolerance: tolerance}
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(key) < 16 {
			diags = append(diags, b.Attr("secrets").Error("Invalid Standard Webhooks secret",
				`A Standard Webhooks secret is 16 to 64 bytes in base64, usually after "whsec_".`))
			break
		}
		s.keys = append(s.keys, key)
	}
	return s, diags
}

func (s *standardScheme) verify(h http.Header, body []byte, now time.Time) error {
	names := standardSet(func(name string) bool { return h.Get(name) != "" })
	if names == nil {
		return verifyFailed("%s", standardMissing(h))
	}
	id, ts, v, err := threeValues(h, http.CanonicalHeaderKey(names[0]), http.CanonicalHeaderKey(names[1]), http.CanonicalHeaderKey(names[2]))
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, now, s.tolerance); err != nil {
		return err
	}
	var sigs [][]byte
	notBase64 := false // a v1 signature that is not base64, which no secret can match
	for _, part := range strings.Fields(v) {
		version, b64, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		if sig, err := base64.StdEncoding.DecodeString(b64); err == nil {
			sigs = append(sigs, sig)
		} else {
			notBase64 = true
		}
	}
	if len(sigs) == 0 && notBase64 {
		return verifyFailed("%s's v1 signature is not base64", names[2])
	}
	if len(sigs) == 0 {
		return verifyFailed("%s has no v1 signature", names[2])
	}
	payload := append([]byte(id+"."+ts+"."), body...)
	for _, key := range s.keys {
		want := sign(sha256.New, key, payload)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	if notBase64 {
		return verifyFailed("the %s does not match (one of its v1 signatures is not base64)", names[2])
	}
	return verifyFailed("the %s does not match", names[2])
}

// standardHeaders are the headers a Standard Webhooks request is signed with: the
// standard's, and Svix's names for them.
var standardHeaders = [2][3]string{
	{"webhook-id", "webhook-timestamp", "webhook-signature"},
	{"svix-id", "svix-timestamp", "svix-signature"},
}

// standardSet is the set of standardHeaders a request is verified with: the
// standard's when all three were sent, else Svix's when all three were, else nil.
// sent reports whether a header (named in lower case) was sent with a value. A stray
// header of one set beside a whole other set is left alone: the whole set is what
// was signed together. (Svix's own verifier takes each header by its svix- name
// first, and would verify a stray svix-id with the standard's other two.)
func standardSet(sent func(name string) bool) *[3]string {
	for i, names := range standardHeaders {
		if sent(names[0]) && sent(names[1]) && sent(names[2]) {
			return &standardHeaders[i]
		}
	}
	return nil
}

// standardMissing says which headers a request that has no whole set of
// standardHeaders lacks: those of the set it started, or both sets' when it has some
// of each, or all of them.
func standardMissing(h http.Header) string {
	var missing [2][]string
	for i, names := range standardHeaders {
		for _, n := range names {
			if h.Get(n) == "" {
				missing[i] = append(missing[i], n)
			}
		}
	}
	std, svix := missing[0], missing[1]
	switch {
	case len(std) == 3 && len(svix) == 3:
		return "no webhook-id, webhook-timestamp or webhook-signature header (nor Svix's svix-id, svix-timestamp and svix-signature)"
	case len(svix) == 3:
		return "no " + orList(std) + " header"
	case len(std) == 3:
		return "no " + orList(svix) + " header"
	}
	return fmt.Sprintf("neither set of headers is whole: no %s, and no %s", orList(std), orList(svix))
}

// orList joins names as a sentence does: "a", "a or b", "a, b or c".
func orList(names []string) string { return joinList(names, " or ") }

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string { return joinList(names, " and ") }

func joinList(names []string, last string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + last + names[len(names)-1]
}

// basicScheme is HTTP basic authentication; several passwords allow rotation.
type basicScheme struct {
	user      string
	passwords []string
}

func (s *basicScheme) verify(h http.Header, _ []byte, _ time.Time) error {
	if _, err := oneValue(h, "Authorization"); err != nil {
		return err
	}
	r := http.Request{Header: h}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return verifyFailed("no basic credentials")
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) == 1
	passOK := anyEqual(pass, s.passwords)
	if !userOK || !passOK {
		return verifyFailed("the basic credentials do not match")
	}
	return nil
}

// bearerScheme is Authorization: Bearer <token>. The scheme's name is matched in any
// case, as HTTP's authentication schemes are (RFC 9110, 11.1).
type bearerScheme struct{ tokens []string }

func (s *bearerScheme) verify(h http.Header, _ []byte, _ time.Time) error {
	auth, err := oneValue(h, "Authorization")
	if err != nil {
		return err
	}
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return verifyFailed("no bearer token")
	}
	if !anyEqual(token, s.tokens) {
		return verifyFailed("the bearer token does not match")
	}
	return nil
}

// oneValue is the value of header name (in its canonical form, as Go keeps it) in h,
// "" when it was not sent. A header sent more than once is refused: which of its
// values the sender meant cannot be told.
func oneValue(h http.Header, name string) (string, error) {
	switch v := h[name]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	default:
		return "", verifyFailed("%s is sent %d times; a sender sends it once", name, len(v))
	}
}

// twoValues is oneValue of two headers.
func twoValues(h http.Header, a, b string) (string, string, error) {
	va, err := oneValue(h, a)
	if err != nil {
		return "", "", err
	}
	vb, err := oneValue(h, b)
	return va, vb, err
}

// threeValues is oneValue of three headers.
func threeValues(h http.Header, a, b, c string) (string, string, string, error) {
	va, vb, err := twoValues(h, a, b)
	if err != nil {
		return "", "", "", err
	}
	vc, err := oneValue(h, c)
	return va, vb, vc, err
}

// anyEqual compares given with every candidate in constant time, and does not stop at
// the first match, so timing says nothing about which one matched.
func anyEqual(given string, candidates []string) bool {
	match := 0
	for _, c := range candidates {
		match |= subtle.ConstantTimeCompare([]byte(given), []byte(c))
	}
	return match == 1
}

func sign(h func() hash.Hash, key, data []byte) []byte {
	m := hmac.New(h, key)
	m.Write(data)
	return m.Sum(nil)
}

func matchAny(secrets []string, sigs [][]byte, want func(string) []byte, failure string) error {
	for _, secret := range secrets {
		w := want(secret)
		for _, sig := range sigs {
			if hmac.Equal(sig, w) {
				return nil
			}
		}
	}
	return verifyFailed("%s", failure)
}

// beyond is a skew past the tolerance in whole seconds, rounded up: a skew of 300.4 s
// past a tolerance of 5m is said as 5m1s, not as the 5m it is beyond.
func beyond(skew time.Duration) time.Duration {
	return (skew + time.Second - 1).Truncate(time.Second)
}

func decodeSig(encoding, s string) ([]byte, error) {
	if encoding == "base64" {
		return base64.StdEncoding.DecodeString(s)
	}
	return hex.DecodeString(s)
}

// toleranceOf reads a verify block's tolerance. A signed timestamp is in whole
// seconds, so a tolerance under a second refuses requests that came at once: an
// error. One of more than a day lets a signed request be sent again for that long,
// which only dedupe stops: a warning.
func toleranceOf(b *workflows.Block) (time.Duration, hcl.Diagnostics) {
	tolerance, diags := b.Duration("tolerance", DefaultTolerance)
	a := b.Attr("tolerance")
	switch {
	case a == nil || diags.HasErrors():
	case tolerance < time.Second:
		diags = append(diags, a.Error("Invalid tolerance",
			fmt.Sprintf("A signed timestamp is in whole seconds: a tolerance of %s refuses requests signed a moment ago. Write 1s or more; the default is %s.", workflows.FormatDuration(tolerance), workflows.FormatDuration(DefaultTolerance))))
	case tolerance > 24*time.Hour:
		diags = append(diags, a.Warning("Long tolerance",
			fmt.Sprintf("A tolerance of %s lets a signed request be sent again, and accepted, for that long after it was signed (a replay); the default is %s", workflows.FormatDuration(tolerance), workflows.FormatDuration(DefaultTolerance))))
	}
	return tolerance, diags
}

// checkTimestamp refuses a signed Unix timestamp further than tolerance from now,
// in either direction: a stale one may be a replay, a future one a forgery. Its
// errors quote nothing of ts: it comes from a credential header (Stripe-Signature),
// whose text the 401 and the log keep out, whatever a sender put there.
func checkTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return verifyFailed("the signed timestamp is not a Unix time in seconds")
	}
	skew := now.Sub(time.Unix(sec, 0))
	if year := 365 * 24 * time.Hour; skew > 100*year || skew < -100*year {
		return verifyFailed("the signed timestamp is not a time of this century") // nor a skew to name
	}
	if skew > tolerance {
		return verifyFailed("the signed timestamp is %s old, beyond the tolerance of %s (a replay, or a clock behind)", workflows.FormatDuration(beyond(skew)), workflows.FormatDuration(tolerance))
	}
	if skew < -tolerance {
		return verifyFailed("the signed timestamp is %s ahead of this clock, beyond the tolerance of %s", workflows.FormatDuration(beyond(-skew)), workflows.FormatDuration(tolerance))
	}
	return nil
}
