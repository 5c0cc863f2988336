package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is what starts a run: a webhook request, a schedule tick or a manual start.
// It is stored with the run as JSON; Body is not stored but parsed again from Raw, with
// the same rules, so that what a step sees does not depend on where it runs.
type Event struct {
	ID          string              `json:"id"`
	Trigger     string              `json:"trigger"` // webhook, schedule, poll, manual or workflow
	ReceivedAt  time.Time           `json:"received_at"`
	Method      string              `json:"method,omitempty"`
	Path        string              `json:"path,omitempty"`
	Params      map[string]string   `json:"params,omitempty"`
	Query       map[string][]string `json:"query,omitempty"`
	Headers     map[string]string   `json:"headers,omitempty"` // lower-case names
	ContentType string              `json:"content_type,omitempty"`
	Raw         string              `json:"raw"`
	Body        any                 `json:"-"`
	// Parent is, for a run started by a workflow step, the run and step that started
	// it (Trigger is "workflow").
	Parent *EventParent `json:"parent,omitempty"`
	// Poll is, for a run started by a poll trigger, the poll that found its item:
	// {time, page}.
	Poll map[string]any `json:"poll,omitempty"`

	sealed *sealed // set by Seal
}

// sealed is what Seal fixed of an event: its expression value, built once. It holds
// for the event it was made for, not for a copy (whose fields may have changed).
type sealed struct {
	of    *Event
	value map[string]any
}

// Seal parses Raw into Body by ContentType, as DecodeEvent does, and fixes the event:
// its fields must not change after. Value then returns the one value built here to
// every caller (who read it, never write it), and AsStored returns the event itself.
// A webhook's event is sealed: the filter that accepts it and the worker that runs its
// first step read the same value, built once. The error is ParseBody's.
func (e *Event) Seal() error {
	body, err := ParseBody(e.ContentType, []byte(e.Raw)) // a body arriving
	if err != nil {
		return err
	}
	e.Body = body
	e.sealed = nil
	e.sealed = &sealed{of: e, value: e.Value()}
	return nil
}

// AsStored is the event as a worker reads it back from the run it was stored with
// (Marshal, then DecodeEvent), without encoding and decoding it: the event itself
// when it is sealed, else a copy with the body parsed again from Raw; nil when the body
// does not parse, and for an event with a poll's free-form values, which decoding gives
// their JSON types.
func (e *Event) AsStored() *Event {
	if e.isSealed() {
		return e
	}
	if e.Poll != nil {
		return nil
	}
	body, err := e.parseRaw()
	if err != nil {
		return nil
	}
	c := *e
	c.Body, c.sealed = body, nil
	return &c
}

// parseRaw is Raw parsed by ContentType, as the event's Body.
func (e *Event) parseRaw() (any, error) {
	return ParseStoredBody(e.ContentType, []byte(e.Raw))
}

func (e *Event) isSealed() bool {
	return e.sealed != nil && e.sealed.of == e
}

// Value returns the event as expressions see it: event.body, event.headers and so on.
// A sealed event's value is built once, and shared.
func (e *Event) Value() map[string]any {
	if e.isSealed() {
		return e.sealed.value
	}
	params := make(map[string]any, len(e.Params))
	for k, v := range e.Params {
		params[k] = v
	}
	headers := make(map[string]any, len(e.Headers))
	for k, v := range e.Headers {
		headers[k] = v
	}
	v := map[string]any{
		"id":          e.ID,
		"trigger":     e.Trigger,
		"received_at": e.ReceivedAt.UTC().Format(time.RFC3339Nano),
		"method":      e.Method,
		"path":        e.Path,
		"params":      params,
		"query":       formValue(e.Query),
		"headers":     headers,
		"body":        e.Body,
		"raw":         e.Raw,
	}
	if e.Parent != nil {
		v["parent"] = e.Parent.value()
	}
	if e.Poll != nil {
		v["poll"] = e.Poll
	}
	return v
}

// DecodeEvent reads an event stored with Marshal and parses its body again.
func DecodeEvent(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decoding event: %w", err)
	}
	body, err := e.parseRaw()
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	e.Body = body
	return &e, nil
}

// DecodeSealedEvent is DecodeEvent with the event sealed, as Seal seals one arriving:
// its fields must not change after, and Value returns one value, built here, to every
// caller. It is for an event read back once and shared by the workers of its run's
// units (the engine's cache of large events).
func DecodeSealedEvent(data []byte) (*Event, error) {
	e, err := DecodeEvent(data)
	if err != nil {
		return nil, err
	}
	e.sealed = &sealed{of: e, value: e.Value()}
	return e, nil
}

// ErrBody marks a body that does not parse as its content type says it should.
var ErrBody = errors.New("malformed body")

// ErrNotText marks a body of a content type hookflow does not parse that is not text
// either, such as an image: an event holds JSON, a form or text.
var ErrNotText = errors.New("body is not text")

// ParseBody parses a request body by its content type:
//   - JSON (application/json, anything+json): parsed, or ErrBody (invalid UTF-8 too,
//     a byte order mark before it, and an object with a key given twice).
//   - form (application/x-www-form-urlencoded): an object of fields; a field given
//     twice becomes a list. A form body that starts with { or [ is read as JSON,
//     because that is what `curl -d '{...}'` sends: ErrBody if it is not valid JSON,
//     or holds a key twice.
//   - no content type: JSON when it parses as JSON (ErrBody when it holds a key
//     twice: it is read back as JSON once stored), the text otherwise.
//   - anything else: the text, if it is UTF-8; ErrNotText otherwise.
//
// An empty body is nil. ParseBody is for a body arriving (a webhook, a resume);
// ParseStoredBody reads one kept before.
func ParseBody(contentType string, raw []byte) (any, error) {
	return parseBody(contentType, raw, arriving)
}

// ParseStoredBody parses a body as ParseBody does, but for one that was taken before:
// a form body that starts with { or [ and is not JSON, which an older hookflow took as
// a form, is read as a form, so that a run, a replay or a resume kept before reads its
// body as it was taken; and an API's answer, which hookflow records as it came. An
// object with a key given twice keeps its last value, as encoding/json reads it.
func ParseStoredBody(contentType string, raw []byte) (any, error) {
	return parseBody(contentType, raw, stored)
}

// ExactBody is the event's body parsed from Raw as Body is, but with each number of a
// JSON body the json.Number it was written as: Body holds a float64 for a number with a
// fraction or an exponent, or a whole one past 64 bits, which may not keep its digits
// (12345678901234567890123 is 1.2345678901234568e+22 there). It is for sending the
// body again as it came, where a number must stay as the sender wrote it.
func (e *Event) ExactBody() (any, error) {
	return parseBody(e.ContentType, []byte(e.Raw), storedExact)
}

// bodyReading is how parseBody reads a body: as it arrives (ParseBody), as it was
// stored (ParseStoredBody), or as stored with its numbers exact (ExactBody).
type bodyReading int

const (
	arriving bodyReading = iota
	stored
	storedExact
)

// decode decodes JSON as r reads it. A switch, not a function value, so that raw does
// not escape: ParseStoredBody's caller may give a copy of a string on its stack.
func (r bodyReading) decode(raw []byte) (any, error) {
	switch r {
	case arriving:
		return decodeUnique(raw)
	case storedExact:
		return decodeExact(raw)
	}
	return decodeAny(raw)
}

// parseBody is ParseBody, ParseStoredBody or ExactBody, as r says.
func parseBody(contentType string, raw []byte, r bodyReading) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	media := ""
	if contentType != "" {
		m, err := MediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("%w: content type %q: %v", ErrBody, contentType, err)
		}
		media = m
	}
	switch {
	case IsJSONMedia(media):
		if !utf8.Valid(raw) {
			// Decoding would put U+FFFD in its place: event.raw would not be what was
			// signed, nor event.body what was sent.
			return nil, fmt.Errorf("%w: JSON that is not valid UTF-8 (RFC 8259 requires it)", ErrBody)
		}
		if bytes.HasPrefix(raw, ByteOrderMark) {
			return nil, fmt.Errorf("%w: a JSON body may not start with a byte order mark (RFC 8259, 8.1); send it without the bytes EF BB BF", ErrBody)
		}
		v, err := r.decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBody, err)
		}
		return v, nil
	case media == "application/x-www-form-urlencoded":
		if looksLikeJSON(raw) && utf8.Valid(raw) {
			v, err := r.decode(raw)
			var dup *duplicateKeyError
			switch {
			case err == nil:
				return v, nil
			case errors.As(err, &dup):
				return nil, fmt.Errorf("%w: %v", ErrBody, err) // JSON, but not to be taken
			case r == arriving:
				// Read as a form, it would be one odd field, and most likely filtered
				// out without a word: say what is wrong instead.
				return nil, fmt.Errorf("%w: it looks like JSON but is not: %s; send it with Content-Type: application/json",
					ErrBody, strings.TrimPrefix(err.Error(), "invalid JSON: "))
			}
		}
		fields, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: form: %v", ErrBody, err)
		}
		if !utf8.Valid(raw) || !formUTF8(fields) {
			return nil, fmt.Errorf("%w: form fields that are not valid UTF-8", ErrBody)
		}
		return formValue(fields), nil
	case media == "":
		if looksLikeJSON(raw) && utf8.Valid(raw) {
			v, err := r.decode(raw)
			var dup *duplicateKeyError
			switch {
			case err == nil:
				return v, nil
			case errors.As(err, &dup):
				// JSON all the same, as it is read back once stored: not a text.
				return nil, fmt.Errorf("%w: %v", ErrBody, err)
			}
		}
	}
	if !utf8.Valid(raw) {
		if media == "" {
			return nil, fmt.Errorf("%w: a body without a content type must be JSON or UTF-8 text", ErrNotText)
		}
		return nil, fmt.Errorf("%w: a body of type %s must be UTF-8 text; hookflow takes JSON, forms and text", ErrNotText, media)
	}
	return string(raw), nil
}

// ByteOrderMark is U+FEFF in UTF-8, which RFC 8259 forbids before JSON sent.
var ByteOrderMark = []byte{0xEF, 0xBB, 0xBF}

func looksLikeJSON(raw []byte) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// formUTF8 reports whether every name and value of a form, percent-decoded, is UTF-8.
func formUTF8(fields url.Values) bool {
	for k, vs := range fields {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// formValue turns repeated fields into lists and single ones into strings, the shape
// people expect from query strings and forms.
func formValue(fields map[string][]string) map[string]any {
	out := make(map[string]any, len(fields))
	for k, vs := range fields {
		if len(vs) == 1 {
			out[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[k] = list
	}
	return out
}

// MaxJSONDepth is how deeply JSON may nest. Real payloads stay under 20; deeper ones
// are refused before decoding, so a hostile body cannot make decoding expensive.
const MaxJSONDepth = 64

// DecodeJSON decodes one JSON value. Integers that fit in 64 bits become int, so that
// ids and amounts print and compare exactly; other numbers become float64. JSON that
// nests deeper than MaxJSONDepth, or holds a number no float64 holds, is refused.
func DecodeJSON(data []byte) (any, error) {
	return decodeAny(data)
}

// MaxStoredDepth is how deeply what a run stores may nest: step outputs, for_each
// items, poll cursors. What arrives nests MaxJSONDepth deep at most, but a run wraps
// it: an http step's output holds its answer's body one level down, a for_each step's
// output its items' two levels down, and a template or a later step puts any of them
// into objects of its own. Twice MaxJSONDepth leaves room for all of that, and stays
// cheap to decode. A run writes nothing deeper (CheckStoredDepth): a step whose output
// would fails, so that every reader of a stored value (later steps, the admin API, a
// sync webhook's answer) reads back what was written, with this one limit.
const MaxStoredDepth = 2 * MaxJSONDepth

// DecodeStored decodes, as DecodeJSON does, a value a run stored, which may nest
// MaxStoredDepth deep.
func DecodeStored(data []byte) (any, error) {
	return decodeOne(decoder{data: data, maxDepth: MaxStoredDepth})
}

// CheckStoredDepth says whether data, JSON, nests within MaxStoredDepth, as a run must
// store it for DecodeStored to read it back: a *DepthError when it does not.
func CheckStoredDepth(data []byte) error {
	depth, deepest := 0, 0
	in := false // in a string
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case in:
			switch c {
			case '\\':
				i++
			case '"':
				in = false
			}
		case c == '"':
			in = true
		case c == '{' || c == '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	if deepest > MaxStoredDepth {
		return &DepthError{Depth: deepest}
	}
	return nil
}

// DepthError is a value a run would store nesting deeper than MaxStoredDepth.
type DepthError struct{ Depth int }

func (e *DepthError) Error() string {
	return fmt.Sprintf("it nests %d levels deep, past the %d a run stores", e.Depth, MaxStoredDepth)
}
