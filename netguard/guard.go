// Package netguard keeps webhook deliveries away from addresses that a
// tenant must not reach through pathhook: private networks, loopback, link-
// local and cloud metadata endpoints, and every other non-public range.
//
// It checks twice. CheckHost runs when a webhook is set up and refuses a URL
// host that is, spells, or resolves to such an address. Control runs inside
// net.Dialer for every connection the delivery engine makes and refuses the
// address actually being dialled, so a name that resolved to a public address
// at setup and to 10.0.0.5 later (DNS rebinding) is still stopped.
//
// Operators can exempt networks, for example 127.0.0.0/8 in development, with
// an allow list; cloud metadata endpoints stay refused even then.
package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// LookupFunc resolves host to its addresses; network is "ip". The method
// value net.DefaultResolver.LookupNetIP (or that of any *net.Resolver) is
// one; tests pass a fake that answers fixed addresses for fake names.
type LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// Guard decides which hosts and addresses deliveries may reach. It is safe
// for concurrent use.
type Guard struct {
	allow  []netip.Prefix
	lookup LookupFunc
}

// lookupTimeout bounds the resolution in CheckHost so that a slow resolver
// cannot hold an API request for long.
const lookupTimeout = 5 * time.Second

// New returns a Guard that refuses every non-public address except those in
// allow (see ParseAllowList), resolving names with lookup, or with
// net.DefaultResolver when lookup is nil.
func New(allow []netip.Prefix, lookup LookupFunc) *Guard {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	return &Guard{allow: normalizePrefixes(allow), lookup: lookup}
}

// CheckHost returns nil when host, the host of a webhook URL as
// url.URL.Hostname gives it, is a public address or a name whose every
// address is public (or inside the allow list). Otherwise it returns a
// *pathhook.Error from pathhook.Invalid("url", ...) that names the problem.
// IPv4 addresses in the spellings that inet_aton accepts (2130706433,
// 0177.0.0.1, 0x7f.1, 127.1) are read as it would read them and refused,
// as are IPv6 literals with a zone and the names of cloud metadata services.
// A resolver that fails for a reason other than the name not existing gives
// an EUNAVAILABLE error; a cancelled ctx gives ctx's error.
func (g *Guard) CheckHost(ctx context.Context, host string) error {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return invalid("must name a host")
	}
	if strings.Contains(host, ":") {
		return g.checkIPv6Literal(host)
	}
	if endsInNumber(host) {
		return g.checkIPv4Literal(host)
	}
	name, err := normalizeName(host)
	if err != nil {
		return err
	}
	if isMetadataName(name) {
		return invalid("host %s is a cloud metadata service", name)
	}
	addrs, err := g.resolve(ctx, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if why := g.reason(a); why != "" {
			return invalid("host %s resolves to %s, %s", name, a, why)
		}
	}
	return nil
}

func (g *Guard) checkIPv6Literal(host string) error {
	a, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return invalid("host %q is not a valid IPv6 address", host)
	case a.Zone() != "":
		return invalid("host %s is an IPv6 address with a zone, which names a local interface", host)
	}
	if why := g.reason(a); why != "" {
		return invalid("host %s is %s", host, why)
	}
	return nil
}

func (g *Guard) checkIPv4Literal(host string) error {
	a, ok := parseIPv4(host)
	if !ok {
		return invalid("host %q is not a valid IPv4 address", host)
	}
	canonical := a.String() == host
	if why := g.reason(a); why != "" {
		if canonical {
			return invalid("host %s is %s", host, why)
		}
		return invalid("host %s means %s, %s", host, a, why)
	}
	if !canonical {
		// Resolvers disagree on such spellings (glibc reads them as
		// addresses, Go's own resolver sends them to DNS), so what is
		// checked here might not be what a delivery dials.
		return invalid("host %s is an unusual spelling of %s; write %s", host, a, a)
	}
	return nil
}

// resolve returns name's addresses, unmapped from IPv4-mapped IPv6 so
// that messages show them as people write them.
func (g *Guard) resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// RFC 6761: always loopback, whatever a resolver says.
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := g.lookup(lctx, "ip", name)
	if err != nil {
		var dnsErr *net.DNSError
		isDNS := errors.As(err, &dnsErr)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case isDNS && dnsErr.IsNotFound:
			return nil, invalid("host %s does not resolve", name)
		case lctx.Err() != nil, isDNS && (dnsErr.IsTimeout || dnsErr.IsTemporary):
			return nil, pathhook.Errorf(pathhook.EUNAVAILABLE, "could not resolve host %s right now; try again", name)
		}
		return nil, invalid("host %s does not resolve", name)
	}
	if len(addrs) == 0 {
		return nil, invalid("host %s does not resolve", name)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

func invalid(format string, args ...any) *pathhook.Error {
	return pathhook.Invalid("url", format, args...)
}

// normalizeName returns host lower-cased without one trailing dot, or an
// error when it is not a plausible DNS name. Anything else (non-ASCII, for
// one) could be read differently by different resolvers.
func normalizeName(host string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return "", invalid("host %q must be ASCII; write an international name in its xn-- form", host)
		}
	}
	if len(name) == 0 || len(name) > 253 {
		return "", invalid("host %q is not a valid host name", host)
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return "", invalid("host %q is not a valid host name", host)
		}
	}
	return name, nil
}
