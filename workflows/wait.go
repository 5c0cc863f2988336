package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Waiter is the action of a step that pauses its run until something outside resumes
// it, or its timeout passes (the wait step). The engine runs it: the run's job waits in
// the queue, holding no worker, and resume_url("NAME") is the URL that resumes it.
type Waiter interface {
	// Continues reports whether the step goes on, with timed_out = true, when its
	// timeout passes (on_timeout = "continue"); else it fails.
	Continues() bool
	// Parks reports whether the engine parks the run at the step. When it does not (a
	// dry run, hookflow test), the action's Do gives the step's output at once.
	Parks() bool
}

// Resume is what resumed a wait step: the body, headers and query of the request, or
// a resume given another way (hookflow runs resume, a test's resume block).
type Resume struct {
	ContentType string              `json:"content_type,omitempty"`
	Raw         string              `json:"raw,omitempty"`
	Headers     map[string]string   `json:"headers,omitempty"` // lower-case names; credentials redacted
	Query       map[string][]string `json:"query,omitempty"`
	At          time.Time           `json:"at"`
}

// NewResume makes the resume of a request: its body parsed by its content type (JSON,
// a form, text), its headers with the values of credential headers (Authorization,
// cookies, signatures) replaced by [redacted], as the webhook intake keeps them, and
// its query. It fails as ParseBody does for a body that does not parse.
func NewResume(contentType string, raw []byte, header http.Header, query map[string][]string) (*Resume, error) {
	if _, err := ParseBody(contentType, raw); err != nil {
		return nil, err
	}
	return &Resume{ContentType: contentType, Raw: string(raw), Headers: KeptHeaders(header), Query: query,
		At: time.Now().UTC()}, nil
}

// DecodeResume reads a resume encoded as JSON.
func DecodeResume(data []byte) (*Resume, error) {
	var r Resume
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decoding the resume: %w", err)
	}
	return &r, nil
}

// Output is the wait step's output for this resume: {body, headers, query,
// timed_out = false}, the body parsed by its content type.
func (r *Resume) Output() (map[string]any, error) {
	body, err := ParseStoredBody(r.ContentType, []byte(r.Raw))
	if err != nil {
		return nil, err
	}
	headers := make(map[string]any, len(r.Headers))
	for k, v := range r.Headers {
		headers[k] = v
	}
	return map[string]any{"body": body, "headers": headers, "query": formValue(r.Query), "timed_out": false}, nil
}

// ErrWaitTimedOut is what fails a wait step whose timeout passed with on_timeout =
// "fail"; WaitTimedOut gives the error, with the timeout.
var ErrWaitTimedOut = errors.New("no resume came")

// WaitTimedOut is the error of a wait step whose timeout passed with on_timeout =
// "fail", the same whether the step parked its run or was answered locally (a test):
// "timed out after 3d: no resume came".
func WaitTimedOut(timeout time.Duration) error {
	return fmt.Errorf("timed out after %s: %w", FormatDuration(timeout), ErrWaitTimedOut)
}

// TimedOutOutput is the output of a wait step whose timeout passed with on_timeout =
// "continue".
func TimedOutOutput() map[string]any {
	return map[string]any{"body": nil, "headers": map[string]any{}, "query": map[string]any{}, "timed_out": true}
}
