package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/ferry-dev/ferry/api"
	"github.com/ferry-dev/ferry/internal/negotiate"
)

// contract is api/openapi.yaml, loaded and validated once by TestMain; every
// request and response of these tests is checked against it.
var contract routers.Router

func TestMain(m *testing.M) {
	router, err := loadContract()
	if err != nil {
		fmt.Fprintln(os.Stderr, "handlers_test:", err)
		os.Exit(2)
	}
	contract = router
	registerBodyDecoders(negotiate.NewDefaultRegistry(negotiate.Options{}))
	os.Exit(m.Run())
}

func loadContract() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate api/openapi.yaml: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route api/openapi.yaml: %w", err)
	}
	return router, nil
}

// registerBodyDecoders teaches openapi3filter the formats Ferry speaks
// beyond JSON. Each decoder turns a body into the JSON data model (maps,
// slices, json.Number, strings, booleans, nil) so that the document's
// schemas apply to every format alike. The decoders are Ferry's own
// hardened ones: the tests send hostile bodies, and the stock libraries
// would exhaust memory on some of them before the service ever saw them.
func registerBodyDecoders(codecs *negotiate.Registry) {
	single := func(name string) openapi3filter.BodyDecoder {
		codec := codecs.Codec(name)
		return func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(r)
			if err != nil {
				return nil, err
			}
			var v any
			if err := codec.Decode(data, &v); err != nil {
				return nil, err
			}
			return jsonModel(v)
		}
	}
	for _, mt := range []string{"application/vnd.msgpack", "application/msgpack", "application/x-msgpack"} {
		openapi3filter.RegisterBodyDecoder(mt, single("msgpack"))
	}
	openapi3filter.RegisterBodyDecoder("application/cbor", single("cbor"))

	for _, sc := range codecs.Streams() {
		if sc.Name() == "gob-stream" {
			continue // binary strings in the document
		}
		for _, mt := range sc.MediaTypes() {
			openapi3filter.RegisterBodyDecoder(mt, streamDecoder(sc))
		}
	}
	for _, mt := range []string{"text/html", "text/x-go", "text/event-stream"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
}

func streamDecoder(sc negotiate.StreamCodec) openapi3filter.BodyDecoder {
	return func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		dec := sc.NewDecoder(r, 64<<20)
		out := make([]any, 0)
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			j, err := jsonModel(v)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
	}
}

// jsonModel converts a schemaless value into what encoding/json with
// UseNumber would have produced for its JSON form.
func jsonModel(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, json.Number:
		return x, nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case *big.Int:
		return json.Number(x.String()), nil
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			j, err := jsonModel(e)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			j, err := jsonModel(e)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		// Only PlainData carries non-string keys, and it admits any value:
		// the keys are written as text to give it an object to look at.
		out := make(map[string]any, len(x))
		for k, e := range x {
			j, err := jsonModel(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = j
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%T has no JSON form", v)
	}
}

// validateAgainstContract checks one exchange against the document: the
// request (as sent, after removing its content coding) and the response
// (after removing its content coding). It returns the request's violation
// and the response's violation separately, because a test may send a
// request that breaks the contract on purpose; route is nil when the
// document has no operation for the method and path. With bodyUnread only
// the response's status and headers are checked; a nil reqBody for a
// request that had one skips the request body.
func validateAgainstContract(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte, bodyUnread bool) (route *routers.Route, reqErr, respErr error) {
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	vreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	vreq.ContentLength = int64(len(reqBody))
	vreq.Header.Del("Content-Encoding")
	route, params, err := contract.FindRoute(vreq)
	if err != nil {
		return nil, err, nil
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		ExcludeRequestBody: reqBody == nil && req.ContentLength > 0,
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: params,
		Route:      route,
		Options:    opts,
	}
	reqErr = openapi3filter.ValidateRequest(context.Background(), in)

	respOpts := *opts
	if bodyUnread || len(respBody) == 0 && (status == http.StatusCreated || status == http.StatusNoContent || status == http.StatusAccepted) {
		respOpts.ExcludeResponseBody = true
	}
	in.Options = &respOpts
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header.Clone(),
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                &respOpts,
	}
	rin.Header.Del("Content-Encoding")
	respErr = openapi3filter.ValidateResponse(context.Background(), rin)
	return route, reqErr, respErr
}
