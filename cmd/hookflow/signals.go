package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
)

// SIGINT and SIGTERM. main catches them in a context, which the commands that watch
// it end on: serve and worker drain (operations.md, Stopping), run and test end their
// runs, the admin API's commands their calls. The first signal is the only one caught:
// a second ends the process at once, as signals do by default, so that a drain that
// takes long can be cut short (what is left leased runs again after --lease, as after
// SIGKILL). A command that never looks at the context (validate, fmt, version, help)
// lets the signals do what they do by default from its start: the first ends it.

// notifySignals returns a context that ends at the first SIGINT or SIGTERM, after
// which the signals do what they do by default, and a func that ends it.
func notifySignals() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &caught{ch: make(chan os.Signal, 1)}
	signal.Notify(c.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-c.ch:
			c.mu.Lock()
			c.first = s
			released := c.released
			c.mu.Unlock()
			signal.Stop(c.ch)
			if released {
				raise(s) // it came as the command let the signals go: it ends the process
			}
			cancel()
		case <-ctx.Done():
		}
	}()
	return context.WithValue(ctx, signalsKey{}, c), func() { signal.Stop(c.ch); cancel() }
}

// caught is the catching of SIGINT and SIGTERM.
type caught struct {
	ch       chan os.Signal
	mu       sync.Mutex
	first    os.Signal // the signal caught, or nil
	released bool      // the signals were given back their default behaviour
}

// release gives the signals back their default behaviour; one caught already ends
// the process as it would have.
func (c *caught) release() {
	c.mu.Lock()
	c.released = true
	first := c.first
	c.mu.Unlock()
	signal.Stop(c.ch)
	if first != nil {
		raise(first)
	}
}

// raise sends s to the process, which its default behaviour ends, or exits with
// status 1 where it cannot be sent.
func raise(s os.Signal) {
	if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(s) == nil {
		return
	}
	os.Exit(exitFailed)
}

type signalsKey struct{}

// signalsAnnotation marks a command that ends when its context does, and its
// subcommands.
const signalsAnnotation = "hookflow/watches-signals"

// watchesSignals marks cmd as one that ends when its context does.
func watchesSignals(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[signalsAnnotation] = "yes"
	return cmd
}

// defaultSignals gives SIGINT and SIGTERM back their default behaviour for a command
// that does not watch its context for them.
func defaultSignals(cmd *cobra.Command) {
	if watched(cmd) {
		return
	}
	if c, ok := cmd.Context().Value(signalsKey{}).(*caught); ok {
		c.release()
	}
}

// watched reports whether cmd, or a command it is under, ends when its context does.
func watched(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[signalsAnnotation] != "" {
			return true
		}
	}
	return false
}
