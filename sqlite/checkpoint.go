package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is the shortest time between two background checkpoints.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies committed pages from the WAL back into the database
// file on its own connection, so that this work and its fsync stay off the
// writer's path: the writer only appends to the WAL. The writer's own
// automatic checkpoint remains as a backstop at a much larger WAL size.
type checkpointer struct {
	conn *sql.Conn
	kick chan struct{} // the writer committed; buffered, never blocks
	stop chan struct{} // closed by Close
	done chan struct{} // closed when loop returns
}

func newCheckpointer(conn *sql.Conn) *checkpointer {
	return &checkpointer{
		conn: conn,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// committed tells the checkpointer that the WAL grew.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// loop runs a passive checkpoint after commits, at most once per
// checkpointEvery, until stop is closed. A passive checkpoint never blocks
// readers or the writer; a failed one leaves work for the next.
func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		c.conn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		t.Reset(checkpointEvery)
		select {
		case <-t.C:
		case <-c.stop:
			return
		}
	}
}

// close stops the loop and waits for it.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
}
