package triggers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
)

// A webhook that comes while Redis is down is answered 503 saying that its run is not
// stored: its start never reached Redis (the connection was refused), so the sender
// may send it again as new. It is not answered as a start Redis did not answer. (A real
// redis-server: go-redis finds its connections closed before it uses them, as it cannot
// those to the embedded one, in memory, which a start then meets as a connection lost
// after its write.)
func TestWebhook503WhileRedisIsDownSaysNotStored(t *testing.T) {
	b := redistest.Real(t)
	set, diags := loadHooks("down.hcl", `
workflow "down" {
  trigger "webhook" {
    path = "/down"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	h := NewWebhooks(e, quietLog, nil)
	h.Use(set)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	post := func() (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/hooks/down", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	if code, msg := post(); code != http.StatusAccepted {
		t.Fatalf("with Redis up: %d %s", code, msg)
	}
	b.Stop()
	code, msg := post()
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "Redis refused the start: hookflow could not connect to it, so its run is not stored") {
		t.Errorf("with Redis down: %d %q, want 503 saying the run is not stored", code, msg)
	}
}
