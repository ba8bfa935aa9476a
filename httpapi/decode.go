package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pathhook/pathhook"
)

// MaxBodySize is the largest request body the API reads: 1 MiB.
const MaxBodySize = 1 << 20

// decode reads r's JSON body into v, a pointer to an input struct. An empty
// body is EMALFORMED unless optional is set, when it leaves v as it is.
//
// It answers, by the kind of fault:
//   - a body over MaxBodySize: ETOOLARGE (413);
//   - a Content-Type that is not JSON: 415;
//   - bytes that are not exactly one JSON value: EMALFORMED (400);
//   - JSON of the wrong shape (unknown fields, wrong types): EINVALID (422)
//     naming every such field, found by checkShape.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return pathhook.Errorf(pathhook.ETOOLARGE, "the request body is larger than %d bytes", MaxBodySize)
	} else if err != nil {
		return pathhook.Errorf(pathhook.EMALFORMED, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return pathhook.Errorf(pathhook.EMALFORMED, "a JSON request body is required")
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	raw, err := parseJSON(body)
	if err != nil {
		return err
	}
	var fields []pathhook.FieldError
	checkShape(raw, typeOf(v), "", &fields)
	if len(fields) > 0 {
		return invalid(fields)
	}
	// The shape check has accepted the body (one JSON value, known fields
	// only, each of its type), so this decoding is expected to succeed;
	// should it not, the error still names the field where it can.
	if err := json.Unmarshal(body, v); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
			return pathhook.Invalid(te.Field, "must be %s", jsonKind(te.Type))
		}
		return pathhook.Invalid("body", "does not have the expected shape")
	}
	return nil
}

// checkContentType accepts a missing Content-Type (curl --data-binary sends
// none) and any JSON media type; anything else is 415.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return pathhook.Errorf(eUnsupportedMediaType, "the request body must be JSON: send Content-Type: application/json, not %q", ct)
}

// parseJSON parses body into generic values (numbers kept as json.Number)
// and requires that it holds exactly one JSON value.
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	raw, err := parseValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid JSON: it goes on after the first JSON value (at byte %d)", dec.InputOffset())
	}
	return raw, nil
}

// parseValue reads the next JSON value from dec as encoding/json would
// into an any (numbers as json.Number), but refuses an object that names
// a key twice: decoding keeps the last of them, so the shape check would
// see only that one.
func parseValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, malformed(err)
			}
			k, _ := key.(string) // the decoder allows only strings here
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if _, dup := obj[k]; dup {
				return nil, pathhook.Invalid(sub, "appears more than once")
			}
			if obj[k], err = parseValue(dec, sub); err != nil {
				return nil, err
			}
		}
		return obj, closing(dec)
	case json.Delim('['):
		arr := []any{}
		for i := 0; dec.More(); i++ {
			v, err := parseValue(dec, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, closing(dec)
	}
	return tok, nil
}

// closing reads the delimiter that ends an object or array.
func closing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return malformed(err)
	}
	return nil
}

func malformed(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF): // a body is never empty here
		return pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid JSON: it ends in the middle of a value")
	}
	return pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid JSON")
}

// invalid returns one EINVALID error that names every field at fault.
func invalid(fields []pathhook.FieldError) error {
	msg := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(fields)-1)
	}
	return &pathhook.Error{Code: pathhook.EINVALID, Message: msg, Fields: fields}
}
