package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// bidiConn is a minimal WebDriver BiDi client for the Firefox console
// test: it sends commands as JSON over a websocket and matches each reply
// to its command by id. Events go to onEvent. It speaks only what the test
// uses; there is no Go BiDi client to depend on.
//
// The websocket is github.com/gobwas/ws (already in the module graph
// through chromedp): its Dial does the RFC 6455 handshake and its frame
// functions read and write frames; the loop below reassembles fragmented
// messages and answers pings.
type bidiConn struct {
	conn net.Conn
	r    io.Reader

	wmu sync.Mutex // one frame on the wire at a time

	mu      sync.Mutex
	next    int
	pending map[int]chan bidiReply
	onEvent func(method string, params json.RawMessage)
	err     error         // why the read loop ended
	done    chan struct{} // closed when the read loop ends
}

// bidiReply is one message from the browser: a command's reply (id set)
// or an event (type "event").
type bidiReply struct {
	Type    string          `json:"type"`
	ID      *int            `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// dialBiDi opens a BiDi connection to url (ws://host:port/session).
// onEvent, if not nil, is called from the read loop for every event.
func dialBiDi(ctx context.Context, url string, onEvent func(string, json.RawMessage)) (*bidiConn, error) {
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("websocket %s: %w", url, err)
	}
	c := &bidiConn{conn: conn, r: conn, pending: map[int]chan bidiReply{}, onEvent: onEvent, done: make(chan struct{})}
	if br != nil { // bytes the server sent right after the handshake
		c.r = io.MultiReader(br, conn)
	}
	go c.readLoop()
	return c, nil
}

func (c *bidiConn) readLoop() {
	err := c.read()
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func (c *bidiConn) read() error {
	r := bufio.NewReaderSize(c.r, 64<<10)
	var msg []byte
	for {
		f, err := ws.ReadFrame(r)
		if err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		if f.Header.Masked {
			f = ws.UnmaskFrameInPlace(f)
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			if err := c.writeFrame(ws.NewPongFrame(f.Payload)); err != nil {
				return err
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			return errors.New("the browser closed the connection")
		}
		msg = append(msg, f.Payload...)
		if !f.Header.Fin {
			continue
		}
		var m bidiReply
		if err := json.Unmarshal(msg, &m); err != nil {
			return fmt.Errorf("decode message: %w", err)
		}
		msg = nil
		if m.ID != nil {
			c.mu.Lock()
			ch := c.pending[*m.ID]
			delete(c.pending, *m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		} else if m.Type == "event" && c.onEvent != nil {
			c.onEvent(m.Method, m.Params)
		}
	}
}

// writeFrame masks f (a client's frames are masked) and writes it whole.
func (c *bidiConn) writeFrame(f ws.Frame) error {
	b, err := ws.CompileFrame(ws.MaskFrameInPlace(f))
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.conn.Write(b)
	return err
}

// call sends the command method with params and decodes its result into
// result (if not nil). An error reply is returned as an error naming the
// method, the BiDi error code and its message (never the params, which may
// hold typed secrets).
func (c *bidiConn) call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan bidiReply, 1)
	c.mu.Lock()
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	b, err := json.Marshal(struct {
		ID     int    `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params"`
	}{id, method, params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := c.writeFrame(ws.NewTextFrame(b)); err != nil {
		return fmt.Errorf("%s: send: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return fmt.Errorf("%s: %s: %s", method, m.Error, m.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, c.err)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close closes the websocket and waits for the read loop to end.
func (c *bidiConn) close() {
	_ = c.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	c.conn.Close()
	<-c.done
}
