package ui

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed sign-ins are bounded per client address: after maxFailures in
// failureWindow, its sign-ins are refused until the window has passed. A
// generated key cannot be guessed, but PATHHOOK_ADMIN_KEY is the
// operator's own, and may be guessable.
const (
	maxFailures   = 10
	failureWindow = time.Minute
	// maxTracked bounds the addresses remembered; past it, those whose
	// windows have passed are forgotten, and if none has, all are.
	maxTracked = 10000
)

// failures counts failed sign-ins per client address, in fixed windows.
type failures struct {
	mu sync.Mutex
	by map[string]*failCount
}

type failCount struct {
	n     int
	since time.Time
}

func newFailures() *failures { return &failures{by: map[string]*failCount{}} }

// blocked reports whether addr has failed maxFailures times in the window
// that holds now.
func (f *failures) blocked(addr string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.by[addr]
	return c != nil && now.Sub(c.since) < failureWindow && c.n >= maxFailures
}

// add counts a failed sign-in from addr at now, and returns how many
// there have been in its window.
func (f *failures) add(addr string, now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.by[addr]
	if c == nil || now.Sub(c.since) >= failureWindow {
		if c == nil && len(f.by) >= maxTracked {
			f.forget(now)
		}
		c = &failCount{since: now}
		f.by[addr] = c
	}
	c.n++
	return c.n
}

// forget drops the addresses whose windows have passed, or, when none
// has, every address.
func (f *failures) forget(now time.Time) {
	for addr, c := range f.by {
		if now.Sub(c.since) >= failureWindow {
			delete(f.by, addr)
		}
	}
	if len(f.by) >= maxTracked {
		clear(f.by)
	}
}

// clientAddr is the address a request came from, without its port: the
// proxy's, behind one, so that all its clients share a count.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
