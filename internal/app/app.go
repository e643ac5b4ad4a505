// Package app assembles Ferry from its parts — the embedded store, the
// schema registry, the records service and its background jobs, the codecs
// and the HTTP handler — so that the command and the HTTP tests run the
// same service.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferry-dev/ferry/api"
	"github.com/ferry-dev/ferry/internal/audit"
	"github.com/ferry-dev/ferry/internal/gobcheck"
	"github.com/ferry-dev/ferry/internal/handlers"
	"github.com/ferry-dev/ferry/internal/metrics"
	"github.com/ferry-dev/ferry/internal/negotiate"
	"github.com/ferry-dev/ferry/internal/pebblestore"
	"github.com/ferry-dev/ferry/internal/records"
	"github.com/ferry-dev/ferry/internal/repcache"
	"github.com/ferry-dev/ferry/internal/schema"
)

// The store satisfies every consumer's interface.
var (
	_ records.Store    = (*pebblestore.Store)(nil)
	_ records.JobStore = (*pebblestore.Store)(nil)
	_ schema.Store     = (*pebblestore.Store)(nil)
	_ handlers.Pinger  = (*pebblestore.Store)(nil)
)

// Config is what the service is built from.
type Config struct {
	// DataDir is the embedded store's directory.
	DataDir string
	// SchemaDir, when set, holds schema files loaded at start-up.
	SchemaDir    string
	HistoryLimit int
	// CacheBytes bounds the memory of the caches, shared evenly between
	// stored records and their encoded representations.
	CacheBytes     int
	RequireIfMatch bool
	Limits         handlers.Limits
	// EventPing is how often a change event stream pings; zero is every
	// 15 seconds.
	EventPing time.Duration
	// BodyIdle is how long a request body may send nothing before it is
	// answered 408; zero is a minute.
	BodyIdle time.Duration
	Logger   zerolog.Logger
	// Version is the build's version, for ferry_build_info.
	Version string
}

// An App is a running Ferry without its listener.
type App struct {
	// Handler serves the whole API.
	Handler http.Handler
	store   *pebblestore.Store
	jobs    *records.Jobs
	ids     *handlers.RequestIDs
	logger  zerolog.Logger
	cancel  context.CancelFunc
}

// Open opens the store, loads the schemas, resumes unfinished jobs and
// builds the handler.
func Open(ctx context.Context, cfg Config) (_ *App, err error) {
	st, err := pebblestore.Open(ctx, cfg.DataDir, pebblestore.Options{HistoryLimit: cfg.HistoryLimit, CacheBytes: cfg.CacheBytes / 2})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	shutdown, cancel := context.WithCancel(context.Background())
	// a is not the result, which a failure sets to nil before this
	// deferred call runs: the store opened above must still be closed.
	a := &App{store: st, cancel: cancel, ids: handlers.NewRequestIDs(), logger: cfg.Logger}
	defer func() {
		if err != nil {
			err = errors.Join(err, a.Close())
		}
	}()
	registry := schema.NewRegistry(st)
	if err := registry.Load(ctx); err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	if cfg.SchemaDir != "" {
		if err := registry.LoadDir(ctx, cfg.SchemaDir); err != nil {
			return nil, fmt.Errorf("load schemas from %s: %w", cfg.SchemaDir, err)
		}
	}
	recs := records.New(st, registry, records.Options{RequireIfMatch: cfg.RequireIfMatch})
	a.jobs = records.NewJobs(recs, st, audit.NewJobLog(cfg.Logger))
	ids, err := st.Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	if err := a.jobs.Resume(ctx, ids); err != nil {
		return nil, fmt.Errorf("resume jobs: %w", err)
	}
	m := metrics.New(cfg.Version)
	m.ObserveStore(func() metrics.StoreStats {
		s := st.Stats()
		return metrics.StoreStats{Commits: s.Commits, Writes: s.Writes, Syncs: s.Syncs}
	})
	a.Handler, err = handlers.NewServer(handlers.Deps{
		Logger:    cfg.Logger,
		Metrics:   m,
		Codecs:    negotiate.NewDefaultRegistry(negotiate.Options{Gob: gobcheck.NewVetter(gobcheck.Limits{})}),
		Store:     st,
		Schemas:   registry,
		Records:   recs,
		Jobs:      a.jobs,
		Cache:     repcache.New(cfg.CacheBytes - cfg.CacheBytes/2),
		Limits:    cfg.Limits,
		OpenAPI:   api.OpenAPIYAML,
		Shutdown:  shutdown,
		EventPing: cfg.EventPing,
		BodyIdle:  cfg.BodyIdle,

		RequestIDs: a.ids,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ProblemListener wraps ln so that the answers Go's HTTP server writes
// before a request reaches a route are problems, with request ids from
// the same series as the routes' (see handlers.ProblemListener).
func (a *App) ProblemListener(ln net.Listener) net.Listener {
	return handlers.ProblemListener(ln, a.ids, a.logger)
}

// Commits counts the store's commits since it opened: it advances while
// anything is being written.
func (a *App) Commits() uint64 { return a.store.Stats().Commits }

// Shutdown ends long-polls and event streams, so that an HTTP server's
// Shutdown is not held up by them; they answer with what they have.
func (a *App) Shutdown() { a.cancel() }

// Close stops the background jobs, which save their state to resume at the
// next start, and closes the store. Call it once the HTTP server is done.
func (a *App) Close() error {
	a.cancel()
	if a.jobs != nil {
		a.jobs.Close()
	}
	return a.store.Close()
}
