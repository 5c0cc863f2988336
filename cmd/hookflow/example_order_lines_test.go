package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// signWooCommerce signs a body as WooCommerce does: HMAC-SHA256 with the webhook's
// secret, base64.
func signWooCommerce(secret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(secret, body))
}

// TestExampleOrderLines serves examples/order-lines: one reservation per order line
// (the gift card without a SKU skipped), then Slack and the CRM together; a line that
// fails fails the run, and a replay reserves that line only.
func TestExampleOrderLines(t *testing.T) {
	setExampleEnv(t)
	var refuse atomic.Bool
	refuse.Store(true)
	inventory := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		sku := r.body.(map[string]any)["sku"].(string)
		w.Header().Set("Content-Type", "application/json")
		if sku == "SHIP-IDEA-BLK-L" && refuse.Load() {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error": "out of stock"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": "res_`+strings.ToLower(sku)+`", "status": "held"}`)
	})
	crm := newFakeAPI(t, func(r request, w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) })
	slack := newFakeAPI(t, func(r request, w http.ResponseWriter) { io.WriteString(w, "ok") })
	t.Setenv("INVENTORY_URL", inventory.URL+"/api")
	t.Setenv("CRM_URL", crm.URL+"/api/v1")
	t.Setenv("SLACK_WEBHOOK_URL", slack.URL+"/services/T0/B0/x")
	s := serveExample(t, "order-lines")
	hook := "http://" + s.publicAddr + "/hooks/woocommerce/orders"
	secret := exampleEnv["WOOCOMMERCE_WEBHOOK_SECRET"]
	event, headers := exampleFile(t, "order-lines", "event.json"), exampleHeaders(t, "order-lines")

	h := headers.Clone()
	h.Set("X-WC-Webhook-Signature", signWooCommerce("not-the-secret", event))
	if a := deliver(t, hook, event, h); a.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", a.status, a.body)
	}
	h.Set("X-WC-Webhook-Signature", signWooCommerce(secret, event))
	a := deliver(t, hook, event, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("order: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)
	run := waitRun(t, statusURL(s, runID))
	if run["status"] != "failed" || !strings.Contains(run["error"].(string), "step reserve: item 1: ") {
		t.Fatalf("run %v: %v", run["status"], run["error"])
	}
	reserve := stepNamed(t, run, "reserve")
	var lines []string
	for _, it := range reserve["items"].([]any) {
		it := it.(map[string]any)
		lines = append(lines, it["path"].(string)+"="+it["status"].(string))
	}
	if got := strings.Join(lines, " "); got != "reserve[0]=succeeded reserve[1]=failed reserve[2]=skipped" {
		t.Errorf("lines %s", got)
	}
	// Two lines reserved (in any order), each with its own key; nothing after them.
	keys := map[string]string{}
	for _, r := range inventory.drain() {
		if r.method != "POST" || r.path != "/api/reservations" || r.header.Get("Authorization") != "Bearer "+exampleEnv["INVENTORY_TOKEN"] {
			t.Errorf("reservation sent as %s %s", r.method, r.path)
		}
		keys[r.body.(map[string]any)["sku"].(string)] = r.header.Get("Idempotency-Key")
	}
	if keys["WOO-SINGLE-1"] != "woo-727-line-315" || keys["SHIP-IDEA-BLK-L"] != "woo-727-line-316" || len(keys) != 2 {
		t.Errorf("reservations %v", keys)
	}
	slack.none(t)
	crm.none(t)

	// In stock again: the replay reserves the failed line only, then tells both.
	refuse.Store(false)
	if code := postStatus(t, "http://"+s.adminAddr+"/api/v1/runs/"+runID+"/replay"); code != http.StatusAccepted {
		t.Fatalf("replay: %d", code)
	}
	run = waitRun(t, statusURL(s, runID))
	wantSteps(t, run, "succeeded", "reserve=succeeded", "shown=succeeded", "notify=succeeded", "slack=succeeded", "crm=succeeded")
	again := inventory.next(t)
	if sku := again.body.(map[string]any)["sku"]; sku != "SHIP-IDEA-BLK-L" || again.header.Get("Idempotency-Key") != "woo-727-line-316" {
		t.Errorf("the replay reserved %v with key %q", sku, again.header.Get("Idempotency-Key"))
	}
	sameJSON(t, "slack", slack.next(t).body, `{"text": "Order #727: 2 of 3 lines reserved"}`)
	note := crm.next(t)
	if note.path != "/api/v1/notes" || note.header.Get("Authorization") != "Bearer "+exampleEnv["CRM_TOKEN"] {
		t.Errorf("note sent to %s", note.path)
	}
	sameJSON(t, "crm", note.body, `{"email": "ada@example.com", "text": "Order #727 reserved: res_woo-single-1, res_ship-idea-blk-l"}`)
	inventory.none(t)

	// WooCommerce delivers again with the same delivery id: nothing starts. Another
	// topic on the same URL is filtered.
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "duplicate" {
		t.Errorf("repeated delivery: %d %s", a.status, a.body)
	}
	h.Set("X-WC-Webhook-Topic", "order.updated")
	h.Set("X-WC-Webhook-Delivery-ID", "0000000000000000000000000000updt")
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("order.updated: %d %s", a.status, a.body)
	}
	var runs []string
	for _, r := range listRuns(t, s, "order_lines") {
		runs = append(runs, r.(map[string]any)["id"].(string))
	}
	sort.Strings(runs)
	if len(runs) != 1 {
		t.Errorf("runs %v, want the one", runs)
	}
	inventory.none(t)
}

// postStatus POSTs nothing to url and returns the answer's status.
func postStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
