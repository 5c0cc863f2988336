package triggers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/internal/redistest"
)

// graphAPI is a list queried by POST with a JSON body, as GraphQL, Notion's database
// query and Jira's search are: {"variables": {"after": <cursor>, "first": N}} answers
// {"data": {"orders": {"nodes": [...], "endCursor": "<the last one's number>"}}}, the
// orders after the cursor (all of them with a null one), endCursor null when there
// are none.
type graphAPI struct {
	mu    sync.Mutex
	n     int
	after []string // the after of each request, as JSON
	bad   []string // what was wrong with a request
	srv   *httptest.Server
}

func newGraphAPI(t *testing.T, n int) *graphAPI {
	a := &graphAPI{n: n}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *graphAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var req struct {
		Query     string `json:"query"`
		Variables struct {
			After json.RawMessage `json:"after"`
			First int             `json:"first"`
		} `json:"variables"`
	}
	err := json.NewDecoder(r.Body).Decode(&req)
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || err != nil || req.Query == "" {
		a.bad = append(a.bad, fmt.Sprintf("%s %s %v %+v", r.Method, r.Header.Get("Content-Type"), err, req))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a.after = append(a.after, string(req.Variables.After))
	var cursor string
	_ = json.Unmarshal(req.Variables.After, &cursor)
	from, _ := strconv.Atoi(cursor)
	to := min(from+req.Variables.First, a.n)
	nodes := []map[string]any{}
	for i := from + 1; i <= to; i++ {
		nodes = append(nodes, map[string]any{"id": fmt.Sprintf("o%d", i)})
	}
	var end any
	if len(nodes) > 0 {
		end = strconv.Itoa(to)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"orders": map[string]any{"nodes": nodes, "endCursor": end}}})
}

func (a *graphAPI) asked() (after, bad []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	after, bad, a.after, a.bad = a.after, a.bad, nil, nil
	return after, bad
}

// A poll sends json as an http step does, POST unless method says, rendered for each
// request with poll.cursor: its first poll reads on with the cursor of each answer to
// the end of the list, and the polls after it ask from the cursor kept.
func TestPollJSONBody(t *testing.T) {
	b := redistest.Mini(t)
	api := newGraphAPI(t, 5)
	c := newCutPoller(t, b, api.srv.Client(), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every  = "1m"
    url    = "%s/graphql"
    json   = {
      query     = "query($after: String, $first: Int) { orders(after: $after, first: $first) { nodes { id } endCursor } }"
      variables = { after = "{{ poll.cursor }}", first = 2 }
    }
    items  = "response.body.data.orders.nodes"
    key    = "item.id"
    cursor = "response.body.data.orders.endCursor"
  }
}
`, api.srv.URL))
	if got := c.tick(); len(got) != 0 {
		t.Fatalf("the first poll started %v, want nothing (backfill = false)", got)
	}
	after, bad := api.asked()
	if len(bad) > 0 {
		t.Fatalf("requests not a JSON POST: %v", bad)
	}
	if got := fmt.Sprint(after); got != `[null "2" "4" "5"]` {
		t.Errorf("the first poll asked after %s, want [null \"2\" \"4\" \"5\"]", got)
	}
	api.mu.Lock()
	api.n++
	api.mu.Unlock()
	if got := fmt.Sprint(c.tick()); got != "[o6]" {
		t.Errorf("a new order started %s, want [o6]", got)
	}
	c.tick()
	if after, _ := api.asked(); fmt.Sprint(after) != `["5" "6"]` {
		t.Errorf("the polls after the first asked after %s, want [\"5\" \"6\"]", after)
	}
}
