package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesAdminKeyItCannotUse: serve does not start when the key in
// PATHHOOK_ADMIN_KEY was revoked, or is a key of another org, and says so
// in an error that names the variable, once prefixed when main prints it.
func TestServeRefusesAdminKeyItCannotUse(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "pathhook.db")
	const admin = "revoked-admin-key-0123456789abcdef"
	t.Run("first start", func(t *testing.T) {
		s := startServer(t, map[string]string{"PATHHOOK_DB": db, "PATHHOOK_ADMIN_KEY": admin})
		var keys struct {
			Data []struct{ ID, Name string }
		}
		s.call(t, "GET", "/v1/api-keys", nil, 200, &keys)
		for _, k := range keys.Data {
			if k.Name == "PATHHOOK_ADMIN_KEY" {
				s.call(t, "DELETE", "/v1/api-keys/"+k.ID, nil, 200, nil)
			}
		}
	})
	var other bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--org", "other", "--db", db}, testEnv(nil), strings.NewReader(""), &other, io.Discard); err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	for _, tc := range []struct{ key, want string }{
		{admin, "PATHHOOK_ADMIN_KEY: this key was revoked"},
		{strings.TrimSpace(other.String()), "PATHHOOK_ADMIN_KEY: this key belongs to another org"},
	} {
		waitUnlocked(t, db)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out syncBuffer
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, testEnv(map[string]string{"PATHHOOK_DB": db, "PATHHOOK_ADMIN_KEY": tc.key}),
			strings.NewReader(""), &out, &out)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "pathhook:") {
			t.Errorf("serve with %s: %v, want an error that begins %q\n%s", tc.want, err, tc.want, out.String())
		}
		if strings.Contains(out.String(), "pathhook listening") {
			t.Errorf("serve with %s listened:\n%s", tc.want, out.String())
		}
	}
}
