package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hookflow/hookflow/workflows"
)

// MaxResponseBody caps how much of a response an http step reads.
const MaxResponseBody = 10 << 20

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func httpKind(o Options) workflows.StepKind {
	return workflows.StepKind{
		Name: "http",
		Attrs: []workflows.Attr{
			{Name: "method"},
			{Name: "url", Required: true},
			{Name: "query"},
			{Name: "headers"},
			{Name: "json"},
		},
		New: func(b *workflows.Block) (workflows.Action, hcl.Diagnostics) {
			return newHTTP(b, o.Client)
		},
	}
}

// HTTP is a compiled http step.
type HTTP struct {
	client  *http.Client
	method  string
	url     *workflows.Template
	query   *workflows.Template // nil when not set
	headers *workflows.Template // nil when not set
	json    *workflows.Template // nil when not set
}

func newHTTP(b *workflows.Block, client *http.Client) (*HTTP, hcl.Diagnostics) {
	h := &HTTP{
		client:  client,
		url:     b.Template("url"),
		query:   b.Template("query"),
		headers: b.Template("headers"),
		json:    b.Template("json"),
	}
	def := "GET"
	if h.json != nil {
		def = "POST"
	}
	method, diags := b.ConstString("method", def)
	h.method = strings.ToUpper(method)
	if a := b.Attr("method"); a != nil && !diags.HasErrors() && !slices.Contains(httpMethods, h.method) {
		diags = append(diags, a.Error(fmt.Sprintf("Unknown HTTP method %q", method),
			"Use one of "+strings.Join(httpMethods, ", ")+"."))
	}
	if v, ok := h.url.Const(); ok {
		s, _ := v.(string)
		if _, err := parseURL(s); err != nil {
			diags = append(diags, b.Attr("url").Error("Invalid URL", err.Error()))
		}
	}
	for _, name := range []string{"query", "headers"} {
		if a := b.Attr(name); a != nil {
			if v, ok := a.Template.Const(); ok {
				if _, isMap := v.(map[string]any); !isMap {
					diags = append(diags, a.Error(name+" must be an object", `Write it as { name = "value" }.`))
				}
			}
		}
	}
	return h, diags
}

// Do sends the request and returns {status, headers, body}. A status outside 2xx is an
// error, returned together with the response so that the run records what came back.
func (h *HTTP) Do(ctx context.Context, c *workflows.Call) (any, error) {
	req, err := h.request(ctx, c)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", h.method, redact(req.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	out, err := readResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", h.method, redact(req.URL), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, &StatusError{Method: h.method, URL: redact(req.URL), Code: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	return out, nil
}

func (h *HTTP) request(ctx context.Context, c *workflows.Call) (*http.Request, error) {
	raw, err := h.url.RenderString(c.Env)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	u, err := parseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if h.query != nil {
		fields, err := renderFields(h.query, c.Env)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		// Append, leaving the URL's own query exactly as written: a signed URL breaks
		// if its parameters are re-encoded or reordered.
		q := url.Values{}
		for _, f := range fields {
			q.Add(f.name, f.value)
		}
		if u.RawQuery == "" {
			u.RawQuery = q.Encode()
		} else {
			u.RawQuery += "&" + q.Encode()
		}
	}
	var body io.Reader
	if h.json != nil {
		v, err := h.json.Render(c.Env)
		if err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "hookflow")
	req.Header.Set("Idempotency-Key", c.IdempotencyKey())
	if h.json != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.headers != nil {
		fields, err := renderFields(h.headers, c.Env)
		if err != nil {
			return nil, fmt.Errorf("headers: %w", err)
		}
		for _, f := range fields {
			if strings.ContainsAny(f.value, "\r\n") {
				return nil, fmt.Errorf("header %s: value holds a line break; refusing to send it", f.name)
			}
			req.Header.Set(f.name, f.value)
		}
	}
	return req, nil
}

type field struct{ name, value string }

// renderFields renders an object template into name/value pairs, in name order; a list
// value gives one pair per element.
func renderFields(t *workflows.Template, env *workflows.Env) ([]field, error) {
	v, err := t.Render(env)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object, got %T", v)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]field, 0, len(m))
	for _, k := range names {
		if list, ok := m[k].([]any); ok {
			for _, e := range list {
				out = append(out, field{k, workflows.Text(e)})
			}
			continue
		}
		out = append(out, field{k, workflows.Text(m[k])})
	}
	return out, nil
}

func readResponse(resp *http.Response) (map[string]any, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(data) > MaxResponseBody {
		return nil, fmt.Errorf("response body is larger than %d bytes", MaxResponseBody)
	}
	headers := make(map[string]any, len(resp.Header))
	for k, vs := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	body, err := workflows.ParseBody(resp.Header.Get("Content-Type"), data)
	if err != nil {
		body = string(data) // an API that mislabels its body still gets its text recorded
	}
	return map[string]any{"status": resp.StatusCode, "headers": headers, "body": body}, nil
}

// StatusError is the error of a response whose status the step did not expect.
type StatusError struct {
	Method   string
	URL      string
	Code     int
	Location string // for a redirect, where it pointed
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: unexpected status %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Code >= 300 && e.Code < 400 {
		msg += " (redirects are not followed"
		if e.Location != "" {
			msg += "; it pointed to " + e.Location
		}
		msg += ")"
	}
	return msg
}

// parseURL parses a step's rendered URL. Its errors never quote the URL: it may hold a
// secret, such as the token in a Slack incoming-webhook URL.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid URL: %w", unwrapURLError(err))
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
	return u, nil
}

// redact shows where a request went without what may be secret in it: URLs such as
// Slack's incoming webhooks carry their credential in the path.
func redact(u *url.URL) string {
	return u.Scheme + "://" + u.Host + "/…"
}

// unwrapURLError drops *url.Error's copy of the full URL, which may hold a secret.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var _ workflows.Action = (*HTTP)(nil)
