package main

import "runtime"

// A groupCommitter applies every write queued while it was busy in one
// durable batch: one goroutine takes the first request, drains whatever
// else is queued, applies them together and answers them all.
type groupCommitter struct {
	queue chan *putRequest
	apply func(keys, values [][]byte) error
	done  chan struct{}
}

type putRequest struct {
	key, value []byte
	err        chan error
}

func newGroupCommitter(apply func(keys, values [][]byte) error) *groupCommitter {
	g := &groupCommitter{queue: make(chan *putRequest, 4096), apply: apply, done: make(chan struct{})}
	go g.run()
	return g
}

func (g *groupCommitter) put(key, value []byte) error {
	r := &putRequest{key: key, value: value, err: make(chan error, 1)}
	g.queue <- r
	return <-r.err
}

func (g *groupCommitter) close() {
	close(g.queue)
	<-g.done
}

func (g *groupCommitter) run() {
	defer close(g.done)
	for first := range g.queue {
		batch := []*putRequest{first}
	drain:
		for len(batch) < 1024 {
			select {
			case r, ok := <-g.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		keys := make([][]byte, len(batch))
		values := make([][]byte, len(batch))
		for i, r := range batch {
			keys[i], values[i] = r.key, r.value
		}
		err := g.apply(keys, values)
		for _, r := range batch {
			r.err <- err
		}
		if len(batch) > 1 {
			runtime.Gosched()
		}
	}
}
