package testexport

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/workflows"
)

// A failed run: a step whose attempts got no answer and then a 500, a workflow step
// answered by its child's result, a form event; the file parses as a test file and
// holds none of the event's credentials.
func TestWriteFailedRun(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "refund", Version: "v1", Status: engine.RunFailed},
		Steps: []engine.StepRun{
			{Name: "invoice", Path: "invoice", Kind: "workflow", Status: engine.StatusSucceeded,
				Output: map[string]any{"run_id": "01run:invoice", "result": map[string]any{"number": "INV-1"}}},
			{Name: "lines", Path: "lines", Kind: "workflow", Status: engine.StatusSucceeded, ItemCount: 1, Items: []engine.StepRun{
				{Name: "lines", Path: "lines[0]", Kind: "workflow", Key: 0, Status: engine.StatusSucceeded,
					Output: map[string]any{"run_id": "01run:lines:0", "result": map[string]any{"line": 1}}},
			}},
			{Name: "charge", Path: "charge", Kind: "http", Status: engine.StatusFailed, Attempts: 2, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "https://pay.example.com/refunds?key=[redacted]", Error: "timeout awaiting response headers"},
				{Attempt: 2, Method: "POST", URL: "https://pay.example.com/refunds?key=[redacted]", Status: 500,
					Headers:  map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": "01run:charge"},
					Body:     "amount=12&token=tok-abcdef",
					Response: &workflows.Response{Body: "oops"}},
			}},
		}}
	ev := &workflows.Event{ID: "ev1", Trigger: "webhook", ContentType: "application/x-www-form-urlencoded",
		Raw: "amount=12&token=tok-abcdef", Body: map[string]any{"amount": "12", "token": "tok-abcdef"},
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}}
	data, err := Write(run, ev, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{`test "run 01run of refund" {`, `mock "invoice" {`, `number = "INV-1"`, `mock "lines[0]" {`, `line = 1`,
		`{
        error = "timeout"
      },`, `status = 500`, `body   = "oops"`, "# Left out: url (a secret); body (a credential): a test run does not have them", `count = 2`, `expect_run = "failed"`,
		`body = "amount=12&token=[redacted]"`} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "tok-abcdef") || strings.Contains(text, "Idempotency") {
		t.Errorf("holds a credential or the run's Idempotency-Key:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

func TestWriteRefusesUnfinished(t *testing.T) {
	for _, st := range []engine.RunStatus{engine.RunRunning, engine.RunQueued, engine.RunCancelled} {
		_, err := Write(&engine.Run{RunSummary: engine.RunSummary{ID: "r", Status: st}}, nil, "", nil)
		if !errors.Is(err, ErrNotExportable) {
			t.Errorf("%s: %v", st, err)
		}
	}
}

// What env() read where the run was served is written as hookflow test reads it, in
// the event, the mocks and the expects alike, so that the test passes in any shell; a
// value too short to be found in text is left as it is.
func TestWriteEnvValuesAsTested(t *testing.T) {
	const served = "http://10.0.0.7:9000/api"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "ship", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "create", Path: "create", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: served + "/shipments", Status: 201,
					Headers:  map[string]string{"Content-Type": "application/json", "X-Channel": "#ops"},
					Body:     `{"callback": "` + served + `/done", "channel": "#ops"}`,
					Response: &workflows.Response{Body: `{"self": "` + served + `/shipments/7"}`}},
			}},
		}}
	ev := &workflows.Event{ID: "ev1", Trigger: "webhook", ContentType: "application/json",
		Body: map[string]any{"link": served + "/orders/1"}, Headers: map[string]string{"content-type": "application/json"}}
	env := []workflows.EnvValue{
		{Name: "WAREHOUSE_URL", Value: served, Test: "https://wms.example.com/api"},
		{Name: "CHANNEL", Value: "#ops", Test: "#orders"},
	}
	data, err := Write(run, ev, "", env)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"# WAREHOUSE_URL: written as hookflow test reads them",
		`link = "https://wms.example.com/api/orders/1"`,    // the event
		`self = "https://wms.example.com/api/shipments/7"`, // the mock
		`url    = "https://wms.example.com/api/shipments"`, // the expect
		`callback = "https://wms.example.com/api/done"`,    // what it sent
		`channel  = "#ops"`, `X-Channel    = "#ops"`, // too short to find
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, served) || strings.Contains(text, "CHANNEL,") {
		t.Errorf("holds what env() read where the run was served:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// A run that a resume let go on is written with a resume block of what resumed it, its
// credentials left out; a wait that timed out gets none, and the run's resume URL,
// signed for it alone, is nowhere in the file.
func TestWriteResumedWait(t *testing.T) {
	const link = "https://hooks.example.com/resume/cmVmdW5kCjAxcnVuCmFwcHJvdmFs.SgPf6nPpaQqtMrSMHIGY9A"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "refund", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "ask", Path: "ask", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "https://slack.example.com/post", Status: 200,
					Headers:  map[string]string{"Content-Type": "application/json"},
					Body:     `{"text":"Approve? <` + link + `?decision=approve|Approve>"}`,
					Response: &workflows.Response{Body: "ok"}},
			}},
			{Name: "approval", Path: "approval", Kind: "wait", Status: engine.StatusSucceeded,
				Output: map[string]any{"body": map[string]any{"decision": "approve", "password": "pw-123456"},
					"headers": map[string]any{"x-slack-user": "ada", "authorization": "[redacted]"},
					"query":   map[string]any{"decision": "approve"}, "timed_out": false}},
			{Name: "reminder", Path: "reminder", Kind: "wait", Status: engine.StatusSucceeded,
				Output: map[string]any{"body": nil, "headers": map[string]any{}, "query": map[string]any{}, "timed_out": true}},
		}}
	data, err := Write(run, &workflows.Event{Trigger: "manual", Body: map[string]any{}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{`resume "approval" {`, `decision = "approve"`, `x-slack-user = "ada"`} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"/resume/", "pw-123456", "authorization", `resume "reminder"`, "\n\n\n"} {
		if strings.Contains(text, not) {
			t.Errorf("holds %q:\n%s", not, text)
		}
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// An expect names each JSON member it leaves out, by its path, and says why: a resume
// URL signed for the old run, a secret, the old run's id; a body whose members all
// go is not written as json = {}, which would check nothing.
func TestWriteNamesLeftOutMembers(t *testing.T) {
	resume := "https://hooks.example.com/resume/01run.approval.c2lnbmVk"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "refund_request", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "ask", Path: "ask", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "[redacted]", Status: 200,
					Headers: map[string]string{"Content-Type": "application/json"},
					Body:    `{"text": "Refund of 25 EUR: <` + resume + `?decision=approve|Approve>"}`},
			}},
			{Name: "notify", Path: "notify", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "https://chat.example.com/post", Status: 200,
					Headers: map[string]string{"Content-Type": "application/json", "Authorization": "[redacted]", "X-Run": "01run"},
					Body: `{"channel": "#ops", "run": "01run", "meta": {"key": "[redacted]", "by": "ada"},` +
						` "blocks": [{"url": "` + resume + `", "kind": "link"}], "ids": ["01run"]}`},
			}},
		}}
	ev := &workflows.Event{ID: "ev1", Trigger: "webhook", ContentType: "application/json", Raw: "{}", Body: map[string]any{}}
	data, err := Write(run, ev, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"# Left out: url (a secret); json members text (a resume URL signed for the old run): a test run does not have them",
		"# Left out: headers Authorization (a credential), X-Run (the old run's id); " +
			"json members blocks[0].url (a resume URL signed for the old run), ids, run (the old run's id), meta.key (a secret):",
		`channel = "#ops"`, `by = "ada"`, `kind = "link"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	ask := text[strings.Index(text, `expect "ask"`):strings.Index(text, `expect "notify"`)]
	if strings.Contains(ask, "json") && !strings.Contains(ask, "json members") {
		t.Errorf("the expect of ask writes a json that checks nothing:\n%s", ask)
	}
	if rest := text[strings.Index(text, "event {"):]; strings.Contains(rest, "01run") || strings.Contains(rest, "c2lnbmVk") {
		t.Errorf("holds the old run's id or its resume URL:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// A JSON member whose key holds a hidden text goes whatever its value, and the note
// that names it names its key [redacted]; a mock's answer has the key [redacted]:
// neither the expect, nor the resume, nor the note, nor the mock shows the credential.
func TestWriteLeavesOutHiddenKeys(t *testing.T) {
	const key = "sk_live_SECRETVALUE"
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "sync", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "approval", Path: "approval", Kind: "wait", Status: engine.StatusSucceeded,
				Output: map[string]any{"body": map[string]any{key: true, "decision": "approve"},
					"headers": map[string]any{}, "query": map[string]any{}, "timed_out": false}},
			{Name: "push", Path: "push", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "https://api.example.com/push", Status: 200,
					Headers:  map[string]string{"Content-Type": "application/json"},
					Body:     `{"keys": {"` + key + `": "` + key + `"}, "flags": {"` + key + `": true, "on": true}, "channel": "#ops"}`,
					Response: &workflows.Response{Body: `{"granted": {"` + key + `": true}}`}},
			}},
		}}
	ev := &workflows.Event{ID: "ev1", Trigger: "webhook", ContentType: "application/json", Raw: "{}", Body: map[string]any{},
		Headers: map[string]string{"content-type": "application/json", "X-Api-Key": key}}
	data, err := Write(run, ev, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"# Left out: json members flags.[redacted], keys.[redacted] (credentials):",
		`decision = "approve"`, `on = true`, `channel = "#ops"`, `"[redacted]" = true`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "SECRETVALUE") {
		t.Errorf("holds the credential:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// The answers of a sensitive step are kept as [sensitive] only: its mock says so
// above it, and that they are to be filled in, since a paginate block's next or a
// later step would read the placeholder. A step that was not sensitive has no such
// comment.
func TestWriteSaysSensitiveAnswersAreToBeFilledIn(t *testing.T) {
	page := func(n int) workflows.Request {
		return workflows.Request{Attempt: 1, Method: "GET", URL: fmt.Sprintf("https://api.example.com/orders?page=%d", n), Status: 200,
			Response: &workflows.Response{Body: workflows.SensitiveShown}}
	}
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "orders", Version: "v1", Status: engine.RunFailed},
		Steps: []engine.StepRun{
			{Name: "list", Path: "list", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1,
				Output: workflows.SensitiveShown, Requests: []workflows.Request{page(1), page(2)}},
			{Name: "note", Path: "note", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "POST", URL: "https://notes.example.com", Status: 201, Response: &workflows.Response{Body: "ok"}},
			}},
		}}
	data, err := Write(run, &workflows.Event{Trigger: "manual", Body: map[string]any{}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	const want = "  # Step list is sensitive: its run keeps its answers as [sensitive], not as they came, and so does this mock.\n" +
		"  # Fill in the answers the test should give: what reads them here reads the placeholder.\n" +
		"  mock \"list\" {\n"
	if !strings.Contains(text, want) {
		t.Errorf("lacks\n%s\nin:\n%s", want, text)
	}
	if strings.Count(text, "is sensitive") != 1 {
		t.Errorf("says more than one step is sensitive:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// An attempt whose worker stopped while it ran is left out of the test, and says so:
// the mock answers the attempts that ran, in order, and the expect counts those; an
// answer for the lost one would have the test's step fail where the run's did not.
func TestWriteLeavesLostAttemptsOut(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "pay", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "charge", Path: "charge", Kind: "http", Status: engine.StatusSucceeded, Attempts: 3, Requests: []workflows.Request{
				{Attempt: 1, Lost: true, Error: "its worker stopped while it ran (killed, or out of reach of Redis past its lease); the request may have been sent"},
				{Attempt: 2, Method: "POST", URL: "https://pay.example.com/charges", Status: 503, Response: &workflows.Response{Body: "busy"}},
				{Attempt: 3, Method: "POST", URL: "https://pay.example.com/charges", Status: 201, Response: &workflows.Response{Body: "ok"}},
			}},
		}}
	data, err := Write(run, &workflows.Event{Trigger: "manual", Body: map[string]any{}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"# Left out: 1 attempt lost (its worker stopped while it ran", `status = 503`, `status = 201`, `count  = 2`} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "error =") || strings.Contains(text, "of its 3 attempts") {
		t.Errorf("answers or counts the lost attempt:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// What the history kept cut (a URL, a header's value, headers past its budget) is
// left out of the expect and the mock, said so: a test would expect the cut text.
func TestWriteLeavesOutWhatWasCut(t *testing.T) {
	long := strings.Repeat("A", 5000)
	url := workflows.RecordURL("https://api.example.com/sku/1?order="+long, 5000+36)
	headers := workflows.RecordHeaders(map[string][]string{"X-Order": {long}, "X-Trace": {"t-1"}}, nil)
	headers[workflows.HeadersCut] = "3 of the 5 headers are not kept: the history keeps 16384 bytes of headers"
	answer := workflows.RecordHeaders(map[string][]string{"X-Echo": {long}, "X-Plain": {"p"}}, nil)
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "hdr", Version: "v1", Status: engine.RunSucceeded},
		Steps: []engine.StepRun{
			{Name: "line", Path: "line", Kind: "http", Status: engine.StatusSucceeded, Attempts: 1, Requests: []workflows.Request{
				{Attempt: 1, Method: "GET", URL: url, Headers: headers, Status: 200,
					Response: &workflows.Response{Headers: answer, Body: "ok"}},
			}},
		}}
	ev := &workflows.Event{ID: "ev1", Trigger: "webhook", ContentType: "application/json", Raw: "{}", Body: map[string]any{}}
	data, err := Write(run, ev, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	want := "# Left out: url (the history keeps its start only); headers past the 16 KiB the history keeps; " +
		"headers X-Order (the history keeps its start only): a test run does not have them"
	for _, want := range []string{want, `X-Trace = "t-1"`, `X-Plain = "p"`} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "[cut") || strings.Contains(text, "AAAA") {
		t.Errorf("holds a cut value:\n%s", text)
	}
	if _, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil); diags.HasErrors() {
		t.Errorf("does not load: %s\n%s", diags.Error(), text)
	}
}

// The event's trigger is written for each kind a test's event can be, a poll's
// included; a child run's, "workflow", which a test cannot start, is not.
func TestWriteEventTrigger(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "orders", Status: engine.RunSucceeded}}
	for _, trigger := range []string{"webhook", "schedule", "poll", "manual", "workflow"} {
		data, err := Write(run, &workflows.Event{ID: "ev1", Trigger: trigger, Raw: "{}", Body: map[string]any{}}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := trigger != "workflow"
		if got := strings.Contains(string(data), fmt.Sprintf("trigger = %q", trigger)); got != want {
			t.Errorf("%s: written %v, want %v:\n%s", trigger, got, want, data)
		}
	}
}

// A poll's item is written with event.poll's page and time, as the stored event reads
// them back (a page is a JSON number), and the file loads.
func TestWriteEventPoll(t *testing.T) {
	run := &engine.Run{RunSummary: engine.RunSummary{ID: "01run", Workflow: "orders", Status: engine.RunSucceeded}}
	ev := &workflows.Event{ID: "ev1", Trigger: "poll", Raw: `{"id":"o1"}`, Body: map[string]any{"id": "o1"},
		Poll: map[string]any{"page": float64(2), "time": "2026-03-02T09:00:00Z"}}
	data, err := Write(run, ev, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `poll = {
      page = 2
      time = "2026-03-02T09:00:00Z"
    }`) {
		t.Errorf("lacks the poll:\n%s", data)
	}
	tests, diags := workflows.LoadTests([]workflows.Source{{Name: "x.test.hcl", Data: data}}, nil)
	if diags.HasErrors() || len(tests) != 1 || tests[0].Event.PollPage != 2 {
		t.Errorf("does not load as written: %s\n%s", diags.Error(), data)
	}
}
