package triggers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
)

// A page after the first whose connection times out (a host that stops answering,
// where the http client's dialer gives up) is the API's failure, not the end of the
// poll's time for its pages, though a network timeout matches
// context.DeadlineExceeded: the poll fails, saying why, and backs off.
func TestPollPageWhoseDialTimesOutFailsThePoll(t *testing.T) {
	api := newSlowList(t, 5, 0)
	var dials atomic.Int32
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 2 { // the error a dialer's timeout gives: "i/o timeout"
			return (&net.Dialer{Deadline: time.Now().Add(-time.Second)}).DialContext(ctx, network, addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	c := newCutPoller(t, redistest.Mini(t), &http.Client{Transport: tr}, fmt.Sprintf(slowListSrc, api.srv.URL,
		"\n    backfill  = true\n    cursor    = \"response.body.newest\"", 100))
	got := c.tick()
	if c.st.failures != 1 || len(got) != 0 {
		t.Errorf("a dial timeout on page 2: started %v with %d failures, want none and 1:\n%s", got, c.st.failures, c.logged.String())
	}
}
