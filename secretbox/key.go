package secretbox

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ParseKey decodes a master key given as standard base64 (as in
// PATHHOOK_SECRET_KEY) and checks that it is KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: the secret key must be base64 of %d random bytes (make one with: openssl rand -base64 32): %w", KeySize, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: the secret key must be base64 of %d bytes, but it decodes to %d bytes (make one with: openssl rand -base64 32)", KeySize, len(key))
	}
	return key, nil
}

// LoadOrCreateKeyFile reads the master key kept, as base64, in the file at
// path. If there is no such file it creates one with a new random key and
// mode 0600, and reports created. It refuses a file that others than its
// owner may read or write, and one that does not hold a valid key.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = loadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secretbox: %w", err)
	}
	// O_EXCL: when two processes start at once, one creates the file and
	// the other reads what it wrote.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err = loadKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: create key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("secretbox: write key file: %w", err)
	}
	return key, true, nil
}

func loadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secretbox: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secretbox: key file %s has mode %04o; it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: read key file: %w", err)
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}
