package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookflow/hookflow/admin"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// newRegistry is a process's metrics, with the Go runtime's and the process's own, and
// hookflow_build_info, which labels the process with its build b.
func newRegistry(b build) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookflow_build_info",
		Help:        "Always 1, labelled with the build this process runs: its version, the commit it was built from (revision, empty when not known) and the Go version.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.Go}})
	info.Set(1)
	reg.MustRegister(info)
	return reg
}

// metricsListener serves GET /metrics from reg, with /healthz and /readyz, on its own
// address: a worker has no admin API to show them, and a serve process may show them
// where its admin API must not be reachable.
type metricsListener struct {
	srv  *http.Server
	addr string
}

// listenMetrics listens on addr; serve starts answering.
func listenMetrics(addr string) (net.Listener, error) {
	if err := checkListen("metrics", addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, flagFailed("metrics", ": %w", err)
	}
	return ln, nil
}

// serveMetrics answers on ln until shutdown; /readyz asks ping.
func serveMetrics(ln net.Listener, reg *prometheus.Registry, ping func(context.Context) error, log *slog.Logger, errc chan<- error) *metricsListener {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	admin.Health(mux, ping)
	var h http.Handler = mux
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		// It has no token: on loopback, as the admin API without one, it answers only
		// loopback names, against DNS rebinding. Elsewhere a scraper may name it as it
		// likes.
		h = admin.LoopbackOnly(mux)
	}
	m := &metricsListener{srv: newHTTPServer(noSniff(h), log), addr: ln.Addr().String()}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && errc != nil {
			errc <- err
		}
	}()
	return m
}

func (m *metricsListener) shutdown(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.srv.Shutdown(ctx)
}

// manualStarts is the engine as the admin API starts runs with it: a run started by
// hand counts as an event received, with trigger "manual".
type manualStarts struct {
	*engine.Engine
	events   *triggers.Metrics
	draining *atomic.Bool
}

// Ready is what /readyz asks: the engine's Ready, but for a process that began to shut
// down. (Ping stays the engine's: the API reads it to say whether Redis is
// unreachable.)
func (m manualStarts) Ready(ctx context.Context) error {
	return readyUnlessDraining(ctx, m.Engine, m.draining)
}

// readyUnlessDraining asks eng whether it can start runs (Redis answers, and the
// primary has the replicas starts wait for), unless draining is set: then it answers
// admin.ErrDraining.
func readyUnlessDraining(ctx context.Context, eng *engine.Engine, draining *atomic.Bool) error {
	if draining.Load() {
		return admin.ErrDraining
	}
	return eng.Ready(ctx)
}

func (m manualStarts) Start(ctx context.Context, wf *workflows.Workflow, ev *workflows.Event) (string, error) {
	m.events.Received(wf.Name, ev.Trigger)
	return m.Engine.Start(ctx, wf, ev)
}
