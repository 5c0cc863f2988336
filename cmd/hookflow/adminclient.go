package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/admin"
)

// defaultAdmin is where serve's admin API listens, and where the commands that use it
// look, unless told otherwise.
const defaultAdmin = "127.0.0.1:8081"

// adminClient calls a running hookflow's admin API.
type adminClient struct {
	base    string // http://host:port
	display string // base with any password hidden, for messages
	token   string // sent as Authorization: Bearer, when set
	http    *http.Client
}

// adminFlag adds --admin to a command that calls the admin API.
func adminFlag(cmd *cobra.Command, addr *string) {
	cmd.PersistentFlags().StringVar(addr, "admin", defaultAdmin, "`address` (host:port or URL) of the admin API of a running hookflow serve; "+
		"its token is read from HOOKFLOW_ADMIN_TOKEN (or the file HOOKFLOW_ADMIN_TOKEN_FILE names), else HOOKFLOW_ADMIN_READ_TOKEN")
}

func newAdminClient(addr string) (*adminClient, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, badFlag("admin", " %q: give host:port or an http(s) URL", addr)
	}
	token, err := adminTokenFromEnv()
	if err != nil {
		return nil, usage("%v", err)
	}
	return &adminClient{base: strings.TrimSuffix(u.String(), "/"), display: strings.TrimSuffix(u.Redacted(), "/"),
		token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is an error answered by the admin API.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d)", e.Message, e.Status) }

// call sends a request to path under /api/v1 and decodes the JSON answer into out.
func (c *adminClient) call(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unreachableError{fmt.Errorf("cannot reach the admin API at %s: %w (is hookflow serve running there? --admin or HOOKFLOW_ADMIN says where)", c.display, dialError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unreachableError{fmt.Errorf("reading the admin API's answer: %w", err)}
	}
	if resp.Header.Get(admin.Header) == "" {
		return c.notAdmin(resp.StatusCode, data)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
			RunID string `json:"run_id"` // a run stored all the same: not to be retried blindly
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = bodyLine(data)
		}
		err := &apiError{Status: resp.StatusCode, Message: e.Error}
		if resp.StatusCode == http.StatusServiceUnavailable && e.RunID == "" {
			return &unreachableError{err}
		}
		return err
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the admin API at %s answered something that is not hookflow's JSON: %w", c.display, err)
	}
	return nil
}

// notAdmin is the error for an answer without admin.Header, from a server that is not
// hookflow's admin API: most often its webhook listener (--listen, :8080) given for
// the admin API (--admin, :8081), or a URL with a path. A 502, 503 or 504 is a proxy
// saying that what is behind it cannot be reached: try again later.
func (c *adminClient) notAdmin(status int, data []byte) error {
	answer := strconv.Itoa(status)
	if line := bodyLine(data); line != "" {
		answer += ": " + line
	}
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &unreachableError{fmt.Errorf("cannot reach the admin API at %s: it answered %s", c.display, answer)}
	}
	return fmt.Errorf("%s is not hookflow's admin API (it answered %s); is it the webhook listener (--listen)? "+
		"the admin API is at serve's --admin, %s by default (--admin or HOOKFLOW_ADMIN says where)", c.display, answer, defaultAdmin)
}

// bodyLine is an answer's body short enough for a message: its JSON error, or its
// first line of text, cut; an HTML page is named, not shown.
func bodyLine(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return oneLine(e.Error, 200)
	}
	text := strings.TrimSpace(string(data))
	if strings.HasPrefix(text, "<") {
		return "an HTML page"
	}
	return oneLine(text, 80)
}

// dialError is what went wrong with a request, without its URL, which may hold a
// password.
func dialError(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// printJSON prints an answer as indented JSON.
func printJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = w.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// writeJSON prints v as indented JSON, with <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
