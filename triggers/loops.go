package triggers

import (
	"context"
	"sync"

	"github.com/hookflow/hookflow/workflows"
)

// loops runs a goroutine per trigger of one kind in the set in use, until the next set
// or stop: the scheduler's lifecycle. (The poller keeps the loops of the triggers a
// reload leaves unchanged: see pollloops.go.)
type loops struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// useLoops stops the loops of the previous set and starts run for every trigger of
// set whose configuration is a T, and each of also, with the same lifecycle.
func useLoops[T any](l *loops, set *workflows.Set, run func(ctx context.Context, wf *workflows.Workflow, cfg T),
	also ...func(ctx context.Context)) {
	l.stop()
	ctx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancel = cancel
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			if cfg, ok := t.Config.(T); ok {
				l.wg.Go(func() { run(ctx, wf, cfg) })
			}
		}
	}
	for _, f := range also {
		l.wg.Go(func() { f(ctx) })
	}
}

// stop stops every loop and waits for them.
func (l *loops) stop() {
	l.mu.Lock()
	if l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
	l.mu.Unlock()
	l.wg.Wait()
}
