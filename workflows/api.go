package workflows

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// API is an api block: what the http steps that name it share, a base URL, headers,
// auth, a default timeout and retry policy, and limits that hold across processes.
// Its values are fixed when the file loads.
type API struct {
	Name    string
	BaseURL string // http(s), without a query or fragment
	Headers map[string]string
	Timeout time.Duration // 0: the steps' own default
	Retry   *Retry        // nil: the steps' own
	Auth    *Auth         // nil: none
	// RateLimit is how many calls start per Per across every process; 0: no limit.
	// Burst is how many may start at once, one Per's worth unless set.
	RateLimit int
	Per       time.Duration
	Burst     int
	// Concurrency bounds the calls in flight across every process; 0: no bound.
	Concurrency int
	DefRange    hcl.Range
}

// Auth is how an api's calls authenticate.
type Auth struct {
	Kind               string // "bearer", "basic", "header" or "oauth2"
	Token              string // bearer
	Username, Password string // basic
	Name, Value        string // header
	OAuth2             *OAuth2
}

// OAuth2 is an oauth2 auth block.
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	Audience     string
	Grant        string // "client_credentials" or "refresh_token"
	RefreshToken string // the first refresh token, for the refresh_token grant
	// ClientAuth is how the client's credentials go to the token endpoint: "basic",
	// HTTP basic auth (RFC 6749 2.3.1's client_secret_basic), or "post", client_id and
	// client_secret in the form (client_secret_post).
	ClientAuth string
}

// JoinURL appends a relative URL to the api's base URL's path: base
// https://crm.example.com/api and /customers give https://crm.example.com/api/customers.
func (a *API) JoinURL(rel string) string {
	if rel == "" || strings.HasPrefix(rel, "?") {
		return a.BaseURL + rel
	}
	return strings.TrimRight(a.BaseURL, "/") + "/" + strings.TrimLeft(rel, "/")
}

// ClimbsOut reports the first segment of rel's path, a url relative to a base_url,
// that a server may read as "." or ".." (climbingSegment: "..", "%2E%2E", "..;",
// "..%3B", "..%00", and what it finds once it, or a proxy in front, decodes the path
// once or twice or reads \ as /): joined to the base_url, it would step out of the
// base's path, with the api's credentials. "" when none is.
func ClimbsOut(rel string) string {
	path := rel
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return climbingSegment(path)
}

// climbingSegment is the first segment of path, a URL's path as it is written, that a
// server may resolve as "." or "..", or "" when none is. A segment is one between
// slashes, a backslash too (which servers on Windows and URL parsers of browsers take
// for one); it climbs when it is "." or ".." as a server reads it (isDotSegment:
// percent-decoded, less what servers drop of a segment). A server or proxy may
// decode the path before it splits it, and a proxy in front decode it once more:
// each decoding, up to two, is split again, a %2F or %5C now a separator ("..%2Fadmin",
// "..%252Fadmin"), and its segments read as a server reads them ("%252E%252E").
// ClimbsOut checks a whole url relative to an api's base_url with it, and
// dotSegmentError each segment a value of a url template is written in.
func climbingSegment(path string) string {
	for decoded := 0; ; decoded++ {
		for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' }) {
			// The segments of a path decoded twice are read as they are: a third
			// decoding is more than a server and a proxy do.
			if decoded < maxPathDecodes && isDotSegment(seg) || dotName(seg) {
				return seg
			}
		}
		if decoded == maxPathDecodes || !strings.Contains(path, "%") {
			return ""
		}
		path = unescapeLenient(path)
	}
}

// maxPathDecodes is how many times climbingSegment decodes a path and splits it
// again: once by the server (or a proxy), and once more by a proxy in front.
const maxPathDecodes = 2

// IsAbsoluteURL reports whether s names its own scheme or host, which a url relative
// to an api's base_url may not.
func IsAbsoluteURL(s string) bool {
	if strings.HasPrefix(s, "//") {
		return true
	}
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#{") {
		return false
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

var authKinds = map[string][]Attr{
	"bearer": {{Name: "token", Required: true}},
	"basic":  {{Name: "username", Required: true}, {Name: "password", Required: true}},
	"header": {{Name: "name", Required: true}, {Name: "value", Required: true}},
	"oauth2": {{Name: "token_url", Required: true}, {Name: "client_id", Required: true}, {Name: "client_secret", Required: true},
		{Name: "scopes"}, {Name: "audience"}, {Name: "grant"}, {Name: "refresh_token"}, {Name: "client_auth"}},
}

var apiAttrs = []Attr{{Name: "base_url", Required: true}, {Name: "headers"}, {Name: "timeout"},
	{Name: "rate_limit"}, {Name: "burst"}, {Name: "concurrency"}}

var apiSchema = func() *hcl.BodySchema {
	s := kindSchema(nil, apiAttrs)
	s.Blocks = []hcl.BlockHeaderSchema{{Type: "retry"}, {Type: "auth", LabelNames: []string{"kind"}}}
	return s
}()

// decodeAPIs decodes every api block of every file, before any workflow, which names
// them. The files holding api blocks are, like those with vars, part of every
// workflow's sources and version.
func (l *loader) decodeAPIs(bodies []*hcl.BodyContent, names []string, ev *evaluator) hcl.Diagnostics {
	var diags hcl.Diagnostics
	l.apis = map[string]*API{}
	for i, content := range bodies {
		for _, b := range content.Blocks {
			if b.Type != "api" {
				continue
			}
			l.apiSrc = append(l.apiSrc, canonical(l.files, b))
			l.unset.api = b.Labels[0]
			a, d := l.api(b, ev.forFile(names[i]))
			l.unset.api = ""
			l.unset.apiRefersToVars(a.Name, blockSource(l.files, b))
			diags = append(diags, d...)
			if first, dup := l.apis[a.Name]; dup {
				diags = append(diags, duplicateDiag("api", a.Name, b.LabelRanges[0], first.DefRange))
				continue
			}
			l.apis[a.Name] = a
		}
	}
	return diags
}

func (l *loader) api(b *hcl.Block, ev *evaluator) (*API, hcl.Diagnostics) {
	a := &API{Name: b.Labels[0], DefRange: b.DefRange}
	diags := checkName("api", a.Name, b.LabelRanges[0])
	content, d := b.Body.Content(apiSchema)
	diags = append(diags, dropMissingSuggested(d)...)
	sc := &scope{where: "an api block"}
	blk, d := l.block("api", a.Name, b.DefRange, content, ev, sc)
	diags = append(diags, d...)
	a.BaseURL, d = blk.ConstString("base_url", "")
	diags = append(diags, d...)
	if at := blk.Attr("base_url"); at != nil && !d.HasErrors() {
		if err := checkBaseURL(a.BaseURL, false); err != nil {
			diags = append(diags, at.Error("Invalid base_url", err.Error()))
		}
	}
	a.Headers, d = blk.constStrings("headers")
	d = append(d, blk.CheckRequestHeaders("headers")...)
	blk.HideCredentialHeaders("headers") // as the auth block's credentials are
	diags = append(diags, d...)
	if !d.HasErrors() {
		diags = append(diags, blk.Attr("headers").CredentialHeadersInFile(func(name string) string { return HeaderFix(name, a.Name) })...)
	}
	a.Timeout, d = blk.Duration("timeout", 0)
	diags = append(diags, d...)
	a.Concurrency, d = blk.Int("concurrency", 0, 1, 100_000)
	diags = append(diags, d...)
	a.Burst, d = blk.Int("burst", 0, 1, 1_000_000)
	diags = append(diags, d...)
	if at := blk.Attr("rate_limit"); at != nil {
		s, d := blk.ConstString("rate_limit", "")
		diags = append(diags, d...)
		if !d.HasErrors() {
			if a.RateLimit, a.Per, d = parseRate(s, at); !d.HasErrors() && a.Burst == 0 {
				a.Burst = a.RateLimit
			}
			diags = append(diags, d...)
		}
	} else if at := blk.Attr("burst"); at != nil {
		diags = append(diags, at.Error("burst without rate_limit", `A burst is part of a rate limit: set rate_limit = "10/s" too.`))
	}
	var authAt *hcl.Block
	for _, nb := range content.Blocks {
		switch nb.Type {
		case "retry":
			a.Retry, d = l.retry(nb, ev, &scope{where: "retry"})
			diags = append(diags, d...)
		case "auth":
			if authAt != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate auth block",
					Detail: fmt.Sprintf("An api has one auth block; the first is at %s.", where(authAt.DefRange)), Subject: nb.DefRange.Ptr()})
				continue
			}
			authAt = nb
			a.Auth, d = l.auth(a.Name, nb, ev, sc)
			diags = append(diags, d...)
		}
	}
	// Even with errors, the api is returned as far as it decoded: the steps that name
	// it are then checked against it rather than reported as naming no api.
	return a, diags
}

// credentialAttrs are the attributes of auth blocks that hold a credential: they are
// hidden like secrets, and a load warns when one is written out in the file.
var credentialAttrs = []string{"token", "password", "value", "client_secret", "refresh_token"}

func (l *loader) auth(api string, b *hcl.Block, ev *evaluator, sc *scope) (*Auth, hcl.Diagnostics) {
	kind := b.Labels[0]
	attrs, ok := authKinds[kind]
	if !ok {
		known := sortedKeys(authKinds)
		detail := fmt.Sprintf("There is no auth kind %q. The auth kinds are: %s.", kind, strings.Join(known, ", "))
		if s := suggest(kind, known); s != "" {
			detail = fmt.Sprintf("There is no auth kind %q. Did you mean %q?", kind, s)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown auth kind %q", kind),
			Detail: detail, Subject: b.LabelRanges[0].Ptr()}}
	}
	content, diags := b.Body.Content(kindSchema(nil, attrs))
	diags = dropMissingSuggested(diags)
	blk, d := l.block(kind, "", b.DefRange, content, ev, sc)
	diags = append(diags, d...)
	str := func(name string) string {
		s, d := blk.ConstString(name, "")
		diags = append(diags, d...)
		// A credential is hidden like a secret wherever it reappears, read with
		// secret() or not. The other attributes (a username, a header's name, a
		// token_url, a client_id, an audience) name things: hidden, an audience that is
		// the api's own origin would hide the URLs of every call and answer, and later
		// steps would read those as [redacted].
		if len(s) >= MinSecret && slices.Contains(credentialAttrs, name) {
			l.secretValues[s] = true
		}
		return s
	}
	au := &Auth{Kind: kind}
	switch kind {
	case "bearer":
		au.Token = str("token")
		diags = append(diags, blk.Mistakes(blk.CheckConst("token", "Invalid token", func(v any) error {
			s, _ := v.(string)
			if err := HeaderValueError(s); err != nil {
				return fmt.Errorf("the token %w, which no Authorization header can carry", err)
			}
			return nil
		}))...)
	case "basic":
		au.Username, au.Password = str("username"), str("password")
		diags = append(diags, blk.Mistakes(blk.CheckConst("username", "Invalid username", func(v any) error {
			s, _ := v.(string)
			return BasicAuthUsernameError(s)
		}))...)
	case "header":
		au.Name, au.Value = str("name"), str("value")
		diags = append(diags, blk.CheckConst("name", "Invalid header name", func(v any) error {
			s, ok := v.(string)
			if !ok {
				return nil // ConstString says so
			}
			return HeaderNameError(s)
		})...)
		diags = append(diags, blk.Mistakes(blk.CheckConst("value", "Invalid header value", func(v any) error {
			s, _ := v.(string)
			if err := HeaderValueError(s); err != nil {
				return fmt.Errorf("the header's value %w, which no request can carry", err)
			}
			return nil
		}))...)
	case "oauth2":
		o := &OAuth2{TokenURL: str("token_url"), ClientID: str("client_id"), ClientSecret: str("client_secret"),
			Audience: str("audience"), RefreshToken: str("refresh_token")}
		if a := blk.Attr("token_url"); a != nil && o.TokenURL != "" {
			if err := checkBaseURL(o.TokenURL, true); err != nil {
				diags = append(diags, a.Error("Invalid token_url", err.Error()))
			}
		}
		o.Scopes, d = blk.Strings("scopes")
		diags = append(diags, d...)
		o.Grant, d = blk.OneOf("grant", "client_credentials", "client_credentials", "refresh_token")
		diags = append(diags, d...)
		var cd hcl.Diagnostics
		o.ClientAuth, cd = blk.OneOf("client_auth", "basic", "basic", "post")
		diags = append(diags, cd...)
		// Written but failed (a secret too short) is reported as such, not as unset.
		if o.Grant == "refresh_token" && content.Attributes["refresh_token"] == nil && !d.HasErrors() {
			diags = append(diags, blk.Attr("grant").Error("refresh_token is not set",
				`The refresh_token grant starts from a refresh token: set refresh_token = secret("…").`))
		}
		au.OAuth2 = o
	}
	for _, name := range credentialAttrs {
		if w := blk.Attr(name).CredentialInFile("", name, fmt.Sprintf("%s = secret(%q)", name, EnvName(api, name))); w != nil {
			diags = append(diags, w)
		}
	}
	return au, diags
}

// constStrings returns an attribute that must be an object fixed at load time, such
// as headers, with its values as text.
func (b *Block) constStrings(name string) (map[string]string, hcl.Diagnostics) {
	v, a, diags := b.constant(name)
	if a == nil || diags.HasErrors() {
		return nil, diags
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, hcl.Diagnostics{a.Error(name+" must be an object", Object(v).Error())}
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = Text(x)
	}
	return out, nil
}

// checkBaseURL checks a base_url or, with query, a token_url: a token endpoint may be
// chosen by its query (Azure AD B2C's ?p=POLICY), while a base_url's steps add their
// own. Its errors never quote the URL: it may hold a secret.
func checkBaseURL(s string, query bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("the URL must start with http:// or https://")
	case u.Host == "":
		return fmt.Errorf("the URL has no host")
	case !query && (u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?")):
		return fmt.Errorf("the URL cannot have a query or fragment: steps add their own")
	case u.Fragment != "":
		return fmt.Errorf("the URL cannot have a fragment: it is not sent")
	}
	return nil
}

const rateHelp = `Write how many calls per second, minute or hour: "10/s", "600/m" or "5000/h".`

// parseRate reads a rate_limit: "10/s", "600/m", "5000/h".
func parseRate(s string, a *BlockAttr) (int, time.Duration, hcl.Diagnostics) {
	bad := hcl.Diagnostics{a.Error(fmt.Sprintf("Invalid rate_limit %q", s), rateHelp)}
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 || count > 1_000_000 {
		return 0, 0, bad
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[strings.TrimSpace(unit)]
	if per == 0 {
		return 0, 0, bad
	}
	return count, per, nil
}

// apiRef resolves a step's api = "NAME".
func (l *loader) apiRef(blk *Block) (*API, hcl.Diagnostics) {
	at := blk.Attr("api")
	if at == nil {
		return nil, nil
	}
	name, diags := blk.ConstString("api", "")
	if diags.HasErrors() {
		return nil, diags
	}
	if a := l.apis[name]; a != nil {
		l.unset.callsAPI(a.Name)
		return a, nil
	}
	known := sortedKeys(l.apis)
	detail := fmt.Sprintf("No api block is named %q.", name)
	switch s := suggestName(name, known); {
	case s != "":
		detail += fmt.Sprintf(" Did you mean %q?", s)
	case len(known) > 0:
		detail += fmt.Sprintf(" The apis are: %s.", strings.Join(known, ", "))
	default:
		detail += fmt.Sprintf(` Define it at the top level of a file: api %q { base_url = "https://…" }.`, name)
	}
	return nil, hcl.Diagnostics{at.Error(fmt.Sprintf("Unknown api %q", name), detail)}
}

// APIs returns the set's api blocks, sorted by name.
func (s *Set) APIs() []*API {
	out := make([]*API, 0, len(s.apis))
	for _, a := range s.apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
