package pathhook

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
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
	var r [10]byte
	_, _ = rand.Read(r[:])
	return encodeID(prefix, uint64(t.UnixMilli()), r)
}

// idSource makes ids that also sort in the order they were made within one
// millisecond: an id made in the same millisecond as the one before takes
// that one's random part plus one, as ULID's monotonic mode does. One change
// makes many ids at the same instant; they list in the order it made them.
type idSource struct {
	mu   sync.Mutex
	ms   uint64
	last [10]byte
}

func (s *idSource) next(prefix string, t time.Time) string {
	ms := uint64(t.UnixMilli())
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms > s.ms {
		s.ms = ms
		_, _ = rand.Read(s.last[:])
		s.last[0] &= 0x7f // room to count up without running over
	} else {
		for i := len(s.last) - 1; i >= 0; i-- {
			if s.last[i]++; s.last[i] != 0 {
				break
			}
		}
	}
	return encodeID(prefix, s.ms, s.last)
}

// encodeID writes 48 bits of milliseconds and 80 bits of r as 26 base32
// digits, most significant first, after prefix.
func encodeID(prefix string, ms uint64, r [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	copy(b[6:], r[:])
	var sb strings.Builder
	sb.Grow(len(prefix) + 26)
	sb.WriteString(prefix)
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

// isID reports whether s has the form of an id that NewID makes with
// prefix: the prefix, then 26 base32 digits of which the first holds only
// the top 3 of 128 bits.
func isID(prefix, s string) bool {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || len(digits) != 26 || digits[0] > '7' {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if strings.IndexByte(idAlphabet, digits[i]) < 0 {
			return false
		}
	}
	return true
}
