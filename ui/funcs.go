package ui

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// funcs returns the helpers that templates call.
func funcs() template.FuncMap {
	return template.FuncMap{
		"dict":       dict,
		"when":       when,
		"whenPtr":    func(t *time.Time) string { return whenPtrOr(t, "—") },
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ms":         func(n int64) string { return fmt.Sprintf("%d ms", n) },
		"category":   categoryTitle,
		"about":      categoryAbout,
		"types":      pathhook.CategoryTypes,
		"deref":      func(s *string) string { return derefOr(s, "") },
		"statusCode": statusCode,
		"httpClass":  httpClass,
		"add":        func(a, b int) int { return a + b },
		"inc":        func(i int) int { return i + 1 },
		"list":       func(v ...string) []string { return v },
		"phpName":    func(p string) string { return strings.ToUpper(strings.ReplaceAll(p, "-", "_")) },
		"showBidi":   showBidi,
	}
}

// showBidi writes the bidirectional embeddings, overrides and isolates in
// s (U+202A to U+202E, U+2066 to U+2069) as visible marks such as
// <U+202E>: text a receiver sent back, shown as it is, could otherwise
// read in another order than it holds.
func showBidi(s string) string {
	if !strings.ContainsFunc(s, pathhook.IsBidiControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if pathhook.IsBidiControl(r) {
			fmt.Fprintf(&b, "<U+%04X>", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dict builds a map from key, value pairs, so that a partial template can
// take named arguments.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// when formats a time for people: UTC, to the second.
func when(t time.Time) string {
	return t.UTC().Format("2 Jan 2006, 15:04:05 UTC")
}

func whenPtrOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return when(*t)
}

func derefOr(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}

func categoryTitle(c string) string {
	switch c {
	case pathhook.CategoryEnrolments:
		return "Enrolments"
	case pathhook.CategoryBookings:
		return "Classroom & event bookings"
	case pathhook.CategoryRewards:
		return "Rewards"
	}
	return c
}

// categoryAbout says when a category's events happen, in the seed's words.
func categoryAbout(c string) string {
	switch c {
	case pathhook.CategoryEnrolments:
		return "When a learner enrols, completes an activity, or completes the pathway."
	case pathhook.CategoryBookings:
		return "When a learner registers for, checks in to, or cancels a classroom or event."
	case pathhook.CategoryRewards:
		return "When a learner receives or unlocks a reward."
	}
	return ""
}

func statusCode(p *int) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprint(*p)
}

// httpClass names the CSS class of a response status: ok for 2xx, bad
// for the rest, none when there was no response.
func httpClass(p *int) string {
	switch {
	case p == nil:
		return "none"
	case *p >= 200 && *p < 300:
		return "ok"
	}
	return "bad"
}
