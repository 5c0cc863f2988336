package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/embedredis"
)

// redisLog sends go-redis's own messages (every failed dial while Redis is down) to
// the debug level; hookflow reports outages itself, once per few seconds. Its Sentinel
// client's are the exception (sentinelLog): a new primary, and Sentinels that fail.
type redisLog struct {
	log      *slog.Logger
	sentinel *sentinelLog
}

func newRedisLog(log *slog.Logger) redisLog {
	return redisLog{log: log, sentinel: newSentinelLog(log)}
}

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.sentinel.printf(ctx, format, v...) {
		return
	}
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// closing is close, the release of a client that logs to l, then the writing of the
// lines l held back: serve and worker close Redis last, and the line of the last
// Sentinel that failed comes before their stopped line.
func (l redisLog) closing(close func()) func() {
	return func() {
		close()
		l.sentinel.flush()
	}
}

// openRedis connects to the Redis at url, or, with no url, starts the embedded
// in-memory one. close releases both. The same redis:// URL names a standalone Redis or
// any node of a Redis Cluster: hookflow asks the server (INFO cluster, or CLUSTER INFO
// where an ACL denies INFO), and on a cluster uses a cluster client, seeded with the
// URL's host and every ?addr=host:port.
// redis+sentinel://host:26379,host2:26379/mymaster[/db] names a primary that Sentinel
// manages. A rediss:// URL (rediss+sentinel://) takes the files of files. No error it
// returns holds the URL's password or a Sentinel's (redisURL.hide).
func openRedis(ctx context.Context, url string, files redisTLS, workers int, log *slog.Logger) (rdb redis.UniversalClient, mode string, close func(), err error) {
	rl := newRedisLog(log)
	redis.SetLogger(rl)
	if url == "" {
		if files.given() {
			return nil, "", nil, badFlag(files.firstFlag(), ": applies to a Redis given with --redis; the embedded Redis is in this process")
		}
		return openEmbedded(ctx, workers, log)
	}
	u, err := splitRedisURL(url)
	if err != nil {
		return nil, "", nil, err
	}
	rdb, mode, close, err = openReal(ctx, u, files, workers, log, rl.sentinel)
	if err != nil {
		return nil, "", nil, u.hide(err)
	}
	return rdb, mode, rl.closing(close), nil
}

// openEmbedded starts the embedded in-memory Redis and connects to it.
func openEmbedded(ctx context.Context, workers int, log *slog.Logger) (rdb redis.UniversalClient, mode string, close func(), err error) {
	mini, err := embedredis.StartInMemory()
	if err != nil {
		return nil, "", nil, fmt.Errorf("starting embedded Redis: %w", err)
	}
	log.Warn("no --redis given: using the embedded in-memory Redis; queued work lives in this process's memory and is lost when it stops. Use --redis redis://… for durable queues")
	// Its connections are in-memory pipes (embedredis's Dial) to small replies:
	// go-redis's default buffers (32 KiB each way, 128 KiB for pipelines) were a
	// quarter of the live heap under load, all of it held in this process.
	// It has no port: only this process reaches it, through Dial.
	// Maintenance notifications (a Redis server telling its clients it is about to
	// move) are off: this server never moves, and go-redis's default, auto, would
	// look the name "embedded" up in DNS to pick the kind of address to be told.
	opts := &redis.Options{Addr: "embedded", Dialer: mini.Dial, ReadBufferSize: embeddedBuffer,
		WriteBufferSize: embeddedBuffer, PipelineReadBufferSize: embeddedBuffer, PipelineWriteBufferSize: embeddedBuffer,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}}
	tune(&opts.PoolSize, &opts.MaxRetries, workers)
	tuneDial(&opts.DialerRetries, &opts.DialerRetryTimeout)
	rdb = redis.NewClient(opts)
	stopExpiry := expireKeys(mini)
	close = func() {
		_ = rdb.Close()
		stopExpiry()
		mini.Close()
	}
	if err := ping(ctx, rdb, "the embedded Redis", log, time.Now().Add(reachWithin)); err != nil {
		close()
		return nil, "", nil, &unreachableError{fmt.Errorf("cannot reach Redis at the embedded Redis: %w", deadlineSaid(ctx, err, reachWithin))}
	}
	return rdb, engine.RedisEmbedded, close, nil
}

// openReal connects to the Redis u names; a Sentinel client's dials are watched by sl.
func openReal(ctx context.Context, u *redisURL, files redisTLS, workers int, log *slog.Logger, sl *sentinelLog) (rdb redis.UniversalClient, mode string, close func(), err error) {
	reachBy := time.Now().Add(reachWithin) // one budget for finding the server and its answer
	var where string
	switch u.scheme {
	case "redis+sentinel", "rediss+sentinel":
		opts, err := parseSentinelURL(u.raw)
		if err != nil {
			return nil, "", nil, err
		}
		if err := files.apply(opts.TLSConfig, u.scheme); err != nil {
			return nil, "", nil, err
		}
		tune(&opts.PoolSize, &opts.MaxRetries, workers)
		tuneDial(&opts.DialerRetries, &opts.DialerRetryTimeout)
		primary, err := askSentinels(ctx, opts, reachBy)
		if err != nil {
			return nil, "", nil, err
		}
		sl.watch(newSentinelDials(opts))
		rdb, mode = redis.NewFailoverClient(opts), engine.RedisSentinel
		where = "the primary " + opts.MasterName + " (" + primary + ", as Sentinel " + strings.Join(opts.SentinelAddrs, ",") + " named it)"
	default:
		rdb, mode, where, err = openURL(ctx, u, files, workers, reachBy, log)
		if err != nil {
			return nil, "", nil, err
		}
	}
	close = func() { _ = rdb.Close() }
	// A server found just before reachBy still has a second to answer.
	if soon := time.Now().Add(time.Second); reachBy.Before(soon) {
		reachBy = soon
	}
	if err := ping(ctx, rdb, where, log, reachBy); err != nil {
		if refused := refusedURL(err, where); refused != nil {
			close()
			return nil, "", nil, refused
		}
		if denied := engine.Denied(err); denied != err {
			close()
			return nil, "", nil, fmt.Errorf("the Redis at %s: %w", where, denied) // exit status 1: an ACL does not change by waiting
		}
		err = clusterTold(ctx, rdb, 0, tlsHint(deadlineSaid(ctx, err, reachWithin), u.scheme))
		close()
		return nil, "", nil, &unreachableError{fmt.Errorf("cannot reach Redis at %s: %w", where, err)}
	}
	return rdb, mode, close, nil
}

// loadingPoll is how often a Redis loading its dataset is asked again.
const loadingPoll = time.Second

// reachWithin is how long a Redis has to answer when hookflow starts: one that
// refuses connections (restarted, not yet listening) or does not answer is asked
// again until then.
const reachWithin = 5 * time.Second

// reachPoll is how often a Redis that refused a connection is tried again.
const reachPoll = 250 * time.Millisecond

// ping checks that Redis answers, by deadline. A Redis that answers LOADING
// (restarted, it reads its AOF or RDB file back into memory, which may take minutes)
// is working and will answer: that is waited out, however long it takes (until ctx
// ends: a signal), and logged once. A reply that refuses (a wrong password) fails at
// once. A last try cut short by the deadline says less than the one before it
// (connection refused, an unknown certificate authority), which is returned.
func ping(ctx context.Context, rdb redis.UniversalClient, where string, log *slog.Logger, deadline time.Time) error {
	var before error // the last try's error, that deadline did not cut short
	for logged := false; ; {
		pingCtx, cancel := context.WithDeadline(ctx, deadline)
		err := rdb.Ping(pingCtx).Err()
		cancel()
		var reply redis.Error
		switch {
		case err == nil:
			return nil
		case before != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return before
		case redis.IsLoadingError(err):
			if !logged {
				log.Warn("Redis is loading its dataset into memory; waiting for it", "redis", where)
				logged = true
			}
			deadline = time.Now().Add(loadingPoll + reachWithin) // loading: it answers
			if !sleepCtx(ctx, loadingPoll) {
				return fmt.Errorf("while Redis was loading its dataset: %w", ctx.Err())
			}
		case errors.As(err, &reply), time.Now().Add(reachPoll).After(deadline):
			return err
		default:
			before = err
			if !sleepCtx(ctx, reachPoll) {
				return err
			}
		}
	}
}

// sleepCtx waits d, or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// embeddedBuffer is the size of each buffer of a connection to the embedded Redis.
const embeddedBuffer = 4 << 10

// tune sizes a pool for every worker committing at once, and each shard's fetcher
// holding a connection while it waits; and makes commands fail fast when Redis is
// down: a webhook is answered 503 (its sender retries) and a worker retries its commit
// itself, so go-redis's default of 3 command retries only delays the answer. URL
// options still win.
func tune(poolSize, maxRetries *int, workers int) {
	if *poolSize == 0 {
		*poolSize = 10*runtime.GOMAXPROCS(0) + workers
	}
	if *maxRetries == 0 {
		*maxRetries = 1
	}
}

// tuneDial makes a dial to a Redis that is down give up after 2 attempts 50ms apart,
// not go-redis's 5 (nearly 2s).
func tuneDial(retries *int, timeout *time.Duration) {
	if *retries == 0 {
		*retries = 2
		*timeout = 50 * time.Millisecond
	}
}

// redisURLHelp is the forms --redis takes, for its usage errors.
const redisURLHelp = "give redis://[user:password@]host:port/db (rediss:// for TLS; a cluster node, with more seed nodes as ?addr=host:port and db 0), or redis+sentinel://[user:password@]host:26379,host2:26379/primary-name/db"

// openURL connects to a redis:// or rediss:// URL: a standalone Redis, or a node of a
// cluster, which it asks.
func openURL(ctx context.Context, u *redisURL, files redisTLS, workers int, reachBy time.Time, log *slog.Logger) (rdb redis.UniversalClient, mode, where string, err error) {
	// The URL with its password hidden is parsed first: what its parsers quote of a
	// URL that does not parse is then no piece of the password. The user info itself
	// was checked by splitRedisURL.
	if _, _, err := parseURL(u.shown); err != nil {
		return nil, "", "", badFlag("redis", ": %s; %s", u.scrub(err.Error()), redisURLHelp)
	}
	opts, seeds, err := parseURL(u.raw)
	if err != nil {
		return nil, "", "", badFlag("redis", ": the URL's user or password does not parse; percent-encode it; %s", redisURLHelp)
	}
	if err := files.apply(opts.TLSConfig, u.scheme); err != nil {
		return nil, "", "", err
	}
	warnSkipVerify(opts.TLSConfig, log)
	tune(&opts.PoolSize, &opts.MaxRetries, workers)
	tuneDial(&opts.DialerRetries, &opts.DialerRetryTimeout)
	cluster, err := isCluster(ctx, opts, seeds, reachBy, u.scheme)
	if err != nil {
		return nil, "", "", err
	}
	if !cluster {
		if len(seeds) > 0 {
			return nil, "", "", badFlag("redis", ": ?addr= names more nodes of a Redis Cluster, and %s is not one (INFO cluster says cluster_enabled:0, or CLUSTER INFO says it has no cluster support)", opts.Addr)
		}
		return redis.NewClient(opts), engine.RedisStandalone, opts.Addr, nil
	}
	if opts.DB != 0 {
		return nil, "", "", badFlag("redis", ": %s is a Redis Cluster node, and a cluster has only database 0: drop /%d from the URL", opts.Addr, opts.DB)
	}
	addrs := append([]string{opts.Addr}, seeds...)
	co := &redis.ClusterOptions{Addrs: addrs, Username: opts.Username, Password: opts.Password,
		TLSConfig: opts.TLSConfig, DialTimeout: opts.DialTimeout, ReadTimeout: opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout, PoolSize: opts.PoolSize, MinIdleConns: opts.MinIdleConns,
		MaxRetries: opts.MaxRetries, DialerRetries: opts.DialerRetries, DialerRetryTimeout: opts.DialerRetryTimeout,
		// A failover moves slots: a command may be redirected (MOVED) or told to wait
		// (TRYAGAIN, CLUSTERDOWN) a few times while the cluster settles.
		MaxRedirects: 8,
		// A MOVED reply makes the client reload its slot map at once, but a primary
		// killed, and not back, answers nothing: the client would go on dialing it
		// until its next reload, a minute by default, long after its replica took its
		// place. A reload is one CLUSTER SLOTS to one node.
		ClusterStateReloadInterval: clusterReload}
	return redis.NewClusterClient(co), engine.RedisCluster, strings.Join(addrs, ","), nil
}

// parseURL reads a redis:// or rediss:// URL into go-redis's options, and the seed
// nodes of its ?addr=.
func parseURL(url string) (*redis.Options, []string, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, nil, unquoted(err)
	}
	q := u.Query()
	seeds := q["addr"]
	q.Del("addr")
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	return opts, seeds, err
}

// clusterReload is how often the Redis client reloads a Redis Cluster's slot map while
// commands flow: how long after a failover ends at most it goes on sending the
// commands of the slots that moved to a primary that is gone.
const clusterReload = time.Second

// isCluster asks the nodes of addr and seeds, all at once, whether they are nodes of
// a Redis Cluster, and takes the first answer; it tries again until deadline while none
// answers, then says why each did not. A node whose Redis user may run neither INFO
// nor CLUSTER INFO cannot tell, and waiting does not change an ACL: that is an error at
// once.
func isCluster(ctx context.Context, opts *redis.Options, seeds []string, deadline time.Time, scheme string) (bool, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	addrs := append([]string{opts.Addr}, seeds...)
	reasons := map[string]error{}
	for {
		cluster, answered, err := askCluster(ctx, opts, addrs, reasons)
		if answered || err != nil {
			return cluster, err
		}
		if !sleepCtx(ctx, reachPoll) {
			return false, &unreachableError{fmt.Errorf("cannot reach Redis: %s", reasonsOf(addrs, reasons, scheme))}
		}
	}
}

// askCluster is one try of isCluster: answered says whether a node answered, cluster
// what the first one did; reasons keeps why each of the others did not. err is a node
// that refused the URL's user or password (refusedURL), or one that answered but
// cannot tell (clusterUntold), when no other node told.
func askCluster(ctx context.Context, opts *redis.Options, addrs []string, reasons map[string]error) (cluster, answered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := askEach(ctx, addrs, func(ctx context.Context, addr string) (bool, error) {
		o := *opts
		o.Addr, o.DB, o.PoolSize = addr, 0, 1
		c := redis.NewClient(&o)
		defer c.Close()
		return clusterEnabled(ctx, c)
	})
	var untold *clusterUntold
	for range addrs {
		a := <-answers
		switch {
		case a.err == nil:
			return a.val, true, nil
		case refusedURL(a.err, a.addr) != nil:
			return false, true, refusedURL(a.err, a.addr)
		case errors.As(a.err, &untold):
		default:
			keepReason(ctx, reasons, a.addr, a.err)
		}
	}
	if untold != nil {
		return false, false, untold
	}
	return false, false, nil
}

// clusterEnabled asks the Redis of c whether it is a node of a Redis Cluster: INFO
// cluster says cluster_enabled. An ACL that denies INFO (-@dangerous does) still
// allows CLUSTER INFO, which a node answers and a Redis without cluster support
// refuses ("cluster support disabled"). A server that answers INFO without that
// section is a Redis-compatible one that is no cluster, unless CLUSTER INFO says
// otherwise. A user that may run neither is a *clusterUntold; one that cannot log in
// (NOAUTH, WRONGPASS) is an error, as is no answer.
func clusterEnabled(ctx context.Context, c *redis.Client) (bool, error) {
	info, err := c.Info(ctx, "cluster").Result()
	var reply redis.Error
	switch {
	case err == nil:
		return strings.Contains(info, "cluster_enabled:1"), nil
	case !errors.As(err, &reply), redis.HasErrorPrefix(err, "NOAUTH"), redis.HasErrorPrefix(err, "WRONGPASS"):
		return false, err
	}
	_, clusterErr := c.ClusterInfo(ctx).Result()
	switch {
	case clusterErr == nil:
		return true, nil
	case redis.HasErrorPrefix(clusterErr, "NOPERM"):
		return false, &clusterUntold{addr: c.Options().Addr, info: err, clusterInfo: clusterErr}
	case errors.As(clusterErr, &reply):
		return false, nil // it answered that it has no cluster, or has no CLUSTER command
	}
	return false, clusterErr
}

// clusterUntold is a node whose Redis user may run neither INFO nor CLUSTER INFO:
// hookflow cannot tell whether it is a node of a Redis Cluster, and a guess either way
// fails later, and less plainly (a cluster node answers most keys MOVED).
type clusterUntold struct {
	addr              string
	info, clusterInfo error
}

func (e *clusterUntold) Error() string {
	return fmt.Sprintf("cannot tell whether %s is a node of a Redis Cluster: its Redis user may run neither INFO (%v) nor CLUSTER INFO (%v), "+
		"which hookflow asks; allow it one of them (ACL SETUSER <user> +cluster|info, which Redis 7 allows with -@dangerous, and Redis 6 does not; docs/security.md)", e.addr, e.info, e.clusterInfo)
}

// parseSentinelURL reads redis+sentinel://[user:password@]host:port[,host:port...]/
// primary-name[/db][?sentinel_password=…]: the user and password are the primary's,
// sentinel_password the Sentinels' own when they have one. rediss+sentinel uses TLS to
// the Sentinels and the primary alike: go-redis gives its Sentinel clients the
// primary's TLSConfig and Dialer, so one cannot be plain and the other not.
func parseSentinelURL(url string) (*redis.FailoverOptions, error) {
	scheme, rest, _ := strings.Cut(url, "://")
	o := &redis.FailoverOptions{}
	if scheme == "rediss+sentinel" {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	rest, query, _ := strings.Cut(rest, "?")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var err error
		if o.Username, err = neturl.PathUnescape(user); err == nil {
			o.Password, err = neturl.PathUnescape(pass)
		}
		if err != nil {
			return nil, badFlag("redis", ": the user or password is not URL-escaped; %s", redisURLHelp)
		}
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			h = withSentinelPort(h)
			o.SentinelAddrs = append(o.SentinelAddrs, h)
		}
	}
	name, db, _ := strings.Cut(strings.Trim(path, "/"), "/")
	o.MasterName = name
	if len(o.SentinelAddrs) == 0 || name == "" {
		return nil, badFlag("redis", ": a Sentinel URL names its Sentinels and the primary; %s", redisURLHelp)
	}
	if db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return nil, badFlag("redis", ": database %q is not a number; %s", db, redisURLHelp)
		}
		o.DB = n
	}
	// Neither net/url's error nor an unknown name is quoted: either may be a piece of
	// the Sentinels' password ("invalid URL escape" quotes it, and a password holding
	// '&' goes on as a name).
	q, err := neturl.ParseQuery(query)
	if err != nil {
		return nil, badFlag("redis", ": the query after '?' does not parse: a '%%' must begin a %%XX escape (write '%%' as %%25), "+
			"and ';' separates nothing (write it as %%3B); %s", redisURLHelp)
	}
	for k := range q {
		switch {
		case k == "sentinel_password":
		case q.Has("sentinel_password"):
			return nil, badFlag("redis", ": a Sentinel URL takes only ?sentinel_password=, and this one has more after it; "+
				"a '&' in the password must be percent-encoded (%%26), as must '+' and '%%' (%%2B, %%25)")
		default:
			return nil, badFlag("redis", ": a Sentinel URL takes only ?sentinel_password=, not %q", k)
		}
	}
	o.SentinelPassword = q.Get("sentinel_password")
	return o, nil
}

// withSentinelPort gives a Sentinel address without a port Sentinel's default, 26379:
// host, [::1] and ::1 have none; host:26380 and [::1]:26380 have one.
func withSentinelPort(h string) string {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "26379")
}

// unquoted drops the URL from a net/url error: it quotes the URL, password and all.
func unquoted(err error) error {
	var bad *neturl.Error
	if errors.As(err, &bad) {
		return bad.Err
	}
	return err
}

// expireKeys makes the embedded Redis expire keys as time passes: miniredis counts
// time to live down only when told to. Without it, finished runs would stay in memory
// past their retention. Telling it takes its lock while it visits every key, so it is
// told once a minute: expiries are days away. It returns a function that stops it.
func expireKeys(m clock) (stop func()) {
	return expireKeysEvery(m, time.Minute)
}

// clock is the embedded Redis's: it moves when told.
type clock interface{ FastForward(time.Duration) }

func expireKeysEvery(m clock, expireEvery time.Duration) (stop func()) {
	last := time.Now()
	return everyTick(expireEvery, func(now time.Time) {
		m.FastForward(now.Sub(last))
		last = now
	})
}
