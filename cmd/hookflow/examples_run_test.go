package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The examples run end to end: each example directory served as `hookflow serve` does
// (embedded Redis), its sample event sent over HTTP signed as its provider signs it, and
// the APIs it calls played by httptest servers that record what they get.

// exampleEnv is what the examples need to load: their secrets, and the URLs that have
// no default. The URLs of the APIs they call default to real hosts; each test points
// them at its fakes.
var exampleEnv = map[string]string{
	"QUICKSTART_HOOKS_URL":       "http://127.0.0.1:8080/hooks",
	"GITHUB_WEBHOOK_SECRET":      "It's a Secret to Everybody",
	"SLACK_WEBHOOK_URL":          "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
	"STRIPE_WEBHOOK_SECRET":      "whsec_test_secret",
	"CRM_TOKEN":                  "crm-token-7f3a9c",
	"SHOPIFY_WEBHOOK_SECRET":     "shop-secret",
	"WAREHOUSE_TOKEN":            "wms-token-51be0d",
	"ACCOUNTING_API_KEY":         "books-key-90ac4e",
	"PAGERDUTY_ROUTING_KEY":      "R0UT1NGKEY0000000000000000000000",
	"SLACK_SIGNING_SECRET":       "8f742231b10e8888abcd99yyyzzz85a5",
	"HELPDESK_TOKEN":             "helpdesk-token-c21d",
	"WOOCOMMERCE_WEBHOOK_SECRET": "woo-secret-3d81f0",
	"INVENTORY_TOKEN":            "inventory-token-8e21",
	"SALES_CLIENT_SECRET":        "sales-client-secret-4b7e",
	"SIGNUPS_WEBHOOK_SECRET":     "signups-secret-5e19",
	"SHOP_TOKEN":                 "shop-token-6d0c",
	"FULFILLMENT_TOKEN":          "fulfillment-token-a93e",
	"REFUNDS_WEBHOOK_SECRET":     "refunds-secret-7c2e",
	"PAYMENTS_TOKEN":             "payments-token-1a9f",
	"MAIL_TOKEN":                 "mail-token-6d30",
}

func setExampleEnv(t *testing.T) {
	for k, v := range exampleEnv {
		t.Setenv(k, v)
	}
}

// The signers below are the providers' documented schemes; this checks them against
// the published test vectors, so that the tests below sign as the providers do.
func TestExampleSignatureVectors(t *testing.T) {
	if got := signGitHub("It's a Secret to Everybody", []byte("Hello, World!")); got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("github: %s", got)
	}
	if got := signStripe("whsec_test_secret", 1700000000, []byte(`{"id":"evt_test_webhook","object":"event"}`)); got != "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990" {
		t.Errorf("stripe: %s", got)
	}
	form := exampleFile(t, "slack-form", "event.form")
	if got := signSlack("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, form); got != "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503" {
		t.Errorf("slack: %s", got)
	}
	if got := signShopify("shop-secret", []byte(`{"id":1}`)); got != "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=" {
		t.Errorf("shopify: %s", got)
	}
}

func TestExampleGitHubPush(t *testing.T) {
	setExampleEnv(t)
	chat := newFakeAPI(t, func(r request, w http.ResponseWriter) { io.WriteString(w, "ok") })
	t.Setenv("SLACK_WEBHOOK_URL", chat.URL+"/services/T0000/B0000/XXXXXXXX")
	s := serveExample(t, "github-push")
	hook := "http://" + s.publicAddr + "/hooks/github"
	secret := exampleEnv["GITHUB_WEBHOOK_SECRET"]
	event, headers := exampleFile(t, "github-push", "event.json"), exampleHeaders(t, "github-push")

	// Signed with another secret: refused, nothing started.
	h := headers.Clone()
	h.Set("X-Hub-Signature-256", signGitHub("not the secret", event))
	if a := deliver(t, hook, event, h); a.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", a.status, a.body)
	}
	if runs := listRuns(t, s, "github_push"); len(runs) != 0 {
		t.Fatalf("a refused delivery started runs: %v", runs)
	}

	h = headers.Clone()
	h.Set("X-Hub-Signature-256", signGitHub(secret, event))
	a := deliver(t, hook, event, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)
	msg := chat.next(t)
	if msg.method != "POST" || msg.path != "/services/T0000/B0000/XXXXXXXX" || msg.header.Get("Idempotency-Key") != runID+":notify" {
		t.Errorf("message sent as %s %s, Idempotency-Key %q", msg.method, msg.path, msg.header.Get("Idempotency-Key"))
	}
	sameJSON(t, "message", msg.body, `{"text": "*octocat* pushed 1 commit to `+"`main`"+` of <https://github.com/octocat/Hello-World|octocat/Hello-World> (<https://github.com/octocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f|compare>)\n`+
		`• <https://github.com/octocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c|0d1a26e> Update README.md (The Octocat)\n"}`)
	wantSteps(t, waitRun(t, statusURL(s, runID)), "succeeded", "shown=succeeded", "summary=succeeded", "notify=succeeded")

	// GitHub delivers again after a timeout: the same delivery id starts nothing.
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "duplicate" || a.json(t)["run_id"] != runID {
		t.Errorf("repeated delivery: %d %s", a.status, a.body)
	}

	// Two commits, one with markup in its message: it is escaped, and the count plural.
	var push map[string]any
	if err := json.Unmarshal(event, &push); err != nil {
		t.Fatal(err)
	}
	second := map[string]any{"id": "5c0ffee000000000000000000000000000000000", "message": "Compare with a < b && b > c\n\nDetails.",
		"url": "https://github.com/octocat/Hello-World/commit/5c0ffee", "author": map[string]any{"name": "Mona"}}
	push["commits"] = append(push["commits"].([]any), second)
	a = deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-2")
	if a.status != http.StatusAccepted {
		t.Fatalf("push of two commits: %d %s", a.status, a.body)
	}
	msg = chat.next(t)
	text, _ := msg.body.(map[string]any)["text"].(string)
	if !strings.Contains(text, "pushed 2 commits to") ||
		!strings.HasSuffix(text, "\n• <https://github.com/octocat/Hello-World/commit/5c0ffee|5c0ffee> Compare with a &lt; b &amp;&amp; b &gt; c (Mona)\n") {
		t.Errorf("message of two commits:\n%s", text)
	}
	wantSteps(t, waitRun(t, statusURL(s, a.json(t)["run_id"].(string))), "succeeded", "shown=succeeded", "summary=succeeded", "notify=succeeded")

	// A push to another branch, a branch deleted, and the ping sent when the webhook is
	// created are answered "filtered" and send nothing.
	push["ref"] = "refs/heads/feature"
	if a := deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-3"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("push to a feature branch: %d %s", a.status, a.body)
	}
	push["ref"], push["deleted"] = "refs/heads/main", true
	if a := deliverGitHub(t, hook, mustJSON(t, push), headers, secret, "delivery-4"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("deleted branch: %d %s", a.status, a.body)
	}
	ping := headers.Clone()
	ping.Set("X-GitHub-Event", "ping")
	if a := deliverGitHub(t, hook, []byte(`{"zen": "Keep it logically awesome.", "hook_id": 292430182}`), ping, secret, "delivery-5"); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("ping: %d %s", a.status, a.body)
	}
	chat.none(t)
}

func deliverGitHub(t *testing.T, hook string, body []byte, headers http.Header, secret, delivery string) answer {
	t.Helper()
	h := headers.Clone()
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", signGitHub(secret, body))
	return deliver(t, hook, body, h)
}

func TestExampleStripePayment(t *testing.T) {
	setExampleEnv(t)
	var patches atomic.Int32
	crm := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.method == "GET" && r.path == "/api/v1/customers" && r.query.Get("email") == "jenny.rosen@example.com":
			io.WriteString(w, `{"results": [{"id": "c_1042", "name": "Jenny Rosen", "email": "jenny.rosen@example.com"}]}`)
		case r.method == "GET" && r.path == "/api/v1/customers" && r.query.Get("email") == "no.results@example.com":
			io.WriteString(w, `{"total": 0}`) // a CRM that leaves the list out when it is empty
		case r.method == "GET" && r.path == "/api/v1/customers":
			io.WriteString(w, `{"results": []}`)
		case r.method == "PATCH" && patches.Add(1) == 1:
			w.WriteHeader(http.StatusServiceUnavailable) // the CRM has a bad moment
			io.WriteString(w, `{"error": "try again"}`)
		case r.method == "PATCH":
			io.WriteString(w, `{"id": "c_1042", "url": "https://crm.example.com/customers/c_1042"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	chat := newFakeAPI(t, func(r request, w http.ResponseWriter) { io.WriteString(w, "ok") })
	t.Setenv("CRM_URL", crm.URL+"/api/v1")
	t.Setenv("SLACK_WEBHOOK_URL", chat.URL+"/services/T0000/B0000/XXXXXXXX")
	s := serveExample(t, "stripe-payment")
	hook := "http://" + s.publicAddr + "/hooks/stripe"
	secret := exampleEnv["STRIPE_WEBHOOK_SECRET"]
	event, headers := exampleFile(t, "stripe-payment", "event.json"), exampleHeaders(t, "stripe-payment")
	now := time.Now().Unix()

	// Another secret, and the right one over a timestamp 10 minutes old (a replayed
	// request): both refused, nothing started.
	for name, sig := range map[string]string{
		"bad signature": signStripe("whsec_another_secret", now, event),
		"old timestamp": signStripe(secret, now-600, event),
	} {
		h := headers.Clone()
		h.Set("Stripe-Signature", sig)
		if a := deliver(t, hook, event, h); a.status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", name, a.status, a.body)
		}
	}
	if runs := listRuns(t, s, "stripe_payment"); len(runs) != 0 {
		t.Fatalf("refused deliveries started runs: %v", runs)
	}
	crm.none(t)

	h := headers.Clone()
	h.Set("Stripe-Signature", signStripe(secret, now, event))
	a := deliver(t, hook, event, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("payment: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)

	find := crm.next(t)
	if find.method != "GET" || find.path != "/api/v1/customers" || find.query.Get("email") != "jenny.rosen@example.com" ||
		find.header.Get("Authorization") != "Bearer "+exampleEnv["CRM_TOKEN"] {
		t.Errorf("lookup: %s %s?%s, Authorization %q", find.method, find.path, find.query.Encode(), find.header.Get("Authorization"))
	}
	// The update goes to the id the lookup returned; it fails once with a 503 and is
	// retried with the same Idempotency-Key: the Stripe event's id.
	wantPatch := `{"stripe_customer_id": "cus_R1x8PqLm2ZkT0a", "status": "paid", "last_payment": {
		"payment_intent": "pi_3QdL5k2eZvKYlo2C1c0Tb8yN", "amount": 49.99, "currency": "USD", "description": "Order #1042"}}`
	for attempt := 1; attempt <= 2; attempt++ {
		patch := crm.next(t)
		if patch.method != "PATCH" || patch.path != "/api/v1/customers/c_1042" || patch.header.Get("Idempotency-Key") != "evt_3QdL5k2eZvKYlo2C1mXq8r7T" ||
			patch.header.Get("Authorization") != "Bearer "+exampleEnv["CRM_TOKEN"] {
			t.Errorf("update, attempt %d: %s %s, Idempotency-Key %q", attempt, patch.method, patch.path, patch.header.Get("Idempotency-Key"))
		}
		sameJSON(t, "update", patch.body, wantPatch)
	}
	msg := chat.next(t)
	if msg.method != "POST" || msg.path != "/services/T0000/B0000/XXXXXXXX" {
		t.Errorf("notice sent as %s %s", msg.method, msg.path)
	}
	sameJSON(t, "notice", msg.body, `{"text": "Payment received: 49.99 USD from <https://crm.example.com/customers/c_1042|Jenny Rosen> for Order #1042"}`)
	run := waitRun(t, statusURL(s, runID))
	wantSteps(t, run, "succeeded", "payment=succeeded", "find_customer=succeeded", "mark_paid=succeeded", "shown=succeeded", "notify=succeeded", "notify_unknown=skipped")
	if n := stepNamed(t, run, "mark_paid")["attempts"]; n != 2.0 {
		t.Errorf("mark_paid took %v attempts, want 2", n)
	}

	// Stripe sends the event again: the stripe preset dedupes on its id.
	h.Set("Stripe-Signature", signStripe(secret, time.Now().Unix(), event))
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "duplicate" {
		t.Errorf("repeated event: %d %s", a.status, a.body)
	}

	// A payer the CRM does not know: no update, and a notice that says so.
	unknown := bytes.Replace(event, []byte("jenny.rosen@example.com"), []byte("new.buyer@example.com"), 1)
	unknown = bytes.Replace(unknown, []byte("evt_3QdL5k2eZvKYlo2C1mXq8r7T"), []byte("evt_3QdL5k2eZvKYlo2C1unknown"), 1)
	h.Set("Stripe-Signature", signStripe(secret, time.Now().Unix(), unknown))
	a = deliver(t, hook, unknown, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("unknown payer: %d %s", a.status, a.body)
	}
	if find := crm.next(t); find.query.Get("email") != "new.buyer@example.com" {
		t.Errorf("lookup of the unknown payer: %v", find.query)
	}
	sameJSON(t, "notice", chat.next(t).body, `{"text": "Payment received: 49.99 USD from new.buyer@example.com for Order #1042, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_3QdL5k2eZvKYlo2C1c0Tb8yN|see the payment>"}`)
	wantSteps(t, waitRun(t, statusURL(s, a.json(t)["run_id"].(string))), "succeeded",
		"payment=succeeded", "find_customer=succeeded", "mark_paid=skipped", "shown=succeeded", "notify=skipped", "notify_unknown=succeeded")

	// A CRM answer without results is read as an empty list: the payer is unknown.
	noResults := bytes.Replace(event, []byte("jenny.rosen@example.com"), []byte("no.results@example.com"), 1)
	noResults = bytes.Replace(noResults, []byte("evt_3QdL5k2eZvKYlo2C1mXq8r7T"), []byte("evt_3QdL5k2eZvKYlo2C1noresu"), 1)
	h.Set("Stripe-Signature", signStripe(secret, time.Now().Unix(), noResults))
	if a = deliver(t, hook, noResults, h); a.status != http.StatusAccepted {
		t.Fatalf("a lookup without results: %d %s", a.status, a.body)
	}
	if find := crm.next(t); find.query.Get("email") != "no.results@example.com" {
		t.Errorf("lookup without results: %v", find.query)
	}
	sameJSON(t, "notice", chat.next(t).body, `{"text": "Payment received: 49.99 USD from no.results@example.com for Order #1042, who is not in the CRM: <https://dashboard.stripe.com/test/payments/pi_3QdL5k2eZvKYlo2C1c0Tb8yN|see the payment>"}`)
	wantSteps(t, waitRun(t, statusURL(s, a.json(t)["run_id"].(string))), "succeeded",
		"payment=succeeded", "find_customer=succeeded", "mark_paid=skipped", "shown=succeeded", "notify=skipped", "notify_unknown=succeeded")

	// Other event types are filtered.
	failed := bytes.Replace(event, []byte(`"payment_intent.succeeded"`), []byte(`"payment_intent.payment_failed"`), 1)
	failed = bytes.Replace(failed, []byte("evt_3QdL5k2eZvKYlo2C1mXq8r7T"), []byte("evt_3QdL5k2eZvKYlo2C1failed1"), 1)
	h.Set("Stripe-Signature", signStripe(secret, time.Now().Unix(), failed))
	if a := deliver(t, hook, failed, h); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("payment_failed: %d %s", a.status, a.body)
	}
	crm.none(t)
	chat.none(t)
}

func TestExampleShopifyOrder(t *testing.T) {
	setExampleEnv(t)
	warehouse := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": "shp_9999", "status": "pending"}`)
	})
	accounting := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": "inv_2026_0042"}`)
	})
	t.Setenv("WAREHOUSE_URL", warehouse.URL+"/api")
	t.Setenv("ACCOUNTING_URL", accounting.URL+"/api/v3")
	s := serveExample(t, "shopify-order")
	hook := "http://" + s.publicAddr + "/hooks/shopify/orders"
	secret := exampleEnv["SHOPIFY_WEBHOOK_SECRET"]
	event, headers := exampleFile(t, "shopify-order", "event.json"), exampleHeaders(t, "shopify-order")

	h := headers.Clone()
	h.Set("X-Shopify-Hmac-Sha256", signShopify("another-secret", event))
	if a := deliver(t, hook, event, h); a.status != http.StatusUnauthorized {
		t.Fatalf("bad HMAC: %d %s", a.status, a.body)
	}
	if runs := listRuns(t, s, "shopify_order"); len(runs) != 0 {
		t.Fatalf("a refused delivery started runs: %v", runs)
	}

	h.Set("X-Shopify-Hmac-Sha256", signShopify(secret, event))
	a := deliver(t, hook, event, h)
	if a.status != http.StatusAccepted {
		t.Fatalf("order: %d %s", a.status, a.body)
	}
	runID := a.json(t)["run_id"].(string)

	// The order id is a 64-bit integer: it stays exact, in the body and in the keys.
	ship := warehouse.next(t)
	if ship.method != "POST" || ship.path != "/api/shipments" || ship.header.Get("Authorization") != "Bearer "+exampleEnv["WAREHOUSE_TOKEN"] ||
		ship.header.Get("Idempotency-Key") != "shopify-order-820982911946154508" {
		t.Errorf("shipment: %s %s, Authorization %q, Idempotency-Key %q", ship.method, ship.path, ship.header.Get("Authorization"), ship.header.Get("Idempotency-Key"))
	}
	sameJSON(t, "shipment", ship.body, `{"reference": "#9999", "order_id": 820982911946154508,
		"ship_to": {"name": "John Smith", "city": "Ottawa", "zip": "K2P 1L4", "country": "CA", "email": "jon@example.com"},
		"items": [{"sku": "IPOD2008PINK", "quantity": 1}, {"sku": "IPOD2008BLACK", "quantity": 1}]}`)

	inv := accounting.next(t)
	if inv.method != "POST" || inv.path != "/api/v3/invoices" || inv.header.Get("X-Api-Key") != exampleEnv["ACCOUNTING_API_KEY"] ||
		inv.header.Get("Idempotency-Key") != "shopify-invoice-820982911946154508" {
		t.Errorf("invoice: %s %s, X-Api-Key %q, Idempotency-Key %q", inv.method, inv.path, inv.header.Get("X-Api-Key"), inv.header.Get("Idempotency-Key"))
	}
	sameJSON(t, "invoice", inv.body, `{"reference": "Shopify #9999",
		"customer": {"email": "jon@example.com", "name": "John Smith"}, "currency": "USD",
		"lines": [{"description": "IPod Nano - 8GB (IPOD2008PINK)", "quantity": 1, "unit_price": "199.00"},
		          {"description": "IPod Nano - 8GB (IPOD2008BLACK)", "quantity": 1, "unit_price": "199.00"}],
		"total": "199.65", "status": "paid", "shipment": "shp_9999"}`)
	wantSteps(t, waitRun(t, statusURL(s, runID)), "succeeded", "shipment=succeeded", "invoice=succeeded")

	// Shopify retries a delivery with the same X-Shopify-Webhook-Id: nothing new starts.
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "duplicate" {
		t.Errorf("repeated delivery: %d %s", a.status, a.body)
	}
	// An order not paid yet, and another topic on the same URL, are filtered.
	pending := bytes.Replace(event, []byte(`"financial_status": "paid"`), []byte(`"financial_status": "pending"`), 1)
	h.Set("X-Shopify-Webhook-Id", "a8b0c3e2-0000-4000-8000-000000000001")
	h.Set("X-Shopify-Hmac-Sha256", signShopify(secret, pending))
	if a := deliver(t, hook, pending, h); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("pending order: %d %s", a.status, a.body)
	}
	h.Set("X-Shopify-Topic", "orders/updated")
	h.Set("X-Shopify-Webhook-Id", "a8b0c3e2-0000-4000-8000-000000000002")
	h.Set("X-Shopify-Hmac-Sha256", signShopify(secret, event))
	if a := deliver(t, hook, event, h); a.status != http.StatusOK || a.json(t)["status"] != "filtered" {
		t.Errorf("orders/updated: %d %s", a.status, a.body)
	}
	warehouse.none(t)
	accounting.none(t)
}

// TestExampleHealthCheck starts the scheduled workflow by hand, as the admin API
// allows, rather than wait for its minute. A tick may still fire while a case runs:
// pages are matched to runs by the run id they carry.
func TestExampleHealthCheck(t *testing.T) {
	var failing atomic.Bool
	service := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status": "down", "database": "unreachable"}`)
			return
		}
		io.WriteString(w, `{"status": "ok"}`)
	})
	cases := []struct {
		name       string
		url        string // the health URL
		failing    bool
		page       bool
		summary    string // in the page's summary
		checkState any    // steps.check.status: the HTTP status; none without an answer
	}{
		{name: "healthy", url: service.URL + "/healthz", checkState: 200.0},
		{name: "503", url: service.URL + "/healthz", failing: true, page: true,
			summary: "Health check failed: GET " + service.URL + "/healthz: status 503 Service Unavailable, expected 2xx", checkState: 503.0},
		{name: "connection refused", url: "http://127.0.0.1:1/healthz", page: true,
			summary: "connection refused", checkState: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setExampleEnv(t)
			failing.Store(tc.failing)
			pager := newFakeAPI(t, func(r request, w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, `{"status": "success", "message": "Event processed", "dedup_key": "x"}`)
			})
			t.Setenv("HEALTH_URL", tc.url)
			t.Setenv("PAGER_URL", pager.URL+"/v2/enqueue")
			s := serveExample(t, "health-check")

			status, body := postJSON(t, "http://"+s.adminAddr+"/api/v1/workflows/health_check/runs", `{}`)
			if status != http.StatusAccepted {
				t.Fatalf("manual start: %d %v", status, body)
			}
			runID := body["run_id"].(string)
			run := waitRun(t, body["status_url"].(string))
			check := stepNamed(t, run, "check")
			if !tc.page {
				wantSteps(t, run, "succeeded", "check=succeeded", "page=skipped")
				if got := check["output"].(map[string]any)["status"]; got != tc.checkState {
					t.Errorf("check's output status %v, want %v", got, tc.checkState)
				}
				for _, p := range pager.drain() {
					if pageRun(p) == runID {
						t.Errorf("a healthy check paged: %v", p.body)
					}
				}
				return
			}
			// The failed check was tried twice, then the run went on to page.
			wantSteps(t, run, "succeeded", "check=failed", "page=succeeded")
			if check["attempts"] != 2.0 {
				t.Errorf("check took %v attempts, want 2", check["attempts"])
			}
			var page request
			for page = pager.next(t); pageRun(page) != runID; page = pager.next(t) {
			}
			if page.method != "POST" || page.path != "/v2/enqueue" || page.header.Get("Idempotency-Key") != runID+":page" {
				t.Errorf("page sent as %s %s, Idempotency-Key %q", page.method, page.path, page.header.Get("Idempotency-Key"))
			}
			p := page.body.(map[string]any)
			payload := p["payload"].(map[string]any)
			if p["routing_key"] != exampleEnv["PAGERDUTY_ROUTING_KEY"] || p["event_action"] != "trigger" || p["dedup_key"] != "health-check "+tc.url ||
				payload["source"] != tc.url || payload["severity"] != "critical" || payload["timestamp"] != run["event"].(map[string]any)["received_at"] {
				t.Errorf("page %v", p)
			}
			if summary, _ := payload["summary"].(string); !strings.Contains(summary, tc.summary) {
				t.Errorf("summary %q, want it to hold %q", summary, tc.summary)
			}
			if got := payload["custom_details"].(map[string]any)["status"]; got != normalize(tc.checkState) {
				t.Errorf("custom_details.status %v (%T), want %v", got, got, tc.checkState)
			}
		})
	}
}

// pageRun is the run a PagerDuty event came from.
func pageRun(r request) any {
	p, _ := r.body.(map[string]any)
	payload, _ := p["payload"].(map[string]any)
	details, _ := payload["custom_details"].(map[string]any)
	return details["run"]
}

func TestExampleSlackForm(t *testing.T) {
	setExampleEnv(t)
	helpdesk := newFakeAPI(t, func(r request, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		switch r.query.Get("search") {
		case "":
			io.WriteString(w, `{"tickets": [
				{"id": 4711, "subject": "Printer <3rd floor> jams", "url": "https://helpdesk.example.com/t/4711"},
				{"id": 4712, "subject": "VPN & Wi-Fi drop", "url": "https://helpdesk.example.com/t/4712"}]}`)
		case "down":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error": "maintenance"}`)
		default:
			io.WriteString(w, `{"tickets": []}`)
		}
	})
	t.Setenv("HELPDESK_URL", helpdesk.URL+"/api/v2")
	s := serveExample(t, "slack-form")
	hook := "http://" + s.publicAddr + "/hooks/slack/commands"
	secret := exampleEnv["SLACK_SIGNING_SECRET"]
	form, headers := exampleFile(t, "slack-form", "event.form"), exampleHeaders(t, "slack-form")
	command := func(form []byte, secret string, ts int64) answer {
		h := headers.Clone()
		h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("X-Slack-Signature", signSlack(secret, ts, form))
		return deliver(t, hook, form, h)
	}

	// Another secret, and a request signed 10 minutes ago: refused, nothing started.
	if a := command(form, "0000000000000000another000secret", time.Now().Unix()); a.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", a.status, a.body)
	}
	if a := command(form, secret, time.Now().Unix()-600); a.status != http.StatusUnauthorized {
		t.Fatalf("old timestamp: %d %s", a.status, a.body)
	}
	if runs := listRuns(t, s, "slack_tickets"); len(runs) != 0 {
		t.Fatalf("refused commands started runs: %v", runs)
	}
	helpdesk.none(t)

	// The answer comes in the response to Slack's request.
	a := command(form, secret, time.Now().Unix())
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("command: %d %v %s", a.status, a.header, a.body)
	}
	sameJSON(t, "answer", a.json(t), `{"response_type": "ephemeral", "text": "Your open tickets:\n`+
		`• <https://helpdesk.example.com/t/4711|#4711> Printer &lt;3rd floor&gt; jams\n• <https://helpdesk.example.com/t/4712|#4712> VPN &amp; Wi-Fi drop\n"}`)
	lookup := helpdesk.next(t)
	if lookup.method != "GET" || lookup.path != "/api/v2/tickets" || lookup.header.Get("Authorization") != "Bearer "+exampleEnv["HELPDESK_TOKEN"] ||
		!reflect.DeepEqual(lookup.query, url.Values{"slack_user": {"U2CERLKJA"}, "status": {"open"}, "search": {""}}) {
		t.Errorf("lookup: %s %s?%s, Authorization %q", lookup.method, lookup.path, lookup.query.Encode(), lookup.header.Get("Authorization"))
	}
	wantSteps(t, waitRun(t, statusURL(s, a.header.Get("Hookflow-Run-Id"))), "succeeded",
		"tickets=succeeded", "found=succeeded", "answer=succeeded", "none=skipped", "unavailable=skipped")

	// "/tickets printer" finds none; while the helpdesk fails, the user is told so.
	for search, want := range map[string]string{
		"printer": "You have no open tickets matching printer.",
		"down":    "The helpdesk did not answer; try again in a minute.",
	} {
		f := bytes.Replace(form, []byte("&text=&"), []byte("&text="+search+"&"), 1)
		a := command(f, secret, time.Now().Unix())
		if a.status != http.StatusOK {
			t.Fatalf("/tickets %s: %d %s", search, a.status, a.body)
		}
		sameJSON(t, "answer to /tickets "+search, a.json(t), `{"response_type": "ephemeral", "text": "`+want+`"}`)
		if q := helpdesk.next(t).query.Get("search"); q != search {
			t.Errorf("searched for %q, want %q", q, search)
		}
	}
	helpdesk.none(t)
}
