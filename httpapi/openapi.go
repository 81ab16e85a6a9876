package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the API's OpenAPI 3.1 document (SPEC §5), written by
// hand: keep it in step with the routes, the shapes and the errors.
// openapi_test.go checks that it is valid, that it documents every /v1 route
// and no other, and that real answers match it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the API's OpenAPI document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	// A failed write means the client went away; there is no one to tell.
	w.Write(openAPIDocument)
	return nil
}
