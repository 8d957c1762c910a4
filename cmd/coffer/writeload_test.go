package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeLoad runs writers against the native API of a server and records
// what it acknowledged, for crash and backup tests. Each writer creates
// secrets of its own (If-None-Match: *), gives each a few new versions
// with compare-and-set (If-Match: the version it last saw), and also
// writes with compare-and-set to a few secrets that all writers share, so
// that some of its writes lose the race and get 409. Every value is sent
// once, so a version's value tells which request made it.
type writeLoad struct {
	token string
	store string

	mu    sync.Mutex
	acked []loadAck           // in the order the replies came
	sent  map[string][]string // secret → values ever sent for it, acknowledged or not
	last  map[string]int32    // secret → the phase of the last value sent for it

	phase  atomic.Int32 // tags writes, see loadAck.Phase
	serial atomic.Int64
}

// loadAck is a write the server acknowledged with 200 or 201.
type loadAck struct {
	Name, Value string
	Version     int
	// Phase is the load's phase when the request was sent, and PhaseAck
	// when the reply came (see writeLoad.SetPhase).
	Phase, PhaseAck int32
}

func newWriteLoad(token, store string) *writeLoad {
	return &writeLoad{token: token, store: store, sent: map[string][]string{}, last: map[string]int32{}}
}

// SetPhase tags the writes sent from now on.
func (l *writeLoad) SetPhase(p int32) { l.phase.Store(p) }

// Acked returns the acknowledged writes so far.
func (l *writeLoad) Acked() []loadAck {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadAck(nil), l.acked...)
}

// Run starts n writers against base; they stop when stop is closed or the
// server stops answering. wait waits for them.
func (l *writeLoad) Run(t *testing.T, base string, n int, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { l.writer(t, base, w, stop) })
	}
	return wg.Wait
}

func (l *writeLoad) writer(t *testing.T, base string, w int, stop <-chan struct{}) {
	client := &http.Client{Timeout: 10 * time.Second}
	known := map[string]int{} // secret → the version this writer last saw
	own, ownVersions := "", 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		var name, cond string
		switch {
		case rand.IntN(4) == 0:
			name = fmt.Sprintf("shared-%d", rand.IntN(3))
			if v := known[name]; v > 0 {
				cond = "If-Match:" + strconv.Itoa(v)
			}
		case own == "" || ownVersions >= 5:
			own, ownVersions = fmt.Sprintf("w%d-%d", w, l.serial.Add(1)), 0
			name, cond = own, "If-None-Match:*"
		default:
			name = own
			if v := known[own]; v > 0 {
				cond = "If-Match:" + strconv.Itoa(v)
			}
		}
		val := fmt.Sprintf("%s#%d", name, l.serial.Add(1))
		phase := l.phase.Load()
		l.mu.Lock()
		l.sent[name] = append(l.sent[name], val)
		l.last[name] = phase
		l.mu.Unlock()
		req, _ := http.NewRequest("PUT", base+"/v1/stores/"+l.store+"/secrets/"+name, strings.NewReader(`{"value":"`+val+`"}`))
		req.Header.Set("Authorization", "Bearer "+l.token)
		if k, v, ok := strings.Cut(cond, ":"); ok {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return // the server died
		}
		var body struct{ Version int }
		err = json.NewDecoder(resp.Body).Decode(&body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 409 || resp.StatusCode == 412:
			// Lost a compare-and-set race, or a create after a crash
			// that ate the reply: learn the current version.
			known[name] = l.currentVersion(client, base, name)
			continue
		case resp.StatusCode >= 500 || err != nil:
			return // dying
		case resp.StatusCode != 200 && resp.StatusCode != 201:
			t.Errorf("PUT %s (%s): got %d", name, cond, resp.StatusCode)
			return
		}
		if strings.HasPrefix(cond, "If-Match:") {
			if want := known[name] + 1; body.Version != want {
				t.Errorf("PUT %s If-Match %d: acknowledged version %d, want %d", name, known[name], body.Version, want)
			}
		} else if cond != "" && body.Version != 1 {
			t.Errorf("create %s: acknowledged version %d, want 1", name, body.Version)
		}
		known[name] = body.Version
		if name == own {
			ownVersions++
		}
		l.mu.Lock()
		l.acked = append(l.acked, loadAck{Name: name, Value: val, Version: body.Version, Phase: phase, PhaseAck: l.phase.Load()})
		l.mu.Unlock()
	}
}

// currentVersion returns the latest version of a secret, 0 when it cannot
// tell.
func (l *writeLoad) currentVersion(client *http.Client, base, name string) int {
	req, _ := http.NewRequest("GET", base+"/v1/stores/"+l.store+"/secrets/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var body struct{ Version int }
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return 0
	}
	return body.Version
}

// storeState is what a server holds of the secrets a writeLoad wrote to.
type storeState map[string][]string // secret → value of version i+1

// readState reads every version of every secret the load sent values to
// (only those it sent to in phase, when phase is not 0), and checks that each secret's versions are whole: numbered 1..latest
// without a gap, each holding a value that was sent for that secret, no
// value twice.
func (l *writeLoad) readState(t *testing.T, a *rawAPI, phase int32) storeState {
	t.Helper()
	l.mu.Lock()
	sent := make(map[string]map[string]bool, len(l.sent))
	for name, vals := range l.sent {
		if phase != 0 && l.last[name] != phase {
			continue
		}
		sent[name] = map[string]bool{}
		for _, v := range vals {
			sent[name][v] = true
		}
	}
	l.mu.Unlock()
	st := storeState{}
	for name, vals := range sent {
		r := a.do("GET", "/v1/stores/"+l.store+"/secrets/"+name, nil)
		if r.Status == 404 {
			continue // never created: every create of it failed with the crash
		}
		if r.Status != 200 {
			t.Fatalf("GET %s: got %d %s", name, r.Status, r.Body)
		}
		latest := int(r.JSON(t)["version"].(float64))
		vs := a.must(200, "GET", "/v1/stores/"+l.store+"/secrets/"+name+"/versions", nil).JSON(t)["versions"].([]any)
		nums := map[int]bool{}
		for _, v := range vs {
			nums[int(v.(map[string]any)["version"].(float64))] = true
		}
		if len(nums) != latest || len(vs) != latest {
			t.Errorf("%s: latest version %d, but %d versions listed", name, latest, len(vs))
		}
		seen := map[string]int{}
		for n := 1; n <= latest; n++ {
			if !nums[n] {
				t.Errorf("%s: version %d is missing (latest %d): a gap", name, n, latest)
				st[name] = append(st[name], "")
				continue
			}
			got, _ := value(t, a.must(200, "GET", fmt.Sprintf("/v1/stores/%s/secrets/%s/value?version=%d", l.store, name, n), nil))
			if !vals[got] {
				t.Errorf("%s v%d holds a value that was never sent for it (%d bytes)", name, n, len(got))
			}
			if prev, dup := seen[got]; dup {
				t.Errorf("%s: versions %d and %d hold the same write", name, prev, n)
			}
			seen[got] = n
			st[name] = append(st[name], got)
		}
	}
	return st
}

// checkAcked checks that st holds every acknowledged write of acked with
// its value at its version.
func checkAcked(t *testing.T, st storeState, acked []loadAck) {
	t.Helper()
	for _, w := range acked {
		vs := st[w.Name]
		switch {
		case w.Version > len(vs):
			t.Errorf("acknowledged %s v%d is missing (latest %d)", w.Name, w.Version, len(vs))
		case vs[w.Version-1] != w.Value:
			t.Errorf("acknowledged %s v%d holds another write's value", w.Name, w.Version)
		}
	}
}
