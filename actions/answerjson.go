package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// BrokenJSONError is an answer whose Content-Type says it is JSON and whose body does
// not parse as JSON: cut short (a proxy or server that closed it mid-way with a
// length it had not sent), or not JSON at all (a maintenance page). Its output would
// hold the body as text, and steps.NAME.body.orders would be nil: the step fails
// instead. Another attempt may pass, as after a network error.
type BrokenJSONError struct {
	ContentType  string
	Syntax       string // what the JSON decoder says
	Line, Column int    // where the body stops being JSON
	// CutAt is the body's length when it ends before its JSON does; -1 when not.
	CutAt int
}

func (e *BrokenJSONError) Error() string {
	cut := ""
	if e.CutAt >= 0 {
		cut = fmt.Sprintf(", after its last byte (%d): the answer was cut short", e.CutAt)
	}
	return fmt.Sprintf("the answer says it is JSON (Content-Type %q) but does not parse as JSON: %s, at line %d, column %d%s",
		e.ContentType, e.Syntax, e.Line, e.Column, cut)
}

// brokenJSON returns why data, the body of an answer of contentType, says it is JSON
// and does not parse as JSON; nil for any other body, an empty one among them (a 204,
// or an answer to HEAD). Invalid UTF-8 in a string is read as U+FFFD, as the step
// reads it, not taken for broken JSON.
func brokenJSON(contentType string, data []byte) error {
	if !isJSON(contentType) || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var v any
	var syntax *json.SyntaxError
	if err := json.Unmarshal(data, &v); !errors.As(err, &syntax) {
		return nil
	}
	e := &BrokenJSONError{ContentType: contentType, Syntax: syntax.Error(), CutAt: -1}
	at := min(max(int(syntax.Offset)-1, 0), len(data)) // the byte where it stopped being JSON
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&v); errors.Is(err, io.ErrUnexpectedEOF) {
		at, e.CutAt = len(data), len(data)
	}
	text := string(data[:at])
	e.Line = 1 + strings.Count(text, "\n")
	e.Column = at - strings.LastIndex(text, "\n")
	return e
}
