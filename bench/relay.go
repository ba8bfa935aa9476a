package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// relay is the bare relay: a plain net/http server that signs each request
// body and forwards it synchronously to the receiver with a shared
// keep-alive client, and answers once the receiver has. No database, no
// queue, no logic: the two HTTP hops every webhook sender pays for.
type relay struct {
	secret []byte
	to     string
	client *http.Client
	seq    atomic.Int64
	srv    *http.Server
	url    string
}

func newRelay(secret []byte, to string, concurrency int) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{secret: secret, to: to, client: newClient(concurrency), url: "http://" + ln.Addr().String()}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *relay) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r.srv.Shutdown(ctx) != nil {
		r.srv.Close()
	}
	r.client.CloseIdleConnections()
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, r.to, bytes.NewReader(body))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set(signatureHeader, signature.Sign(r.secret, body))
	out.Header.Set(idHeader, "evt_relay_"+strconv.FormatInt(r.seq.Add(1), 10))
	resp, err := r.client.Do(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"relayed":true}`))
}

// Ceiling is what the load generator achieved against a stand-in for
// pathhook: the bare relay, or the receiver itself.
type Ceiling struct {
	Requests  int     `json:"requests"`
	Delivered int     `json:"delivered"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Latency is from the start of each request to the receiver holding it.
	Latency Latency `json:"latency"`
	// CPUSeconds is the CPU time the bench process (load generator,
	// receiver and, for the relay, the relay) used; CPUMicrosPerRequest is
	// that per request: a cost that other load on the machine skews less
	// than the rate.
	CPUSeconds          float64 `json:"cpu_seconds"`
	CPUMicrosPerRequest float64 `json:"cpu_us_per_request"`
}

// ceiling drives l, whose requests go to a stand-in for pathhook, and
// measures it with t counting what the receiver gets.
func ceiling(ctx context.Context, rc *receiver, l *load, t *tally) Ceiling {
	rc.begin(t, 0)
	cpu := selfCPU()
	l.run(ctx)
	cpu = selfCPU() - cpu
	first, last := l.window()
	c := t.count(l.accepted)
	sent, arrived := t.arrivals(l.sent, l.accepted)
	all, _ := latencies(sent, arrived)
	return Ceiling{Requests: l.n, Delivered: c.Delivered, Errors: int(l.failed.Load()),
		Seconds: (last - first).Seconds(), PerSecond: rate(int(l.ok.Load()), last-first), Latency: all,
		CPUSeconds: round3(cpu.Seconds()), CPUMicrosPerRequest: perEvent(cpu, c.Delivered)}
}
