package actions

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/workflows"
)

// MaxResponseBody caps how much of a response an http step reads.
const MaxResponseBody = 10 << 20

var errTooLarge = fmt.Errorf("response body is larger than %d bytes", MaxResponseBody)

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func httpKind(o Options) workflows.StepKind {
	return workflows.StepKind{
		Name:        "http",
		Output:      []string{"status", "headers", "body"}, // and, with paginate, items, pages and next
		OutputTypes: map[string]string{"status": workflows.TypeNumber},
		Attrs: []workflows.Attr{
			{Name: "method"},
			{Name: "url", Required: true},
			{Name: "query"},
			{Name: "headers"},
			{Name: "json"},
			{Name: "form"},
			{Name: "body"},
			{Name: "basic_auth"},
			{Name: "expect"},
			{Name: "idempotency_key"},
			{Name: "api"},
		},
		Blocks: []workflows.BlockType{{Type: "paginate"}},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			return newHTTP(b, o.Client, o.APIs)
		},
	}
}

// HTTP is a compiled http step.
type HTTP struct {
	client    *http.Client
	method    string
	url       *workflows.Template
	query     *workflows.Template // nil when not set
	headers   *workflows.Template // nil when not set
	json      *workflows.Template // at most one of json, form and body is set
	form      *workflows.Template
	body      *workflows.Template
	basicAuth *workflows.Template // nil when not set
	expect    *expectation
	idemKey   *workflows.Template // nil: the default <run>:<step>
	api       *workflows.API      // nil: the url is absolute
	tokens    *tokenSource        // the api's OAuth2 tokens; nil without
	limits    *limiter            // the api's limits; nil without an api
	paginate  *workflows.Paginate // nil: one request
	urls      urlCache            // the url as last rendered, parsed
}

func newHTTP(b *workflows.Block, client *http.Client, apis *APIs) (*HTTP, hcl.Diagnostics) {
	h := &HTTP{
		client:    client,
		url:       b.Template("url"),
		query:     b.Template("query"),
		headers:   b.Template("headers"),
		json:      b.Template("json"),
		form:      b.Template("form"),
		body:      b.Template("body"),
		basicAuth: b.Template("basic_auth"),
		idemKey:   b.Template("idempotency_key"),
		expect:    expect2xx,
		api:       b.API(),
	}
	if h.api != nil {
		h.limits = newLimiter(apis, h.api)
		if h.api.Auth != nil && h.api.Auth.OAuth2 != nil {
			h.tokens = apis.tokenSource(h.api)
		}
	}
	diags := b.OnlyOne("json", "form", "body")
	var d hcl.Diagnostics
	h.paginate, d = b.Paginate()
	diags = append(diags, d...)
	if h.paginate != nil && h.paginate.Items == nil && b.Kind == "http" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "paginate needs items",
			Detail:  `items says where each page's list is, collected into steps.NAME.items: items = "response.body.data".`,
			Subject: h.paginate.DefRange.Ptr()})
	}
	def := "GET"
	if h.json != nil || h.form != nil || h.body != nil {
		def = "POST"
	}
	method, d := b.ConstString("method", def)
	diags = append(diags, d...)
	h.method = strings.ToUpper(method)
	if a := b.Attr("method"); a != nil && !d.HasErrors() && !slices.Contains(httpMethods, h.method) {
		diags = append(diags, a.Error(fmt.Sprintf("Unknown HTTP method %q", method),
			"Use one of "+strings.Join(httpMethods, ", ")+"."))
	}
	switch {
	case h.api != nil:
		if d := b.CheckString("url", `url = "/customers"`); d != nil {
			diags = append(diags, d...)
		} else if a := b.Attr("url"); a != nil && workflows.IsAbsoluteURL(a.Template.LiteralPrefix()) {
			diags = append(diags, a.Error("The url of a step with an api is relative",
				fmt.Sprintf(`It is appended to api %q's base_url: write url = "/customers". A call elsewhere is a step without api.`, h.api.Name)))
		}
	default:
		if d := b.CheckString("url", `url = "https://api.example.com/orders"`); d != nil {
			diags = append(diags, d...)
		} else {
			diags = append(diags, b.CheckConst("url", "Invalid URL", func(v any) error {
				_, err := parseURL(v.(string))
				return err
			})...)
		}
	}
	for _, name := range []string{"query", "headers", "form"} {
		diags = append(diags, b.CheckConst(name, name+" must be an object", workflows.Object)...)
	}
	diags = append(diags, b.CheckRequestHeaders("headers")...)
	diags = append(diags, b.CheckConst("basic_auth", "Invalid basic_auth", func(v any) error { _, _, err := credentialFields(v); return err })...)
	diags = append(diags, b.Mistakes(b.CheckConstField("basic_auth", "username", "Invalid basic_auth username", func(v any) error {
		s, _ := v.(string) // not a string: credentialFields says so, or the step when it renders
		return workflows.BasicAuthUsernameError(s)
	}))...)
	diags = append(diags, credentialsInFile(b)...)
	// Credentials fixed in the file are hidden as an api block's auth is: an API may
	// echo them back, and an error may quote them.
	b.HideCredentialHeaders("headers")
	b.HideCredentialFields("basic_auth", "query", "form", "json")
	b.HideURLCredentials("url")
	if a := b.Attr("expect"); a != nil {
		v, ok := a.Template.Const()
		if !ok {
			diags = append(diags, a.Error("expect cannot use {{ }}", "The statuses a step accepts are fixed when the file loads."))
		} else if e, err := parseExpect(v); err != nil {
			diags = append(diags, a.Error("Invalid expect", err.Error()))
		} else {
			h.expect = e
		}
	}
	return h, diags
}

// Do sends the request and returns {status, headers, body}. A status the step does not
// expect is an error, returned together with the response so that the run records
// what came back. What was sent and what came back goes in c.Sent for the run history,
// secrets redacted in every encoding the request gave them. A step with a paginate
// block reads every page (see Pages).
func (h *HTTP) Do(ctx context.Context, c *workflows.Call) (any, error) {
	if h.paginate != nil && h.paginate.Items != nil {
		return h.doPages(ctx, c)
	}
	p, secrets, err := h.prepare(ctx, c, "")
	if err != nil {
		return nil, err
	}
	if h.limits != nil {
		release, err := h.limits.admitCall(ctx, c)
		if err != nil {
			return nil, err // held back (workflows.Throttled), or Redis failed: either may pass later
		}
		defer release()
	}
	out, err := h.send(ctx, c, p, secrets, 0)
	if out == nil {
		return nil, err
	}
	return out, err
}

// prepare builds the request of an attempt, or of one of its pages when next is set.
func (h *HTTP) prepare(ctx context.Context, c *workflows.Call, next string) (*prepared, *workflows.Redactor, error) {
	p, secrets, err := h.request(ctx, c, next)
	var auth *authError
	if errors.As(err, &auth) {
		return nil, nil, auth.err // a token endpoint or Redis failure: it says whether to retry
	}
	if err != nil {
		return nil, nil, workflows.Permanent(err) // the same values render the same way again
	}
	return p, secrets, nil
}

// send sends a prepared request, admitted by the api's limits, and records it in c;
// page is its page, 0 for a step without paginate. A call sent again after a 401 is
// admitted again. c.RequestTimeout bounds each request, its answer read: the call, and
// its sending again with a new OAuth2 token.
func (h *HTTP) send(ctx context.Context, c *workflows.Call, p *prepared, secrets *workflows.Redactor, page int) (map[string]any, error) {
	var cancels []context.CancelFunc
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	var err error
	if secrets, err = h.renew(ctx, p, secrets, refusal{}); err != nil {
		return nil, tokenFailed(err)
	}
	timedOut := func() bool { return false }
	bound := func() {} // gives p.req, about to be sent, c.RequestTimeout from now
	if c.RequestTimeout > 0 {
		base := p.req.Context()
		bound = func() {
			rctx, cancel := context.WithTimeout(base, c.RequestTimeout)
			cancels = append(cancels, cancel)
			p.req = p.req.WithContext(rctx)
			// Its own deadline, not ctx's: ctx's says what stopped it (the step's timeout).
			timedOut = func() bool { return rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil }
		}
	}
	bound()
	req := p.req
	sent := &workflows.Request{Attempt: c.Attempt, Page: page, Method: h.method, URL: p.shownURL(secrets),
		Headers: workflows.RecordHeaders(req.Header, secrets), Body: workflows.RecordBody(p.body, secrets)}
	c.Record(sent)
	start := time.Now()
	defer func() {
		if !start.IsZero() { // zero: sent is a 401 timed already, and nothing was sent after it
			sent.DurationMS = time.Since(start).Milliseconds()
		}
	}()
	resp, err := h.client.Do(req)
	resent := false
	if err == nil && resp.StatusCode == http.StatusUnauthorized && h.tokens != nil && !lacksScope(resp) {
		// The token was refused (revoked, or expired early): refresh it once and send
		// the call once more, a request of its own in the run history.
		refused(sent, resp, secrets, c.Sensitive, start)
		start = time.Time{}
		first := refusal{token: p.token, taken: p.taken}
		if secrets, err = h.again(ctx, p, resp, secrets); err != nil {
			return nil, h.resendFailed(sent, err)
		}
		if h.limits != nil {
			release, err := h.limits.again(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s %s: sending it again: %w", h.method, sent.URL, err)
			}
			defer release()
		}
		// Its turn may have come after the new token's lifetime.
		if secrets, err = h.renew(ctx, p, secrets, first); err != nil {
			return nil, h.resendFailed(sent, err)
		}
		bound()
		sent = &workflows.Request{Attempt: c.Attempt, Page: page, Method: h.method, URL: p.shownURL(secrets),
			Headers: workflows.RecordHeaders(p.req.Header, secrets), Body: sent.Body}
		c.Record(sent)
		start, resent = time.Now(), true
		resp, err = h.client.Do(p.req)
	}
	if err != nil {
		switch err = unwrapURLError(err); {
		case headersTooLarge(err):
			// It would be as large again: failed for good, as a body over its cap is.
			err = workflows.Permanent(fmt.Errorf("%s %s: the answer's headers are larger than %d KiB, more than a call reads (%w)",
				h.method, sent.URL, MaxResponseHeaders>>10, err))
		case headersMaybeTooLarge(err):
			err = fmt.Errorf("%s %s: the HTTP/2 connection ended (%w), as it does when the answer's headers are larger than %d KiB, more than a call reads",
				h.method, sent.URL, err, MaxResponseHeaders>>10)
		case errors.As(err, new(*BlockedError)):
			err = workflows.Permanent(fmt.Errorf("%s %s: %w", h.method, sent.URL, err))
		case timedOut():
			err = fmt.Errorf("%s %s: timed out after %s, with no answer", h.method, sent.URL, workflows.FormatDuration(c.RequestTimeout))
		default:
			err = fmt.Errorf("%s %s: %w", h.method, sent.URL, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	sent.Status = resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests && h.limits != nil {
		// Every call of the api waits as the step does, up to its retry's max: one
		// endpoint's daily quota does not hold the api's other calls for a day.
		most := c.RetryMax
		if most <= 0 {
			most = workflows.DefaultRetryMax
		}
		h.limits.slowDown(min(retryAfter(resp.Header.Get("Retry-After"), time.Now()), most))
	}
	data, out, err := readResponse(resp)
	if b := out["body"]; out == nil || page > 0 || !isText(b) && !isJSON(resp.Header.Get("Content-Type")) {
		// The output does not hold the answer as it came (it was not read, or it was
		// read as a form, or as JSON its type did not announce, or it is one page of
		// several): record it apart. Otherwise the run records it once, in the output
		// (workflows.AnswerOf), where a JSON answer's secrets are redacted decoded, as
		// an API escapes what it repeats its own way.
		sent.Response = &workflows.Response{Headers: workflows.RecordHeaders(resp.Header, secrets),
			Body: workflows.RecordBody(data, secrets)}
		if out != nil && !isText(b) && isJSON(resp.Header.Get("Content-Type")) {
			sent.Response.Body = workflows.RecordJSON(b, secrets) // redacted decoded, as above
		}
	}
	if c.Sensitive {
		sent.Response = &workflows.Response{Body: workflows.SensitiveShown}
	}
	if err != nil && timedOut() {
		return nil, fmt.Errorf("%s %s: timed out after %s, reading the answer (status %d)", h.method, sent.URL,
			workflows.FormatDuration(c.RequestTimeout), resp.StatusCode)
	}
	if err != nil {
		err = fmt.Errorf("%s %s: %w", h.method, sent.URL, err)
		if errors.Is(err, errTooLarge) {
			err = workflows.Permanent(err)
		}
		return nil, err
	}
	if secrets != c.Secrets.Encoded() {
		// An answer that repeats the basic auth it got: hide its encoded form too.
		out = secrets.Value(out).(map[string]any)
	}
	if !h.expect.accepts(resp.StatusCode) {
		se := &StatusError{Method: h.method, URL: sent.URL, Code: resp.StatusCode,
			Expected: h.expect.text, Location: secrets.String(resp.Header.Get("Location")),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()), Resent: resent}
		if resp.StatusCode == http.StatusUnauthorized {
			if r, ok := scopeRefusalOf(resp); ok {
				r = r.shown(secrets.String)
				se.Scope, se.NoNewToken = &r, h.tokens != nil && !resent
			}
		}
		if !c.Sensitive {
			se.Body, se.Size = recordedAnswer(sent, out, data, secrets), len(data)
		}
		return out, se
	}
	if _, text := out["body"].(string); text {
		if err := brokenJSON(resp.Header.Get("Content-Type"), data); err != nil {
			err.Resendable = resendable(p.req)
			if c.Env == nil || c.Env.Poll == nil {
				err.Step = c.Step
			}
			// Returned with the output: the run history keeps the answer as it came.
			return out, fmt.Errorf("%s %s: %w", h.method, sent.URL, err)
		}
	}
	return out, nil
}

// tokenFailed is the error of a call that got no token to send, and sent nothing: a
// token endpoint or Redis failure, which says whether to retry, or to hold the step
// back.
func tokenFailed(err error) error {
	if auth := (*authError)(nil); errors.As(err, &auth) {
		return auth.err
	}
	return err
}

// resendFailed is the error of a call refused with a 401 that could not be sent again.
func (h *HTTP) resendFailed(sent *workflows.Request, err error) error {
	var auth *authError
	if !errors.As(err, &auth) {
		return fmt.Errorf("%s %s: sending it again: %w", h.method, sent.URL, err)
	}
	// No token came to send the call again. A call was sent, and refused: Redis not
	// answering, or the token endpoint's Retry-After, fails the attempt, not holding
	// the step back as one that sent nothing.
	if th := (*workflows.Throttled)(nil); errors.As(auth.err, &th) {
		if th.Err != nil {
			return th.Err
		}
		return &sentThenHeld{fmt.Sprintf("%s %s: sending it again: %v", h.method, sent.URL, th), th.After}
	}
	return auth.err // a token endpoint or Redis failure: it says whether to retry
}

// sentThenHeld is a call refused with a 401 whose new token a shared wait holds back:
// its attempt fails, to be retried once the wait is over.
type sentThenHeld struct {
	msg   string
	after time.Duration
}

func (e *sentThenHeld) Error() string                    { return e.msg }
func (e *sentThenHeld) RetryHint() (bool, time.Duration) { return true, e.after }

// refused records in sent the 401 that refused a call's OAuth2 token, before the call
// is sent again with another: its status, how long it took, and its answer, the
// body's first MaxRecordedBody bytes (the rest is not read).
func refused(sent *workflows.Request, resp *http.Response, secrets *workflows.Redactor, sensitive bool, start time.Time) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, workflows.MaxRecordedBody))
	sent.Status, sent.DurationMS = resp.StatusCode, time.Since(start).Milliseconds()
	sent.Response = &workflows.Response{Headers: workflows.RecordHeaders(resp.Header, secrets), Body: workflows.RecordBody(data, secrets)}
	if sensitive {
		sent.Response = &workflows.Response{Body: workflows.SensitiveShown}
	}
}

// recordedAnswer is the body of an answer as the run history keeps it: apart in sent
// when it is not in the output as it came, else as the output holds it, redacted by
// secrets (the request's credentials with the workflow's secrets) and cut as
// workflows.RecordBody cuts.
func recordedAnswer(sent *workflows.Request, out map[string]any, data []byte, secrets *workflows.Redactor) string {
	if sent.Response != nil {
		return sent.Response.Body
	}
	if b := out["body"]; !isText(b) {
		return workflows.RecordJSON(b, secrets)
	}
	return workflows.RecordBody(data, secrets)
}

// request builds the request of an attempt, with the redactor that hides the
// workflow's secrets in it as sent: encoded, and in the basic auth it carries.
func (h *HTTP) request(ctx context.Context, c *workflows.Call, next string) (*prepared, *workflows.Redactor, error) {
	p := &prepared{}
	if err := h.build(ctx, c, p, next); err != nil {
		return nil, nil, err
	}
	secrets := c.Secrets.Encoded()
	if p.user != "" || p.pass != "" {
		secrets = c.Secrets.WithBasicAuth(p.user, p.pass)
	}
	if p.token != "" {
		secrets = secrets.With(p.token)
	}
	if u := p.req.URL.User; u != nil {
		secrets = secrets.With(userInfoCredentials(u)...)
	}
	return p, secrets, nil
}

// userInfoCredentials are what an answer may repeat of the user info of a URL, sent as
// basic auth: the base64 of user:password, and the password alone, decoded, when the
// password is MinSecret bytes or more (a shorter one, or its base64, would hide
// ordinary text, and guards little). They are hidden
// whatever the URL's source, a secret(), the file or the event: the URL itself is
// shown with its password as xxxxx.
func userInfoCredentials(u *url.Userinfo) []string {
	pass, _ := u.Password()
	if len(pass) < workflows.MinSecret {
		return nil // a short or no password: its base64 too would hide ordinary text
	}
	return []string{base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pass)), pass}
}

// prepared is an attempt's request as rendered, with what the run history shows of it.
type prepared struct {
	req        *http.Request
	body       []byte
	user, pass string    // basic auth, when set
	token      string    // the OAuth2 access token sent, when the api has one
	taken      time.Time // when the call looked for it, by the clock of the tokens' fetch times
	refreshAt  time.Time // when the token is due for its refresh: past it, it is not sent (renew)
	rawURL     string    // the url as rendered
	query      string    // the query appended to it, with its separator; "" for none
}

// shownURL is the request's URL as errors and the run history show it: whole, so that
// a mistyped path is seen, with the secrets in it redacted and a password in it
// hidden, then cut as the history keeps a URL (workflows.RecordURL): one made from an
// event can be as long as the event. When the URL as rendered holds a secret, the
// text shown is that one: parsing may have encoded some of the secret's characters
// and not others, which no redactor would find.
func (p *prepared) shownURL(secrets *workflows.Redactor) string {
	sent := p.req.URL.String()
	s := secrets.String(sent)
	if secrets.Secret(p.rawURL) {
		s = secrets.String(p.rawURL) + secrets.String(p.query)
	}
	return workflows.RecordURL(hidePassword(s), len(sent))
}

// hidePassword hides the password of the user info in s, a URL.
func hidePassword(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	user, _, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return s
	}
	return s[:i+3] + user + ":xxxxx" + rest[at:]
}

// build renders the request of an attempt into p: to its url, or to next, the URL of
// a page after the first, when set.
func (h *HTTP) build(ctx context.Context, c *workflows.Call, p *prepared, next string) error {
	raw, err := next, error(nil)
	if next == "" {
		render := h.url.RenderURL
		if h.api != nil {
			render = h.url.RenderRelativeURL // its values land in the path, not in a host
		}
		if raw, err = render(c.Env); err != nil {
			return fmt.Errorf("url: %w", err)
		}
	}
	if h.api != nil && next == "" {
		if workflows.IsAbsoluteURL(raw) {
			return fmt.Errorf("url: relative to api %q's base_url, it cannot name its own scheme or host", h.api.Name)
		}
		if seg := workflows.ClimbsOut(raw); seg != "" {
			return fmt.Errorf("url: relative to api %q's base_url, it cannot hold the path segment %q, which would step out of the base_url's path", h.api.Name, seg)
		}
		raw = h.api.JoinURL(raw)
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 && c.Secrets.Spans(raw, i) {
		// The fragment is not sent: the API would get the secret's start alone, which
		// no redactor finds where the API repeats it.
		return errors.New("url: a secret written into it holds a #, which ends the URL there, so " +
			"only part of the secret would be sent: put it in with {{ }} (\"…/{{ vars.token }}\") or in query = { … }, which encode it")
	}
	var u *url.URL
	if next == "" {
		u, err = h.urls.parse(raw)
	} else {
		u, err = parseURL(raw) // each page's differs
	}
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	p.rawURL = raw
	if h.query != nil && next == "" { // a next page's URL is whole
		fields, err := renderFields(h.query, c.Env)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		// Append, leaving the URL's own query exactly as written: a signed URL breaks
		// if its parameters are re-encoded or reordered.
		if q := fields.Encode(); u.RawQuery == "" {
			u.RawQuery = q
			p.query = "?" + q
		} else {
			u.RawQuery += "&" + q
			p.query = "&" + q
		}
	}
	body, contentType, err := h.renderBody(c.Env)
	if err != nil {
		return err
	}
	var reader io.Reader
	if contentType != "" {
		reader = bytes.NewReader(body)
	}
	// The request takes the URL as parsed, rather than parsing its text once more.
	req, err := http.NewRequestWithContext(context.WithValue(ctx, callKey{}, c), h.method, "", reader)
	if err != nil {
		return err
	}
	u.Host = strings.TrimSuffix(u.Host, ":") // as NewRequest does: "host:" is "host"
	req.URL, req.Host = u, u.Host
	key := c.IdempotencyKey()
	if h.idemKey != nil {
		if key, err = h.idemKey.RenderString(c.Env); err != nil {
			return fmt.Errorf("idempotency_key: %w", err)
		}
	}
	req.Header = ownHeaders(contentType, key)
	if h.api != nil {
		if err := h.authenticate(ctx, req, p); err != nil {
			return &authError{err}
		}
	}
	if h.basicAuth != nil {
		v, err := h.basicAuth.Render(c.Env)
		if err != nil {
			return fmt.Errorf("basic_auth: %w", err)
		}
		user, pass, err := credentials(v)
		if err != nil {
			return fmt.Errorf("basic_auth: %w", err)
		}
		req.SetBasicAuth(user, pass)
		p.user, p.pass = user, pass
	}
	if h.headers != nil {
		fields, err := renderFields(h.headers, c.Env)
		if err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		for _, name := range sortedNames(fields) {
			if !h.headers.NamesFixed() && (workflows.ClientHeaderError(name) != nil || http.CanonicalHeaderKey(name) == "Host") {
				continue // given by a run, as the sender's in a relay of event.headers: the client's to write
			}
			for i, v := range fields[name] {
				if i == 0 {
					req.Header.Set(name, v)
				} else {
					req.Header.Add(name, v)
				}
			}
		}
	}
	if vs := req.Header["Host"]; vs != nil {
		// Sent as the request's Host (the client writes no Host header of the map);
		// the connection still goes to the URL's host. Kept in the map, as sent, for
		// the run history.
		host, err := workflows.RequestHost(vs)
		if err != nil {
			return fmt.Errorf("header Host: %w", err)
		}
		req.Header["Host"], req.Host = []string{host}, host
	}
	if u.User != nil && req.Header.Get("Authorization") == "" {
		// The client would send the URL's user info as this header itself: set here,
		// the run history records it as sent.
		pass, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pass)
	}
	if err := refusedHeaders(req.Header); err != nil {
		return err
	}
	p.req, p.body = req, body
	return nil
}

// refusedHeaders says why the client's transport would refuse to send headers h,
// which a template, the api or its auth set, or would not send one of them as it is
// (workflows.ClientHeaderError); nil when it would send them all. It is asked here,
// not left to the transport, so that a dry run, whose transport sends nothing, fails
// as a run would, and the run history records no header that was not sent.
func refusedHeaders(h http.Header) error {
	bad := false
	for name, vs := range h { // no sorting, no allocation for the headers of every call
		bad = bad || workflows.HeaderNameError(name) != nil || workflows.ClientHeaderError(name) != nil
		for _, v := range vs {
			bad = bad || workflows.HeaderValueError(v) != nil
		}
	}
	if !bad {
		return nil
	}
	for _, name := range sortedNames(url.Values(h)) { // the first by name, whatever the map's order
		if err := workflows.HeaderNameError(name); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		if err := workflows.ClientHeaderError(name); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		for _, v := range h[name] {
			if err := workflows.HeaderValueError(v); err != nil {
				return fmt.Errorf("header %s: value %w; refusing to send it", name, err)
			}
		}
	}
	return nil
}

// renderBody renders json, form or body, with the content type it implies; "" for a
// request without a body.
func (h *HTTP) renderBody(env *workflows.Env) ([]byte, string, error) {
	switch {
	case h.json != nil:
		v, err := h.json.Render(env)
		if err != nil {
			return nil, "", fmt.Errorf("json: %w", err)
		}
		data, err := httpjson.Marshal(v) // "a&b" arrives as "a&b", not "a\u0026b"
		if err != nil {
			return nil, "", fmt.Errorf("json: %w", err)
		}
		return data, "application/json", nil
	case h.form != nil:
		fields, err := renderFields(h.form, env)
		if err != nil {
			return nil, "", fmt.Errorf("form: %w", err)
		}
		return []byte(fields.Encode()), "application/x-www-form-urlencoded", nil
	case h.body != nil:
		s, err := h.body.RenderString(env)
		if err != nil {
			return nil, "", fmt.Errorf("body: %w", err)
		}
		return []byte(s), "text/plain; charset=utf-8", nil
	}
	return nil, "", nil
}

// renderFields renders an object template into names and values; a list value gives
// one value per element.
func renderFields(t *workflows.Template, env *workflows.Env) (url.Values, error) {
	v, err := t.Render(env)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object, got %s", workflows.Text(v))
	}
	out := make(url.Values, len(m))
	for k, x := range m {
		if list, ok := x.([]any); ok {
			for _, e := range list {
				out[k] = append(out[k], workflows.Text(e))
			}
			continue
		}
		out[k] = []string{workflows.Text(x)}
	}
	return out, nil
}

func sortedNames(v url.Values) []string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// credentialsInFile warns of the credentials of b written out in its file: basic_auth's
// password and the headers named as credentials (Authorization, X-Api-Key).
func credentialsInFile(b *workflows.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if w := b.Attr("basic_auth").CredentialInFile("password", "basic_auth's password",
		fmt.Sprintf(`basic_auth = { username = "…", password = secret(%q) }`, workflows.EnvName(b.Name, "password"))); w != nil {
		diags = append(diags, w)
	}
	diags = append(diags, b.Attr("headers").CredentialHeadersInFile(func(name string) string {
		return workflows.HeaderFix(name, b.Name)
	})...)
	return diags
}

// credentials reads basic_auth = { username = "…", password = "…" }, with a username
// that basic auth can carry (workflows.BasicAuthUsernameError).
func credentials(v any) (user, pass string, err error) {
	if user, pass, err = credentialFields(v); err != nil {
		return "", "", err
	}
	if err := workflows.BasicAuthUsernameError(user); err != nil {
		return "", "", err
	}
	return user, pass, nil
}

// credentialFields reads basic_auth's two fields, as they are.
func credentialFields(v any) (user, pass string, err error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", "", errors.New(`write it as { username = "…", password = "…" }`)
	}
	for k := range m {
		if k != "username" && k != "password" {
			return "", "", fmt.Errorf("unknown field %q; basic_auth has username and password", k)
		}
	}
	user, ok1 := m["username"].(string)
	pass, ok2 := m["password"].(string)
	if !ok1 || !ok2 {
		return "", "", errors.New("username and password must both be strings")
	}
	return user, pass, nil
}

// readResponse reads an answer: its body as read (up to one byte past
// MaxResponseBody), and {status, headers, body}.
func readResponse(resp *http.Response) ([]byte, map[string]any, error) {
	data, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		return data, nil, fmt.Errorf("reading response: %w", err)
	}
	if len(data) > MaxResponseBody {
		return data, nil, errTooLarge
	}
	headers := make(map[string]any, len(resp.Header))
	for k, vs := range resp.Header {
		name, ok := lowerNames[k]
		if !ok {
			name = strings.ToLower(k)
		}
		headers[name] = strings.Join(vs, ", ")
	}
	body, err := workflows.ParseStoredBody(resp.Header.Get("Content-Type"), jsonText(resp.Header.Get("Content-Type"), data))
	if err != nil {
		body = string(data) // an API that mislabels its body still gets its text recorded
	}
	return data, map[string]any{"status": resp.StatusCode, "headers": headers, "body": body}, nil
}

// isText reports whether a body read is text (or nothing): not decoded JSON.
func isText(body any) bool {
	_, ok := body.(string)
	return ok || body == nil
}

// isJSON reports whether a content type is JSON's.
func isJSON(contentType string) bool {
	media, _ := workflows.MediaType(contentType)
	return workflows.IsJSONMedia(media)
}

// StatusError is the error of a response whose status the step did not expect.
type StatusError struct {
	Method   string
	URL      string
	Code     int
	Expected string // the statuses the step accepts, as written
	Location string // for a redirect, where it pointed
	// RetryAfter is how long the answer's Retry-After header asked to wait; 0 if none.
	RetryAfter time.Duration
	// Body is the answer's body as the run history keeps it: the workflow's secrets
	// and the request's credentials redacted, cut at workflows.MaxRecordedBody; "" for
	// an empty one, or a sensitive step's. Size is its length as it came, in bytes.
	// Error does not show it: a step's run history holds the answer already.
	Body string
	Size int
	// Resent is a 401 to a call sent again with an OAuth2 token fetched after a first
	// 401: the new token was refused too.
	Resent bool
	// Scope is what a 401's WWW-Authenticate says of a token that lacks a scope
	// (error="insufficient_scope"); nil if it says nothing so. NoNewToken: the api's
	// OAuth2 fetched no token for it, as one of the same grant would lack it too.
	Scope      *scopeRefusal
	NoNewToken bool
}

// Answer returns the answer's body as Body and Size hold it.
func (e *StatusError) Answer() (body string, size int) { return e.Body, e.Size }

// StatusCode returns the answer's status, for those that read it without this package
// (a poll, which a 429's or 503's Retry-After holds back).
func (e *StatusError) StatusCode() int { return e.Code }

// RetryHint says that a 5xx, 408 or 429 answer may pass on another attempt, and any
// other will not: a redirect or another 4xx, or a 2xx the step does not expect (the
// request was taken; sending it again would repeat it).
func (e *StatusError) RetryHint() (bool, time.Duration) {
	switch {
	case e.Code >= 500, e.Code == http.StatusRequestTimeout, e.Code == http.StatusTooManyRequests:
		return true, e.RetryAfter
	}
	return false, 0
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. Anything else, or
// a time in the past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// MaxRetryAfter bounds what a Retry-After header is read as; a step's retry max bounds
// it further.
const MaxRetryAfter = 24 * time.Hour

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: status %d %s, expected %s", e.Method, e.URL, e.Code, http.StatusText(e.Code), e.Expected)
	if e.Resent && e.Code == http.StatusUnauthorized {
		msg += " (also with a token fetched after the first 401)"
	}
	if e.Scope != nil {
		msg += " (" + e.Scope.String()
		if e.NoNewToken {
			msg += "; no new token fetched"
		}
		msg += ")"
	}
	if e.Code >= 300 && e.Code < 400 {
		msg += " (redirects are not followed"
		if e.Location != "" {
			msg += "; it pointed to " + e.Location
		}
		msg += ")"
	}
	return msg
}

// parseURL parses a step's rendered URL, with what its path and query may not hold as
// sent escaped (workflows.EscapeTarget): "?q=a b" is sent "?q=a%20b", as a browser
// sends it, where url.Parse alone keeps a query as it is, and the request line would
// break at its space. Its errors never quote the URL: it may hold a secret, such as
// the token in a Slack incoming-webhook URL.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(workflows.EscapeTarget(s))
	if err != nil {
		return nil, fmt.Errorf("not a valid URL: %w", parseError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return nil, errors.New("the URL must start with http:// or https://")
		}
		return nil, fmt.Errorf("the URL must start with http:// or https://, not %s://", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("the URL has no host")
	}
	if err := refusedHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// unwrapURLError drops *url.Error's copy of the full URL, which may hold a secret.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseError is a url.Parse error without the URL, which may hold a secret, and
// without the piece of it the error quotes ("invalid port \":…\" after host", "invalid
// URL escape \"%…\""), which may be part of one that no redactor would find.
func parseError(err error) error {
	return errors.New(workflows.Unquoted(unwrapURLError(err).Error()))
}

var _ workflows.Action = (*HTTP)(nil)

type callKey struct{}

// CallOf returns the step call that made an http step's request, for a client's
// transport that reports requests by step; nil for other requests.
func CallOf(req *http.Request) *workflows.Call {
	c, _ := req.Context().Value(callKey{}).(*workflows.Call)
	return c
}
