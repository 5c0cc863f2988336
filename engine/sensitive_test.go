package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/workflows"
)

const sensitiveToken = "tok-5e4f9a2b7c"

// tokenAPI answers /token with a token, /pages?page=N with 3 pages of items, /fail
// with a 400, /flaky with a 400 the first time, and records the bodies other paths
// get.
func tokenAPI(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var used []string
	flaked := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600}`, sensitiveToken)
		case "/pages":
			page := r.URL.Query().Get("page")
			if page == "" {
				page = "1"
			}
			if page != "3" {
				w.Header().Set("Link", fmt.Sprintf(`</pages?page=%c>; rel="next"`, page[0]+1))
			}
			fmt.Fprintf(w, `{"data":["item-%s"]}`, page)
		case "/fail":
			w.WriteHeader(http.StatusBadRequest)
		case "/flaky": // fails the first time, then answers as /use does
			mu.Lock()
			first := !flaked
			flaked = true
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			fallthrough
		default:
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			used = append(used, string(body))
			mu.Unlock()
			fmt.Fprint(w, `{}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), used...)
	}
}

const sensitiveSrc = `
workflow "crm" {
  step "http" "login" {
    url       = "%[1]s/token"
    method    = "POST"
    sensitive = true
  }
  step "http" "list" {
    url = "%[1]s/pages"
    paginate {
      next  = "link_next(response)"
      items = "response.body.data"
    }
  }
  step "set" "shouted" {
    for_each  = "[1, 2]"
    sensitive = true
    value     = "{{ upper(steps.login.body.access_token) }}-{{ each.value }}"
  }
  step "http" "use" {
    url  = "%[1]s/use"
    json = { token = "{{ steps.login.body.access_token }}", items = "{{ steps.list.items }}" }
  }
  step "set" "each_token" {
    for_each = "[steps.login.body.access_token, 'plain-item-value']"
    value    = "{{ each.value }}"
  }
  step "workflow" "child" {
    workflow = "child"
    input    = { value = "{{ steps.login.body.access_token }}", plain = "plain-input-value" }
  }
  step "http" "last" {
    url  = "%[1]s/{{ event.body.last }}"
    json = { token = "{{ steps.login.body.access_token }}" }
  }
}

workflow "child" {
  step "set" "echo" {
    got = "{{ event.body.value }}"
  }
}
`

// rawSensitive lists the keys of b, and their contents, that hold a raw sensitive
// value of the runs of sensitiveSrc: the token, or the outputs of shouted made of it.
func rawSensitive(t *testing.T, b *redistest.Backend) string {
	left := ""
	for k, v := range redisContents(t, b) {
		if strings.Contains(v, sensitiveToken) || strings.Contains(v, "TOK-5E4F9A2B7C") {
			left += k + ": " + v + "\n"
		}
	}
	return left
}

// A sensitive step's output is [sensitive] in the history, and its values are
// [redacted] where they appear again (a later step's recorded request), yet the later
// step sent the real value. As soon as the run is seen succeeded, no key of Redis
// holds a raw value: not its records, not the items listed from it, not the input of
// the child run it started; a run that fails keeps them, and its replay reads them.
// Each page of a paginated step is a request in the history.
func TestSensitiveOutputs(t *testing.T) {
	redistest.EachWithCluster(t, func(t *testing.T, b *redistest.Backend) {
		srv, used := tokenAPI(t)
		e, set := httpEngine(t, b, fmt.Sprintf(sensitiveSrc, srv.URL))
		ctx := context.Background()

		id, err := e.Start(ctx, set.Workflow("crm"), event(`{"last":"done"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		if got := used(); len(got) != 2 || !strings.Contains(got[1], sensitiveToken) || !strings.Contains(got[0], `"token":"`+sensitiveToken+`"`) ||
			!strings.Contains(got[0], `"items":["item-1","item-2","item-3"]`) {
			t.Errorf("the later step sent %q, want the real token and the items of 3 pages", got)
		}
		steps := map[string]StepRun{}
		for _, s := range r.Steps {
			steps[s.Name] = s
		}
		if steps["login"].Output != "[sensitive]" {
			t.Errorf("login output shown as %v", steps["login"].Output)
		}
		if req := steps["login"].Requests; len(req) != 1 || req[0].Response == nil || req[0].Response.Body != "[sensitive]" {
			t.Errorf("login's answer recorded as %+v", req)
		}
		if req := steps["use"].Requests; len(req) != 1 || !strings.Contains(req[0].Body, `"token":"[redacted]"`) {
			t.Errorf("the later step's request recorded as %+v", req)
		}
		if req := steps["list"].Requests; len(req) != 3 || req[2].Page != 3 || !strings.HasSuffix(req[2].URL, "/pages?page=3") {
			t.Errorf("the pages recorded as %+v", req)
		} else {
			for i, r := range req {
				if r.Response == nil || !strings.Contains(r.Response.Body, fmt.Sprintf("item-%d", i+1)) {
					t.Errorf("page %d's answer recorded as %+v", i+1, r.Response)
				}
			}
		}
		data, _ := json.Marshal(r)
		if strings.Contains(string(data), sensitiveToken) {
			t.Errorf("the token is in the run as the API shows it: %s", data)
		}
		if strings.Contains(string(data), "TOK-5E4F9A2B7C") {
			t.Errorf("a sensitive for_each step's items are shown: %s", data)
		}
		// The commit that ends the run forgets the raw values: the run is not seen
		// succeeded before.
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the run succeeded:\n%s", left)
		}
		sh := e.q.shardFor("crm")
		items, _ := b.Client.HGetAll(ctx, sh.items(id, "each_token")).Result()
		if items["v:0"] != `"[sensitive]"` || items["v:1"] != `"plain-item-value"` || len(items) != 3 {
			t.Errorf("the items listed from the token are %v, want it [sensitive] and the plain one kept", items)
		}
		child, err := e.Run(ctx, id+":child")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := child.Event.Body.(map[string]any)
		if child.Status != RunSucceeded || body["value"] != "[sensitive]" || body["plain"] != "plain-input-value" {
			t.Errorf("the child run is %s with the event body %v, want its value [sensitive] and the rest kept", child.Status, child.Event.Body)
		}
		if got := child.Steps[0].Output; fmt.Sprint(got) != "map[got:[redacted]]" {
			t.Errorf("the child's step that read the token shows %v, want it redacted", got)
		}

		// A run that fails keeps the raw values, and its replay reads them; once it
		// succeeds, they are gone.
		failed, err := e.Start(ctx, set.Workflow("crm"), event(`{"last":"flaky"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, failed); r.Status != RunFailed {
			t.Fatalf("run %s, want failed", r.Status)
		}
		raw, _ := b.Client.HGet(ctx, sh.run(failed), recordPrefix+"login").Result()
		if !strings.Contains(raw, sensitiveToken) {
			t.Errorf("the failed run's record of login is %s, want the raw output kept for a replay", raw)
		}
		results, _ := b.Client.HGetAll(ctx, sh.results(failed, "shouted")).Result()
		if !strings.Contains(fmt.Sprint(results), "TOK-5E4F9A2B7C-2") {
			t.Errorf("the failed run's items of shouted are %v, want the raw outputs kept", results)
		}
		items, _ = b.Client.HGetAll(ctx, sh.items(failed, "each_token")).Result()
		if !strings.Contains(items["v:0"], sensitiveToken) {
			t.Errorf("the failed run's items of each_token are %v, want the raw value kept", items)
		}
		if _, err := e.Replay(ctx, failed, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, failed); r.Status != RunSucceeded {
			t.Fatalf("replayed run %s: %s", r.Status, r.Error)
		}
		if got := used(); len(got) != 4 || !strings.Contains(got[3], `"token":"`+sensitiveToken+`"`) {
			t.Errorf("the replayed step sent %q, want the raw token", got)
		}
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the replayed run succeeded:\n%s", left)
		}
	})
}

// hide_sensitive replaces a record's output, whatever JSON it is, and keeps every other
// field as it was; a record without an output of its own, or hidden already, is left
// as it is.
func TestHideSensitiveRecords(t *testing.T) {
	lib, _ := scriptFiles.ReadFile("scripts/lib.lua")
	src := "hide_sensitive(KEYS[1], {ARGV[1]}, {}, {}, false)\nreturn redis.call('HGET', KEYS[1], ARGV[1]) or ''"
	hideScript := redis.NewScript(uses(string(lib), src) + "\n" + src)
	cases := []struct {
		name, rec string
		hidden    bool
	}{
		{"object", `{"finished":5,"duration_ms":2,"status":"succeeded","attempt":1,"output":{"a":"x}\"]{,","b":[1,{"c":"\\"}],"d":{}},"error":"e","requests":[{"output":1}],"sensitive":true}`, true},
		{"string", `{"finished":5,"duration_ms":2,"status":"succeeded","output":"a\"b,c}","version":"v1"}`, true},
		{"number last", `{"finished":5,"duration_ms":2,"status":"succeeded","output":42}`, true},
		{"list", `{"finished":5,"duration_ms":2,"status":"succeeded","output":[["]"],"[",{}],"items":2,"for_each":true,"sensitive":true}`, true},
		{"null", `{"finished":5,"duration_ms":2,"status":"succeeded","output":null,"sensitive":true}`, true},
		{"none, an output in its requests", `{"finished":5,"duration_ms":2,"status":"failed","error":"x","requests":[{"a":1,"output":"tok-5e4f9a2b7c"}]}`, false},
		{"hidden already", `{"finished":5,"duration_ms":2,"status":"succeeded","output":"[sensitive]","sensitive":true}`, false},
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b.Client.HSet(ctx, "run", "s:x", c.rec)
				got, err := hideScript.Run(ctx, b.Client, []string{"run"}, "s:x").Text()
				if err != nil {
					t.Fatal(err)
				}
				if !c.hidden {
					if got != c.rec {
						t.Errorf("got %s, want it unchanged", got)
					}
					return
				}
				was, err := decodeRecord(c.rec)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := decodeRecord(got)
				if err != nil {
					t.Fatalf("%s: %v", got, err)
				}
				was.Output, was.Sensitive = sensitiveJSON, true
				if string(encodeRecord(rec)) != string(encodeRecord(was)) {
					t.Errorf("got %s\nwant %s", encodeRecord(rec), encodeRecord(was))
				}
			})
		}
	})
}

var sensitiveJSON = json.RawMessage(`"[sensitive]"`)

// tripLog keeps what a client sends Redis for the runs it starts: each round trip as
// the names of its commands, the workers' waiting and leasing, new connections, and a
// waiter's polls of a run's status, aside.
type tripLog struct {
	mu    sync.Mutex
	trips [][]string
	args  map[string][]int // the argument counts of the commit scripts' calls, by script
}

func (l *tripLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *tripLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (l *tripLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.add(cmds)
		return next(ctx, cmds)
	}
}

func (l *tripLog) add(cmds []redis.Cmder) {
	scripts := map[any]string{completeHash: "complete", advanceHash: "advance", finishHash: "finish",
		startScript.Hash(): "start"}
	var names []string
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		a := c.Args()
		name := c.Name()
		switch {
		case name == "evalsha" || name == "eval":
			hash := a[1]
			if name == "eval" {
				hash = "?"
			}
			s, ok := scripts[hash]
			if !ok {
				continue // lease, heartbeat, wake: the workers' own
			}
			l.args[s] = append(l.args[s], len(a))
			name = s
		case name == "blpop", name == "hello", name == "client", // waiting, a new connection
			name == "hmget" && len(a) > 2 && a[2] == "status":
			continue
		}
		names = append(names, name)
	}
	if len(names) > 0 {
		l.trips = append(l.trips, names)
	}
}

func (l *tripLog) take() ([][]string, map[string][]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	trips, args := l.trips, l.args
	l.trips, l.args = nil, map[string][]int{}
	return trips, args
}

// A run without sensitive steps pays nothing for them: its commits take no more
// arguments than the fixed ones. A run with some forgets their raw values in the
// commit that ends it: it makes no more round trips than the run without.
func TestSensitiveCost(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv, _ := tokenAPI(t)
		log := &tripLog{args: map[string][]int{}}
		b.Client.AddHook(log)
		e, set := httpEngine(t, b, fmt.Sprintf(`
workflow "plain" {
  step "http" "login" {
    url    = "%[1]s/token"
    method = "POST"
  }
  step "set" "a" {
    v = "{{ steps.login.status }}"
  }
  step "set" "b" {
    v = "b"
  }
}
workflow "hidden" {
  step "http" "login" {
    url       = "%[1]s/token"
    method    = "POST"
    sensitive = true
  }
  step "set" "a" {
    v = "{{ steps.login.status }}"
  }
  step "set" "b" {
    v = "b"
  }
}
workflow "plain_each" {
  step "http" "login" {
    url    = "%[1]s/token"
    method = "POST"
  }
  step "set" "a" {
    for_each = "[1, 2]"
    v        = "{{ each.value }}"
  }
}
workflow "hidden_each" {
  step "http" "login" {
    url       = "%[1]s/token"
    method    = "POST"
    sensitive = true
  }
  step "set" "a" {
    for_each = "[1, 2]"
    v        = "{{ each.value }}"
  }
}
`, srv.URL))
		ctx := context.Background()
		run := func(name string) ([][]string, map[string][]int) {
			wf := set.Workflow(name)
			for i := range 2 { // the first stores the workflow's version
				log.take()
				id, err := e.Start(ctx, wf, event(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				r, err := e.Await(ctx, wf, id)
				if err != nil || r.Status != string(RunSucceeded) {
					t.Fatalf("run %d of %s: %+v, %v", i, name, r, err)
				}
			}
			return log.take()
		}
		plain, plainArgs := run("plain")
		hidden, hiddenArgs := run("hidden")
		t.Logf("a straight run: %d round trips %v; with a sensitive step: %d %v", len(plain), plain, len(hidden), hidden)
		if len(plain) != len(hidden) {
			t.Errorf("a run with a sensitive step makes %d round trips, one without %d", len(hidden), len(plain))
		}
		if got := plainArgs["finish"]; len(got) != 1 || got[0] != 3+10+11 {
			t.Errorf("the end of a straight run without sensitive steps took %v arguments, want %d", got, 3+10+11)
		}
		if got := hiddenArgs["finish"]; len(got) != 1 || got[0] != 3+10+11+2 {
			t.Errorf("the end of a straight run with one sensitive step took %v arguments, want %d", got, 3+10+11+2)
		}

		plain, plainArgs = run("plain_each")
		hidden, hiddenArgs = run("hidden_each")
		t.Logf("a run with a for_each step: %d round trips %v; with a sensitive step: %d %v", len(plain), plain, len(hidden), hidden)
		if len(plain) != len(hidden) {
			t.Errorf("a run with a sensitive step makes %d round trips, one without %d", len(hidden), len(plain))
		}
		if p, h := plainArgs["complete"], hiddenArgs["complete"]; len(p) != len(h) || len(p) == 0 || h[len(h)-1]-p[len(p)-1] != 5+1+1 {
			t.Errorf("the commits of a for_each run took %v arguments, %v with a sensitive step; want 7 more at its end only", p, h)
		} else {
			for i := range len(p) - 1 {
				if p[i] != h[i] {
					t.Errorf("commit %d of a for_each run took %d arguments, %d with a sensitive step", i, p[i], h[i])
				}
			}
		}
	})
}

// What resumed a sensitive wait step is its output: gone from Redis with it once the
// run succeeds.
func TestSensitiveWait(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		e, set := httpEngine(t, b, `
workflow "approve" {
  step "wait" "approval" {
    timeout   = "1h"
    sensitive = true
  }
  step "set" "after" {
    v = "{{ steps.approval.body.code }}"
  }
  step "log" "check" {
    message = "{{ steps.after.v == steps.approval.body.code && steps.after.v != '[redacted]' }}"
  }
}`)
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("approve"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, id, RunWaiting)
		if _, err := e.Resume(ctx, id, "approval", resumeRequest(t, `{"code":"`+sensitiveToken+`"}`)); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		// The step after copies the value: it is sensitive too, and the next reads the
		// copy as it is.
		if got := fmt.Sprint(r.Steps[1].Output); got != "[sensitive]" {
			t.Errorf("the step after shows %s", got)
		}
		if got := fmt.Sprint(r.Steps[2].Output); got != "map[level:info message:true]" {
			t.Errorf("the step that reads the copy shows %s, want it to have read the value", got)
		}
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the run succeeded:\n%s", left)
		}
	})
}

// A child run that its parent did not wait for keeps the sensitive values of its input
// after the parent succeeded, for its own steps, while its event shows them as
// [sensitive]; it forgets them when it succeeds itself.
func TestSensitiveChildOutlivesParent(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		srv, used := tokenAPI(t)
		e, set := httpEngine(t, b, fmt.Sprintf(`
workflow "parent" {
  step "http" "login" {
    url       = "%[1]s/token"
    method    = "POST"
    sensitive = true
  }
  step "workflow" "later" {
    workflow = "later"
    wait     = false
    input    = { value = "{{ steps.login.body.access_token }}" }
  }
}
workflow "later" {
  step "wait" "approval" {
    timeout = "1h"
  }
  step "http" "use" {
    url  = "%[1]s/use"
    json = { value = "{{ event.body.value }}" }
  }
}`, srv.URL))
		ctx := context.Background()
		id, err := e.Start(ctx, set.Workflow("parent"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunSucceeded {
			t.Fatalf("parent %s: %s", r.Status, r.Error)
		}
		child := waitStatus(t, e, id+":later", RunWaiting)
		if body, _ := child.Event.Body.(map[string]any); body["value"] != "[sensitive]" {
			t.Errorf("the waiting child's event body is shown as %v", child.Event.Body)
		}
		raw, _ := b.Client.HGet(ctx, e.q.shardFor("later").run(id+":later"), "event").Result()
		if !strings.Contains(raw, sensitiveToken) {
			t.Errorf("the waiting child's event is %s, want the raw value kept for its steps", raw)
		}
		if _, err := e.Resume(ctx, id+":later", "approval", resumeRequest(t, `{}`)); err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id+":later")
		if r.Status != RunSucceeded {
			t.Fatalf("child %s: %s", r.Status, r.Error)
		}
		if got := used(); len(got) != 1 || !strings.Contains(got[0], sensitiveToken) {
			t.Errorf("the child's step sent %q, want the raw value", got)
		}
		if req := r.Steps[1].Requests; len(req) != 1 || !strings.Contains(req[0].Body, `"value":"[redacted]"`) {
			t.Errorf("the child's request recorded as %+v, want the value redacted", req)
		}
		if left := rawSensitive(t, b); left != "" {
			t.Errorf("sensitive values still in Redis once the child succeeded:\n%s", left)
		}
	})
}

// The fields of a webhook body named as credentials show [redacted] in the event, and
// their values are hidden wherever a step wrote them again: the request that forwarded
// the body, an answer that echoed it, a step's output, an error and the run's. The API
// got them as they were sent.
func TestEventCredentialsHiddenInSteps(t *testing.T) {
	b := redistest.Mini(t)
	var mu sync.Mutex
	var got []string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/fail/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer echo.Close()
	e, set := httpEngine(t, b, `
workflow "forward" {
  step "http" "crm" {
    url  = "`+echo.URL+`/contacts"
    body = "{{ event.raw }}"
  }
  step "set" "copy" {
    pin  = "{{ event.body.login.password }}"
    keys = "{{ event.body.keys }}"
  }
  step "http" "missing" {
    url = "`+echo.URL+`/fail/{{ event.body.access_token }}"
  }
}`)
	ctx := context.Background()
	id, err := e.Start(ctx, set.Workflow("forward"), event(`{"user": "ada", "login": {"password": "hunter22"},`+
		` "keys": [{"api_key": "k-9f8e7d6c"}], "access_token": "at-1a2b3c4d", "session": 42, "note": "short"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, e, id)
	if r.Status != RunFailed || !strings.Contains(r.Error, "/fail/") {
		t.Fatalf("run %s: %s, want failed at the missing page", r.Status, r.Error)
	}
	mu.Lock()
	sent := strings.Join(got, "\n")
	mu.Unlock()
	for _, v := range []string{"hunter22", "k-9f8e7d6c", "at-1a2b3c4d"} {
		if !strings.Contains(sent, v) {
			t.Errorf("the API did not get %s: %s", v, sent)
		}
	}
	data, _ := json.Marshal(r)
	for _, v := range []string{"hunter22", "k-9f8e7d6c", "at-1a2b3c4d"} {
		if strings.Contains(string(data), v) {
			t.Errorf("%s is in the run as the API shows it:\n%s", v, data)
		}
	}
	if !strings.Contains(string(data), `ada`) || !strings.Contains(string(data), `[redacted]`) {
		t.Errorf("the run shows neither the plain fields nor [redacted]:\n%s", data)
	}
}

// A webhook's path may hold a secret (path = "/in/${secret("NAME")}"): the run's event
// shows it [redacted], and a search for the secret finds no run.
func TestEventPathHidesSecrets(t *testing.T) {
	t.Setenv("HOOK_PATH_TOKEN", "s3cr3t-path-token")
	b := redistest.Mini(t)
	srv, _ := tokenAPI(t)
	e, set := httpEngine(t, b, `
workflow "in" {
  step "http" "s" {
    url     = "`+srv.URL+`/use"
    headers = { X-Token = secret("HOOK_PATH_TOKEN") }
  }
}`)
	ctx := context.Background()
	ev := event(`{"a": 1}`)
	ev.Trigger, ev.Method, ev.Path = "webhook", "POST", "/in/s3cr3t-path-token"
	id, err := e.Start(ctx, set.Workflow("in"), ev)
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, e, id)
	if r.Event == nil || r.Event.Path != "/in/[redacted]" {
		t.Errorf("the event shows %+v, want its path's secret [redacted]", r.Event)
	}
	found, err := e.Runs(ctx, RunFilter{Text: "s3cr3t-path"})
	if err != nil || len(found.Runs) != 0 {
		t.Errorf("a search for the secret found %+v (%v)", found, err)
	}
}

// A filter that cannot be evaluated on an event may quote a credential field of its
// body in its error: the failed run's error, its log line and its hash in Redis show
// the value [redacted], as a step's error does. The event keeps it, as it came.
func TestFilterFailureHidesEventCredentials(t *testing.T) {
	b := redistest.Mini(t)
	var logs testutil.LogBuffer
	k := workflows.NewKinds()
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "in" {
  filter = "int(event.body.password) > 1"
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := New(b.Client, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Kinds: k})
	e.Use(set)
	wf := set.Workflow("in")
	ev := event(`{"user": "ada", "password": "notanumber-bodypass1"}`)
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	_, ferr := wf.Filter.Eval(&workflows.Env{Event: ev.Value()})
	if ferr == nil || !strings.Contains(ferr.Error(), "notanumber-bodypass1") {
		t.Fatalf("the filter's error does not quote the field: %v", ferr)
	}
	ctx := context.Background()
	id, err := e.StartFailed(ctx, wf, ev, "filter: "+ferr.Error())
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Error, "int([redacted])") || strings.Contains(r.Error, "bodypass1") {
		t.Errorf("the run's error is %q, want the field's value [redacted]", r.Error)
	}
	if text := logs.String(); !strings.Contains(text, "int([redacted])") || strings.Contains(text, "bodypass1") {
		t.Errorf("the log shows:\n%s", text)
	}
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if k != "event" && strings.Contains(v, "bodypass1") {
			t.Errorf("the run's %s in Redis holds the value: %s", k, v)
		}
	}
	if !strings.Contains(fields["event"], "notanumber-bodypass1") {
		t.Errorf("the run's event is not kept as it came: %s", fields["event"])
	}
}

// A webhook's query parameters named as credentials (?token=…&api_key=…) show
// [redacted] in the event, and their values are hidden wherever a step writes them
// again, as body fields named so are. The API got them as they were sent.
func TestEventQueryCredentialsHiddenInSteps(t *testing.T) {
	b := redistest.Mini(t)
	var mu sync.Mutex
	var got []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.String())
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer api.Close()
	e, set := httpEngine(t, b, `
workflow "in" {
  step "set" "copy" {
    query = "{{ event.query }}"
  }
  step "http" "missing" {
    url = "`+api.URL+`/fail/{{ event.query.token }}/{{ event.query.page }}"
  }
}`)
	ctx := context.Background()
	ev := event(`{"n": 1}`)
	ev.Trigger, ev.Method, ev.Path = "webhook", "POST", "/in"
	ev.Query = map[string][]string{"token": {"qt-5f6e7d8c"}, "api_key": {"qk-9a8b7c6d"}, "page": {"page-2"}}
	id, err := e.Start(ctx, set.Workflow("in"), ev)
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, e, id)
	if r.Status != RunFailed || !strings.Contains(r.Error, "/fail/[redacted]/page-2") {
		t.Fatalf("run %s: %q, want failed at the missing page, the token [redacted]", r.Status, r.Error)
	}
	mu.Lock()
	sent := strings.Join(got, "\n")
	mu.Unlock()
	if !strings.Contains(sent, "qt-5f6e7d8c") {
		t.Errorf("the API did not get the token: %s", sent)
	}
	data, _ := json.Marshal(r)
	for _, v := range []string{"qt-5f6e7d8c", "qk-9a8b7c6d"} {
		if strings.Contains(string(data), v) {
			t.Errorf("%s is in the run as the API shows it:\n%s", v, data)
		}
	}
	if r.Event == nil || !reflect.DeepEqual(r.Event.Query, map[string][]string{"token": {redacted}, "api_key": {redacted}, "page": {"page-2"}}) {
		t.Errorf("the run's event shows %+v, want its query with the credentials [redacted]", r.Event)
	}
	if out, _ := json.Marshal(r.Steps[0].Output); !strings.Contains(string(out), "page-2") {
		t.Errorf("the copy's output lost the plain parameter: %s", out)
	}
}

// A sensitive step's output is recorded with the workflow's secrets hidden: a run that
// fails keeps its records, and no key of Redis holds the secret.
func TestSensitiveOutputHidesSecrets(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		const secret = "sensitive-secret-4b9e"
		t.Setenv("SENSITIVE_TEST_SECRET", secret)
		srv, _ := tokenAPI(t)
		e, set := httpEngine(t, b, fmt.Sprintf(`
workflow "w" {
  step "set" "auth" {
    header    = "Bearer ${secret("SENSITIVE_TEST_SECRET")}"
    sensitive = true
  }
  step "http" "fail" {
    url     = "%s/fail"
    headers = { Authorization = "{{ steps.auth.header }}" }
  }
}`, srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r := waitRun(t, e, id); r.Status != RunFailed {
			t.Fatalf("run %s, want failed", r.Status)
		}
		for k, v := range redisContents(t, b) {
			if strings.Contains(v, secret) {
				t.Errorf("%s holds the secret: %s", k, v)
			}
		}
	})
}

// With Options.KeepSensitive, as hookflow test runs, a run that succeeds keeps its
// sensitive outputs, and the copies of them, as a failed run does: StepValues reads
// them as the later steps did, while the run still shows them as [sensitive].
// Without it, the run forgets them.
func TestKeepSensitive(t *testing.T) {
	const src = `
workflow "keep" {
  step "set" "login" {
    sensitive = true
    token     = "` + sensitiveToken + `"
  }
  step "set" "copy" {
    tok = "{{ steps.login.token }}"
  }
}`
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		for _, keep := range []bool{true, false} {
			t.Run(fmt.Sprintf("KeepSensitive %v", keep), func(t *testing.T) {
				k := workflows.NewKinds()
				actions.Register(k, actions.Options{Logger: quiet})
				set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				e := New(b.Client, Options{Shards: b.Shards, Logger: quiet, Kinds: k, KeepSensitive: keep})
				e.Use(set)
				startPool(t, e, 2)
				ctx := context.Background()
				id, err := e.Start(ctx, set.Workflow("keep"), event(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				r := waitRun(t, e, id)
				if r.Status != RunSucceeded {
					t.Fatalf("run %s: %s", r.Status, r.Error)
				}
				for _, s := range r.Steps {
					if s.Output != workflows.SensitiveShown {
						t.Errorf("step %s shows %v", s.Name, s.Output)
					}
				}
				values, err := e.StepValues(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"login": sensitiveToken, "copy": sensitiveToken}
				if !keep {
					want = map[string]any{"login": nil, "copy": nil}
				}
				got := map[string]any{"login": values["login"].(map[string]any)["token"], "copy": values["copy"].(map[string]any)["tok"]}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("StepValues: %v, want %v", got, want)
				}
			})
		}
	})
}

// A secret read into a var is its text, "{{" and all: the request gets it as it is,
// and the recorded request, like every key of Redis, hides it.
func TestSecretWithBracesIsHiddenInTheRecordedRequest(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		const secret = "s{{ 2+2 }}ecret-7c1d"
		t.Setenv("SENSITIVE_TEST_BRACES", secret)
		var mu sync.Mutex
		var got []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, r.Header.Get("X-Key")+" "+string(body))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
		}))
		t.Cleanup(srv.Close)
		e, set := httpEngine(t, b, fmt.Sprintf(`
vars {
  key = secret("SENSITIVE_TEST_BRACES")
}
workflow "w" {
  step "http" "send" {
    url     = "%s/send"
    headers = { X-Key = "{{ vars.key }}" }
    json    = { key = "{{ vars.key }}" }
  }
}`, srv.URL))
		id, err := e.Start(context.Background(), set.Workflow("w"), event(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		r := waitRun(t, e, id)
		if r.Status != RunSucceeded {
			t.Fatalf("run %s: %s", r.Status, r.Error)
		}
		mu.Lock()
		sent := strings.Join(got, "\n")
		mu.Unlock()
		if want := secret + ` {"key":"s{{ 2+2 }}ecret-7c1d"}`; sent != want {
			t.Errorf("the API got %q, want %q", sent, want)
		}
		if len(r.Steps) != 1 || len(r.Steps[0].Requests) != 1 {
			t.Fatalf("steps %+v, want one request recorded", r.Steps)
		}
		data, _ := json.Marshal(r)
		if strings.Contains(string(data), "ecret-7c1d") || !strings.Contains(string(data), "[redacted]") {
			t.Errorf("the run shows the secret:\n%s", data)
		}
		for k, v := range redisContents(t, b) {
			if strings.Contains(v, "ecret-7c1d") {
				t.Errorf("%s holds the secret: %s", k, v)
			}
		}
	})
}
