package triggers

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the events the triggers receive, and the webhook and resume requests
// refused. A nil *Metrics counts nothing.
//
// Labels hold workflow names from the files and small fixed sets: never a request's
// path, headers or body, which a sender chooses and which may carry secrets.
type Metrics struct {
	received  *prometheus.CounterVec // workflow, trigger
	filtered  *prometheus.CounterVec // workflow
	duplicate *prometheus.CounterVec // workflow
	pollFails *prometheus.CounterVec // workflow
	rejected  [numReasons]prometheus.Counter
	resumes   [numResumeReasons]prometheus.Counter // refused
}

// NewMetrics registers the triggers' metrics with reg; a nil reg gives nil: no metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		return nil
	}
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_events_received_total",
			Help: "Events handed to a workflow, by workflow and trigger (webhook, schedule, poll, manual): a webhook request that passed its checks counts once for each workflow on its path, before their filters; a schedule's tick once, by the process that started its run; a poll's new item once."},
			[]string{"workflow", "trigger"}),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_events_filtered_total",
			Help: "Webhook events a workflow's filter turned down: no run started."},
			[]string{"workflow"}),
		duplicate: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_events_duplicate_total",
			Help: "Webhook events a workflow had started a run for already (dedupe): no run started."},
			[]string{"workflow"}),
		pollFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_poll_failures_total",
			Help: "Polls of a poll trigger that failed (the API unreachable or answering other than 2xx, items not a list, Redis unavailable): no run started."},
			[]string{"workflow"}),
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_events_rejected_total",
		Help: "Webhook requests answered 4xx or 5xx, by reason. Only busy and unavailable come after runs may have started: on a path that several workflows share, the ones before the failure."},
		[]string{"reason"})
	for r := range numReasons {
		m.rejected[r] = rejected.WithLabelValues(reasonNames[r]) // every reason shows, from 0
	}
	resumes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_resumes_refused_total",
		Help: "Requests for resume URLs answered 4xx or 5xx, by reason: bad_token counts the tokens hookflow did not sign (guesses, links damaged or redacted). Nothing was resumed."},
		[]string{"reason"})
	for r := range numResumeReasons {
		m.resumes[r] = resumes.WithLabelValues(resumeReasonNames[r])
	}
	reg.MustRegister(m.received, m.filtered, m.duplicate, m.pollFails, rejected, resumes)
	return m
}

// Received counts an event handed to workflow by trigger: webhook, schedule or manual.
func (m *Metrics) Received(workflow, trigger string) {
	if m != nil {
		m.received.WithLabelValues(workflow, trigger).Inc()
	}
}

func (m *Metrics) pollFailed(workflow string) {
	if m != nil {
		m.pollFails.WithLabelValues(workflow).Inc()
	}
}

func (m *Metrics) reject(r reason) {
	if m != nil {
		m.rejected[r].Inc()
	}
}

func (m *Metrics) refuseResume(r resumeReason) {
	if m != nil {
		m.resumes[r].Inc()
	}
}

// routeCounts are a webhook's counters, looked up when its router is built, so that a
// request only adds to them. A nil *routeCounts counts nothing.
type routeCounts struct {
	received, filtered, duplicate prometheus.Counter
}

func (m *Metrics) route(workflow string) *routeCounts {
	if m == nil {
		return nil
	}
	return &routeCounts{received: m.received.WithLabelValues(workflow, "webhook"),
		filtered: m.filtered.WithLabelValues(workflow), duplicate: m.duplicate.WithLabelValues(workflow)}
}

func (c *routeCounts) receive() {
	if c != nil {
		c.received.Inc()
	}
}

func (c *routeCounts) filter() {
	if c != nil {
		c.filtered.Inc()
	}
}

func (c *routeCounts) repeat() {
	if c != nil {
		c.duplicate.Inc()
	}
}

// reason is why a webhook request was refused: the reason label of
// hookflow_events_rejected_total.
type reason uint8

const (
	notFound         reason = iota // no webhook at the path
	methodNotAllowed               // a webhook at the path, not for the method
	rateLimited                    // over a webhook's rate_limit
	tooLarge                       // the body is over max_body
	readError                      // the body could not be read: the sender stopped, or was too slow, or sent no Content-Length on HTTP/1.0
	badSignature                   // the verify block refused it: a signature missing, wrong or stale
	unsupportedType                // the body is not text
	badBody                        // the body does not parse as its content type says
	busy                           // too many runs unfinished (--max-queued): the workers are behind
	unavailable                    // the run could not be queued: Redis failed or did not answer
	shuttingDown                   // the process is stopping
	overloaded                     // too many connections open, or bodies in memory: past --max-conns or the body budget
	badPath                        // the path is not clean, or holds a control character or bytes that are not UTF-8; or the query string does not parse, or is not UTF-8
	numReasons
)

var reasonNames = [numReasons]string{"not_found", "method_not_allowed", "rate_limited", "too_large", "read_error",
	"bad_signature", "unsupported_type", "bad_body", "busy", "unavailable", "shutting_down", "overloaded", "bad_path"}

// resumeReason is why a request for a resume URL was refused: the reason label of
// hookflow_resumes_refused_total.
type resumeReason uint8

const (
	resumeBadToken         resumeReason = iota // the token is not one hookflow signed: a guess, or a link damaged or redacted
	resumeNotFound                             // the token's wait is over: it timed out, or its run ended or expired
	resumeResumed                              // the wait was resumed already
	resumeMethodNotAllowed                     // neither GET, HEAD nor POST
	resumeTooLarge                             // the body is over the limit
	resumeReadError                            // the body could not be read, or has no Content-Length on HTTP/1.0
	resumeUnsupportedType                      // the body is not text, or is compressed
	resumeBadBody                              // the body does not parse as its content type says
	resumeBadQuery                             // the query string does not parse, or is not UTF-8
	resumeUnavailable                          // Redis failed or did not answer
	resumeShuttingDown                         // the process is stopping
	numResumeReasons
)

var resumeReasonNames = [numResumeReasons]string{"bad_token", "not_found", "resumed", "method_not_allowed", "too_large",
	"read_error", "unsupported_type", "bad_body", "bad_query", "unavailable", "shutting_down"}

// Option configures NewWebhooks, NewResumes and NewScheduler.
type Option func(*options)

type options struct {
	metrics    *Metrics
	bodyBudget int64
}

// WithBodyBudget caps the bytes of webhook bodies held in memory at once (being read,
// or read and not yet answered); past it, webhooks are answered 503 with Retry-After.
// One client may hold a quarter of it. The default is DefaultBodyBudget.
func WithBodyBudget(n int64) Option {
	return func(o *options) { o.bodyBudget = n }
}

// WithMetrics counts events and refusals in m.
func WithMetrics(m *Metrics) Option {
	return func(o *options) { o.metrics = m }
}

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
