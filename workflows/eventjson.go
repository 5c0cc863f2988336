package workflows

import (
	"slices"
	"strconv"

	"github.com/hookflow/hookflow/internal/jsonenc"
)

// Encode is the event's JSON, as json.Marshal writes it but without reflection: every
// run's start encodes its event.
func (e *Event) Encode() ([]byte, error) {
	b := make([]byte, 0, 128+len(e.Raw)+len(e.Raw)/8+64*len(e.Headers))
	b = jsonenc.AppendString(append(b, `{"id":`...), e.ID, true)
	b = jsonenc.AppendString(append(b, `,"trigger":`...), e.Trigger, true)
	b = append(b, `,"received_at":"`...)
	b, err := e.ReceivedAt.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, '"')
	if e.Method != "" {
		b = jsonenc.AppendString(append(b, `,"method":`...), e.Method, true)
	}
	if e.Path != "" {
		b = jsonenc.AppendString(append(b, `,"path":`...), e.Path, true)
	}
	if len(e.Params) > 0 {
		b = jsonenc.AppendStrings(append(b, `,"params":`...), e.Params, true)
	}
	if len(e.Query) > 0 {
		if b, err = jsonenc.Append(append(b, `,"query":`...), e.Query, true); err != nil {
			return nil, err
		}
	}
	if len(e.Headers) > 0 {
		b = jsonenc.AppendStrings(append(b, `,"headers":`...), e.Headers, true)
	}
	if e.ContentType != "" {
		b = jsonenc.AppendString(append(b, `,"content_type":`...), e.ContentType, true)
	}
	b = jsonenc.AppendString(append(b, `,"raw":`...), e.Raw, true)
	if p := e.Parent; p != nil {
		b = jsonenc.AppendString(append(b, `,"parent":{"run_id":`...), p.RunID, true)
		b = jsonenc.AppendString(append(b, `,"workflow":`...), p.Workflow, true)
		b = jsonenc.AppendString(append(b, `,"step":`...), p.Step, true)
		b = jsonenc.AppendString(append(b, `,"job":`...), p.Job, true)
		b = append(strconv.AppendInt(append(b, `,"depth":`...), int64(p.Depth), 10), '}')
	}
	if len(e.Poll) > 0 {
		if b, err = jsonenc.Append(append(b, `,"poll":`...), e.Poll, true); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// Encode is the request's JSON, as json.Marshal writes it but without reflection: every
// http step records its requests.
func (r *Request) Encode() []byte {
	b := make([]byte, 0, 128+len(r.URL)+len(r.Body)+len(r.Error)+64*len(r.Headers))
	if r.Response != nil {
		b = slices.Grow(b, len(r.Response.Body)+64*len(r.Response.Headers))
	}
	b = strconv.AppendInt(append(b, `{"attempt":`...), int64(r.Attempt), 10)
	if r.Page != 0 {
		b = strconv.AppendInt(append(b, `,"page":`...), int64(r.Page), 10)
	}
	b = jsonenc.AppendString(append(b, `,"method":`...), r.Method, true)
	b = jsonenc.AppendString(append(b, `,"url":`...), r.URL, true)
	if len(r.Headers) > 0 {
		b = jsonenc.AppendStrings(append(b, `,"headers":`...), r.Headers, true)
	}
	if r.Body != "" {
		b = jsonenc.AppendString(append(b, `,"body":`...), r.Body, true)
	}
	if r.Status != 0 {
		b = strconv.AppendInt(append(b, `,"status":`...), int64(r.Status), 10)
	}
	b = strconv.AppendInt(append(b, `,"duration_ms":`...), r.DurationMS, 10)
	if a := r.Response; a != nil {
		b = append(b, `,"response":{`...)
		comma := false
		if len(a.Headers) > 0 {
			b = jsonenc.AppendStrings(append(b, `"headers":`...), a.Headers, true)
			comma = true
		}
		if a.Body != "" {
			if comma {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(append(b, `"body":`...), a.Body, true)
		}
		b = append(b, '}')
	}
	if r.Error != "" {
		b = jsonenc.AppendString(append(b, `,"error":`...), r.Error, true)
	}
	if r.Lost {
		b = append(b, `,"lost":true`...)
	}
	return append(b, '}')
}
