// Package httpapi serves labhooks' HTTP API (SPEC §5) over a labhooks.Store,
// and holds a Go client of that API for the command line. Handlers return
// errors; one function turns a *labhooks.Error into its status and the
// {"error":{"code","message"}} body.
package httpapi
