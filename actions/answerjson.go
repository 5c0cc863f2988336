package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// BrokenJSONError is an answer whose Content-Type says it is JSON and whose body does
// not parse as JSON: cut short (a proxy or server that closed it mid-way with a
// length it had not sent), or not JSON at all (a maintenance page, JSON lines sent as
// application/json), or JSON that hookflow does not read (a number no float64 holds,
// nesting deeper than workflows.MaxJSONDepth). Its output would hold the body as text, and
// steps.NAME.body.orders would be nil: the step fails instead. Only an answer cut
// short may pass on another attempt, and only when sending the request again is safe:
// the server took it (a 2xx), so another attempt repeats it unless its method is
// idempotent or it carries an Idempotency-Key. Any other fails the step for good.
type BrokenJSONError struct {
	ContentType  string
	Syntax       string // what the JSON decoder says
	Line, Column int    // where the body stops being JSON
	// CutAt is the body's length when it ends before its JSON does; -1 when not.
	CutAt int
	// Resendable says the request may be sent again: its method is idempotent, or it
	// carried an Idempotency-Key.
	Resendable bool
	// Step names the step, for the hint of a failure for good; "" for a poll's request.
	Step string
	// Unread is JSON that parses but holds what hookflow does not read
	// (workflows.JSONValueError): Syntax says what.
	Unread bool
}

func (e *BrokenJSONError) Error() string {
	cut := ""
	if e.CutAt >= 0 {
		cut = fmt.Sprintf(", after its last byte (%d): the answer was cut short", e.CutAt)
	}
	fails := "does not parse as JSON"
	if e.Unread {
		fails = "hookflow cannot read it"
	}
	msg := fmt.Sprintf("the answer says it is JSON (Content-Type %q) but %s: %s, at line %d, column %d%s",
		e.ContentType, fails, e.Syntax, e.Line, e.Column, cut)
	if retry, _ := e.RetryHint(); retry || e.Step == "" {
		return msg
	}
	if e.CutAt >= 0 {
		msg += "; it is not sent again, as the server took it and it carries no Idempotency-Key"
	}
	if e.Unread {
		return msg + fmt.Sprintf(`. on_error = "continue" on the step goes on with its text in steps.%s.body`, e.Step)
	}
	return msg + fmt.Sprintf(`. The body is not JSON: on_error = "continue" on the step goes on with its text in steps.%s.body`, e.Step)
}

// RetryHint: an answer cut short may come whole on another attempt, when the request
// may be sent again; any other will not.
func (e *BrokenJSONError) RetryHint() (bool, time.Duration) {
	return e.CutAt >= 0 && e.Resendable, 0
}

// brokenJSON returns why data, the body of an answer of contentType, says it is JSON
// and does not parse as JSON, or holds what hookflow does not read (a
// workflows.JSONValueError: the step's body is then its text as well); nil for any
// other body, an empty one among them (a 204, or an answer to HEAD). Invalid UTF-8 in
// a string is not taken for broken JSON; a byte order mark before the JSON is passed
// over, as the step's body is read (jsonText).
func brokenJSON(contentType string, data []byte) *BrokenJSONError {
	data = jsonText(contentType, data)
	if !isJSON(contentType) || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var v any
	var syntax *json.SyntaxError
	var e *BrokenJSONError
	var at int // the byte where it stopped being JSON, or the value not read starts
	if err := json.Unmarshal(data, &v); errors.As(err, &syntax) {
		e = &BrokenJSONError{ContentType: contentType, Syntax: syntax.Error(), CutAt: -1}
		at = min(max(int(syntax.Offset)-1, 0), len(data))
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&v); errors.Is(err, io.ErrUnexpectedEOF) {
			at, e.CutAt = len(data), len(data)
		}
	} else {
		var unread *workflows.JSONValueError
		if _, err := workflows.DecodeJSON(data); !errors.As(err, &unread) {
			return nil
		}
		e = &BrokenJSONError{ContentType: contentType, Syntax: unread.Reason, CutAt: -1, Unread: true}
		at = min(max(unread.Offset, 0), len(data))
	}
	text := string(data[:at])
	e.Line = 1 + strings.Count(text, "\n")
	e.Column = at - strings.LastIndex(text, "\n")
	return e
}

// jsonText is the body of an answer of contentType as it is parsed: a JSON body
// without the byte order mark it may start with (some servers, .NET's and Windows
// tools', put one there; RFC 8259 lets a parser ignore it).
func jsonText(contentType string, data []byte) []byte {
	if isJSON(contentType) {
		return bytes.TrimPrefix(data, workflows.ByteOrderMark)
	}
	return data
}

// resendable reports whether req may be sent again after the server took it: its
// method is idempotent (RFC 9110), or it carries an Idempotency-Key.
func resendable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}
