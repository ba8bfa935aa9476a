package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

func testOrgsAndKeys(t *testing.T, h *harness) {
	again := must(h.svc.EnsureOrg(h.ctx, "acme"))(t)
	eq(t, "org id on second EnsureOrg", again.ID, h.org)
	if has := must(h.svc.HasAPIKeys(h.ctx))(t); has {
		t.Fatal("HasAPIKeys on an empty store = true")
	}
	key, k := must3(t)(h.svc.CreateAPIKey(h.ctx, h.org, "ci"))
	got := must(h.svc.Authenticate(h.ctx, key))(t)
	eq(t, "authenticated key", got.ID, k.ID)
	eq(t, "key org", got.OrgID, h.org)
	if !bytes.Equal(got.Hash, pathhook.HashAPIKey(key)) || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Errorf("key read back = %+v, want %+v", got, k)
	}
	key2, k2 := must3(t)(h.svc.CreateAPIKey(h.ctx, h.org, "second"))
	keys := must(h.svc.APIKeys(h.ctx, h.org))(t)
	eqSlice(t, "keys, newest first", ids(keys, func(k pathhook.APIKey) string { return k.ID }), []string{k2.ID, k.ID})
	must(h.svc.RevokeAPIKey(h.ctx, h.org, k.ID))(t)
	_, err := h.svc.RevokeAPIKey(h.ctx, h.org, k.ID)
	wantCode(t, err, pathhook.ECONFLICT)
	_, err = h.svc.Authenticate(h.ctx, key)
	wantCode(t, err, pathhook.EUNAUTHORIZED)
	other := must(h.svc.EnsureOrg(h.ctx, "other"))(t)
	_, err = h.svc.RevokeAPIKey(h.ctx, other.ID, k2.ID)
	wantCode(t, err, pathhook.ENOTFOUND)
	if has := must(h.svc.HasAPIKeys(h.ctx))(t); !has {
		t.Error("HasAPIKeys = false after creating keys")
	}
	testEnsureAPIKey(t, h, key, key2, k2.ID, other.ID)
	testKeyRevokedElsewhere(t, h)
}

// testEnsureAPIKey: an operator's key is stored once and found again, but
// a revoked key is not brought back, nor another org's key given to this
// one: both are ECONFLICT.
func testEnsureAPIKey(t *testing.T, h *harness, revoked, live, liveID, otherOrg string) {
	got := must(h.svc.EnsureAPIKey(h.ctx, h.org, "admin", live))(t)
	eq(t, "EnsureAPIKey of a live key", got.ID, liveID)
	const fresh = "operator-key-0123456789abcdef"
	first := must(h.svc.EnsureAPIKey(h.ctx, h.org, "admin", fresh))(t)
	got = must(h.svc.EnsureAPIKey(h.ctx, h.org, "admin", fresh))(t)
	eq(t, "EnsureAPIKey twice", got.ID, first.ID)
	for _, c := range []struct{ org, key, want string }{
		{h.org, revoked, "this key was revoked"},
		{otherOrg, live, "this key belongs to another org"},
	} {
		_, err := h.svc.EnsureAPIKey(h.ctx, c.org, "admin", c.key)
		wantCode(t, err, pathhook.ECONFLICT)
		if msg := pathhook.ErrorMessage(err); !strings.HasPrefix(msg, c.want) {
			t.Errorf("EnsureAPIKey: %q, want a message that begins %q", msg, c.want)
		}
	}
	if _, err := h.svc.Authenticate(h.ctx, revoked); pathhook.ErrorCode(err) != pathhook.EUNAUTHORIZED {
		t.Errorf("a revoked key after EnsureAPIKey: %v, want it still refused", err)
	}
}

// testKeyRevokedElsewhere revokes a key through another Service on the same
// store, as another node or the CLI would: the first Service, which has the
// key cached, refuses it once pathhook.KeyCacheTTL has passed.
func testKeyRevokedElsewhere(t *testing.T, h *harness) {
	key, k := must3(t)(h.svc.CreateAPIKey(h.ctx, h.org, "elsewhere"))
	must(h.svc.Authenticate(h.ctx, key))(t)
	other := pathhook.NewService(pathhook.Config{Store: h.db, Clock: h.clock.Now})
	must(other.RevokeAPIKey(h.ctx, h.org, k.ID))(t)
	_, err := other.Authenticate(h.ctx, key)
	wantCode(t, err, pathhook.EUNAUTHORIZED)
	if _, err := h.svc.Authenticate(h.ctx, key); err != nil {
		t.Errorf("a key revoked elsewhere, within the cache TTL: %v; want it still cached", err)
	}
	h.clock.Add(pathhook.KeyCacheTTL)
	_, err = h.svc.Authenticate(h.ctx, key)
	wantCode(t, err, pathhook.EUNAUTHORIZED)
}

func must3(t *testing.T) func(string, *pathhook.APIKey, error) (string, *pathhook.APIKey) {
	return func(key string, k *pathhook.APIKey, err error) (string, *pathhook.APIKey) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return key, k
	}
}

func testPathways(t *testing.T, h *harness) {
	p := must(h.svc.CreatePathway(h.ctx, h.org, pathhook.PathwayInput{Name: "Onboarding", Description: "Naïve café ✓"}))(t)
	if len(p.Webhooks) != 3 {
		t.Fatalf("new pathway has %d webhooks, want 3", len(p.Webhooks))
	}
	got := must(h.svc.Pathway(h.ctx, h.org, p.ID))(t)
	eq(t, "description", got.Description, p.Description)
	eq(t, "created_at", got.CreatedAt, p.CreatedAt)
	for i, w := range got.Webhooks {
		eq(t, "webhook category", w.Category, pathhook.Categories[i])
		if w.Enabled || w.SecretSet || w.URL != nil || w.PathwayID != p.ID {
			t.Errorf("new webhook = %+v, want disabled, not set up, on the pathway", w)
		}
	}
	want := []string{p.ID}
	for i := range 4 {
		want = append([]string{h.pathway(t, fmt.Sprintf("more %d", i)).ID}, want...)
	}
	// Newest first, in pages of 2.
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		ps, next := must2p(t)(h.svc.Pathways(h.ctx, h.org, pathhook.Page{Limit: 2, Cursor: cursor}))
		seen = append(seen, ids(ps, func(p pathhook.Pathway) string { return p.ID })...)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	eqSlice(t, "pathways in pages", seen, want)
	_, err := h.svc.Pathway(h.ctx, h.org, "pw_missing")
	wantCode(t, err, pathhook.ENOTFOUND)
}

func must2p(t *testing.T) func([]pathhook.Pathway, string, error) ([]pathhook.Pathway, string) {
	return func(ps []pathhook.Pathway, next string, err error) ([]pathhook.Pathway, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ps, next
	}
}

func testActivitiesAndRewards(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	starts := time.Date(2026, 12, 1, 9, 30, 0, 123_000_000, time.UTC)
	a1 := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Workshop", Kind: pathhook.ActivityClassroom, StartsAt: &starts, Location: "Room 1"}))(t)
	a2 := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Video", Kind: pathhook.ActivityOnline}))(t)
	as := must(h.svc.Activities(h.ctx, h.org, p.ID))(t)
	eqSlice(t, "activities, oldest first", ids(as, func(a pathhook.Activity) string { return a.ID }), []string{a1.ID, a2.ID})
	if as[0].StartsAt == nil || !as[0].StartsAt.Equal(starts) || as[0].Location != "Room 1" || as[1].StartsAt != nil {
		t.Errorf("activities read back = %+v", as)
	}
	points := 25
	r1 := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "Points", Kind: pathhook.RewardPoints, Points: &points, UnlockOn: pathhook.UnlockActivityCompleted, ActivityID: &a1.ID}))(t)
	r2 := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "Badge", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockPathwayCompleted}))(t)
	rs := must(h.svc.Rewards(h.ctx, h.org, p.ID))(t)
	if len(rs) != 2 || rs[0].ID != r1.ID || *rs[0].Points != 25 || *rs[0].ActivityID != a1.ID || rs[1].ID != r2.ID || rs[1].Points != nil || rs[1].ActivityID != nil {
		t.Errorf("rewards read back = %+v", rs)
	}
	_, err := h.svc.CreateActivity(h.ctx, h.org, "pw_missing", pathhook.ActivityInput{Title: "x", Kind: pathhook.ActivityOnline})
	wantCode(t, err, pathhook.ENOTFOUND)
}

func testEnrolments(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	en := h.enrol(t, p, "ada")
	_, err := h.svc.Enrol(h.ctx, h.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "ada"}})
	wantCode(t, err, pathhook.ECONFLICT)
	if msg := pathhook.ErrorMessage(err); !strings.Contains(msg, `"ada" is already enrolled`) {
		t.Errorf("conflict message = %q", msg)
	}
	eqSlice(t, "events after enrolling twice", h.eventTypes(t, w.ID), []string{pathhook.TypeEnrolmentCreated})
	got := must(h.svc.Enrolment(h.ctx, h.org, p.ID, "ada"))(t)
	if got.Learner != en.Learner || got.Status != pathhook.EnrolmentActive || !got.CreatedAt.Equal(en.CreatedAt) ||
		got.CompletedAt != nil || got.CompletedActivityIDs == nil || len(got.CompletedActivityIDs) != 0 {
		t.Errorf("enrolment read back = %+v, want %+v", got, en)
	}
	_, err = h.svc.Enrolment(h.ctx, h.org, p.ID, "bob")
	wantCode(t, err, pathhook.ENOTFOUND)
}

func testEnrolmentPages(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	var want []string
	for _, l := range []string{"m", "a", "z", "b", "y"} {
		h.enrol(t, p, l)
		want = append([]string{l}, want...)
	}
	var seen []string
	cursor := ""
	for range 5 {
		ens, next, err := h.svc.Enrolments(h.ctx, h.org, p.ID, pathhook.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(ens, func(e pathhook.Enrolment) string { return e.Learner.ID })...)
		if cursor = next; cursor == "" {
			break
		}
	}
	eqSlice(t, "enrolments in pages, newest first", seen, want)
}

func testCompletions(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	a1 := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "One", Kind: pathhook.ActivityOnline}))(t)
	a2 := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Two", Kind: pathhook.ActivityOnline}))(t)
	r1 := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "First step", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockActivityCompleted, ActivityID: &a2.ID}))(t)
	r2 := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "Done", Kind: pathhook.RewardCertificate, UnlockOn: pathhook.UnlockPathwayCompleted}))(t)
	we := h.enable(t, p, pathhook.CategoryEnrolments)
	wr := h.enable(t, p, pathhook.CategoryRewards)
	_, err := h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: a1.ID})
	wantCode(t, err, pathhook.ENOTFOUND)
	h.enrol(t, p, "ada")

	c := must(h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: a2.ID}))(t)
	if c.PathwayCompleted || len(c.UnlockedRewardIDs) != 1 || c.UnlockedRewardIDs[0] != r1.ID {
		t.Errorf("first completion = %+v", c)
	}
	_, err = h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: a2.ID})
	wantCode(t, err, pathhook.ECONFLICT)
	if msg := pathhook.ErrorMessage(err); !strings.Contains(msg, "is already completed by learner") {
		t.Errorf("conflict message = %q", msg)
	}
	c = must(h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: a1.ID}))(t)
	if !c.PathwayCompleted || len(c.UnlockedRewardIDs) != 1 || c.UnlockedRewardIDs[0] != r2.ID {
		t.Errorf("last completion = %+v", c)
	}
	en := must(h.svc.Enrolment(h.ctx, h.org, p.ID, "ada"))(t)
	eq(t, "status", en.Status, pathhook.EnrolmentCompleted)
	if en.CompletedAt == nil || !en.CompletedAt.Equal(c.CreatedAt) {
		t.Errorf("completed_at = %v, want %v", en.CompletedAt, c.CreatedAt)
	}
	eqSlice(t, "completed activities in order", en.CompletedActivityIDs, []string{a2.ID, a1.ID})
	eqSlice(t, "enrolment events", h.eventTypes(t, we.ID), []string{pathhook.TypeEnrolmentActivityCompleted,
		pathhook.TypeEnrolmentActivityCompleted, pathhook.TypeEnrolmentCompleted, pathhook.TypeEnrolmentCreated})
	eqSlice(t, "reward events", h.eventTypes(t, wr.ID), []string{pathhook.TypeRewardUnlocked, pathhook.TypeRewardUnlocked})
}

func testAttendance(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	wb := h.enable(t, p, pathhook.CategoryBookings)
	class := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Class", Kind: pathhook.ActivityClassroom}))(t)
	online := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Video", Kind: pathhook.ActivityOnline}))(t)
	in := pathhook.AttendanceInput{LearnerID: "ada", Status: pathhook.AttendanceRegistered}
	_, err := h.svc.SetAttendance(h.ctx, h.org, class.ID, in)
	wantCode(t, err, pathhook.ENOTFOUND)
	h.enrol(t, p, "ada")
	// Nothing to cancel without a booking.
	_, err = h.svc.SetAttendance(h.ctx, h.org, class.ID, pathhook.AttendanceInput{LearnerID: "ada", Status: pathhook.AttendanceCancelled})
	wantCode(t, err, pathhook.ECONFLICT)
	must(h.svc.SetAttendance(h.ctx, h.org, class.ID, in))(t)
	_, err = h.svc.SetAttendance(h.ctx, h.org, class.ID, in)
	wantCode(t, err, pathhook.ECONFLICT)
	in.Status = pathhook.AttendanceCheckedIn
	att := must(h.svc.SetAttendance(h.ctx, h.org, class.ID, in))(t)
	eq(t, "status", att.Status, pathhook.AttendanceCheckedIn)
	_, err = h.svc.SetAttendance(h.ctx, h.org, online.ID, in)
	wantCode(t, err, pathhook.EINVALID)
	eqSlice(t, "booking events", h.eventTypes(t, wb.ID), []string{pathhook.TypeBookingCheckedIn, pathhook.TypeBookingRegistered})
	var got *pathhook.Attendance
	err = h.db.View(h.ctx, func(tx pathhook.Tx) (err error) {
		got, err = tx.Attendance(h.ctx, h.org, class.ID, "ada")
		return err
	})
	if err != nil || got.Status != pathhook.AttendanceCheckedIn || got.PathwayID != p.ID || !got.UpdatedAt.Equal(att.UpdatedAt) {
		t.Errorf("attendance read back = %+v, %v", got, err)
	}
}

func testAwards(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	a := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "Only", Kind: pathhook.ActivityOnline}))(t)
	r := must(h.svc.CreateReward(h.ctx, h.org, p.ID, pathhook.RewardInput{Name: "Done", Kind: pathhook.RewardBadge, UnlockOn: pathhook.UnlockPathwayCompleted}))(t)
	wr := h.enable(t, p, pathhook.CategoryRewards)
	h.enrol(t, p, "ada")
	award := must(h.svc.AwardReward(h.ctx, h.org, p.ID, r.ID, pathhook.AwardInput{LearnerID: "ada"}))(t)
	eq(t, "source", award.Source, pathhook.AwardManual)
	_, err := h.svc.AwardReward(h.ctx, h.org, p.ID, r.ID, pathhook.AwardInput{LearnerID: "ada"})
	wantCode(t, err, pathhook.ECONFLICT)
	if msg := pathhook.ErrorMessage(err); !strings.Contains(msg, "was already awarded to learner") {
		t.Errorf("conflict message = %q", msg)
	}
	// Completing the pathway does not unlock the reward a second time.
	c := must(h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: a.ID}))(t)
	if !c.PathwayCompleted || len(c.UnlockedRewardIDs) != 0 {
		t.Errorf("completion = %+v, want pathway completed and nothing unlocked", c)
	}
	eqSlice(t, "reward events", h.eventTypes(t, wr.ID), []string{pathhook.TypeRewardUnlocked})
}

// testBadBytes: text with a control character, and ids and cursors that
// are not UTF-8 or hold a NUL, are refused before they reach the store
// (PostgreSQL cannot store them, and fails the statement), as invalid input
// or as not found, and change nothing.
func testBadBytes(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	a := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: "A", Kind: pathhook.ActivityOnline}))(t)
	h.enrol(t, p, "ada")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	for _, c := range []struct {
		name, code string
		call       func() error
	}{
		{"NUL in a pathway's name", pathhook.EINVALID, func() error {
			_, err := h.svc.CreatePathway(h.ctx, h.org, pathhook.PathwayInput{Name: "a\x00b"})
			return err
		}},
		{"NUL in a learner's name", pathhook.EINVALID, func() error {
			_, err := h.svc.Enrol(h.ctx, h.org, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "bob", Name: "\x00"}})
			return err
		}},
		{"not UTF-8 in the pathways' cursor", pathhook.EINVALID, func() error {
			_, _, err := h.svc.Pathways(h.ctx, h.org, pathhook.Page{Cursor: "pw_\xff"})
			return err
		}},
		{"NUL in the enrolments' cursor", pathhook.EINVALID, func() error {
			_, _, err := h.svc.Enrolments(h.ctx, h.org, p.ID, pathhook.Page{Cursor: "\x00"})
			return err
		}},
		{"NUL in the deliveries' cursor", pathhook.EINVALID, func() error {
			_, _, err := h.svc.Deliveries(h.ctx, h.org, w.ID, "", pathhook.Page{Cursor: "dlv_\x00"})
			return err
		}},
		{"NUL in a completion's activity", pathhook.EINVALID, func() error {
			_, err := h.svc.Complete(h.ctx, h.org, p.ID, "ada", pathhook.CompletionInput{ActivityID: "act_\x00"})
			return err
		}},
		{"not UTF-8 in a completion's learner", pathhook.ENOTFOUND, func() error {
			_, err := h.svc.Complete(h.ctx, h.org, p.ID, "ada\xff", pathhook.CompletionInput{ActivityID: a.ID})
			return err
		}},
		{"NUL in an enrolment's learner", pathhook.ENOTFOUND, func() error {
			_, err := h.svc.Enrolment(h.ctx, h.org, p.ID, "\x00")
			return err
		}},
	} {
		if err := c.call(); pathhook.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	ps, _ := must2p(t)(h.svc.Pathways(h.ctx, h.org, pathhook.Page{}))
	eq(t, "pathways after refused input", len(ps), 1)
	eqSlice(t, "events after refused input", h.eventTypes(t, w.ID), []string{})
}

// testForeignCursors: the lists paged in the database refuse a cursor that
// is not one of theirs, as the lists paged in memory do, rather than answer
// an empty page or start from somewhere else.
func testForeignCursors(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	en := h.enrol(t, p, "ada")
	ds := h.deliveries(t, w.ID)
	for _, c := range []struct {
		name string
		list func(cursor string) error
		bad  []string
	}{
		{"pathways", func(c string) error {
			_, _, err := h.svc.Pathways(h.ctx, h.org, pathhook.Page{Cursor: c})
			return err
		}, []string{"garbage", "pw_zzzz", w.ID, "PW" + p.ID[2:], p.ID + "0"}},
		{"enrolments", func(c string) error {
			_, _, err := h.svc.Enrolments(h.ctx, h.org, p.ID, pathhook.Page{Cursor: c})
			return err
		}, []string{"garbage", "bob", p.ID}},
		{"deliveries", func(c string) error {
			_, _, err := h.svc.Deliveries(h.ctx, h.org, w.ID, "", pathhook.Page{Cursor: c})
			return err
		}, []string{"garbage", "dlv_zzzz", ds[0].EventID, "dlv_" + strings.Repeat("z", 26)}},
	} {
		for _, cursor := range c.bad {
			err := c.list(cursor)
			wantCode(t, err, pathhook.EINVALID)
			if msg := pathhook.ErrorMessage(err); msg != "cursor: is not a cursor of this list" {
				t.Errorf("%s with cursor %q: %q", c.name, cursor, msg)
			}
		}
	}
	// The lists' own cursors still page.
	for _, c := range []struct{ name, cursor string }{{"pathways", p.ID}, {"enrolments", en.Learner.ID}, {"deliveries", ds[0].ID}} {
		var err error
		switch c.name {
		case "pathways":
			_, _, err = h.svc.Pathways(h.ctx, h.org, pathhook.Page{Cursor: c.cursor})
		case "enrolments":
			_, _, err = h.svc.Enrolments(h.ctx, h.org, p.ID, pathhook.Page{Cursor: c.cursor})
		case "deliveries":
			_, _, err = h.svc.Deliveries(h.ctx, h.org, w.ID, "", pathhook.Page{Cursor: c.cursor})
		}
		if err != nil {
			t.Errorf("%s with its own cursor %q: %v", c.name, c.cursor, err)
		}
	}
}
