package triggers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
)

// A poll the API answers with a status it does not expect fails with the start of
// the answer's body in its error: what the API says is wrong ({"error":"database
// down"}) is in the log and in the poll's status, which hookflow workflows, hookflow
// status and the admin API show. The excerpt is one line, cut, and hides the
// workflow's secrets and the api's OAuth2 token that the API repeats.
func TestPollErrorShowsTheAnswer(t *testing.T) {
	t.Setenv("POLL_API_KEY", "key-s3cr3t-7781")
	const token = "access-tok-55aa19"
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": %q, "token_type": "Bearer", "expires_in": 3600}`, token)
	}))
	defer tokens.Close()
	var mu sync.Mutex
	answer := ""
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, answer, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}))
	defer api.Close()
	set := loadPolls(t, api.Client(), fmt.Sprintf(`
vars {
  api_key = secret("POLL_API_KEY")
}
api "shop" {
  base_url = "%s/api"
  auth "oauth2" {
    token_url     = "%s/token"
    client_id     = "hookflow"
    client_secret = "client-secret-1"
  }
}
workflow "orders" {
  trigger "poll" {
    every   = "1m"
    api     = "shop"
    url     = "/list"
    headers = { X-Api-Key = "{{ vars.api_key }}" }
    items   = "response.body.orders"
    key     = "item.id"
  }
}
`, api.URL, tokens.URL))
	b := redistest.Mini(t)
	e := engine.New(b.Client, engine.Options{Logger: quietLog})
	e.Use(set)
	var logged strings.Builder
	p := NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil)))
	wf := set.Workflow("orders")
	poll := wf.Triggers[0].Config.(*Poll)
	at := time.Now().Add(-time.Hour).Truncate(time.Minute)

	for _, c := range []struct {
		name, answer string
		want         []string
	}{
		{"json", `{"error": "database down", "got": %q, "key": %q}`,
			[]string{`status 500 Internal Server Error, expected 2xx; it answered: {"error":"database down","got":"Bearer [redacted]","key":"[redacted]"}`}},
		{"lines", "<html>\n<body>\n  <h1>database   down</h1>\n%s %s</body>\n</html>\n" + strings.Repeat("x", 400),
			[]string{"; it answered: <html> <body> <h1>database down</h1> Bearer [redacted] [redacted]</body> </html> xxx",
				"… [cut: the body is "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			answer = c.answer
			mu.Unlock()
			logged.Reset()
			at = at.Add(time.Minute)
			p.tick(context.Background(), wf, poll, &streak{}, at)
			st, err := e.TriggerState(context.Background(), wf, poll.Key())
			if err != nil {
				t.Fatal(err)
			}
			shown := st.(*engine.PollStatus).LastError
			logLine := logged.String()
			for _, want := range c.want {
				if !strings.Contains(shown, want) {
					t.Errorf("the poll's error lacks %q:\n%s", want, shown)
				}
				if !strings.Contains(logLine, strings.ReplaceAll(want, `"`, `\"`)) {
					t.Errorf("the log lacks %q:\n%s", want, logLine)
				}
			}
			if strings.Contains(shown, "\n") {
				t.Errorf("the poll's error is not one line:\n%s", shown)
			}
			if _, after, _ := strings.Cut(shown, "it answered: "); len(after) > maxExcerpt+len("… [cut: the body is 4000 bytes; the first 200 are shown]") {
				t.Errorf("the excerpt is %d bytes long, past %d:\n%s", len(after), maxExcerpt, after)
			}
			for _, secret := range []string{token, "key-s3cr3t-7781"} {
				if strings.Contains(shown+logLine, secret) {
					t.Errorf("%s is shown:\n%s\n%s", secret, shown, logLine)
				}
			}
		})
	}
}

// excerpt shows the start of a body on one line, cut at maxExcerpt bytes (at a
// character's start), and says so when it cuts.
func TestPollAnswerExcerpt(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	for _, c := range []struct {
		name, body string
		size       int
		want       string
	}{
		{"short", `{"error":"database down"}`, 25, `{"error":"database down"}`},
		{"lines and spaces", "  line one\r\n\tline  two\n\n", 24, "line one line two"},
		{"control characters", "a\x00b\x1bc", 5, "a\uFFFDb\uFFFDc"},
		{"invalid UTF-8", "a\xffb", 3, "a\uFFFDb"},
		{"cut at a character", long, 300, strings.Repeat("é", 100) + "… [cut: the body is 300 bytes; the first 200 are shown]"},
		{"cut, recorded cut before", long, 70000, strings.Repeat("é", 100) + "… [cut: the body is 70000 bytes; the first 200 are shown]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := excerpt(c.body, c.size); got != c.want {
				t.Errorf("excerpt(%q) = %q, want %q", c.body, got, c.want)
			}
		})
	}
}

// A poll answered with a body that says it is JSON and is not (a list cut short, a
// maintenance page) says so, with where the body stops being JSON; one that does not
// say it is JSON says it is text. The first fails as an http step does, naming the
// request. Neither shows the error of the items expression on text, which would say
// nothing more.
func TestPollAnswerNotJSON(t *testing.T) {
	for _, c := range []struct {
		name, contentType, body, want string
	}{
		{"cut short", "application/json", `{"orders": [{"id": "o1", `,
			`/list: the answer says it is JSON (Content-Type "application/json") but does not parse as JSON: unexpected end of ` +
				`JSON input, at line 1, column 26, after its last byte (25): the answer was cut short`},
		{"not JSON at all", "application/json; charset=utf-8", "<html>\n<h1>Maintenance</h1>\n",
			`/list: the answer says it is JSON (Content-Type "application/json; charset=utf-8") but does not parse as JSON: ` +
				`invalid character '<' looking for beginning of value, at line 1, column 1`},
		{"broken on a later line", "application/vnd.api+json", "{\n  \"orders\": [\n    {\"id\": \"o1\"},,\n  ]\n}",
			`but does not parse as JSON: invalid character ',' looking for beginning of value, at line 3, column 18`},
		{"a JSON string", "application/json", `"all good"`,
			`items: response.body is text, which has no fields: the answer is not JSON, or does not say it is (Content-Type "application/json")`},
		{"text", "text/plain; charset=utf-8", `orders: o1`,
			`items: response.body is text, which has no fields: the answer is not JSON, or does not say it is (Content-Type "text/plain; charset=utf-8")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				fmt.Fprint(w, c.body)
			}))
			defer api.Close()
			set := loadPolls(t, api.Client(), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "%s/list"
    items = "response.body.orders"
    key   = "item.id"
  }
}
`, api.URL))
			e := engine.New(redistest.Mini(t).Client, engine.Options{Logger: quietLog})
			e.Use(set)
			p := NewPoller(e, quietLog)
			wf := set.Workflow("orders")
			poll := wf.Triggers[0].Config.(*Poll)
			p.tick(context.Background(), wf, poll, &streak{}, time.Now().Truncate(time.Minute))
			st, err := e.TriggerState(context.Background(), wf, poll.Key())
			if err != nil {
				t.Fatal(err)
			}
			shown := st.(*engine.PollStatus).LastError
			if !strings.Contains(shown, c.want) {
				t.Errorf("the poll's error:\n%s\nwant it to hold:\n%s", shown, c.want)
			}
			if strings.Contains(shown, "invalid operation") || strings.Contains(shown, "(1:") {
				t.Errorf("the poll's error shows the items expression's own: %s", shown)
			}
			if strings.Contains(shown, "on_error") {
				t.Errorf("the poll's error gives a step's advice: %s", shown)
			}
		})
	}
}

// A poll answered with JSON after a UTF-8 byte order mark reads its items.
func TestPollReadsJSONAfterAByteOrderMark(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, "\xef\xbb\xbf{\"orders\": [{\"id\": \"o1\"}, {\"id\": \"o2\"}]}")
	}))
	defer api.Close()
	set := loadPolls(t, api.Client(), fmt.Sprintf(`
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "%s/list"
    items = "response.body.orders"
    key   = "item.id"
  }
}
`, api.URL))
	wf := set.Workflow("orders")
	ans, err := wf.Triggers[0].Config.(*Poll).Fetch(context.Background(), wf, nil, time.Now().Format(time.RFC3339), Look{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ans.Keys(), " "); !strings.Contains(got, "o1") || !strings.Contains(got, "o2") || len(ans.Items) != 2 {
		t.Errorf("items %q", got)
	}
}

// A poll whose answer its items cannot be read from, though a 2xx (a login page
// answered 200), says what a poll answered other than 2xx says: the request, the page
// with paginate, the content type, and the start of the answer, secrets redacted. An
// item without a key says which item, which expression gave nil, and the item. Each is
// what hookflow status, the admin API and the log show.
func TestPollErrorsSayWhatTheAnswerWas(t *testing.T) {
	t.Setenv("POLL_SECRET", "s3cret-in-the-page-9931")
	login := "<html>\n<body>\n  <h1>Sign in</h1> s3cret-in-the-page-9931\n</body>\n</html>\n"
	for _, c := range []struct {
		name, items, paginate string
		answer                func(w http.ResponseWriter, page string)
		want                  string // %s is the API's URL
	}{
		{"a login page", "response.body", "", func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, login)
		}, `poll: GET %s/list: items: response.body gave a string, not a list (Content-Type "text/html; charset=utf-8"); ` +
			`it answered: <html> <body> <h1>Sign in</h1> [redacted] </body> </html>`},
		{"a login page read for its fields", "response.body.orders", "", func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, login)
		}, `poll: GET %s/list: items: response.body is text, which has no fields: the answer is not JSON, or does not say it is ` +
			`(Content-Type "text/html"); it answered: <html> <body> <h1>Sign in</h1> [redacted] </body> </html>`},
		{"an object", "response.body.orders", "", func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"orders": {"o1": {"id": "o1"}}}`)
		}, `poll: GET %s/list: items: response.body.orders gave an object, not a list (Content-Type "application/json"); ` +
			`it answered: {"orders":{"o1":{"id":"o1"}}}`},
		{"no content type", "response.body", "", func(w http.ResponseWriter, page string) {
			w.Header()["Content-Type"] = nil
			fmt.Fprint(w, "fine")
		}, `poll: GET %s/list: items: response.body gave a string, not a list (no Content-Type); it answered: fine`},
		{"an item without its key", "response.body.orders", "", func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"orders": [{"id": "o1"}, {"ID": "o2", "note": "s3cret-in-the-page-9931"}]}`)
		}, `poll: GET %s/list: item 1 has no key: item.id gave nil; the item: {"ID":"o2","note":"[redacted]"}`},
		{"an empty key", "response.body.orders", "", func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"orders": [{"id": ""}]}`)
		}, `poll: GET %s/list: item 0 has no key: item.id gave ""; the item: {"id":""}`},
		{"an item without its key on page 2", "response.body.orders", `paginate {
      next = "response.body.next"
    }`, func(w http.ResponseWriter, page string) {
			w.Header().Set("Content-Type", "application/json")
			if page == "" {
				fmt.Fprint(w, `{"orders": [{"id": "o1"}], "next": "?page=2"}`)
				return
			}
			fmt.Fprint(w, `{"orders": [{"id": "o2"}, {"number": 3}]}`)
		}, `poll: page 2: GET %s/list?page=2: item 1 of the page has no key: item.id gave nil; the item: {"number":3}`},
		{"a login page on page 2", "response.body.orders", `paginate {
      next = "response.body.next"
    }`, func(w http.ResponseWriter, page string) {
			if page == "" {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"orders": [{"id": "o1"}], "next": "?page=2"}`)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, login)
		}, `poll: page 2: GET %s/list?page=2: items: response.body is text, which has no fields: the answer is not JSON, ` +
			`or does not say it is (Content-Type "text/html"); it answered: <html> <body> <h1>Sign in</h1> [redacted] </body> </html>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.answer(w, r.URL.Query().Get("page"))
			}))
			defer api.Close()
			set := loadPolls(t, api.Client(), fmt.Sprintf(`
vars {
  secret = secret("POLL_SECRET")
}
workflow "orders" {
  trigger "poll" {
    every = "1m"
    url   = "%s/list"
    items = "%s"
    key   = "item.id"
    %s
  }
}
`, api.URL, c.items, c.paginate))
			e := engine.New(redistest.Mini(t).Client, engine.Options{Logger: quietLog})
			e.Use(set)
			var logged strings.Builder
			p := NewPoller(e, slog.New(slog.NewTextHandler(&logged, nil)))
			wf := set.Workflow("orders")
			poll := wf.Triggers[0].Config.(*Poll)
			p.tick(context.Background(), wf, poll, &streak{}, time.Now().Truncate(time.Minute))
			st, err := e.TriggerState(context.Background(), wf, poll.Key())
			if err != nil {
				t.Fatal(err)
			}
			shown := st.(*engine.PollStatus).LastError
			if want := fmt.Sprintf(c.want, api.URL); shown != want {
				t.Errorf("the poll's error:\n%s\nwant:\n%s", shown, want)
			}
			if !strings.Contains(logged.String(), "Sign in") && strings.Contains(c.want, "Sign in") {
				t.Errorf("the log lacks the answer:\n%s", logged.String())
			}
			if strings.Contains(shown+logged.String(), "s3cret-in-the-page-9931") {
				t.Errorf("the secret is shown:\n%s\n%s", shown, logged.String())
			}
		})
	}
}
