package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAllowList parses the value of --allow-networks: comma-separated
// networks in CIDR form (10.0.0.0/8, fd00::/8) or single addresses, which
// stand for /32 or /128. Spaces around entries and empty entries are
// ignored, so "" gives an empty list. The error names the first bad entry.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var list []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("allow-networks: %q is not a network such as 10.0.0.0/8 or an IP address such as 127.0.0.1: %w", entry, err)
		}
		list = append(list, p)
	}
	return list, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	if !strings.Contains(entry, "/") {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zones are not allowed")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(entry)
	return p.Masked(), err
}

// normalizePrefixes masks each prefix and writes IPv4-mapped IPv6 prefixes
// (::ffff:10.0.0.0/104) as the IPv4 prefixes they mean, because addresses
// are unmapped before they are compared.
func normalizePrefixes(allow []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(allow))
	for _, p := range allow {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
