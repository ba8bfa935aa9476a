package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/signature"
)

func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(toolBody), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  error // nil: prints "valid"
	}{
		{"valid from stdin", []string{"--secret", toolSecret, "--signature", toolSig}, toolBody, nil},
		{"valid from file", []string{"--secret", toolSecret, "--signature", toolSig, "--file", file}, "", nil},
		{"changed body", []string{"--secret", toolSecret, "--signature", toolSig}, toolBody + "\n", signature.ErrMismatch},
		{"wrong secret", []string{"--secret", "another-secret-0123456789abcdef", "--signature", toolSig}, toolBody, signature.ErrMismatch},
		{"malformed", []string{"--secret", toolSecret, "--signature", strings.ToUpper(toolSig)}, toolBody, signature.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runVerify(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if tt.want == nil {
				if err != nil || stdout.String() != "valid\n" {
					t.Fatalf("runVerify = %v, stdout %q; want valid", err, stdout.String())
				}
				return
			}
			if !errors.Is(err, tt.want) || stdout.Len() > 0 {
				t.Fatalf("runVerify = %v, stdout %q; want %v and no output", err, stdout.String(), tt.want)
			}
		})
	}
}

func TestVerifyMismatchMessage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := runVerify(context.Background(), []string{"--secret", toolSecret, "--signature", toolSig}, strings.NewReader("{}"), &stdout, &stderr)
	if err == nil || err.Error() != "signature mismatch" {
		t.Fatalf("runVerify = %v, want exactly \"signature mismatch\"", err)
	}
}

func TestVerifyBadInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--signature", toolSig}, "--secret (or --secret-file) is required"},
		{[]string{"--secret", toolSecret}, "--signature is required"},
		{[]string{"--secret", toolSecret, "--signature", toolSig, "extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		err := runVerify(context.Background(), tt.args, strings.NewReader(toolBody), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("runVerify %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestSignThenVerify is the scripting round trip: what sign prints, verify
// accepts.
func TestSignThenVerify(t *testing.T) {
	t.Parallel()
	body := "{\"name\":\"Zoë\"}\n"
	var sig, stderr bytes.Buffer
	if err := runSign(context.Background(), []string{"--secret", toolSecret}, strings.NewReader(body), &sig, &stderr); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := []string{"--secret", toolSecret, "--signature", strings.TrimSpace(sig.String())}
	if err := runVerify(context.Background(), args, strings.NewReader(body), &out, &stderr); err != nil || out.String() != "valid\n" {
		t.Fatalf("runVerify = %v, %q", err, out.String())
	}
}

// TestVerifyExitCodes: a script can tell a signature that is not valid
// (1) from one that could not be checked (2).
func TestVerifyExitCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"mismatch", []string{"--secret", toolSecret, "--signature", toolSig}, 1},
		{"malformed", []string{"--secret", toolSecret, "--signature", "sha1=00"}, 1},
		{"no signature", []string{"--secret", toolSecret}, 2},
		{"no secret", []string{"--signature", toolSig}, 2},
		{"unknown flag", []string{"--secret", toolSecret, "--signature", toolSig, "--nope"}, 2},
		{"unreadable body", []string{"--secret", toolSecret, "--signature", toolSig, "--file", filepath.Join(t.TempDir(), "none")}, 2},
	} {
		var stdout, stderr bytes.Buffer
		err := runVerify(context.Background(), tt.args, strings.NewReader("{}"), &stdout, &stderr)
		if err == nil || exitCode(err) != tt.want {
			t.Errorf("%s: runVerify = %v, exit %d; want exit %d", tt.name, err, exitCode(err), tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := runVerify(context.Background(), []string{"-h"}, nil, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("runVerify -h = %v, want flag.ErrHelp (exit 0)", err)
	}
}
