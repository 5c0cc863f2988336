package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// awaitPoll bounds how long a waiting caller goes without reading the run again. A step
// this process commits wakes its waiters at once; one another process commits is seen
// at the next read.
const awaitPoll = 100 * time.Millisecond

// waiters wakes the callers waiting for runs of this process's workers.
type waiters struct {
	mu   sync.Mutex
	runs map[string][]chan struct{}
}

func (w *waiters) add(run string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.runs == nil {
		w.runs = map[string][]chan struct{}{}
	}
	w.runs[run] = append(w.runs[run], ch)
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(run string, ch chan struct{}) {
	w.mu.Lock()
	chs := slices.DeleteFunc(w.runs[run], func(c chan struct{}) bool { return c == ch })
	if len(chs) == 0 {
		delete(w.runs, run)
	} else {
		w.runs[run] = chs
	}
	w.mu.Unlock()
}

// wake tells run's waiters that it moved on.
func (w *waiters) wake(run string) {
	w.mu.Lock()
	for _, ch := range w.runs[run] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// Await waits for run id of wf until it can answer a caller: when a step that answers
// (a respond step) succeeded, or when the run ended. It returns ctx's error when ctx
// ends first, and ErrNotFound for a run that does not exist.
func (e *Engine) Await(ctx context.Context, wf *workflows.Workflow, id string) (*workflows.Reply, error) {
	fields := []string{"status"}
	for _, s := range wf.Steps {
		if s.Answers() {
			fields = append(fields, "s:"+s.Name)
		}
	}
	key := e.q.shardFor(wf.Name).run(id)
	var reply *workflows.Reply
	err := e.untilRun(ctx, id, func() (done bool, err error) {
		vals, err := e.q.rdb.HMGet(ctx, key, fields...).Result()
		if err != nil {
			return false, err
		}
		status, _ := vals[0].(string)
		if status == "" {
			return false, ErrNotFound
		}
		for i, v := range vals[1:] {
			data, _ := v.(string)
			r, err := answer(fields[i+1][2:], data)
			if err != nil {
				return false, err
			}
			if r != nil {
				r.RunID, r.Status = id, status
				reply = r
				return true, nil
			}
		}
		if RunStatus(status).Done() {
			reply, err = e.lastOutput(ctx, wf, id, key, status)
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// untilRun calls check until it is done or fails: at once, then each time run id moves
// on in this process, and after a wait that doubles up to awaitPoll, for a run another
// process moves on. It returns ctx's error when ctx ends first.
func (e *Engine) untilRun(ctx context.Context, id string, check func() (done bool, err error)) error {
	woken := e.waiters.add(id)
	defer e.waiters.remove(id, woken)
	for wait := 2 * time.Millisecond; ; wait = min(2*wait, awaitPoll) {
		if done, err := check(); done || err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-woken:
			t.Stop()
		case <-t.C:
		}
	}
}

// answer reads a step result that answers once it succeeded; nil when it has not.
func answer(step, data string) (*workflows.Reply, error) {
	if data == "" {
		return nil, nil
	}
	res, err := decodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("step %s result: %w", step, err)
	}
	if res.Status != StatusSucceeded {
		return nil, nil
	}
	out, err := res.output()
	if err != nil {
		return nil, fmt.Errorf("step %s output: %w", step, err)
	}
	if res.Resume {
		out = redactResume(out)
	}
	if res.Sensitive {
		out = workflows.SensitiveShown
	}
	return &workflows.Reply{Step: step, Output: out}, nil
}

// lastOutput is the reply of a run that ended: its last step, in file order, that
// succeeded. It reads the steps' records, not the whole run (its event can be large).
func (e *Engine) lastOutput(ctx context.Context, wf *workflows.Workflow, id, key, status string) (*workflows.Reply, error) {
	names := endFields(wf)
	vals, err := e.q.rdb.HMGet(ctx, key, names...).Result()
	if err != nil {
		return nil, err
	}
	return lastOutputOf(wf, id, status, fieldsOf(names, vals))
}

// endFields are the fields of a run of wf that its reply once it ended comes from
// (endedReply, lastOutputOf): its status and its steps' records.
func endFields(wf *workflows.Workflow) []string {
	names := make([]string, 0, 1+len(wf.Steps))
	names = append(names, "status")
	for _, s := range wf.Steps {
		names = append(names, "s:"+s.Name)
	}
	return names
}

// lastOutputOf is lastOutput's reply, from the run's fields (all of endFields at
// least).
func lastOutputOf(wf *workflows.Workflow, id, status string, all map[string]string) (*workflows.Reply, error) {
	r := &workflows.Reply{RunID: id, Status: status}
	if RunStatus(status) != RunSucceeded {
		return r, nil
	}
	for _, s := range slices.Backward(wf.Steps) {
		a, err := answer(s.Name, all["s:"+s.Name])
		if err != nil {
			return nil, err
		}
		if a != nil {
			r.Step, r.Output = a.Step, redactOutput(a.Output)
			return r, nil
		}
	}
	return r, nil
}

// endedReply is what Await answers for run id of wf, which has ended, from its fields
// (all: endFields at least): the first step that answers and succeeded, in file
// order, else its last output.
func endedReply(wf *workflows.Workflow, id string, all map[string]string) (*workflows.Reply, error) {
	status := all["status"]
	for _, s := range wf.Steps {
		if !s.Answers() {
			continue
		}
		r, err := answer(s.Name, all["s:"+s.Name])
		if err != nil {
			return nil, err
		}
		if r != nil {
			r.RunID, r.Status = id, status
			return r, nil
		}
	}
	return lastOutputOf(wf, id, status, all)
}

// WaitEnded waits for run id of wf to end (succeeded, failed or cancelled), and
// returns its status. It reads one field of the run each time the run moves on in this
// process (or after a while, for a run another process runs): a caller that waits for
// many runs at once loads Redis no more than their steps do. ErrNotFound for a run that
// does not exist; ctx's error when ctx ends first.
func (e *Engine) WaitEnded(ctx context.Context, wf *workflows.Workflow, id string) (RunStatus, error) {
	key := e.q.shardFor(wf.Name).run(id)
	var status RunStatus
	err := e.untilRun(ctx, id, func() (bool, error) {
		s, err := e.q.rdb.HGet(ctx, key, "status").Result()
		switch {
		case errors.Is(err, redis.Nil):
			return false, ErrNotFound
		case err != nil:
			return false, err
		}
		status = RunStatus(s)
		return status.Done(), nil
	})
	if err != nil {
		return "", err
	}
	return status, nil
}
