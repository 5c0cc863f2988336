package actions

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A call's RequestTimeout (a poll's) bounds each request it sends: a call whose token
// is refused is sent again with another, a request with a timeout of its own, from
// when it is sent. One that takes longer fails, saying it timed out.
func TestRequestTimeoutBoundsEachRequest(t *testing.T) {
	for _, c := range []struct {
		name  string
		again time.Duration // how long the call sent again takes
		want  string        // "": it succeeds
	}{
		{"each within it", 150 * time.Millisecond, ""},
		{"the call sent again past it", 5 * time.Second, "/api/customers: timed out after 250ms, with no answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newAuthServer(t)
			var calls atomic.Int32
			s.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wait := 150 * time.Millisecond
				if calls.Add(1) > 1 {
					wait = c.again
				}
				select {
				case <-time.After(wait):
				case <-r.Context().Done():
					return
				}
				if calls.Load() == 1 {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id": 1}`)
			})
			p := newProcess(t, s, "client_credentials", nil, &clock{})
			call := &workflows.Call{Env: &workflows.Env{}, RunID: "r", Workflow: "w", Step: "poll", Attempt: 1,
				Secrets: p.wf.Secrets, RequestTimeout: 250 * time.Millisecond}
			start := time.Now()
			_, err := p.wf.Steps[0].Action.Do(t.Context(), call)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the call took %s", took)
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("two requests of 150ms each, with a timeout of 250ms each: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("%d calls, want the call and its sending again", n)
			}
		})
	}
}
