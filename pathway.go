package pathhook

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Pathway is a path of activities, with rewards, that learners enrol in.
type Pathway struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// Webhooks are the pathway's three webhooks, filled in where an
	// answer shows them.
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// PathwayInput is what a caller gives to create a pathway.
type PathwayInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (in *PathwayInput) validate() error {
	var v validation
	in.Name = strings.TrimSpace(in.Name)
	checkText(&v, "name", in.Name, 200, true)
	checkLines(&v, "description", in.Description, 5000)
	return v.err()
}

// checkText adds a field error when s is missing (and required), too long,
// not valid UTF-8, or holds a control character. A name or a title is one
// line; a control character in it is a mistake or a trick (a terminal
// escape, a NUL that PostgreSQL cannot store at all, an override that
// shows text in another order than it is read), never meant.
func checkText(v *validation, field, s string, max int, required bool) {
	checkRunes(v, field, s, max, required, isLineControl)
}

// isLineControl reports what one line of text must not hold: a control
// character or a bidirectional control.
func isLineControl(r rune) bool { return unicode.IsControl(r) || IsBidiControl(r) }

// IsBidiControl reports whether r is one of Unicode's embeddings,
// overrides and isolates (U+202A to U+202E, U+2066 to U+2069), which
// reorder the text around them as it is shown. The marks (U+200E, U+200F)
// that mixed text needs are not among them.
func IsBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// checkLines is checkText for text of several lines, such as a
// description: tabs and line breaks (CR, LF) are allowed, as a form's
// textarea sends them; other control characters are not.
func checkLines(v *validation, field, s string, max int) {
	checkRunes(v, field, s, max, false, func(r rune) bool {
		return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' || IsBidiControl(r)
	})
}

func checkRunes(v *validation, field, s string, max int, required bool, refused func(rune) bool) {
	switch {
	case required && s == "":
		v.add(field, "is required")
	case !utf8.ValidString(s):
		v.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.add(field, "must be at most %d characters", max)
	default:
		if msg := refusedRune(s, refused); msg != "" {
			v.add(field, "%s", msg)
		}
	}
}

// refusedRune returns the message for the first rune of s that refused
// accepts, naming its place and code point, or "" when there is none.
func refusedRune(s string, refused func(rune) bool) string {
	i := strings.IndexFunc(s, refused)
	if i < 0 {
		return ""
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("must not contain control characters (character %d is U+%04X)", utf8.RuneCountInString(s[:i])+1, r)
}

// CanBeID reports whether s could be an id or a learner id at all:
// valid UTF-8 without control characters, as every id that pathhook makes
// or accepts is. Anything else is no id at all, and must not reach the
// database, which may refuse it outright (PostgreSQL: NUL, bad UTF-8).
func CanBeID(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// CreatePathway creates a pathway in org with its three webhooks, one per
// category, all disabled and not set up.
func (s *Service) CreatePathway(ctx context.Context, orgID string, in PathwayInput) (*Pathway, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	now := s.clock.now()
	p := &Pathway{ID: s.ids.next(PrefixPathway, now), OrgID: orgID, Name: in.Name, Description: in.Description, CreatedAt: now, UpdatedAt: now}
	err := s.store.Update(ctx, func(tx Tx) error {
		p.Webhooks = nil // Update may run this more than once
		if err := tx.CreatePathway(ctx, p); err != nil {
			return err
		}
		for _, c := range Categories {
			w := Webhook{ID: s.ids.next(PrefixWebhook, now), OrgID: orgID, PathwayID: p.ID, Category: c, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWebhook(ctx, &w); err != nil {
				return err
			}
			p.Webhooks = append(p.Webhooks, w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Pathway returns one pathway of org, with its webhooks.
func (s *Service) Pathway(ctx context.Context, orgID, id string) (*Pathway, error) {
	var p *Pathway
	err := s.store.View(ctx, func(tx Tx) (err error) {
		if p, err = tx.Pathway(ctx, orgID, id); err != nil {
			return err
		}
		p.Webhooks, err = tx.Webhooks(ctx, orgID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortWebhooks(p.Webhooks)
	return p, nil
}

// Pathways returns a page of org's pathways, newest first, and the cursor of
// the next page ("" after the last).
func (s *Service) Pathways(ctx context.Context, orgID string, page Page) ([]Pathway, string, error) {
	page, err := page.normalize()
	if err != nil {
		return nil, "", err
	}
	if err := page.checkIDCursor(PrefixPathway); err != nil {
		return nil, "", err
	}
	var ps []Pathway
	err = s.store.View(ctx, func(tx Tx) (err error) {
		ps, err = tx.Pathways(ctx, orgID, page)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(ps, page, func(p Pathway) string { return p.ID })
}

// normalize applies the default limit and checks the bounds. The store is
// asked for one item more than the limit to learn whether a next page exists.
func (p Page) normalize() (Page, error) {
	switch {
	case p.Limit == 0:
		p.Limit = DefaultPageLimit
	case p.Limit < 1 || p.Limit > MaxPageLimit:
		return p, Invalid("limit", "must be between 1 and %d", MaxPageLimit)
	}
	if !CanBeID(p.Cursor) {
		return p, Invalid("cursor", "is not a cursor of this list")
	}
	p.Limit++
	return p, nil
}

// checkIDCursor refuses a cursor that is not an id of the form that the
// list's items have. A list in id order starts after any id of that form,
// whether or not it is still there (retention prunes deliveries), so the
// form is all that needs checking: no read of the row.
func (p Page) checkIDCursor(prefix string) error {
	if p.Cursor != "" && !isID(prefix, p.Cursor) {
		return Invalid("cursor", "is not a cursor of this list")
	}
	return nil
}

// pageOf cuts the extra item that normalize asked for and returns the
// cursor of the next page.
func pageOf[T any](items []T, p Page, id func(T) string) ([]T, string, error) {
	if len(items) < p.Limit {
		return items, "", nil
	}
	items = items[:p.Limit-1]
	return items, id(items[len(items)-1]), nil
}
