package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// The public listener hands a webhook path that is not clean to the webhook receiver
// as it came, which answers 400 with the reason, rather than to its mux, which would
// redirect it to the clean form with an empty body. Clean paths, /healthz and the rest
// are served as before.
func TestServeRefusesMalformedWebhookPaths(t *testing.T) {
	dir := t.TempDir()
	src := `workflow "open" {
  trigger "webhook" {
    path = "/open/{id}"
  }
}

workflow "bearer" {
  trigger "webhook" {
    path = "/bearer"
    verify "bearer" {
      tokens = ["a-long-enough-token"]
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "paths.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s := serveDir(t, dir, redistest.Mini(t).URL, "127.0.0.1:0")
	for _, tc := range []struct {
		method, path string
		status       int
		reason       string // in the answer
	}{
		{"POST", "/hooks/open/1", http.StatusAccepted, "run_id"},
		{"POST", "/hooks//open/1", http.StatusBadRequest, `send it in its clean form, \"/hooks/open/1\"`},
		{"POST", "//hooks/open/1", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/open/..", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/./bearer", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/..", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/elsewhere/../hooks/open/1", http.StatusBadRequest, "empty, . or .. segment"},
		{"POST", "/hooks/open/%00", http.StatusBadRequest, "holds a control character"},
		{"POST", "/hooks/bearer", http.StatusUnauthorized, "no bearer token"},
		{"GET", "/healthz", http.StatusOK, "ok"},
		{"POST", "/hooks", http.StatusNotFound, "no webhook at /hooks"},
		{"POST", "/hooks/", http.StatusNotFound, "no webhook at /hooks/"},
		// A resume URL's path, clean or not, names a wait or none: never a redirect.
		{"POST", "/resume//x.y", http.StatusNotFound, "no wait at this address"},
		{"GET", "/resume/../resume/x.y", http.StatusNotFound, "no wait at this address"},
		{"POST", "/elsewhere/../resume/x.y", http.StatusNotFound, "no wait at this address"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := testutil.RawRequest(t, s.publicAddr, tc.method, tc.path)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("%d %s, want %d with %s", status, body, tc.status, tc.reason)
			}
			if status == http.StatusBadRequest && !json.Valid([]byte(body)) {
				t.Errorf("the reason is not JSON: %s", body)
			}
		})
	}
}
