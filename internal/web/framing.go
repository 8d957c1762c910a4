package web

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// A request that carries both Content-Length and Transfer-Encoding (or
// Transfer-Encoding in HTTP/1.0) has two possible lengths. net/http takes
// the chunked one and serves it on a connection it keeps open, and removes
// both headers before a handler runs, so a handler cannot tell; a proxy in
// front that took the other length would see a different next request on
// that connection (request smuggling). RFC 9112 section 6.3 lets a server
// answer 400 and close the connection, which coffer does.
//
// FramingListener wraps a plain TCP listener so that each connection
// follows the HTTP/1.x framing of the requests it carries (heads and the
// lengths of their bodies) and records, per request, whether its framing
// is ambiguous; AmbiguousFraming tells the handler. The server passes each
// connection to ConnContext.

// FramingListener returns ln whose connections record ambiguous framing.
func FramingListener(ln net.Listener) net.Listener { return framingListener{ln} }

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingKey struct{}

// ConnContext puts a connection from FramingListener in ctx, for
// http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// AmbiguousFraming reports whether r, read from a FramingListener
// connection, carried both Content-Length and Transfer-Encoding, or
// Transfer-Encoding in HTTP/1.0. Call it once per request, in order: the
// server's outermost handler does.
func AmbiguousFraming(r *http.Request) bool {
	fc, _ := r.Context().Value(framingKey{}).(*framingConn)
	if fc == nil || r.ProtoMajor != 1 {
		return false
	}
	return fc.next()
}

// maxFramingLine bounds the line a framingConn buffers; net/http refuses
// longer heads and chunk lines well before.
const maxFramingLine = 1 << 20

// framing states.
const (
	stHead      = iota // reading a request head, line by line
	stBody             // skipping a Content-Length body
	stChunkSize        // reading a chunk-size line
	stChunkData        // skipping a chunk's data
	stChunkCRLF        // reading the line end after a chunk's data
	stTrailer          // reading trailer lines up to the empty one
	stDone             // no longer followed (after an ambiguous or unsupported request)
)

type framingConn struct {
	net.Conn
	mu      sync.Mutex
	state   int
	line    []byte
	left    int64 // bytes left in a body or chunk
	sawLine bool  // the head's request line was read
	cl, te  bool  // the head has Content-Length, Transfer-Encoding
	chunked bool  // its last transfer coding is chunked
	http10  bool
	skip    bool // a request net/http answers itself (OPTIONS *)
	length  int64
	flags   []bool // per request head read, not yet asked for: ambiguous
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// next returns the flag of the oldest request not yet asked about.
func (c *framingConn) next() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.flags) == 0 {
		return false
	}
	f := c.flags[0]
	c.flags = c.flags[1:]
	return f
}

// feed follows the framing over the bytes b read from the client.
func (c *framingConn) feed(b []byte) {
	for len(b) > 0 && c.state != stDone {
		switch c.state {
		case stBody, stChunkData:
			n := int64(len(b))
			if n > c.left {
				n = c.left
			}
			b, c.left = b[n:], c.left-n
			if c.left == 0 {
				if c.state == stBody {
					c.state = stHead
				} else {
					c.state = stChunkCRLF
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				c.line = append(c.line, b...)
				if len(c.line) > maxFramingLine {
					c.state = stDone
				}
				return
			}
			c.line = append(c.line, b[:i]...)
			b = b[i+1:]
			c.endLine(bytes.TrimSuffix(c.line, []byte("\r")))
			c.line = c.line[:0]
		}
	}
}

// endLine handles one line of a head, a chunk-size line, the line end of
// a chunk or a trailer line.
func (c *framingConn) endLine(line []byte) {
	switch c.state {
	case stHead:
		c.headLine(line)
	case stChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		switch {
		case err != nil || n < 0:
			c.state = stDone // net/http refuses it and closes
		case n == 0:
			c.state = stTrailer
		default:
			c.state, c.left = stChunkData, n
		}
	case stChunkCRLF:
		c.state = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			c.state = stHead
		}
	}
}

// headLine handles one line of a request head.
func (c *framingConn) headLine(line []byte) {
	if !c.sawLine {
		if len(line) == 0 {
			return // empty lines before a request line are ignored
		}
		c.sawLine = true
		c.cl, c.te, c.chunked, c.length = false, false, false, 0
		c.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
		c.skip = bytes.HasPrefix(line, []byte("OPTIONS * "))
		return
	}
	if len(line) > 0 {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return // net/http refuses the head
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			c.cl = true
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				c.state = stDone
				return
			}
			c.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			c.te = true
			codings := bytes.Split(value, []byte(","))
			c.chunked = bytes.EqualFold(bytes.TrimSpace(codings[len(codings)-1]), []byte("chunked"))
		}
		return
	}
	// The empty line ends the head.
	c.sawLine = false
	ambiguous := c.te && (c.cl || c.http10)
	if !c.skip {
		c.flags = append(c.flags, ambiguous)
	}
	switch {
	case ambiguous, c.te && !c.chunked:
		c.state = stDone // the connection is closed after this request
	case c.te:
		c.state = stChunkSize
	case c.length > 0:
		c.state, c.left = stBody, c.length
	}
}
