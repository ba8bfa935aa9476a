package bench

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTallyCount(t *testing.T) {
	t.Parallel()
	tl := newTally(6)
	arrivals := []struct {
		i  int
		id string
	}{
		{0, "evt_a"},
		{1, "evt_b"},
		{1, "evt_b"}, // duplicate
		{1, "evt_b"}, // duplicate
		{3, "evt_d"}, // not accepted
		{0, "evt_x"}, // a second event for call 0
		{-1, ""},     // names no call
		{99, "evt_z"},
		{5, "evt_f"},
	}
	for k, a := range arrivals {
		tl.arrive(a.i, a.id, time.Duration(k+1)*time.Millisecond)
	}
	tl.fail()
	tl.badSignature()
	accepted := []bool{true, true, true, false, true, true}
	got := tl.count(accepted)
	want := Counts{Accepted: 5, Delivered: 3, Lost: 2, Duplicates: 2, Extra: 1, Unexpected: 1, Unknown: 2,
		BadSignatures: 1, FailedOnPurpose: 1, Requests: len(arrivals) + 1}
	if got != want {
		t.Errorf("count =\n %+v, want\n %+v", got, want)
	}
	if r := got.DuplicateRatio(); r != 2.0/3 {
		t.Errorf("DuplicateRatio = %v", r)
	}
	sent := []time.Duration{0, 0, 0, 0, 0, time.Millisecond}
	from, to := tl.arrivals(sent, accepted)
	if len(from) != 3 || len(to) != 3 || to[2]-from[2] != 8*time.Millisecond {
		t.Errorf("arrivals = %v, %v", from, to)
	}
}

func TestTallyFromBase(t *testing.T) {
	t.Parallel()
	tl := newTallyFrom(100, 3)
	tl.arrive(101, "evt_b", time.Millisecond)
	tl.arrive(1, "evt_old", time.Millisecond) // a learner of an earlier phase
	tl.arrive(103, "evt_z", time.Millisecond)
	tl.receive()
	tl.hangUp()
	got := tl.count([]bool{true, true, false})
	want := Counts{Accepted: 2, Delivered: 1, Lost: 1, Unknown: 2, Received: 1, Requests: 3, HungUp: 1}
	if got != want {
		t.Errorf("count =\n %+v, want\n %+v", got, want)
	}
	if ids := tl.eventIDs(); len(ids) != 1 || !ids["evt_b"] {
		t.Errorf("eventIDs = %v", ids)
	}
}

func TestIndexOf(t *testing.T) {
	t.Parallel()
	tests := map[string]int{
		string(body(0)):     0,
		string(body(12345)): 12345,
		`{"data":{"learner":{"id":"bench-learner-7"}}}`: 7,
		`{"learner":{"id":"someone"}}`:                  -1,
		`bench-learner-`:                                -1,
	}
	for in, want := range tests {
		if got := indexOf([]byte(in)); got != want {
			t.Errorf("indexOf(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := latencyOf(ds)
	if l.Count != 100 || l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("latencyOf = %+v", l)
	}
	// 101 arrivals 10 ms apart: the middle 80% come at 100 a second.
	var at []time.Duration
	for i := range 101 {
		at = append(at, time.Duration(i)*10*time.Millisecond)
	}
	if r := steadyRate(at); r != 100 {
		t.Errorf("steadyRate = %v, want 100", r)
	}
	sent := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond}
	arrived := []time.Duration{time.Millisecond, 503 * time.Millisecond, 1510 * time.Millisecond}
	all, first := latencies(sent, arrived)
	if all.Count != 3 || all.Max != 10 || first.Count != 2 || first.Max != 3 {
		t.Errorf("latencies = %+v, %+v", all, first)
	}
}

// TestCeilings runs the raw and the relay ceilings against a local receiver
// with a few requests: every request arrives, signed, with sane figures.
func TestCeilings(t *testing.T) {
	t.Parallel()
	b := &bench{c: Config{Events: 200, Concurrency: 8}, epoch: time.Now(), secret: "whsec-test-0123456789abcdef",
		paths: []string{"/v1/pathways/pw_1/enrolments", "/v1/pathways/pw_2/enrolments"}}
	var err error
	if b.rc, err = newReceiver([]byte(b.secret), 0, b.epoch); err != nil {
		t.Fatal(err)
	}
	defer b.rc.close()
	raw, relayed := b.ceilings(context.Background())
	if relayed == nil {
		t.Fatal("no relay ceiling")
	}
	for name, c := range map[string]*Ceiling{"raw": raw, "relay": relayed} {
		if c.Requests != 200 || c.Delivered != 200 || c.Errors != 0 {
			t.Errorf("%s: %+v, want 200 requests delivered without errors", name, c)
		}
		if c.PerSecond <= 0 || c.Seconds <= 0 || c.Latency.Count != 200 || c.Latency.P50 <= 0 || c.Latency.P99 < c.Latency.P50 {
			t.Errorf("%s: implausible figures %+v", name, c)
		}
	}
	if raw == relayed {
		t.Error("raw and relay are the same result")
	}
	// The relay signs what it forwards; the receiver checked it.
	if bad := b.rc.phase.Load().count(nil).BadSignatures; bad != 0 {
		t.Errorf("relay: %d bad signatures", bad)
	}
}

func TestReceiverFailsAShareAndHolds(t *testing.T) {
	t.Parallel()
	rc, err := newReceiver([]byte("secret-0123456789abcdefghij"), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.close()
	tl := newTally(100)
	rc.begin(tl, 1)
	l := newLoad(newClient(4), 100, 4, 0, rc.epoch)
	l.url = func(int, int) string { return rc.url + "/raw" }
	l.body = body
	l.run(context.Background())
	if c := tl.count(l.accepted); c.FailedOnPurpose != 100 || c.Delivered != 0 || l.failed.Load() != 100 {
		t.Errorf("fail 1: %+v, load failures %d", c, l.failed.Load())
	}

	tl = newTally(10)
	rc.begin(tl, 0)
	rc.hold()
	l = newLoad(newClient(4), 10, 4, 0, rc.epoch)
	l.url = func(int, int) string { return rc.url + "/raw" }
	l.body = body
	done := make(chan struct{})
	go func() {
		l.run(context.Background())
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("requests answered while held")
	case <-time.After(100 * time.Millisecond):
	}
	rc.release()
	<-done
	if c := tl.count(l.accepted); c.Delivered != 10 {
		t.Errorf("after release: %+v", c)
	}
}

func TestPeakRSS(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc and getrusage")
	}
	if rss := peakRSS(os.Getpid()); rss < 1<<20 {
		t.Errorf("peakRSS of this process = %d bytes", rss)
	}
	// Burn some CPU so that both clocks have something to show.
	start, x := time.Now(), 0
	for time.Since(start) < 50*time.Millisecond {
		x++
	}
	if cpu := processCPU(os.Getpid()); cpu <= 0 {
		t.Errorf("processCPU of this process = %v (%d)", cpu, x)
	}
	if cpu := selfCPU(); cpu <= 0 {
		t.Errorf("selfCPU = %v", cpu)
	}
}

// TestRunAgainstFake runs the whole bench against the fake server: child
// process, setup through the API, ceilings, the run and the accounting.
func TestRunAgainstFake(t *testing.T) {
	t.Parallel()
	c := fakeConfig(t, fakeDupEnv+"=50")
	c.Rate = 2000
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pathhook
	if p.Accepted != 300 || p.Delivered != 300 || p.Lost != 0 || p.Duplicates != 6 || p.TimedOut {
		t.Errorf("pathhook = %+v, want 300 delivered with 6 duplicates", p)
	}
	if p.Extra+p.Unexpected+p.Unknown+p.BadSignatures+p.APIErrors != 0 {
		t.Errorf("anomalies: %+v", p)
	}
	if p.PerSecond <= 0 || p.Latency.Count != 300 || p.FirstSecond.Count == 0 || p.PeakRSSBytes <= 0 && runtime.GOOS == "linux" {
		t.Errorf("implausible figures: %+v", p)
	}
	if p.CPUMicrosPerDelivery <= 0 || p.BenchCPUSeconds <= 0 {
		t.Errorf("CPU not measured: %+v", p)
	}
	if r.Raw == nil || r.Relay == nil || r.Relay.Delivered != 300 || r.RelayRatio <= 0 || r.Relay.CPUMicrosPerRequest <= 0 {
		t.Errorf("ceilings: raw %+v relay %+v ratio %v", r.Raw, r.Relay, r.RelayRatio)
	}
	var out strings.Builder
	r.Print(&out)
	for _, want := range []string{"bare relay", "throughput", "duplicates 6", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunKillsAndRestarts kills the fake server twice during a run: the
// calls cut off by a kill are made again, nothing accepted is lost (the
// fake delivers before it answers), and the restarts are counted.
func TestRunKillsAndRestarts(t *testing.T) {
	t.Parallel()
	c := fakeConfig(t)
	c.Kill, c.NoCeilings, c.Rate = 2, true, 1000
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pathhook
	if p.Kills != 2 || len(p.RestartMillis) != 2 || p.Lost != 0 || p.Delivered != 300 || p.Extra+p.Unexpected != 0 {
		t.Errorf("pathhook = %+v", p)
	}
	if r.Raw != nil || r.Relay != nil {
		t.Error("ceilings ran with NoCeilings")
	}
}

// TestRunBacklog holds the deliveries until every call is accepted, then
// drains them.
func TestRunBacklog(t *testing.T) {
	t.Parallel()
	c := fakeConfig(t, fakeAsyncEnv+"=1")
	c.Backlog, c.NoCeilings = true, true
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Pathhook; p.Delivered != 300 || p.Lost != 0 {
		t.Errorf("pathhook = %+v", p)
	}
	if b := r.Backlog; b == nil || b.Pending != 300 || b.DrainPerSecond <= 0 {
		t.Errorf("backlog = %+v", b)
	}
}

// TestRunBesideSlow runs a fairness run against the fake server, whose
// deliveries go out after it answers: the slow endpoint takes longer than
// the run, so each of its events is still pending at the end, and is
// counted so, not as lost. It asserts the accounting, not the cost.
func TestRunBesideSlow(t *testing.T) {
	t.Parallel()
	c := fakeConfig(t, fakeAsyncEnv+"=1")
	c.NoCeilings, c.SlowWebhooks, c.SlowLatency = true, 1, time.Hour
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Pathhook; p.Delivered != 300 || p.Lost != 0 || p.TimedOut {
		t.Errorf("first phase = %+v", p)
	}
	f := r.Fairness
	if f == nil {
		t.Fatal("no fairness figures")
	}
	if f.WarmUpCalls != 300 {
		t.Errorf("%d warm-up calls, want 300 (as many as --events, below %d)", f.WarmUpCalls, warmUpCalls)
	}
	if p := f.Beside; p.Accepted != 300 || p.Delivered != 300 || p.Lost != 0 || p.Unknown+p.Unexpected != 0 || p.TimedOut || p.PerSecond <= 0 {
		t.Errorf("second phase, healthy = %+v", p)
	}
	// 300 calls to 3 healthy webhooks: 100 to the slow one, a quarter.
	if s := f.Slow; s.Accepted != 100 || s.Delivered != 0 || s.Pending != 100 || s.Lost != 0 || s.APIErrors != 0 {
		t.Errorf("slow = %+v, want 100 accepted and pending", s)
	}
	var out strings.Builder
	r.Print(&out)
	for _, want := range []string{"warm-up: 300", "first phase", "beside slow", "cost", "100 pending in the server"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, out.String())
		}
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	tests := map[string]Config{
		"nodes on sqlite":     {Nodes: 2},
		"fail everything":     {ReceiverFail: 1},
		"fail share above 1":  {ReceiverFail: 1.5},
		"kill with backlog":   {Kill: 1, Backlog: true},
		"negative rate":       {Rate: -1},
		"no server binary":    {ServerBinary: "-"},
		"negative concurrent": {Concurrency: -1},
		"slow with kill":      {SlowWebhooks: 1, Kill: 1},
		"slow latency alone":  {SlowLatency: time.Second},
		"slow share of all":   {SlowWebhooks: 1, SlowShare: 1},
	}
	for name, c := range tests {
		if c.ServerBinary == "-" {
			c.ServerBinary = ""
		} else {
			c.ServerBinary = "pathhook"
		}
		c.setDefaults()
		if err := c.check(); err == nil {
			t.Errorf("%s: check passed", name)
		}
	}
	if _, err := Run(context.Background(), Config{Nodes: 3, ServerBinary: "pathhook"}); err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("Run with 3 nodes on SQLite: %v", err)
	}
}
