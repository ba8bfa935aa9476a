package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls fn with the payload of each notification on Channel, until
// ctx ends: "" when a transaction that made deliveries claimable by any
// node commits, ChangedPrefix and a webhook's id when one that changed the
// webhook does. It keeps its own connection to url and reconnects after
// errors. Notifications sent while it was away are lost: after it has
// connected again it calls reconnected, and after its first connection
// fn(""). Neither may block for long. Listen returns ctx's error.
func Listen(ctx context.Context, url string, fn func(payload string), reconnected func()) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	wait := 100 * time.Millisecond
	first := true
	connected := func() {
		if first {
			first = false
			fn("")
			return
		}
		reconnected()
	}
	for {
		err := listen(ctx, cfg, fn, connected)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// listen serves one connection until it fails.
func listen(ctx context.Context, cfg *pgx.ConnConfig, fn func(string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
