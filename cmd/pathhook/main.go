// Command pathhook runs the pathhook webhook server and its tools.
//
//	pathhook serve           the API, the admin UI and the delivery workers
//	pathhook apikey ...      create, list and revoke API keys
//	pathhook bench           measure delivery throughput and latency
//	pathhook listen          a local receiver that verifies and prints deliveries
//	pathhook sign|verify     sign or check a body, for scripts
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal asks for a clean stop, which may wait for
		// attempts in flight (up to serve's --delivery-timeout); a second
		// one ends the process at once, as a signal does by default.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was asked for, and printed
		}
		// Errors of the pathhook package say "pathhook:" themselves.
		fmt.Fprintln(os.Stderr, "pathhook:", strings.TrimPrefix(err.Error(), "pathhook: "))
		os.Exit(exitCode(err))
	}
}

// exitError is an error that a command ends with a given exit status: 1
// unless it says otherwise.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode returns the exit status for a command that ended with err.
func exitCode(err error) int {
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return 1
}

const usage = `usage: pathhook <command> [flags]

commands:
  serve      run the API, the admin UI and the delivery workers
  apikey     create, list or revoke API keys (pathhook apikey create --org NAME)
  bench      measure delivery throughput and latency
  listen     run a local receiver that verifies and prints deliveries
  sign       print the signature header of a body
  verify     check a body against a signature header

Run 'pathhook <command> -h' for a command's flags.`

// run is the whole program: main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, getenv, stdout, stderr)
	case "listen":
		return runListen(ctx, rest, stdout, stderr)
	case "sign":
		return runSign(ctx, rest, stdin, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
