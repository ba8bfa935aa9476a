package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// mustListen starts a listener on 127.0.0.1 that accepts and closes
// connections until the test ends.
func mustListen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestControlDial(t *testing.T) {
	t.Parallel()
	addr := mustListen(t)

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		d := net.Dialer{Control: setup(t, "").Control}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			c.Close()
			t.Fatalf("dialling %s succeeded, want it refused", addr)
		}
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("dialling %s: %v, want an error matching ErrBlocked", addr, err)
		}
		if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
			t.Fatalf("dialling %s: error %q does not name the address and why", addr, err)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		d := net.Dialer{Control: setup(t, "127.0.0.0/8").Control}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatalf("dialling %s with 127.0.0.0/8 allowed: %v", addr, err)
		}
		c.Close()
	})
	t.Run("allowed other network", func(t *testing.T) {
		t.Parallel()
		_, err := setup(t, "10.0.0.0/8").DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("dialling %s with only 10.0.0.0/8 allowed: %v, want ErrBlocked", addr, err)
		}
	})
	t.Run("DialContext", func(t *testing.T) {
		t.Parallel()
		c, err := setup(t, "127.0.0.1").DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatalf("DialContext %s with 127.0.0.1 allowed: %v", addr, err)
		}
		c.Close()
	})
}

// TestControlStopsRebinding plays a name that passed CheckHost (as
// public.test does) but points at loopback when the delivery is made: the
// HTTP client must not reach the server behind it.
func TestControlStopsRebinding(t *testing.T) {
	t.Parallel()
	var reached bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	g := setup(t, "")
	if err := g.CheckHost(context.Background(), "public.test"); err != nil {
		t.Fatalf("CheckHost(public.test) at setup: %v", err)
	}
	rebound := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return g.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	client := &http.Client{Transport: &http.Transport{DialContext: rebound, Proxy: nil}}
	resp, err := client.Post("http://public.test:"+port+"/hook", "application/json", strings.NewReader("{}"))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Fatal("the delivery reached the loopback server")
	}
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("POST after rebinding: %v, want an error matching ErrBlocked", err)
	}
	srv.Close()
	if reached {
		t.Fatal("the loopback server was reached")
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	g := setup(t, "")
	tests := []struct {
		address string
		blocked bool
	}{
		{"8.8.8.8:443", false},
		{"[2606:4700::1111]:443", false},
		{"[::ffff:8.8.8.8]:443", false},
		{"10.0.0.5:443", true},
		{"127.0.0.1:80", true},
		{"169.254.169.254:80", true},
		{"100.64.0.1:443", true},
		{"0.0.0.0:80", true},
		{"[::1]:80", true},
		{"[::ffff:10.0.0.5]:443", true},
		{"[::ffff:127.0.0.1]:443", true},
		{"[64:ff9b::a00:1]:443", true},
		{"[2002:7f00:1::]:443", true},
		{"[fe80::1%eth0]:443", true},
		{"[fd00::1]:443", true},
		{"[ff02::1]:443", true},
		{"example.com:443", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()
			err := g.Control("tcp", tt.address, nil)
			if tt.blocked != (err != nil) {
				t.Fatalf("Control(%q) = %v, want blocked %v", tt.address, err, tt.blocked)
			}
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Fatalf("Control(%q) = %v, want an error matching ErrBlocked", tt.address, err)
			}
		})
	}
}
