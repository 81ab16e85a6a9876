package labhooks

import (
	"unicode"
	"unicode/utf8"
)

// ValidateText refuses what may not stand in a name or a description,
// whichever database keeps it: invalid UTF-8, control characters (C0, DEL,
// C1, NUL among them; PostgreSQL cannot store NUL and SQLite would keep
// it), line and paragraph separators, and the invisible format characters
// that reorder or hide text, bidirectional overrides, embeddings and
// isolates (U+202A–U+202E, U+2066–U+2069) above all: a name shown in the
// dashboard or a receiver's log must read as it is stored. The zero-width
// joiner and non-joiner (U+200C, U+200D) stay allowed, as scripts and emoji
// need them. Names and descriptions are one line. EInvalid on field.
func ValidateText(field, s string) error {
	if !utf8.ValidString(s) {
		return FieldErrorf(EInvalid, field, "must be UTF-8 text")
	}
	for i, r := range s {
		if why := forbiddenRune(r); why != "" {
			return FieldErrorf(EInvalid, field, "%s (%U at byte %d) is not allowed", why, r, i)
		}
	}
	return nil
}

// forbiddenRune says what r is if it may not stand in a name or a
// description, else "".
func forbiddenRune(r rune) string {
	switch {
	case r == '\n' || r == '\r' || r == '\t':
		return "a line break or tab; write one line"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case r == '\u2028' || r == '\u2029':
		return "a line break; write one line"
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069', r == '\u200E', r == '\u200F', r == '\u061C':
		return "a bidirectional control character"
	case r == '\u200C' || r == '\u200D':
		return ""
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	}
	return ""
}
