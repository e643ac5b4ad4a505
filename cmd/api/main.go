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
	"runtime/debug"
	"syscall"
	"time"

	"github.com/ferry-dev/ferry/internal/app"
	"github.com/ferry-dev/ferry/internal/handlers"
	"github.com/ferry-dev/ferry/internal/procs"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// writeProcs is how many Ps Ferry runs with, at least, while it commits
// writes. With one, a goroutine blocked in the store's fsync holds it, and
// the network poller is not polled until the runtime takes it back:
// requests that arrived meanwhile are not read, so writers stop sharing
// fsyncs (measured on one core under load: about 2 writes per fsync with
// one P, 13 to 26 with two). Reads, though, are served best by one P on
// one core: with two, about 10% fewer a second. So on one core Ferry runs
// with one P, and with two while writes come in (see package procs).
const writeProcs = 2

// Timing of the P governor: how often it looks at the store's commits,
// and how long after the last one it goes back to one P.
const (
	procsTick  = 50 * time.Millisecond
	procsQuiet = time.Second
)

// gcPercent is the garbage collector's target when GOGC is not set. Most
// of what Ferry allocates is garbage of one request, and its live heap is
// small next to the memory of a server, so the runtime's default (100)
// collects very often: tens of times a second under load, each time
// stopping every goroutine for its stack. At 400 it collects a quarter as
// often for at most five times the live heap. GOGC, and GOMEMLIMIT to cap
// memory, still apply.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", err)
		os.Exit(1)
	}
}

// run builds the service from its configuration, serves until ctx is done,
// then shuts down gracefully. A store that fails to close (after a failed
// commit, say) fails the run, so that a supervisor sees it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
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
	if cfg.Store != "" {
		return fmt.Errorf("config: FERRY_STORE=%q: only the embedded store is available in this build; leave FERRY_STORE empty", cfg.Store)
	}
	// Serving openly when told to check keys would expose what the
	// operator meant to protect, gob decoding among it.
	if cfg.APIKeysFile != "" {
		return fmt.Errorf("config: FERRY_API_KEYS_FILE=%q: API keys are not available in this build; leave FERRY_API_KEYS_FILE empty and serve on loopback", cfg.APIKeysFile)
	}
	if cfg.InsecureOpen && !isLoopback(cfg.Addr) {
		logger.Warn().Str("addr", cfg.Addr).Msg("insecure: serving without API keys on a non-loopback address; anyone who can reach it can read and write")
	}
	service, err := app.Open(ctx, app.Config{
		DataDir:        cfg.DataDir,
		SchemaDir:      cfg.SchemaDir,
		HistoryLimit:   cfg.HistoryLimit,
		CacheBytes:     cfg.CacheBytes,
		RequireIfMatch: cfg.RequireIfMatch,
		Limits: handlers.Limits{
			MaxBodyBytes:   cfg.MaxBodyBytes,
			MaxImportBytes: cfg.MaxImportBytes,
			MaxAtomicBytes: cfg.MaxAtomicBytes,
		},
		Logger:  logger,
		Version: version,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := service.Close(); cerr != nil {
			logger.Error().Err(cerr).Msg("closing the store")
			if err == nil {
				err = fmt.Errorf("close the store: %w", cerr)
			}
		}
	}()
	if n := runtime.GOMAXPROCS(0); n < writeProcs {
		// It runs until run returns, through a graceful shutdown's last
		// writes.
		govern, stopGoverning := context.WithCancel(context.Background())
		defer stopGoverning()
		g := &procs.Governor{Idle: n, Busy: writeProcs, Tick: procsTick, Quiet: procsQuiet, Activity: service.Commits}
		go g.Run(govern)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln = service.ProblemListener(ln)
	srv := &http.Server{
		Handler:           service.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          newStdLogger(logger),
	}
	// Long-polls and event streams end when Shutdown starts and answer with
	// what they have; every other request in flight runs to its end.
	srv.RegisterOnShutdown(service.Shutdown)

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
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
		// A client still sending (or reading) after the grace period is
		// cut off: the service stops on time and closes its store, and
		// a write cut off before its commit was never acknowledged.
		logger.Warn().Dur("after", cfg.ShutdownTimeout).Msg("closing the connections still open")
		if err := srv.Close(); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info().Msg("stopped")
	return nil
}
