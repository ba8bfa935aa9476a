package signature_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/signature"
)

// seedPHP is the receiver code of the original spec, step by step, as PHP
// runs it:
//
//	$payloadSignature = explode('sha256=',$_SERVER['HTTP_FALKOR_WEBHOOK_SIGNATURE']);
//	$matchSignature  = hash_hmac('sha256', $payloadData, $yourSecretToken);
//	if ($payloadSignature[1] == $matchSignature): // Signature Matched
//
// explode splits on every occurrence; [1] is the second element (PHP would
// warn and yield null when there is none); hash_hmac returns lowercase hex;
// == between two non-numeric strings compares them as strings.
func seedPHP(header string, payloadData []byte, yourSecretToken string) bool {
	payloadSignature := strings.Split(header, "sha256=")
	if len(payloadSignature) < 2 {
		return false
	}
	m := hmac.New(sha256.New, []byte(yourSecretToken))
	m.Write(payloadData)
	matchSignature := hex.EncodeToString(m.Sum(nil))
	return payloadSignature[1] == matchSignature
}

// TestSeedReceiverAcceptsSign is the contract's promise that the seed's PHP
// accepts every delivery as it stands, over many bodies and secrets.
func TestSeedReceiverAcceptsSign(t *testing.T) {
	t.Parallel()
	secrets := []string{"ff820d62b80b7c2789286f691b5e89bd", "Xy7!~{}[]|\\^`'\"@#$%&*()-_=+;:,.<>/?abcdef"}
	bodies := [][]byte{
		[]byte(`{"id":"evt_1","type":"enrolment.completed","category":"enrolments","test":false}`),
		[]byte("{\"name\":\"Zoë 🚀 \\u003c\\u0026\\u003e\"}\n"),
		{},
	}
	for range 50 {
		b := make([]byte, 300)
		rand.Read(b)
		bodies = append(bodies, b)
		secrets = append(secrets, rand.Text())
	}
	for _, secret := range secrets {
		for _, body := range bodies {
			header := signature.Sign([]byte(secret), body)
			if !seedPHP(header, body, secret) {
				t.Fatalf("the seed's PHP refuses %q (secret %q, body %q)", header, secret, body)
			}
			if seedPHP(header, append([]byte{'x'}, body...), secret) {
				t.Fatalf("the seed's PHP accepts a changed body")
			}
		}
	}
}
