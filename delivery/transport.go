package delivery

import (
	"net"
	"net/http"
	"syscall"
	"time"
)

// NewTransport returns the transport that the engine shares between all
// attempts, so that connections to a receiver are kept and reused. control,
// if not nil, vets every address that a delivery dials (the SSRF guard);
// it runs after name resolution, so a name that resolves to a private
// address is caught too. idlePerHost is how many idle connections to keep
// per receiver host: as many as attempts to it may run at once.
//
// The transport ignores proxy environment variables, since a proxy would
// hide the receiver's address from control, and asks for no compression, so
// that requests carry exactly the headers of the contract.
func NewTransport(control func(network, address string, c syscall.RawConn) error, timeout time.Duration, idlePerHost int) *http.Transport {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: control}
	return &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           max(idlePerHost*8, 100),
		MaxIdleConnsPerHost:    idlePerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}
