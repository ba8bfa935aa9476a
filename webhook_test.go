package pathhook

import (
	"strings"
	"testing"
	"time"
)

func TestParseWebhookURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url       string
		allowHTTP bool
		wantErr   string // a part of the message; "" for valid
	}{
		{"https://example.com/hooks", false, ""},
		{"https://example.com:8443/hooks?x=1", false, ""},
		{"http://example.com/hooks", true, ""},
		{"http://example.com/hooks", false, "--allow-http"},
		{"ftp://example.com/hooks", true, "must use http or https, not ftp"},
		{"ftp://example.com/hooks", false, "must use https, not ftp"},
		{"https://example.com:99999/hooks", false, "port"},
		{"https://example.com:0/hooks", false, "port"},
		{"https://example.com:/hooks", false, "port"},
		{"https://[::1]:/hooks", false, "port"},
		{"https://[::1]:443/hooks", false, ""},
		{"https://example.com/\u202egpj.exe", false, "U+202E"},
		{"https://user:pass@example.com/", false, "credentials"},
		{"https://user@example.com/", false, "credentials"},
		{"/relative/path", false, "absolute"},
		{"example.com/hooks", false, "absolute"},
		{"https:///nohost", false, "host"},
		{"https://example.com/#frag", false, "fragment"},
		{"", false, "required"},
		{"https://exa mple.com/", false, "not a valid URL"},
		{"https://example.com/" + strings.Repeat("a", 2048), false, "2048"},
	}
	for _, tt := range tests {
		_, err := ParseWebhookURL(tt.url, tt.allowHTTP)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseWebhookURL(%q) = %v, want valid", tt.url, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ParseWebhookURL(%q) is valid, want an error about %q", tt.url, tt.wantErr)
		case err != nil && (!strings.Contains(err.Message, tt.wantErr) || err.Fields[0].Field != "url"):
			t.Errorf("ParseWebhookURL(%q) = %q on %q, want field url and %q", tt.url, err.Message, err.Fields[0].Field, tt.wantErr)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secret string
		ok     bool
	}{
		{"ff820d62b80b7c2789286f691b5e89bd", true},
		{strings.Repeat("a", 24), true},
		{strings.Repeat("~", 512), true},
		{strings.Repeat("a", 23), false},
		{strings.Repeat("a", 513), false},
		{"this secret has spaces in it!", false},
		{"tab\tseparated-secret-value-xx", false},
		{"ünïcödé-secret-value-that-is-long", false},
		{"", false},
	}
	for _, tt := range tests {
		err := CheckSecret("secret", tt.secret)
		if (err == nil) != tt.ok {
			t.Errorf("CheckSecret(%q) = %v, want ok=%v", tt.secret, err, tt.ok)
		}
		if err != nil && err.Fields[0].Field != "secret" {
			t.Errorf("CheckSecret(%q) names field %q, want secret", tt.secret, err.Fields[0].Field)
		}
	}
}

func TestRotateKeepsPreviousSecretForGrace(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	w := &Webhook{}
	w.rotate([]byte("first-secret-0123456789abcdef"), now, DefaultGracePeriod)
	if got := w.Secrets(now); len(got) != 1 || string(got[0]) != "first-secret-0123456789abcdef" {
		t.Fatalf("first secret: Secrets = %q, want only the first", got)
	}
	w.rotate([]byte("second-secret-0123456789abcdef"), now, time.Hour)
	got := w.Secrets(now.Add(59 * time.Minute))
	if len(got) != 2 || string(got[0]) != "second-secret-0123456789abcdef" || string(got[1]) != "first-secret-0123456789abcdef" {
		t.Fatalf("during grace: Secrets = %q, want the new one then the old one", got)
	}
	// The current secret given again, as a tool that sends the whole
	// setup each time does, leaves the rotation as it was.
	expires := *w.PreviousSecretExpiresAt
	w.rotate([]byte("second-secret-0123456789abcdef"), now.Add(30*time.Minute), time.Hour)
	if got := w.Secrets(now.Add(59 * time.Minute)); len(got) != 2 || string(got[1]) != "first-secret-0123456789abcdef" || !w.PreviousSecretExpiresAt.Equal(expires) {
		t.Fatalf("the same secret again: Secrets = %q, previous expires %v, want the rotation as it was", got, w.PreviousSecretExpiresAt)
	}
	if got := w.Secrets(now.Add(time.Hour)); len(got) != 1 {
		t.Fatalf("after grace: Secrets = %q, want only the new one", got)
	}
	w.rotate([]byte("third-secret-0123456789abcdefg"), now, 0)
	if got := w.Secrets(now); len(got) != 1 || w.PreviousSecret != nil {
		t.Fatalf("zero grace: Secrets = %q, want only the newest", got)
	}
}

func TestStandardSecret(t *testing.T) {
	t.Parallel()
	if got, want := StandardSecret([]byte("hello")), "whsec_aGVsbG8="; got != want {
		t.Fatalf("StandardSecret = %q, want %q", got, want)
	}
}
