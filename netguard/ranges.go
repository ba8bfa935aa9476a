package netguard

import (
	"fmt"
	"net/netip"
)

// special lists the ranges deliveries may not reach, most specific first,
// each with how an error names it. The sources are the IANA IPv4 and IPv6
// Special-Purpose Address Registries; addresses that embed an IPv4 address
// (IPv4-mapped, NAT64, 6to4, IPv4-compatible) are judged by that address
// before this table is consulted.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), "the unspecified address"},
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address (0.0.0.0/8)`},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared carrier-grade NAT address (100.64.0.0/10)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a deprecated 6to4 relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "the broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address (240.0.0.0/4)"},

	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("::/8"), "a reserved address (::/8)"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001::/32"), "a Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "a benchmarking address"},
	{netip.MustParsePrefix("2001:10::/28"), "a deprecated ORCHID address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("5f00::/16"), "a segment routing (SRv6) address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// globalUnicast holds every IPv6 unicast address that can be public;
// nothing outside it is, except the NAT64 prefix handled with embeddings.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// metadataAddrs are the instance metadata endpoints of cloud providers.
// They hand out credentials, so they stay refused even inside an allowed
// network: an operator who allows 169.254.0.0/16 (or everything) for some
// device has not thereby chosen to let tenants read the host's credentials.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean, ...
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.170.23"),  // AWS EKS pod identity
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS pod identity, IPv6
}

// metadataNames are the host names of cloud metadata services; some are
// answered by a local resolver only, so they are refused by name as well.
var metadataNames = []string{
	"metadata",
	"metadata.google.internal",
	"metadata.goog",
	"instance-data",
	"instance-data.ec2.internal",
	"metadata.azure.internal",
}

func isMetadataAddr(a netip.Addr) bool {
	for _, m := range metadataAddrs {
		if a == m {
			return true
		}
	}
	return false
}

func isMetadataName(name string) bool {
	for _, n := range metadataNames {
		if name == n {
			return true
		}
	}
	return false
}

// reason returns why deliveries may not reach a, as an error names it
// ("a loopback address"), or "" when they may.
func (g *Guard) reason(a netip.Addr) string {
	if a.Zone() != "" {
		return "an address with a zone, which names a local interface"
	}
	if a.Is4In6() {
		// The kernel connects to the IPv4 address itself.
		v4 := a.Unmap()
		if why := g.reason(v4); why != "" {
			return fmt.Sprintf("the IPv4-mapped form of %s, %s", v4, why)
		}
		return ""
	}
	if isMetadataAddr(a) {
		return "a cloud metadata address"
	}
	if v4, kind, _, ok := embeddedIPv4(a); ok && isMetadataAddr(v4) {
		return fmt.Sprintf("the %s form of %s, a cloud metadata address", kind, v4)
	}
	if g.allowed(a) {
		return ""
	}
	if v4, kind, routed, ok := embeddedIPv4(a); ok {
		if why := g.reason(v4); why != "" {
			return fmt.Sprintf("the %s form of %s, %s", kind, v4, why)
		}
		if routed {
			return ""
		}
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.what
		}
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return "not a global unicast address"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address that a carries in one of the
// standard embeddings, the embedding's name, and whether a packet to a is
// routed on to that IPv4 address (so that a is fine when the IPv4 address
// is). Teredo and IPv4-compatible addresses are never fine, but naming
// what they embed makes a clearer error.
func embeddedIPv4(a netip.Addr) (v4 netip.Addr, kind string, routed, ok bool) {
	if !a.Is6() {
		return netip.Addr{}, "", false, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true, true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true, true
	case teredo.Contains(a):
		// The client's address is stored inverted (RFC 4380).
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), "Teredo", false, true
	case ipv4Compatible.Contains(a) && !a.IsUnspecified() && !a.IsLoopback():
		return netip.AddrFrom4([4]byte(b[12:16])), "IPv4-compatible", false, true
	}
	return netip.Addr{}, "", false, false
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
	ipv4Compatible = netip.MustParsePrefix("::/96")
)
