package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/signature"
)

// runListen runs `pathhook listen`: a receiver on 127.0.0.1 for trying
// webhooks locally, like `stripe listen`. It verifies each delivery, prints
// it as it arrives, answers 200 to valid ones and 401 to others, and
// optionally forwards valid ones to the receiver being developed, relaying
// its answer. It runs until ctx ends.
func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pathhook listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretFlag := fs.String("secret", "", "the webhook's secret, or its whsec_ form (this or --secret-file is required)")
	secretFile := fs.String("secret-file", "", "read the secret from this file, which keeps it out of process listings")
	port := fs.Int("port", 4000, "port to listen on at 127.0.0.1; 0 picks a free one")
	platform := fs.String("platform", "Falkor", "platform name, as in the Falkor-Webhook-Signature header")
	forward := fs.String("forward-to", "", "also POST each valid delivery, body and headers, to this URL and answer with its status")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: pathhook listen --secret S [--port P] [--platform NAME] [--forward-to URL]

Receives webhook deliveries on http://127.0.0.1:P, verifies their signature
(the <Platform>-Webhook-Signature header or the Standard Webhooks headers)
and prints each one as it arrives. Point a webhook at it (serve needs
--allow-http and --allow-networks 127.0.0.0/8 for that).`)
		fs.PrintDefaults()
	}
	if err := parseToolFlags(fs, args); err != nil {
		return err
	}
	secret, err := secretOf(*secretFlag, *secretFile)
	if err != nil {
		return err
	}
	if !platformName.MatchString(*platform) {
		return fmt.Errorf("--platform %q: must be 1 to 64 letters, digits and -", *platform)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("--port %d: must be 0 to 65535", *port)
	}
	if *forward != "" {
		if u, err := url.Parse(*forward); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--forward-to %q: must be an absolute http:// or https:// URL", *forward)
		}
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stderr, "verifying %s and Standard Webhooks signatures", signature.HeaderName(*platform))
	if *forward != "" {
		fmt.Fprintf(stderr, "; forwarding valid deliveries to %s", *forward)
	}
	fmt.Fprintln(stderr)

	l := newListener(secret, *platform, *forward, stdout, time.Now)
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	<-served
	return nil
}

// forwardTimeout bounds a forwarded request; the sender has usually given
// up long before.
const forwardTimeout = 30 * time.Second

// maxRelayed is how much of the forward target's answer is relayed, as
// much as pathhook's delivery log keeps.
const maxRelayed = 64 << 10

// listener is the handler of pathhook listen.
type listener struct {
	secret   []byte
	platform string
	forward  string
	client   *http.Client
	now      func() time.Time

	mu  sync.Mutex // keeps each printed delivery in one piece
	out io.Writer
}

func newListener(secret []byte, platform, forward string, out io.Writer, now func() time.Time) *listener {
	client := &http.Client{Timeout: forwardTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // relay a redirect as the answer, as pathhook would see it
	}}
	return &listener{secret: secret, platform: platform, forward: forward, client: client, now: now, out: out}
}

// answer is what the listener answers a delivery.
type answer struct {
	status      int
	contentType string
	body        []byte
	note        string // printed after the status, e.g. where it came from
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "pathhook listen: POST webhook deliveries here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, signature.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	v := l.verify(r.Header, body)
	var a answer
	switch {
	case !v.ok():
		a = answer{status: http.StatusUnauthorized, contentType: "text/plain; charset=utf-8", body: []byte(v.reason() + "\n")}
	case l.forward != "":
		a = l.forwardDelivery(r, body)
	default:
		a = answer{status: http.StatusOK, contentType: "text/plain; charset=utf-8", body: []byte("ok\n")}
	}
	// Print before answering, so that whoever sees the answer can already
	// read the delivery on the terminal.
	l.print(r.Header, body, v, a)
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// verdict is the outcome of checking a delivery's signatures: the schemes
// that verified and the problems of those that did not.
type verdict struct {
	verified []string
	problems []string
}

func (v verdict) ok() bool { return len(v.verified) > 0 }

func (v verdict) reason() string { return strings.Join(v.problems, "; ") }

// verify checks both signature schemes a delivery carries; one that
// verifies is enough, as for a receiver that checks only one of them.
func (l *listener) verify(h http.Header, body []byte) verdict {
	var v verdict
	main := signature.HeaderName(l.platform)
	if h.Get(main) != "" || h.Get(signature.PreviousHeaderName(l.platform)) != "" {
		if err := signature.VerifyHeader(l.platform, l.secret, h, body); err != nil {
			v.problems = append(v.problems, main+": "+err.Error())
		} else {
			v.verified = append(v.verified, main)
		}
	}
	if h.Get(signature.StandardHeaderSignature) != "" || h.Get(signature.StandardHeaderTimestamp) != "" {
		err := signature.VerifyStandard([][]byte{l.secret}, h.Get(signature.StandardHeaderID), h.Get(signature.StandardHeaderTimestamp),
			h.Get(signature.StandardHeaderSignature), body, l.now(), signature.DefaultTolerance)
		if err != nil {
			v.problems = append(v.problems, signature.StandardHeaderSignature+": "+err.Error())
		} else {
			v.verified = append(v.verified, signature.StandardHeaderSignature)
		}
	}
	if len(v.verified) == 0 && len(v.problems) == 0 {
		v.problems = append(v.problems, "no signature: no "+main+" or "+signature.StandardHeaderSignature+" header"+otherPlatformHint(h))
	}
	return v
}

// otherPlatformHint names the platform of a signature header that another
// --platform would have checked: the likeliest mistake.
func otherPlatformHint(h http.Header) string {
	for name := range h {
		if p, ok := strings.CutSuffix(name, "-Webhook-Signature"); ok {
			return fmt.Sprintf(" (found %s: try --platform %s)", name, p)
		}
	}
	return ""
}

// forwardDelivery sends the delivery on to --forward-to with its body and
// headers and returns the answer to relay.
func (l *listener) forwardDelivery(r *http.Request, body []byte) answer {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, l.forward, bytes.NewReader(body))
	if err != nil {
		return forwardFailed(err)
	}
	for name, values := range r.Header {
		if !hopByHop(name) {
			req.Header[name] = append([]string(nil), values...)
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return forwardFailed(err)
	}
	defer resp.Body.Close()
	relayed, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayed))
	if err != nil {
		return forwardFailed(err)
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: relayed, note: "from " + l.forward}
}

func forwardFailed(err error) answer {
	msg := "forward failed: " + err.Error()
	return answer{status: http.StatusBadGateway, contentType: "text/plain; charset=utf-8", body: []byte(msg + "\n"), note: msg}
}

// hopByHop reports whether a header belongs to one connection rather than
// to the delivery. Accept-Encoding counts: the client negotiates its own,
// so that the answer relayed is decoded.
func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Accept-Encoding", "Content-Length":
		return true
	}
	return false
}

// print writes one delivery as it arrived, for a person watching:
//
//	2026-11-29 10:00:00  --> enrolment.completed  evt_123
//	  delivery  dlv_456  attempt 1
//	  verified  yes (Falkor-Webhook-Signature, webhook-signature)
//	  { ...indented body... }
//	  <-- 200
func (l *listener) print(h http.Header, body []byte, v verdict, a answer) {
	p := l.platform + "-Webhook-"
	eventType, eventID := h.Get(p+"Event"), h.Get(p+"Id")
	var fields struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Test bool   `json:"test"`
	}
	json.Unmarshal(body, &fields) // best effort: the body may be anything
	// Decoded from anyone's JSON: quoted if they hold what could drive the
	// terminal (an escape, an override).
	eventType = shown(firstOf(eventType, fields.Type, "(no event type)"))
	eventID = shown(firstOf(eventID, h.Get(signature.StandardHeaderID), fields.ID))

	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  --> %s", l.now().Format(time.DateTime), eventType)
	if eventID != "" {
		fmt.Fprintf(&b, "  %s", eventID)
	}
	if fields.Test {
		b.WriteString("  (test)")
	}
	b.WriteByte('\n')
	if d, n := h.Get(p+"Delivery"), h.Get(p+"Attempt"); d != "" || n != "" {
		fmt.Fprintf(&b, "  delivery  %s  attempt %s\n", firstOf(d, "-"), firstOf(n, "-"))
	}
	if v.ok() {
		fmt.Fprintf(&b, "  verified  yes (%s)\n", strings.Join(v.verified, ", "))
	} else {
		fmt.Fprintf(&b, "  verified  no: %s\n", v.reason())
	}
	writeBody(&b, body)
	fmt.Fprintf(&b, "  <-- %d %s", a.status, http.StatusText(a.status))
	if a.note != "" {
		fmt.Fprintf(&b, " (%s)", a.note)
	}
	b.WriteString("\n\n")

	l.mu.Lock()
	defer l.mu.Unlock()
	l.out.Write(b.Bytes())
}

// shown returns s as it is, or quoted when it holds a character that is
// not printable or reorders text (a bidirectional override).
func shown(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' || pathhook.IsBidiControl(r) }) {
		return strconv.QuoteToASCII(s)
	}
	return s
}

// writeBody writes body as indented JSON, or quoted when it is not JSON,
// so that no byte it holds can drive the terminal.
func writeBody(b *bytes.Buffer, body []byte) {
	const indent = "  "
	if len(body) == 0 {
		b.WriteString(indent + "(empty body)\n")
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, indent, "  "); err == nil {
		b.WriteString(indent)
		b.Write(bytes.TrimSpace(out.Bytes()))
		b.WriteByte('\n')
		return
	}
	const most = 2048
	shown := body
	if len(shown) > most {
		shown = shown[:most]
	}
	fmt.Fprintf(b, "%s(not JSON, %d bytes) %q\n", indent, len(body), shown)
}

// firstOf returns the first of values that is not empty.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
