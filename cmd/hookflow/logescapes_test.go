package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

const logEscapesSrc = `
vars {
  nl = secret("LOG_NL_SECRET")
  q  = secret("LOG_Q_SECRET")
}

workflow "escaped" {
  trigger "webhook" {
    path = "/escaped"
  }

  step "log" "object" {
    message = "obj {{ {'a': vars.nl, 'b': vars.q} }}"
  }

  step "log" "plain" {
    message = "plain {{ vars.nl }} | {{ vars.q }}"
  }
}

workflow "body" {
  trigger "webhook" {
    path = "/body"
  }

  step "log" "body" {
    message = "body {{ event.body }} raw {{ event.raw }}"
  }
}
`

// logEscapesMarks are pieces of the secrets and of the credential that TestLogsHide…
// sends, found in a log line however it wrote them: as they are, escaped in JSON,
// quoted by a text log line, or both.
var logEscapesMarks = []string{"nl-5e1c70", "line2", "uote-5e1c71", "pwnl-5e1c72"}

// A secret holding a quote, a backslash or a line break is written otherwise once it
// is in JSON (a template's object, an event's raw body) or quoted by a text log line:
// log lines hide it in each of these forms, in serve's text and JSON logs and in
// hookflow run's.
func TestLogsHideSecretsInTheirEscapedForms(t *testing.T) {
	t.Setenv("LOG_NL_SECRET", "SEKRET-nl-5e1c70\nline2")
	t.Setenv("LOG_Q_SECRET", `SEKRET-q"uote-5e1c71\x`)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "esc.hcl"), logEscapesSrc)
	const body = `{"password": "x\nSEKRET-pwnl-5e1c72"}`
	check := func(t *testing.T, where, logText string) {
		t.Helper()
		for _, mark := range logEscapesMarks {
			if strings.Contains(logText, mark) {
				t.Errorf("%s shows %q:\n%s", where, mark, logText)
			}
		}
		for _, want := range []string{"obj ", "plain ", "body ", "[redacted]"} {
			if !strings.Contains(logText, want) {
				t.Errorf("%s has no %q:\n%s", where, want, logText)
			}
		}
	}

	for _, format := range []string{"text", "json"} {
		t.Run("serve "+format, func(t *testing.T) {
			var logBuf bytes.Buffer
			logs := &syncWriter{w: &logBuf}
			log, err := newLogger(format, "info", logs)
			if err != nil {
				t.Fatal(err)
			}
			cfg := serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0", workers: 2, noWatch: true}
			s, err := startServer(context.Background(), cfg, log, logs)
			if err != nil {
				t.Fatal(err)
			}
			for path, body := range map[string]string{"/escaped": `{}`, "/body": body} {
				status, answer := postJSON(t, "http://"+s.publicAddr+"/hooks"+path, body)
				if status != http.StatusAccepted {
					t.Fatalf("%s answered %d %v", path, status, answer)
				}
				if run := waitRun(t, answer["status_url"].(string)); run["status"] != "succeeded" {
					t.Fatalf("%s: run %v: %v", path, run["status"], run["error"])
				}
			}
			if err := s.shutdown(); err != nil {
				t.Fatal(err)
			}
			check(t, "serve's "+format+" log", logBuf.String())
		})
	}

	t.Run("run", func(t *testing.T) {
		event := filepath.Join(t.TempDir(), "event.json")
		writeFile(t, event, body)
		var logText string
		for _, wf := range []string{"escaped", "body"} {
			out, errs, err := runArgs("run", "--dir", dir, "--event", event, wf)
			if err != nil {
				t.Fatalf("%s: %v\n%s%s", wf, err, out, errs)
			}
			logText += out + errs
		}
		check(t, "hookflow run's output", logText)
	})
}
