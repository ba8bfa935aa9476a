package netguard

import (
	"net/netip"
	"testing"
)

func TestParseIPv4(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" when inet_aton refuses it
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.0000.0000.0001", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0X7F.0x0.0x0.0x1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"10.1", "10.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.0x10203", "127.1.2.3"},
		{"169.254.43518", "169.254.169.254"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"127.0.0.1.", "127.0.0.1"},
		{"4294967295", "255.255.255.255"},
		{"134744072", "8.8.8.8"},

		{"", ""},
		{".", ""},
		{"256.0.0.1", ""},
		{"1.2.3.256", ""},
		{"1.2.3.4.5", ""},
		{"1..2.3", ""},
		{"08.0.0.1", ""},
		{"0x1g.0.0.1", ""},
		{"4294967296", ""},
		{"99999999999999999999999", ""},
		{"1.16777216", ""},
		{"1.2.65536", ""},
		{"-1.0.0.1", ""},
		{"+1.0.0.1", ""},
		{"1.2.3.4..", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseIPv4(tt.in)
			switch {
			case tt.want == "" && ok:
				t.Fatalf("parseIPv4(%q) = %v, want refusal", tt.in, got)
			case tt.want != "" && (!ok || got != netip.MustParseAddr(tt.want)):
				t.Fatalf("parseIPv4(%q) = %v, %v; want %s", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestEndsInNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1", true},
		{"2130706433", true},
		{"0x7f.1", true},
		{"example.0x", true},
		{"1.2.3.4.", true},
		{"example.123", true},
		{"example.com", false},
		{"123.example", false},
		{"0x7f.example", false},
		{"1.2.3.4x", false},
		{"example.0xg", false},
		{".", false},
	}
	for _, tt := range tests {
		if got := endsInNumber(tt.in); got != tt.want {
			t.Errorf("endsInNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
