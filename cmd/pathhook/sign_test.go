package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/signature"
)

// The seed's example secret and a body; the signature computed with openssl.
const (
	toolSecret = "ff820d62b80b7c2789286f691b5e89bd"
	toolBody   = `{"id":"evt_1","type":"enrolment.created"}`
	toolSig    = "sha256=e5adefddf507e26f832db7f99a851f7d0ee1229a58354167a69f7d684686eed5"
)

func TestSignCommand(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, []byte(toolBody), 0o600); err != nil {
		t.Fatal(err)
	}
	whsec := signature.StandardSecretPrefix + base64.StdEncoding.EncodeToString([]byte(toolSecret))
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(toolSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"stdin", []string{"--secret", toolSecret}, toolBody, toolSig},
		{"file", []string{"--secret", toolSecret, "--file", file}, "ignored", toolSig},
		{"stdin as -", []string{"--secret", toolSecret, "--file", "-"}, toolBody, toolSig},
		{"whsec_ secret", []string{"--secret", whsec}, toolBody, toolSig},
		{"secret from a file", []string{"--secret-file", secretFile}, toolBody, toolSig},
		{"trailing newline is signed", []string{"--secret", toolSecret}, toolBody + "\n", signature.Sign([]byte(toolSecret), []byte(toolBody+"\n"))},
		{"empty body", []string{"--secret", toolSecret}, "", signature.Sign([]byte(toolSecret), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if err := runSign(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr); err != nil {
				t.Fatalf("runSign: %v (stderr %s)", err, stderr.String())
			}
			if got := stdout.String(); got != tt.want+"\n" {
				t.Errorf("stdout = %q, want %q", got, tt.want+"\n")
			}
		})
	}
}

func TestSignBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", nil, "--secret (or --secret-file) is required"},
		{"both secrets", []string{"--secret", toolSecret, "--secret-file", "x"}, "give one of them"},
		{"bad whsec_", []string{"--secret", "whsec_!!"}, "--secret: signature malformed"},
		{"missing file", []string{"--secret", toolSecret, "--file", filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"argument", []string{"--secret", toolSecret, "body.json"}, `unexpected argument "body.json"`},
		{"unknown flag", []string{"--secrets", toolSecret}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := runSign(context.Background(), tt.args, strings.NewReader(toolBody), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("runSign = %v, want an error containing %q", err, tt.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestSignHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := runSign(context.Background(), []string{"-h"}, nil, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: pathhook sign") {
		t.Fatalf("runSign -h = %v, stderr %q", err, stderr.String())
	}
}
