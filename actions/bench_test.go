package actions

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/workflows"
)

// benchAPI answers every request with a small JSON object, as a typical API does.
func benchAPI(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"cus_42","email":"ada@example.com","balance":1250,"tags":["vip","eu"]}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkHTTPStep is one http step: render the URL, headers and JSON body from the
// event, dial through the guard (kept-alive), call, read and parse the JSON answer.
func BenchmarkHTTPStep(b *testing.B) {
	srv := benchAPI(b)
	step := loadStep(b, NewClient(NewGuard(loopback)), `
  step "http" "create" {
    url     = "`+srv.URL+`/customers/{{ event.body.id }}"
    headers = { Authorization = "Bearer token-123456" }
    json    = { email = "{{ event.body.email }}", amount = "{{ event.body.amount / 100 }}" }
  }`)
	env := &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "c1", "email": "ada@example.com", "amount": 1250}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call(step, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareClient is the same call written by hand with a plain http.Client: the
// body marshalled, the request sent, the JSON answer decoded.
func BenchmarkBareClient(b *testing.B) {
	srv := benchAPI(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.ReportAllocs()
	for b.Loop() {
		body, _ := json.Marshal(map[string]any{"email": "ada@example.com", "amount": 12.5})
		req, _ := http.NewRequest("POST", srv.URL+"/customers/c1", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer token-123456")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out map[string]any
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIStep is BenchmarkHTTPStep's call through an api block: its base_url
// joined, its bearer auth and a header set; without a Redis, so no limits are asked.
// With a Redis (redis-server), rate_limit is one script call more per call, and
// concurrency one more command after it (the slot freed).
func BenchmarkAPIStep(b *testing.B) {
	srv := benchAPI(b)
	for _, c := range []struct {
		name, limits string
		redis        bool
	}{
		{"no-redis", "", false},
		{"redis", "", true},
		{"redis+rate_limit", `rate_limit = "1000000/s"`, true},
		{"redis+rate_limit+concurrency", "rate_limit = \"1000000/s\"\nconcurrency = 64", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			apis := NewAPIs()
			if c.redis {
				apis.Connect(redistest.Real(b).Client)
			}
			k := workflows.NewKinds()
			Register(k, Options{Client: NewClient(NewGuard(loopback)), APIs: apis})
			set, diags := workflows.Load([]workflows.Source{{Name: "b.hcl", Data: []byte(`
api "crm" {
  base_url = "` + srv.URL + `"
  headers  = { X-Api-Version = "2024-01" }
  auth "bearer" {
    token = "token-123456"
  }
  ` + c.limits + `
}
workflow "w" {
  step "http" "create" {
    api  = "crm"
    url  = "/customers/{{ event.body.id }}"
    json = { email = "{{ event.body.email }}", amount = "{{ event.body.amount / 100 }}" }
  }
}`)}}, k)
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			step := set.Workflow("w").Steps[0]
			env := &workflows.Env{Event: map[string]any{"body": map[string]any{"id": "c1", "email": "ada@example.com", "amount": 1250}}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := call(step, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
