package main

import (
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/rs/zerolog"
)

// newLogger builds the JSON logger every part of the service writes to.
func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("config: FERRY_LOG_LEVEL %q is not one of debug, info, warn, error", level)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// newStdLogger routes net/http's own messages (TLS handshakes, header
// limits) into the JSON log.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(levelWriter{l.With().Str("component", "http").Logger()}, "", 0)
}

type levelWriter struct{ l zerolog.Logger }

func (w levelWriter) Write(p []byte) (int, error) {
	w.l.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
