package main

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeliveriesSurviveSIGKILL queues deliveries for a receiver that is
// down, kills the server with SIGKILL, restarts it on the same database,
// brings the receiver up and requires every delivery to arrive.
func TestDeliveriesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	const (
		key      = "crash-admin-key-0123456789abcdef"
		secret   = "crash-secret-0123456789abcdefgh"
		learners = 40
	)
	db := filepath.Join(t.TempDir(), "crash.db")
	env := []string{"PATHHOOK_DB=" + db, "PATHHOOK_ADMIN_KEY=" + key}
	args := []string{"--addr", "127.0.0.1:0", "--allow-http", "--allow-networks", "127.0.0.0/8",
		"--retry-schedule", strings.TrimSuffix(strings.Repeat("200ms,", 150), ",")}

	// A port with nobody listening: the receiver is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	receiverAddr := ln.Addr().String()
	ln.Close()

	cmd, url := startProcess(t, env, args...)
	s := &server{URL: url, Key: key}
	var p pathwayJSON
	s.call(t, "POST", "/v1/pathways", map[string]any{"name": "Crash"}, 201, &p)
	hook := hookOf(t, p, "enrolments")
	s.setUp(t, hook.ID, "http://"+receiverAddr+"/hook", secret)
	for i := range learners {
		s.call(t, "POST", "/v1/pathways/"+p.ID+"/enrolments", map[string]any{"learner": map[string]any{"id": fmt.Sprintf("u-%d", i)}}, 201, nil)
	}
	var pending struct {
		Data []deliveryJSON `json:"data"`
	}
	s.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries?status=pending&limit=100", nil, http.StatusOK, &pending)
	if len(pending.Data) != learners {
		t.Fatalf("%d deliveries pending before the kill, want %d", len(pending.Data), learners)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	cmd, url = startProcess(t, env, args...)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s.URL = url

	// The receiver comes up on the address the webhook names.
	rl, err := net.Listen("tcp", receiverAddr)
	if err != nil {
		t.Fatalf("cannot bring the receiver up on %s: %v", receiverAddr, err)
	}
	rc := newReceiverOn(t, rl)
	got := rc.wait(t, learners)
	seen := map[string]bool{}
	for _, r := range got {
		ev := checkDelivery(t, "Falkor", secret, r)
		seen[ev.ID] = true
	}
	if len(seen) != learners {
		t.Fatalf("received %d distinct events, want %d", len(seen), learners)
	}
	var list struct {
		Data []deliveryJSON `json:"data"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.call(t, "GET", "/v1/webhooks/"+hook.ID+"/deliveries?status=succeeded&limit=100", nil, http.StatusOK, &list)
		if len(list.Data) == learners || time.Now().After(deadline) {
			break
		}
		sleepBriefly()
	}
	if len(list.Data) != learners {
		t.Fatalf("%d deliveries succeeded, want %d", len(list.Data), learners)
	}
}
