package actions

import "net/http"

// ownHeaders are the headers hookflow sets on every request of an http step: its
// User-Agent, the body's Content-Type and the Idempotency-Key (each left out when "").
// The names are canonical already, so they are assigned rather than Set, and the
// values share one array: one allocation for the three, with room in the map for the
// step's own headers. Each value's capacity ends at its length, so that an Add to
// one of them copies rather than writes over the next.
func ownHeaders(contentType, idempotencyKey string) http.Header {
	h := make(http.Header, 6)
	vals := [3]string{"hookflow", contentType, idempotencyKey}
	all := vals[:]
	for i, name := range [3]string{"User-Agent", "Content-Type", "Idempotency-Key"} {
		if all[i] != "" {
			h[name] = all[i : i+1 : i+1]
		}
	}
	return h
}

// lowerNames are the lower-case forms of the response headers most APIs send, so
// that readResponse need not make them anew for every response.
var lowerNames = map[string]string{
	"Content-Type":   "content-type",
	"Content-Length": "content-length",
	"Date":           "date",
	"Server":         "server",
	"Connection":     "connection",
	"Cache-Control":  "cache-control",
	"Etag":           "etag",
	"Vary":           "vary",
	"Location":       "location",
	"Retry-After":    "retry-after",
}
