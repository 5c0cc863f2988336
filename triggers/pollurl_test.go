package triggers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A poll with an api renders its url as a step with one does: a value lands in the
// path of the url relative to base_url, one segment, encoded there, and a value that
// makes the segment "." or ".." fails the poll before anything is sent.
func TestPollAPIURLValuesLandInThePath(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI // as sent, before any decoding
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"orders": []}`)
	}))
	defer srv.Close()
	set := loadPolls(t, srv.Client(), fmt.Sprintf(`
api "shop" {
  base_url = "%s/api"
}
workflow "orders" {
  trigger "poll" {
    every = "1m"
    api   = "shop"
    url   = "/orders/after/{{ poll.cursor }}/items"
    items = "response.body.orders"
    key   = "item.id"
  }
}
`, srv.URL))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	for _, tt := range []struct{ name, cursor, want string }{
		{"an at sign", "o@1", "/api/orders/after/o@1/items"},
		{"a slash", "a/b", "/api/orders/after/a%2Fb/items"},
		{"dots among other characters", "v1.2", "/api/orders/after/v1.2/items"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := poll.Fetch(context.Background(), wf, tt.cursor, time.Now().Format(time.RFC3339), Look{}); err != nil {
				t.Fatal(err)
			}
			if uri := <-got; uri != tt.want {
				t.Errorf("sent %s, want %s", uri, tt.want)
			}
		})
	}
	for _, cursor := range []string{"..", "."} {
		_, err := poll.Fetch(context.Background(), wf, cursor, time.Now().Format(time.RFC3339), Look{})
		want := fmt.Sprintf("url: {{ poll.cursor }}: the value %q is a whole path segment", cursor)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("cursor %q: error %v, want one that starts %s", cursor, err, want)
		}
		select {
		case uri := <-got:
			t.Errorf("cursor %q: sent %s, want nothing sent", cursor, uri)
		default:
		}
	}
}
