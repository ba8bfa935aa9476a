package pathhook

import "time"

// UISession is a browser signed in to the admin UI (package ui), as a
// store keeps it.
type UISession struct {
	// IDHash is the SHA-256 of the session's cookie, in hex: the cookie
	// itself is kept nowhere.
	IDHash string
	// OrgID, KeyID and KeyHint are of the API key that signed in.
	OrgID, KeyID, KeyHint string
	// CSRF is the token that the session's forms carry.
	CSRF      string
	ExpiresAt time.Time
	// Flash is the message for the session's next page, JSON, or nil. It
	// may hold a secret just generated: stores seal it at rest.
	Flash []byte
}
