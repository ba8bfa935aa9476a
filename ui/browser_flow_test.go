package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAdminPath walks the seed's path through a real headless
// Chromium: sign in, create a pathway, open its API & Webhooks section,
// set up the enrolments webhook from its options menu, switch it on from
// the keyboard, send a test delivery, and watch it succeed in the log.
func TestBrowserAdminPath(t *testing.T) {
	c := startChrome(t)
	l := startLive(t)
	secret := "whk-test-secret-0123456789abcdef"
	l.receiver.secret = secret
	u := l.ui.URL

	c.load("sign-in page", 200, chromedp.Navigate(u+"/pathways"))
	c.shot("signin")
	c.do("type the key", chromedp.SendKeys(chromedp.ID("key"), "wrong-key"))
	c.load("bad key", 401, chromedp.Submit(chromedp.ID("key")))
	if got := c.text("#key-err"); !strings.Contains(got, "not valid") {
		t.Fatalf("bad key error: %q", got)
	}
	c.fill("key", l.key)
	c.load("sign in", 200, chromedp.Submit(chromedp.ID("key")))
	c.do("pathways page", chromedp.WaitVisible(chromedp.ID("pathway-name")))

	c.do("name the pathway", chromedp.SendKeys(chromedp.ID("pathway-name"), "Onboarding for new managers"),
		chromedp.SendKeys(chromedp.ID("pathway-description"), "Six weeks from first day to first team review."))
	c.load("create pathway", 200, chromedp.Submit(chromedp.ID("pathway-name")))
	if got := c.text("h1"); got != "Onboarding for new managers" {
		t.Fatalf("pathway page heading %q", got)
	}
	hook := ".hook:first-child"
	if got := c.text(hook + " h3"); got != "Enrolments" {
		t.Fatalf("first webhook is %q", got)
	}

	// The options menu opens from the keyboard, and offers Setup.
	c.do("open the options menu", chromedp.Focus(chromedp.CSS(hook+" details.menu summary")), chromedp.KeyEvent("\r"))
	if c.eval(`String(document.querySelector(".hook:first-child details.menu").open)`) != "true" {
		t.Fatal("Enter on the options button does not open the menu")
	}
	c.shot("flow-pathway-menu")
	c.load("open setup", 200, chromedp.Click(chromedp.CSS(hook+` details.menu a[href$="/setup"]`)))

	c.do("fill setup", chromedp.SendKeys(chromedp.ID("setup-url"), "ftp://example.com/hook"))
	c.load("bad URL", 422, chromedp.Submit(chromedp.ID("setup-url")))
	if got := c.text("#setup-url-err"); !strings.Contains(got, "must use http or https") {
		t.Fatalf("URL error: %q", got)
	}
	c.shot("setup-error")
	c.fill("setup-url", l.receiver.srv.URL+"/webhooks/bytekast")
	c.fill("setup-secret", secret)
	c.load("save setup", 200, chromedp.Submit(chromedp.ID("setup-url")))
	if got := c.text(".flash"); !strings.Contains(got, "set up") {
		t.Fatalf("after setup: %q", got)
	}

	// The switch flips from the keyboard.
	sw := hook + " button.switch"
	if got := c.eval(`document.querySelector(".hook:first-child button.switch").getAttribute("aria-checked")`); got != "false" {
		t.Fatalf("switch before: aria-checked=%s", got)
	}
	c.do("focus the switch", chromedp.Focus(chromedp.CSS(sw)))
	c.load("switch on", 200, chromedp.KeyEvent(" "))
	if got := c.eval(`document.querySelector(".hook:first-child button.switch").getAttribute("aria-checked")`); got != "true" {
		t.Fatalf("switch after Space: aria-checked=%s", got)
	}

	c.do("open the options menu", chromedp.Click(chromedp.CSS(hook+" details.menu summary")))
	c.do("choose the type", chromedp.SetValue(chromedp.CSS(hook+" .test-form select"), "enrolment.completed"))
	c.load("send test", 200, chromedp.Click(chromedp.CSS(hook+" .test-form button")))
	if got := c.text(".flash"); !strings.Contains(got, "Test delivery of enrolment.completed sent") {
		t.Fatalf("after test: %q", got)
	}
	c.shot("flow-pathway")

	c.load("delivery log", 200, chromedp.Click(chromedp.CSS(hook+" h3 a")))
	c.waitFor("the test delivery to succeed", `document.querySelector("#log tbody .pill-succeeded") !== null`)
	if got := c.text("#log tbody tr:first-child"); !strings.Contains(got, "200") || !strings.Contains(got, "enrolment.completed") {
		t.Fatalf("log row: %q", got)
	}

	c.shot("flow-webhook")
	c.load("delivery page", 200, chromedp.Click(chromedp.CSS("#log tbody tr:first-child a")))
	c.shot("flow-delivery")
	page := c.text("main")
	for _, want := range []string{"ByteKast-Webhook-Signature", "ByteKast-Webhook-Attempt", "sha256=…", `"test": true`, `{"received":true}`, "HTTP 200"} {
		if !strings.Contains(page, want) {
			t.Errorf("delivery page lacks %q", want)
		}
	}
	c.load("redeliver", 200, chromedp.Click(chromedp.CSS(".head-actions button")))
	c.waitFor("the redelivery to succeed", `document.querySelectorAll(".attempt").length === 2 && document.querySelector("h1 .pill-succeeded") !== null`)

	l.receiver.mu.Lock()
	got, bad := len(l.receiver.got), l.receiver.bad
	attempt := ""
	if got > 0 {
		attempt = l.receiver.got[got-1].Get("ByteKast-Webhook-Attempt")
	}
	l.receiver.mu.Unlock()
	if got != 2 || bad != 0 || attempt != "2" {
		t.Fatalf("receiver got %d deliveries, %d with a bad signature, last attempt %q", got, bad, attempt)
	}
}
