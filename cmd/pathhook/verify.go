package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pathhook/pathhook/signature"
)

// runVerify runs `pathhook verify`: it checks a <Platform>-Webhook-Signature
// value against a body read from --file or stdin, printing "valid" or
// returning the reason, such as "signature mismatch", as its error.
func runVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pathhook verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretFlag := fs.String("secret", "", "the webhook's secret, or its whsec_ form (this or --secret-file is required)")
	secretFile := fs.String("secret-file", "", "read the secret from this file, which keeps it out of process listings")
	sig := fs.String("signature", "", "the signature header value, sha256=... (required)")
	file := fs.String("file", "", "read the body from this file instead of stdin")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: pathhook verify --secret S --signature sha256=... [--file F]

Prints "valid" if the signature is that of the body under the secret, else
fails with the reason. The body is checked byte for byte. Exits 0 when the
signature is valid, 1 when it is not (it does not match, or is not a
sha256=<hex> signature), and 2 when it could not be checked (a flag, the
secret or the body).`)
		fs.PrintDefaults()
	}
	// What keeps it from checking exits 2 (a -h still prints the usage).
	unchecked := func(err error) error { return &exitError{code: 2, err: err} }
	if err := parseToolFlags(fs, args); err != nil {
		return unchecked(err)
	}
	secret, err := secretOf(*secretFlag, *secretFile)
	if err != nil {
		return unchecked(err)
	}
	if *sig == "" {
		return unchecked(errors.New("--signature is required: the sha256=... header value"))
	}
	body, err := readBody(*file, stdin)
	if err != nil {
		return unchecked(err)
	}
	if err := signature.Verify(secret, body, *sig); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "valid")
	return err
}
