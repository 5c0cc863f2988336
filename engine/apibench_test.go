package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkAPISteps runs one-step runs whose step calls a local API, on a real
// redis-server, one run at a time: a plain http step, the same call through an api
// block, and through one with a rate_limit, then with a concurrency too; and the plain
// step with sensitive = true. It reports the Redis commands (INFO commandstats) and
// round trips per step: what an api's limits, or forgetting a sensitive output, add to
// a step's share of Redis.
func BenchmarkAPISteps(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"cus_42","email":"ada@example.com"}`)
	}))
	defer srv.Close()
	for _, c := range []struct{ name, api, step string }{
		{"plain", "", `url = "` + srv.URL + `/customers"` + "\n" + `headers = { Authorization = "Bearer token-123456" }`},
		{"plain+sensitive", "", `url = "` + srv.URL + `/customers"` + "\n" + `headers = { Authorization = "Bearer token-123456" }` + "\n" + `sensitive = true`},
		{"api", "", `api = "crm"` + "\n" + `url = "/customers"`},
		{"api+rate_limit", `rate_limit = "1000000/s"`, `api = "crm"` + "\n" + `url = "/customers"`},
		{"api+rate_limit+concurrency", "rate_limit = \"1000000/s\"\nconcurrency = 64", `api = "crm"` + "\n" + `url = "/customers"`},
	} {
		b.Run(c.name, func(b *testing.B) {
			be := redistest.Real(b)
			apis := actions.NewAPIs()
			apis.Connect(be.Client)
			k := workflows.NewKinds()
			client := actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))
			actions.Register(k, actions.Options{Client: client, Logger: quiet, APIs: apis})
			src := fmt.Sprintf(`
api "crm" {
  base_url = "%s"
  auth "bearer" {
    token = "token-123456"
  }
  %s
}
workflow "one" {
  step "http" "call" {
    %s
    json = { email = "{{ event.body.email }}" }
  }
}`, srv.URL, c.api, c.step)
			set, diags := workflows.Load([]workflows.Source{{Name: "b.hcl", Data: []byte(src)}}, k)
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			trips := &roundTrips{}
			be.Client.AddHook(trips)
			e := New(be.Client, Options{Logger: quiet, Metrics: prometheus.NewRegistry(), Kinds: k})
			e.Use(set)
			wf := set.Workflow("one")
			p := e.NewPool(4)
			p.Start()
			defer p.Stop(context.Background())
			ev := event(`{"email":"ada@example.com"}`)

			be.Client.ConfigResetStat(context.Background())
			trips.n.Store(0)
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				id, err := e.Start(context.Background(), wf, ev)
				if err != nil {
					b.Fatal(err)
				}
				r, err := e.Await(context.Background(), wf, id)
				if err != nil || r.Status != string(RunSucceeded) {
					b.Fatalf("run %s: %+v, %v", id, r, err)
				}
			}
			b.StopTimer()
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/elapsed, "runs/s")
			b.ReportMetric(float64(trips.n.Load())/float64(b.N), "trips/step")
			if n, ok := redisCalls(be); ok {
				b.ReportMetric(n/float64(b.N), "cmds/step")
			}
		})
	}
}

// redisCalls is how many commands Redis ran since its stats were reset (the INFO
// itself aside), scripts' commands included, from INFO commandstats.
func redisCalls(be *redistest.Backend) (float64, bool) { return commandStat(be, "calls=") }
