package actions

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/workflows"
)

// APIs holds what the api blocks share across every hookflow process through Redis:
// OAuth2 tokens. One value serves every load of the workflows, so that a reload keeps
// the tokens it has. Until Connect gives it a Redis, or without one (hookflow validate,
// a dry run), what it holds is kept in this process only.
type APIs struct {
	rdb atomic.Pointer[redisRef]
	now func() time.Time
	// lockTTL is how long the lock of a token's fetch lives unless extended:
	// tokenLockTTL.
	lockTTL time.Duration

	mu     sync.Mutex
	tokens map[string]*tokenSource // by api name and the token's configuration

	limits atomic.Pointer[map[string]apiLimits] // the workflows in use's limits, by api name (Use)

	metrics apiMetrics
}

// apiMetrics count, per api, the calls sent, the calls its limits held back, and the
// 429 answers.
type apiMetrics struct {
	calls, waits, tooMany *prometheus.CounterVec
}

// Describe and Collect make APIs a prometheus.Collector of its metrics.
func (a *APIs) Describe(ch chan<- *prometheus.Desc) {
	a.metrics.calls.Describe(ch)
	a.metrics.waits.Describe(ch)
	a.metrics.tooMany.Describe(ch)
}

func (a *APIs) Collect(ch chan<- prometheus.Metric) {
	a.metrics.calls.Collect(ch)
	a.metrics.waits.Collect(ch)
	a.metrics.tooMany.Collect(ch)
}

type redisRef struct{ c redis.UniversalClient }

// NewAPIs returns an APIs with no Redis yet.
func NewAPIs() *APIs {
	return &APIs{now: time.Now, lockTTL: tokenLockTTL, tokens: map[string]*tokenSource{}, metrics: apiMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_api_calls_total",
			Help: "Calls of http steps to an api, admitted by its limits."}, []string{"api"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_api_waits_total",
			Help: "Calls an api's limits held back, queued again without holding a worker, by reason: rate_limit, concurrency or retry_after."},
			[]string{"api", "reason"}),
		tooMany: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookflow_api_429_total",
			Help: "Answers 429 Too Many Requests an api gave."}, []string{"api"}),
	}}
}

// Connect makes the apis' state shared through rdb from now on.
func (a *APIs) Connect(rdb redis.UniversalClient) {
	a.rdb.Store(&redisRef{rdb})
}

// Use makes the limits of apis, the api blocks of the workflows now in use, the ones
// every call of an api of the same name is admitted by, whatever version of the
// workflows its run started with: a reload that lowers a rate_limit slows the backlog
// already queued too. A call of an api apis does not name keeps its version's limits.
func (a *APIs) Use(apis []*workflows.API) {
	m := make(map[string]apiLimits, len(apis))
	for _, api := range apis {
		m[api.Name] = limitsOf(api)
	}
	a.limits.Store(&m)
}

// limitsOf returns the limits the workflows in use give the api named name, or own.
func (a *APIs) limitsOf(name string, own apiLimits) apiLimits {
	if m := a.limits.Load(); m != nil {
		if l, ok := (*m)[name]; ok {
			return l
		}
	}
	return own
}

// redis returns the Redis the state is shared through, nil for none.
func (a *APIs) redis() redis.UniversalClient {
	if r := a.rdb.Load(); r != nil {
		return r.c
	}
	return nil
}

// tokenSource returns the one token source of an api's oauth2 configuration.
func (a *APIs) tokenSource(api *workflows.API) *tokenSource {
	o := api.Auth.OAuth2
	parts := []string{o.TokenURL, o.ClientID, strings.Join(o.Scopes, " "), o.Audience, o.Grant}
	id, legacyID := configID(api.Name, parts...), ""
	if o.RefreshToken != "" {
		// Another refresh token in the file, given after the user consented again,
		// starts another state rather than the one rotated from the first: a hash of
		// it, never itself, is part of the identity. The state named without it, as
		// before, is taken over once.
		h := sha256.Sum256([]byte("hookflow oauth2 refresh token\x00" + o.RefreshToken))
		id, legacyID = configID(api.Name, append(parts, hex.EncodeToString(h[:]))...), id
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ts := a.tokens[id]; ts != nil && ts.cfg.ClientSecret == o.ClientSecret && ts.cfg.RefreshToken == o.RefreshToken &&
		ts.cfg.ClientAuth == o.ClientAuth {
		return ts
	}
	ts := newTokenSource(a, api.Name, id, legacyID, o)
	if old := a.tokens[id]; old != nil {
		// The same state, another client_secret (or client_auth): the token kept in
		// Redis, sealed with the old secret, cannot be read, and what this process
		// knows of the state goes on, its latest refresh token first.
		ts.carryOver(old)
	}
	a.tokens[id] = ts
	return ts
}

// configID names an api's state in Redis: its name and a hash of what its state
// depends on, so that a changed configuration starts afresh. The api name is a hash
// tag: every key of one api is in one slot of a Redis Cluster.
func configID(name string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "{hf:api:" + name + "}:" + hex.EncodeToString(h[:6])
}

var _ prometheus.Collector = (*APIs)(nil)
