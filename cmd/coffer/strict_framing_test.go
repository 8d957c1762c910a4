package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAmbiguousFramingRefused sends, over raw TCP to the real server, a
// request with both Content-Length and Transfer-Encoding (and one with
// Transfer-Encoding in HTTP/1.0) to a path of every face, with a second
// request pipelined behind it. Each is answered 400 in the face's own
// error format with Connection: close, and the connection is closed
// without answering the pipelined request (RFC 9112 section 6.3; issue 17
// item 6). A chunked request and a request whose body holds such a head as
// text are served as usual, on a connection kept open.
func TestAmbiguousFramingRefused(t *testing.T) {
	base, token := startServer(t)
	addr := strings.TrimPrefix(base, "http://")
	faces := []struct{ name, path, want string }{
		{"Native", "/v1/stores", `"error":{"code":"invalid"`},
		{"Console", "/ui/session", `"error":{"code":"invalid"`},
		{"Cloudflare", "/cloudflare/client/v4/accounts/0123456789abcdef0123456789abcdef/secrets_store/stores", `"success":false`},
		{"TrueFoundry", "/truefoundry/api/svc/v1/secret-groups", `"statusCode":400`},
		{"Chutes", "/chutes/secrets/", `"detail"`},
		{"ChutesRoot", "/secrets/", `"detail"`},
		{"ByteNite", "/bytenite/v1/auth/secrets", `"ok":false`},
	}
	const body = "0\r\n\r\n"
	heads := map[string]string{
		"CLTE":     "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
		"TECL":     "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n" + body,
		"HTTP10TE": "POST %s HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer " + token + "\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
	}
	const next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, f := range faces {
		for name, head := range heads {
			t.Run(f.name+"/"+name, func(t *testing.T) {
				c, br := dialRaw(t, addr)
				if _, err := io.WriteString(c, strings.Replace(head, "%s", f.path, 1)+next); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(res.Body)
				if res.StatusCode != 400 || !res.Close || !strings.Contains(string(got), f.want) {
					t.Errorf("got %d (close %v) %s, want 400, Connection: close and %s", res.StatusCode, res.Close, got, f.want)
				}
				if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
					t.Errorf("after the refusal: read %q (%v), want the connection closed", rest, err)
				}
			})
		}
	}
	t.Run("KeptForUnambiguous", func(t *testing.T) {
		c, br := dialRaw(t, addr)
		inner := "POST /v1/stores HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
		reqs := "POST /v1/stores HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"d;ext=1\r\n{\"name\":\"a1\"}\r\n0\r\nX-Note: Content-Length: 3\r\n\r\n" +
			"POST /v1/stores HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(`{"name":"a2","comment":""}`)+len(inner)) + "\r\n\r\n" + `{"name":"a2","comment":""}` + inner + next
		if _, err := io.WriteString(c, reqs); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{201, 400, 200} { // the second body is not JSON: 400 invalid, not a framing refusal
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i+1, err)
			}
			got, _ := io.ReadAll(res.Body)
			if res.StatusCode != want || res.Close || strings.Contains(string(got), "Transfer-Encoding") {
				t.Errorf("response %d: got %d (close %v) %s, want %d on a kept connection", i+1, res.StatusCode, res.Close, got, want)
			}
		}
	})
}

// dialRaw opens a TCP connection to addr, closed when the test ends.
func dialRaw(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}
