package pathhook

import (
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	prev := NewID(PrefixEvent, t0)
	for i := 1; i < 200; i++ {
		id := NewID(PrefixEvent, t0.Add(time.Duration(i)*time.Millisecond))
		if id <= prev {
			t.Fatalf("id %d = %s does not sort after %s", i, id, prev)
		}
		if !strings.HasPrefix(id, PrefixEvent) || len(id) != len(PrefixEvent)+26 {
			t.Fatalf("id %q: want prefix %q and 26 digits", id, PrefixEvent)
		}
		prev = id
	}
}

func TestNewIDUnique(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seen := map[string]bool{}
	for range 10000 {
		id := NewID(PrefixDelivery, now)
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestIDSourceSortsWithinAMillisecond(t *testing.T) {
	t.Parallel()
	var s idSource
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	prev := s.next(PrefixDelivery, now)
	for i := range 1000 {
		at := now
		if i%100 == 99 {
			now = now.Add(time.Millisecond)
			at = now
		}
		id := s.next(PrefixDelivery, at)
		if id <= prev {
			t.Fatalf("id %d = %s does not sort after %s", i, id, prev)
		}
		prev = id
	}
	// A clock that steps back does not break the order either.
	if id := s.next(PrefixDelivery, now.Add(-time.Second)); id <= prev {
		t.Fatalf("after the clock stepped back: %s does not sort after %s", id, prev)
	}
}

// TestIsID: every id that NewID or an idSource makes has the form, down to
// the largest time and random part; a change to any part loses it.
func TestIsID(t *testing.T) {
	t.Parallel()
	var s idSource
	var max [10]byte
	for i := range max {
		max[i] = 0xff
	}
	for _, id := range []string{NewID(PrefixPathway, time.Now()), s.next(PrefixPathway, time.Now()), encodeID(PrefixPathway, 1<<48-1, max)} {
		if !isID(PrefixPathway, id) {
			t.Errorf("isID(%q) = false", id)
		}
	}
	good := NewID(PrefixPathway, time.Now())
	for _, id := range []string{"", "pw_", "garbage", "pw_zzzz", good + "0", good[:len(good)-1], "wh_" + good[3:], "PW_" + good[3:],
		"pw_8" + good[4:], "pw_" + strings.ToUpper(good[3:]), good[:10] + "u" + good[11:], good[:10] + "\x00" + good[11:]} {
		if isID(PrefixPathway, id) {
			t.Errorf("isID(%q) = true", id)
		}
	}
}
