package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pathhook/pathhook"
)

// maxGroup bounds how many Updates share one transaction.
const maxGroup = 128

// errClosed answers Updates that arrive after Close.
var errClosed = pathhook.Errorf(pathhook.EUNAVAILABLE, "the store is closed")

// committer runs the closures of concurrent Updates in one transaction, so
// that they share one commit, and answers each with its own outcome.
//
// A closure that fails having changed nothing needs nothing undone. One
// that fails after it wrote is undone: on SQLite the group runs again with
// a savepoint around each closure, which then rolls back to its savepoint
// and fails alone; through a Pipeliner (PostgreSQL, where a failed
// statement ends the whole transaction) the closures run alone.
//
// Through a Pipeliner, a statement that fails is blamed on the closure
// whose statement it was (for a write queued with execLater, whichever
// closure's statement reports it): the others commit together again, and
// then it runs alone, as they would have in a transaction each. A failure
// of the transaction itself (a deadlock, a lock wait that ran out) makes
// every closure run alone. A connection lost before COMMIT makes the group
// run again together, and if the database stays out of reach every
// closure is told so. If COMMIT went out and no answer came back,
// every closure that ran is told so, since running it again could do
// twice what was done.
type committer struct {
	db       *DB
	requests chan *request
	quit     chan struct{}
	stopped  chan struct{} // closed once every loop has returned
	wg       sync.WaitGroup
	stopOnce sync.Once
	// noAnswer is set while the database does not answer: the last
	// transaction ran out of Config.TxTimeout.
	noAnswer atomic.Bool
}

type request struct {
	ctx  context.Context
	fn   func(pathhook.Tx) error
	done chan error
}

// newCommitter starts a committer that commits up to groups groups at once,
// each in a transaction of its own.
func newCommitter(db *DB, groups int) *committer {
	c := &committer{db: db, requests: make(chan *request, maxGroup), quit: make(chan struct{}), stopped: make(chan struct{})}
	for range max(1, groups) {
		c.wg.Add(1)
		go c.loop()
	}
	return c
}

func (c *committer) stop() {
	c.stopOnce.Do(func() {
		close(c.quit)
		c.wg.Wait()
		close(c.stopped)
	})
	<-c.stopped
}

// update hands fn to the committer and waits for its outcome. Once handed
// over, fn may commit even if ctx ends meanwhile, so update waits for it.
func (c *committer) update(ctx context.Context, fn func(pathhook.Tx) error) error {
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.requests <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return errClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-c.stopped:
		// Handed over as the loops stopped: drained and answered, or
		// left behind, never to run.
		select {
		case err := <-r.done:
			return err
		default:
			return errClosed
		}
	}
}

func (c *committer) loop() {
	defer c.wg.Done()
	for {
		// Once Close has been called, what is queued is drained, even
		// while requests keep coming.
		select {
		case <-c.quit:
			c.drain()
			return
		default:
		}
		var first *request
		select {
		case first = <-c.requests:
		case <-c.quit:
			c.drain()
			return
		}
		group := c.gather([]*request{first})
		if len(group) < maxGroup {
			// The callers that the last commit answered are runnable
			// but have not come back yet: without a yield the first of
			// them would commit alone and the rest wait for it, so
			// that groups alternated between one caller and all the
			// others. The yield returns at once when nothing else runs.
			runtime.Gosched()
			group = c.gather(group)
		}
		c.run(group)
	}
}

// gather adds the requests waiting now to group, up to maxGroup.
func (c *committer) gather(group []*request) []*request {
	for len(group) < maxGroup {
		select {
		case r := <-c.requests:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// drain answers the requests that were handed over before Close; while
// the database does not answer, errClosed answers them without a try, each
// of which would wait Config.TxTimeout.
func (c *committer) drain() {
	for {
		select {
		case r := <-c.requests:
			if c.noAnswer.Load() {
				r.done <- errClosed
				continue
			}
			r.done <- c.alone(r)
		default:
			return
		}
	}
}

// alone runs one request in a transaction of its own.
func (c *committer) alone(r *request) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	err := c.db.boundedWriteTx(r.ctx, func(t *txn) error { return r.fn(t) })
	c.noAnswer.Store(errors.Is(err, errNoAnswer))
	return err
}

func (c *committer) run(group []*request) {
	// A caller that has gone is answered without a transaction.
	group = slices.DeleteFunc(group, func(r *request) bool {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			return true
		}
		return false
	})
	if len(group) == 0 {
		return
	}
	if len(group) == 1 {
		group[0].done <- c.alone(group[0])
		return
	}
	// On SQLite the closures run without savepoints, unless one fails
	// after it wrote: then the group runs again with them. Through a
	// Pipeline they run without: a statement that fails there ends the
	// whole transaction.
	_, pipelined := c.db.dialect.(Pipeliner)
	var errs []error
	culprit := -1
	// A connection lost before COMMIT (the server restarted, and the
	// pool's other connections with it) is no closure's fault: the group
	// runs again, together, on another connection.
	err := c.db.retryIf(context.Background(), c.lostBeforeCommit, func() error {
		var err error
		errs, culprit, err = c.together(group, !c.db.direct && !pipelined)
		return err
	})
	if errors.Is(err, errUndo) && !pipelined {
		errs, culprit, err = c.together(group, true)
	}
	c.noAnswer.Store(errors.Is(err, context.DeadlineExceeded))
	switch {
	case err == nil:
		for i, r := range group {
			r.done <- errs[i]
		}
	case errors.Is(err, ErrCommitUnknown):
		// Running the closures again could do twice what was done. A
		// closure that never ran keeps its answer; any other, even one
		// that failed, may have answered from the group's writes.
		unknown := fmt.Errorf("%w (%w)", errCommitUnknown, err)
		for i, r := range group {
			if errs[i] == nil || errs[i] != r.ctx.Err() {
				errs[i] = unknown
			}
			r.done <- errs[i]
		}
	case errors.Is(err, context.DeadlineExceeded):
		// The database did not answer within Config.TxTimeout. Nothing
		// committed, and none is run alone: each would wait as long again.
		for _, r := range group {
			r.done <- fmt.Errorf("%w (%w)", errNoAnswer, err)
		}
	case c.lostBeforeCommit(err):
		// The database stayed out of reach: each is told so now, rather
		// than each run alone, one after another, to find it out again.
		for _, r := range group {
			r.done <- err
		}
	case culprit >= 0:
		// The statement that failed was that closure's: the others
		// commit together again, first, as they would have, and then it
		// runs alone.
		c.run(slices.Delete(slices.Clone(group), culprit, culprit+1))
		group[culprit].done <- c.alone(group[culprit])
	default:
		// Nothing of the shared transaction committed. Should the
		// database stop answering, or be out of reach, meanwhile, the rest
		// are told so without a try each.
		for i, r := range group {
			err := c.alone(r)
			r.done <- err
			if errors.Is(err, errNoAnswer) || c.lostBeforeCommit(err) {
				for _, rest := range group[i+1:] {
					rest.done <- err
				}
				return
			}
		}
	}
}

// lostBeforeCommit reports whether a group transaction failed because its
// connection was lost, or could not be made, before COMMIT could take
// effect (see DB.writeRetryable).
func (c *committer) lostBeforeCommit(err error) bool {
	return !c.db.dialect.IsRetryable(err) && c.db.writeRetryable(err)
}

// errUndo ends a group transaction run without savepoints when a closure
// fails after it changed the database: only a rollback undoes the change.
var errUndo = errors.New("sqlstore: a closure failed after it wrote")

// errLaterFailed ends a group transaction on a Pipe in which a queued
// write failed.
var errLaterFailed = errors.New("sqlstore: a queued write failed")

// errNoAnswer answers a write whose transaction the database did not
// answer within Config.TxTimeout, before its COMMIT went out.
var errNoAnswer error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database did not answer in time; nothing was saved")

// errCommitUnknown answers a write whose COMMIT went out without an answer
// back (ErrCommitUnknown).
var errCommitUnknown error = pathhook.Errorf(pathhook.EUNAVAILABLE, "the database did not answer whether the change was saved; look before trying again")

// together runs the group in one transaction, each closure in a savepoint
// if guarded. It returns each closure's own error, or an error of the
// transaction, in which case none committed (unless it wraps
// ErrCommitUnknown) and culprit is the index of the closure to blame for
// it, or -1 (see committer).
//
// Unguarded, a closure that fails with a domain error having changed
// nothing (a read that found nothing, an insert that met a conflict and
// did nothing) needs nothing undone, and the savepoint would only cost a
// copy of every page the closure touches; one that changed rows ends the
// transaction with errUndo. Direct statements and a Pipe's Exec report what
// they changed; a statement queued on a Pipe counts as a change. SQLite
// undoes a failed statement by itself.
func (c *committer) together(group []*request, guarded bool) (errs []error, culprit int, err error) {
	errs = make([]error, len(group))
	// The transaction outlives any one caller; a caller's cancellation
	// must not interrupt statements of the others.
	ctx := context.Background()
	each := func(t *txn) error {
		for i, r := range group {
			if errs[i] = r.ctx.Err(); errs[i] != nil {
				continue
			}
			if guarded {
				if err := c.inSavepoint(ctx, t, r, &errs[i]); err != nil {
					return err
				}
				continue
			}
			t.wrote, t.closure = false, i
			errs[i] = r.fn(t)
			if t.blamed {
				// A write queued by this closure or an earlier one
				// failed: the error may not tell which.
				return errLaterFailed
			}
			if errs[i] != nil {
				if !isDomain(errs[i]) {
					if t.pipe != nil {
						t.blame(i, errs[i])
					}
					return errs[i]
				}
				if t.wrote {
					if t.pipe != nil {
						t.blame(i, errs[i])
					}
					return errUndo
				}
			}
		}
		return nil
	}
	if p, ok := c.db.dialect.(Pipeliner); ok {
		ctx, cancel := context.WithTimeout(ctx, c.db.txTimeout)
		defer cancel()
		t := &txn{db: c.db, write: true, ctx: ctx, closure: -1}
		set, unset := c.db.dialect.GroupLockTimeout()
		err := p.Transact(ctx, c.db.write, func(pipe Pipe) error {
			t.pipe = pipe
			// The bound goes out with the first statement, its end
			// with COMMIT.
			if set != "" {
				if err := t.execLater(ctx, nil, set); err != nil {
					return err
				}
			}
			if err := each(t); err != nil {
				return err
			}
			if unset != "" {
				t.closure = -1
				return t.execLater(ctx, nil, unset)
			}
			return nil
		})
		if err == nil {
			c.db.genCache.keep(t.genFills)
		}
		if !t.blamed {
			return errs, -1, err
		}
		return errs, t.culprit, err
	}
	if c.db.direct {
		var t *txn
		err := c.db.onDriver(ctx, c.db.write, func(dc *driverConn) error {
			t = &txn{db: c.db, direct: dc, write: true, ctx: ctx}
			return dc.transact(false, func() error { return each(t) })
		})
		if err == nil {
			c.db.afterCommit(t)
		}
		return errs, -1, err
	}
	tx, err := c.db.write.BeginTx(ctx, nil)
	if err != nil {
		return errs, -1, err
	}
	if err := each(&txn{db: c.db, tx: tx, write: true, ctx: ctx}); err != nil {
		_ = tx.Rollback()
		return errs, -1, err
	}
	if err := tx.Commit(); err != nil {
		return errs, -1, fmt.Errorf("sqlstore: commit: %w", err)
	}
	return errs, -1, nil
}

// inSavepoint runs r's closure in a savepoint of t and sets *rerr to its
// outcome. A closure that fails with a domain error is rolled back to the
// savepoint and fails alone; any other error ends the transaction and is
// returned.
func (c *committer) inSavepoint(ctx context.Context, t *txn, r *request, rerr *error) error {
	if _, err := t.exec(ctx, "SAVEPOINT grp"); err != nil {
		return fmt.Errorf("sqlstore: savepoint: %w", err)
	}
	*rerr = r.fn(t)
	if *rerr != nil {
		if !isDomain(*rerr) {
			// The database may have ended the whole transaction.
			return *rerr
		}
		if _, err := t.exec(ctx, "ROLLBACK TO SAVEPOINT grp"); err != nil {
			return fmt.Errorf("sqlstore: rollback to savepoint: %w", err)
		}
		// What the closure read may have been its own writes, now undone.
		c.db.cache.bump()
	}
	if _, err := t.exec(ctx, "RELEASE SAVEPOINT grp"); err != nil {
		return fmt.Errorf("sqlstore: release savepoint: %w", err)
	}
	return nil
}

// isDomain reports whether err is a *pathhook.Error, which a closure
// returns by choice and which leaves the transaction usable.
func isDomain(err error) bool {
	var e *pathhook.Error
	return errors.As(err, &e)
}
