package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/problem"
	"github.com/ferry-dev/ferry/internal/records"
)

// defaultEventPing is how often an event stream sends a comment, so that
// proxies and clients know it is alive, whether events flow or not.
const defaultEventPing = 15 * time.Second

// maxSeq is the highest change sequence number a client may name
// (since, Last-Event-ID): more than any feed reaches.
const maxSeq = 1 << 62

// eventStream is the media type of server-sent events.
const eventStream = "text/event-stream"

// changeJSON is one change as JSON, in the feed and in events.
type changeJSON struct {
	Seq      uint64    `json:"seq"`
	ID       string    `json:"id"`
	Revision int64     `json:"revision"`
	Op       string    `json:"op"`
	At       time.Time `json:"at"`
}

type changesJSON struct {
	Changes []changeJSON `json:"changes"`
	LastSeq uint64       `json:"last_seq"`
}

func plainChanges(changes []records.Change, last uint64) changesJSON {
	out := changesJSON{Changes: make([]changeJSON, len(changes)), LastSeq: last}
	for i, c := range changes {
		out.Changes[i] = changeJSON{Seq: c.Seq, ID: c.ID, Revision: c.Revision, Op: c.Op, At: c.At}
	}
	return out
}

// changeEvent is the data of one change's event: the change as JSON and,
// with data set, the record that change made in that format (from the
// record's history when it has changed again since), null for a delete.
func (d *recordDeps) changeEvent(ctx context.Context, t target, c records.Change, data *recordFormat) ([]byte, error) {
	change := changeJSON{Seq: c.Seq, ID: c.ID, Revision: c.Revision, Op: c.Op, At: c.At}
	if data == nil {
		return json.Marshal(change)
	}
	withData := struct {
		changeJSON
		Data json.RawMessage `json:"data"`
		// Error says why data is null for a change that is not a
		// delete: the record cannot be shown at the asked version, or
		// that revision is no longer kept. The stream goes on, or a
		// client resuming from the event before would meet it again.
		Error string `json:"error,omitempty"`
	}{changeJSON: change, Data: json.RawMessage("null")}
	if c.Op != "delete" {
		rec, err := d.svc.RecordAt(ctx, t.name, c.ID, c.Revision)
		if err == nil {
			var body []byte
			if body, err = d.marshalRecord(t, rec, *data, nil); err == nil {
				withData.Data = body
			}
		}
		if why, ok := unshowable(err); ok {
			withData.Error = why
		} else if err != nil {
			return nil, err
		}
	}
	return json.Marshal(withData)
}

// unshowable says why a change's record cannot be given with it, when err
// is a problem with the record: one that cannot be shown at the asked
// version, or a revision no longer kept. Any other error fails the
// request instead.
func unshowable(err error) (string, bool) {
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.NotAcceptable && p.Kind != problem.NotFound {
		return "", false
	}
	return p.Detail, true
}

// mergeDone returns a context that ends when either ctx or other does.
func mergeDone(ctx, other context.Context) (context.Context, context.CancelFunc) {
	merged, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return merged, func() { stop(); cancel() }
}

// lastEventID returns the seq a reconnecting event stream resumes after:
// its Last-Event-ID, which wins over since, or since when it sends none.
// An id no stream sends (not a seq, or past any a feed reaches, as since
// is) is a 400.
func lastEventID(r *http.Request, since uint64) (uint64, error) {
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		return since, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(id), 10, 64)
	if err != nil || n > maxSeq {
		return 0, problem.New(problem.Invalid, "Last-Event-ID %q is not a change seq from 0 to %d", problem.Excerpt(id, maxEcho), uint64(maxSeq)).WithReason("header")
	}
	return n, nil
}

// streamChanges sends the change feed as server-sent events: first what
// happened after since, then each change as
// it happens, with a ping comment every d.eventPing. With data set, each event
// carries the record in that format (null for a delete). It ends cleanly
// when the client goes or the server shuts down.
func (d *recordDeps) streamChanges(w http.ResponseWriter, r *http.Request, t target, since uint64, data *recordFormat, shutdown context.Context) {
	ctx, cancel := mergeDone(r.Context(), shutdown)
	defer cancel()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", eventStream)
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", varyNegotiated)
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	requestInfoFrom(w).formatOut = "sse"
	if err := rc.Flush(); err != nil {
		return
	}
	// Pings go every d.eventPing, whether events flow or not.
	nextPing := time.Now().Add(d.eventPing)
	for {
		changes, last, err := d.svc.ChangeEvents(ctx, t.name, since, 1000)
		if err != nil {
			requestInfoFrom(w).logger.Warn().Err(err).Msg("change stream ended")
			return
		}
		for _, c := range changes {
			event, err := d.changeEvent(ctx, t, c, data)
			if err != nil {
				requestInfoFrom(w).logger.Warn().Err(err).Msg("change stream ended")
				return
			}
			if _, err := w.Write([]byte("id: " + strconv.FormatUint(c.Seq, 10) + "\nevent: change\ndata: " + string(event) + "\n\n")); err != nil {
				return
			}
		}
		since = last
		pinged := !time.Now().Before(nextPing)
		if pinged {
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
			nextPing = time.Now().Add(d.eventPing)
		}
		if len(changes) > 0 || pinged {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if len(changes) == 1000 {
			continue
		}
		waitCtx, cancelWait := context.WithDeadline(ctx, nextPing)
		err = d.svc.WaitChange(waitCtx, t.name, since) // a change, or time to ping
		waited := waitCtx.Err()
		cancelWait()
		if ctx.Err() != nil {
			return
		}
		if err != nil && waited == nil {
			// Not the time to ping: the store could not wait.
			requestInfoFrom(w).logger.Warn().Err(err).Msg("change stream ended")
			return
		}
	}
}
