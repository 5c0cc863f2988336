package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// runs show and runs list print what webhook senders and APIs wrote with its terminal
// escapes and bidirectional controls escaped: none reaches the terminal, and none
// forges a line. An error the admin API answers has them escaped too (its lines are
// kept: hookflow's own errors may have several).
func TestRunsShowEscapesTerminalControls(t *testing.T) {
	const nasty = `hi \u001b]0;PWNED\u0007\u001b[2J\r\nrun 01xyz succeeded \u202egnp.exe \u0085`
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/runs"):
			_, _ = io.WriteString(w, `{"runs": [{"id": "r1:c:\u001b[2J", "workflow": "w", "status": "failed", "created_at": "2026-12-04T10:00:00Z", "error": "`+nasty+`"}]}`)
		case strings.HasSuffix(r.URL.Path, "/cancel"):
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error": "`+nasty+`"}`)
		default:
			_, _ = io.WriteString(w, `{"id": "r1", "workflow": "w", "status": "failed", "created_at": "2026-12-04T10:00:00Z", "error": "`+nasty+`",
			"event": {"id": "e1", "trigger": "manual", "received_at": "2026-12-04T10:00:00Z", "body": {"text": "`+nasty+`"}},
			"steps": [{"name": "a", "kind": "http", "status": "failed", "attempts": 1, "error": "`+nasty+`",
				"requests": [{"attempt": 1, "method": "POST", "url": "http://x/y", "headers": {"content-type": "text/plain"},
					"body": "note: `+nasty+`", "status": 500, "duration_ms": 2, "response": {"body": "`+nasty+`"}}]}]}`)
		}
	}))
	t.Cleanup(api.Close)
	addr := api.Listener.Addr().String()
	for _, args := range [][]string{{"runs", "show", "r1"}, {"runs", "list"}, {"runs", "cancel", "r1"}, {"runs", "show", "--json", "r1"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--admin", addr), nil, &stdout, &stderr)
		exitStatus(err, &stderr)
		out := stdout.String() + stderr.String()
		if strings.ContainsAny(out, "\x1b\x07\r\u202e\u0085") || args[1] != "cancel" && strings.Contains(out, "\nrun 01xyz") {
			t.Errorf("%s printed terminal controls:\n%q", args, out)
		}
		if !strings.Contains(out, `\u001b]0;PWNED\u0007\u001b[2J\u000d`) && !strings.Contains(out, `\u001b[2J`) {
			t.Errorf("%s: the escapes are not shown as text:\n%s", args, out)
		}
	}
}

func TestTermEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":   "plain\ttext\n",
		"a\x1b[31mb":      `a\u001b[31mb`,
		"\u202eabc\u2066": `\u202eabc\u2066`,
		"bad \xff byte":   "bad \xff byte",
		"é ü 漢字 🙂":        "é ü 漢字 🙂",
		"\u009b2J":        `\u009b2J`,
	} {
		var b bytes.Buffer
		if _, err := termSafe(&b).Write([]byte(in)); err != nil || b.String() != want {
			t.Errorf("%q: %q %v, want %q", in, b.String(), err, want)
		}
	}
}

// The tables the commands print size their columns by the text shown, escapes
// included: a cell with a control character, shown as \u0001, does not shift the
// columns after it.
func TestTablesAlignEscapedCells(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hookflow-Admin", "v1")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/runs"):
			_, _ = io.WriteString(w, `{"runs": [
				{"id": "r1:c:ctl\u0001x", "workflow": "w", "status": "failed", "created_at": "2026-12-04T10:00:00Z", "error": "e"},
				{"id": "r2", "workflow": "w", "status": "failed", "created_at": "2026-12-04T10:00:00Z", "error": "e"}]}`)
		case strings.HasSuffix(r.URL.Path, "/dlq"):
			_, _ = io.WriteString(w, `{"dead_letters": [
				{"id": "d1", "run_id": "r1", "workflow": "w", "step": "c", "attempts": 1, "failed": "items[ctl\u0001x]", "dead_at": "2026-12-04T10:00:00Z", "error": "e"},
				{"id": "d2", "run_id": "r2", "workflow": "w", "step": "c", "attempts": 1, "failed": "items[plain]", "dead_at": "2026-12-04T10:00:00Z", "error": "e"}]}`)
		case strings.HasSuffix(r.URL.Path, "/workflows"):
			_, _ = io.WriteString(w, `{"workflows": [
				{"name": "w", "version": "v1", "file": "w.hcl", "triggers": [{"text": "webhook /ctl\u0001x"}], "steps": []},
				{"name": "w2", "version": "v2", "file": "w2.hcl", "triggers": [{"text": "webhook /plain"}], "steps": []}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(api.Close)
	addr := api.Listener.Addr().String()
	for _, args := range [][]string{{"runs", "list"}, {"dlq", "list"}, {"workflows"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), append(args, "--admin", addr), nil, &stdout, &stderr); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			out := stdout.String()
			if !strings.Contains(out, `ctl\u0001x`) {
				t.Fatalf("the control character is not shown escaped:\n%s", out)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) < 3 {
				t.Fatalf("output:\n%s", out)
			}
			// Each column's cells start where its header does, in the row with the
			// escape as in the other.
			header := lines[0]
			for _, col := range strings.Split(header, "  ") {
				col = strings.TrimSpace(col)
				if col == "" {
					continue
				}
				at := strings.Index(header, col)
				for _, line := range lines[1:3] {
					if at > 0 && (len(line) <= at || line[at-1] != ' ' || line[at] == ' ') {
						t.Errorf("column %s does not start at %d in\n%s\n%s", col, at, header, line)
					}
				}
			}
		})
	}
}
