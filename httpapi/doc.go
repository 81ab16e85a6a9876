// Package httpapi serves labhooks' HTTP API (SPEC §5) over a labhooks.Store,
// the dashboard at "/" (server-rendered pages from templates and assets
// embedded in the binary, sharing the API's rules), and holds a Go client of
// the API for the command line. Handlers return errors; one function turns a
// *labhooks.Error into its status and the {"error":{"code","message"}} body,
// and another into an HTML error page for the dashboard.
package httpapi
