package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// ErrNotFound is returned for a run that does not exist or has expired.
var ErrNotFound = errors.New("run not found")

// RunSummary is a run as run listings show it.
type RunSummary struct {
	ID         string     `json:"id"`
	Workflow   string     `json:"workflow"`
	Version    string     `json:"version"`
	Status     string     `json:"status"` // queued, running, succeeded, failed
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS *int64     `json:"duration_ms,omitempty"`
	// Replays counts how many times the run was replayed after it failed.
	Replays int `json:"replays,omitempty"`
	// DeadLetter is the id of the run's dead-lettered job, while it has one.
	DeadLetter string `json:"dead_letter,omitempty"`
}

// Run is a run's state and history, as the admin API shows it.
type Run struct {
	RunSummary
	Event *EventView `json:"event,omitempty"`
	Steps []StepRun  `json:"steps"`
}

// EventView is the part of a run's event the API shows. Headers that carry
// credentials are redacted.
type EventView struct {
	ID         string            `json:"id"`
	Trigger    string            `json:"trigger"`
	ReceivedAt time.Time         `json:"received_at"`
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       any               `json:"body,omitempty"`
}

// StepRun is one step of a run.
type StepRun struct {
	Name     string `json:"name"`
	Kind     string `json:"kind,omitempty"`
	Status   string `json:"status"` // pending, retrying, succeeded, failed, skipped
	Attempts int    `json:"attempts,omitempty"`
	// NextAttemptAt is when a retrying step runs again.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	DurationMS    *int64     `json:"duration_ms,omitempty"`
	Output        any        `json:"output,omitempty"`
	Error         string     `json:"error,omitempty"`
}

// stepResult is a step's record in the run hash, field s:<step>. The commit script
// adds finished and duration_ms from Redis's clock.
type stepResult struct {
	Finished   int64           `json:"finished"`
	DurationMS int64           `json:"duration_ms"`
	Status     string          `json:"status"`
	Attempt    int             `json:"attempt"`
	RetryAt    int64           `json:"retry_at,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// Run returns the run with the given id, or ErrNotFound.
func (e *Engine) Run(ctx context.Context, id string) (*Run, error) {
	fields, err := e.q.runFields(ctx, id)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, ErrNotFound
	}
	r := &Run{RunSummary: summary(fields)}
	if ev, err := workflows.DecodeEvent([]byte(fields["event"])); err == nil {
		r.Event = eventView(ev)
	}
	r.Steps = e.stepRuns(ctx, fields)
	return r, nil
}

// summary reads a run hash's fields (those of summaryFields at least).
func summary(fields map[string]string) RunSummary {
	r := RunSummary{
		ID:         fields["id"],
		Workflow:   fields["wf"],
		Version:    fields["ver"],
		Status:     fields["status"],
		Error:      fields["error"],
		CreatedAt:  msTime(fields["created"]),
		DeadLetter: fields["dead"],
	}
	r.Replays, _ = strconv.Atoi(fields["replays"])
	if t := msTime(fields["started"]); !t.IsZero() {
		r.StartedAt = &t
	}
	if t := msTime(fields["finished"]); !t.IsZero() {
		r.FinishedAt = &t
		d := t.Sub(r.CreatedAt).Milliseconds()
		r.DurationMS = &d
	}
	return r
}

var summaryFields = []string{"id", "wf", "ver", "status", "error", "created", "started", "finished", "replays", "dead"}

// stepRuns lists a run's steps in the order of its workflow version, with the ones
// not reached yet as pending. When this process does not know the version, it lists
// the recorded steps in the order they finished.
func (e *Engine) stepRuns(ctx context.Context, fields map[string]string) []StepRun {
	results, _ := stepResults(fields) // a result that cannot be read is shown as pending
	recorded := map[string]StepRun{}
	for name, res := range results {
		recorded[name] = res.view(name)
	}
	out := []StepRun{}
	if wf, err := e.versions.get(ctx, fields["wf"], fields["ver"]); err == nil {
		for _, s := range wf.Steps {
			sr, ok := recorded[s.Name]
			if !ok {
				sr = StepRun{Name: s.Name, Status: "pending"}
			}
			sr.Kind = s.Kind
			out = append(out, sr)
		}
		return out
	}
	for _, sr := range recorded {
		out = append(out, sr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FinishedAt.Before(*out[j].FinishedAt) })
	return out
}

// stepResults reads the s:<step> fields of a run hash.
func stepResults(fields map[string]string) (map[string]*stepResult, error) {
	out := map[string]*stepResult{}
	for k, v := range fields {
		name, ok := strings.CutPrefix(k, "s:")
		if !ok {
			continue
		}
		var res stepResult
		if err := json.Unmarshal([]byte(v), &res); err != nil {
			return out, fmt.Errorf("step %s result: %w", name, err)
		}
		out[name] = &res
	}
	return out, nil
}

// output decodes the step's output, with integers exact.
func (r *stepResult) output() (any, error) {
	if len(r.Output) == 0 {
		return nil, nil
	}
	return workflows.DecodeJSON(r.Output)
}

func (r *stepResult) view(name string) StepRun {
	finished := time.UnixMilli(r.Finished).UTC()
	started := finished.Add(-time.Duration(r.DurationMS) * time.Millisecond)
	d := r.DurationMS
	sr := StepRun{Name: name, Status: r.Status, Attempts: r.Attempt, StartedAt: &started,
		FinishedAt: &finished, DurationMS: &d, Error: r.Error}
	if r.Status == "retrying" && r.RetryAt > 0 {
		t := time.UnixMilli(r.RetryAt).UTC()
		sr.NextAttemptAt = &t
	}
	if out, err := r.output(); err == nil {
		sr.Output = redactOutput(out)
	}
	return sr
}

// credentialWords mark header names whose values are credentials: authorization,
// cookies, API keys, signatures. The admin API never shows those values. Later steps
// still read them; only the run's record is redacted.
var credentialWords = []string{"auth", "cookie", "session", "token", "secret", "password", "passwd",
	"signature", "hmac", "apikey", "api-key", "api_key", "access-key", "private-key"}

const redacted = "[redacted]"

// IsCredentialHeader reports whether a header's value is a credential, never shown.
func IsCredentialHeader(name string) bool {
	name = strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// redactOutput hides credential headers in a step output shaped like an http step's.
func redactOutput(out any) any {
	m, ok := out.(map[string]any)
	if !ok {
		return out
	}
	headers, ok := m["headers"].(map[string]any)
	if !ok {
		return out
	}
	for k := range headers {
		if IsCredentialHeader(k) {
			headers[k] = redacted
		}
	}
	return m
}

func eventView(ev *workflows.Event) *EventView {
	v := &EventView{ID: ev.ID, Trigger: ev.Trigger, ReceivedAt: ev.ReceivedAt, Method: ev.Method,
		Path: ev.Path, Body: ev.Body, Headers: map[string]string{}}
	for k, val := range ev.Headers {
		if IsCredentialHeader(k) {
			val = redacted
		}
		v.Headers[k] = val
	}
	return v
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
