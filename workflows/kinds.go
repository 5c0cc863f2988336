package workflows

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Kinds is a registry of step and trigger kinds. The loader decodes a block's body with
// the schema its kind registered and hands the result to the kind's constructor, so a
// kind owns its attributes, their checks and their compiled form. Registries are values:
// the binary builds one with every kind, a test can build one with only what it needs.
type Kinds struct {
	steps    map[string]StepKind
	triggers map[string]TriggerKind
}

// NewKinds returns an empty registry.
func NewKinds() *Kinds {
	return &Kinds{steps: map[string]StepKind{}, triggers: map[string]TriggerKind{}}
}

// Attr declares one attribute of a kind's own schema.
type Attr struct {
	Name     string
	Required bool
}

// BlockType declares a nested block a kind accepts, such as verify "github" {}.
type BlockType struct {
	Type   string
	Labels []string
}

// StepKind describes one kind of step, such as "http".
type StepKind struct {
	Name  string
	Attrs []Attr
	// AnyAttrs accepts any attribute (the set step names its outputs); Attrs is unused.
	// The output of such a kind is its attributes, by name.
	AnyAttrs bool
	// Blocks are the nested blocks the kind accepts beside retry {}, such as
	// paginate {}; the constructor decodes them (Block.Nested, Block.Decode).
	Blocks []BlockType
	// Output lists the fields of the kind's output, which later steps read as
	// steps.NAME.FIELD beside the outcome and error every step has. The loader warns
	// about a read of a field the output never has (steps.find.id for
	// steps.find.body.id). Nil: the fields are not known, and reads are not checked.
	Output []string
	// OutputTypes gives the type of output fields whose values always have one:
	// TypeNumber (an http step's status) or TypeBool (a wait step's timed_out). The
	// loader warns of one compared with a string, which it never equals
	// (steps.h.status == 'ok'), in steps.NAME.FIELD and in an item of a for_each step.
	OutputTypes map[string]string
	// Resumable marks the kind whose steps resume_url("NAME") may name (the wait
	// step): such a step runs once per run, so for_each is refused.
	Resumable bool
	// NoRetry, when set, says why the kind's steps take no retry {}: their failures
	// are not ones another attempt may fix (a wait timed out, a child run failed).
	NoRetry string
	// NoTimeout, when set, says why the kind's steps take no timeout, and what bounds
	// them instead: a timeout there would do nothing (a delay waits its duration, a
	// workflow step its child).
	NoTimeout string
	// Timeout is the default of a step's timeout, when not DefaultStepTimeout, and
	// MaxTimeout the longest it may be (0: no limit). The wait step's timeout is how
	// long it waits, not how long an attempt may take.
	Timeout, MaxTimeout time.Duration
	// New compiles a step's decoded attributes into the action that runs it. It is
	// called once per step when the file loads and reports problems as diagnostics.
	New func(b *Block) (Action, hcl.Diagnostics)
}

// TriggerKind describes one kind of trigger, such as "webhook".
type TriggerKind struct {
	Name   string
	Attrs  []Attr
	Blocks []BlockType
	// Reads are the names the trigger's templates can read, when not event and vars
	// (a poll's request is sent before there is an event: it reads poll and vars).
	// A read of any other is a load error.
	Reads []string
	// Where names the trigger's templates in messages, when not "a trigger".
	Where string
	// HeadersAsSent: the trigger's templates read event.headers as the request brought
	// them, credentials included (a webhook's dedupe, rendered as the request comes),
	// where the filter and the steps read a credential header [redacted].
	HeadersAsSent bool
	// EventAttrs are the attributes a run's event is made of (a webhook's method and
	// path), which hookflow run reads to make one without the trigger serving. What
	// else a trigger reads (a webhook's verify blocks, a poll's request) only a serving
	// trigger does: Set.Missing leaves it to Set.TriggerMissing.
	EventAttrs []string
	// New compiles a trigger's decoded attributes into its configuration, the value
	// the trigger's runtime reads from Trigger.Config.
	New func(b *Block) (any, hcl.Diagnostics)
	// Check, when set, sees every trigger of this kind in the set at once, for rules
	// that span workflows (webhooks sharing a path must verify alike).
	Check func(ts []*Trigger) hcl.Diagnostics
}

// Action runs one step. Implementations are built once at load time and shared by
// every worker, so Do must be safe for concurrent use.
type Action interface {
	// Do performs the step and returns its output: the value later steps read as
	// steps.NAME. An error fails the attempt; output may still be returned with it
	// (an HTTP step that got an unexpected status still reports the response).
	Do(ctx context.Context, c *Call) (any, error)
}

// Call is what a step attempt knows about its run.
type Call struct {
	Env      *Env   // the expression environment: event, steps, vars, run
	RunID    string // the run this step belongs to
	Workflow string
	Step     string // the step's name
	Item     *Item  // the for_each item this attempt runs; nil for a step without for_each
	Attempt  int    // 1 for the first attempt
	// Failure is, for a step of the on_failure block, which failure of its run it
	// answers: 1 for the first, one more for each replay that failed again.
	Failure int
	Secrets *Redactor // hides the workflow's secrets in what the step logs
	// Sensitive is the step's sensitive: what comes back is recorded as [sensitive].
	Sensitive bool
	// Timeout is the step's timeout: how long an attempt may take, and how long a wait
	// step waits.
	Timeout time.Duration
	// RequestTimeout bounds each request the call sends (each page of a paginated
	// one, from its sending to the end of its answer), within ctx's deadline; 0: ctx's
	// deadline only. A poll sets it: it has no attempt for a deadline to bound, and
	// reads on past its first answer.
	RequestTimeout time.Duration
	// RetryMax is the longest wait between the step's attempts (its retry's max); 0
	// for a step without retries, which DefaultRetryMax stands for. It bounds how long
	// a Retry-After the step gets makes the other calls of its api wait.
	RetryMax time.Duration
	// Sent is set by a step that sends a request (an http step): what the attempt
	// sent and got back, redacted, for the run history. SentBefore are the requests
	// the attempt sent before it, oldest first: the earlier pages of a paginated step.
	Sent       *Request
	SentBefore []*Request
	// Pages keeps the pages a paginated step reads across the leases of its job (see
	// PageStore); nil where nothing keeps them, as for a poll.
	Pages PageStore
}

// Record keeps a request the attempt sent for the run history: the latest in Sent,
// those before it in SentBefore.
func (c *Call) Record(r *Request) {
	if c.Sent != nil {
		c.SentBefore = append(c.SentBefore, c.Sent)
	}
	c.Sent = r
}

// Wait is the output of a step that holds its run (the delay step): the run's next
// step is due once For has passed. The wait is kept in the queue, not in a worker, so
// it survives restarts and costs nothing while it lasts.
type Wait struct {
	For   time.Duration
	Until time.Time // when For ends by this process's clock, for the record
}

// Value is the wait as the run records it and later steps read it: {until, seconds}.
func (w *Wait) Value() map[string]any {
	return map[string]any{"until": w.Until.UTC().Format(time.RFC3339), "seconds": w.For.Seconds()}
}

// IdempotencyKey is the key an outbound call carries so that the far end can discard a
// repeat: it is the same for every attempt of one step of one run, <run>:<step>, and
// of one item of a for_each step, <run>:<step>:<key> (Item.CallIDText). A step of the on_failure block
// calls once per failure of its run: <run>:on_failure/<step>, and <run>:on_failure/<step>:<n>
// for the nth failure after the first.
func (c *Call) IdempotencyKey() string {
	if c.Failure > 1 {
		return c.RunID + ":" + c.Step + ":" + strconv.Itoa(c.Failure)
	}
	if c.Item != nil {
		return c.RunID + ":" + c.Step + ":" + c.Item.CallIDText()
	}
	return c.RunID + ":" + c.Step
}

// AddStep registers a step kind. It panics if the name is taken: two kinds with one
// name is a programming error, not something to recover from.
func (k *Kinds) AddStep(s StepKind) {
	if _, dup := k.steps[s.Name]; dup {
		panic(fmt.Sprintf("workflows: step kind %q registered twice", s.Name))
	}
	k.steps[s.Name] = s
}

// AddTrigger registers a trigger kind. It panics if the name is taken.
func (k *Kinds) AddTrigger(t TriggerKind) {
	if _, dup := k.triggers[t.Name]; dup {
		panic(fmt.Sprintf("workflows: trigger kind %q registered twice", t.Name))
	}
	k.triggers[t.Name] = t
}

// Step returns the step kind registered under name, so that a trigger kind can make
// the requests a step kind makes (a poll trigger sends an http step's request).
func (k *Kinds) Step(name string) (StepKind, bool) {
	s, ok := k.steps[name]
	return s, ok
}

func (k *Kinds) stepNames() []string    { return sortedKeys(k.steps) }
func (k *Kinds) triggerNames() []string { return sortedKeys(k.triggers) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
