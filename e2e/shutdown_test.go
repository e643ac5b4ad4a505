package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sseEvent is one server-sent event of the change feed.
type sseEvent struct {
	id, event, data string
}

// readEvents parses an event stream into events until the stream ends,
// then sends the error that ended it (nil for a clean end) on done.
func readEvents(body io.Reader, events chan<- sseEvent, done chan<- error) {
	sc := bufio.NewScanner(body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	close(events)
	done <- sc.Err()
}

type change struct {
	Seq      uint64    `json:"seq"`
	ID       string    `json:"id"`
	Revision int64     `json:"revision"`
	Op       string    `json:"op"`
	At       time.Time `json:"at"`
}

type changes struct {
	Changes []change `json:"changes"`
	LastSeq uint64   `json:"last_seq"`
}

// nextEvent waits for the next event of the stream.
func nextEvent(t *testing.T, events <-chan sseEvent) (sseEvent, change) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("event stream ended early")
		}
		var c change
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("event %+v: data is not a change: %v", ev, err)
		}
		if ev.event != "change" || ev.id != strconv.FormatUint(c.Seq, 10) {
			t.Errorf("event %+v: want event: change and id: %d", ev, c.Seq)
		}
		return ev, c
	case <-time.After(requestTimeout):
		t.Fatalf("no event within %v", requestTimeout)
	}
	panic("unreachable")
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			s := startServer(t, dataDir)
			registerNote(t, s)
			bodies := map[string]string{
				"first":  `{"title":"before the stream","count":1,"at":"2026-01-02T03:04:05.000000001Z","tags":["a"]}`,
				"second": `{"title":"during the stream","count":2,"at":"2026-01-02T03:04:05Z","tags":[],"blob":"AAE="}`,
			}
			s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/first", hdr("Content-Type", "application/json"), []byte(bodies["first"]))

			// An event stream from the start: it replays the first write, then
			// sends the second as it happens.
			sseCtx, cancelSSE := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancelSSE()
			req, _ := http.NewRequestWithContext(sseCtx, http.MethodGet, s.base+"/v1/records/note/_changes?since=0", nil)
			req.Header.Set("Accept", "text/event-stream")
			sse, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET _changes as an event stream: %v", err)
			}
			defer sse.Body.Close()
			if sse.StatusCode != http.StatusOK || !strings.HasPrefix(sse.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("GET _changes as an event stream: status %d, Content-Type %q; want 200 text/event-stream", sse.StatusCode, sse.Header.Get("Content-Type"))
			}
			events := make(chan sseEvent, 16)
			sseDone := make(chan error, 1)
			go readEvents(sse.Body, events, sseDone)
			if _, c := nextEvent(t, events); c.ID != "first" || c.Op != "create" || c.Revision != 1 {
				t.Errorf("first event: %+v, want the create of first at revision 1", c)
			}
			s.expect(t, http.StatusCreated, http.MethodPut, "/v1/records/note/second", hdr("Content-Type", "application/json"), []byte(bodies["second"]))
			_, c := nextEvent(t, events)
			if c.ID != "second" || c.Op != "create" {
				t.Errorf("live event: %+v, want the create of second", c)
			}
			last := c.Seq

			// A long-poll that would wait a minute for a change after last.
			type pollResult struct {
				resp *http.Response
				body []byte
				err  error
				at   time.Time
			}
			polled := make(chan pollResult, 1)
			wrote := make(chan struct{})
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/records/note/_changes?wait=60&since="+strconv.FormatUint(last, 10), nil)
				resp, err := http.DefaultClient.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				polled <- pollResult{resp, body, err, time.Now()}
			}()
			select {
			case <-wrote:
			case <-time.After(requestTimeout):
				t.Fatal("the long-poll request was not sent")
			}
			// Give the server a moment to read the request, so that the
			// signal finds it waiting; its access line shows it did.
			const settle = 500 * time.Millisecond
			time.Sleep(settle)

			sigAt := time.Now()
			code, took := s.signal(t, sig, 30*time.Second)
			if code != 0 {
				t.Errorf("exit code after %v: %d, want 0; stderr: %s", sig, code, s.stderr.String())
			}
			t.Logf("exited %v after %v", code, took.Round(time.Millisecond))

			select {
			case p := <-polled:
				if p.err != nil {
					t.Fatalf("long-poll in flight at %v: %v, want a 200", sig, p.err)
				}
				if d := p.at.Sub(sigAt); d > 5*time.Second {
					t.Errorf("long-poll answered %v after %v, want promptly", d, sig)
				}
				var got changes
				if p.resp.StatusCode != http.StatusOK || json.Unmarshal(p.body, &got) != nil || len(got.Changes) != 0 || got.LastSeq != last {
					t.Errorf("long-poll in flight at %v: status %d body %s, want 200 with no changes and last_seq %d", sig, p.resp.StatusCode, p.body, last)
				}
				rid := p.resp.Header.Get("X-Request-Id")
				e := s.findLog(func(e map[string]any) bool { return e["request_id"] == rid && e["message"] == "request" })
				if d, _ := e["duration"].(float64); e == nil || time.Duration(d*float64(time.Millisecond)) < settle/5 {
					t.Errorf("long-poll access line %v: want a duration showing it waited before %v", e, sig)
				}
			case <-time.After(requestTimeout):
				t.Fatalf("long-poll did not answer within %v of %v", requestTimeout, sig)
			}

			select {
			case err := <-sseDone:
				if err != nil {
					t.Errorf("event stream open at %v ended with %v, want a clean end of stream", sig, err)
				}
				for ev := range events {
					t.Errorf("unexpected event after the live one: %+v", ev)
				}
			case <-time.After(requestTimeout):
				t.Fatalf("event stream still open %v after %v", requestTimeout, sig)
			}
			for _, msg := range []string{"shutting down", "stopped"} {
				if s.findLog(func(e map[string]any) bool { return e["message"] == msg }) == nil {
					t.Errorf("no %q log line after %v", msg, sig)
				}
			}

			// Everything written before the signal is there after a restart.
			s2 := startServer(t, dataDir)
			_, data := s2.expect(t, http.StatusOK, http.MethodGet, "/v1/schemas/note", nil, nil)
			var sch struct {
				Name     string            `json:"name"`
				Versions []json.RawMessage `json:"versions"`
			}
			if err := json.Unmarshal(data, &sch); err != nil || sch.Name != "note" || len(sch.Versions) != 1 {
				t.Errorf("after restart, GET /v1/schemas/note: %s, want note with one version", data)
			}
			for id, body := range bodies {
				resp, data := s2.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/"+id, nil, nil)
				var got, want note
				_ = json.Unmarshal([]byte(body), &want)
				if err := json.Unmarshal(data, &got); err != nil || !got.equal(want) {
					t.Errorf("after restart, GET %s: %s, want %s", id, data, body)
				}
				if rev := resp.Header.Get("Ferry-Revision"); rev != "1" {
					t.Errorf("after restart, GET %s: Ferry-Revision %q, want 1", id, rev)
				}
			}
			_, data = s2.expect(t, http.StatusOK, http.MethodGet, "/v1/records/note/_changes?since=0", nil, nil)
			var feed changes
			if err := json.Unmarshal(data, &feed); err != nil || len(feed.Changes) != 2 || feed.LastSeq != last {
				t.Errorf("after restart, GET _changes?since=0: %s, want both creates and last_seq %d", data, last)
			}
			if code, _ := s2.signal(t, syscall.SIGTERM, 30*time.Second); code != 0 {
				t.Errorf("restarted server: exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}
