package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/pathhook/pathhook"
)

const apikeyUsage = `usage:
  pathhook apikey create --org NAME [--name LABEL] [--db DB]   print a new key for the org (created if needed)
  pathhook apikey list   --org NAME [--db DB]                  list the org's keys, masked
  pathhook apikey revoke --org NAME --id KEY_ID [--db DB]      revoke a key at once`

// runAPIKey manages API keys from the command line. create prints the new
// key alone on stdout, so that scripts can capture it.
func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, apikeyUsage)
		return errors.New("apikey: no subcommand given")
	}
	sub := args[0]
	switch sub {
	case "create", "list", "revoke":
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, apikeyUsage)
		return nil
	default:
		fmt.Fprintln(stderr, apikeyUsage)
		return fmt.Errorf("apikey: unknown subcommand %q", sub)
	}
	fs := flag.NewFlagSet("pathhook apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "pathhook.db", "a SQLite file path, or a postgres:// URL")
	org := fs.String("org", "", "the org's name")
	name := fs.String("name", "cli", "a label for the new key")
	id := fs.String("id", "", "the id of the key to revoke")
	if err := parseFlags(fs, args[1:], getenv, []envFlag{{"db", "PATHHOOK_DB"}}); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("apikey: --org is required")
	}
	if sub != "create" && !isPostgres(*db) {
		// list and revoke read: a mistyped path must not make a database.
		if _, err := os.Stat(*db); err != nil {
			return fmt.Errorf("apikey %s: --db %s: %w", sub, *db, err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	store, err := openStore(ctx, *db, getenv("PATHHOOK_SECRET_KEY"), false, log)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := pathhook.NewService(pathhook.Config{Store: store})
	var o *pathhook.Org
	if sub == "create" {
		o, err = svc.EnsureOrg(ctx, *org)
	} else {
		o, err = svc.OrgNamed(ctx, *org)
	}
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		key, k, err := svc.CreateAPIKey(ctx, o.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created API key %s for org %q; it is shown once, keep it safe\n", k.ID, o.Name)
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		keys, err := svc.APIKeys(ctx, o.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKEY\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, k.CreatedAt.Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	case "revoke":
		if *id == "" {
			return errors.New("apikey revoke: --id is required")
		}
		if _, err := svc.RevokeAPIKey(ctx, o.ID, *id); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked API key %s\n", *id)
	}
	return nil
}
