package engine

import "github.com/hookflow/hookflow/workflows"

// lostError is what the history says of an attempt of an http step whose worker
// stopped while it ran: its lease expired, and lease.lua took the job back.
const lostError = "its worker stopped while it ran (killed, or out of reach of Redis past its lease); " +
	"the request may have been sent"

// lostRequests is sent, the requests of j's attempt of an http step (after those of
// the pages an earlier lease kept), with one entry for each attempt before it whose
// worker stopped while it ran: the j.reaped attempts just before j's, whose leases
// expired. What such an attempt sent, if anything, is not known, but its request may
// have reached the API (and the next attempt sends the same Idempotency-Key): the
// history shows the attempt, marked lost, rather than leave a hole in the attempts.
// Each goes after the requests of its own attempt (the pages it kept), before those
// of the next.
//
// Only the job of a lease whose earlier leases expired has them: sent is returned as
// it is for every other, and for steps of other kinds, which record no requests.
func lostRequests(j *job, step *workflows.Step, sent []*workflows.Request) []*workflows.Request {
	if j.reaped <= 0 || step == nil || step.Kind != "http" || j.unit.part == partJoin ||
		j.unit.part == partStep && step.ForEach != nil {
		return sent
	}
	first := max(j.attempt-j.reaped, 1)
	out := make([]*workflows.Request, 0, len(sent)+j.attempt-first)
	a := first
	for _, q := range sent {
		for ; a < j.attempt && a < q.Attempt; a++ {
			out = append(out, lostRequest(a))
		}
		out = append(out, q)
	}
	for ; a < j.attempt; a++ {
		out = append(out, lostRequest(a))
	}
	return out
}

// lostRequest is the entry of a lost attempt in the history.
func lostRequest(attempt int) *workflows.Request {
	return &workflows.Request{Attempt: attempt, Error: lostError, Lost: true}
}
