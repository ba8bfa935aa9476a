package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pathhook/pathhook/signature"
)

// runSign runs `pathhook sign`: it prints the <Platform>-Webhook-Signature
// value ("sha256=...") of a body read from --file or stdin, byte for byte.
func runSign(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pathhook sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretFlag := fs.String("secret", "", "the webhook's secret, or its whsec_ form (this or --secret-file is required)")
	secretFile := fs.String("secret-file", "", "read the secret from this file, which keeps it out of process listings")
	file := fs.String("file", "", "read the body from this file instead of stdin")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: pathhook sign --secret S [--file F]

Prints the signature header value (sha256=...) of the body, as pathhook
sends it. The body is signed byte for byte: note that echo adds a newline
(use printf, or --file).`)
		fs.PrintDefaults()
	}
	if err := parseToolFlags(fs, args); err != nil {
		return err
	}
	secret, err := secretOf(*secretFlag, *secretFile)
	if err != nil {
		return err
	}
	body, err := readBody(*file, stdin)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, signature.Sign(secret, body))
	return err
}

// parseToolFlags parses the flags of listen, sign and verify, which take no
// arguments besides flags.
func parseToolFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// secretOf returns the secret of --secret or of --secret-file (its first
// line), in either of parseSecret's forms.
func secretOf(flagValue, file string) ([]byte, error) {
	switch {
	case flagValue != "" && file != "":
		return nil, errors.New("--secret and --secret-file: give one of them")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if flagValue = strings.TrimSuffix(line, "\r"); flagValue == "" {
			return nil, fmt.Errorf("--secret-file %s: the file's first line is empty", file)
		}
	}
	return parseSecret(flagValue)
}

// parseSecret reads a --secret: the secret as set on the webhook, or its
// Standard Webhooks form "whsec_" and base64, which the API and UI show
// beside it, so that either can be pasted.
func parseSecret(s string) ([]byte, error) {
	switch {
	case s == "":
		return nil, errors.New("--secret (or --secret-file) is required: the webhook's secret")
	case strings.HasPrefix(s, signature.StandardSecretPrefix):
		secret, err := signature.ParseStandardSecret(s)
		if err != nil {
			return nil, fmt.Errorf("--secret: %w", err)
		}
		return secret, nil
	}
	return []byte(s), nil
}

// readBody returns the contents of file, or of stdin when file is "" or "-".
func readBody(file string, stdin io.Reader) ([]byte, error) {
	if file == "" || file == "-" {
		if stdin == nil {
			return nil, errors.New("no body: give --file or pipe it to stdin")
		}
		return io.ReadAll(stdin)
	}
	return os.ReadFile(file)
}
