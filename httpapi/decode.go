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
	"unicode/utf16"
	"unicode/utf8"

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
//   - bytes that are not exactly one JSON value, in UTF-8, or that nest
//     deeper than maxDepth: EMALFORMED (400);
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
	// encoding/json would put U+FFFD in place of what is not UTF-8, and
	// of an escaped half of a surrogate pair: the caller's text, changed.
	if err := checkUTF8(body); err != nil {
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
// none) and any JSON media type, in UTF-8 if it names a charset; anything
// else is 415.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	isJSON := mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		isJSON = false
	}
	if err == nil && isJSON {
		return nil
	}
	return pathhook.Errorf(eUnsupportedMediaType, "the request body must be JSON: send Content-Type: application/json, not %q", ct)
}

// maxDepth is how deep objects and arrays may nest in a request body: no
// input of the API goes past 3, and each level costs the parse memory.
const maxDepth = 16

// parseJSON parses body into generic values (numbers kept as json.Number)
// and requires that it holds exactly one JSON value, nested at most
// maxDepth deep.
func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	raw, err := parseValue(dec, "", 0)
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
// see only that one. depth is how many objects and arrays hold the value.
func parseValue(dec *json.Decoder, path string, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if tok == json.Delim('{') || tok == json.Delim('[') {
		if depth == maxDepth {
			return nil, pathhook.Errorf(pathhook.EMALFORMED, "the request body nests objects and arrays more than %d deep (at byte %d)", maxDepth, dec.InputOffset())
		}
		depth++
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
			if obj[k], err = parseValue(dec, sub, depth); err != nil {
				return nil, err
			}
		}
		return obj, closing(dec)
	case json.Delim('['):
		arr := []any{}
		for i := 0; dec.More(); i++ {
			v, err := parseValue(dec, fmt.Sprintf("%s[%d]", path, i), depth)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, closing(dec)
	}
	return tok, nil
}

// checkUTF8 requires that body, valid JSON, is UTF-8 and that its \u
// escapes of surrogates come in pairs.
func checkUTF8(body []byte) error {
	if !utf8.Valid(body) {
		at := len(body)
		for i := 0; i < len(body); {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				at = i
				break
			}
			i += n
		}
		return pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid UTF-8 (at byte %d)", at)
	}
	// Valid JSON has a backslash only in a string, before an escape.
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if body[i] != 'u' {
			continue
		}
		r := hexRune(body[i+1 : i+5])
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00 && i+10 < len(body) && body[i+5] == '\\' && body[i+6] == 'u' &&
			utf16.DecodeRune(r, hexRune(body[i+7:i+11])) != utf8.RuneError:
			i += 10 // a pair
		case utf16.IsSurrogate(r):
			return pathhook.Errorf(pathhook.EMALFORMED, "the request body is not valid JSON text: \\u%s at byte %d is half of a UTF-16 surrogate pair", body[i+1:i+5], i-1)
		default:
			i += 4
		}
	}
	return nil
}

// hexRune reads the four hex digits of a \u escape.
func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
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

// maxFieldErrors is the most fields an answer names, so that a body of a
// million unknown keys does not get an answer five times its size.
const maxFieldErrors = 50

// invalid returns one EINVALID error that names the fields at fault, the
// first maxFieldErrors of them; its message counts them all.
func invalid(fields []pathhook.FieldError) error {
	msg := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(fields)-1)
	}
	return &pathhook.Error{Code: pathhook.EINVALID, Message: msg, Fields: fields[:min(len(fields), maxFieldErrors)]}
}
