package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// api calls pathhook's management API to set a run up and to watch its
// queue.
type api struct {
	client *http.Client
	base   func() string
	auth   string
}

// call sends in as JSON and decodes a 2xx answer into out; a 429 is waited
// out.
func (a *api) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for {
		req, err := http.NewRequestWithContext(ctx, method, a.base()+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", a.auth)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := a.client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			if !sleepUntil(ctx, time.Now().Add(retryAfter(resp.Header.Get("Retry-After")))) {
				return ctx.Err()
			}
			continue
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
}

// setup creates n pathways, named after name, and enables the enrolments
// webhook of each, pointed at hookURL, and returns the pathways' and
// webhooks' ids.
func (a *api) setup(ctx context.Context, name string, n int, hookURL, secret string) (pathways, webhooks []string, err error) {
	for i := range n {
		var pw struct {
			ID       string `json:"id"`
			Webhooks []struct {
				ID       string `json:"id"`
				Category string `json:"category"`
			} `json:"webhooks"`
		}
		if err := a.call(ctx, http.MethodPost, "/v1/pathways", map[string]string{"name": fmt.Sprintf("%s %d", name, i+1)}, &pw); err != nil {
			return nil, nil, err
		}
		hook := ""
		for _, wh := range pw.Webhooks {
			if wh.Category == "enrolments" {
				hook = wh.ID
			}
		}
		if hook == "" {
			return nil, nil, fmt.Errorf("POST /v1/pathways answered pathway %q without an enrolments webhook", pw.ID)
		}
		if err := a.call(ctx, http.MethodPut, "/v1/webhooks/"+hook, map[string]string{"url": hookURL, "secret": secret}, nil); err != nil {
			return nil, nil, err
		}
		if err := a.call(ctx, http.MethodPatch, "/v1/webhooks/"+hook, map[string]bool{"enabled": true}, nil); err != nil {
			return nil, nil, err
		}
		pathways, webhooks = append(pathways, pw.ID), append(webhooks, hook)
	}
	return pathways, webhooks, nil
}

// pending returns how many of webhooks have a pending delivery: once none
// has, no more attempts (and so no more duplicates) can come.
func (a *api) pending(ctx context.Context, webhooks []string) (int, error) {
	n := 0
	for _, id := range webhooks {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := a.call(ctx, http.MethodGet, "/v1/webhooks/"+id+"/deliveries?status=pending&limit=1", nil, &page); err != nil {
			return 0, err
		}
		if len(page.Data) > 0 {
			n++
		}
	}
	return n, nil
}

// eventIDs returns the event ids of webhook's deliveries in status, from
// every page of the list.
func (a *api) eventIDs(ctx context.Context, webhook, status string) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		path := "/v1/webhooks/" + webhook + "/deliveries?status=" + status + "&limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Data []struct {
				EventID string `json:"event_id"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := a.call(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		for _, d := range page.Data {
			ids = append(ids, d.EventID)
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return ids, nil
		}
		cursor = *page.NextCursor
	}
}
