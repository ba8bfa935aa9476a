package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pathhook/pathhook"
)

// fakeDNS answers fixed addresses for fake names, so that no test needs a
// resolver. A name it does not know does not exist.
type fakeDNS struct {
	names map[string][]string
	// err, if set, is returned for every lookup instead.
	err error
}

func (f fakeDNS) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if f.err != nil {
		return nil, f.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addrs, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// testNames is the fake DNS most tests use.
var testNames = map[string][]string{
	"public.test":     {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"private.test":    {"10.0.0.5"},
	"mixed.test":      {"93.184.215.14", "10.0.0.5"},
	"mixed6.test":     {"93.184.215.14", "fd00::1"},
	"loop.test":       {"127.0.0.1"},
	"mapped.test":     {"::ffff:127.0.0.1"},
	"metadata.test":   {"169.254.169.254"},
	"nat64.test":      {"64:ff9b::a9fe:a9fe"},
	"cgnat.test":      {"100.64.0.1"},
	"linklocal6.test": {"fe80::1"},
	"empty.test":      {},
}

// setup returns a Guard that allows the networks in allow (as
// --allow-networks gives them) and resolves with testNames.
func setup(t *testing.T, allow string) *Guard {
	t.Helper()
	prefixes, err := ParseAllowList(allow)
	if err != nil {
		t.Fatal(err)
	}
	return New(prefixes, fakeDNS{names: testNames}.lookup)
}

// mustRefuse checks that err is pathhook.Invalid("url", ...) and that its
// message holds want.
func mustRefuse(t *testing.T, host string, err error, want string) {
	t.Helper()
	var e *pathhook.Error
	if !errors.As(err, &e) || e.Code != pathhook.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != "url" {
		t.Fatalf("CheckHost(%q) = %v, want an EINVALID error for field url", host, err)
	}
	if !strings.Contains(e.Fields[0].Message, want) {
		t.Fatalf("CheckHost(%q) = %q, want it to say %q", host, e.Fields[0].Message, want)
	}
}

func TestCheckHostRefusesSpellings(t *testing.T) {
	t.Parallel()
	g := setup(t, "")
	tests := []struct{ host, want string }{
		{"127.0.0.1", "host 127.0.0.1 is a loopback address"},
		{"2130706433", "host 2130706433 means 127.0.0.1, a loopback address"},
		{"0177.0.0.1", "means 127.0.0.1, a loopback address"},
		{"0x7f.0.0.1", "means 127.0.0.1, a loopback address"},
		{"0x7f000001", "means 127.0.0.1, a loopback address"},
		{"0X7F.1", "means 127.0.0.1, a loopback address"},
		{"017700000001", "means 127.0.0.1, a loopback address"},
		{"127.1", "means 127.0.0.1, a loopback address"},
		{"127.0.1", "means 127.0.0.1, a loopback address"},
		{"10.1", "means 10.0.0.1, a private address"},
		{"127.0.0.1.", "means 127.0.0.1, a loopback address"},
		{"0", "means 0.0.0.0, the unspecified address"},
		{"169.254.43518", "means 169.254.169.254, a cloud metadata address"},
		{"0xa9fea9fe", "means 169.254.169.254, a cloud metadata address"},
		{"134744072", "is an unusual spelling of 8.8.8.8; write 8.8.8.8"},
		{"0x08.0x08.0x08.0x08", "is an unusual spelling of 8.8.8.8"},
		{"256.0.0.1", "is not a valid IPv4 address"},
		{"1.2.3.4.5", "is not a valid IPv4 address"},
		{"example.123", "is not a valid IPv4 address"},
		{"::1", "host ::1 is a loopback address"},
		{"[::1]", "host ::1 is a loopback address"},
		{"0:0:0:0:0:0:0:1", "is a loopback address"},
		{"::ffff:127.0.0.1", "is the IPv4-mapped form of 127.0.0.1, a loopback address"},
		{"::ffff:7f00:1", "is the IPv4-mapped form of 127.0.0.1, a loopback address"},
		{"::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, a cloud metadata address"},
		{"::127.0.0.1", "is the IPv4-compatible form of 127.0.0.1, a loopback address"},
		{"::a00:1", "is the IPv4-compatible form of 10.0.0.1, a private address"},
		{"::8.8.8.8", "is a reserved address (::/8)"},
		{"64:ff9b::a00:1", "is the NAT64 form of 10.0.0.1, a private address"},
		{"64:ff9b::127.0.0.1", "is the NAT64 form of 127.0.0.1, a loopback address"},
		{"64:ff9b:1::a00:1", "is a local-use NAT64 address"},
		{"2002:7f00:1::", "is the 6to4 form of 127.0.0.1, a loopback address"},
		{"2002:a9fe:a9fe::1", "is the 6to4 form of 169.254.169.254, a cloud metadata address"},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "is the Teredo form of 127.0.0.1, a loopback address"},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", "is a Teredo address"},
		{"fe80::1%eth0", "is an IPv6 address with a zone"},
		{"fe80::1%25eth0", "is an IPv6 address with a zone"},
		{"::1%lo", "is an IPv6 address with a zone"},
		{"2606:4700::1111%1", "is an IPv6 address with a zone"},
		{"1:2:3", "is not a valid IPv6 address"},
		{"127.0.0.1%eth0", "is not a valid host name"},
		{"example%2ecom", "is not a valid host name"},
		{"１２７.0.0.1", "is not a valid IPv4 address"},
		{"bücher.example", "must be ASCII"},
		{"exa mple.com", "is not a valid host name"},
		{"a..b", "is not a valid host name"},
		{"", "must name a host"},
		{"[]", "must name a host"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, tt.host, g.CheckHost(context.Background(), tt.host), tt.want)
		})
	}
}

func TestCheckHostRefusesRanges(t *testing.T) {
	t.Parallel()
	g := setup(t, "")
	tests := []struct{ host, want string }{
		{"10.0.0.5", "a private address"},
		{"10.255.255.255", "a private address"},
		{"172.16.0.1", "a private address"},
		{"172.31.255.255", "a private address"},
		{"192.168.1.1", "a private address"},
		{"127.255.255.254", "a loopback address"},
		{"169.254.1.1", "a link-local address"},
		{"169.254.169.254", "a cloud metadata address"},
		{"169.254.170.2", "a cloud metadata address"},
		{"100.100.100.200", "a cloud metadata address"},
		{"100.64.0.1", "a shared carrier-grade NAT address"},
		{"100.127.255.255", "a shared carrier-grade NAT address"},
		{"0.0.0.0", "the unspecified address"},
		{"0.1.2.3", `a "this network" address`},
		{"192.0.0.8", "an IETF protocol assignment address"},
		{"192.0.2.1", "a documentation address"},
		{"198.51.100.7", "a documentation address"},
		{"203.0.113.9", "a documentation address"},
		{"192.88.99.1", "a deprecated 6to4 relay address"},
		{"198.18.0.1", "a benchmarking address"},
		{"198.19.255.255", "a benchmarking address"},
		{"224.0.0.1", "a multicast address"},
		{"239.255.255.250", "a multicast address"},
		{"240.0.0.1", "a reserved address"},
		{"255.255.255.254", "a reserved address"},
		{"255.255.255.255", "the broadcast address"},
		{"::", "the unspecified address"},
		{"fe80::1", "a link-local address"},
		{"febf::1", "a link-local address"},
		{"fc00::1", "a unique local address"},
		{"fd12:3456::1", "a unique local address"},
		{"fd00:ec2::254", "a cloud metadata address"},
		{"fec0::1", "a site-local address"},
		{"ff02::1", "a multicast address"},
		{"ff0e::1", "a multicast address"},
		{"100::1", "a discard-only address"},
		{"2001:db8::1", "a documentation address"},
		{"3fff::1", "a documentation address"},
		{"2001:2::1", "a benchmarking address"},
		{"5f00::1", "a segment routing (SRv6) address"},
		{"4000::1", "not a global unicast address"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, tt.host, g.CheckHost(context.Background(), tt.host), "host "+tt.host+" is "+tt.want)
		})
	}
}

func TestCheckHostRefusesNames(t *testing.T) {
	t.Parallel()
	g := setup(t, "")
	tests := []struct{ host, want string }{
		{"private.test", "host private.test resolves to 10.0.0.5, a private address"},
		{"mixed.test", "host mixed.test resolves to 10.0.0.5, a private address"},
		{"mixed6.test", "resolves to fd00::1, a unique local address"},
		{"loop.test", "resolves to 127.0.0.1, a loopback address"},
		{"mapped.test", "resolves to 127.0.0.1, a loopback address"},
		{"metadata.test", "resolves to 169.254.169.254, a cloud metadata address"},
		{"nat64.test", "resolves to 64:ff9b::a9fe:a9fe, the NAT64 form of 169.254.169.254, a cloud metadata address"},
		{"cgnat.test", "resolves to 100.64.0.1, a shared carrier-grade NAT address"},
		{"linklocal6.test", "resolves to fe80::1, a link-local address"},
		{"PRIVATE.Test.", "host private.test resolves to 10.0.0.5"},
		{"localhost", "host localhost resolves to 127.0.0.1, a loopback address"},
		{"api.localhost", "resolves to 127.0.0.1, a loopback address"},
		{"metadata.google.internal", "host metadata.google.internal is a cloud metadata service"},
		{"Metadata.Google.Internal.", "host metadata.google.internal is a cloud metadata service"},
		{"metadata", "is a cloud metadata service"},
		{"metadata.goog", "is a cloud metadata service"},
		{"instance-data", "is a cloud metadata service"},
		{"instance-data.ec2.internal", "is a cloud metadata service"},
		{"nowhere.test", "host nowhere.test does not resolve"},
		{"empty.test", "host empty.test does not resolve"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			mustRefuse(t, tt.host, g.CheckHost(context.Background(), tt.host), tt.want)
		})
	}
}

func TestCheckHostAccepts(t *testing.T) {
	t.Parallel()
	g := setup(t, "")
	for _, host := range []string{
		"public.test",
		"Public.Test.",
		"8.8.8.8",
		"93.184.215.14",
		"2606:4700::1111",
		"[2606:4700::1111]",
		"::ffff:8.8.8.8",
		"64:ff9b::808:808",
		"2002:808:808::1",
		"100.63.255.255",
		"100.128.0.0",
		"172.15.255.255",
		"172.32.0.0",
		"198.17.255.255",
		"198.20.0.0",
		"223.255.255.255",
	} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			if err := g.CheckHost(context.Background(), host); err != nil {
				t.Fatalf("CheckHost(%q) = %v, want nil", host, err)
			}
		})
	}
}

func TestCheckHostAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		allow, host string
		want        string // "" when the host is accepted
	}{
		{"127.0.0.0/8", "127.0.0.1", ""},
		{"127.0.0.0/8", "127.9.9.9", ""},
		{"127.0.0.0/8", "loop.test", ""},
		{"127.0.0.0/8", "mapped.test", ""},
		{"127.0.0.0/8", "::ffff:127.0.0.1", ""},
		{"127.0.0.0/8", "10.0.0.5", "a private address"},
		{"127.0.0.0/8", "private.test", "a private address"},
		{"127.0.0.0/8", "::1", "a loopback address"},
		{"127.0.0.0/8", "localhost", "resolves to ::1, a loopback address"},
		{"127.0.0.0/8", "127.1", "is an unusual spelling of 127.0.0.1"},
		{"127.0.0.0/8,::1/128", "localhost", ""},
		{"127.0.0.1", "127.0.0.1", ""},
		{"127.0.0.1", "127.0.0.2", "a loopback address"},
		{"10.0.0.0/8", "64:ff9b::a00:1", ""},
		{"10.0.0.0/8", "2002:a00:1::", ""},
		{"::ffff:10.0.0.0/104", "10.1.2.3", ""},
		{"fd00::/8", "mixed6.test", ""},
		{"fd00::/8", "fc00::1", "a unique local address"},
		{"0.0.0.0/0,::/0", "10.0.0.5", ""},
		{"0.0.0.0/0,::/0", "fe80::1", ""},
		{"0.0.0.0/0,::/0", "169.254.169.254", "a cloud metadata address"},
		{"0.0.0.0/0,::/0", "metadata.test", "a cloud metadata address"},
		{"0.0.0.0/0,::/0", "64:ff9b::a9fe:a9fe", "a cloud metadata address"},
		{"0.0.0.0/0,::/0", "fd00:ec2::254", "a cloud metadata address"},
		{"0.0.0.0/0,::/0", "metadata.google.internal", "a cloud metadata service"},
		{"169.254.0.0/16", "169.254.1.1", ""},
		{"169.254.0.0/16", "169.254.169.254", "a cloud metadata address"},
	}
	for _, tt := range tests {
		t.Run(tt.allow+" "+tt.host, func(t *testing.T) {
			t.Parallel()
			err := setup(t, tt.allow).CheckHost(context.Background(), tt.host)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("with %s allowed, CheckHost(%q) = %v, want nil", tt.allow, tt.host, err)
				}
				return
			}
			mustRefuse(t, tt.host, err, tt.want)
		})
	}
}

func TestCheckHostResolverFailures(t *testing.T) {
	t.Parallel()
	t.Run("temporary", func(t *testing.T) {
		t.Parallel()
		g := New(nil, fakeDNS{err: &net.DNSError{Err: "server misbehaving", Name: "x.test", IsTemporary: true}}.lookup)
		err := g.CheckHost(context.Background(), "x.test")
		if pathhook.ErrorCode(err) != pathhook.EUNAVAILABLE {
			t.Fatalf("CheckHost with a failing resolver = %v, want EUNAVAILABLE", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		g := New(nil, fakeDNS{err: &net.DNSError{Err: "i/o timeout", Name: "x.test", IsTimeout: true}}.lookup)
		err := g.CheckHost(context.Background(), "x.test")
		if pathhook.ErrorCode(err) != pathhook.EUNAVAILABLE {
			t.Fatalf("CheckHost with a resolver timing out = %v, want EUNAVAILABLE", err)
		}
	})
	t.Run("other", func(t *testing.T) {
		t.Parallel()
		g := New(nil, fakeDNS{err: errors.New("boom")}.lookup)
		mustRefuse(t, "x.test", g.CheckHost(context.Background(), "x.test"), "host x.test does not resolve")
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := setup(t, "").CheckHost(ctx, "public.test")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("CheckHost with a cancelled context = %v, want context.Canceled", err)
		}
	})
}
