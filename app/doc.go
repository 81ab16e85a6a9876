// Package app is labhooks' application layer: every operation a user
// performs (emit an event, create, change, test, rotate, replay and delete a
// data link, retry a delivery, manage partners and event types, sign out),
// each one method of Service that validates its input, checks what the
// caller may do, applies the domain's rules (package labhooks), mints IDs,
// stores the result, and wakes the delivery engine. The JSON API (httpapi),
// the dashboard (dashboard) and the commands (cmd/labhooks) call it; none of
// them writes to the store itself.
//
// The path of one event: Service.Emit validates it against the catalog,
// targets it (EventType.Recipients over the store's Audience), stores it
// with its deliveries (Store.CreateEvent), and wakes the engine
// (delivery.Engine), which claims, signs, POSTs and records.
package app
