package bench

import (
	"sync"
	"time"
)

// tally counts what a receiver got in one phase of a run, by event index:
// the index of the API call (or ceiling request) that caused the delivery,
// which the receiver reads from the learner id in the body. A phase whose
// learners are numbered from base counts learner base+i as index i.
//
// A delivery is the first arrival of an index. A duplicate is a later
// arrival of the same event id; an extra is an arrival for an index that
// already arrived under another event id, which would mean the server made
// two events of one API call.
type tally struct {
	base    int
	mu      sync.Mutex
	first   []time.Duration // since the epoch; 0: not arrived
	ids     []string        // the event id of the first arrival
	arrived int             // indexes with a first arrival
	last    time.Duration   // the latest first arrival

	received   int // every request that reached the receiver in this phase
	requests   int // every request the receiver answered in this phase
	failed     int // answered 500 on purpose (--receiver-fail)
	hungUp     int // the sender gave up before the answer
	duplicates int
	extra      int
	unknown    int // no index of this run in the body
	badSig     int
}

func newTally(n int) *tally { return newTallyFrom(0, n) }

// newTallyFrom returns the tally of n calls whose learners are numbered from
// base.
func newTallyFrom(base, n int) *tally {
	return &tally{base: base, first: make([]time.Duration, n), ids: make([]string, n)}
}

// arrive records a delivery of learner i under event id at time at since
// the epoch; i < 0 means the body named no learner.
func (t *tally) arrive(i int, id string, at time.Duration) {
	at = max(at, 1) // 0 means "not arrived"
	if i >= 0 {
		i -= t.base // below 0 now: a learner of another phase
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	switch {
	case i < 0 || i >= len(t.first):
		t.unknown++
	case t.first[i] == 0:
		t.first[i], t.ids[i] = at, id
		t.arrived++
		t.last = max(t.last, at)
	case t.ids[i] == id:
		t.duplicates++
	default:
		t.extra++
	}
}

// fail records a request answered with an error on purpose.
func (t *tally) fail() {
	t.mu.Lock()
	t.requests++
	t.failed++
	t.mu.Unlock()
}

// receive records a request that reached the receiver, before it is
// answered.
func (t *tally) receive() {
	t.mu.Lock()
	t.received++
	t.mu.Unlock()
}

// hangUp records a request whose sender gave up before the receiver
// answered.
func (t *tally) hangUp() {
	t.mu.Lock()
	t.hungUp++
	t.mu.Unlock()
}

// badSignature records a request whose signature did not verify; it is
// still counted as an arrival.
func (t *tally) badSignature() {
	t.mu.Lock()
	t.badSig++
	t.mu.Unlock()
}

// progress returns how many indexes have arrived.
func (t *tally) progress() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.arrived
}

// Counts is the delivery accounting of a run.
type Counts struct {
	// Accepted is how many API calls the server accepted (201, or 409 for a
	// retried call whose first try had been committed before a crash).
	Accepted int `json:"accepted"`
	// Delivered is how many accepted calls' events reached the receiver.
	Delivered int `json:"delivered"`
	// Lost is how many accepted calls' events never reached it.
	Lost int `json:"lost"`
	// Duplicates counts deliveries of an event id that had already arrived.
	Duplicates int `json:"duplicates"`
	// Extra counts events beyond the first for one API call; Unexpected
	// counts events for calls that were not accepted; Unknown counts
	// requests that named no event of this run. All three should be 0.
	Extra      int `json:"extra"`
	Unexpected int `json:"unexpected"`
	Unknown    int `json:"unknown"`
	// BadSignatures counts deliveries whose signature did not verify.
	BadSignatures int `json:"bad_signatures"`
	// FailedOnPurpose counts requests the receiver answered 500 (--receiver-fail).
	FailedOnPurpose int `json:"failed_on_purpose"`
	// Received is every request that reached the receiver, Requests every
	// one it answered, and HungUp those the server gave up on before the
	// receiver answered (an attempt that ran past serve's
	// --delivery-timeout). The rest were still being answered at the end.
	Received int `json:"received"`
	Requests int `json:"requests"`
	HungUp   int `json:"hung_up"`
}

// DuplicateRatio is Duplicates over Delivered.
func (c Counts) DuplicateRatio() float64 {
	if c.Delivered == 0 {
		return 0
	}
	return float64(c.Duplicates) / float64(c.Delivered)
}

// count settles the accounting against the calls that were accepted.
func (t *tally) count(accepted []bool) Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := Counts{Duplicates: t.duplicates, Extra: t.extra, Unknown: t.unknown, BadSignatures: t.badSig,
		FailedOnPurpose: t.failed, Received: t.received, Requests: t.requests, HungUp: t.hungUp}
	for i, ok := range accepted {
		arrived := i < len(t.first) && t.first[i] != 0
		switch {
		case ok && arrived:
			c.Accepted++
			c.Delivered++
		case ok:
			c.Accepted++
			c.Lost++
		case arrived:
			c.Unexpected++
		}
	}
	return c
}

// arrivals returns, for each accepted index that arrived, its send time and
// its first arrival, both since the epoch.
func (t *tally) arrivals(sent []time.Duration, accepted []bool) (from, to []time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, at := range t.first {
		if at != 0 && i < len(accepted) && accepted[i] {
			from = append(from, sent[i])
			to = append(to, at)
		}
	}
	return from, to
}

// eventIDs returns the event ids of the first arrivals.
func (t *tally) eventIDs() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make(map[string]bool, t.arrived)
	for i, at := range t.first {
		if at != 0 {
			ids[t.ids[i]] = true
		}
	}
	return ids
}
