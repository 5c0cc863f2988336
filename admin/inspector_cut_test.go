package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/shellquote"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

// A run whose values are megabytes (a webhook's body of one long string, a step's
// output and requests holding it, a header and a query value) has a page of a bounded
// size: each value is cut after pageChars characters, never within one, and says how
// many more it has, linking the run's JSON. The curl command does not hold the body:
// it reads it from the run's JSON, and sends the body itself, as bash runs it.
func TestInspectorCutsLongValues(t *testing.T) {
	// Characters of one, two, three and four bytes, and what HTML escapes: a cut in
	// the wrong place shows as invalid UTF-8 or a broken entity.
	const unit = "a<é&€'𝄞\"" // 8 characters
	long := strings.Repeat(unit, 3_000_000/8)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", strings.Repeat(unit, 4_200)) // within the 64 KiB of headers a call reads
		w.Write(body)
	}))
	defer echo.Close()
	e, set, api := serveAPI(t, `
workflow "big" {
  trigger "webhook" {
    path = "/big"
  }
  step "http" "echo" {
    method = "POST"
    url    = "`+echo.URL+`"
    json   = "{{ event.body }}"
  }
}
`)
	// Compact, its keys in order: the bytes the command sends. Its number is past what
	// a float64 holds digit for digit, and must arrive as written.
	note, _ := httpjson.Marshal(long)
	raw := []byte(`{"n":12345678901234567890123,"note":` + string(note) + `}`)
	id, err := e.Start(context.Background(), set.Workflow("big"), &workflows.Event{ID: "e1", Trigger: "webhook",
		Method: "POST", Path: "/big", ContentType: "application/json", Raw: string(raw),
		// Within the 64 KiB of a request's line and headers a webhook reads.
		Query:   map[string][]string{"q": {strings.Repeat("q", 40_000)}},
		Headers: map[string]string{"Content-Type": "application/json", "X-Long": strings.Repeat(unit, 4_200)}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "succeeded")
	received := make(chan *http.Request, 1)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		received <- r
	}))
	defer hooks.Close()
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil,
		PageOptions{WebhookBase: hooks.URL, AdminBase: api.URL}, quiet))
	defer srv.Close()

	page := fetchPage(t, srv.URL+"/runs/"+id)
	// The event's body, query value and header, the request's and answer's bodies, the
	// answer's header and the step's output: each at most pageChars characters of up
	// to four bytes, escaped (&#34; is five bytes for one), and the page around them.
	if max := 8 * pageChars * 5; len(page) > max {
		t.Errorf("the page is %d bytes, past %d", len(page), max)
	}
	if !utf8.ValidString(page) {
		t.Error("the page is not UTF-8")
	}
	link := ` more characters (<a href="/api/v1/runs/` + id + `">the run's JSON</a> shows all)</span>`
	if n := strings.Count(page, link); n != 6 {
		t.Errorf("%d values say they are cut, with a link to the run's JSON, want 6", n)
	}
	for _, want := range []string{
		// The event's body as indented JSON, {\n  "n": 1.2345678901234568e+22,\n
		// "note": "…"\n}: 47 characters, the 3,000,000 of the string and a backslash
		// before each of its 375,000 '"'.
		`<span class="cut">… 3342279 more characters (`,
		`<span class="cut">… 7232 more characters (`, // the query's value
		`<span class="cut">… 832 more characters (`,  // the event's header
		// The answer's header, cut by the history already (workflows.MaxRecordedValue).
		`[cut: the value is 58800 bytes; the first 2048 are kept]`,
		// {"n":12345678901234567890123,"note":"…"}, as --data-raw would send it.
		`<p class="note" id="curl-reads">The body is 3375039 characters long`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("no %s on the page", want)
		}
	}
	// Each value is cut before it is escaped, at a character's start: what precedes a
	// cut ends with a character of the value (or of its JSON), an entity whole.
	parts := strings.Split(page, `<span class="cut">`)
	for _, before := range parts[:len(parts)-1] {
		end := before[max(0, len(before)-100):]
		last, _ := utf8.DecodeLastRuneInString(html.UnescapeString(end))
		if !strings.ContainsRune(unit+`\q`, last) {
			t.Errorf("a cut value ends with %q: %q", last, end)
		}
	}

	_, cmd, _ := strings.Cut(page, `<pre id="curl" class="curl">`)
	cmd, _, _ = strings.Cut(cmd, "</pre>")
	cmd = html.UnescapeString(cmd)
	want := `(body=$(mktemp) && trap 'rm -f "$body"' EXIT && curl -fsS -o "$body" ` + shellquote.Quote(api.URL+"/api/v1/runs/"+id+"/event/body") +
		` && curl -X POST ` + shellquote.Quote(hooks.URL+"/hooks/big?q="+strings.Repeat("q", 40_000)) +
		` -H 'Content-Type: application/json' --data-binary @"$body")`
	if cmd != want {
		t.Fatalf("curl command\n got %.300s\nwant %s", cmd, want)
	}
	// The command needs bash, curl, mktemp and rm, and nothing else: it runs with only
	// them on its PATH, and leaves no file behind.
	bin := t.TempDir()
	for _, name := range []string{"bash", "curl", "mktemp", "rm"} {
		if err := os.Symlink(tool(t, name), filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	runCmd := func(t *testing.T, cmd string, env ...string) error {
		t.Helper()
		tmp := t.TempDir()
		sh := exec.Command(filepath.Join(bin, "bash"), "-c", cmd)
		sh.Dir, sh.Env = t.TempDir(), append(os.Environ(), append([]string{"PATH=" + bin, "TMPDIR=" + tmp}, env...)...)
		out, err := sh.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("the command left %d files behind", len(left))
		}
		return err
	}
	sends := func(t *testing.T, cmd string, env ...string) {
		t.Helper()
		if err := runCmd(t, cmd, env...); err != nil {
			t.Fatal(err)
		}
		var got *http.Request
		select {
		case got = <-received:
		default:
			t.Fatal("the curl command sent nothing")
		}
		if body, _ := io.ReadAll(got.Body); !bytes.Equal(body, raw) {
			t.Errorf("the curl command sent %.200q…, not the event's body %.200q…", body, raw)
		}
		if got.Method != "POST" || got.URL.Query().Get("q") != strings.Repeat("q", 40_000) || got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("the curl command sent %s %.100s (%s)", got.Method, got.URL, got.Header.Get("Content-Type"))
		}
	}
	sends(t, cmd)

	// With tokens, a browser signed in follows the link to the run's JSON with its
	// session, whichever token it signed in with; the command reads the JSON with the
	// token in HOOKFLOW_ADMIN_TOKEN.
	a := Access{OperatorToken: "operator-token-0123456789", ReadToken: "read-token-0123456789"}
	mux := http.NewServeMux()
	mux.Handle("/api/", Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet))
	protected := httptest.NewServer(Protect(mux, a))
	defer protected.Close()
	mux.Handle("/", Inspector(e, func() *workflows.Set { return set }, nil,
		PageOptions{WebhookBase: hooks.URL, AdminBase: protected.URL, SignOut: true}, quiet))
	for name, token := range map[string]string{"operator": a.OperatorToken, "read-only": a.ReadToken} {
		t.Run(name, func(t *testing.T) {
			cookie := testutil.SignIn(t, protected.URL, token)
			page := browse(t, protected.URL+"/runs/"+id, cookie)
			_, href, _ := strings.Cut(page, `more characters (<a href="`)
			href, _, _ = strings.Cut(href, `"`)
			var run struct {
				Event struct{ Body struct{ Note string } }
			}
			if err := json.Unmarshal([]byte(browse(t, protected.URL+href, cookie)), &run); err != nil || run.Event.Body.Note != long {
				t.Errorf("GET %s: the event's body is %d characters (%v), want %d", href, utf8.RuneCountInString(run.Event.Body.Note), err, len([]rune(long)))
			}
			_, cmd, _ := strings.Cut(page, `<pre id="curl" class="curl">`)
			cmd, _, _ = strings.Cut(cmd, "</pre>")
			cmd = html.UnescapeString(cmd)
			if !strings.Contains(cmd, `curl -fsS -o "$body" -H "Authorization: Bearer $HOOKFLOW_ADMIN_TOKEN" `) {
				t.Errorf("the command reads the body without the token: %.300s", cmd)
			}
			// The note's link is the body the command reads.
			_, href, _ = strings.Cut(page, `<p class="note" id="curl-reads">`)
			_, href, _ = strings.Cut(href, `<a href="`)
			href, _, _ = strings.Cut(href, `"`)
			if got := browse(t, protected.URL+href, cookie); got != string(raw) {
				t.Errorf("GET %s: %d bytes, not the event's body", href, len(got))
			}
			sends(t, cmd, "HOOKFLOW_ADMIN_TOKEN="+token)

			// With a token refused, the body cannot be read: it sends nothing, fails,
			// and leaves no file behind.
			if err := runCmd(t, cmd, "HOOKFLOW_ADMIN_TOKEN=wrong-token-0123456789"); err == nil {
				t.Error("the command with a token refused succeeded")
			}
			select {
			case got := <-received:
				t.Errorf("the command with a token refused sent %s %d bytes", got.Method, got.ContentLength)
			default:
			}
		})
	}
}

// browse is the answer to a GET of u by a browser with a session's cookie: its body,
// once it is 200.
func browse(t *testing.T, u string, cookie *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%.300s", u, resp.StatusCode, body)
	}
	return string(body)
}

// tool is the path of a program a test runs: missing, the test skips, but fails in CI
// (CI=true), where .ci/run installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no %s: CI runs this test with it", name)
	}
	t.Skipf("no %s", name)
	return ""
}

// An error is cut as the other values are, on the dead letters page (where 50 of them
// stay a page) and on the run's: its own, its step's, its request's (and the event's
// body). The error
// says where a redirect pointed, as long as the answer's Location (the request's URL is
// cut in the history already).
func TestInspectorCutsALongDeadLetterError(t *testing.T) {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/elsewhere?q="+r.URL.Query().Get("q"))
		w.WriteHeader(http.StatusFound)
	}))
	defer busy.Close()
	e, set, api := serveAPI(t, `
workflow "long_url" {
  step "http" "call" {
    url = "`+busy.URL+`/?q={{ event.body.q }}"
  }
}
`)
	raw, _ := json.Marshal(map[string]string{"q": strings.Repeat("q", 40_000)})
	id, err := e.Start(context.Background(), set.Workflow("long_url"), &workflows.Event{ID: "e1", Trigger: "manual",
		ContentType: "application/json", Raw: string(raw)})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, api.URL, id, "failed")
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/dlq")
	cutNote := ` more characters (<a href="/api/v1/runs/` + id + `">the run's JSON</a> shows all)</span>`
	if !strings.Contains(page, cutNote+`</pre></td>`) {
		t.Errorf("the dead letter's error is not cut:\n%.500s", page)
	}
	if n := strings.Count(fetchPage(t, srv.URL+"/runs/"+id), cutNote); n != 4 {
		t.Errorf("%d values of the run are cut, want 4", n)
	}
}
