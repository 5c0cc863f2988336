package admin

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/httpjson"
)

// Access says who may use the admin API. With no token, the API is for this machine
// only: serve refuses to listen on anything but loopback then (see CheckBind), and
// the API answers only requests naming a loopback host, against DNS rebinding. With
// tokens, every endpoint but /healthz and /readyz needs one in Authorization: Bearer.
type Access struct {
	// ReadToken may read (GET); OperatorToken may read and act (replay, cancel, retry,
	// resume, start, reload). Either may be empty.
	ReadToken, OperatorToken string
	// Hosts are the Host names the API answers besides loopback ones (the name a
	// proxy in front of it is reached by). With a token and no Hosts, any name.
	Hosts []string
	// MetricsPublic opens GET /metrics without a token.
	MetricsPublic bool
	// SignedOut keeps the browser sessions signed out before their end (POST
	// /logout), so that their cookies are refused: NewRedisSignedOut shares them
	// between the processes serving the same tokens. Nil keeps them in this
	// process's memory.
	SignedOut SignedOut
	// Redact hides the resume tokens in an answer to the read-only role: the engine's
	// RedactTokens, which has the key to find each signature. Nil redacts by the
	// tokens' shape alone (engine.RedactResumeTokens).
	Redact func(context.Context, []byte) []byte
}

// Protected reports whether the API needs a token.
func (a Access) Protected() bool { return a.ReadToken != "" || a.OperatorToken != "" }

// CheckBind reports an error when the admin API would listen beyond this machine
// without a token: anyone who reaches it could read every run and replay them.
func (a Access) CheckBind(addr string) error {
	if a.Protected() {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return &bindError{addr: addr}
}

type bindError struct{ addr string }

func (e *bindError) Error() string {
	return "the admin API would listen on " + e.addr + " without a token: give --admin-token (or HOOKFLOW_ADMIN_TOKEN), or listen on loopback (127.0.0.1:8081)"
}

// Protect wraps the admin API (and /metrics beside it) with a's rules. Besides the
// token, it refuses what browsers can be made to send: requests naming a host it does
// not answer to (DNS rebinding), state changes from another site (Origin,
// Sec-Fetch-Site) and bodies that are not JSON (a form or text/plain needs no CORS
// preflight). It sends no CORS headers: no other site may read its answers.
func Protect(h http.Handler, a Access) http.Handler {
	if a.SignedOut == nil {
		a.SignedOut = newMemorySignedOut()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Its refusals are JSON or text, as the API's answers: no browser is to sniff
		// one for a page.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if IsAPIPath(r.URL.EscapedPath()) {
			w.Header().Set(Header, headerValue) // its refusals too, as Handler's answers
		}
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			h.ServeHTTP(w, r) // for probes: they say nothing of runs
			return
		}
		if !a.hostAllowed(r.Host) {
			httpjson.Error(w, http.StatusMisdirectedRequest, "the admin API does not answer to host "+r.Host+" (allow it with --admin-host)")
			return
		}
		if a.MetricsPublic && r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r) // for any method: a POST is answered 405, as with a token
			return
		}
		if a.Protected() {
			switch r.URL.Path {
			case "/login":
				a.login(w, r)
				return
			case "/logout":
				a.logout(w, r)
				return
			}
		}
		// OPTIONS changes nothing either: it is answered as the API answers it (405,
		// with the methods Allow'ed), not refused as a change from another origin.
		reads := r.Method == http.MethodGet || r.Method == http.MethodHead
		acts := !reads && r.Method != http.MethodOptions
		if acts {
			if why := crossSite(r); why != "" {
				httpjson.Error(w, http.StatusForbidden, why)
				return
			}
			if r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
				httpjson.Error(w, http.StatusUnsupportedMediaType, "the admin API takes JSON bodies only (Content-Type: application/json)")
				return
			}
		}
		if a.Protected() {
			role := a.role(r.Header.Get("Authorization"))
			if role == roleNone && r.Header.Get("Authorization") == "" {
				// A browser signed in at /login: its changes must also say they come
				// from the API's own origin.
				var err error
				if role, err = a.sessionRole(r, time.Now()); err != nil {
					w.Header().Set("Retry-After", "5")
					httpjson.Error(w, http.StatusServiceUnavailable, "cannot check the session right now: "+err.Error()+"; try again")
					return
				}
				if role != roleNone && acts && !sameOrigin(r) {
					httpjson.Error(w, http.StatusForbidden, "refusing a change without this origin's Origin header")
					return
				}
			}
			switch {
			case role == roleNone && reads && isPage(r.URL):
				// A browser not signed in, opening the run inspector: to the form, and
				// from it back to this page.
				http.Redirect(w, r, signInURL(r.URL), http.StatusSeeOther)
				return
			case role == roleNone:
				w.Header().Set("WWW-Authenticate", `Bearer realm="hookflow admin"`)
				msg := "the admin API needs a token: Authorization: Bearer <token> (the CLI sends HOOKFLOW_ADMIN_TOKEN)"
				if r.Header.Get("Authorization") != "" {
					// Not the same words as none: a token that is wrong, stale or of
					// another hookflow is fixed elsewhere than a token forgotten.
					msg = "the token was refused: it is neither the operator token nor the read-only one of this hookflow " +
						"(the CLI sends HOOKFLOW_ADMIN_TOKEN, else HOOKFLOW_ADMIN_READ_TOKEN)"
				}
				httpjson.Error(w, http.StatusUnauthorized, msg)
				return
			case acts && role != roleOperator:
				httpjson.Error(w, http.StatusForbidden, "this token may only read; replays, cancels, retries, resumes, starts and reloads need the operator token")
				return
			case role == roleReader:
				r = r.WithContext(context.WithValue(r.Context(), readOnlyKey{}, true))
				if redactsFor(r.URL.Path) {
					rw := &redactingWriter{ResponseWriter: w}
					h.ServeHTTP(rw, r)
					rw.finish(r.Context(), a.Redact)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// LoopbackOnly wraps h, served without a token on a loopback address, to answer only
// requests naming a loopback host, as Protect does for the admin API without a token:
// otherwise a web page whose own DNS name it rebinds to 127.0.0.1 could read h's
// answers. /healthz and /readyz answer whatever the host, for probes.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !(Access{}).hostAllowed(r.Host) {
			httpjson.Error(w, http.StatusMisdirectedRequest, "this address is loopback only and does not answer to host "+r.Host+
				": name it as 127.0.0.1 or localhost")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type role int

// readOnlyKey marks the context of a request made with the read-only token (or its
// session): the pages leave out the buttons it may not use, and the resume URL.
type readOnlyKey struct{}

// readOnly reports whether r was made with the read-only token.
func readOnly(r *http.Request) bool { return r.Context().Value(readOnlyKey{}) != nil }

const (
	roleNone role = iota
	roleReader
	roleOperator
)

// role is what the bearer token in an Authorization header may do, compared in
// constant time with both tokens.
func (a Access) role(header string) role {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return roleNone
	}
	op := a.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.OperatorToken)) == 1
	read := a.ReadToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(a.ReadToken)) == 1
	switch {
	case op:
		return roleOperator
	case read:
		return roleReader
	}
	return roleNone
}

// hostAllowed reports whether the API answers a request naming host (with its port).
func (a Access) hostAllowed(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	for _, h := range a.Hosts {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if ip := net.ParseIP(name); ip != nil && (ip.IsLoopback() || a.Protected()) {
		return true // an address is no DNS name to rebind
	}
	return a.Protected() && len(a.Hosts) == 0
}

// crossSite says why a state-changing request came from another site, or "".
func crossSite(r *http.Request) string {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return "refusing a state change from another site (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "" // not a browser's cross-origin request: browsers send Origin on those
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return "refusing a state change from another origin (" + origin + ")"
	}
	return ""
}

// isPage reports whether u is one of the run inspector's pages: not the API (as
// serve routes it, IsAPIPath: /api itself, and a path whose clean form is under it),
// the metrics or the pages' assets.
func isPage(u *url.URL) bool {
	return !IsAPIPath(u.EscapedPath()) && u.Path != "/metrics" && !strings.HasPrefix(u.Path, "/assets/")
}

func isJSON(ct string) bool {
	media, _, _ := strings.Cut(ct, ";")
	media = strings.TrimSpace(strings.ToLower(media))
	return media == "application/json" || strings.HasSuffix(media, "+json")
}
