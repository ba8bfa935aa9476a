package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrBlocked is matched (with errors.Is) by the errors of Control and
// DialContext when they refuse an address.
var ErrBlocked = errors.New("destination address is not allowed")

// Control refuses connections to addresses that deliveries may not reach,
// by the same rules as CheckHost. It has the signature of net.Dialer's
// Control field and sees the address actually dialled, after resolution,
// so a name that resolves differently at delivery time than at setup (DNS
// rebinding) is still refused. Its error wraps ErrBlocked and names the
// address. It does not cover connections made through a proxy; the
// delivery transport must not use one.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: refusing to connect to %q: not an IP address and port: %w", address, ErrBlocked)
	}
	if why := g.reason(ap.Addr()); why != "" {
		return fmt.Errorf("netguard: refusing to connect to %s: %s is %s: %w", address, ap.Addr().Unmap(), why, ErrBlocked)
	}
	return nil
}

// DialContext dials address as a zero net.Dialer would, with Control
// checking every address tried. It fits http.Transport's DialContext; the
// caller bounds the time with ctx.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := net.Dialer{Control: g.Control}
	return d.DialContext(ctx, network, address)
}
