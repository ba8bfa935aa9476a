package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// testUISessions writes, reads, changes and ends sessions of the admin UI:
// a flash is sealed at rest, adding a session drops those that ended, and
// a session that has ended is not made again by a flash.
func testUISessions(t *testing.T, h *harness) {
	now := h.clock.Now()
	s := &pathhook.UISession{IDHash: "aa11", OrgID: h.org, KeyID: "key_1", KeyHint: "phk_…abcd", CSRF: "token-1",
		ExpiresAt: now.Add(time.Hour).Truncate(time.Microsecond)}
	if err := h.db.CreateUISession(h.ctx, s, now); err != nil {
		t.Fatal(err)
	}
	got := must(h.db.UISession(h.ctx, "aa11"))(t)
	if got.OrgID != h.org || got.KeyID != "key_1" || got.KeyHint != s.KeyHint || got.CSRF != "token-1" ||
		!got.ExpiresAt.Equal(s.ExpiresAt) || got.Flash != nil {
		t.Errorf("read back %+v, want %+v", got, s)
	}
	// A flash holding a secret is sealed at rest.
	if err := h.db.SetUISessionFlash(h.ctx, "aa11", []byte(`{"Secret":"the-new-secret"}`)); err != nil {
		t.Fatal(err)
	}
	if f := must(h.db.UISession(h.ctx, "aa11"))(t).Flash; string(f) != `{"Secret":"the-new-secret"}` {
		t.Errorf("flash read back %q", f)
	}
	var raw []byte
	if err := h.db.SQL().QueryRowContext(h.ctx, "SELECT flash FROM ui_sessions WHERE id_hash = 'aa11'").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte("the-new-secret")) {
		t.Errorf("the flash is not sealed at rest: %q", raw)
	}
	// A new session drops those that have ended.
	later := now.Add(2 * time.Hour)
	if err := h.db.CreateUISession(h.ctx, &pathhook.UISession{IDHash: "bb22", OrgID: h.org, KeyID: "key_1", KeyHint: "x",
		CSRF: "token-2", ExpiresAt: later.Add(time.Hour)}, later); err != nil {
		t.Fatal(err)
	}
	_, err := h.db.UISession(h.ctx, "aa11")
	wantCode(t, err, pathhook.ENOTFOUND)
	must(h.db.UISession(h.ctx, "bb22"))(t)
	if err := h.db.DeleteUISession(h.ctx, "bb22"); err != nil {
		t.Fatal(err)
	}
	_, err = h.db.UISession(h.ctx, "bb22")
	wantCode(t, err, pathhook.ENOTFOUND)
	if err := h.db.DeleteUISession(h.ctx, "bb22"); err != nil {
		t.Errorf("ending a session that is gone: %v", err)
	}
	wantCode(t, h.db.SetUISessionFlash(h.ctx, "bb22", []byte(`{}`)), pathhook.ENOTFOUND)
	_, err = h.db.UISession(h.ctx, "bb22")
	wantCode(t, err, pathhook.ENOTFOUND)
}
