package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"
)

// ProblemListener wraps ln so that the few answers net/http writes itself,
// before any handler runs, are application/problem+json like every other
// error: headers over the server's cap (431), a request it cannot parse
// (400), a transfer coding or an HTTP version it does not know (which it
// answers 501 and 505, and Ferry 400, as the fault is the client's) and
// an Expect other than
// 100-continue (417). net/http writes each of them
// in one call, as plain text, and closes the connection. Each problem has
// an id from ids as its instance and X-Request-Id, as a request's has, and
// a line in logger's log under that id.
func ProblemListener(ln net.Listener, ids *RequestIDs, logger zerolog.Logger) net.Listener {
	return problemListener{Listener: ln, ids: ids, logger: &logger}
}

type problemListener struct {
	net.Listener
	ids    *RequestIDs
	logger *zerolog.Logger
}

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c, ids: l.ids, logger: l.logger}, nil
}

// stdErrorHeaders is what net/http writes between the status line and the
// text of an answer of its own, and nowhere else.
const stdErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// expectationFailed is the status of net/http's answer to an Expect
// header it does not know.
const expectationFailed = "417 Expectation Failed\r\n"

// maxStdError bounds the answers looked at: net/http's own are a status
// line and a sentence.
const maxStdError = 1 << 10

// problemConn rewrites net/http's own plain-text answers as problems.
type problemConn struct {
	net.Conn
	ids    *RequestIDs
	logger *zerolog.Logger
}

func (c *problemConn) Write(b []byte) (int, error) {
	if p, ok := problemForStdError(b, c.ids.make); ok {
		c.logger.Info().Str("request_id", p.id).Int("status", p.status).Str("remote", c.RemoteAddr().String()).
			Msg("answered before the request reached a route")
		if _, err := c.Conn.Write(p.doc); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// A stdProblem is one of net/http's own answers rewritten as a problem.
type stdProblem struct {
	doc    []byte // the whole answer, status line to body
	status int
	id     string
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection, so that the client reads the answer
// before the reset that unread request bytes would cause.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the connection's own ReadFrom (sendfile, splice) for
// bodies copied from a file or a socket; those never hold an answer of
// net/http's own.
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// problemForStdError recognises one of net/http's own answers in b
// ("HTTP/1.1 431 Request Header Fields Too Large" + stdErrorHeaders +
// text) and returns the same answer as a problem whose instance is an id
// newID makes.
func problemForStdError(b []byte, newID func() string) (stdProblem, bool) {
	// net/http answers a request in its own version, HTTP/1.0 or 1.1.
	const protoLen = len("HTTP/1.1 ")
	if len(b) > maxStdError || len(b) < protoLen+3 || !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) && !bytes.HasPrefix(b, []byte("HTTP/1.0 ")) ||
		(b[protoLen] != '4' && b[protoLen] != '5') {
		return stdProblem{}, false
	}
	proto := string(b[:protoLen])
	statusEnd := bytes.Index(b, []byte("\r\n"))
	if statusEnd < 0 {
		return stdProblem{}, false
	}
	var text []byte
	switch {
	case bytes.HasPrefix(b[statusEnd:], []byte(stdErrorHeaders)):
		// net/http's own answers have these headers alone, right after
		// the status line; every response of a handler has others
		// (Date) first.
		text = b[statusEnd+len(stdErrorHeaders):]
	case bytes.HasPrefix(b[protoLen:], []byte(expectationFailed)) && bytes.HasSuffix(b, []byte("\r\nContent-Length: 0\r\n\r\n")):
		// The empty 417 net/http sends for an Expect other than
		// 100-continue; Ferry itself never answers 417. Its detail is
		// the table's.
		text = nil
	default:
		return stdProblem{}, false
	}
	status, err := strconv.Atoi(string(b[protoLen : protoLen+3]))
	if err != nil || http.StatusText(status) == "" {
		return stdProblem{}, false
	}
	// The text repeats the status ("400 Bad Request: missing required
	// Host header"); what follows it, if anything, is the detail.
	detail := string(text)
	if rest, found := bytes.CutPrefix(text, []byte(strconv.Itoa(status)+" "+http.StatusText(status))); found {
		detail = string(bytes.TrimPrefix(rest, []byte(": ")))
	}
	switch status {
	case http.StatusNotImplemented:
		// A transfer coding net/http does not know: the request is at
		// fault, not the service.
		status = http.StatusBadRequest
	case http.StatusHTTPVersionNotSupported:
		// A request line naming HTTP/2.0 or 0.9, say: the client's
		// fault too.
		status, detail = http.StatusBadRequest, unspokenVersion
	}
	known, ok := stdAnswers[status]
	if !ok {
		known = stdAnswer{slug: "http", detail: http.StatusText(status)}
	}
	if detail == "" {
		detail = known.detail
	}
	id := newID()
	body, err := json.Marshal(map[string]any{
		"type":     "/problems/" + known.slug,
		"title":    http.StatusText(status),
		"status":   status,
		"detail":   validText(detail),
		"instance": id,
	})
	if err != nil {
		return stdProblem{}, false
	}
	var out bytes.Buffer
	out.Grow(len(body) + 200)
	out.WriteString(proto + strconv.Itoa(status) + " " + http.StatusText(status))
	out.WriteString("\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\nConnection: close\r\nX-Request-Id: " + id + "\r\nContent-Length: ")
	out.WriteString(strconv.Itoa(len(body)))
	out.WriteString("\r\n\r\n")
	out.Write(body)
	return stdProblem{doc: out.Bytes(), status: status, id: id}, true
}

// A stdAnswer is the problem type and the detail, when net/http gives
// none, of a status net/http answers itself.
type stdAnswer struct{ slug, detail string }

var stdAnswers = map[int]stdAnswer{
	http.StatusRequestHeaderFieldsTooLarge: {"header-too-large", "the request's header fields are larger than the limit"},
	http.StatusBadRequest:                  {"invalid", "the request is not well-formed HTTP/1.1"},
	http.StatusExpectationFailed:           {"expectation-failed", "the Expect header asks for an expectation this server does not meet (it meets 100-continue only)"},
}

// unspokenVersion is the detail of the 400 to a request in an HTTP version
// other than 1.x.
const unspokenVersion = "the request names an HTTP version Ferry does not speak over HTTP/1 (it speaks HTTP/1.0 and HTTP/1.1)"
