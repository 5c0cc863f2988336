package main

// Helpers of the examples' end-to-end tests: fake APIs that record what they get, the
// example's files, and the providers' signatures.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// request is one request a fake API received. The JSON body keeps numbers exact.
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	body         any
}

type fakeAPI struct {
	*httptest.Server
	calls chan request
}

// newFakeAPI is an API an example calls: it records each request and answers it
// with reply.
func newFakeAPI(t *testing.T, reply func(r request, w http.ResponseWriter)) *fakeAPI {
	api := &fakeAPI{calls: make(chan request, 100)}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		req := request{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header}
		if len(data) > 0 {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&req.body); err != nil {
				req.body = string(data)
			}
		}
		api.calls <- req
		reply(req, w)
	}))
	t.Cleanup(api.Close)
	return api
}

// next waits for the API's next request.
func (a *fakeAPI) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-a.calls:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no request came")
		return request{}
	}
}

// none checks that the API got nothing more. The runs being finished, anything they
// sent has come.
func (a *fakeAPI) none(t *testing.T) {
	t.Helper()
	for _, r := range a.drain() {
		t.Errorf("unexpected request: %s %s %v", r.method, r.path, r.body)
	}
}

func (a *fakeAPI) drain() []request {
	var rs []request
	for {
		select {
		case r := <-a.calls:
			rs = append(rs, r)
		default:
			return rs
		}
	}
}

func serveExample(t *testing.T, name string) *server {
	t.Helper()
	return serveDir(t, filepath.Join(examples, name), "", "127.0.0.1:0")
}

func exampleFile(t *testing.T, example, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, example, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// exampleHeaders reads an example's event.headers: "Name: value" lines, as curl's
// -H @file takes them.
func exampleHeaders(t *testing.T, example string) http.Header {
	t.Helper()
	h := http.Header{}
	sc := bufio.NewScanner(bytes.NewReader(exampleFile(t, example, "event.headers")))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("event.headers: %q is not a header", sc.Text())
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer %d is not JSON: %s", a.status, a.body)
	}
	return v
}

// deliver posts body with headers, as the provider would.
func deliver(t *testing.T, url string, body []byte, headers http.Header) answer {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = headers.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, data}
}

func statusURL(s *server, runID string) string {
	return "http://" + s.adminAddr + "/api/v1/runs/" + runID
}

func listRuns(t *testing.T, s *server, workflow string) []any {
	t.Helper()
	runs, _ := getJSON(t, "http://"+s.adminAddr+"/api/v1/runs?workflow="+workflow)["runs"].([]any)
	return runs
}

func stepNamed(t *testing.T, run map[string]any, name string) map[string]any {
	t.Helper()
	for _, s := range run["steps"].([]any) {
		if s := s.(map[string]any); s["name"] == name {
			return s
		}
	}
	t.Fatalf("run has no step %s: %v", name, run["steps"])
	return nil
}

// wantSteps checks a finished run's status and each step's, given as "name=status".
func wantSteps(t *testing.T, run map[string]any, status string, steps ...string) {
	t.Helper()
	if run["status"] != status {
		t.Errorf("run %v, want %s: %v", run["status"], status, run["error"])
	}
	var got []string
	for _, s := range run["steps"].([]any) {
		s := s.(map[string]any)
		got = append(got, s["name"].(string)+"="+s["status"].(string))
	}
	if !reflect.DeepEqual(got, steps) {
		t.Errorf("steps %v, want %v", got, steps)
	}
}

// sameJSON compares a decoded JSON value with the JSON text want, numbers exactly.
func sameJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(want))
	dec.UseNumber()
	var w any
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: the wanted JSON: %v", what, err)
	}
	if g := normalize(got); !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s:\n%s\nwant:\n%s", what, gj, wj)
	}
}

// normalize makes numbers json.Number, whichever way got was decoded.
func normalize(v any) any {
	data, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	dec.Decode(&out)
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hmacSHA256(key string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// signGitHub is X-Hub-Signature-256: the hex HMAC-SHA256 of the body.
func signGitHub(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSHA256(secret, body))
}

// signStripe is Stripe-Signature: the hex HMAC-SHA256 of "<t>.<body>", the secret
// used as it is written (whsec_ included).
func signStripe(secret string, ts int64, body []byte) string {
	t := strconv.FormatInt(ts, 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(hmacSHA256(secret, []byte(t+"."), body))
}

// signSlack is X-Slack-Signature: the hex HMAC-SHA256 of "v0:<timestamp>:<body>".
func signSlack(secret string, ts int64, body []byte) string {
	return "v0=" + hex.EncodeToString(hmacSHA256(secret, []byte("v0:"+strconv.FormatInt(ts, 10)+":"), body))
}

// signShopify is X-Shopify-Hmac-Sha256: the base64 HMAC-SHA256 of the body.
func signShopify(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(secret, body))
}
