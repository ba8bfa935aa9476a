package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/secretbox"
)

var _ pathhook.Sealer = (*secretbox.Box)(nil)

func mustBox(t *testing.T, key []byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b := mustBox(t, bytes.Repeat([]byte{7}, 32))
	plain := []byte("a webhook secret of some length")
	s1, err := b.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Seal(plain)
	if bytes.Equal(s1, s2) {
		t.Error("sealing twice gave equal values; the nonce is not random")
	}
	if bytes.Contains(s1, plain) {
		t.Error("sealed value contains the plaintext")
	}
	got, err := b.Open(s1)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	empty, _ := b.Seal(nil)
	if got, err := b.Open(empty); err != nil || len(got) != 0 {
		t.Errorf("Open(Seal(nil)) = %q, %v", got, err)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	b := mustBox(t, bytes.Repeat([]byte{7}, 32))
	other := mustBox(t, bytes.Repeat([]byte{8}, 32))
	sealed, _ := b.Seal([]byte("secret"))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	version := bytes.Clone(sealed)
	version[0] = 2
	for name, v := range map[string][]byte{
		"other key": sealed, "flipped": flipped, "version": version, "short": sealed[:10], "empty": nil,
	} {
		box := b
		if name == "other key" {
			box = other
		}
		if _, err := box.Open(v); !errors.Is(err, secretbox.ErrOpen) {
			t.Errorf("%s: Open err = %v, want ErrOpen", name, err)
		}
	}
}

func TestNewKeySize(t *testing.T) {
	t.Parallel()
	if _, err := secretbox.New(make([]byte, 16)); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{1}, 32)
	got, err := secretbox.ParseKey(base64.StdEncoding.EncodeToString(key) + "\n")
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("ParseKey = %x, %v", got, err)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := secretbox.ParseKey(bad); err == nil || !strings.Contains(err.Error(), "32") {
			t.Errorf("ParseKey(%q) err = %v, want an error naming 32 bytes", bad, err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret.key")
	key, created, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(key) != 32 {
		t.Fatalf("first call = %d bytes, created %v, %v", len(key), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	again, created, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(again, key) {
		t.Fatalf("second call = %x, created %v, %v; want the same key", again, created, err)
	}
}

func TestLoadOrCreateKeyFileRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	good := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if err := os.WriteFile(loose, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secretbox.LoadOrCreateKeyFile(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("loose permissions: err = %v", err)
	}
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte(base64.StdEncoding.EncodeToString(make([]byte, 8))), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secretbox.LoadOrCreateKeyFile(short); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("wrong size: err = %v", err)
	}
}
