package triggers

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// pressedBodyWait is how long a body still arriving may take once more than half of the
// body budget is taken: 200 KiB a second for a body of the default max_body, which
// every webhook sender sends faster. Until then, a body has the 30 s the listener gives
// a whole request.
const pressedBodyWait = 5 * time.Second

// uploads are the bodies being read that hold some of the body budget. Once more than
// half of the budget is taken, each of them, and each that comes while it is, gets a
// read deadline pressedBodyWait away (or the server's own, when sooner): a sender that
// sent part of its bodies and stalls holds the memory they took for seconds, not for
// as long as the server lets a request take, while other senders need it.
type uploads struct {
	mu      sync.Mutex
	waiting map[*upload]struct{} // bodies without a deadline of ours
	n       atomic.Int64         // len(waiting), read without the lock
	wait    time.Duration
}

// upload is a body being read, and how to cut it.
type upload struct {
	rc     *http.ResponseController
	latest time.Time // the latest deadline that is no later than the server's own; zero: the server has none
	cut    bool      // given a deadline of ours
}

// add registers the body of the request r, answered by w. It is cut short at the next
// squeeze: a take of the budget after add that finds the budget past half, whoever's
// take it is, squeezes it (add counts it before that take, and a squeeze reads the
// count after its own).
func (u *uploads) add(w http.ResponseWriter, r *http.Request) *upload {
	up := &upload{rc: http.NewResponseController(w), latest: bodyDeadlineCap(r, time.Now())}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.waiting == nil {
		u.waiting = map[*upload]struct{}{}
	}
	u.waiting[up] = struct{}{}
	u.n.Add(1)
	return up
}

// squeeze gives every body registered without a deadline of ours its deadline.
func (u *uploads) squeeze() {
	if u.n.Load() == 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	deadline := time.Now().Add(u.wait)
	for up := range u.waiting {
		u.cutLocked(up, deadline)
		delete(u.waiting, up)
	}
	u.n.Store(0)
}

// cutLocked sets up's read deadline to deadline, or the latest one it may have when
// sooner. The caller holds mu.
func (u *uploads) cutLocked(up *upload, deadline time.Time) {
	if !up.latest.IsZero() && up.latest.Before(deadline) {
		deadline = up.latest
	}
	_ = up.rc.SetReadDeadline(deadline) // not supported: the server's own deadline stays
	up.cut = true
}

// done ends the registration of up, whose body has been read whole, or not (read to an
// error: the request is refused). A body read whole drops a deadline of ours: the server
// goes on reading the connection while the run is started (it watches for the client
// leaving), and cancels the request when such a read fails.
func (u *uploads) done(up *upload, whole bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.waiting[up]; ok {
		delete(u.waiting, up)
		u.n.Add(-1)
	}
	if whole && up.cut {
		_ = up.rc.SetReadDeadline(time.Time{})
	}
}

// bodyDeadlineCap is the latest read deadline that is no later than the one the server
// of r gave the request, for a body whose reading began at start; zero when the server
// gave it none. The server's deadline is ReadTimeout from the moment it began to read
// the request's headers, which took at most its header timeout.
func bodyDeadlineCap(r *http.Request, start time.Time) time.Time {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil || srv.ReadTimeout <= 0 {
		return time.Time{}
	}
	headers := srv.ReadHeaderTimeout
	if headers <= 0 || headers > srv.ReadTimeout {
		headers = srv.ReadTimeout // as the server reads headers without a timeout of their own
	}
	return start.Add(srv.ReadTimeout - headers)
}
