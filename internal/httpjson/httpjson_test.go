package httpjson

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusAccepted, map[string]any{"run_id": "r1"})
	if w.Code != 202 || w.Body.String() != `{"run_id":"r1"}`+"\n" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

func TestWriteUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusOK, map[string]any{"n": math.Inf(1)})
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error":"encoding the answer`) {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

func TestWriteLeavesHTMLCharacters(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusOK, map[string]any{"note": "<a&b>"})
	if got := w.Body.String(); got != `{"note":"<a&b>"}`+"\n" {
		t.Errorf("got %q", got)
	}
	data, err := Marshal([]any{"<a&b>", 1})
	if err != nil || string(data) != `["<a&b>",1]` {
		t.Errorf("Marshal: %q, %v", data, err)
	}
}
