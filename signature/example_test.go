package signature_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pathhook/pathhook/signature"
)

func ExampleSign() {
	secret := []byte("ff820d62b80b7c2789286f691b5e89bd")
	body := []byte(`{"id":"evt_1","type":"enrolment.created"}`)
	fmt.Println(signature.HeaderName("Falkor") + ": " + signature.Sign(secret, body))
	// Output: Falkor-Webhook-Signature: sha256=e5adefddf507e26f832db7f99a851f7d0ee1229a58354167a69f7d684686eed5
}

func ExampleVerify() {
	secret := []byte("ff820d62b80b7c2789286f691b5e89bd")
	body := []byte(`{"id":"evt_1","type":"enrolment.created"}`)
	header := "sha256=e5adefddf507e26f832db7f99a851f7d0ee1229a58354167a69f7d684686eed5"

	fmt.Println(signature.Verify(secret, body, header))

	err := signature.Verify(secret, []byte(`{"id":"evt_1","type":"enrolment.completed"}`), header)
	fmt.Println(err, errors.Is(err, signature.ErrMismatch))
	// Output:
	// <nil>
	// signature mismatch true
}

func ExampleMiddleware() {
	secret := []byte("ff820d62b80b7c2789286f691b5e89bd")
	// The handler only sees deliveries whose signature is valid, and reads
	// the body as usual.
	hook := signature.Middleware("Falkor", secret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s: %s\n", r.Header.Get("Falkor-Webhook-Event"), body)
	}))
	// http.Handle("POST /webhooks/falkor", hook)

	body := `{"id":"evt_1","type":"enrolment.created"}`
	for _, sig := range []string{signature.Sign(secret, []byte(body)), "sha256=forged"} {
		req := httptest.NewRequest("POST", "/webhooks/falkor", strings.NewReader(body))
		req.Header.Set("Falkor-Webhook-Event", "enrolment.created")
		req.Header.Set("Falkor-Webhook-Signature", sig)
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	// Output:
	// enrolment.created: {"id":"evt_1","type":"enrolment.created"}
	// 200
	// 401 signature malformed: want "sha256=" and 64 lowercase hex digits
}

func ExampleVerifyStandard() {
	// A Standard Webhooks library is given the secret as "whsec_" and base64.
	secret, _ := signature.ParseStandardSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	verify := func(now time.Time) error {
		return signature.VerifyStandard([][]byte{secret}, h.Get("webhook-id"), h.Get("webhook-timestamp"),
			h.Get("webhook-signature"), body, now, signature.DefaultTolerance)
	}
	fmt.Println(verify(time.Unix(1614265330, 0).Add(time.Minute)))
	fmt.Println(verify(time.Unix(1614265330, 0).Add(time.Hour))) // a replay, an hour later
	// Output:
	// <nil>
	// signature timestamp outside tolerance
}
