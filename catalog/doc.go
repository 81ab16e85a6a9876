// Package catalog is labhooks' event catalog: the built-in event types of the
// seed page, the custom ones an admin registers, their JSON Schemas (draft
// 2020-12, compiled once) and examples, and the validation every emitted
// event's data goes through.
//
// Validation is where "personal data about the patient or result will never be
// shared via the webhook" is enforced: the schemas refuse unknown fields, and
// the personal-data guard refuses any string that looks like an email address
// or a phone number in events that are not meant to carry contact data.
package catalog
