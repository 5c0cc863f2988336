package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/internal/jsonenc"
	"github.com/hookflow/hookflow/workflows"
)

// Status is where a step, an item of a for_each step, or a parallel block stands.
type Status string

const (
	StatusPending   Status = "pending"  // not started yet
	StatusRunning   Status = "running"  // an attempt in flight (its job leased); a for_each step's items, or a parallel block's steps, in flight
	StatusRetrying  Status = "retrying" // an attempt failed; another is queued
	StatusWaiting   Status = "waiting"  // a delay in an item or a parallel block's step
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped" // its if was false
	// StatusCancelled is an item of a for_each step that never started: another item
	// failed the step first; or a step of a failed or cancelled run that had not
	// settled.
	StatusCancelled Status = "cancelled"
)

// Settled reports whether the status is final: nothing of the step runs again, short
// of a replay.
func (s Status) Settled() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusSkipped
}

// RunStatus is where a run stands. The scripts spell the same words (scripts/lib.lua).
type RunStatus string

const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	// RunCancelled is a run ended by hand (Engine.Cancel) before it finished.
	RunCancelled RunStatus = "cancelled"
	// RunWaiting is a run parked at a wait step, until it is resumed or the wait times
	// out. It holds no worker.
	RunWaiting RunStatus = "waiting"
)

// Done reports whether the run has ended.
func (s RunStatus) Done() bool { return s == RunSucceeded || s == RunFailed || s == RunCancelled }

// Record is what one step, one item of a for_each step, or one parallel block left in
// its run: the outcome of its last attempt, or its final one. It is the one shape
// every writer and reader of a run shares: the worker encodes it, the scripts store it
// (adding finished and duration_ms from Redis's clock), and the planner, the admin API
// and later steps read it back through decodeRecord.
type Record struct {
	Status     Status `json:"status"` // first: the scripts splice fields in after the brace
	Attempt    int    `json:"attempt,omitempty"`
	Finished   int64  `json:"finished,omitempty"` // ms, Redis's clock
	DurationMS int64  `json:"duration_ms,omitempty"`
	RetryAt    int64  `json:"retry_at,omitempty"` // ms: when a retrying attempt runs again
	// Started is when the first attempt of a retrying unit started (ms, Redis's
	// clock), kept from the record of its second attempt on, and in the record that
	// settles it: the first's is its Finished less its DurationMS (firstStarted); and
	// when a wait step first parked, in the record that settles it. A settled unit is
	// shown taking the time from then to its Finished (view).
	Started int64 `json:"started,omitempty"`
	// Ended is when a unit that settled ended, when that was before its record was
	// written (Finished; ms, Redis's clock): a wait step that timed out, or that the
	// run's deadline ended, or a delay the deadline cut, while no process ran to settle
	// it. It is shown ending then (view).
	Ended int64 `json:"ended,omitempty"`
	// Output is the step's output; for a for_each step, the list (or map) of its items'
	// values, each with its outcome.
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	// Version is the workflow version the attempt ran with. A run keeps the version
	// it started with, unless a replay moves it to the current one: its history then
	// names both.
	Version string `json:"version,omitempty"`
	// Items counts a for_each step's items; ForEach marks the record as one of those.
	Items   int  `json:"items,omitempty"`
	ForEach bool `json:"for_each,omitempty"`
	// TimedOut says that the run's timeout passed while the unit ran, or before it
	// could: it fails the run whatever its on_error says.
	TimedOut bool `json:"timed_out,omitempty"`
	// Requests are what an http step sent and got back, one workflows.Request per
	// attempt, oldest first, the last maxRequests at most: kept as JSON, decoded only
	// to be shown.
	Requests json.RawMessage `json:"requests,omitempty"`
	// Sensitive marks the output of a step with sensitive = true: shown as
	// [sensitive], read by later steps until the run succeeds, when the commit that
	// ends it replaces it by what is shown (see sensitive.go).
	Sensitive bool `json:"sensitive,omitempty"`
	// Resume marks the output of a wait step that a resume gave: the body fields and
	// query parameters in it that are named as credentials are shown [redacted], and
	// their values hidden where later steps write them, as an event's are.
	Resume bool `json:"resume,omitempty"`
	// Held says what a delay step held: heldRun or heldUnit. A record written before
	// records said so has none: heldItsUnit tells from its time.
	Held string `json:"held,omitempty"`
}

// What a delay step held, as its record says (Record.Held).
const (
	// heldRun: the run, from this record, written as the delay started, to its end,
	// when the step after it is due.
	heldRun = "run"
	// heldUnit: its own unit, its record written at its end (in a for_each step or a
	// parallel block, ending its run, or cut by the run's deadline); or, under
	// virtual time, nothing, having taken its time as it settled. It holds nothing
	// after its record.
	heldUnit = "unit"
)

// maxRequests is how many attempts' requests a record keeps: the latest. A
// paginated step sends a request per page; a record keeps maxRecordedRequests
// requests at most, the latest. maxRecordedBytes bounds them as JSON: past it the
// oldest are dropped too, the latest always kept. One request holds at most two
// bodies of workflows.MaxRecordedBody and a few KiB of URL and headers (about 170 KiB
// of text, a little more escaped): 256 KiB keeps the latest whole and, of smaller
// ones (most are a few KiB), all that the counts allow, so that the requests of a
// for_each step of n items take n × 256 KiB at most, not n × 50 requests of 160 KiB.
const (
	maxRequests         = 10
	maxRecordedRequests = 50
	maxRecordedBytes    = 256 << 10
)

// appendRequest is earlier (a record's Requests) with req added; earlier when req is
// nil.
func appendRequest(earlier json.RawMessage, req *workflows.Request) json.RawMessage {
	if req == nil {
		return earlier
	}
	data := req.Encode()
	if req.Attempt > maxRequests || req.Page > 1 || len(earlier)+1+len(data) > maxRecordedBytes {
		var list []struct {
			Attempt int `json:"attempt"`
		}
		var raws []json.RawMessage
		if json.Unmarshal(earlier, &list) == nil && json.Unmarshal(earlier, &raws) == nil {
			keep := keptFrom(raws, len(data))
			for keep < len(list) && (list[keep].Attempt <= req.Attempt-maxRequests || len(list)-keep >= maxRecordedRequests) {
				keep++
			}
			if keep > 0 {
				earlier, _ = json.Marshal(raws[keep:])
			}
		}
	}
	// A list of requests is spliced, not decoded: what is not one (nothing a record
	// holds, as its requests are written here) starts a new list, so that the record
	// stays JSON (encodeRecord does not check it again).
	if len(earlier) < 2 || string(earlier) == "[]" || earlier[0] != '[' || earlier[len(earlier)-1] != ']' {
		return append(append([]byte{'['}, data...), ']')
	}
	out := make([]byte, 0, len(earlier)+len(data)+1)
	out = append(out, earlier[:len(earlier)-1]...)
	out = append(out, ',')
	out = append(out, data...)
	return append(out, ']')
}

// keptFrom is the index of the first of raws, requests oldest first, that a record
// keeps with a request of next bytes after them: those from it on, with next, fit in
// maxRecordedBytes as a JSON list (len(raws) when none does).
func keptFrom(raws []json.RawMessage, next int) int {
	size := 2 + next // the brackets, and the latest, kept whatever its size
	i := len(raws)
	for i > 0 && size+len(raws[i-1])+1 <= maxRecordedBytes {
		i--
		size += len(raws[i]) + 1
	}
	return i
}

// appendRequests is earlier with reqs added, the requests of one attempt (its pages),
// decoding earlier once at most.
func appendRequests(earlier json.RawMessage, reqs []*workflows.Request) json.RawMessage {
	if len(reqs) > maxRecordedRequests {
		reqs = reqs[len(reqs)-maxRecordedRequests:]
	}
	if len(reqs) <= 1 {
		for _, r := range reqs {
			earlier = appendRequest(earlier, r)
		}
		return earlier
	}
	earlier = appendRequest(earlier, reqs[0]) // trims what the attempt does not keep
	var raws []json.RawMessage
	if len(earlier) > 0 && json.Unmarshal(earlier, &raws) != nil {
		raws = nil
	}
	for _, r := range reqs[1:] {
		raws = append(raws, r.Encode())
	}
	if len(raws) > maxRecordedRequests {
		raws = raws[len(raws)-maxRecordedRequests:]
	}
	last := len(raws) - 1
	raws = raws[keptFrom(raws[:last], len(raws[last])):]
	out, _ := json.Marshal(raws)
	return out
}

// requests decodes the record's requests, with the answer of the last, when its output
// holds it, filled in from the output; none when they cannot be read.
func (r *Record) requests() []workflows.Request {
	var out []workflows.Request
	if len(r.Requests) > 0 && json.Unmarshal(r.Requests, &out) != nil {
		return nil
	}
	if n := len(out); n > 0 && out[n-1].Status > 0 && out[n-1].Response == nil && !r.Sensitive {
		if v, err := r.output(); err == nil {
			out[n-1].Response = workflows.AnswerOf(v)
		}
	}
	return out
}

// firstStarted is when the unit of a retrying record started its first attempt, or
// that of a parked one (a wait step's, a workflow step's waiting for its child) first
// parked (ms, Redis's clock).
func (r *Record) firstStarted() int64 {
	if r.Started > 0 {
		return r.Started
	}
	return r.Finished - r.DurationMS
}

// requestsApart is the record's requests with the last one's answer recorded in it,
// not left to the output: for the record of a later attempt, whose output is not this
// one's. (Only a retry carries requests on.)
func (r *Record) requestsApart() json.RawMessage {
	list := r.requests()
	if len(list) == 0 {
		return r.Requests
	}
	data, err := httpjson.Marshal(list)
	if err != nil {
		return r.Requests
	}
	return data
}

// encodeRecord is the one encoder of records.
//
// It writes what json.Marshal would, by hand: every commit encodes a record, and
// Marshal would check and copy again the output and the requests. Both are JSON by the
// way they are made, so neither is checked again here: an output is what newRecord or
// the planner encoded with jsonenc (which writes what encoding/json writes, fuzzed
// against it; a value it cannot encode becomes the record's error instead), requests
// are what appendRequests and requestsApart encoded, and a record read back from a run
// was decoded whole, its output and requests with it.
func encodeRecord(r *Record) []byte {
	b := make([]byte, 0, 64+len(r.Output)+len(r.Error)+len(r.Version)+len(r.Requests))
	b = jsonenc.AppendString(append(b, `{"status":`...), string(r.Status), true)
	b = appendInt(b, `,"attempt":`, int64(r.Attempt))
	b = appendInt(b, `,"finished":`, r.Finished)
	b = appendInt(b, `,"duration_ms":`, r.DurationMS)
	b = appendInt(b, `,"retry_at":`, r.RetryAt)
	b = appendInt(b, `,"started":`, r.Started)
	b = appendInt(b, `,"ended":`, r.Ended)
	if len(r.Output) > 0 {
		b = append(append(b, `,"output":`...), r.Output...)
	}
	if r.Error != "" {
		b = jsonenc.AppendString(append(b, `,"error":`...), r.Error, true)
	}
	if r.Version != "" {
		b = jsonenc.AppendString(append(b, `,"version":`...), r.Version, true)
	}
	b = appendInt(b, `,"items":`, int64(r.Items))
	if r.ForEach {
		b = append(b, `,"for_each":true`...)
	}
	if r.TimedOut {
		b = append(b, `,"timed_out":true`...)
	}
	if len(r.Requests) > 0 {
		b = append(append(b, `,"requests":`...), r.Requests...)
	}
	if r.Sensitive {
		b = append(b, `,"sensitive":true`...)
	}
	if r.Resume {
		b = append(b, `,"resume":true`...)
	}
	if r.Held != "" {
		b = jsonenc.AppendString(append(b, `,"held":`...), r.Held, true)
	}
	return append(b, '}')
}

// appendInt appends a field of an integer, left out when 0 (omitempty).
func appendInt(b []byte, field string, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, field...), n, 10)
}

// newRecord is the record of an attempt with its output encoded. An output that
// cannot be recorded (a NaN, or one nesting deeper than workflows.MaxStoredDepth,
// which no reader of the run would read back) is the record's error instead, and
// fails a step that succeeded: nothing after it could read what it gave.
func newRecord(status Status, attempt int, output any, err error) *Record {
	r := &Record{Status: status, Attempt: attempt}
	if output != nil {
		data, mErr := encodeOutput(output)
		if mErr != nil {
			r.Error = mErr.Error()
			if r.Status == StatusSucceeded {
				r.Status = StatusFailed
			}
		} else {
			r.Output = data
		}
	}
	if err != nil {
		r.Error = strings.TrimSuffix(err.Error()+"; "+r.Error, "; ")
	}
	return r
}

// encodeOutput is an output as a record keeps it: nil and an error saying why for one
// that cannot be recorded.
func encodeOutput(output any) ([]byte, error) {
	data, err := jsonenc.Marshal(output)
	if err == nil {
		err = workflows.CheckStoredDepth(data)
	}
	if err != nil {
		return nil, fmt.Errorf("output cannot be recorded: %w", err)
	}
	return data, nil
}

// decodeRecord is the one decoder of records.
func decodeRecord(data string) (*Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// output decodes the record's output, with integers exact.
func (r *Record) output() (any, error) {
	if len(r.Output) == 0 {
		return nil, nil
	}
	return workflows.DecodeStored(r.Output)
}

// value is what later steps read as steps.NAME: the step's output with its outcome
// (and error, when it failed) beside the output's own fields. outcome is always the
// step's; error only where the output has no field of that name. An output that is not
// an object is under value. A for_each step's value is its list (or map) of items.
func (r *Record) value() (any, error) {
	out, err := r.output()
	if err != nil {
		return nil, err
	}
	if r.ForEach {
		return out, nil
	}
	var stepErr error
	if r.Error != "" {
		stepErr = errors.New(r.Error)
	}
	return stepValue(r.Status, out, stepErr), nil
}

// stepValue is the value of a step (or an item) with this outcome.
func stepValue(status Status, output any, err error) map[string]any {
	m, _ := output.(map[string]any)
	v := make(map[string]any, len(m)+2)
	for k, x := range m {
		v[k] = x
	}
	if output != nil && m == nil {
		v["value"] = output
	}
	v["outcome"] = string(status)
	if _, ok := v["error"]; !ok && err != nil {
		v["error"] = err.Error()
	}
	return v
}

// Fields of a run hash. Scripts use the same prefixes.
const (
	recordPrefix = "s:" // s:<step or parallel block>: its Record
	countPrefix  = "j:" // j:<for_each step or parallel block>: its units still to settle
	parkedPrefix = "p:" // p:<parallel block>: its wait steps parked (scripts/park.lua)
)

// runRecord is what the planner reads of a run: the records of its steps and parallel
// blocks, the counts of their units still to settle, and the items of for_each steps
// where they were read (the join of a for_each step, a replay).
type runRecord struct {
	steps  map[string]*Record
	counts map[string]int
	items  map[string]*itemSet
}

// itemSet is a for_each step's items: how many, their keys (for a map), and the
// records of those that settled or are retrying.
type itemSet struct {
	n       int
	keys    []any // nil for a list: the keys are the indexes
	records map[int]*Record
}

// key is item i's key: its index in a list, its key in a map.
func (s *itemSet) key(i int) any {
	if s.keys == nil {
		return i
	}
	return s.keys[i]
}

// readRecord reads the records and counts of a run hash.
func readRecord(fields map[string]string) (*runRecord, error) {
	rec := &runRecord{steps: map[string]*Record{}, counts: map[string]int{}, items: map[string]*itemSet{}}
	for k, v := range fields {
		switch {
		case strings.HasPrefix(k, recordPrefix):
			r, err := decodeRecord(v)
			if err != nil {
				return rec, fmt.Errorf("record of %s: %w", k[len(recordPrefix):], err)
			}
			rec.steps[k[len(recordPrefix):]] = r
		case strings.HasPrefix(k, countPrefix):
			n, err := strconv.Atoi(v)
			if err != nil {
				return rec, fmt.Errorf("count of %s: %w", k[len(countPrefix):], err)
			}
			rec.counts[k[len(countPrefix):]] = n
		}
	}
	return rec, nil
}
