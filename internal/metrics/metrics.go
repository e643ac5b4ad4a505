// Package metrics holds Ferry's Prometheus collectors on a registry of its
// own, so that tests can build as many servers as they like and nothing is
// registered globally.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of Ferry's collectors and the registry that serves them.
type Metrics struct {
	registry *prometheus.Registry

	payloadBytes        *prometheus.HistogramVec // direction, format: ObservePayload
	codecDuration       *prometheus.HistogramVec // op, format: ObserveCodec
	DecodeFailures      *prometheus.CounterVec   // format, reason
	ValidationFailures  *prometheus.CounterVec   // schema, version
	VersionConversions  *prometheus.CounterVec   // schema, from, to
	DeprecatedRequests  *prometheus.CounterVec   // schema, version, key
	httpRequests        *prometheus.CounterVec   // route, method, code: ObserveRequest
	httpRequestDuration *prometheus.HistogramVec // route, method: ObserveRequest

	// requests holds the series of each route, method and status seen,
	// so that a request finds its two collectors with one lookup instead
	// of hashing its labels into each vector; payloads and codecs do the
	// same for payloadBytes and codecDuration.
	requests sync.Map // requestKey → *requestSeries
	payloads sync.Map // labelPair → prometheus.Observer
	codecs   sync.Map // labelPair → prometheus.Observer
}

// labelPair is the label values of a series of a vector with two labels.
type labelPair struct{ first, second string }

// observer returns the series of vec for the two label values, kept in
// cache after its first use.
func observer(cache *sync.Map, vec *prometheus.HistogramVec, first, second string) prometheus.Observer {
	k := labelPair{first, second}
	o, ok := cache.Load(k)
	if !ok {
		o, _ = cache.LoadOrStore(k, vec.WithLabelValues(first, second))
	}
	return o.(prometheus.Observer)
}

// ObservePayload records the size of a record payload received ("in") or
// sent ("out") in a format.
func (m *Metrics) ObservePayload(direction, format string, size int) {
	observer(&m.payloads, m.payloadBytes, direction, format).Observe(float64(size))
}

// ObserveCodec records the time a codec took to "encode" or "decode" one
// body in a format.
func (m *Metrics) ObserveCodec(op, format string, took time.Duration) {
	observer(&m.codecs, m.codecDuration, op, format).Observe(took.Seconds())
}

// requestKey names the series a request is counted in.
type requestKey struct {
	route, method string
	code          int
}

// requestSeries are the collectors of one route, method and status.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New builds the collectors and registers them, with the Go runtime and
// process collectors and ferry_build_info, on a fresh registry.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		payloadBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_payload_bytes",
			Help:    "Size of record payloads received and sent, in bytes.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 10),
		}, []string{"direction", "format"}),
		codecDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_codec_duration_seconds",
			Help:    "Time spent encoding and decoding bodies, in seconds.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}, []string{"op", "format"}),
		DecodeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_decode_failures_total",
			Help: "Request bodies refused by the decoders, by format and reason.",
		}, []string{"format", "reason"}),
		ValidationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_validation_failures_total",
			Help: "Bodies that decoded but failed schema validation.",
		}, []string{"schema", "version"}),
		VersionConversions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_version_conversions_total",
			Help: "Record conversions between schema versions.",
		}, []string{"schema", "from", "to"}),
		DeprecatedRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_deprecated_version_requests_total",
			Help: "Requests that used a deprecated schema version, by key.",
		}, []string{"schema", "version", "key"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		httpRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, in seconds.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 3, 12),
		}, []string{"route", "method"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ferry_build_info",
		Help:        "Build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		m.payloadBytes, m.codecDuration, m.DecodeFailures, m.ValidationFailures,
		m.VersionConversions, m.DeprecatedRequests, m.httpRequests, m.httpRequestDuration,
		buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// StoreStats are the running totals of a store's durable work.
type StoreStats struct {
	Commits, Writes, Syncs uint64
}

// ObserveStore exports a store's totals, read at each scrape:
// ferry_store_commits_total, ferry_store_writes_total and
// ferry_store_syncs_total. Writes over commits is how many writes share
// each fsync.
func (m *Metrics) ObserveStore(stats func() StoreStats) {
	counter := func(name, help string, pick func(StoreStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(pick(stats())) })
	}
	m.registry.MustRegister(
		counter("ferry_store_commits_total", "Batches committed to the store, each made durable by one log sync.",
			func(s StoreStats) uint64 { return s.Commits }),
		counter("ferry_store_writes_total", "Record writes committed to the store.",
			func(s StoreStats) uint64 { return s.Writes }),
		counter("ferry_store_syncs_total", "Syncs of the store's write-ahead log.",
			func(s StoreStats) uint64 { return s.Syncs }),
	)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// statusLabels are the labels of the status codes Ferry answers with,
// made once: a request should not allocate for its metrics.
var statusLabels = func() map[int]string {
	m := make(map[int]string)
	for code := 100; code < 600; code++ {
		if http.StatusText(code) != "" {
			m[code] = strconv.Itoa(code)
		}
	}
	return m
}()

func statusLabel(code int) string {
	if s, ok := statusLabels[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}

// ObserveRequest records one served HTTP request. A method outside
// HTTP's registered ones is counted as "other", so that clients cannot
// grow the label set without bound.
func (m *Metrics) ObserveRequest(route, method string, code int, elapsed time.Duration) {
	k := requestKey{route: route, method: methodLabel(method), code: code}
	s, ok := m.requests.Load(k)
	if !ok {
		s, _ = m.requests.LoadOrStore(k, &requestSeries{
			count:    m.httpRequests.WithLabelValues(k.route, k.method, statusLabel(code)),
			duration: m.httpRequestDuration.WithLabelValues(k.route, k.method),
		})
	}
	series := s.(*requestSeries)
	series.count.Inc()
	series.duration.Observe(elapsed.Seconds())
}

// methodLabel is method when it is one HTTP defines, and "other" if not.
// It returns a constant, so that the series it names does not keep the
// request's own string.
func methodLabel(method string) string {
	for _, m := range httpMethods {
		if method == m {
			return m
		}
	}
	return "other"
}

// httpMethods are the methods of RFC 9110.
var httpMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodConnect,
	http.MethodOptions, http.MethodTrace,
}
