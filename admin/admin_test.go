package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The run history, dead letters and replays, through the API as an operator uses them.
func TestRunsDeadLettersAndReplay(t *testing.T) {
	var status atomic.Int32
	status.Store(500)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer crm.Close()

	e, set, srv := serveAPI(t, `
workflow "sync_crm" {
  step "http" "update" {
    url = "`+crm.URL+`"
  }
}
`)

	id, err := e.Start(context.Background(), set.Workflow("sync_crm"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv.URL, id, "failed")

	// An id copied in upper case names the run, as a ULID often is written.
	var upper engine.Run
	get(t, srv.URL+"/api/v1/runs/"+strings.ToUpper(id), http.StatusOK, &upper)
	if upper.ID != id {
		t.Errorf("the run by its id in upper case: %q, want %q", upper.ID, id)
	}

	var page engine.RunPage
	get(t, srv.URL+"/api/v1/runs?workflow=sync_crm&status=failed", http.StatusOK, &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != id || page.Runs[0].DeadLetter != id+":update" {
		t.Fatalf("failed runs %+v", page)
	}
	get(t, srv.URL+"/api/v1/runs?status=succeeded", http.StatusOK, &page)
	if len(page.Runs) != 0 {
		t.Errorf("succeeded runs %+v", page.Runs)
	}
	var dlq struct {
		DeadLetters []engine.DeadLetter `json:"dead_letters"`
	}
	get(t, srv.URL+"/api/v1/dlq", http.StatusOK, &dlq)
	if len(dlq.DeadLetters) != 1 || dlq.DeadLetters[0].Run != id || !strings.Contains(dlq.DeadLetters[0].Error, "500") {
		t.Fatalf("dead letters %+v", dlq)
	}

	status.Store(200)
	var fail map[string]string
	post(t, srv.URL+"/api/v1/dlq/"+dlq.DeadLetters[0].ID+"/retry?version=latest", http.StatusBadRequest, &fail)
	if !strings.Contains(fail["error"], "use pinned") {
		t.Errorf("a replay with an unknown version: %v", fail)
	}
	var answer engine.Replayed
	post(t, srv.URL+"/api/v1/dlq/"+dlq.DeadLetters[0].ID+"/retry?version=pinned", http.StatusAccepted, &answer)
	if answer.RunID != id || answer.Status != engine.RunQueued || answer.Version != set.Workflow("sync_crm").Version ||
		len(answer.From) != 1 || answer.From[0] != "update" {
		t.Errorf("retry answered %+v", answer)
	}
	waitStatus(t, srv.URL, id, "succeeded")

	post(t, srv.URL+"/api/v1/runs/"+id+"/replay", http.StatusConflict, &fail)
	if !strings.Contains(fail["error"], "it succeeded") {
		t.Errorf("replaying a succeeded run: %v", fail)
	}
	post(t, srv.URL+"/api/v1/runs/nosuchrun/replay", http.StatusNotFound, &fail)
	// The run is there; its dead letter is not, and the answer says so.
	post(t, srv.URL+"/api/v1/dlq/"+dlq.DeadLetters[0].ID+"/retry", http.StatusNotFound, &fail)
	if want := "no dead letter " + dlq.DeadLetters[0].ID + ": it was retried"; !strings.HasPrefix(fail["error"], want) {
		t.Errorf("retrying a dead letter retried already: %q, want %q…", fail["error"], want)
	}
	get(t, srv.URL+"/api/v1/runs?status=done", http.StatusBadRequest, &fail)
	if !strings.Contains(fail["error"], "queued, running, waiting, succeeded, failed") {
		t.Errorf("bad status: %v", fail)
	}
	get(t, srv.URL+"/api/v1/runs?limit=lots", http.StatusBadRequest, &fail)
	get(t, srv.URL+"/api/v1/runs?cursor=x", http.StatusBadRequest, &fail)
}

// The dead letter of a for_each step or a parallel block is its join's, RUN:STEP:join:
// a retry of RUN:STEP retries it, and one of a step that has none names those the run
// has.
func TestRetryDeadLetterOfAJoin(t *testing.T) {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer crm.Close()
	e, set, srv := serveAPI(t, `
workflow "lines" {
  step "http" "reserve" {
    for_each = "[1]"
    url      = "`+crm.URL+`"
  }
}

workflow "notify" {
  parallel "notify" {
    step "log" "slack" {
      message = "hi"
    }
    step "http" "crm" {
      url = "`+crm.URL+`"
    }
  }
}
`)
	var ids []string
	for _, wf := range []string{"lines", "notify"} {
		id, err := e.Start(context.Background(), set.Workflow(wf), &workflows.Event{ID: "e-" + wf, Trigger: "manual", ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, srv.URL, id, "failed")
		ids = append(ids, id)
	}
	// The join runs once: what counts is the attempts of the item or step that failed.
	var dlq struct {
		DeadLetters []engine.DeadLetter `json:"dead_letters"`
	}
	get(t, srv.URL+"/api/v1/dlq", http.StatusOK, &dlq)
	got := map[string]string{}
	for _, d := range dlq.DeadLetters {
		got[d.ID] = fmt.Sprintf("%d %s", d.Attempts, d.Failed)
	}
	if got[ids[0]+":reserve:join"] != "1 reserve[0]" || got[ids[1]+":notify:join"] != "1 notify/crm" {
		t.Errorf("dead letters %v", got)
	}
	pages := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer pages.Close()
	if page := fetchPage(t, pages.URL+"/dlq"); !strings.Contains(page, `1 <span class="note">(reserve[0])</span>`) {
		t.Errorf("the dead letters page does not name reserve[0] beside its attempts:\n%s", page)
	}

	var answer engine.Replayed
	post(t, srv.URL+"/api/v1/dlq/"+ids[0]+":reserve/retry", http.StatusAccepted, &answer)
	if answer.RunID != ids[0] || len(answer.From) != 1 || answer.From[0] != "reserve[0]" {
		t.Errorf("retry of %s:reserve answered %+v", ids[0], answer)
	}
	var fail map[string]string
	post(t, srv.URL+"/api/v1/dlq/"+ids[1]+":crm/retry", http.StatusNotFound, &fail)
	if want := "no dead letter " + ids[1] + ":crm; run " + ids[1] + " has dead letter " + ids[1] + ":notify:join (step notify)"; fail["error"] != want {
		t.Errorf("retry of %s:crm answered %q, want %q", ids[1], fail["error"], want)
	}
}

// serveAPI serves the admin API of an engine on miniredis running the workflows in src,
// whose http steps may call loopback.
func serveAPI(t *testing.T, src string) (*engine.Engine, *workflows.Set, *httptest.Server) {
	t.Helper()
	return serveAPIOn(t, redistest.Mini(t), src)
}

// serveAPIOn is serveAPI on the Redis of b.
func serveAPIOn(t *testing.T, b *redistest.Backend, src string) (*engine.Engine, *workflows.Set, *httptest.Server) {
	t.Helper()
	k := apiKinds()
	set := loadAPISet(t, k, src)
	e := engine.New(b.Client, engine.Options{Logger: quiet, Kinds: k})
	e.Use(set)
	pool := e.NewPool(2)
	pool.Start()
	t.Cleanup(func() { pool.Stop(context.Background()) })
	srv := httptest.NewServer(Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet))
	t.Cleanup(srv.Close)
	return e, set, srv
}

// apiKinds are the kinds serveAPI loads workflows with: http steps may call loopback.
func apiKinds() *workflows.Kinds {
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet,
		Client: actions.NewClient(actions.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}))})
	triggers.Register(k)
	return k
}

// loadAPISet loads src with k, as an edit leaves the files.
func loadAPISet(t *testing.T, k *workflows.Kinds, src string) *workflows.Set {
	t.Helper()
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(src)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set
}

func waitStatus(t *testing.T, base, id, want string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "run "+id+" "+want, func() bool {
		var run engine.Run
		get(t, base+"/api/v1/runs/"+id, http.StatusOK, &run)
		return string(run.Status) == want
	})
}

func get(t *testing.T, url string, status int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, status, v)
}

func post(t *testing.T, url string, status int, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, status, v)
}

func decode(t *testing.T, resp *http.Response, status int, v any) {
	t.Helper()
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, data, status)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}

func TestManualStart(t *testing.T) {
	_, _, srv := serveAPI(t, `
workflow "backfill" {
  filter = "event.body.never == true"
  step "set" "echo" {
    customer = "{{ event.body.customer }}"
    trigger  = "{{ event.trigger }}"
  }
}
`)

	resp, err := http.Post(srv.URL+"/api/v1/workflows/backfill/runs", "application/json", strings.NewReader(`{"customer": "cus_1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var started map[string]string
	decode(t, resp, http.StatusAccepted, &started)
	if started["status_url"] != "/api/v1/runs/"+started["run_id"] {
		t.Errorf("answer %v", started)
	}
	waitStatus(t, srv.URL, started["run_id"], "succeeded")
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+started["run_id"], http.StatusOK, &run)
	if out := run.Steps[0].Output.(map[string]any); out["customer"] != "cus_1" || out["trigger"] != "manual" {
		t.Errorf("output %v: the event did not reach the run", out)
	}

	var fail map[string]string
	resp, _ = http.Post(srv.URL+"/api/v1/workflows/nope/runs", "application/json", strings.NewReader(`{}`))
	decode(t, resp, http.StatusNotFound, &fail)
	resp, _ = http.Post(srv.URL+"/api/v1/workflows/backfill/runs", "application/json", strings.NewReader(`{"broken`))
	decode(t, resp, http.StatusBadRequest, &fail)
}

// A manual start of a workflow whose triggers are only schedules, given no event (no
// body, {} or null), gets the event of its latest tick, as hookflow run makes it, with
// event.trigger "manual"; one given an event gets it, as any manual start does.
func TestManualStartOfASchedule(t *testing.T) {
	_, _, srv := serveAPI(t, `
workflow "nightly" {
  trigger "schedule" {
    cron     = "30 2 * * *"
    timezone = "Europe/Paris"
  }
  step "set" "echo" {
    day      = "{{ date(event.body.scheduled_at).Format('2006-01-02') }}"
    at       = "{{ event.body.scheduled_at }}"
    schedule = "{{ event.body.schedule }}"
    catch_up = "{{ event.body.catch_up }}"
    trigger  = "{{ event.trigger }}"
  }
}
`)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"", "{}", "null", `{"scheduled_at": "2026-01-01T02:30:00+01:00"}`} {
		before := time.Now()
		resp, err := http.Post(srv.URL+"/api/v1/workflows/nightly/runs", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var started map[string]string
		decode(t, resp, http.StatusAccepted, &started)
		waitStatus(t, srv.URL, started["run_id"], "succeeded")
		var run engine.Run
		get(t, srv.URL+"/api/v1/runs/"+started["run_id"], http.StatusOK, &run)
		out := run.Steps[0].Output.(map[string]any)
		if out["trigger"] != "manual" {
			t.Errorf("body %q: trigger %v, want manual", body, out["trigger"])
		}
		if body != "" && body[0] == '{' && body != "{}" {
			if out["at"] != "2026-01-01T02:30:00+01:00" || out["schedule"] != nil {
				t.Errorf("body %q: the event given is not the run's: %v", body, out)
			}
			continue
		}
		at, err := time.Parse(time.RFC3339, fmt.Sprint(out["at"]))
		if err != nil {
			t.Fatalf("body %q: scheduled_at %v: %v", body, out["at"], err)
		}
		// The latest 02:30 in Paris at or before the start, written in Paris's offset.
		if local := at.In(paris); local.Hour() != 2 || local.Minute() != 30 || at.After(time.Now()) || before.Sub(at) > 25*time.Hour ||
			fmt.Sprint(out["at"]) != local.Format(time.RFC3339) {
			t.Errorf("body %q: scheduled_at %v, want the latest 02:30 in Paris", body, out["at"])
		}
		if out["schedule"] != "cron 30 2 * * * Europe/Paris" || out["catch_up"] != false || out["day"] == "" {
			t.Errorf("body %q: output %v", body, out)
		}
	}
}

// A run that has not finished is cancelled through the API; one that has finished is
// not (409), and an unknown one is 404.
func TestCancelRun(t *testing.T) {
	e, set, srv := serveAPI(t, `
workflow "later" {
  step "delay" "wait" {
    duration = "1h"
  }
  step "log" "after" {
    message = "waited"
  }
}
`)
	id, err := e.Start(context.Background(), set.Workflow("later"), &workflows.Event{ID: "e1", Trigger: "manual", ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var out engine.Cancelled
	post(t, srv.URL+"/api/v1/runs/"+id+"/cancel", http.StatusOK, &out)
	if out.RunID != id || out.Status != engine.RunCancelled || (out.Was != engine.RunQueued && out.Was != engine.RunRunning) {
		t.Errorf("cancel answered %+v", out)
	}
	waitStatus(t, srv.URL, id, "cancelled")
	var fail map[string]string
	post(t, srv.URL+"/api/v1/runs/"+id+"/cancel", http.StatusConflict, &fail)
	if !strings.Contains(fail["error"], "finished") {
		t.Errorf("cancelling a cancelled run: %v", fail)
	}
	post(t, srv.URL+"/api/v1/runs/nosuchrun/cancel", http.StatusNotFound, &fail)
	var page engine.RunPage
	get(t, srv.URL+"/api/v1/runs?status=cancelled", http.StatusOK, &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != id {
		t.Errorf("cancelled runs %+v", page.Runs)
	}
}

// A method a route does not take is 405 with Allow, in the API (JSON) and the pages
// (HTML) alike; a path no route has is 404, whatever the method.
func TestWrongMethods(t *testing.T) {
	e, set, api := serveAPI(t, `
workflow "w" {
  step "log" "x" {
    message = "hi"
  }
}
`)
	pages := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{}, quiet))
	defer pages.Close()
	for _, c := range []struct {
		srv          *httptest.Server
		method, path string
		status       int
		allow, ctype string
	}{
		{api, "POST", "/api/v1/runs", 405, "GET, HEAD", "application/json"},
		{api, "DELETE", "/api/v1/runs/r1", 405, "GET, HEAD", "application/json"},
		{api, "GET", "/api/v1/runs/r1/replay", 405, "POST", "application/json"},
		{api, "PUT", "/api/v1/dlq/r1:x/retry", 405, "POST", "application/json"},
		{api, "PATCH", "/api/v1/workflows/w", 405, "GET, HEAD", "application/json"},
		{api, "POST", "/healthz", 405, "GET, HEAD", "application/json"},
		{api, "GET", "/api/v1/nosuch", 404, "", "application/json"},
		{api, "POST", "/api/v1/nosuch", 404, "", "application/json"},
		{api, "GET", "/api/v1/status", 404, "", "application/json"}, // no Config given
		{api, "HEAD", "/api/v1/runs", 200, "", "application/json"},
		{pages, "POST", "/", 405, "GET, HEAD", "text/html"},
		{pages, "POST", "/dlq", 405, "GET, HEAD", "text/html"},
		{pages, "DELETE", "/runs/r1", 405, "GET, HEAD", "text/html"},
		{pages, "PUT", "/assets/inspector.js", 405, "GET, HEAD", "text/html"},
		{pages, "POST", "/nosuch", 404, "", "text/html"},
		{pages, "POST", "/assets/", 404, "", "text/html"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, c.srv.URL+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status || resp.Header.Get("Allow") != c.allow ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
				t.Errorf("%d Allow %q %s, want %d Allow %q %s", resp.StatusCode, resp.Header.Get("Allow"),
					resp.Header.Get("Content-Type"), c.status, c.allow, c.ctype)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// fetchPage reads a page that must answer 200.
func fetchPage(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	return string(body)
}

// backfill is a set of one workflow, backfill, to start by hand, and its kinds.
func backfill(t *testing.T) (*workflows.Set, *workflows.Kinds) {
	t.Helper()
	k := workflows.NewKinds()
	actions.Register(k, actions.Options{Logger: quiet})
	set, diags := workflows.Load([]workflows.Source{{Name: "t.hcl", Data: []byte(`
workflow "backfill" {
  step "log" "note" {
    message = "ran"
  }
}`)}}, k)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return set, k
}

// A manual run the primary stored but no replica acknowledged is a 503 that names the
// run, so that it is looked at rather than started twice.
func TestManualStartNotReplicated(t *testing.T) {
	set, k := backfill(t)
	b := redistest.Real(t) // no replica
	e := engine.New(b.Client, engine.Options{Logger: quiet, Kinds: k, WaitReplicas: 1, WaitTimeout: 50 * time.Millisecond})
	e.Use(set)
	srv := httptest.NewServer(Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/api/v1/workflows/backfill/runs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	decode(t, resp, http.StatusServiceUnavailable, &answer)
	if answer["run_id"] == "" || answer["status_url"] != "/api/v1/runs/"+answer["run_id"] ||
		!strings.Contains(answer["error"], "is stored on the Redis primary") || resp.Header.Get("Retry-After") != "" {
		t.Errorf("answer %v, Retry-After %q", answer, resp.Header.Get("Retry-After"))
	}
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+answer["run_id"], http.StatusOK, &run)
	if run.Status != engine.RunQueued {
		t.Errorf("the stored run is %s", run.Status)
	}
}

// A manual run sent to a Redis that did not answer is a 503 that names the run
// it would be, so that it is looked at rather than started twice.
func TestManualStartOutcomeUnknown(t *testing.T) {
	set, k := backfill(t)
	e := engine.New(redistest.Mini(t).Client, engine.Options{Logger: quiet, Kinds: k})
	srv := httptest.NewServer(Handler(unanswered{e}, func() *workflows.Set { return set }, nil, "",
		func(id string) string { return "/api/v1/runs/" + id }, quiet))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/api/v1/workflows/backfill/runs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	decode(t, resp, http.StatusServiceUnavailable, &answer)
	if answer["run_id"] != "01unanswered" || answer["status_url"] != "/api/v1/runs/01unanswered" ||
		!strings.Contains(answer["error"], "Redis did not answer, so run 01unanswered may be stored") ||
		resp.Header.Get("Retry-After") != "" {
		t.Errorf("answer %v, Retry-After %q", answer, resp.Header.Get("Retry-After"))
	}
}

// unanswered is the engine with a Redis that does not answer starts in time.
type unanswered struct{ *engine.Engine }

func (unanswered) Start(context.Context, *workflows.Workflow, *workflows.Event) (string, error) {
	return "01unanswered", fmt.Errorf("queueing run of backfill: %w", engine.ErrOutcomeUnknown)
}

// A page's limit past 500 is refused, as one under 1 is, with the bounds: never cut
// to 500 unsaid. Every answer, errors too, carries Header.
func TestListLimits(t *testing.T) {
	_, _, api := serveAPI(t, `
workflow "w" {
  step "log" "x" {
    message = "hi"
  }
}
`)
	for _, c := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/v1/runs?limit=500", 200, `"runs"`},
		{"/api/v1/runs?limit=501", 400, `limit \"501\": give a whole number from 1 to 500 (none: 50)`},
		{"/api/v1/runs?limit=0", 400, "from 1 to 500"},
		{"/api/v1/dlq?limit=1000", 400, "from 1 to 500"},
		{"/api/v1/dlq?limit=x", 400, "from 1 to 500"},
		{"/api/v1/dlq?limit=1", 200, `"dead_letters"`},
		{"/api/v1/nosuch", 404, "no such endpoint"},
	} {
		resp, err := http.Get(api.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.says) || resp.Header.Get(Header) != "v1" {
			t.Errorf("GET %s: %d %s (%s: %q), want %d with %s", c.path, resp.StatusCode, body, Header, resp.Header.Get(Header), c.status, c.says)
		}
	}
}

// A body past 1 MiB is refused with 413, for a manual start and an admin resume alike,
// and starts or resumes nothing; so is a resume whose query does not parse, with 400;
// an unknown workflow is 404.
func TestBodiesPastTheLimit(t *testing.T) {
	e, _, srv := serveAPI(t, `
workflow "approve" {
  step "wait" "approval" {
    timeout = "1h"
  }
}
`)
	ctx := context.Background()
	big := `{"big": "` + strings.Repeat("x", 1<<20) + `"}`
	var fail map[string]string
	resp, err := http.Post(srv.URL+"/api/v1/workflows/approve/runs", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusRequestEntityTooLarge, &fail)
	if page, err := e.Runs(ctx, engine.RunFilter{}); err != nil || len(page.Runs) != 0 {
		t.Errorf("a start past the limit started %v (%v)", page, err)
	}

	resp, err = http.Post(srv.URL+"/api/v1/workflows/approve/runs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var started map[string]string
	decode(t, resp, http.StatusAccepted, &started)
	id := started["run_id"]
	waitStatus(t, srv.URL, id, "waiting")
	resp, err = http.Post(srv.URL+"/api/v1/runs/"+id+"/resume/approval", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusRequestEntityTooLarge, &fail)
	if !strings.Contains(fail["error"], "at most 1048576 bytes") {
		t.Errorf("a resume past the limit: %v", fail)
	}
	var run engine.Run
	get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
	if run.Status != engine.RunWaiting {
		t.Errorf("after a resume past the limit the run is %s", run.Status)
	}
	// A query the resume URL would refuse is refused here too, with why, rather than
	// taken without the parameters that did not parse.
	for _, q := range []string{"ok=%zz&who=ada", "who=%ff"} {
		resp, err = http.Post(srv.URL+"/api/v1/runs/"+id+"/resume/approval?"+q, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		decode(t, resp, http.StatusBadRequest, &fail)
		if !strings.Contains(fail["error"], "malformed query string") {
			t.Errorf("a resume with the query %s: %v", q, fail)
		}
	}
	get(t, srv.URL+"/api/v1/runs/"+id, http.StatusOK, &run)
	if run.Status != engine.RunWaiting {
		t.Errorf("after a resume with a malformed query the run is %s", run.Status)
	}
	// Right at the limit, the resume is taken.
	atLimit := `{"big": "` + strings.Repeat("x", 1<<20-len(`{"big": ""}`)) + `"}`
	resp, err = http.Post(srv.URL+"/api/v1/runs/"+id+"/resume/approval", "application/json", strings.NewReader(atLimit))
	if err != nil {
		t.Fatal(err)
	}
	var resumed engine.Resumed
	decode(t, resp, http.StatusOK, &resumed)
	waitStatus(t, srv.URL, id, "succeeded")

	get(t, srv.URL+"/api/v1/workflows/nope", http.StatusNotFound, &fail)
	var wf map[string]any
	get(t, srv.URL+"/api/v1/workflows/approve", http.StatusOK, &wf)
	if wf["name"] != "approve" {
		t.Errorf("GET /api/v1/workflows/approve: %v", wf)
	}
}

// A manual start that Redis cannot take is 503 with Retry-After, saying why; it names
// no run, as none was stored.
func TestManualStartWhileRedisIsDown(t *testing.T) {
	set, k := backfill(t)
	b := redistest.Real(t)
	// A client that tries each command once: a refused connection fails at once.
	opts, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	e := engine.New(rdb, engine.Options{Logger: quiet, Kinds: k})
	e.Use(set)
	srv := httptest.NewServer(Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet))
	t.Cleanup(srv.Close)
	b.Stop()
	resp, err := http.Post(srv.URL+"/api/v1/workflows/backfill/runs", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	decode(t, resp, http.StatusServiceUnavailable, &answer)
	if !strings.HasPrefix(answer["error"], "cannot queue the run right now: Redis is unreachable: ") || answer["run_id"] != "" ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("answer %v, Retry-After %q", answer, resp.Header.Get("Retry-After"))
	}
}

// A listing by status reads at most 5,000 runs, and one by event text 1,000: past
// that, the page comes back short, with a next to go on from, and the next page finds
// the older runs that match.
func TestRunListingReadsBoundedRuns(t *testing.T) {
	set, k := backfill(t)
	rdb := redistest.Mini(t).Client
	e := engine.New(rdb, engine.Options{Logger: quiet, Kinds: k})
	e.Use(set) // no workers: the runs started stay queued
	srv := httptest.NewServer(Handler(e, func() *workflows.Set { return set }, nil, "", func(id string) string { return "/api/v1/runs/" + id }, quiet))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	wf := set.Workflow("backfill")
	start := func(body string) string {
		id, err := e.Start(ctx, wf, &workflows.Event{ID: "e-" + body, Trigger: "manual", ReceivedAt: time.Now(),
			ContentType: "application/json", Raw: body})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// startNewer starts n runs, all newer than those before.
	startNewer := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		jobs := make(chan int)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					_, err := e.Start(ctx, wf, &workflows.Event{ID: fmt.Sprintf("e%d", i), Trigger: "manual",
						ReceivedAt: time.Now(), ContentType: "application/json", Raw: `{"n": 1}`})
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	oldest := start(`{"note": "needle"}`)
	if _, err := e.Cancel(ctx, oldest); err != nil {
		t.Fatal(err)
	}
	// Runs of one millisecond are listed by id, which is random within it: the others
	// start once Redis's clock has left the oldest's.
	run, err := e.Run(ctx, oldest)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "Redis's clock past the oldest run's millisecond", func() bool {
		now, err := rdb.Time(ctx).Result()
		return err == nil && now.UnixMilli() > run.CreatedAt.UnixMilli()
	})
	list := func(query string) engine.RunPage {
		t.Helper()
		var page engine.RunPage
		get(t, srv.URL+"/api/v1/runs?"+query, http.StatusOK, &page)
		return page
	}
	// found reports whether the first page of query has the oldest run, and fails
	// when it has not and gives no next page that has it.
	found := func(query string) bool {
		t.Helper()
		page := list(query)
		if len(page.Runs) == 1 && page.Runs[0].ID == oldest {
			return true
		}
		if len(page.Runs) != 0 || page.Next == "" {
			t.Fatalf("%s: %d runs, next %q; want none and a next", query, len(page.Runs), page.Next)
		}
		if more := list(query + "&cursor=" + url.QueryEscape(page.Next)); len(more.Runs) != 1 || more.Runs[0].ID != oldest {
			t.Fatalf("%s, the next page: %+v", query, more)
		}
		return false
	}

	startNewer(999)
	if !found("text=NEEDLE") || !found("status=cancelled") {
		t.Error("with 999 newer runs, a text filter does not read 1,000")
	}
	startNewer(1)
	if found("text=needle") {
		t.Error("with 1,000 newer runs, a text filter reads more than 1,000")
	}
	startNewer(3999)
	if !found("status=cancelled") {
		t.Error("with 4,999 newer runs, a status filter does not read 5,000")
	}
	startNewer(1)
	if found("status=cancelled") {
		t.Error("with 5,000 newer runs, a status filter reads more than 5,000")
	}
}
