package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress shows how a phase is going on stderr: on a terminal, a bar
// redrawn five times a second; elsewhere, a plain line every five seconds.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int
	sent  func() int
	got   func() int
	note  func() string // more to show after the bar, if set
	start time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

// showProgress starts showing a phase of total events, and what note says
// if it is not nil; done stops it. A nil w shows nothing.
func showProgress(w io.Writer, tty bool, label string, total int, sent, got func() int, note func() string) *progress {
	p := &progress{w: w, tty: tty, label: label, total: total, sent: sent, got: got, note: note, start: time.Now(), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	p.wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				p.draw(true)
				return
			case <-tick.C:
				p.draw(false)
			}
		}
	})
	return p
}

func (p *progress) done() {
	close(p.stop)
	p.wg.Wait()
}

func (p *progress) draw(last bool) {
	sent, got := p.sent(), p.got()
	elapsed := time.Since(p.start)
	line := fmt.Sprintf("%-9s sent %*d/%d  delivered %*d  %s %5.1fs", p.label, digits(p.total), sent, p.total,
		digits(p.total), got, bar(got, p.total, 24), elapsed.Seconds())
	if p.note != nil {
		line += "  " + p.note()
	}
	switch {
	case p.tty && last:
		fmt.Fprintf(p.w, "\r%s\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", line)
	case !last || elapsed >= 5*time.Second:
		fmt.Fprintln(p.w, line)
	}
}

// bar draws done out of total as [#####-----].
func bar(done, total, width int) string {
	if total <= 0 {
		return ""
	}
	full := min(width, done*width/total)
	return "[" + strings.Repeat("#", full) + strings.Repeat("-", width-full) + "]"
}

func digits(n int) int { return len(fmt.Sprint(n)) }
