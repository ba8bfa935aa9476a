package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pathhook/pathhook/bench"
)

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	c, asJSON, err := parseBenchFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != 20000 || c.Webhooks != 50 || c.Concurrency != 64 || c.Nodes != 1 || c.Rate != 0 || asJSON || c.DB != "" {
		t.Errorf("defaults = %+v, json %v", c, asJSON)
	}
	c, asJSON, err = parseBenchFlags([]string{"--events", "100", "--webhooks", "3", "--concurrency", "8", "--rate", "500",
		"--receiver-latency", "5ms", "--receiver-fail", "0.1", "--db", "postgres://x", "--json", "--nodes", "2", "--kill", "5",
		"--server-binary", "/bin/pathhook", "--server-flags", "--workers 128  --per-webhook 4", "--backlog", "--no-ceilings", "--wait", "1m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := bench.Config{Events: 100, Webhooks: 3, Concurrency: 8, Rate: 500, ReceiverLatency: 5 * time.Millisecond, ReceiverFail: 0.1,
		DB: "postgres://x", Nodes: 2, Kill: 5, ServerBinary: "/bin/pathhook", RetrySchedule: bench.DefaultRetrySchedule,
		Backlog: true, NoCeilings: true, Wait: time.Minute}
	got := c
	got.ServerFlags = nil
	if !asJSON || got.Events != want.Events || got.Webhooks != want.Webhooks || got.Concurrency != want.Concurrency ||
		got.Rate != want.Rate || got.ReceiverLatency != want.ReceiverLatency || got.ReceiverFail != want.ReceiverFail ||
		got.DB != want.DB || got.Nodes != want.Nodes || got.Kill != want.Kill || got.ServerBinary != want.ServerBinary ||
		got.Backlog != want.Backlog || got.NoCeilings != want.NoCeilings || got.Wait != want.Wait {
		t.Errorf("parsed = %+v, want %+v", got, want)
	}
	if strings.Join(c.ServerFlags, "|") != "--workers|128|--per-webhook|4" {
		t.Errorf("ServerFlags = %q", c.ServerFlags)
	}
	c, _, err = parseBenchFlags([]string{"--slow-webhooks", "2", "--slow-latency", "20s", "--slow-share", "0.1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SlowWebhooks != 2 || c.SlowLatency != 20*time.Second || c.SlowShare != 0.1 {
		t.Errorf("slow flags = %d, %s, %v", c.SlowWebhooks, c.SlowLatency, c.SlowShare)
	}

	for _, args := range [][]string{{"--events", "0"}, {"--concurrency", "-1"}, {"extra"}, {"--rate", "fast"}} {
		if _, _, err := parseBenchFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if _, _, err := parseBenchFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestBenchVerdict(t *testing.T) {
	t.Parallel()
	var ok bench.Result
	ok.Pathhook.Accepted, ok.Pathhook.Delivered, ok.Pathhook.Duplicates = 10, 10, 3
	if err := benchVerdict(&ok); err != nil {
		t.Errorf("duplicates only: %v", err)
	}
	lost := ok
	lost.Pathhook.Lost = 1
	bad := ok
	bad.Pathhook.BadSignatures = 1
	extra := ok
	extra.Pathhook.Extra = 1
	for name, r := range map[string]bench.Result{"lost": lost, "bad signature": bad, "extra": extra} {
		if err := benchVerdict(&r); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// Beside slow webhooks, a slow event still pending is not lost; one
	// the server no longer has is, and so is a healthy one not delivered.
	slow := ok
	slow.Fairness = &bench.Fairness{Beside: ok.Pathhook}
	slow.Fairness.Slow.Accepted, slow.Fairness.Slow.Delivered, slow.Fairness.Slow.Pending = 10, 2, 8
	if err := benchVerdict(&slow); err != nil {
		t.Errorf("slow events pending: %v", err)
	}
	slowLost := slow
	slowLost.Fairness = &bench.Fairness{Beside: ok.Pathhook, Slow: slow.Fairness.Slow}
	slowLost.Fairness.Slow.Lost = 1
	healthyLost := slow
	healthyLost.Fairness = &bench.Fairness{Beside: lost.Pathhook}
	slowBad := slow
	slowBad.Fairness = &bench.Fairness{Beside: ok.Pathhook, Slow: slow.Fairness.Slow}
	slowBad.Fairness.Slow.BadSignatures = 1
	for name, r := range map[string]bench.Result{"slow lost": slowLost, "healthy lost beside slow": healthyLost, "slow bad signature": slowBad} {
		if err := benchVerdict(&r); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestBenchCommand runs pathhook bench for real with a few events: the
// test binary stands in for pathhook serve (see TestMain). It checks the
// accounting and that the JSON holds every part; it asserts no speed.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Setenv("PATHHOOK_AS_MAIN", "1") // the server processes are this binary
	var stdout, stderr bytes.Buffer
	args := []string{"--events", "200", "--webhooks", "2", "--concurrency", "4", "--db", t.TempDir() + "/bench.db", "--json", "--wait", "1m"}
	if err := runBench(context.Background(), args, testEnv(nil), &stdout, &stderr); err != nil {
		t.Fatalf("runBench: %v\nstderr:\n%s", err, stderr.String())
	}
	var r bench.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout.String())
	}
	p := r.Pathhook
	if p.Accepted != 200 || p.Delivered != 200 || p.Lost != 0 || p.TimedOut || p.BadSignatures != 0 {
		t.Errorf("pathhook = %+v", p)
	}
	if r.Raw == nil || r.Relay == nil || r.RelayRatio <= 0 || p.PerSecond <= 0 || p.Latency.Count != 200 || (p.PeakRSSBytes <= 0 && runtime.GOOS == "linux") {
		t.Errorf("result lacks figures: %s", stdout.String())
	}
}
