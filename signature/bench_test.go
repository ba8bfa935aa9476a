package signature_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pathhook/pathhook/signature"
)

// benchBody is a delivery body of a typical size (1 KiB).
var benchBody = bytes.Repeat([]byte(`{"type":"enrolment.created"}`), 37)[:1024]

var benchSecret = []byte("whsec-bench-0123456789abcdef0123456789")

func BenchmarkSign(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		signature.Sign(benchSecret, benchBody)
	}
}

func BenchmarkVerify(b *testing.B) {
	header := signature.Sign(benchSecret, benchBody)
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := signature.Verify(benchSecret, benchBody, header); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignStandard(b *testing.B) {
	ts := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		signature.SignStandard(benchSecret, "evt_01m8kjhqgyajy3vvqkpfpcn6tg", ts, benchBody)
	}
}
