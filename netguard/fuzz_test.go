package netguard

import (
	"context"
	"crypto/sha256"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
)

// hashDNS answers every name with addresses derived from its hash, so the
// fuzzer meets names that resolve to public, private and odd addresses
// without a resolver, and a name always gets the same answer.
func hashDNS(_ context.Context, _, host string) ([]netip.Addr, error) {
	sum := sha256.Sum256([]byte(host))
	switch sum[0] % 4 {
	case 0:
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	case 1:
		return []netip.Addr{netip.AddrFrom4([4]byte(sum[1:5]))}, nil
	case 2:
		return []netip.Addr{netip.AddrFrom4([4]byte(sum[1:5])), netip.AddrFrom16([16]byte(sum[5:21]))}, nil
	}
	return []netip.Addr{netip.AddrFrom4([4]byte{10, sum[1], sum[2], sum[3]})}, nil
}

// FuzzCheckHost feeds CheckHost arbitrary hosts. It must never panic, must
// answer nil or an EINVALID error for field url, and must never accept an
// address that the net/netip predicates already call non-public, however
// it is spelt or whatever the name resolves to. The seed corpus is in
// testdata/fuzz/FuzzCheckHost.
func FuzzCheckHost(f *testing.F) {
	g := New(nil, hashDNS)
	f.Fuzz(func(t *testing.T, host string) {
		err := g.CheckHost(context.Background(), host)
		if err != nil {
			e, ok := err.(*pathhook.Error)
			if !ok || e.Code != pathhook.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != "url" {
				t.Fatalf("CheckHost(%q) = %#v, want nil or an EINVALID error for url", host, err)
			}
			return
		}
		for _, a := range acceptedAddrs(t, host) {
			if nonPublic(a) {
				t.Fatalf("CheckHost(%q) accepted %s, which is not public", host, a)
			}
			if err := g.Control("tcp", netip.AddrPortFrom(a, 443).String(), nil); err != nil {
				t.Fatalf("CheckHost(%q) accepted %s but Control refuses it: %v", host, a, err)
			}
		}
	})
}

// acceptedAddrs returns the addresses an accepted host stands for: itself
// when it is an IP address in any spelling, else what hashDNS answers.
func acceptedAddrs(t *testing.T, host string) []netip.Addr {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a}
	}
	if a, ok := parseIPv4(h); ok {
		if a.String() != h {
			t.Fatalf("CheckHost(%q) accepted an unusual spelling of %s", host, a)
		}
		return []netip.Addr{a}
	}
	addrs, err := hashDNS(context.Background(), "ip", strings.ToLower(strings.TrimSuffix(h, ".")))
	if err != nil {
		t.Fatalf("CheckHost(%q) accepted a name that does not resolve", host)
	}
	return addrs
}

// nonPublic is an oracle independent of the Guard's tables: addresses the
// standard library itself classifies as not public.
func nonPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.Zone() != "" || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified()
}
