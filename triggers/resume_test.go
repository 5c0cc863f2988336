package triggers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// fakeResumer holds one wait, "good", resumed once; "gone" is a wait that expired, and
// any other token one hookflow did not sign.
type fakeResumer struct {
	mu      sync.Mutex
	resumed *workflows.Resume
}

func (f *fakeResumer) Waiting(_ context.Context, token string) (*Wait, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case token == "gone":
		return nil, ErrNoWait
	case token != "good":
		return nil, ErrBadToken
	case f.resumed != nil:
		return nil, ErrWaitResumed
	}
	return &Wait{RunID: "r1", Workflow: "refund", Step: "approval"}, nil
}

func (f *fakeResumer) Resume(ctx context.Context, token string, r *workflows.Resume) (*Wait, error) {
	w, err := f.Waiting(ctx, token)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.resumed = r
	f.mu.Unlock()
	return w, nil
}

func TestResumes(t *testing.T) {
	f := &fakeResumer{}
	srv := httptest.NewServer(NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	do := func(method, path, contentType, accept, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		req.Header.Set("X-Api-Key", "k-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data), resp.Header
	}

	// A GET shows a page with a button that POSTs, and resumes nothing.
	code, page, h := do("GET", "/resume/good?approved=yes", "", "text/html", "")
	if code != 200 || !strings.Contains(page, `<form method="post">`) || !strings.Contains(page, `<button type="submit">Resume</button>`) ||
		!strings.Contains(page, "approval") || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET: %d %s %v", code, page, h)
	}
	if f.resumed != nil {
		t.Fatal("a GET resumed the wait")
	}
	// The page shows what the link resumes with, escaped: an approver who got an
	// approve and a decline link sees which one they opened.
	code, page, _ = do("GET", "/resume/good?decision=decline&note=%3Cb%3Eno%3C%2Fb%3E&by=ada&by=bob", "", "text/html", "")
	if want := "This link resumes it with:</p>\n<ul aria-labelledby=\"values\">\n" +
		"<li><code>by</code> = <code>ada</code></li>\n<li><code>by</code> = <code>bob</code></li>\n" +
		"<li><code>decision</code> = <code>decline</code></li>\n<li><code>note</code> = <code>&lt;b&gt;no&lt;/b&gt;</code></li>\n</ul>"; code != 200 || !strings.Contains(page, want) {
		t.Errorf("GET with a query: %d, want %q in\n%s", code, want, page)
	}
	if _, page, _ = do("GET", "/resume/good", "", "text/html", ""); strings.Contains(page, "resumes it with") {
		t.Errorf("a link without values shows some:\n%s", page)
	}
	for _, c := range []struct{ path, accept string }{{"/resume/unknown", "text/html"}, {"/resume/", ""}, {"/resume/a/b", ""}} {
		if code, _, _ := do("GET", c.path, "", c.accept, ""); code != 404 {
			t.Errorf("GET %s: %d, want 404", c.path, code)
		}
	}
	if code, _, _ := do("PUT", "/resume/good", "", "", ""); code != 405 {
		t.Errorf("PUT: %d, want 405", code)
	}
	if code, body, _ := do("POST", "/resume/good", "application/json", "", `{"approved": `); code != 400 {
		t.Errorf("a body that does not parse: %d %s", code, body)
	}
	if code, _, _ := do("POST", "/resume/good", "application/json", "", `{"big": "`+strings.Repeat("x", DefaultMaxBody)+`"}`); code != 413 {
		t.Errorf("a body past the limit: %d, want 413", code)
	}
	if f.resumed != nil {
		t.Fatal("a refused POST resumed the wait")
	}

	// A POST resumes with its body, headers (credentials redacted) and query; the
	// next is refused, and the page says so.
	code, body, _ := do("POST", "/resume/good?via=chat", "application/json", "", `{"approved": true}`)
	if code != 200 || !strings.Contains(body, `"status":"resumed"`) {
		t.Fatalf("POST: %d %s", code, body)
	}
	out, err := f.resumed.Output()
	if err != nil {
		t.Fatal(err)
	}
	if b := out["body"].(map[string]any); b["approved"] != true || out["query"].(map[string]any)["via"] != "chat" ||
		out["headers"].(map[string]any)["x-api-key"] != workflows.Redacted {
		t.Errorf("resumed with %v", out)
	}
	if code, _, _ := do("POST", "/resume/good", "application/json", "", `{}`); code != 409 {
		t.Errorf("a second POST: %d, want 409", code)
	}
	if code, page, _ := do("GET", "/resume/good", "", "text/html", ""); code != 409 || !strings.Contains(page, "resumed already") {
		t.Errorf("GET once resumed: %d %s", code, page)
	}
	if code, _, _ := do("POST", "/resume/unknown", "application/json", "", `{}`); code != 404 {
		t.Errorf("POST to an unknown token: %d, want 404", code)
	}
	// The token is checked before the body is read: a stranger's large body is refused
	// for its token, not read.
	if code, _, _ := do("POST", "/resume/unknown", "application/json", "", `{"big": "`+strings.Repeat("x", DefaultMaxBody)+`"}`); code != 404 {
		t.Errorf("a large POST to an unknown token: %d, want 404 before its body is read", code)
	}
}

// The page's own form gets a page back, not JSON.
func TestResumesForm(t *testing.T) {
	f := &fakeResumer{}
	h := NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest("POST", "/resume/good?approved=yes", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "The run goes on") ||
		!strings.Contains(w.Body.String(), "It was resumed with:") || !strings.Contains(w.Body.String(), "<code>approved</code> = <code>yes</code>") {
		t.Errorf("form POST: %d %s", w.Code, w.Body.String())
	}
	if out, _ := f.resumed.Output(); out["query"].(map[string]any)["approved"] != "yes" || out["body"] != nil {
		t.Errorf("resumed with %v", out)
	}
}

// HEAD answers as GET does, without a body and resuming nothing; a body that is not
// text is 415.
func TestResumesHeadAndNotText(t *testing.T) {
	f := &fakeResumer{}
	srv := httptest.NewServer(NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	for path, want := range map[string]int{"/resume/good": 200, "/resume/unknown": 404} {
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || len(body) != 0 || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("HEAD %s: %d, %d bytes, %v; want %d and no body", path, resp.StatusCode, len(body), resp.Header, want)
		}
	}
	resp, err := http.Post(srv.URL+"/resume/good", "image/png", strings.NewReader("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "not text") {
		t.Errorf("a body that is not text: %d %s, want 415", resp.StatusCode, body)
	}
	if f.resumed != nil {
		t.Error("a HEAD or a refused POST resumed the wait")
	}
	// Text of another type is taken.
	resp, err = http.Post(srv.URL+"/resume/good", "text/csv", strings.NewReader("approved,yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a text body: %d, want 200", resp.StatusCode)
	}
}

// A body the sender compressed is refused with 415 and a reason, as a webhook's is,
// and the answer says what is accepted; identity is plain.
func TestResumesCompressedBody(t *testing.T) {
	for _, c := range []struct {
		encoding string
		status   int
	}{{"gzip", 415}, {"br", 415}, {"identity", 200}} {
		f := &fakeResumer{}
		h := NewResumes(f, slog.New(slog.NewTextHandler(io.Discard, nil)))
		req := httptest.NewRequest("POST", "/resume/good", strings.NewReader(`{"approved": true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", c.encoding)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Errorf("Content-Encoding %s: %d %s, want %d", c.encoding, w.Code, w.Body, c.status)
		}
		if c.status == 415 {
			if !strings.Contains(w.Body.String(), "Content-Encoding "+c.encoding+" is not accepted") || w.Header().Get("Accept-Encoding") != "identity" {
				t.Errorf("Content-Encoding %s: %s, Accept-Encoding %q", c.encoding, w.Body, w.Header().Get("Accept-Encoding"))
			}
			if f.resumed != nil {
				t.Errorf("Content-Encoding %s resumed the wait", c.encoding)
			}
		}
	}
}
