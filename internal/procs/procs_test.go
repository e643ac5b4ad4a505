package procs

import (
	"slices"
	"testing"
	"time"
)

func TestGovernor(t *testing.T) {
	t.Parallel()
	var count uint64
	var calls []int
	g := &Governor{Idle: 1, Busy: 2, Tick: 50 * time.Millisecond, Quiet: time.Second,
		Activity: func() uint64 { return count },
		set:      func(n int) int { calls = append(calls, n); return 0 },
	}
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	g.start(t0)
	steps := []struct {
		ms       int
		activity uint64
		want     int
	}{
		{50, 0, 1},     // nothing committed: one processor
		{100, 3, 2},    // commits: two at once
		{150, 3, 2},    // a pause shorter than Quiet keeps them
		{1050, 3, 2},   // still within Quiet of the last commit
		{1100, 3, 1},   // Quiet has passed: back to one
		{1150, 4, 2},   // a single commit raises it again
		{1200, 900, 2}, // a busy stretch changes nothing more
	}
	for _, s := range steps {
		count = s.activity
		g.observe(at(s.ms))
		if g.current != s.want {
			t.Errorf("at %d ms with activity %d: %d processors, want %d", s.ms, s.activity, g.current, s.want)
		}
	}
	// GOMAXPROCS is set only when it changes.
	if want := []int{1, 2, 1, 2}; !slices.Equal(calls, want) {
		t.Errorf("GOMAXPROCS set to %v, want %v", calls, want)
	}
}
