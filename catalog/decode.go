package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/labhooks/labhooks"
)

// maxDepth bounds nesting so a hostile body cannot make decoding recurse
// without end; no real event comes near it.
const maxDepth = 64

// decodeJSON parses one JSON value the way the schema library expects it
// (numbers as json.Number). It refuses duplicate object keys: the compacted
// bytes keep both copies and a receiver's parser would see the one that was
// not validated, so "validated" has to mean "unambiguous" first.
//
// It reads tokens with jsontext, which unlike encoding/json's Decoder.Token
// neither boxes every token nor copies what it only looks at: on the emit
// path this is most of what validating an event costs.
func decodeJSON(what string, b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is required", what)
	}
	// A decoder could replace invalid UTF-8 while the compacted bytes kept
	// it; refusing it keeps what is validated and what is sent alike.
	if !utf8.Valid(b) {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is not valid UTF-8", what)
	}
	// Duplicate names are found below, where the error can name the field
	// as the rest of labhooks' messages do.
	d := &decoder{dec: jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true))}
	v, err := d.value(what, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: unexpected data after the value", what)
	}
	return v, nil
}

type decoder struct {
	dec *jsontext.Decoder
	// loc is where the decoder is, as object keys (string) and array indices
	// (int); it becomes a path only for an error, off the hot path.
	loc []any
}

func (d *decoder) path(root string) string {
	p := root
	for _, seg := range d.loc {
		switch seg := seg.(type) {
		case string:
			p = childPath(p, seg)
		case int:
			p += "[" + strconv.Itoa(seg) + "]"
		}
	}
	return p
}

func (d *decoder) value(root string, depth int) (any, error) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return nil, d.syntaxError(root, err)
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 't', 'f':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	}
	if depth >= maxDepth {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s: nested more than %d levels deep", d.path(root), maxDepth)
	}
	if tok.Kind() == '{' {
		obj := map[string]any{}
		for d.dec.PeekKind() != '}' {
			tok, err := d.dec.ReadToken()
			if err != nil {
				return nil, d.syntaxError(root, err)
			}
			k := tok.String() // jsontext lets only a string through here
			if _, dup := obj[k]; dup {
				return nil, labhooks.Errorf(labhooks.EInvalid, "%s: field %s appears twice", d.path(root), strconv.Quote(k))
			}
			d.loc = append(d.loc, k)
			x, err := d.value(root, depth+1)
			if err != nil {
				return nil, err
			}
			d.loc = d.loc[:len(d.loc)-1]
			obj[k] = x
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, d.syntaxError(root, err)
		}
		return obj, nil
	}
	// '[': ReadToken has refused anything else.
	arr := []any{}
	for d.dec.PeekKind() != ']' {
		d.loc = append(d.loc, len(arr))
		x, err := d.value(root, depth+1)
		if err != nil {
			return nil, err
		}
		d.loc = d.loc[:len(d.loc)-1]
		arr = append(arr, x)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, d.syntaxError(root, err)
	}
	return arr, nil
}

func (d *decoder) syntaxError(root string, err error) error {
	var se *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: it ends too early", root)
	case errors.As(err, &se):
		return labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: %s (at byte %d)", root, se.Err, se.ByteOffset)
	default:
		return labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: %s", root, err.Error())
	}
}

// childPath names field k of the object at path the way a JavaScript reader
// would write it: data.appointmentId, or data["odd key"].
func childPath(path, k string) string {
	if isIdent(k) {
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
