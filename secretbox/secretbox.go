// Package secretbox seals webhook secrets at rest with AES-256-GCM under a
// master key, and loads or creates that key.
//
// A sealed value is one version byte, a random 12-byte nonce, then the
// ciphertext with its tag. The version byte names the format and key
// generation, so that keys can be rotated later without guessing which key
// sealed a value.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a master key in bytes.
const KeySize = 32

// version1 marks a value sealed with AES-256-GCM under the one master key.
const version1 byte = 1

// ErrOpen is returned by Open for a value that was not sealed under this
// key, or that has been altered or cut short.
var ErrOpen = errors.New("secretbox: cannot open sealed value: wrong key or corrupted data")

// Box seals and opens values under one master key. It implements
// pathhook.Sealer and is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box that seals under key, which must be KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal returns plain encrypted and authenticated, under a fresh random
// nonce, so that equal secrets give unequal sealed values.
func (b *Box) Seal(plain []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+b.aead.Overhead())
	out[0] = version1
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	// The version byte is authenticated too, so it cannot be swapped.
	return b.aead.Seal(out, out[1:1+ns], plain, out[:1]), nil
}

// Open returns the plaintext of a value made by Seal under the same key,
// or ErrOpen.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(sealed) < 1+ns+b.aead.Overhead() || sealed[0] != version1 {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealed[:1])
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
