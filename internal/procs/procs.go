// Package procs sizes the Go runtime's processors (GOMAXPROCS) to what
// Ferry is doing, for a process that has one CPU.
//
// On one CPU one processor serves reads best: a second one only adds
// switching between threads. Durable writes need a second one, because a
// goroutine that waits in fsync holds its processor until the runtime
// takes it back, and meanwhile nothing reads the requests that arrive, so
// writers stop sharing fsyncs. A Governor gives the process the second
// processor while writes are being committed, and takes it back once they
// have stopped for a while.
package procs

import (
	"context"
	"runtime"
	"time"
)

// A Governor raises GOMAXPROCS to Busy as soon as an activity counter
// advances, and lowers it to Idle once the counter has stood still for
// Quiet. The counter is read every Tick.
type Governor struct {
	Idle, Busy  int
	Tick, Quiet time.Duration
	// Activity returns a count that grows with the activity that needs
	// Busy processors, such as the store's commits.
	Activity func() uint64

	// set changes GOMAXPROCS and returns the previous setting; nil means
	// runtime.GOMAXPROCS.
	set func(int) int

	last    uint64
	lastAt  time.Time
	current int
}

// Run governs until ctx is done, starting at Idle.
func (g *Governor) Run(ctx context.Context) {
	t := time.NewTicker(g.Tick)
	defer t.Stop()
	g.start(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g.observe(now)
		}
	}
}

func (g *Governor) start(now time.Time) {
	if g.set == nil {
		g.set = runtime.GOMAXPROCS
	}
	g.last, g.lastAt = g.Activity(), now
	g.apply(g.Idle)
}

// observe reads the counter at now and sets the processors it calls for.
func (g *Governor) observe(now time.Time) {
	n := g.Activity()
	switch {
	case n != g.last:
		g.last, g.lastAt = n, now
		g.apply(g.Busy)
	case now.Sub(g.lastAt) >= g.Quiet:
		g.apply(g.Idle)
	}
}

func (g *Governor) apply(n int) {
	if n != g.current {
		g.set(n)
		g.current = n
	}
}
