package admin

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/engine"
)

// A resume URL is a capability: whoever has it resumes its run, no token needed. A step
// that sent one (the message asking for an approval) keeps it in its recorded request,
// and a log or an output may hold one too. The read-only role must not get one, so
// every answer to it that may hold a run's values (the API's, the pages', a run as a
// test) is held back and its resume tokens redacted (Access.Redact) before
// it is sent: one place, whatever the endpoint, JSON, HTML or text. The operator's
// answers are left as recorded: the operator may resume any run anyway.

// redactsFor reports whether an answer to the read-only role on path may hold a run's
// values: everything but the metrics and the pages' assets.
func redactsFor(path string) bool {
	return path != "/metrics" && !strings.HasPrefix(path, "/assets/")
}

// redactingWriter holds an answer back, to send it with its resume tokens redacted.
type redactingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *redactingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *redactingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// finish sends the answer held back, redacted with redact (nil: by the tokens' shape).
func (w *redactingWriter) finish(ctx context.Context, redact func(context.Context, []byte) []byte) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var body []byte
	if redact != nil {
		body = redact(ctx, w.body.Bytes())
	} else {
		body = engine.RedactResumeTokens(w.body.Bytes())
	}
	if w.Header().Get("Content-Length") != "" {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.ResponseWriter.Write(body)
}
