package triggers

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Kind is a trigger kind: the schema and constructor the loader decodes its blocks
// with, and the runtime that fires its triggers in a serving process.
type Kind struct {
	Name string
	// Spec gives the kind's schema and constructor. k holds the step kinds registered
	// so far, which a kind may reuse (a poll sends the http step's request); ok false
	// leaves the kind out of k (no http step kind to send with).
	Spec func(k *workflows.Kinds) (spec workflows.TriggerKind, ok bool)
	// Runtime builds what fires the kind's triggers in a serving process.
	Runtime func(env Env) Runtime
	// Filtered says the workflow's filter decides whether an event of the kind starts
	// a run (a webhook's request, a poll's item); a schedule's tick always does.
	Filtered bool
}

// Config is what the compiled configuration of every trigger kind (the Config of a
// workflows.Trigger) tells about itself, so that serve, hookflow run and the admin API
// need not know the kinds.
type Config interface {
	// Summary describes the trigger for the admin API's workflow list; its "text"
	// is the trigger in a few words ("POST /hooks/orders", "every 1m0s").
	Summary() map[string]any
	// Announce is what serve logs about the trigger once it serves: a message and
	// its attributes. hooks is the base URL of the webhooks, "http://host:port/hooks".
	Announce(wf *workflows.Workflow, hooks string) (msg string, attrs []any)
	// LocalEvent makes ev, the event of a run started by hand (hookflow run), the
	// one this trigger would start the run with. given says the body was given (the
	// kind may make its own when not). It reports false when the trigger does not
	// shape such an event; ev is unchanged then.
	LocalEvent(ev *workflows.Event, given bool) bool
}

// Runtime fires the triggers of one kind for the workflow set in use. A serving
// process runs one of each kind's.
type Runtime interface {
	// Use takes set in place of the set before it: at start, and on each reload.
	Use(set *workflows.Set)
	// Stop stops firing; what is under way finishes first (or gives up at a deadline).
	Stop()
}

// Engine is what the trigger runtimes need of the engine; the engine is one.
type Engine interface {
	Starter
	Ticks
	Polls
}

// Env is what the runtimes are built with.
type Env struct {
	Engine Engine
	Log    *slog.Logger
	// StatusURL gives the URL where a run's status can be read, for webhook answers;
	// nil: none.
	StatusURL func(runID string) string
	Options   []Option
}

// Registry holds trigger kinds by name, in the order they were added: the order
// their runtimes start and stop in, and in which hookflow run picks the trigger
// whose event a run started by hand gets. Registries are values; Default has every
// kind hookflow has.
type Registry struct {
	kinds []Kind
	// now is the clock the kinds' checks at load read (when a cron spec next fires).
	now func() time.Time
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{now: time.Now} }

// Add registers a kind. It panics if the name is taken.
func (r *Registry) Add(k Kind) {
	if slices.ContainsFunc(r.kinds, func(o Kind) bool { return o.Name == k.Name }) {
		panic(fmt.Sprintf("triggers: kind %q registered twice", k.Name))
	}
	r.kinds = append(r.kinds, k)
}

// Default returns a registry of every trigger kind: webhook, schedule and poll.
func Default() *Registry { return DefaultAt(time.Now) }

// DefaultAt is Default with the clock its kinds' checks at load read.
func DefaultAt(now func() time.Time) *Registry {
	r := NewRegistry()
	r.now = now
	r.Add(Kind{Name: "webhook", Filtered: true,
		Spec:    func(*workflows.Kinds) (workflows.TriggerKind, bool) { return webhookKind(), true },
		Runtime: func(env Env) Runtime { return NewWebhooks(env.Engine, env.Log, env.StatusURL, env.Options...) }})
	r.Add(Kind{Name: "schedule",
		Spec:    func(*workflows.Kinds) (workflows.TriggerKind, bool) { return scheduleKind(r.now), true },
		Runtime: func(env Env) Runtime { return NewScheduler(env.Engine, env.Log, env.Options...) }})
	r.Add(Kind{Name: "poll", Filtered: true,
		Spec: func(k *workflows.Kinds) (workflows.TriggerKind, bool) {
			http, ok := k.Step("http")
			if !ok {
				return workflows.TriggerKind{}, false
			}
			return pollKind(http, r.now), true
		},
		Runtime: func(env Env) Runtime { return NewPoller(env.Engine, env.Log, env.Options...) }})
	return r
}

// Register adds the schema of every kind of r to k. A kind that reuses a step kind
// (poll sends the http step's request) is added when k has that step kind.
func (r *Registry) Register(k *workflows.Kinds) {
	for _, kind := range r.kinds {
		if spec, ok := kind.Spec(k); ok {
			k.AddTrigger(spec)
		}
	}
}

// Register adds every trigger kind of Default to k.
func Register(k *workflows.Kinds) { Default().Register(k) }

// Start builds the runtime of every kind of r.
func (r *Registry) Start(env Env) *Runtimes {
	rs := &Runtimes{}
	for _, kind := range r.kinds {
		if kind.Runtime != nil {
			rs.all = append(rs.all, kind.Runtime(env))
		}
	}
	return rs
}

// Runtimes are the runtimes of a registry's kinds, taking each set together and
// stopping in the registry's order.
type Runtimes struct{ all []Runtime }

// Use hands set to every runtime.
func (rs *Runtimes) Use(set *workflows.Set) {
	for _, rt := range rs.all {
		rt.Use(set)
	}
}

// Stop stops every runtime, in order.
func (rs *Runtimes) Stop() {
	for _, rt := range rs.all {
		rt.Stop()
	}
}

// Webhooks returns the webhook runtime, which serve puts on its public listener;
// nil when the registry has no webhook kind.
func (rs *Runtimes) Webhooks() *Webhooks {
	for _, rt := range rs.all {
		if h, ok := rt.(*Webhooks); ok {
			return h
		}
	}
	return nil
}

// Filtered reports whether the workflow's filter applies to an event of trigger, a
// kind's name (see Kind.Filtered).
func (r *Registry) Filtered(trigger string) bool {
	i := slices.IndexFunc(r.kinds, func(k Kind) bool { return k.Name == trigger })
	return i >= 0 && r.kinds[i].Filtered
}

// LocalEvent makes ev the event that the first trigger of wf able to shape it would
// start a run with (see Config.LocalEvent), trying the kinds in the registry's
// order, and returns that trigger's kind; "" when none did (a run started by hand).
func (r *Registry) LocalEvent(wf *workflows.Workflow, ev *workflows.Event, given bool) string {
	return r.LocalEventOf(wf, "", ev, given)
}

// LocalEventOf is LocalEvent trying the triggers of one kind only ("" for every
// kind): a test's event that names its trigger is the one the first trigger of that
// kind able to shape it would start a run with, whatever the workflow's first trigger
// is (of its webhooks, the first whose {name} segments the event's params name).
func (r *Registry) LocalEventOf(wf *workflows.Workflow, only string, ev *workflows.Event, given bool) string {
	for _, kind := range r.kinds {
		if only != "" && kind.Name != only {
			continue
		}
		for _, t := range wf.Triggers {
			if c, ok := t.Config.(Config); ok && t.Kind == kind.Name && c.LocalEvent(ev, given) {
				return kind.Name
			}
		}
	}
	return ""
}

// Stop stops the webhooks: sync webhooks waiting for their runs answer 202 at once
// (see Drain). Requests under way finish; the listener's drain waits for them.
func (h *Webhooks) Stop() { h.Drain() }

var (
	_ Runtime = (*Webhooks)(nil)
	_ Runtime = (*Scheduler)(nil)
	_ Runtime = (*Poller)(nil)
	_ Config  = (*Webhook)(nil)
	_ Config  = (*Schedule)(nil)
	_ Config  = (*Poll)(nil)

	_ workflows.AnswerWaiter = (*Webhook)(nil)
)
