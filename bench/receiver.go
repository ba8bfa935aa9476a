package bench

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// learnerPrefix starts every learner id the bench enrols; the receiver
// finds the event's index after it in the delivered body.
const learnerPrefix = "bench-learner-"

// idHeader and signatureHeader are the delivery headers the receiver reads
// (platform Falkor, the default).
const (
	idHeader        = "Falkor-Webhook-Id"
	signatureHeader = "Falkor-Webhook-Signature"
)

// receiver is the webhook receiver of a run: a plain net/http server on
// 127.0.0.1 that verifies each delivery's signature, counts it in the
// current phase's tally and answers 200 after an optional delay, or 500 to
// a share of requests.
type receiver struct {
	secret  []byte
	latency time.Duration
	epoch   time.Time

	phase atomic.Pointer[tally]
	fail  atomic.Uint64 // math.Float64bits of the share answered 500
	held  atomic.Pointer[chan struct{}]
	bufs  sync.Pool

	srv *http.Server
	url string
}

// newReceiver starts a receiver on 127.0.0.1; close stops it.
func newReceiver(secret []byte, latency time.Duration, epoch time.Time) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{secret: secret, latency: latency, epoch: epoch, url: "http://" + ln.Addr().String()}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	r.phase.Store(newTally(0))
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) close() {
	r.release()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r.srv.Shutdown(ctx) != nil {
		r.srv.Close()
	}
}

// begin starts a phase: arrivals count in t from now on, and a share fail
// of them is answered 500.
func (r *receiver) begin(t *tally, fail float64) {
	r.fail.Store(uint64(fail * (1 << 53)))
	r.phase.Store(t)
}

// hold makes the receiver keep every request waiting, unanswered, until
// release: a receiver that is down without failing each attempt at once.
func (r *receiver) hold() {
	ch := make(chan struct{})
	r.held.Store(&ch)
}

// release answers the requests being held, and the next ones at once.
func (r *receiver) release() {
	if ch := r.held.Swap(nil); ch != nil {
		close(*ch)
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	buf := r.bufs.Get().(*bytes.Buffer)
	defer r.bufs.Put(buf)
	buf.Reset()
	if _, err := io.Copy(buf, req.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if ch := r.held.Load(); ch != nil {
		select {
		case <-*ch:
		case <-req.Context().Done():
			return
		}
	}
	at := time.Since(r.epoch) // a held request arrives when the receiver is back
	t := r.phase.Load()
	t.receive()
	if r.latency > 0 && !sleepUntil(req.Context(), time.Now().Add(r.latency)) {
		t.hangUp() // the attempt timed out: the server records a failure
		return
	}
	if f := r.fail.Load(); f > 0 && rand.Uint64N(1<<53) < f {
		t.fail()
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	body := buf.Bytes()
	// Deliveries, from pathhook or the relay, come to /hook; the raw
	// ceiling's requests come to the API's paths and are not signed.
	if strings.HasPrefix(req.URL.Path, "/hook") && signature.Verify(r.secret, body, req.Header.Get(signatureHeader)) != nil {
		t.badSignature()
	}
	t.arrive(indexOf(body), req.Header.Get(idHeader), at)
	w.WriteHeader(http.StatusOK)
}

// indexOf returns the event index in the learner id that body holds, or -1.
func indexOf(body []byte) int {
	i := bytes.Index(body, []byte(learnerPrefix))
	if i < 0 {
		return -1
	}
	n, digits := 0, 0
	for _, c := range body[i+len(learnerPrefix):] {
		if c < '0' || c > '9' || digits == 9 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return -1
	}
	return n
}
