package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestNoLostUpdates runs read-modify-write cycles with If-Match from many
// clients on one counter; a write that lost the race gets 412 and retries.
// The counter must end equal to the number of successful writes. Half the
// clients read CBOR and write JSON, so If-Match crosses representations.
func TestNoLostUpdates(t *testing.T) {
	t.Parallel()
	s := MustServer(t)
	s.MustRegister(t, counterV1)
	s.SendJSON(t, http.MethodPut, "/v1/records/counter/c", map[string]any{"n": 0}).MustStatus(t, http.StatusCreated)

	const (
		clients   = 32
		successes = 3   // per client
		attempts  = 400 // per client, a bound for a broken service
	)
	var ok, conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			viaCBOR := c%2 == 1
			won := 0
			for a := 0; a < attempts && won < successes; a++ {
				accept := "application/json"
				if viaCBOR {
					accept = "application/cbor"
				}
				get, err := s.Exchange(context.Background(), t, Call{Method: http.MethodGet, Path: "/v1/records/counter/c", Header: hdr("Accept", accept)})
				if err != nil {
					errs <- err
					return
				}
				if get.Status != 200 {
					errs <- fmt.Errorf("client %d: GET status %d", c, get.Status)
					return
				}
				var doc struct {
					N int64 `json:"n" cbor:"n"`
				}
				if viaCBOR {
					err = cbor.Unmarshal(get.Body, &doc)
				} else {
					err = json.Unmarshal(get.Body, &doc)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d: decode %q: %v", c, get.Body, err)
					return
				}
				body, _ := json.Marshal(map[string]any{"n": doc.N + 1})
				put, err := s.Exchange(context.Background(), t, Call{Method: http.MethodPut, Path: "/v1/records/counter/c", Body: body,
					Header: hdr("Content-Type", "application/json", "If-Match", get.Header.Get("ETag"), "Prefer", "return=minimal")})
				if err != nil {
					errs <- err
					return
				}
				switch {
				case put.Status >= 200 && put.Status < 300:
					ok.Add(1)
					won++
				case put.Status == http.StatusPreconditionFailed:
					conflicts.Add(1)
				default:
					errs <- fmt.Errorf("client %d: PUT status %d: %s", c, put.Status, put.Body)
					return
				}
			}
			if won < successes {
				errs <- fmt.Errorf("client %d: %d successful writes in %d attempts", c, won, attempts)
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	final := s.Get(t, "/v1/records/counter/c").MustStatus(t, 200)
	var doc struct {
		N int64 `json:"n"`
	}
	if err := json.Unmarshal(final.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.N != ok.Load() {
		t.Errorf("counter = %d after %d successful If-Match writes (%d conflicts): updates were lost", doc.N, ok.Load(), conflicts.Load())
	}
	if rev := final.Header.Get("Ferry-Revision"); rev != fmt.Sprint(ok.Load()+1) {
		t.Errorf("Ferry-Revision %s, want %d (create plus every successful write)", rev, ok.Load()+1)
	}
	t.Logf("%d writes succeeded, %d lost the race and retried", ok.Load(), conflicts.Load())
}
