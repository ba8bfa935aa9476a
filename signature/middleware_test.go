package signature_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/signature"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	secret, oldSecret := []byte("receiver-secret-0123456789abcdef"), []byte("previous-secret-0123456789abcdef")
	body := []byte(`{"id":"evt_1","type":"booking.registered","pathway":{"name":"Café & Co <3>"}}`)
	var seen []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(signature.Middleware("Falkor", secret, next))
	t.Cleanup(srv.Close)

	tests := []struct {
		name       string
		body       []byte
		headers    map[string]string
		wantStatus int
		wantReason string
	}{
		{"valid", body, map[string]string{"Falkor-Webhook-Signature": signature.Sign(secret, body)}, http.StatusNoContent, ""},
		{"valid previous header only", body, map[string]string{
			"Falkor-Webhook-Signature":          signature.Sign(oldSecret, body),
			"Falkor-Webhook-Signature-Previous": signature.Sign(secret, body),
		}, http.StatusNoContent, ""},
		{"missing", body, nil, http.StatusUnauthorized, "signature missing"},
		{"other platform", body, map[string]string{"ByteKast-Webhook-Signature": signature.Sign(secret, body)}, http.StatusUnauthorized, "signature missing"},
		{"malformed", body, map[string]string{"Falkor-Webhook-Signature": "sha1=abc"}, http.StatusUnauthorized, "signature malformed"},
		{"mismatch", body, map[string]string{"Falkor-Webhook-Signature": signature.Sign(oldSecret, body)}, http.StatusUnauthorized, "signature mismatch"},
		{"tampered", append([]byte(" "), body...), map[string]string{"Falkor-Webhook-Signature": signature.Sign(secret, body)}, http.StatusUnauthorized, "signature mismatch"},
		{"too large", make([]byte, signature.MaxBodySize+1), nil, http.StatusRequestEntityTooLarge, "body too large"},
	}
	for _, tt := range tests {
		// Not parallel: the subtests share next's record of the body.
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			reason, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, reason, tt.wantStatus)
			}
			if tt.wantReason != "" {
				if got := strings.TrimSpace(string(reason)); !strings.HasPrefix(got, tt.wantReason) {
					t.Errorf("reason = %q, want %q", got, tt.wantReason)
				}
				if seen != nil {
					t.Error("next was called for a refused request")
				}
				return
			}
			if !bytes.Equal(seen, tt.body) {
				t.Errorf("next read %q, want the body byte for byte", seen)
			}
		})
	}
}

func TestMiddlewarePanicsWithoutSecret(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("Middleware with an empty secret did not panic")
		}
	}()
	signature.Middleware("Falkor", nil, http.NotFoundHandler())
}
