// Package api carries Ferry's OpenAPI document inside the binary, so that the
// service describes itself with no files beside it.
package api

import _ "embed"

// OpenAPIYAML is api/openapi.yaml as built into the binary.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
