package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestErrorLogsUnavailableCause checks that a storage failure's cause
// reaches the operator's log, once a second at most, while the caller
// sees only the public message; and that a bare unavailable error (a
// closed database, a shed request) is not logged.
func TestErrorLogsUnavailableCause(t *testing.T) {
	var logs bytes.Buffer
	f := &Face{Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Render: func(w http.ResponseWriter, r *http.Request, status int, code, message string) {
			w.WriteHeader(status)
			fmt.Fprint(w, code, ": ", message)
		}}
	unavailableLog = logSpacer{}
	cause := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	err := fmt.Errorf("read secret: %w (%w)", &coffer.Error{Code: coffer.EUNAVAILABLE, Message: "database is unavailable"}, cause)
	for range 3 {
		w := httptest.NewRecorder()
		f.Error(w, httptest.NewRequest("GET", "/", nil), err)
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "refused") {
			t.Fatalf("reply %d %q: want 503 without the cause", w.Code, w.Body)
		}
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Fatalf("log lines with the cause: %d, want 1 (then suppressed):\n%s", n, logs.String())
	}
	logs.Reset()
	unavailableLog.last.Store(time.Now().Add(-2 * time.Second).UnixNano())
	f.Error(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), err)
	if !strings.Contains(logs.String(), "suppressed=2") {
		t.Fatalf("log after a second: %q, want the cause and suppressed=2", logs.String())
	}
	logs.Reset()
	unavailableLog = logSpacer{}
	f.Error(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), coffer.Errorf(coffer.EUNAVAILABLE, "database is closed"))
	if logs.Len() != 0 {
		t.Fatalf("a bare unavailable error was logged: %q", logs.String())
	}
}
