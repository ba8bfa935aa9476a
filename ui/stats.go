package ui

import (
	"context"
	"slices"
	"time"

	"github.com/pathhook/pathhook"
)

// The charts are computed from the Service's delivery pages, newest first,
// rather than by a query of their own: statsCap bounds how many deliveries
// of the last 24 hours are read, and latencyCap how many of those have
// their attempts read for the latency chart.
const (
	statsHours = 24
	statsCap   = 500
	latencyCap = 100
)

// hourStat is one hour of a webhook's deliveries.
type hourStat struct {
	Start                      time.Time
	Succeeded, Failed, Pending int
	Latencies                  []int64 // of the attempts started in the hour, ms
	LatencyP50, LatencyMax     int64
	HasLatency                 bool
}

// Total is the number of deliveries created in the hour.
func (s hourStat) Total() int { return s.Succeeded + s.Failed + s.Pending }

// Rate is the share of the hour's ended deliveries that succeeded, in
// percent, and false when none ended.
func (s hourStat) Rate() (float64, bool) {
	ended := s.Succeeded + s.Failed
	if ended == 0 {
		return 0, false
	}
	return 100 * float64(s.Succeeded) / float64(ended), true
}

// stats is a webhook's last 24 hours, oldest hour first.
type stats struct {
	Hours                      []hourStat
	Succeeded, Failed, Pending int
	// Capped is set when there were more deliveries than were read.
	Capped bool
	// P50 and P95 are attempt latencies in ms over the window; Samples
	// counts the attempts they are of.
	P50, P95 int64
	Samples  int
}

// Total is the number of deliveries in the window.
func (s *stats) Total() int { return s.Succeeded + s.Failed + s.Pending }

// Rate is the window's success rate in percent, and false when no
// delivery ended.
func (s *stats) Rate() (float64, bool) {
	return hourStat{Succeeded: s.Succeeded, Failed: s.Failed}.Rate()
}

// stats reads a webhook's deliveries of the last 24 hours and counts them
// per hour; with latency it also reads the attempts of the newest ones.
func (h *handler) stats(ctx context.Context, orgID, webhookID string, latency bool) (*stats, error) {
	end := h.clock().UTC().Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-statsHours * time.Hour)
	st := &stats{Hours: make([]hourStat, statsHours)}
	for i := range st.Hours {
		st.Hours[i].Start = start.Add(time.Duration(i) * time.Hour)
	}
	var recent []pathhook.Delivery
	cursor, read := "", 0
	for {
		ds, next, err := h.svc.Deliveries(ctx, orgID, webhookID, "", pathhook.Page{Limit: pathhook.MaxPageLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		done := false
		for _, d := range ds {
			if d.CreatedAt.Before(start) {
				done = true
				break
			}
			if read == statsCap {
				st.Capped, done = true, true
				break
			}
			read++
			st.count(d, start)
			if latency && len(recent) < latencyCap && d.AttemptCount > 0 {
				recent = append(recent, d)
			}
		}
		if done || next == "" {
			break
		}
		cursor = next
	}
	if latency {
		if err := h.latencies(ctx, orgID, st, recent, start); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *stats) count(d pathhook.Delivery, start time.Time) {
	i := int(d.CreatedAt.Sub(start) / time.Hour)
	if i < 0 || i >= len(st.Hours) {
		return
	}
	hs := &st.Hours[i]
	switch d.Status {
	case pathhook.DeliverySucceeded:
		hs.Succeeded++
		st.Succeeded++
	case pathhook.DeliveryFailed:
		hs.Failed++
		st.Failed++
	default:
		hs.Pending++
		st.Pending++
	}
}

// latencies reads the attempts of ds and puts each one started in the
// window into its hour.
func (h *handler) latencies(ctx context.Context, orgID string, st *stats, ds []pathhook.Delivery, start time.Time) error {
	var all []int64
	for _, d := range ds {
		full, err := h.svc.Delivery(ctx, orgID, d.ID)
		if err != nil {
			return err
		}
		for _, at := range full.Attempts {
			i := int(at.StartedAt.Sub(start) / time.Hour)
			if at.StartedAt.Before(start) || i >= len(st.Hours) {
				continue
			}
			st.Hours[i].Latencies = append(st.Hours[i].Latencies, at.DurationMS)
			all = append(all, at.DurationMS)
		}
	}
	for i := range st.Hours {
		hs := &st.Hours[i]
		if len(hs.Latencies) == 0 {
			continue
		}
		slices.Sort(hs.Latencies)
		hs.HasLatency = true
		hs.LatencyP50, hs.LatencyMax = percentile(hs.Latencies, 50), hs.Latencies[len(hs.Latencies)-1]
	}
	slices.Sort(all)
	st.Samples = len(all)
	if len(all) > 0 {
		st.P50, st.P95 = percentile(all, 50), percentile(all, 95)
	}
	return nil
}

// percentile returns the p-th percentile of sorted, by nearest rank.
func percentile(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
