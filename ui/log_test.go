package ui_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

var logRow = regexp.MustCompile(`href="/deliveries/(dlv_[0-9a-z]+)"`)

// TestDeliveryLogPages walks the log a page at a time, newest first, and
// filters it by status.
func TestDeliveryLogPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.mustWorld(t, e.orgA)
	ctx := context.Background()
	for range 24 {
		_, err := e.svc.TestWebhook(ctx, e.orgA, w.hook.ID, pathhook.TestInput{})
		must(t, err)
	}
	ok := 200
	must(t, e.db.Record(ctx, []pathhook.Result{{DeliveryID: w.delivery, WebhookID: w.hook.ID, Status: pathhook.DeliverySucceeded,
		Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now(), DurationMS: 42, ResponseStatus: &ok}}}))
	b := e.signedIn(t, e.keyA)

	res, body := b.get("/webhooks/" + w.hook.ID)
	mustStatus(t, res, body, http.StatusOK)
	first := logRow.FindAllStringSubmatch(body, -1)
	if len(first) != pathhook.DefaultPageLimit {
		t.Fatalf("first page has %d rows", len(first))
	}
	next := regexp.MustCompile(`href="([^"]+)">Older deliveries`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no link to older deliveries")
	}
	res, body = b.get(html.UnescapeString(next[1]))
	mustStatus(t, res, body, http.StatusOK)
	second := logRow.FindAllStringSubmatch(body, -1)
	if len(second) != 5 || strings.Contains(body, "Older deliveries") || !strings.Contains(body, ">Newest<") {
		t.Fatalf("second page has %d rows", len(second))
	}
	if second[len(second)-1][1] != w.delivery {
		t.Errorf("the oldest delivery %s is not last", w.delivery)
	}
	if !strings.Contains(body, ">42 ms<") || !strings.Contains(body, `class="code code-ok">200<`) {
		t.Error("the ended delivery's response and duration are not shown")
	}

	_, body = b.get("/webhooks/" + w.hook.ID + "?status=succeeded")
	if rows := logRow.FindAllStringSubmatch(body, -1); len(rows) != 1 || rows[0][1] != w.delivery {
		t.Errorf("succeeded filter shows %v", rows)
	}
}

// TestDisabledReasonShown shows why the server switched a webhook off.
func TestDisabledReasonShown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.mustWorld(t, e.orgA)
	gone := 410
	must(t, e.db.Record(context.Background(), []pathhook.Result{{DeliveryID: w.delivery, WebhookID: w.hook.ID,
		Status: pathhook.DeliveryFailed, DisableReason: "the receiver answered 410 Gone",
		Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now(), DurationMS: 5, ResponseStatus: &gone}}}))
	b := e.signedIn(t, e.keyA)
	for _, p := range []string{"/pathways/" + w.pathway.ID, "/webhooks/" + w.hook.ID} {
		_, body := b.get(p)
		if !strings.Contains(body, "Disabled by the server: the receiver answered 410 Gone") || !strings.Contains(body, `aria-checked="false"`) {
			t.Errorf("%s does not say why the webhook is off", p)
		}
	}
}

// TestResponseBodyShowsOverrides: a receiver's answer that holds a
// bidirectional override is shown with the override as a visible mark, not
// as text that reads in another order.
func TestResponseBodyShowsOverrides(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.mustWorld(t, e.orgA)
	status := 500
	must(t, e.db.Record(context.Background(), []pathhook.Result{{DeliveryID: w.delivery, WebhookID: w.hook.ID,
		Status: pathhook.DeliveryFailed, Attempt: pathhook.Attempt{N: 1, StartedAt: time.Now(), DurationMS: 5,
			ResponseStatus: &status, ResponseBody: "ok \u202egpj.exe"}}}))
	b := e.signedIn(t, e.keyA)
	_, body := b.get("/deliveries/" + w.delivery)
	if !strings.Contains(body, "ok &lt;U&#43;202E&gt;gpj.exe") || strings.Contains(body, "\u202e") {
		t.Errorf("the response body is not shown with the override marked: %s", short(body))
	}
}
