package ui

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/pathhook/pathhook"
)

//go:embed templates assets
var files embed.FS

// pages holds one template set per page: the layout, the partials and the
// page's own file.
type pages map[string]*template.Template

func parsePages() pages {
	names, err := fs.Glob(files, "templates/page_*.html")
	if err != nil || len(names) == 0 {
		panic("ui: no page templates embedded")
	}
	ps := pages{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/page_"), ".html")
		ps[name] = template.Must(template.New(name).Funcs(funcs()).ParseFS(files, "templates/layout.html", "templates/part_*.html", n))
	}
	return ps
}

// base is what the layout shows on every page.
type base struct {
	Platform string
	Title    string
	// Version tags asset URLs, so that an upgrade is not hidden by a
	// cached stylesheet.
	Version string
	// Signed is set when a session is; KeyHint and CSRF come with it.
	Signed  bool
	KeyHint string
	CSRF    string
	Flash   *flash
	Crumbs  []crumb
	// Form is the form that failed, if any, with its values and errors.
	Form *form
}

// crumb is one step of the breadcrumb trail; the last has no Href.
type crumb struct {
	Text, Href string
}

// base returns the layout data for a page of a (nil when signed out). It
// takes the session's flash: the page that calls it shows it.
func (h *handler) base(a *actor, title string, crumbs ...crumb) base {
	b := base{Platform: h.platform, Title: title, Crumbs: crumbs, Version: pathhook.Version}
	if a != nil {
		b.Signed, b.KeyHint, b.CSRF = true, a.keyHint, a.csrf
		b.Flash = h.sessions.takeFlash(a.ctx, a.sid)
	}
	return b
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := h.pages[page]
	if !ok {
		panic("ui: no page " + page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "ui: rendering", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

type messagePage struct {
	base
	Heading, Message string
}

func (h *handler) message(w http.ResponseWriter, r *http.Request, a *actor, status int, heading, msg string) {
	h.render(w, r, status, "message", &messagePage{base: h.base(a, heading), Heading: heading, Message: msg})
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request, a *actor) {
	h.message(w, r, a, http.StatusNotFound, "Not found",
		"There is nothing here, or it belongs to another organisation.")
}

func (h *handler) forbidden(w http.ResponseWriter, r *http.Request, a *actor, msg string) {
	h.message(w, r, a, http.StatusForbidden, "Not allowed", msg)
}

// fail shows an error that no form can show: a missing resource is 404;
// a conflict or invalid input 409 or 422 in the API's words; a database
// out of reach 503 in the store's; anything else is logged and shown as
// 500 without detail.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, a *actor, err error) {
	switch pathhook.ErrorCode(err) {
	case pathhook.ENOTFOUND:
		h.notFound(w, r, a)
	case pathhook.ECONFLICT:
		h.message(w, r, a, http.StatusConflict, "Cannot do that now", pathhook.ErrorMessage(err))
	case pathhook.EINVALID:
		h.message(w, r, a, http.StatusUnprocessableEntity, "Invalid request", pathhook.ErrorMessage(err))
	case pathhook.EUNAVAILABLE:
		// The database out of reach, or a change it did not say it saved:
		// the message says which.
		h.log.WarnContext(r.Context(), "ui: unavailable", "path", r.URL.Path, "err", err)
		h.message(w, r, a, http.StatusServiceUnavailable, "Not available right now", pathhook.ErrorMessage(err))
	default:
		h.log.ErrorContext(r.Context(), "ui: request failed", "path", r.URL.Path, "err", err)
		h.message(w, r, a, http.StatusInternalServerError, "Something went wrong",
			"The server could not do this. Try again; if it keeps failing, the server's log says why.")
	}
}

// form is a submitted form that failed: what was typed, and the errors to
// show beside each field or, for errors of no shown field, above the form.
type form struct {
	Name   string
	Values map[string]string
	Errors map[string]string
	Alert  string
}

// failedForm turns err from handling form name into a form to show again,
// with the status to answer. It reports false for errors that a form
// cannot show (anything but invalid input, a conflict, or a missing
// resource that the form named).
func failedForm(name string, r *http.Request, fields []string, err error) (*form, int, bool) {
	var e *pathhook.Error
	if !errors.As(err, &e) {
		return nil, 0, false
	}
	f := &form{Name: name, Values: map[string]string{}, Errors: map[string]string{}}
	for _, k := range fields {
		f.Values[k] = r.PostFormValue(k)
	}
	status := http.StatusUnprocessableEntity
	switch e.Code {
	case pathhook.EINVALID:
		for _, fe := range e.Fields {
			if _, shown := f.Values[fe.Field]; shown && f.Errors[fe.Field] == "" {
				f.Errors[fe.Field] = fe.Message
			} else {
				f.Alert = joinSentence(f.Alert, fe.Field+" "+fe.Message)
			}
		}
		if len(e.Fields) == 0 {
			f.Alert = e.Message
		}
	case pathhook.ECONFLICT:
		status, f.Alert = http.StatusConflict, e.Message
	case pathhook.ENOTFOUND:
		status, f.Alert = http.StatusNotFound, e.Message
	default:
		return nil, 0, false
	}
	return f, status, true
}

func joinSentence(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// V returns the typed value of a field of form name, if that form failed.
func (f *form) V(name, field string) string {
	if f == nil || f.Name != name {
		return ""
	}
	return f.Values[field]
}

// E returns the error of a field of form name, if that form failed.
func (f *form) E(name, field string) string {
	if f == nil || f.Name != name {
		return ""
	}
	return f.Errors[field]
}

// A returns the alert of form name, if that form failed.
func (f *form) A(name string) string {
	if f == nil || f.Name != name {
		return ""
	}
	return f.Alert
}

// Failed reports whether form name is the one that failed.
func (f *form) Failed(name string) bool {
	return f != nil && f.Name == name
}
