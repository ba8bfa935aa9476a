package netguard

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ", nil},
		{"127.0.0.0/8", []string{"127.0.0.0/8"}},
		{"127.0.0.0/8,::1/128", []string{"127.0.0.0/8", "::1/128"}},
		{" 10.0.0.0/8 , fd00::/8 ,", []string{"10.0.0.0/8", "fd00::/8"}},
		{"127.0.0.1", []string{"127.0.0.1/32"}},
		{"::1", []string{"::1/128"}},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAllowList(tt.in)
			if err != nil {
				t.Fatalf("ParseAllowList(%q): %v", tt.in, err)
			}
			var want []netip.Prefix
			for _, w := range tt.want {
				want = append(want, netip.MustParsePrefix(w))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ParseAllowList(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestParseAllowListErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, bad string }{
		{"10.0.0.0/33", "10.0.0.0/33"},
		{"nonsense", "nonsense"},
		{"127.0.0.0/8,bad", "bad"},
		{"127.0.0.0/8, 10.0.0.0/x ,::1", "10.0.0.0/x"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"fe80::%eth0/64", "fe80::%eth0/64"},
		{"127.1", "127.1"},
		{"10.0.0.0/8/8", "10.0.0.0/8/8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAllowList(tt.in)
			if err == nil {
				t.Fatalf("ParseAllowList(%q) = %v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
				t.Fatalf("ParseAllowList(%q) error %q does not name %q", tt.in, err, tt.bad)
			}
		})
	}
}
