package ui_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pathhook/pathhook"
)

// TestBrowserPages shows every page of a pathway with some history at
// desktop and phone width: each answers 200, and none is wider than a
// 390px phone screen. The screenshots are the ones in docs/screenshots.
func TestBrowserPages(t *testing.T) {
	c := startChrome(t)
	l := startLive(t)
	w := seedWorld(t, l)

	c.load("sign-in page", 200, chromedp.Navigate(l.ui.URL+"/signin"))
	c.do("type the key", chromedp.SendKeys(chromedp.ID("key"), l.key))
	c.load("sign in", 200, chromedp.Submit(chromedp.ID("key")))

	pages := []struct{ name, path string }{
		{"pathways", "/pathways"},
		{"pathway", "/pathways/" + w.pathway},
		{"webhook", "/webhooks/" + w.hook},
		{"setup", "/webhooks/" + w.hook + "/setup"},
		{"delivery", "/deliveries/" + w.failed},
	}
	for _, width := range []int64{1280, 390} {
		c.do("viewport", chromedp.EmulateViewport(width, 900))
		for _, p := range pages {
			c.load(p.name, 200, chromedp.Navigate(l.ui.URL+p.path))
			name := p.name
			if width < 1280 {
				name += "-phone"
				if got := c.eval(`String(document.documentElement.scrollWidth)`); got != strconv.Itoa(int(width)) {
					t.Errorf("%s at %dpx is %spx wide", p.name, width, got)
				}
			}
			c.shot(name)
		}
	}

	// The options menu of a webhook, open.
	c.do("viewport", chromedp.EmulateViewport(1280, 900))
	c.load("pathway", 200, chromedp.Navigate(l.ui.URL+"/pathways/"+w.pathway))
	c.do("open the menu", chromedp.Click(chromedp.CSS(".hook:first-child details.menu summary")))
	c.shot("pathway-menu")

	// Generate secret shows the new secret once, with its whsec_ form.
	c.load("setup", 200, chromedp.Navigate(l.ui.URL+"/webhooks/"+w.hook+"/setup"))
	c.load("generate secret", 200, chromedp.Click(chromedp.CSS(`form[action$="/secret"] button`)))
	secret := c.eval(`document.getElementById("new-secret").value`)
	if std := c.eval(`document.getElementById("new-secret-std").value`); len(secret) < 24 || std != pathhook.StandardSecret([]byte(secret)) {
		t.Fatalf("generated secret %q shown with %q", secret, std)
	}
	c.shot("setup-secret")
	c.load("setup again", 200, chromedp.Reload())
	if c.eval(`String(document.getElementById("new-secret") === null)`) != "true" {
		t.Fatal("the generated secret is shown a second time")
	}
}

// world names what seedWorld made.
type seeded struct {
	pathway, hook, failed string
}

// dropOffers is a dispatcher that takes nothing, so that deliveries made in
// the past stay leased to "history" until seedWorld records their attempts.
type dropOffers struct{}

func (dropOffers) Offer(context.Context, []pathhook.Job) {}

// seedWorld makes a pathway with activities, rewards, learners, and a day
// of deliveries to its enabled enrolments webhook: mostly succeeding, with
// a spell of failures some hours ago. The attempts are recorded through the
// store's own Record, as the engine would.
func seedWorld(t *testing.T, l *live) seeded {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	org := l.orgID
	p, err := l.svc.CreatePathway(ctx, org, pathhook.PathwayInput{Name: "Onboarding for new managers",
		Description: "Six weeks from first day to first team review."})
	must(t, err)
	starts := now.Add(72 * time.Hour).Truncate(time.Hour)
	for _, a := range []pathhook.ActivityInput{
		{Title: "Welcome and orientation", Kind: "online"},
		{Title: "Leading your first one-to-one", Kind: "classroom", StartsAt: &starts, Location: "Room 4B"},
		{Title: "Team review", Kind: "event"},
	} {
		_, err := l.svc.CreateActivity(ctx, org, p.ID, a)
		must(t, err)
	}
	acts, err := l.svc.Activities(ctx, org, p.ID)
	must(t, err)
	points := 50
	_, err = l.svc.CreateReward(ctx, org, p.ID, pathhook.RewardInput{Name: "Onboarding complete", Kind: "badge", UnlockOn: "pathway_completed"})
	must(t, err)
	_, err = l.svc.CreateReward(ctx, org, p.ID, pathhook.RewardInput{Name: "Workshop points", Kind: "points", Points: &points,
		UnlockOn: "activity_completed", ActivityID: &acts[1].ID})
	must(t, err)

	hook := p.Webhooks[0].ID
	secret := "history-secret-0123456789abcdef"
	url := l.receiver.srv.URL + "/webhooks/bytekast"
	_, err = l.svc.SetupWebhook(ctx, org, hook, pathhook.WebhookSetup{URL: url, Secret: &secret})
	must(t, err)
	for i, id := range []string{p.Webhooks[2].ID} {
		u := fmt.Sprintf("https://hooks.example.com/rewards/%d", i)
		_, err = l.svc.SetupWebhook(ctx, org, id, pathhook.WebhookSetup{URL: u, Secret: &secret})
		must(t, err)
	}
	on := true
	_, err = l.svc.SwitchWebhook(ctx, org, hook, pathhook.WebhookSwitch{Enabled: &on})
	must(t, err)

	learners := []pathhook.Learner{
		{ID: "u-1042", Email: "ada@example.com", Name: "Ada Lovelace"},
		{ID: "u-1043", Email: "grace@example.com", Name: "Grace Hopper"},
		{ID: "u-1044", Email: "alan@example.com", Name: "Alan Turing"},
		{ID: "u-1045", Email: "katherine@example.com", Name: "Katherine Johnson"},
		{ID: "u-1046", Email: "edsger@example.com", Name: "Edsger Dijkstra"},
	}
	seed := uint32(7)
	rnd := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % n }
	var failed string
	for h := 23; h >= 1; h-- {
		for i := range 2 + rnd(5) {
			at := now.Add(-time.Duration(h)*time.Hour + time.Duration(i*9+rnd(5))*time.Minute).Truncate(time.Millisecond)
			past := pathhook.NewService(pathhook.Config{Store: l.db, Clock: func() time.Time { return at }, Dispatcher: dropOffers{},
				Lease: pathhook.LeaseOwner{Owner: "history", For: 48 * time.Hour}, AllowHTTP: true})
			if h%5 == 0 && i == 0 && len(learners) > 0 {
				_, err = past.Enrol(ctx, org, p.ID, pathhook.EnrolmentInput{Learner: &learners[0]})
				learners = learners[1:]
			} else {
				types := pathhook.CategoryTypes(pathhook.CategoryEnrolments)
				_, err = past.TestWebhook(ctx, org, hook, pathhook.TestInput{Type: types[rnd(len(types))]})
			}
			must(t, err)
		}
	}
	for {
		ds, _, err := l.svc.Deliveries(ctx, org, hook, pathhook.DeliveryPending, pathhook.Page{Limit: 100})
		must(t, err)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			must(t, l.db.Record(ctx, history(d, now, rnd)))
			if now.Sub(d.CreatedAt) > 6*time.Hour && now.Sub(d.CreatedAt) < 9*time.Hour {
				failed = d.ID
			}
		}
	}
	if failed == "" {
		t.Fatal("the seeded history has no failed delivery")
	}
	return seeded{pathway: p.ID, hook: hook, failed: failed}
}

// history returns the attempts of a delivery made in the past: one that
// succeeds, or during the outage 6 to 9 hours ago, two that fail. The first
// is made under the delivery's lease, the retry under none.
func history(d pathhook.Delivery, now time.Time, rnd func(int) int) []pathhook.Result {
	ok, down := 200, 503
	start := d.CreatedAt.Add(150 * time.Millisecond)
	if age := now.Sub(d.CreatedAt); age > 6*time.Hour && age < 9*time.Hour {
		retry := start.Add(5 * time.Second)
		body := `{"error":"maintenance: back soon"}`
		return []pathhook.Result{
			{DeliveryID: d.ID, WebhookID: d.WebhookID, Status: pathhook.DeliveryPending, NextAttemptAt: retry,
				Attempt:    pathhook.Attempt{N: 1, StartedAt: start, DurationMS: int64(20 + rnd(30)), ResponseStatus: &down, ResponseBody: body},
				LeaseOwner: d.LeaseOwner, LeaseUntil: d.LeaseUntil},
			{DeliveryID: d.ID, WebhookID: d.WebhookID, Status: pathhook.DeliveryFailed,
				Attempt: pathhook.Attempt{N: 2, StartedAt: retry, DurationMS: int64(20 + rnd(30)), ResponseStatus: &down, ResponseBody: body}},
		}
	}
	ms := int64(60 + rnd(90))
	if d.CreatedAt.Hour()%4 == 0 {
		ms += int64(rnd(300))
	}
	return []pathhook.Result{{DeliveryID: d.ID, WebhookID: d.WebhookID, Status: pathhook.DeliverySucceeded,
		Attempt:    pathhook.Attempt{N: 1, StartedAt: start, DurationMS: ms, ResponseStatus: &ok, ResponseBody: `{"received":true}`},
		LeaseOwner: d.LeaseOwner, LeaseUntil: d.LeaseUntil}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
