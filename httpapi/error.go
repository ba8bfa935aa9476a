package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/pathhook/pathhook"
)

// Error codes that only HTTP has. They travel in *pathhook.Error like the
// domain's codes, so that status() stays the one mapping.
const (
	eUnsupportedMediaType = "unsupported_media_type"
	eMethodNotAllowed     = "method_not_allowed"
)

// status maps an error code to its HTTP status. It is the only place that
// does.
func status(code string) int {
	switch code {
	case pathhook.EINVALID:
		return http.StatusUnprocessableEntity
	case pathhook.ENOTFOUND:
		return http.StatusNotFound
	case pathhook.ECONFLICT:
		return http.StatusConflict
	case pathhook.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case pathhook.ERATELIMITED:
		return http.StatusTooManyRequests
	case pathhook.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case pathhook.EMALFORMED:
		return http.StatusBadRequest
	case pathhook.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case eUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case eMethodNotAllowed:
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// problem is an RFC 9457 problem detail. Code is pathhook's error code, an
// extension member that clients can switch on; Errors lists the invalid
// fields of a 422.
type problem struct {
	Type   string                `json:"type"`
	Title  string                `json:"title"`
	Status int                   `json:"status"`
	Detail string                `json:"detail"`
	Code   string                `json:"code"`
	Errors []pathhook.FieldError `json:"errors,omitempty"`
}

// fail answers err as a problem. An error that is not a *pathhook.Error is
// logged and answered with a message that reveals nothing of it.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := pathhook.ErrorCode(err)
	p := problem{Type: "about:blank", Status: status(code), Detail: pathhook.ErrorMessage(err), Code: code}
	p.Title = http.StatusText(p.Status)
	var e *pathhook.Error
	if errors.As(err, &e) && code == pathhook.EINVALID {
		p.Errors = e.Fields
		if len(p.Errors) == 0 {
			p.Errors = []pathhook.FieldError{{Field: "", Message: e.Message}}
		}
	}
	switch p.Status {
	case http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "error", err)
		p.Code, p.Detail = pathhook.EINTERNAL, "An internal error occurred. It has been logged."
	case http.StatusServiceUnavailable:
		// The cause (a database down, a resolver failing) is the
		// operator's to see, and the client's to wait out; but a change
		// that may have been saved is to be looked for first, not sent
		// again blindly.
		s.log.WarnContext(r.Context(), "unavailable", "method", r.Method, "route", r.Pattern, "error", err)
		if !errors.Is(err, pathhook.ErrCommitUnknown) {
			w.Header().Set("Retry-After", "1")
		}
	case http.StatusUnauthorized:
		challenge := `Bearer realm="` + s.platform + `"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	body, _ := json.Marshal(p) // a problem always marshals
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
