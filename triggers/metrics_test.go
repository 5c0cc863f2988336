package triggers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/metricstest"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const metricsHooksSrc = `
workflow "paid" {
  trigger "webhook" {
    path   = "/orders"
    dedupe = "{{ event.body.id }}"
  }
  filter = "event.body.type == 'paid'"
}

workflow "audit" {
  trigger "webhook" {
    path = "/orders"
  }
}

workflow "signed" {
  trigger "webhook" {
    path     = "/signed"
    max_body = "1KiB"
    verify "bearer" {
      tokens = ["long-enough-token"]
    }
  }
}

workflow "limited" {
  trigger "webhook" {
    path       = "/limited"
    rate_limit = "1/1h"
  }
}

workflow "queued" {
  trigger "webhook" {
    path = "/queued"
  }
  step "noop" "wait" {}
}
`

type noop struct{}

func (noop) Do(context.Context, *workflows.Call) (any, error) { return nil, nil }

// Every webhook request is counted: received by each workflow on its path, filtered,
// a duplicate, or refused for one of a fixed set of reasons; sent over real HTTP to
// the receiver, which starts runs with the engine on Redis.
func TestWebhookMetrics(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		k := workflows.NewKinds()
		Register(k)
		k.AddStep(workflows.StepKind{Name: "noop", New: func(*workflows.Block) (workflows.Action, hcl.Diagnostics) { return noop{}, nil }})
		set, diags := workflows.Load([]workflows.Source{{Name: "m.hcl", Data: []byte(metricsHooksSrc)}}, k)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		opts, err := redis.ParseURL(b.URL)
		if err != nil {
			t.Fatal(err)
		}
		client := redis.NewClient(opts)
		t.Cleanup(func() { client.Close() })
		// No workers: a run of queued stays unfinished, and a second one is refused.
		e := engine.New(client, engine.Options{Logger: quietLog, MaxQueued: 1})
		e.Use(set)
		reg := prometheus.NewRegistry()
		m := NewMetrics(reg)
		h := NewWebhooks(e, quietLog, nil, WithMetrics(m))
		h.Use(set)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)

		post := func(path, contentType, body string, header ...string) int {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for _, c := range []struct {
			what, path, contentType, body string
			header                        []string
			status                        int
		}{
			{"paid and audit start", "/hooks/orders", "application/json", `{"type": "paid", "id": "o1"}`, nil, 202},
			{"paid's duplicate; audit starts", "/hooks/orders", "application/json", `{"type": "paid", "id": "o1"}`, nil, 202},
			{"paid filters it out; audit starts", "/hooks/orders", "application/json", `{"type": "refund", "id": "o2"}`, nil, 202},
			{"verified", "/hooks/signed", "application/json", `{}`, []string{"Authorization", "Bearer long-enough-token"}, 202},
			{"bad_signature", "/hooks/signed", "application/json", `{}`, []string{"Authorization", "Bearer guessed-token"}, 401},
			{"too_large, declared", "/hooks/signed", "application/json", strings.Repeat(" ", 2048), nil, 413},
			{"not_found", "/hooks/nope", "application/json", `{}`, nil, 404},
			{"not_found outside /hooks", "/elsewhere", "application/json", `{}`, nil, 404},
			{"bad_path", "/hooks//orders", "application/json", `{}`, nil, 400},
			{"unsupported_type", "/hooks/orders", "image/png", "\x89PNG\r\n\x1a\n\xff\xfe", nil, 415},
			{"bad_body", "/hooks/orders", "application/json", `{"type":`, nil, 400},
			{"bad_body, a form that looks like JSON", "/hooks/orders", "application/x-www-form-urlencoded", `{"type":paid}`, nil, 400},
			{"within the rate limit", "/hooks/limited", "application/json", `{}`, nil, 202},
			{"rate_limited", "/hooks/limited", "application/json", `{}`, nil, 429},
			{"queued", "/hooks/queued", "application/json", `{}`, nil, 202},
			{"busy", "/hooks/queued", "application/json", `{}`, nil, 503},
		} {
			if got := post(c.path, c.contentType, c.body, c.header...); got != c.status {
				t.Errorf("%s: %d, want %d", c.what, got, c.status)
			}
		}
		// A body over the limit that did not say its length.
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/signed", struct{ *strings.Reader }{strings.NewReader(strings.Repeat(" ", 2048))})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || req.ContentLength != 0 {
			t.Errorf("too_large, chunked: %d", resp.StatusCode)
		}
		resp, err = http.Get(srv.URL + "/hooks/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("method_not_allowed: %d", resp.StatusCode)
		}
		if status := sendTruncated(t, srv.Listener.Addr().String(), "/hooks/orders"); status != 400 {
			t.Errorf("read_error: %d", status)
		}
		h.RefusedWhileShuttingDown()
		b.Stop()
		if got := post("/hooks/orders", "application/json", `{"type": "paid", "id": "o3"}`); got != 503 {
			t.Errorf("unavailable: %d", got)
		}

		wantSeries(t, reg, "hookflow_events_received_total", map[string]float64{
			// Workflows on a path go in name order: the last request reached audit, whose
			// start failed, and not paid.
			"trigger=webhook,workflow=audit":   4,
			"trigger=webhook,workflow=paid":    3,
			"trigger=webhook,workflow=signed":  1,
			"trigger=webhook,workflow=limited": 1,
			"trigger=webhook,workflow=queued":  2,
		})
		wantSeries(t, reg, "hookflow_events_filtered_total", map[string]float64{
			"workflow=paid": 1, "workflow=audit": 0, "workflow=signed": 0, "workflow=limited": 0, "workflow=queued": 0,
		})
		wantSeries(t, reg, "hookflow_events_duplicate_total", map[string]float64{
			"workflow=paid": 1, "workflow=audit": 0, "workflow=signed": 0, "workflow=limited": 0, "workflow=queued": 0,
		})
		wantSeries(t, reg, "hookflow_events_rejected_total", map[string]float64{
			"reason=not_found":          2,
			"reason=method_not_allowed": 1,
			"reason=rate_limited":       1,
			"reason=too_large":          2,
			"reason=read_error":         1,
			"reason=bad_signature":      1,
			"reason=unsupported_type":   1,
			"reason=bad_body":           2,
			"reason=busy":               1,
			"reason=unavailable":        1,
			"reason=shutting_down":      1,
			"reason=overloaded":         0,
			"reason=bad_path":           1,
		})
		metricstest.Lint(t, reg)
	})
}

// sendTruncated sends a request whose body stops short of its Content-Length, then
// half-closes the connection, and returns the status answered.
func sendTruncated(t *testing.T, addr, path string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"type\":", path)
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Labels never take what a sender chooses: requests to a thousand unknown paths, with
// a secret in the path, the query and the body, leave one series per reason and no
// trace of the secret.
func TestRejectedLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	set, diags := loadHooks("h.hcl", hooksSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	h := NewWebhooks(nopStarter{}, quietLog, nil, WithMetrics(NewMetrics(reg)))
	h.Use(set)
	const secret = "canary-s3cr3t-value"
	for i := range 1000 {
		r := httptest.NewRequest("POST", fmt.Sprintf("/hooks/%s-%d?key=%s", secret, i, secret), strings.NewReader(`{"token": "`+secret+`"}`))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	r := httptest.NewRequest("POST", "/hooks/stripe", strings.NewReader(`{"type": "`+secret+`"}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), r)

	if n := promtest.CollectAndCount(reg, "hookflow_events_rejected_total"); n != int(numReasons) {
		t.Errorf("%d rejected series, want one per reason (%d)", n, numReasons)
	}
	if got := metricstest.Series(t, reg, "hookflow_events_rejected_total")["reason=not_found"]; got != 1000 {
		t.Errorf("not_found %v, want 1000", got)
	}
	var text bytes.Buffer
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		text.WriteString(f.String())
	}
	if strings.Contains(text.String(), secret) {
		t.Errorf("a label carries what the sender sent:\n%s", text.String())
	}
}

// A schedule's tick is received once, by the process that started its run: two
// processes serving one schedule count as many ticks between them as runs started.
func TestScheduleMetrics(t *testing.T) {
	set, diags := loadHooks("tick.hcl", tickSrc)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	synctest.Test(t, func(t *testing.T) { // on memTicks, as the scheduler's tests
		ticks := newMemTicks()
		reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
		s1 := NewScheduler(ticks, quietLog, WithMetrics(NewMetrics(reg1)))
		s2 := NewScheduler(ticks, quietLog, WithMetrics(NewMetrics(reg2)))
		s1.Use(set)
		s2.Use(set)
		testutil.Eventually(t, 10*time.Second, "two ticks", func() bool { return len(ticks.scheduled("tick")) >= 2 })
		s1.Stop()
		s2.Stop()
		runs := len(ticks.scheduled("tick"))
		key := "trigger=schedule,workflow=tick"
		got := metricstest.Series(t, reg1, "hookflow_events_received_total")[key] +
			metricstest.Series(t, reg2, "hookflow_events_received_total")[key]
		if got != float64(runs) {
			t.Errorf("%v ticks received between the two, %d runs started", got, runs)
		}
	})
}

func wantSeries(t *testing.T, g prometheus.Gatherer, name string, want map[string]float64) {
	t.Helper()
	if got := metricstest.Series(t, g, name); !maps.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

// Without metrics, the receiver counts nothing and needs nothing.
func TestNoMetrics(t *testing.T) {
	if NewMetrics(nil) != nil {
		t.Error("NewMetrics(nil) is not nil")
	}
	h, starter := newHooks(t, "h.hcl", hooksSrc)
	h.RefusedWhileShuttingDown()
	for _, path := range []string{"/hooks/stripe", "/hooks/nope"} {
		r := httptest.NewRequest("POST", path, strings.NewReader(`{"type": "payment_intent.succeeded"}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if starter.count() != 1 {
		t.Errorf("%d runs, want 1", starter.count())
	}
}
