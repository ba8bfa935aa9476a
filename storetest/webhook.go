package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

func testWebhooks(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	wid := p.Webhooks[0].ID
	on := true
	_, err := h.svc.SwitchWebhook(h.ctx, h.org, wid, pathhook.WebhookSwitch{Enabled: &on})
	wantCode(t, err, pathhook.ECONFLICT)
	_, err = h.svc.TestWebhook(h.ctx, h.org, wid, pathhook.TestInput{})
	wantCode(t, err, pathhook.ECONFLICT)
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	got := must(h.svc.Webhook(h.ctx, h.org, wid))(t)
	if !got.Enabled || !got.SecretSet || got.URL == nil || *got.URL != "https://example.com/enrolments" || string(got.Secret) != string(w.Secret) {
		t.Fatalf("webhook read back = %+v", got)
	}
	// A new secret keeps the old one signing for the grace period.
	newSecret := strings.Repeat("n", 32)
	must(h.svc.SetupWebhook(h.ctx, h.org, wid, pathhook.WebhookSetup{URL: "https://example.com/v2", Secret: &newSecret}))(t)
	got = must(h.svc.Webhook(h.ctx, h.org, wid))(t)
	if string(got.Secret) != newSecret || string(got.PreviousSecret) != string(w.Secret) || got.PreviousSecretExpiresAt == nil {
		t.Errorf("rotated webhook = %+v", got)
	}

	id := must(h.svc.TestWebhook(h.ctx, h.org, wid, pathhook.TestInput{Type: pathhook.TypeEnrolmentCompleted}))(t)
	d := must(h.svc.Delivery(h.ctx, h.org, id))(t)
	if d.Status != pathhook.DeliveryPending || d.EventType != pathhook.TypeEnrolmentCompleted || d.WebhookID != wid || d.NextAttemptAt == nil {
		t.Errorf("test delivery = %+v", d)
	}
	ev := must(h.svc.DeliveryEvent(h.ctx, h.org, id))(t)
	var body struct {
		ID   string `json:"id"`
		Test bool   `json:"test"`
	}
	if err := json.Unmarshal(ev.Payload, &body); err != nil || !body.Test || body.ID != ev.ID || !ev.Test {
		t.Errorf("test event = %+v (%s), %v", ev, ev.Payload, err)
	}
	wantCode(t, h.svc.Redeliver(h.ctx, h.org, id), pathhook.ECONFLICT)

	// Once the attempt has ended, a redelivery makes it pending again.
	status := 500
	end := h.clock.Now()
	rec := pathhook.Result{DeliveryID: id, WebhookID: wid, Status: pathhook.DeliveryFailed,
		Attempt: pathhook.Attempt{N: 1, StartedAt: end, DurationMS: 12, ResponseStatus: &status, ResponseBody: "oops"}}
	h.record(t, rec)
	if err := h.svc.Redeliver(h.ctx, h.org, id); err != nil {
		t.Fatal(err)
	}
	d = must(h.svc.Delivery(h.ctx, h.org, id))(t)
	if d.Status != pathhook.DeliveryPending || !d.Manual || d.AttemptCount != 1 || len(d.Attempts) != 1 || d.Attempts[0].ResponseBody != "oops" {
		t.Errorf("redelivered = %+v", d)
	}
	// Switching off fails what is pending (testEndBacklog has more).
	off := false
	must(h.svc.SwitchWebhook(h.ctx, h.org, wid, pathhook.WebhookSwitch{Enabled: &off}))(t)
	h.endBacklogs(t, 1)
	d = must(h.svc.Delivery(h.ctx, h.org, id))(t)
	eq(t, "status after disabling", d.Status, pathhook.DeliveryFailed)
	ds, _, err := h.svc.Deliveries(h.ctx, h.org, wid, pathhook.DeliveryPending, pathhook.Page{})
	if err != nil || len(ds) != 0 {
		t.Errorf("pending deliveries after disabling = %v, %v", ds, err)
	}
}

func testSecretsAtRest(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	w := h.enable(t, p, pathhook.CategoryRewards)
	var sealed []byte
	q := "SELECT secret FROM webhooks WHERE id = " + quote(w.ID)
	if err := h.db.SQL().QueryRowContext(h.ctx, q).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, w.Secret) {
		t.Errorf("the secret column holds %q; want it sealed, not %q", sealed, w.Secret)
	}
	got := must(h.svc.Webhook(h.ctx, h.org, w.ID))(t)
	if !bytes.Equal(got.Secret, w.Secret) {
		t.Errorf("secret read back = %q, want %q", got.Secret, w.Secret)
	}
}

func testTenantIsolation(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	a := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Class", Kind: pathhook.ActivityClassroom}))(t)
	r := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "B", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockPathwayCompleted}))(t)
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	h.enrol(t, p, "ada")
	d := h.deliveries(t, w.ID)[0]

	other := must(h.svc.EnsureOrg(h.ctx, "intruder"))(t).ID
	secret := strings.Repeat("x", 30)
	on, off := true, false
	for name, err := range map[string]error{
		"pathway":     second(h.svc.Pathway(h.ctx, other, p.ID)),
		"activities":  second(h.svc.Activities(h.ctx, other, p.ID)),
		"activity":    second(h.svc.CreateActivity(h.ctx, other, p.ID, pathhook.ActivityInput{Title: "x", Kind: pathhook.ActivityOnline})),
		"reward":      second(h.svc.CreateReward(h.ctx, other, p.ID, pathhook.RewardInput{Name: "x", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockPathwayCompleted})),
		"award":       second(h.svc.AwardReward(h.ctx, other, p.ID, r.ID, pathhook.AwardInput{LearnerID: "ada"})),
		"enrol":       second(h.svc.Enrol(h.ctx, other, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "eve"}})),
		"enrolment":   second(h.svc.Enrolment(h.ctx, other, p.ID, "ada")),
		"complete":    second(h.svc.Complete(h.ctx, other, p.ID, "ada", pathhook.CompletionInput{ActivityID: a.ID})),
		"attendance":  second(h.svc.SetAttendance(h.ctx, other, a.ID, pathhook.AttendanceInput{LearnerID: "ada", Status: pathhook.AttendanceRegistered})),
		"webhook":     second(h.svc.Webhook(h.ctx, other, w.ID)),
		"webhooks":    second(h.svc.Webhooks(h.ctx, other, p.ID)),
		"setup":       second(h.svc.SetupWebhook(h.ctx, other, w.ID, pathhook.WebhookSetup{URL: "https://evil.example/", Secret: &secret})),
		"switch off":  second(h.svc.SwitchWebhook(h.ctx, other, w.ID, pathhook.WebhookSwitch{Enabled: &off})),
		"switch on":   second(h.svc.SwitchWebhook(h.ctx, other, p.Webhooks[1].ID, pathhook.WebhookSwitch{Enabled: &on})),
		"test":        second(h.svc.TestWebhook(h.ctx, other, w.ID, pathhook.TestInput{})),
		"delivery":    second(h.svc.Delivery(h.ctx, other, d.ID)),
		"event":       second(h.svc.DeliveryEvent(h.ctx, other, d.ID)),
		"redeliver":   h.svc.Redeliver(h.ctx, other, d.ID),
		"deliveries":  third(h.svc.Deliveries(h.ctx, other, w.ID, "", pathhook.Page{})),
		"enrolments":  third(h.svc.Enrolments(h.ctx, other, p.ID, pathhook.Page{})),
		"new secret":  second(h.svc.GenerateSecret(h.ctx, other, w.ID, 0)),
		"rewards":     second(h.svc.Rewards(h.ctx, other, p.ID)),
		"webhook ids": second(h.svc.Webhooks(h.ctx, other, p.ID)),
	} {
		if pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
			t.Errorf("%s of another org: error %v, want %s", name, err, pathhook.ENOTFOUND)
		}
	}
	ps, _, err := h.svc.Pathways(h.ctx, other, pathhook.Page{})
	if err != nil || len(ps) != 0 {
		t.Errorf("the other org lists pathways %v, %v", ps, err)
	}
	got := must(h.svc.Webhook(h.ctx, h.org, w.ID))(t)
	if *got.URL != *w.URL || !got.Enabled || string(got.Secret) != string(w.Secret) {
		t.Errorf("webhook changed by another org: %+v", got)
	}
	eq(t, "events", h.count(t, "SELECT COUNT(*) FROM events"), 1)
	eq(t, "enrolments", h.count(t, "SELECT COUNT(*) FROM enrolments"), 1)
	eq(t, "activities", h.count(t, "SELECT COUNT(*) FROM activities"), 1)
}

func second[T any](_ T, err error) error { return err }

func third[T any](_ T, _ string, err error) error { return err }

func testRollback(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	now := h.clock.Now()
	ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, now), OrgID: h.org, PathwayID: p.ID, Type: pathhook.TypeEnrolmentCreated,
		Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: []byte(`{}`)}
	d := pathhook.Delivery{ID: pathhook.NewID(pathhook.PrefixDelivery, now), OrgID: h.org, WebhookID: w.ID, EventID: ev.ID,
		EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
	err := h.db.Update(h.ctx, func(tx pathhook.Tx) error {
		if err := tx.CreateEvent(h.ctx, ev, []pathhook.Delivery{d}); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Update = %v, want the closure's error", err)
	}
	eq(t, "events after rollback", h.count(t, "SELECT COUNT(*) FROM events"), 0)
	eq(t, "deliveries after rollback", h.count(t, "SELECT COUNT(*) FROM deliveries"), 0)
	// A change that fails half-way through the Service leaves nothing.
	h.enrol(t, p, "ada")
	_, err = h.svc.Enrol(h.ctx, h.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "ada"}})
	wantCode(t, err, pathhook.ECONFLICT)
	eq(t, "events after a conflict", h.count(t, "SELECT COUNT(*) FROM events"), 1)

	// Payloads and times come back exactly as written.
	body := []byte("{\"x\":\"\u00e9\\u0000\",\n \"y\": [1, 2.50]}  ")
	ev.ID, ev.Payload, ev.CreatedAt = pathhook.NewID(pathhook.PrefixEvent, now), body, now.Add(123*time.Microsecond)
	if err := h.db.Update(h.ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(h.ctx, ev, nil) }); err != nil {
		t.Fatal(err)
	}
	var got *pathhook.Event
	err = h.db.View(h.ctx, func(tx pathhook.Tx) (err error) {
		got, err = tx.Event(h.ctx, h.org, ev.ID)
		return err
	})
	if err != nil || !bytes.Equal(got.Payload, body) || !got.CreatedAt.Equal(ev.CreatedAt) {
		t.Errorf("event read back = %+v, %v; want payload %q at %v", got, err, body, ev.CreatedAt)
	}
}

func testMigrateTwice(t *testing.T, h *harness) {
	before := h.count(t, "SELECT COUNT(*) FROM schema_migrations")
	if before == 0 {
		t.Fatal("no migrations recorded")
	}
	h.pathway(t, "kept")
	for range 2 {
		if err := h.db.Migrate(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "migrations recorded", h.count(t, "SELECT COUNT(*) FROM schema_migrations"), before)
	eq(t, "pathways", h.count(t, "SELECT COUNT(*) FROM pathways"), 1)
}

// testWriteReads reads pathways and webhooks in a write transaction around
// its own changes to them: a store may read a pathway's webhooks along
// with the pathway, but must not answer from that read once the
// transaction has changed them.
func testWriteReads(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	now := h.clock.Now()
	bare := &pathhook.Pathway{ID: pathhook.NewID(pathhook.PrefixPathway, now), OrgID: h.org, Name: "Bare", CreatedAt: now, UpdatedAt: now}
	added := &pathhook.Webhook{ID: pathhook.NewID(pathhook.PrefixWebhook, now), OrgID: h.org, PathwayID: p.ID,
		Category: pathhook.CategoryEnrolments, CreatedAt: now, UpdatedAt: now}
	ev := &pathhook.Event{ID: pathhook.NewID(pathhook.PrefixEvent, now), OrgID: h.org, PathwayID: p.ID, Type: pathhook.TypeEnrolmentCreated,
		Category: pathhook.CategoryEnrolments, CreatedAt: now, Payload: []byte(`{}`)}
	var ds []pathhook.Delivery
	check := func(what string, got, want int) error {
		if got != want {
			return fmt.Errorf("%s: %d, want %d", what, got, want)
		}
		return nil
	}
	err := h.db.Update(h.ctx, func(tx pathhook.Tx) error {
		if _, err := tx.Pathway(h.ctx, h.org, "pw_missing"); pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
			return fmt.Errorf("Pathway of a missing pathway = %v, want %s", err, pathhook.ENOTFOUND)
		}
		if err := tx.CreatePathway(h.ctx, bare); err != nil {
			return err
		}
		if _, err := tx.Pathway(h.ctx, h.org, bare.ID); err != nil {
			return err
		}
		ws, err := tx.Webhooks(h.ctx, h.org, bare.ID)
		if err := errors.Join(err, check("webhooks of a pathway without any", len(ws), 0)); err != nil {
			return err
		}
		if _, err := tx.Pathway(h.ctx, h.org, p.ID); err != nil {
			return err
		}
		ws, err = tx.Webhooks(h.ctx, h.org, p.ID)
		if err := errors.Join(err, check("webhooks read with their pathway", len(ws), len(p.Webhooks))); err != nil {
			return err
		}
		if err := tx.CreateWebhook(h.ctx, added); err != nil {
			return err
		}
		ws, err = tx.Webhooks(h.ctx, h.org, p.ID)
		if err := errors.Join(err, check("webhooks after one was added", len(ws), len(p.Webhooks)+1)); err != nil {
			return err
		}
		url := "https://example.com/added"
		added.URL, added.Enabled = &url, true
		if err := tx.UpdateWebhook(h.ctx, added); err != nil {
			return err
		}
		ws, err = tx.Webhooks(h.ctx, h.org, p.ID)
		if err != nil {
			return err
		}
		for _, w := range ws {
			if w.ID == added.ID && (w.URL == nil || *w.URL != url || !w.Enabled) {
				return fmt.Errorf("webhook after an update = %+v, want enabled with URL %s", w, url)
			}
			ds = append(ds, pathhook.Delivery{ID: pathhook.NewID(pathhook.PrefixDelivery, now), OrgID: h.org, WebhookID: w.ID,
				EventID: ev.ID, EventType: ev.Type, Status: pathhook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now})
		}
		if err := tx.CreateEvent(h.ctx, ev, ds); err != nil {
			return err
		}
		// What the transaction wrote, it reads back.
		_, err = tx.Event(h.ctx, h.org, ev.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "deliveries of the event", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE event_id = "+quote(ev.ID)), len(p.Webhooks)+1)
	// The event and its deliveries are written, or neither is, whether the
	// conflict comes out at the commit or at the next statement.
	ds[0].ID = pathhook.NewID(pathhook.PrefixDelivery, h.clock.Now())
	err = h.db.Update(h.ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(h.ctx, ev, ds[:1]) })
	wantCode(t, err, pathhook.ECONFLICT)
	err = h.db.Update(h.ctx, func(tx pathhook.Tx) error {
		if err := tx.CreateEvent(h.ctx, ev, ds[:1]); err != nil {
			return err
		}
		_, err := tx.Pathway(h.ctx, h.org, p.ID)
		return err
	})
	wantCode(t, err, pathhook.ECONFLICT)
	eq(t, "deliveries after a conflict", h.count(t, "SELECT COUNT(*) FROM deliveries WHERE event_id = "+quote(ev.ID)), len(p.Webhooks)+1)
}
