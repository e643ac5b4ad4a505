//go:build race

package pebblestore

// raceEnabled reports that the race detector runs, whose shadow memory
// counts as anonymous memory of the process.
const raceEnabled = true
