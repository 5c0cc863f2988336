package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/logthrottle"
)

// warnFewWaitedReplicas logs a warning at start when the Sentinel-managed primary of
// rdb has more replicas than --redis-wait-replicas asks to acknowledge a run: a
// Sentinel failover can then lose webhooks answered 2xx (docs/operations.md, Replicas
// and failover).
func warnFewWaitedReplicas(ctx context.Context, rdb redis.UniversalClient, wait int, log *slog.Logger) {
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		log.Warn("cannot read the Redis primary's replicas (INFO replication) to check --redis-wait-replicas against them", "err", err)
		return
	}
	if msg := fewWaitedReplicas(info, wait); msg != "" {
		log.Warn(msg)
	}
}

// fewWaitedReplicas says what a Sentinel failover can lose when 0 < wait < the
// connected replicas that the INFO replication text info counts; "" when nothing.
func fewWaitedReplicas(info string, wait int) string {
	replicas, ok := infoField(info, "connected_slaves")
	n, err := strconv.Atoi(replicas)
	if !ok || err != nil || wait == 0 || wait >= n {
		return ""
	}
	return fmt.Sprintf("--redis-wait-replicas %d with a primary that has %d replicas: a Sentinel failover can lose webhooks answered 2xx "+
		"(the old primary takes writes until it is told it was replaced, a replica that is not promoted acknowledges them, "+
		"then drops them when it turns to the new primary); set --redis-wait-replicas %d, all of them, to keep them through a failover",
		wait, n, n)
}

// infoField returns the value of name in the text of an INFO reply.
func infoField(info, name string) (string, bool) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v, true
		}
	}
	return "", false
}

// askSentinels asks every Sentinel of opts, all at once, for the address of its
// primary, until one names it, trying again until deadline while some cannot be
// reached, so that a start that cannot work says why once: a primary name no Sentinel
// knows (a wrong --redis), or each Sentinel's reason for not answering. go-redis would
// say "redis: nil", or only that its time ran out. It returns the primary's address.
func askSentinels(ctx context.Context, opts *redis.FailoverOptions, deadline time.Time) (string, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	reasons := map[string]error{}
	for {
		primary, err, retry := askSentinelsOnce(ctx, opts, reasons)
		if !retry || !sleepCtx(ctx, reachPoll) {
			return primary, err
		}
	}
}

// askSentinelsOnce is one try of askSentinels; retry says whether another may end
// otherwise: no Sentinel answered at all. reasons keeps each Sentinel's last failure,
// so that one whose last try was cut short by the deadline is reported by the try
// before (connection refused).
func askSentinelsOnce(ctx context.Context, opts *redis.FailoverOptions, reasons map[string]error) (primary string, err error, retry bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addrs := askEach(ctx, opts.SentinelAddrs, func(ctx context.Context, addr string) ([]string, error) {
		o := &redis.Options{Addr: addr, Username: opts.SentinelUsername, Password: opts.SentinelPassword,
			TLSConfig: opts.TLSConfig, DialTimeout: opts.DialTimeout, MaxRetries: -1, PoolSize: 1}
		tuneDial(&o.DialerRetries, &o.DialerRetryTimeout)
		s := redis.NewSentinelClient(o)
		defer s.Close()
		return s.GetMasterAddrByName(ctx, opts.MasterName).Result()
	})
	var unknown []string
	retry = true
	for range opts.SentinelAddrs {
		a := <-addrs
		var reply redis.Error
		switch {
		case a.err == nil && len(a.val) == 2:
			return net.JoinHostPort(a.val[0], a.val[1]), nil, false
		case errors.Is(a.err, redis.Nil):
			unknown = append(unknown, a.addr)
			delete(reasons, a.addr)
		case errors.As(a.err, &reply): // a refusal (a wrong sentinel_password) stays one
			retry = false
			reasons[a.addr] = a.err
		case a.err == nil:
			reasons[a.addr] = fmt.Errorf("it named the primary %q", a.val)
		default:
			keepReason(ctx, reasons, a.addr, a.err)
		}
	}
	slices.Sort(unknown)
	scheme := "redis+sentinel"
	if opts.TLSConfig != nil {
		scheme = "rediss+sentinel"
	}
	failed := reasonsOf(opts.SentinelAddrs, reasons, scheme)
	if len(unknown) > 0 {
		also := ""
		if failed != "" {
			also = "; and " + failed
		}
		return "", badFlag("redis", ": no Sentinel knows a primary named %q (%s answered, monitoring none by that name; "+
			"it is the NAME of \"sentinel monitor NAME …\" in their configuration, and SENTINEL MASTERS lists them)%s",
			opts.MasterName, strings.Join(unknown, ", "), also), false
	}
	if !retry { // a refusal: the URL is wrong, and waiting does not change that
		return "", &mismatchError{flagFailed("redis", ": no Sentinel of %s told its address: %s (the Sentinels' own password is ?sentinel_password=, the primary's the URL's user and password)",
			opts.MasterName, failed)}, false
	}
	return "", &unreachableError{fmt.Errorf("cannot reach Redis: no Sentinel of %s told its address: %s",
		opts.MasterName, failed)}, retry
}

// go-redis's Sentinel messages (sentinel.go in go-redis v9.23), by their format.
const (
	sentinelNewPrimary = `sentinel: new master=%q addr=%q`
	// sentinelAskedEach is a Sentinel that failed when go-redis asked all of them at
	// once, and canceled the others once one answered.
	sentinelAskedEach = `sentinel: GetMasterAddrByName addr=%s, master=%q failed: %s`
	// sentinelErrorEvery is how often Sentinels that fail are logged at most.
	sentinelErrorEvery = 10 * time.Second
)

// sentinelFailures are the formats of go-redis's messages about a Sentinel that failed
// to answer.
var sentinelFailures = map[string]bool{
	`sentinel: GetMasterAddrByName name=%q failed: %s`: true,
	sentinelAskedEach:                          true,
	`sentinel: Replicas name=%q failed: %s`:    true,
	`sentinel: Replicas master=%q failed: %s`:  true,
	`sentinel: Sentinels master=%q failed: %s`: true,
}

// sentinelLog logs what go-redis's Sentinel client says that matters to an operator:
// the primary it moved to (a failover), and Sentinels that fail (throttled: at most one
// line per sentinelErrorEvery, with the count of the ones left out).
type sentinelLog struct {
	log    *slog.Logger
	failed logthrottle.Throttle // the Sentinels that fail, one kind whatever failed

	mu        sync.Mutex
	primaries map[string]string // the address of each primary name, once found
	dials     *sentinelDials    // why dials failed, nil until a Sentinel client is made
}

// watch makes l take the reason a Sentinel was not reached from d.
func (l *sentinelLog) watch(d *sentinelDials) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dials = d
}

func newSentinelLog(log *slog.Logger) *sentinelLog {
	l := &sentinelLog{log: log, primaries: map[string]string{}}
	l.failed.Every = sentinelErrorEvery
	return l
}

// flush writes the line of a Sentinel that failed held back, if any: the client is
// closed, and the process's last line is next.
func (l *sentinelLog) flush() { l.failed.Flush() }

// printf logs a message of go-redis's Sentinel client, and reports whether it was
// one.
func (l *sentinelLog) printf(ctx context.Context, format string, v ...any) bool {
	switch {
	case format == sentinelNewPrimary && len(v) == 2:
		name, _ := v[0].(string)
		addr, _ := v[1].(string)
		l.mu.Lock()
		before := l.primaries[name]
		l.primaries[name] = addr
		l.mu.Unlock()
		switch before {
		case "":
			l.log.InfoContext(ctx, "Redis primary is "+addr+" (from Sentinel)", "primary", name)
		case addr:
			l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
		default:
			l.log.WarnContext(ctx, "Redis primary is now "+addr+" (Sentinel failover)", "primary", name, "was", before)
		}
		return true
	case sentinelFailures[format]:
		why := l.failure(ctx, format, v)
		if why == nil {
			l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
			return true
		}
		l.failed.LogKindContext(ctx, "sentinel failed", l.log, slog.LevelWarn,
			"a Redis Sentinel failed: "+strings.TrimPrefix(fmt.Sprintf(format, why...), "sentinel: "))
		return true
	}
	return false
}

// failure returns v, the arguments of go-redis's message of format that a Sentinel
// failed (ctx is the message's), or nil when it is no failure but go-redis's own
// cancellation: it asks every Sentinel at once and cancels the others once one
// answers. A Sentinel whose last dial failed before it was canceled failed all the
// same: its arguments say why (connection refused), not "context canceled".
func (l *sentinelLog) failure(ctx context.Context, format string, v []any) []any {
	if len(v) == 0 {
		return v
	}
	err, _ := v[len(v)-1].(error)
	if err == nil || ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return v
	}
	addr, _ := v[0].(string)
	l.mu.Lock()
	dials := l.dials
	l.mu.Unlock()
	if format != sentinelAskedEach || dials == nil {
		return nil
	}
	why := dials.failure(addr)
	if why == nil {
		return nil
	}
	return append(slices.Clone(v[:len(v)-1]), why)
}

// sentinelDials dials for a Sentinel client, its Sentinels and its primary alike, as
// go-redis does, and keeps why each address's last dial failed, until one succeeds.
type sentinelDials struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu     sync.Mutex
	failed map[string]error
}

// newSentinelDials makes the dials of the client of opts a *sentinelDials.
func newSentinelDials(opts *redis.FailoverOptions) *sentinelDials {
	o := &redis.Options{DialTimeout: opts.DialTimeout, TLSConfig: opts.TLSConfig}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second // go-redis's default
	}
	d := &sentinelDials{dial: redis.NewDialer(o), failed: map[string]error{}}
	opts.Dialer = d.dialContext
	return d
}

func (d *sentinelDials) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err == nil:
		delete(d.failed, addr)
	case !errors.Is(err, context.Canceled): // a dial canceled says nothing of addr
		d.failed[addr] = err
	}
	return c, err
}

// failure is why the last dial to addr failed, nil if it did not.
func (d *sentinelDials) failure(addr string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed[addr]
}
