package ui

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pathhook/pathhook"
)

// maxFormBytes bounds a form's body like the API bounds a JSON one.
const maxFormBytes = 1 << 20

// actor is the signed-in session that a request acts as.
type actor struct {
	sid string // the cookie's value
	session
	// ctx is the request's, for the reads of the session that a page
	// makes where it has no request at hand (its flash).
	ctx context.Context
}

// authedFunc is a handler for signed-in requests.
type authedFunc func(w http.ResponseWriter, r *http.Request, a *actor)

// isSecure reports whether r came over https: to pathhook itself, or to a
// proxy in front of it that says so (X-Forwarded-Proto), as serve speaks
// plain HTTP. A client that claims https when it is not gets a cookie its
// browser will not send back, and only itself to blame.
func (h *handler) isSecure(r *http.Request) bool {
	return h.secure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *handler) cookieName(r *http.Request) string {
	// The __Host- prefix makes browsers refuse the cookie unless it is
	// Secure, host-only and Path=/, so a sibling subdomain cannot plant one.
	if h.isSecure(r) {
		return "__Host-pathhook_session"
	}
	return "pathhook_session"
}

func (h *handler) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.isSecure(r), SameSite: http.SameSiteStrictMode})
}

// authed wraps fn: it finds the request's session and checks that its key
// is still live; for a POST it also checks the origin and the CSRF token.
// A request without a session is sent to the sign-in page.
func (h *handler) authed(fn authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var sid string
		if c, err := r.Cookie(h.cookieName(r)); err == nil {
			sid = c.Value
		}
		sess, ok, err := h.sessions.get(r.Context(), sid)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if ok {
			live, err := h.keyLive(r, sess)
			if err != nil {
				// The session stays: a database that did not answer once
				// must not sign the admin out, and lose what they typed.
				h.fail(w, r, nil, err)
				return
			}
			if !live {
				h.sessions.delete(r.Context(), sid)
				ok = false
			}
		}
		if !ok {
			next := ""
			if r.Method == http.MethodGet {
				next = "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, "/signin"+next, http.StatusSeeOther)
			return
		}
		a := &actor{sid: sid, session: sess, ctx: r.Context()}
		if r.Method == http.MethodPost && !h.checkPost(w, r, a) {
			return
		}
		if !pathhook.CanBeID(r.PathValue("id")) {
			// Not UTF-8, or a control character: no such thing exists,
			// and PostgreSQL would refuse the query rather than miss.
			h.notFound(w, r, a)
			return
		}
		fn(w, r, a)
	}
}

// keyLive reports whether the key that signed the session in is still a
// live key: revoking a key ends its sessions too.
func (h *handler) keyLive(r *http.Request, s session) (bool, error) {
	keys, err := h.svc.APIKeys(r.Context(), s.orgID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(keys, func(k pathhook.APIKey) bool { return k.ID == s.keyID && k.RevokedAt == nil }), nil
}

// checkPost rejects cross-origin posts and posts without the session's
// CSRF token, answering 403 itself.
func (h *handler) checkPost(w http.ResponseWriter, r *http.Request, a *actor) bool {
	if !h.sameOrigin(w, r) {
		return false
	}
	if !h.readForm(w, r, a) {
		return false
	}
	token := r.PostFormValue("csrf")
	if subtle.ConstantTimeCompare([]byte(token), []byte(a.csrf)) != 1 {
		h.forbidden(w, r, a, "This form has expired or did not come from this site. Go back, reload the page and try again.")
		return false
	}
	return true
}

// readForm reads a POST's form, answering itself a body over
// maxFormBytes (413) or one that is not a form (400). Without it a form
// that is too large reads as empty, and fails the CSRF check as if it had
// expired.
func (h *handler) readForm(w http.ResponseWriter, r *http.Request, a *actor) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	err := r.ParseForm()
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		h.message(w, r, a, http.StatusRequestEntityTooLarge, "Form too large",
			"This form is larger than 1 MiB (1,048,576 bytes), so nothing was saved. Shorten what you typed and try again.")
		return false
	} else if err != nil {
		h.message(w, r, a, http.StatusBadRequest, "Form not readable",
			"This form could not be read, so nothing was saved. Go back, reload the page and try again.")
		return false
	}
	return true
}

// sameOrigin rejects a cross-origin POST (by Sec-Fetch-Site, or an Origin
// header naming another host), answering 403 itself.
func (h *handler) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		h.forbidden(w, r, nil, "Cross-origin form posts are not accepted.")
		return false
	}
	return true
}

// localPath returns p if it is a plain path on this site, else "/pathways":
// a sign-in link must not send the admin elsewhere. Browsers read a
// backslash as a slash and drop tabs and line breaks, so "/\t/evil.example"
// would reach them as "//evil.example": p may hold neither, nor any other
// control character.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/pathways"
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/pathways"
	}
	return p
}

type signinPage struct {
	base
	Next  string
	Error string
}

func (h *handler) signinForm(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if c, err := r.Cookie(h.cookieName(r)); err == nil {
		if s, ok, _ := h.sessions.get(r.Context(), c.Value); ok {
			if live, _ := h.keyLive(r, s); live {
				http.Redirect(w, r, next, http.StatusSeeOther)
				return
			}
		}
	}
	h.render(w, r, http.StatusOK, "signin", &signinPage{base: h.base(nil, "Sign in"), Next: next})
}

// signin starts a session for a valid API key. The session id is new on
// every sign-in, so a planted cookie gains nothing.
func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(w, r) {
		return
	}
	if !h.readForm(w, r, nil) {
		return
	}
	next := localPath(r.PostFormValue("next"))
	addr := clientAddr(r)
	if h.failures.blocked(addr, h.clock()) {
		w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow/time.Second)))
		h.render(w, r, http.StatusTooManyRequests, "signin", &signinPage{base: h.base(nil, "Sign in"), Next: next,
			Error: "Too many failed sign-ins from this address: try again in a minute."})
		return
	}
	key, err := h.svc.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("key")))
	if pathhook.ErrorCode(err) == pathhook.EUNAUTHORIZED {
		n := h.failures.add(addr, h.clock())
		h.log.WarnContext(r.Context(), "ui: failed sign-in", "client", addr, "failures_this_minute", n)
		h.render(w, r, http.StatusUnauthorized, "signin", &signinPage{base: h.base(nil, "Sign in"), Next: next,
			Error: "This API key is not valid, or it has been revoked."})
		return
	}
	if err != nil {
		h.fail(w, r, nil, err) // the database, not the key
		return
	}
	if old, err := r.Cookie(h.cookieName(r)); err == nil {
		h.sessions.delete(r.Context(), old.Value)
	}
	id, err := h.sessions.create(r.Context(), key)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setSessionCookie(w, r, id, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *handler) signout(w http.ResponseWriter, r *http.Request, a *actor) {
	h.sessions.delete(r.Context(), a.sid)
	h.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
