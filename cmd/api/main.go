// Command api runs the Ferry service: typed records in JSON, MessagePack,
// CBOR and gob, validated against versioned schemas and stored durably.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/ferry-dev/ferry/api"
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

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// minProcs is the fewest Ps Ferry runs with. With one, a goroutine blocked
// in the store's fsync holds it, and the network poller is not polled until
// the runtime takes it back: requests that arrived meanwhile are not read,
// so writers stop sharing fsyncs (measured on one core under load: about
// 2 writes per fsync with one P, 13 to 26 with two). Two Ps on one core
// use no more CPU than one.
const minProcs = 2

func main() {
	if runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", err)
		os.Exit(1)
	}
}

// run builds the service from its configuration, serves until ctx is done,
// then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := newLogger(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	if cfg.InsecureOpen && !isLoopback(cfg.Addr) {
		logger.Warn().Str("addr", cfg.Addr).Msg("insecure: serving without API keys on a non-loopback address; anyone who can reach it can read and write")
	}

	if cfg.Store != "" {
		return fmt.Errorf("config: FERRY_STORE=%q: only the embedded store is available in this build; leave FERRY_STORE empty", cfg.Store)
	}
	st, err := pebblestore.Open(ctx, cfg.DataDir, pebblestore.Options{HistoryLimit: cfg.HistoryLimit})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error().Err(err).Msg("closing the store")
		}
	}()
	registry := schema.NewRegistry(st)
	if err := registry.Load(ctx); err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	if cfg.SchemaDir != "" {
		if err := registry.LoadDir(ctx, cfg.SchemaDir); err != nil {
			return fmt.Errorf("load schemas from %s: %w", cfg.SchemaDir, err)
		}
	}
	recs := records.New(st, registry, records.Options{RequireIfMatch: cfg.RequireIfMatch})
	jobs := records.NewJobs(recs, st)
	defer jobs.Close()
	if ids, err := st.Jobs(ctx); err != nil {
		return fmt.Errorf("list jobs: %w", err)
	} else if err := jobs.Resume(ctx, ids); err != nil {
		return fmt.Errorf("resume jobs: %w", err)
	}

	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	handler, err := handlers.NewServer(handlers.Deps{
		Logger:  logger,
		Metrics: metrics.New(version),
		Codecs:  negotiate.NewDefaultRegistry(negotiate.Options{Gob: gobcheck.NewVetter(gobcheck.Limits{})}),
		Store:   st,
		Schemas: registry,
		Records: recs,
		Jobs:    jobs,
		Cache:   repcache.New(cfg.CacheBytes),
		Limits: handlers.Limits{
			MaxBodyBytes:   cfg.MaxBodyBytes,
			MaxImportBytes: cfg.MaxImportBytes,
		},
		OpenAPI:  api.OpenAPIYAML,
		Shutdown: baseCtx,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          newStdLogger(logger),
	}
	// Long-polls and event streams watch the base context: cancelling it on
	// shutdown lets them answer with what they have instead of holding
	// Shutdown until its deadline.
	srv.RegisterOnShutdown(cancelBase)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info().Str("addr", ln.Addr().String()).Str("version", version).Msg("serving")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info().Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info().Msg("stopped")
	return nil
}
