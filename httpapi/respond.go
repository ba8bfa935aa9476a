package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/pathhook/pathhook"
)

// respond writes v as a JSON answer with the given status.
func respond(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // the client has gone if this fails
	return nil
}

// list is the answer of every list: a page of items and the cursor of the
// next page, null after the last.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func respondList[T any](w http.ResponseWriter, items []T, next string) error {
	l := list[T]{Data: items}
	if l.Data == nil {
		l.Data = []T{}
	}
	if next != "" {
		l.NextCursor = &next
	}
	return respond(w, http.StatusOK, l)
}

// maxCursor bounds the cursor parameter; cursors are ids or learner ids.
const maxCursor = 256

// pageOf reads the limit and cursor query parameters. A missing limit is
// left 0 for the default; anything but 1..MaxPageLimit is EINVALID.
func pageOf(r *http.Request) (pathhook.Page, error) {
	q := r.URL.Query()
	var p pathhook.Page
	if s := q.Get("limit"); s != "" || q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > pathhook.MaxPageLimit {
			return p, pathhook.Invalid("limit", "must be a whole number from 1 to %d", pathhook.MaxPageLimit)
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	if len(p.Cursor) > maxCursor {
		return p, pathhook.Invalid("cursor", "is not a cursor of this list")
	}
	return p, nil
}

// pageSlice cuts one page out of a whole list that the Service returns in
// one piece (a pathway's activities, rewards, webhooks; an org's API keys),
// so that every list of the API pages the same way. The cursor is the id of
// the last item of the previous page.
func pageSlice[T any](items []T, p pathhook.Page, id func(T) string) ([]T, string, error) {
	if p.Cursor != "" {
		i := 0
		for i < len(items) && id(items[i]) != p.Cursor {
			i++
		}
		if i == len(items) {
			return nil, "", pathhook.Invalid("cursor", "is not a cursor of this list")
		}
		items = items[i+1:]
	}
	limit := p.Limit
	if limit == 0 {
		limit = pathhook.DefaultPageLimit
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	return items, id(items[len(items)-1]), nil
}
