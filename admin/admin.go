// Package admin serves hookflow's admin API: health and run history, as JSON under
// /api/v1. It listens apart from the webhooks, on loopback by default.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/httpjson"
)

// Runs reads runs back; the engine is one.
type Runs interface {
	Run(ctx context.Context, id string) (*engine.Run, error)
	Ping(ctx context.Context) error
}

// Handler returns the admin API.
func Handler(runs Runs, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := runs.Ping(ctx); err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "redis: "+err.Error())
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /api/v1/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		run, err := runs.Run(r.Context(), r.PathValue("id"))
		switch {
		case errors.Is(err, engine.ErrNotFound):
			httpjson.Error(w, http.StatusNotFound, "no run "+r.PathValue("id")+" (it may have expired)")
		case err != nil:
			log.Error("reading run", "run", r.PathValue("id"), "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "cannot read the run right now")
		default:
			httpjson.Write(w, http.StatusOK, run)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}
