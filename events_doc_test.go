package pathhook

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestEventsDocIsTrue checks every payload pathhook sends against
// docs/events.schema.json, and every example in docs/events.md against the
// same schema, so that the page integrators build against cannot drift.
func TestEventsDocIsTrue(t *testing.T) {
	t.Parallel()
	var schema struct {
		Defs map[string]map[string]any `json:"$defs"`
	}
	data, err := os.ReadFile("docs/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 123_000_000, time.UTC)
	start := now.Add(time.Hour)
	p := &Pathway{ID: "pw_1", Name: "Onboarding"}
	act := &Activity{ID: "act_1", Title: "Workshop", Kind: ActivityEvent, StartsAt: &start}
	rw := &Reward{ID: "rwd_1", Name: "Badge", Kind: RewardBadge}
	en := &Enrolment{Learner: Learner{ID: "u-1"}, Status: EnrolmentCompleted, CreatedAt: now, CompletedAt: &now}
	real := map[string][]any{ // beside the samples, data as the rules build it
		TypeEnrolmentCompleted:         {enrolmentData(en)},
		TypeEnrolmentActivityCompleted: {activityCompletedData(en, act, now, 2, 2)},
		TypeBookingCheckedIn:           {bookingData(en.Learner, act, AttendanceCheckedIn, "", now)},
		TypeRewardUnlocked:             {rewardUnlockedData(en.Learner, rw, UnlockActivityCompleted, &act.ID, now)},
	}
	for _, c := range Categories {
		for _, ty := range CategoryTypes(c) {
			s, ok := schema.Defs[ty]
			if !ok {
				t.Fatalf("schema has no definition of %s", ty)
			}
			for i, d := range append(real[ty], sampleData(ty, now)) {
				ev, err := newEvent(NewID(PrefixEvent, now), p, ty, d, i%2 == 0, now)
				if err != nil {
					t.Fatal(err)
				}
				var v any
				_ = json.Unmarshal(ev.Payload, &v)
				if err := validate(s, v, "$"); err != nil {
					t.Errorf("%s payload %d does not match its schema: %v\n%s", ty, i, err, ev.Payload)
				}
			}
		}
	}

	doc, err := os.ReadFile("docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := regexp.MustCompile("(?s)### `([a-z_.]+)`.*?```json\n(.*?)\n```").FindAllSubmatch(doc, -1)
	var documented []string
	for _, m := range examples {
		ty := string(m[1])
		documented = append(documented, ty)
		var v any
		if err := json.Unmarshal(m[2], &v); err != nil {
			t.Fatalf("docs/events.md: the %s example is not JSON: %v", ty, err)
		}
		if err := validate(schema.Defs[ty], v, "$"); err != nil {
			t.Errorf("docs/events.md: the %s example does not match what pathhook sends: %v", ty, err)
		}
	}
	for _, c := range Categories {
		for _, ty := range CategoryTypes(c) {
			if !slices.Contains(documented, ty) {
				t.Errorf("docs/events.md has no example of %s", ty)
			}
		}
	}
}

// validate checks v against the subset of JSON Schema that
// docs/events.schema.json uses.
func validate(s map[string]any, v any, at string) error {
	if c, ok := s["const"]; ok && c != v {
		return fmt.Errorf("%s = %v, want %v", at, v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		return fmt.Errorf("%s = %v, want one of %v", at, v, e)
	}
	if typ, ok := s["type"]; ok && !hasType(typ, v) {
		return fmt.Errorf("%s = %v (%T) is not of type %v", at, v, v, typ)
	}
	if pat, ok := s["pattern"].(string); ok {
		if str, _ := v.(string); !regexp.MustCompile(pat).MatchString(str) {
			return fmt.Errorf("%s = %q does not match %s", at, str, pat)
		}
	}
	if f, _ := s["format"].(string); f == "date-time" && v != nil {
		if _, err := time.Parse(TimeFormat, v.(string)); err != nil {
			return fmt.Errorf("%s = %q is not a time like 2026-11-29T10:00:00.123Z", at, v)
		}
	}
	obj, isObj := v.(map[string]any)
	props, _ := s["properties"].(map[string]any)
	if !isObj || props == nil {
		return nil
	}
	for _, r := range s["required"].([]any) {
		if _, ok := obj[r.(string)]; !ok {
			return fmt.Errorf("%s lacks %s", at, r)
		}
	}
	for k, x := range obj {
		ps, ok := props[k].(map[string]any)
		if !ok {
			return fmt.Errorf("%s has %s, which the schema does not allow", at, k)
		}
		if err := validate(ps, x, at+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func hasType(typ, v any) bool {
	if list, ok := typ.([]any); ok {
		return slices.ContainsFunc(list, func(t any) bool { return hasType(t, v) })
	}
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "null":
		return v == nil
	}
	return false
}
