package pathhook

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCategoryTypes(t *testing.T) {
	t.Parallel()
	for _, c := range Categories {
		types := CategoryTypes(c)
		if len(types) == 0 {
			t.Fatalf("category %s has no types", c)
		}
		for _, ty := range types {
			if got := CategoryOf(ty); got != c {
				t.Errorf("CategoryOf(%s) = %q, want %q", ty, got, c)
			}
		}
	}
	if CategoryOf("webhook.test") != "" {
		t.Error("webhook.test must not be a type")
	}
}

func TestEventPayloadWireFormat(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 123_000_000, time.UTC)
	p := &Pathway{ID: "pw_1", OrgID: "org_1", Name: "Onboarding"}
	for _, c := range Categories {
		for _, ty := range CategoryTypes(c) {
			ev, err := newEvent(NewID(PrefixEvent, now), p, ty, sampleData(ty, now), true, now)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(ev.Payload, &got); err != nil {
				t.Fatalf("%s: payload is not JSON: %v", ty, err)
			}
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"category", "created_at", "data", "id", "pathway", "test", "type"}; !slices.Equal(keys, want) {
				t.Errorf("%s: top-level keys %v, want %v", ty, keys, want)
			}
			wantPrefix := `{"id":"` + ev.ID + `","type":"` + ty + `","category":"` + c + `","created_at":"2026-11-29T10:00:00.123Z","test":true,"pathway":{"id":"pw_1","name":"Onboarding"},"data":{"learner":{`
			if !strings.HasPrefix(string(ev.Payload), wantPrefix) {
				t.Errorf("%s: payload starts\n%s\nwant\n%s", ty, ev.Payload, wantPrefix)
			}
		}
	}
}

func TestUnlocks(t *testing.T) {
	t.Parallel()
	act := "act_1"
	other := "act_2"
	onActivity := &Reward{UnlockOn: UnlockActivityCompleted, ActivityID: &act}
	onPathway := &Reward{UnlockOn: UnlockPathwayCompleted}
	tests := []struct {
		r         *Reward
		activity  string
		completed bool
		want      bool
	}{
		{onActivity, act, false, true},
		{onActivity, other, false, false},
		{onActivity, other, true, false},
		{onPathway, act, false, false},
		{onPathway, act, true, true},
	}
	for i, tt := range tests {
		if got := Unlocks(tt.r, tt.activity, tt.completed); got != tt.want {
			t.Errorf("case %d: Unlocks = %v, want %v", i, got, tt.want)
		}
	}
}

func TestRewardInputValidation(t *testing.T) {
	t.Parallel()
	act := "act_1"
	points := 10
	tests := []struct {
		in     RewardInput
		fields []string
	}{
		{RewardInput{Name: "Badge", Kind: RewardBadge, UnlockOn: UnlockPathwayCompleted}, nil},
		{RewardInput{Name: "Points", Kind: RewardPoints, Points: &points, UnlockOn: UnlockActivityCompleted, ActivityID: &act}, nil},
		{RewardInput{Kind: "trophy", UnlockOn: "never"}, []string{"name", "kind", "unlock_on"}},
		{RewardInput{Name: "P", Kind: RewardPoints, UnlockOn: UnlockActivityCompleted}, []string{"points", "activity_id"}},
		{RewardInput{Name: "B", Kind: RewardBadge, UnlockOn: UnlockPathwayCompleted, ActivityID: &act}, []string{"activity_id"}},
		{RewardInput{Name: "C", Kind: RewardCertificate, Points: &points, UnlockOn: UnlockPathwayCompleted}, []string{"points"}},
	}
	for i, tt := range tests {
		var fields []string
		for _, f := range tt.in.validate() {
			fields = append(fields, f.Field)
		}
		if !slices.Equal(fields, tt.fields) {
			t.Errorf("case %d: invalid fields %v, want %v", i, fields, tt.fields)
		}
	}
}

func TestEnrolmentInputValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    EnrolmentInput
		field string
	}{
		{EnrolmentInput{Learner: &Learner{ID: "u-1", Email: "ada@example.com", Name: "Ada"}}, ""},
		{EnrolmentInput{}, "learner"},
		{EnrolmentInput{Learner: &Learner{}}, "learner.id"},
		{EnrolmentInput{Learner: &Learner{ID: "has space"}}, "learner.id"},
		{EnrolmentInput{Learner: &Learner{ID: "a/b"}}, "learner.id"},
		{EnrolmentInput{Learner: &Learner{ID: "u-1", Email: "not-an-email"}}, "learner.email"},
		{EnrolmentInput{Learner: &Learner{ID: "u-1", Email: "Ada <ada@example.com>"}}, "learner.email"},
	}
	for i, tt := range tests {
		err := tt.in.validate()
		got := ""
		if err != nil {
			got = err.(*Error).Fields[0].Field
		}
		if got != tt.field {
			t.Errorf("case %d: invalid field %q, want %q (err %v)", i, got, tt.field, err)
		}
	}
}
