package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/httpjson"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

type serveConfig struct {
	dir       string
	listen    string
	admin     string
	redisURL  string
	redisFile string   // --redis-file: where to read redisURL from
	redisTLS  redisTLS // --redis-tls-*
	workers   int
	lease     time.Duration
	maxQueued int
	retention days
	keepRuns  keepRuns
	allowNet  prefixList
	noWatch   bool
	logFormat string
	logLevel  string // --log-level: the least level of the lines written
	// metricsAddr, when set, is an address of its own for GET /metrics, /healthz and
	// /readyz: a worker has no other, and serve has them on the admin address too.
	metricsAddr string
	own         []ownListener // set by serve and worker once they listen
	access      accessConfig
	maxConns    int // open connections on --listen past which webhooks get 503
	// shards is --shards: 0 takes the count stored in Redis (engine.AgreeShards).
	shards       int
	waitReplicas int
	// publicURL is --public-url: the public listener as senders reach it, which the
	// resume URLs of wait steps start with. serve defaults it from --listen.
	publicURL string
	// limits, when set, replace listenerLimits on the webhook listener: shorter
	// timeouts, so that a test need not wait out the real ones.
	limits *httpLimits
	// rescan, when set, replaces the watcher's workflows.DefaultRescan: how often the
	// workflow directory is looked at without a change reported.
	rescan time.Duration
}

// ownListener is a listener of this process that steps may never call.
type ownListener struct{ addr, what string }

// leastLease is the shortest --lease. Heartbeats go every third of it, each a call to
// Redis that must be answered within that third: under a second, a pause of the
// process or of Redis loses the lease, and the step runs twice.
const leastLease = time.Second

// engineFlags adds the flags serve and worker share. A worker answers no webhooks and
// needs a real Redis, so some say what they do in it instead.
func engineFlags(fs *pflag.FlagSet, cfg *serveConfig, worker bool) {
	help := func(serve, inWorker string) string {
		if worker {
			return inWorker
		}
		return serve
	}
	fs.StringVar(&cfg.redisURL, "redis", "", help("Redis `URL`, e.g. redis://localhost:6379/0; empty runs an embedded in-memory Redis",
		"Redis `URL` the serve processes use, e.g. redis://redis:6379/0 (required)"))
	redisConnFlags(fs, &cfg.redisFile, &cfg.redisTLS)
	fs.Var(newAtLeast(&cfg.workers, 128, 1), "workers", "most steps executing at once in this process (at least 1)")
	fs.Var(newDuration(&cfg.lease, 30*time.Second, leastLease), "lease", "how long a step stays a worker's between heartbeats (at least 1s); a crashed worker's steps run again after this")
	fs.Var(newAtLeast(&cfg.maxQueued, 100_000, 0), "max-queued", help("unfinished runs past which starts are refused: webhooks are answered 503 with Retry-After, schedules and polls try again later (0: no limit)",
		"unfinished runs past which the workflow steps run here start no child run, and try again later, as serve answers webhooks 503; give serve's (0: no limit)"))
	cfg.retention = days(7 * 24 * time.Hour)
	fs.Var(&cfg.retention, "retention", "how long finished runs and dead letters are kept, e.g. 7d or 36h")
	fs.Var(&cfg.keepRuns, "keep-runs", help(fmt.Sprintf("most finished runs kept, each shard keeping its share (the cap divided by --shards), past which the oldest are dropped with their dead letters before --retention (0: no cap; default %d with the embedded Redis, 0 with --redis)", keepRunsEmbedded),
		"most finished runs kept, each shard keeping its share (the cap divided by --shards), past which the oldest are dropped with their dead letters before --retention; give serve's (default 0: no cap)"))
	fs.Var(&cfg.allowNet, "allow-net", "let steps call this private network (repeatable; a comma-separated list in the environment), e.g. 127.0.0.1/32")
	fs.Var(newOneOf(&cfg.logFormat, "text", "text", "json"), "log-format", "log format: text or json")
	fs.Var(newOneOf(&cfg.logLevel, "info", logLevelNames...), "log-level", "least level of the log lines written: debug, info, warn or error (warn leaves out a line per run, retry and resume)")
	fs.Var(newAtLeast(&cfg.shards, 0, 0), "shards", "queue shards (Redis Cluster slots) every process sharing the Redis uses; 0: the count stored in Redis by the first process, else 1, or 16 on a cluster")
	fs.Var(newAtLeast(&cfg.waitReplicas, 0, 0), "redis-wait-replicas", help("replicas that must acknowledge a run (Redis WAIT, up to 1s) before a webhook is answered 2xx; fewer: 503 (0: answer once the primary has it)",
		"replicas that must acknowledge a child run a workflow step starts here (Redis WAIT, up to 1s) before the step goes on; fewer: it tries again later (0: once the primary has it)"))
	fs.StringVar(&cfg.publicURL, "public-url", "", help("`URL` at which senders reach --listen, which resume_url() builds on, e.g. https://hooks.example.com (default: http://localhost:PORT of --listen)",
		"`URL` at which senders reach serve's --listen, which resume_url() builds on: give serve's, e.g. https://hooks.example.com (default: http://localhost:8080)"))
}

// webhookBase is what the inspector's webhook URLs and curl commands start with: the
// public listener as senders reach it, --public-url, else the address it listens on.
func webhookBase(publicURL, addr string) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/")
	}
	return "http://" + dialable(addr)
}

// resumeBase is what the resume URLs of wait steps start with: --public-url, else
// http://localhost:PORT of the public listener at listen (:8080 for none), then the
// path they are served under. A listen that is no address is a usage error, as serve
// says of it, not a port taken silently for another.
func resumeBase(publicURL, listen string) (string, error) {
	if err := checkListen("listen", listen); err != nil {
		return "", err
	}
	if publicURL == "" {
		_, port, _ := net.SplitHostPort(listen)
		if port == "" {
			port = "8080"
		}
		publicURL = "http://localhost:" + port
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", badFlag("public-url", " %q: give the URL senders reach this hookflow at, such as https://hooks.example.com", publicURL)
	}
	return strings.TrimSuffix(publicURL, "/") + triggers.ResumePrefix, nil
}

func serveCommand() *cobra.Command {
	cfg := serveConfig{dir: "."}
	cmd := &cobra.Command{
		Use:     "serve [DIR]",
		GroupID: "run",
		Short:   "Receive webhooks, fire schedules and run the workflows in DIR",
		Long: `serve loads the workflows in DIR (default: the current directory), serves their
webhooks under /hooks/ on --listen, fires their schedules, and runs their steps.
The admin API, /metrics, /healthz and /readyz are on --admin; keep it private.

Without --redis it runs an embedded in-memory Redis: right for trying hookflow out,
but work still queued when it stops is lost. With --redis, accepted events survive a
crash, and any number of serve and worker processes share the work.

Editing a workflow file reloads the directory; an invalid change is refused and the
old workflows keep serving. SIGHUP and POST /api/v1/reload reload too. SIGINT or
SIGTERM stops it: new webhooks are answered 503, steps in progress finish (up to 30s),
and the rest stays queued.`,
		Example: `  hookflow serve examples/quickstart
  hookflow serve --redis redis://localhost:6379/0 --allow-net 10.0.0.0/8 workflows/
  HOOKFLOW_REDIS=redis://redis:6379/0 HOOKFLOW_LOG_FORMAT=json hookflow serve /etc/hookflow`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.dir = args[0]
			}
			if err := checkPaths("", cfg.dir); err != nil {
				return err
			}
			var err error
			if cfg.redisURL, err = redisURLOf(cfg.redisURL, cfg.redisFile); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.listen, "listen", ":8080", "`address` for webhooks (/hooks/…) and /healthz")
	fs.StringVar(&cfg.admin, "admin", defaultAdmin, "`address` for the admin API, the run inspector, /metrics, /healthz and /readyz; keep it private")
	fs.StringVar(&cfg.metricsAddr, "metrics", "", "another `address` to serve /metrics, /healthz and /readyz on, apart from the admin API (none by default)")
	fs.Var(newAtLeast(&cfg.maxConns, 4096, 0), "max-conns", "open connections on --listen past which webhooks are answered 503 with Retry-After; past half of it, connections close after each answer; one client (an IPv4 address, an IPv6 /64) counts for a quarter of it at most, and while it holds more, its own requests get 503")
	accessFlags(fs, &cfg.access)
	fs.BoolVar(&cfg.noWatch, "no-watch", false, "do not reload the workflows when their files change (SIGHUP and POST /api/v1/reload still do)")
	engineFlags(fs, &cfg, false)
	return cmd
}

// serve runs hookflow until ctx ends or a listener fails.
func serve(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	// SIGHUP reloads the workflows; taken from the start, so that one sent while
	// starting does not stop the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, err := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	if err != nil {
		return err
	}
	s, err := startServer(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	return s.run(ctx, hup)
}

// run serves until ctx ends or a listener fails, then shuts down, and says so when it
// is over. Each signal on hup reloads the workflows, on a goroutine of its own: a
// reload that takes long does not hold up the shutdown (signals that come meanwhile
// make one reload after it).
func (s *server) run(ctx context.Context, hup <-chan os.Signal) error {
	done := make(chan struct{})
	defer close(done)
	reloadOnSignal(hup, s.config, done)
	select {
	case <-ctx.Done():
		s.log.Info("shutting down: no new webhooks; finishing steps in progress")
	case err := <-s.errc:
		s.log.Error("server failed; shutting down", "err", err)
	}
	began := time.Now()
	err := s.shutdown()
	s.hooks.FlushLogs() // the refusals held back come before the last line
	s.resumes.FlushLogs()
	logStopped(s.log, began, s.pool.Stopped(), err)
	return err
}

// logLevelNames are the values of --log-level, least first.
var logLevelNames = []string{"debug", "info", "warn", "error"}

// logLevels are the levels --log-level names.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
	"error": slog.LevelError}

// newLogger writes the lines of level and above ("" for info) to w, in format.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	least, ok := logLevels[level]
	if !ok && level != "" {
		return nil, usage("--log-level %q: use one of %s", level, strings.Join(logLevelNames, ", "))
	}
	opts := &slog.HandlerOptions{Level: least}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usage("--log-format %q: use text or json", format)
}

// server is a running hookflow: webhook listener, admin listener, workers and Redis.
type server struct {
	*engineRuntime
	public     *http.Server
	admin      *http.Server
	metricsOut *metricsListener // nil without cfg.metricsAddr
	publicAddr string
	adminAddr  string
	draining   atomic.Bool        // shutting down: new webhooks are answered 503
	intake     intake             // the webhook requests being handled
	conns      *connCap           // open connections on the public listener, by client
	pressured  atomic.Bool        // past half of --max-conns: no keep-alive
	keepMu     sync.Mutex         // orders the changes of keep-alive: pressure, then the drain
	triggers   *triggers.Runtimes // every trigger kind's: webhooks, schedules, polls
	hooks      *triggers.Webhooks // the webhooks' runtime, on the public listener
	resumes    *triggers.Resumes  // the resume URLs of wait steps, on the public listener
	config     *reloader
	stopWatch  context.CancelFunc
	errc       chan error
}

// engineRuntime is what serve and worker both run: the workflows, Redis, the engine and
// its workers.
type engineRuntime struct {
	log        *slog.Logger
	set        *workflows.Set
	kinds      *workflows.Kinds
	engine     *engine.Engine
	apis       *actions.APIs
	rdb        redis.UniversalClient // the engine's, for the admin API's signed-out sessions
	pool       *engine.Pool
	metrics    *prometheus.Registry
	build      build // what this process runs
	closeRedis func()

	warnings     int    // of set's files
	warningsText string // the warnings rendered, as load printed them
}

// startRuntime loads the workflows, connects to Redis and starts the workers.
func startRuntime(ctx context.Context, cfg serveConfig, log *slog.Logger, stderr io.Writer) (*engineRuntime, error) {
	guard := actions.NewGuard(cfg.allowNet)
	for _, o := range cfg.own {
		if err := guard.RefuseOwn(o.addr, o.what); err != nil {
			return nil, err
		}
	}
	client := actions.NewClient(guard)
	apis := actions.NewAPIs()
	k := kindsSharing(client, log, apis)
	set, n, warnings := loadAtStart(cfg.dir, k, log, diagnosticsTo(cfg.logFormat, stderr))
	if set == nil {
		return nil, exitError(1)
	}
	if len(set.Workflows()) == 0 {
		log.Warn("no workflows found", "dir", cfg.dir)
	}
	rdb, mode, closeRedis, err := openRedis(ctx, cfg.redisURL, cfg.redisTLS, cfg.workers, log)
	if err != nil {
		return nil, err
	}
	if mode == engine.RedisSentinel {
		warnFewWaitedReplicas(ctx, rdb, cfg.waitReplicas, log)
	}
	if cfg.redisURL == "" {
		stopLimit, closeStore := limitMemory(), closeRedis
		closeRedis = func() { stopLimit(); closeStore() }
	} else {
		paceCollector()
	}
	shards, err := engine.AgreeShards(ctx, rdb, cfg.shards)
	if errors.Is(err, engine.ErrShardsMismatch) {
		closeRedis()
		return nil, &mismatchError{err}
	}
	if errors.Is(err, engine.ErrDenied) || errors.Is(err, engine.ErrClusterNode) {
		closeRedis()
		return nil, err // exit status 1: neither an ACL nor a cluster changes by waiting
	}
	if err != nil {
		err = clusterTold(ctx, rdb, cfg.shards, err)
		closeRedis()
		return nil, &unreachableError{err}
	}
	apis.Connect(rdb)
	build := thisBuild()
	metrics := newRegistry(build)
	metrics.MustRegister(apis)
	resumes, err := resumeBase(cfg.publicURL, cfg.listen)
	if err != nil {
		closeRedis()
		return nil, err
	}
	keepRuns := cfg.keepRuns.of(cfg.redisURL == "")
	eng := engine.New(rdb, engine.Options{Logger: log, Lease: cfg.lease, Retention: time.Duration(cfg.retention),
		KeepRuns: keepRuns, KeepHeap: cfg.keepRuns.heap(cfg.redisURL == ""), MaxQueued: cfg.maxQueued, Kinds: k, Metrics: metrics, Shards: shards, RedisMode: mode,
		WaitReplicas: cfg.waitReplicas, ResumeBase: resumes})
	log.Info("redis", "mode", mode, "shards", shards, "wait_replicas", cfg.waitReplicas, "keep_runs", keepRuns)
	if mode != engine.RedisEmbedded {
		if warning := engine.EvictionWarning(ctx, rdb); warning != "" {
			log.Warn(warning)
		}
	}
	apis.Use(set.APIs())
	eng.Use(set)
	pool := eng.NewPool(cfg.workers)
	pool.Start()
	return &engineRuntime{log: log, set: set, warnings: n, warningsText: warnings, kinds: k, engine: eng, rdb: rdb,
		apis: apis, pool: pool, metrics: metrics, build: build, closeRedis: closeRedis}, nil
}

// The time budgets of a shutdown (docs/operations.md#stopping).
const (
	intakeGrace = 10 * time.Second // webhook requests being handled finish and queue their runs
	stepsGrace  = 30 * time.Second // steps in progress finish; the rest are handed back to the queue
	connsGrace  = time.Second      // the webhook listener's connections finish a 503 being written
	adminGrace  = 5 * time.Second  // the admin API's and metrics' requests finish
)

// stop stops the workers (steps in progress finish, up to stepsGrace; the rest are
// handed back to the queue), then closes Redis.
func (rt *engineRuntime) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stepsGrace)
	defer cancel()
	err := rt.pool.Stop(ctx)
	rt.closeRedis()
	return err
}

// startServer loads the workflows and starts everything; it returns once both
// listeners accept connections.
func startServer(ctx context.Context, cfg serveConfig, log *slog.Logger, stderr io.Writer) (*server, error) {
	for _, a := range []struct{ flag, addr string }{{"listen", cfg.listen}, {"admin", cfg.admin}} {
		if err := checkListen(a.flag, a.addr); err != nil {
			return nil, err
		}
	}
	publicLn, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, flagFailed("listen", ": %w", err)
	}
	access, err := cfg.access.access()
	if err == nil {
		if bind := access.CheckBind(cfg.admin); bind != nil {
			err = badFlag("admin", ": %v", bind) // a value of the command line, as a bad address
		}
	}
	if err != nil {
		publicLn.Close()
		return nil, err
	}
	adminLn, err := net.Listen("tcp", cfg.admin)
	if err != nil {
		publicLn.Close()
		return nil, flagFailed("admin", ": %w", err)
	}
	var metricsLn net.Listener
	if cfg.metricsAddr != "" {
		if metricsLn, err = listenMetrics(cfg.metricsAddr); err != nil {
			publicLn.Close()
			adminLn.Close()
			return nil, err
		}
	}
	if _, err := resumeBase(cfg.publicURL, ""); err != nil { // checked before anything starts
		publicLn.Close()
		adminLn.Close()
		return nil, err
	}
	cfg.listen = publicLn.Addr().String() // --listen :0 has its port now, for --public-url's default
	// Steps may never call this hookflow's admin API or metrics, whatever --allow-net
	// says: a URL taken from an event could read other runs through them.
	cfg.own = []ownListener{{adminLn.Addr().String(), "admin API"}}
	if metricsLn != nil {
		cfg.own = append(cfg.own, ownListener{metricsLn.Addr().String(), "metrics listener"})
	}
	rt, err := startRuntime(ctx, cfg, log, stderr)
	if err != nil {
		publicLn.Close()
		adminLn.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return nil, err
	}
	set := rt.set
	metrics := rt.metrics
	events := triggers.NewMetrics(metrics)

	s := &server{engineRuntime: rt, errc: make(chan error, 3),
		publicAddr: publicLn.Addr().String(), adminAddr: adminLn.Addr().String()}
	adminBase := "http://" + dialable(s.adminAddr)
	statusURL := func(id string) string { return adminBase + "/api/v1/runs/" + url.PathEscape(id) }
	s.triggers = triggers.Default().Start(triggers.Env{Engine: rt.engine, Log: log, StatusURL: statusURL,
		Options: []triggers.Option{triggers.WithMetrics(events)}})
	s.triggers.Use(set)
	s.hooks = s.triggers.Webhooks()

	// Webhooks and resume URLs are served ahead of mux, by webhooksFirst.
	hooks := s.unlessDraining(s.hooks)
	s.resumes = triggers.NewResumes(resumer{rt.engine}, log, triggers.WithMetrics(events))
	resumes := s.resumesUnlessDraining(s.resumes)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	limits := listenerLimits
	if cfg.limits != nil {
		limits = *cfg.limits
	}
	s.public = newHTTPServerWith(noSniff(closeAfterChunked(s.underCap(webhooksFirst(hooks, resumes, mux)))), log, limits)
	s.conns = newConnCap(cfg.maxConns)
	s.public.ConnContext = s.conns.withClient // counts each connection, before StateNew
	s.public.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			// Past half of --max-conns, idle kept-alive connections are closed at once
			// (not after the 120 s idle timeout) and no new one is kept alive, until the
			// count falls below a quarter.
			if n := s.conns.counted.Load(); s.conns.max > 0 && n > s.conns.max/2 && s.pressured.CompareAndSwap(false, true) {
				s.keepAlive(false)
			}
		case http.StateClosed, http.StateHijacked:
			s.conns.closed(c)
			if n := s.conns.counted.Load(); n < max(s.conns.max/4, 1) && s.pressured.CompareAndSwap(true, false) {
				s.keepAlive(true)
			}
		}
	}
	s.config = newReloader(cfg.dir, rt.kinds, set, rt.warnings, rt.warningsText, log, diagnosticsTo(cfg.logFormat, stderr), metrics, func(set *workflows.Set) {
		rt.apis.Use(set.APIs()) // the apis' limits hold for the runs queued before too
		rt.engine.Use(set)      // first: a run started by the new webhooks finds its version
		s.triggers.Use(set)
	})
	s.config.hooks = "http://" + dialable(s.publicAddr) + "/hooks"
	s.stopWatch = watchFiles(cfg, s.config, log, "SIGHUP or POST /api/v1/reload")
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	adminMux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { // not the pages' 404
		admin.MethodNotAllowed(w, r, []string{http.MethodGet, http.MethodHead})
	})
	api := admin.Handler(manualStarts{rt.engine, events, &s.draining}, s.config.set.Load, s.config, rt.build.String(), statusURL, log)
	for _, p := range []string{"/api/", "/healthz", "/readyz"} {
		adminMux.Handle(p, api)
	}
	// The run inspector, the pages over the API, is everything else.
	adminMux.Handle("/", admin.Inspector(rt.engine, s.config.set.Load, s.config, admin.PageOptions{
		WebhookBase: webhookBase(cfg.publicURL, s.publicAddr), AdminBase: adminBase, SignOut: access.Protected()}, log))
	// A session signed out at one serve is refused by every other on the same Redis.
	access.SignedOut = admin.NewRedisSignedOut(rt.rdb)
	access.Redact = rt.engine.RedactTokens
	s.admin = newHTTPServer(admin.Protect(apiFirst(api, adminMux), access), log)
	go s.serve(s.public, publicLn)
	go s.serve(s.admin, adminLn)
	if metricsLn != nil {
		s.metricsOut = serveMetrics(metricsLn, metrics, func(ctx context.Context) error {
			return readyUnlessDraining(ctx, rt.engine, &s.draining)
		}, log, s.errc)
	}

	set = s.config.set.Load() // a change while starting may have replaced it
	log.Info("hookflow serving", append(rt.build.logAttrs(), "webhooks", "http://"+dialable(s.publicAddr)+"/hooks/",
		"inspector", adminBase+"/", "admin", adminBase+"/api/v1/", "workflows", len(set.Workflows()), "workers", cfg.workers)...)
	if s.metricsOut != nil {
		log.Info("metrics", "url", "http://"+dialable(s.metricsOut.addr)+"/metrics")
	}
	for _, wf := range set.Workflows() {
		for _, t := range wf.Triggers {
			if c, ok := t.Config.(triggers.Config); ok {
				msg, attrs := c.Announce(wf, s.config.hooks)
				log.Info(msg, attrs...)
			}
		}
	}
	return s, nil
}

// unlessDraining answers 503 with Retry-After once shutdown began, so that a sender
// retries later or elsewhere rather than wait; the listener keeps answering so until
// the drain ends, so load balancers and senders see a retryable answer, not a refused
// connection.
func (s *server) unlessDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() || !s.intake.enter() {
			s.hooks.RefusedWhileShuttingDown()
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Connection", "close")
			httpjson.Error(w, http.StatusServiceUnavailable, "hookflow is shutting down; retry shortly")
			return
		}
		defer s.intake.leave()
		h.ServeHTTP(w, r)
	})
}

// webhooksFirst hands requests for webhooks to hooks, and for resume URLs to resumes,
// with their path as it came, and the others to mux. The mux would redirect a path
// that is not clean (//, a . or .. segment) to its clean form, with an empty body; the
// webhook receiver answers 400 with the reason instead, and the resume URLs 404, as
// such a path names no wait. A path is for a webhook when it, or its clean form, is
// /hooks or under it; for a resume URL, under /resume/.
func webhooksFirst(hooks, resumes, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clean := path.Clean(r.URL.Path)
		switch {
		case strings.HasPrefix(r.URL.Path, "/hooks/") || clean == "/hooks" || strings.HasPrefix(clean, "/hooks/"):
			hooks.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, triggers.ResumePrefix) || strings.HasPrefix(clean+"/", triggers.ResumePrefix):
			resumes.ServeHTTP(w, r)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// apiFirst hands the admin API's requests (admin.IsAPIPath) to api with their path as
// it came, and the others to mux: the API answers JSON to a path that is not clean,
// where the mux would redirect it with an HTML body.
func apiFirst(api, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admin.IsAPIPath(r.URL.EscapedPath()) {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// resumesUnlessDraining answers 503 with Retry-After to resumes that come once
// shutdown began, as unlessDraining does to webhooks.
func (s *server) resumesUnlessDraining(h *triggers.Resumes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() || !s.intake.enter() {
			h.RefusedWhileShuttingDown()
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Connection", "close")
			httpjson.Error(w, http.StatusServiceUnavailable, "hookflow is shutting down; retry shortly")
			return
		}
		defer s.intake.leave()
		h.ServeHTTP(w, r)
	})
}

// resumer is the engine as the resume URLs resume waits with it.
type resumer struct{ e *engine.Engine }

func (r resumer) Waiting(ctx context.Context, token string) (*triggers.Wait, error) {
	w, err := r.e.Wait(ctx, token)
	if err != nil {
		return nil, resumeError(err)
	}
	return &triggers.Wait{RunID: w.RunID, Workflow: w.Workflow, Step: w.Step}, nil
}

func (r resumer) Resume(ctx context.Context, token string, res *workflows.Resume) (*triggers.Wait, error) {
	w, err := r.e.ResumeToken(ctx, token, res)
	if err != nil {
		return nil, resumeError(err)
	}
	return &triggers.Wait{RunID: w.RunID, Workflow: w.Workflow, Step: w.Step}, nil
}

// resumeError turns the engine's errors into those the resume URLs answer by.
func resumeError(err error) error {
	switch {
	case errors.Is(err, engine.ErrBadToken):
		return triggers.ErrBadToken
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrFinished):
		return fmt.Errorf("%w (%v)", triggers.ErrNoWait, err)
	case errors.Is(err, engine.ErrResumed):
		return triggers.ErrWaitResumed
	}
	return err
}

// keepAlive turns keep-alive on or off for the pressure on --max-conns (turning it off
// closes the idle connections), unless the drain began: from then on it is left as it
// is, each webhook answered 503 with Connection: close.
// Called from the server's connection-state hook, which holds no lock of the server's.
func (s *server) keepAlive(on bool) {
	s.keepMu.Lock()
	defer s.keepMu.Unlock()
	if s.draining.Load() {
		return
	}
	s.public.SetKeepAlivesEnabled(on)
}

// underCap answers 503 with Retry-After, closing the connection, to requests on
// connections past --max-conns, and on those of a client holding more than its share of
// it; past half of it, every connection closes after its answer, so idle kept-alive ones
// do not hold places others need.
func (s *server) underCap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.conns.max > 0 {
			if why := s.conns.refusal(clientOfRequest(r.Context())); why != "" {
				s.hooks.Overloaded(w, why)
				return
			}
			if s.conns.counted.Load() > s.conns.max/2 {
				w.Header().Set("Connection", "close")
			}
		}
		h.ServeHTTP(w, r)
	})
}

// noSniff marks every answer X-Content-Type-Options: nosniff, so that no browser takes
// one for another type than it says: a sync webhook's answer holds what its run wrote,
// which may come from the event, and so may the path an error answer names.
func noSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// closeAfterChunked closes the connection after its answer to a request whose body is
// chunked. RFC 9112 (6.3) requires it after a request that has both Transfer-Encoding
// and Content-Length: a proxy in front may have taken that body by its length, and then
// what follows on the connection is not the request the proxy sent next (request
// smuggling). Go's server reads such a body by its chunks and drops the Content-Length
// before a handler sees the request, so it cannot be told from any chunked request:
// every one closes its connection. Webhook senders send a Content-Length.
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// httpLimits bound what one request may take of a listener
// (docs/operations.md#the-webhook-listeners-limits).
type httpLimits struct {
	headers     time.Duration // a request's headers, and a new connection's first request, arrive within it
	request     time.Duration // a whole request arrives within it: past it, 408
	write       time.Duration // an answer is written within it
	idle        time.Duration // a kept-alive connection waits for its next request this long
	headerBytes int           // a request's headers take at most this
}

// listenerLimits are every listener's: the webhook listener's, the admin API's and
// the metrics'.
var listenerLimits = httpLimits{headers: 5 * time.Second, request: 30 * time.Second,
	write: 60 * time.Second, idle: 120 * time.Second, headerBytes: 64 << 10}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return newHTTPServerWith(h, log, listenerLimits)
}

func newHTTPServerWith(h http.Handler, log *slog.Logger, l httpLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.headers,
		ReadTimeout:       l.request,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.headerBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (s *server) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.errc <- err
	}
}

// shutdown stops in order: schedules and webhook intake first (new webhooks get 503,
// and keep getting it until the end; requests in progress finish and their runs are
// queued), then the workers (steps in progress finish, up to a deadline), then the
// listeners, then Redis.
func (s *server) shutdown() error {
	// Keep-alive is left as it is: turning it off would close the idle connections at
	// once, under a sender that may be sending on one. A webhook on one is answered 503
	// with Connection: close (unlessDraining), and closePublic closes the rest.
	s.keepMu.Lock()
	s.draining.Store(true)
	s.keepMu.Unlock()
	idle := s.intake.drain()
	s.config.Close() // after a reload in progress: nothing restarts what stops below
	s.stopWatch()
	s.triggers.Stop() // sync webhooks waiting for their runs answer 202 now; schedules and polls stop
	var err error
	select {
	case <-idle:
	case <-time.After(intakeGrace):
		err = fmt.Errorf("webhook requests still in progress after %v", intakeGrace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepsGrace)
	err = errors.Join(err, s.pool.Stop(ctx))
	cancel()
	err = errors.Join(err, closePublic(s.public))
	ctx, cancel = context.WithTimeout(context.Background(), adminGrace)
	err = errors.Join(err, s.admin.Shutdown(ctx), s.metricsOut.shutdown(ctx))
	cancel()
	s.closeRedis()
	return err
}

// closePublic closes the webhook listener once the drain is over. Every webhook taken
// in has been answered by then, and later ones were answered 503: what a connection
// still open can hold is such a 503 being written, or nothing at all (a connection a
// load balancer opened ahead, which http.Server.Shutdown would wait 5 s for, as it
// cannot tell it from one whose first request is on its way). A second's grace
// (connsGrace), then every connection left is closed.
func closePublic(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), connsGrace)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return srv.Close()
}

// checkListen refuses, as a usage error, an address of flag that is not host:port
// with a port number or name; "" is none, and fine. A well-formed address can still
// fail to listen (the port is taken, the host is not this machine's): that is
// net.Listen's to say, and no mistake of the command line.
func checkListen(flag, addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil && port != "" {
		_, err = net.LookupPort("tcp", port)
	}
	var bad *net.AddrError
	if errors.As(err, &bad) {
		err = errors.New(bad.Err)
	}
	if err != nil {
		return badFlag(flag, " %q: %v; give host:port, such as :8080 or 127.0.0.1:8081", addr, err)
	}
	return nil
}

// dialable turns a listener address into one a client on this machine can use:
// an unspecified host (":8080", "[::]:8080") becomes localhost.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
