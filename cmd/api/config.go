package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// config is the service's configuration: each setting is an environment
// variable FERRY_* and a flag of the same name in lower case with dashes.
type config struct {
	Addr            string
	DataDir         string
	Store           string
	APIKeysFile     string
	SchemaDir       string
	MaxBodyBytes    int64
	MaxImportBytes  int64
	MaxAtomicBytes  int64
	HistoryLimit    int
	CacheBytes      int
	RequireIfMatch  bool
	InsecureOpen    bool
	LogLevel        string
	ShutdownTimeout time.Duration
}

// setting describes one configuration entry for flags, environment and
// the README's table.
type setting struct {
	env, usage string
	bind       func(fs *flag.FlagSet, name, usage string)
}

func settings(c *config) []setting {
	return []setting{
		{"FERRY_ADDR", "listen address", func(fs *flag.FlagSet, n, u string) { fs.StringVar(&c.Addr, n, "127.0.0.1:8080", u) }},
		{"FERRY_DATA_DIR", "directory of the embedded store", func(fs *flag.FlagSet, n, u string) {
			fs.StringVar(&c.DataDir, n, "./data", u)
		}},
		{"FERRY_STORE", "store URL; empty for the embedded store", func(fs *flag.FlagSet, n, u string) {
			fs.StringVar(&c.Store, n, "", u)
		}},
		{"FERRY_API_KEYS_FILE", "API keys and their scopes; not available in this build", func(fs *flag.FlagSet, n, u string) {
			fs.StringVar(&c.APIKeysFile, n, "", u)
		}},
		{"FERRY_SCHEMA_DIR", "directory of schema files loaded at start-up", func(fs *flag.FlagSet, n, u string) {
			fs.StringVar(&c.SchemaDir, n, "", u)
		}},
		{"FERRY_MAX_BODY_BYTES", "largest single-record body, decompressed", func(fs *flag.FlagSet, n, u string) {
			fs.Int64Var(&c.MaxBodyBytes, n, 1<<20, u)
		}},
		{"FERRY_MAX_IMPORT_BYTES", "largest import stream", func(fs *flag.FlagSet, n, u string) {
			fs.Int64Var(&c.MaxImportBytes, n, 1<<30, u)
		}},
		{"FERRY_MAX_ATOMIC_IMPORT_BYTES", "largest atomic import stream, which is held in memory", func(fs *flag.FlagSet, n, u string) {
			fs.Int64Var(&c.MaxAtomicBytes, n, 32<<20, u)
		}},
		{"FERRY_HISTORY_LIMIT", "revisions kept per record (0 keeps all)", func(fs *flag.FlagSet, n, u string) {
			fs.IntVar(&c.HistoryLimit, n, 100, u)
		}},
		{"FERRY_CACHE_BYTES", "memory for cached records, half stored and half encoded (0 disables)", func(fs *flag.FlagSet, n, u string) {
			fs.IntVar(&c.CacheBytes, n, 64<<20, u)
		}},
		{"FERRY_REQUIRE_IF_MATCH", "refuse updates and deletes without If-Match (428)", func(fs *flag.FlagSet, n, u string) {
			fs.BoolVar(&c.RequireIfMatch, n, false, u)
		}},
		{"FERRY_INSECURE_OPEN", "serve without keys on a non-loopback address", func(fs *flag.FlagSet, n, u string) {
			fs.BoolVar(&c.InsecureOpen, n, false, u)
		}},
		{"FERRY_LOG_LEVEL", "debug, info, warn or error", func(fs *flag.FlagSet, n, u string) {
			fs.StringVar(&c.LogLevel, n, "info", u)
		}},
		{"FERRY_SHUTDOWN_TIMEOUT", "how long in-flight requests may finish on SIGTERM", func(fs *flag.FlagSet, n, u string) {
			fs.DurationVar(&c.ShutdownTimeout, n, 25*time.Second, u)
		}},
	}
}

// flagName turns FERRY_MAX_BODY_BYTES into max-body-bytes.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "FERRY_")), "_", "-")
}

// parseConfig reads defaults, then the environment, then flags: a flag
// given on the command line wins over the environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := settings(&c)
	for _, s := range all {
		s.bind(fs, flagName(s.env), s.usage)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		// A word the server does not take must not start it as if it
		// had not been given.
		return c, fmt.Errorf("config: unexpected argument %q; Ferry takes only flags", fs.Arg(0))
	}
	// The environment fills what the command line left out, so that a
	// flag wins even over a variable that would not parse.
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range all {
		if v := getenv(s.env); v != "" && !given[flagName(s.env)] {
			if err := fs.Set(flagName(s.env), v); err != nil {
				return c, fmt.Errorf("config: %s=%q: %w", s.env, v, err)
			}
		}
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("config: FERRY_MAX_BODY_BYTES must be positive"))
	}
	if c.MaxImportBytes < c.MaxBodyBytes {
		errs = append(errs, errors.New("config: FERRY_MAX_IMPORT_BYTES must be at least FERRY_MAX_BODY_BYTES"))
	}
	if c.MaxAtomicBytes < c.MaxBodyBytes {
		errs = append(errs, errors.New("config: FERRY_MAX_ATOMIC_IMPORT_BYTES must be at least FERRY_MAX_BODY_BYTES"))
	}
	if c.HistoryLimit < 0 {
		errs = append(errs, errors.New("config: FERRY_HISTORY_LIMIT must be 0 or more"))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, errors.New("config: FERRY_CACHE_BYTES must be 0 (no cache) or more"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("config: FERRY_SHUTDOWN_TIMEOUT must be positive, or requests in flight are cut off at shutdown"))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("config: FERRY_ADDR %q is not host:port: %w", c.Addr, err))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, fmt.Errorf("config: FERRY_ADDR %q: the port must be a number from 0 to 65535", c.Addr))
	} else if !c.InsecureOpen && !isLoopback(c.Addr) {
		errs = append(errs, fmt.Errorf("config: refusing to serve %s open to everyone: listen on a loopback address, or set FERRY_INSECURE_OPEN=true to accept the risk", c.Addr))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether addr listens only on a loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
