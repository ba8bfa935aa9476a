package ui_test

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// TestDeliveryPageShowsWireHeaders checks the delivery page against what a
// receiver really got from the engine: every header the wire format sets
// is listed, with its value unless it is a signature.
func TestDeliveryPageShowsWireHeaders(t *testing.T) {
	t.Parallel()
	l := startLive(t)
	l.receiver.secret = strings.Repeat("k", 32)
	ctx := context.Background()
	p, err := l.svc.CreatePathway(ctx, l.orgID, pathhook.PathwayInput{Name: "Wire"})
	must(t, err)
	hook := p.Webhooks[2].ID
	url := l.receiver.srv.URL + "/in"
	_, err = l.svc.SetupWebhook(ctx, l.orgID, hook, pathhook.WebhookSetup{URL: url, Secret: &l.receiver.secret})
	must(t, err)
	on := true
	_, err = l.svc.SwitchWebhook(ctx, l.orgID, hook, pathhook.WebhookSwitch{Enabled: &on})
	must(t, err)
	id, err := l.svc.TestWebhook(ctx, l.orgID, hook, pathhook.TestInput{})
	must(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := l.svc.Delivery(ctx, l.orgID, id)
		must(t, err)
		if d.Status == pathhook.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery still %s", d.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}

	e := &env{srv: l.ui}
	res, body := e.signedIn(t, l.key).get("/deliveries/" + id)
	mustStatus(t, res, body, http.StatusOK)
	page := html.UnescapeString(body)
	l.receiver.mu.Lock()
	sent := l.receiver.got[0]
	l.receiver.mu.Unlock()
	for name, vs := range sent {
		switch name {
		case "Accept-Encoding", "Content-Length":
			continue // the HTTP client's own
		}
		wire := wireName(name)
		if !strings.Contains(page, ">"+wire+"<") {
			t.Errorf("header %s is not listed", wire)
			continue
		}
		if strings.Contains(strings.ToLower(name), "signature") {
			if strings.Contains(page, vs[0]) {
				t.Errorf("the page shows the signature %s", vs[0])
			}
			continue
		}
		if name == "Webhook-Timestamp" {
			continue // the attempt's start, to the second; the send may tick over
		}
		if !strings.Contains(page, ">"+vs[0]) {
			t.Errorf("header %s: value %q is not shown", wire, vs[0])
		}
	}
}

// wireName is the spelling of a received header as the sender wrote it:
// the platform's headers keep their case, the Standard Webhooks ones are
// lower case.
func wireName(canonical string) string {
	if strings.HasPrefix(canonical, "Webhook-") {
		return strings.ToLower(canonical)
	}
	return strings.Replace(canonical, "Bytekast-", "ByteKast-", 1)
}
