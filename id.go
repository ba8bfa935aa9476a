package pathhook

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// ID prefixes, one per type of resource.
const (
	PrefixPathway  = "pw_"
	PrefixActivity = "act_"
	PrefixReward   = "rwd_"
	PrefixWebhook  = "wh_"
	PrefixEvent    = "evt_"
	PrefixDelivery = "dlv_"
	PrefixOrg      = "org_"
	PrefixAPIKey   = "key_"
)

const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford base32, lower case

// NewID returns a new opaque id with the given prefix. Ids sort by creation
// time to the millisecond (48 bits), then by 80 random bits, so that "newest
// first" is "greatest id first" and a cursor is just an id.
func NewID(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	var sb strings.Builder
	sb.Grow(len(prefix) + 26)
	sb.WriteString(prefix)
	// 128 bits as 26 base32 digits, most significant first.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var d uint64
		switch {
		case shift >= 64:
			d = hi >> (shift - 64)
		case shift > 59:
			d = lo>>shift | hi<<(64-shift)
		default:
			d = lo >> shift
		}
		sb.WriteByte(idAlphabet[d&31])
	}
	return sb.String()
}
