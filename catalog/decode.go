package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/labhooks/labhooks"
)

// maxDepth bounds nesting so a hostile body cannot make decoding recurse
// without end; no real event comes near it.
const maxDepth = 64

// decodeJSON parses one JSON value the way the schema library expects it
// (numbers as json.Number). It refuses duplicate object keys: the compacted
// bytes keep both copies and a receiver's parser would see the one that was
// not validated, so "validated" has to mean "unambiguous" first.
func decodeJSON(what string, b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is required", what)
	}
	// Go's decoder would replace invalid UTF-8 silently while the compacted
	// bytes kept it; refusing it keeps what is validated and what is sent alike.
	if !utf8.Valid(b) {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is not valid UTF-8", what)
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(b))}
	d.dec.UseNumber()
	v, err := d.value(what, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: unexpected data after the value", what)
	}
	return v, nil
}

type decoder struct {
	dec *json.Decoder
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
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.syntaxError(root, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, labhooks.Errorf(labhooks.EInvalid, "%s: nested more than %d levels deep", d.path(root), maxDepth)
	}
	switch delim {
	case '{':
		obj := map[string]any{}
		for d.dec.More() {
			tok, err := d.dec.Token()
			if err != nil {
				return nil, d.syntaxError(root, err)
			}
			k, _ := tok.(string) // the decoder only lets a string through here
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
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntaxError(root, err)
		}
		return obj, nil
	default: // '[': the decoder returns no closing delimiter here
		arr := []any{}
		for d.dec.More() {
			d.loc = append(d.loc, len(arr))
			x, err := d.value(root, depth+1)
			if err != nil {
				return nil, err
			}
			d.loc = d.loc[:len(d.loc)-1]
			arr = append(arr, x)
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.syntaxError(root, err)
		}
		return arr, nil
	}
}

func (d *decoder) syntaxError(root string, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: %s (at byte %d)", root, se.Error(), se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return labhooks.Errorf(labhooks.EInvalid, "%s is not valid JSON: it ends too early", root)
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
