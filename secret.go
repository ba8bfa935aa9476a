package pathhook

// Sealer keeps webhook secrets encrypted at rest. The store seals a secret
// before writing it and opens it after reading it, so that a copy of the
// database alone does not let anyone sign deliveries.
type Sealer interface {
	// Seal returns plain encrypted and authenticated. Sealing the same
	// plaintext twice gives different results.
	Seal(plain []byte) ([]byte, error)
	// Open returns the plaintext of sealed, or an error if sealed was not
	// made by Seal under the same key or has been altered.
	Open(sealed []byte) ([]byte, error)
}
