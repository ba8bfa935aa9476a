//go:build linux

package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/sqlite"
)

// TestAFullDiskChangesNothing fills a 1 MiB filesystem: the write that
// finds no room fails with EUNAVAILABLE saying so (the API's 503, where it
// was a 500) and changes nothing, and once there is room writes go on.
func TestAFullDiskChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small filesystem here (%v): it needs root", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "pathhook.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := pathhook.NewService(pathhook.Config{Store: db})
	org, err := svc.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreatePathway(ctx, org.ID, pathhook.PathwayInput{Name: "Full"})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("x", 100)
	enrol := func(i int) error {
		_, err := svc.Enrol(ctx, org.ID, p.ID, pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: fmt.Sprint("u", i), Name: name}})
		return err
	}
	n := 0
	for ; err == nil; n++ {
		if n == 100000 {
			t.Fatal("100,000 enrolments fit in 1 MiB")
		}
		err = enrol(n)
	}
	n-- // the one that failed
	t.Logf("%d enrolments fitted", n)
	if pathhook.ErrorCode(err) != pathhook.EUNAVAILABLE || !strings.Contains(pathhook.ErrorMessage(err), "disk is full") {
		t.Fatalf("enrolment %d on a full disk: %v (code %q), want EUNAVAILABLE saying the disk is full", n, err, pathhook.ErrorCode(err))
	}
	if _, err := svc.Enrolment(ctx, org.ID, p.ID, fmt.Sprint("u", n)); pathhook.ErrorCode(err) != pathhook.ENOTFOUND {
		t.Errorf("the enrolment that found no room: %v, want it not saved", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=16m"); err != nil {
		t.Fatal(err)
	}
	if err := enrol(n); err != nil {
		t.Errorf("enrolment %d once there is room: %v", n, err)
	}
}
