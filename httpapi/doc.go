// Package httpapi serves labhooks' JSON API (SPEC §5) over the application
// layer (package app), and holds a Go client of the API for the command
// line. Handlers decode a request, call one app.Service operation and encode
// its answer; they return errors, and one function turns a *labhooks.Error
// into its status (ErrorStatus, the one table from codes to statuses, which
// the dashboard shares) and the {"error":{"code","message","field"}} body.
package httpapi
