// Command loadgen is TestOverload's load generator, built without the race
// detector so that it can offer a few thousand requests a second from a
// small machine. It sends GET requests with a bearer token, either from
// -c clients one after another (closed loop) or at -rate a second on a
// schedule whatever the answers (open loop), for -d, and prints a JSON
// summary.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// summary is what loadgen prints.
type summary struct {
	Sent, OK, Shed int
	// BadShed counts 503/429 answers without Retry-After: 1 or without an
	// error code in the body; Other counts other statuses; Errors counts
	// transport errors. Sample describes the first of them.
	BadShed, Other, Errors int
	Sample                 string
	Seconds                float64
	// P50 and P99 are of the OK answers, in seconds; MaxLag is how far the
	// open-loop schedule fell behind at worst.
	P50, P99, MaxLag float64
	// Healthz is the seconds GET /healthz took halfway through (-1: failed).
	Healthz float64
}

func main() {
	url := flag.String("url", "", "URL to GET")
	token := flag.String("token", "", "bearer token")
	health := flag.String("healthz", "", "URL to GET once halfway through")
	conc := flag.Int("c", 0, "closed loop: this many clients")
	rate := flag.Float64("rate", 0, "open loop: requests a second")
	dur := flag.Duration("d", 2*time.Second, "how long")
	maxOut := flag.Int("max-outstanding", 2000, "open loop: at most this many requests outstanding")
	flag.Parse()

	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var s summary
	var lat []time.Duration
	do := func() {
		req, _ := http.NewRequest("GET", *url, nil)
		req.Header.Set("Authorization", "Bearer "+*token)
		start := time.Now()
		resp, err := client.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		d := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		note := func(format string, args ...any) {
			if s.Sample == "" {
				s.Sample = fmt.Sprintf(format, args...)
			}
		}
		switch {
		case err != nil:
			s.Errors++
			note("error: %v", err)
		case resp.StatusCode == 200:
			s.OK++
			lat = append(lat, d)
		case resp.StatusCode == 503 || resp.StatusCode == 429:
			var e struct{ Error struct{ Code string } }
			if resp.Header.Get("Retry-After") != "1" || json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
				s.BadShed++
				note("shed answer %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			} else {
				s.Shed++
			}
		default:
			s.Other++
			note("status %d %s", resp.StatusCode, body)
		}
	}

	s.Healthz = -1
	var wg sync.WaitGroup
	start := time.Now()
	if *health != "" {
		wg.Add(1)
		time.AfterFunc(*dur/2, func() {
			defer wg.Done()
			t := time.Now()
			resp, err := client.Get(*health)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					s.Healthz = time.Since(t).Seconds()
					mu.Unlock()
				}
			}
		})
	}
	if *conc > 0 {
		var sent atomic.Int64
		for range *conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < *dur {
					sent.Add(1)
					do()
				}
			}()
		}
		wg.Wait()
		s.Sent = int(sent.Load())
	} else {
		var outstanding atomic.Int64
		var maxLag time.Duration
		for {
			elapsed := time.Since(start)
			if elapsed >= *dur {
				break
			}
			due := int(elapsed.Seconds() * *rate)
			if lag := elapsed - time.Duration(float64(s.Sent)/(*rate)*float64(time.Second)); due > s.Sent && lag > maxLag {
				maxLag = lag
			}
			for ; s.Sent < due && outstanding.Load() < int64(*maxOut); s.Sent++ {
				outstanding.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer outstanding.Add(-1)
					do()
				}()
			}
			time.Sleep(500 * time.Microsecond)
		}
		wg.Wait()
		s.MaxLag = maxLag.Seconds()
	}
	s.Seconds = time.Since(start).Seconds()
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		s.P50, s.P99 = lat[n/2].Seconds(), lat[min(n-1, n*99/100)].Seconds()
	}
	json.NewEncoder(os.Stdout).Encode(s)
}
