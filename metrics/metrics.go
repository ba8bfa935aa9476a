// Package metrics exposes pathhook's delivery engine and queue to
// Prometheus: attempts by outcome, attempt latency, queue depth, the age of
// the oldest pending delivery, and failures per webhook.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// queue is what the metrics read from the store at each scrape.
type queue interface {
	QueueStats(ctx context.Context) (pending int, oldest time.Time, err error)
}

// Metrics collects pathhook's metrics in a registry of its own. It
// implements delivery.Observer.
type Metrics struct {
	reg *prometheus.Registry

	succeeded, retried, failed prometheus.Counter
	latency                    prometheus.Histogram
	webhookFailures            *prometheus.CounterVec
	recorded                   prometheus.Counter
	recordErrors               prometheus.Counter
	recordLatency              prometheus.Histogram
}

// New returns Metrics that also report the queue's depth and the Go
// runtime's and the process's own metrics.
func New(q queue, clock pathhook.Clock, log *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pathhook_delivery_attempts_total",
		Help: "Delivery attempts by outcome: succeeded, retry (failed, will be retried) or failed (failed, no retry left).",
	}, []string{"outcome"})
	m := &Metrics{
		reg:       reg,
		succeeded: attempts.WithLabelValues("succeeded"),
		retried:   attempts.WithLabelValues("retry"),
		failed:    attempts.WithLabelValues("failed"),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pathhook_delivery_attempt_duration_seconds",
			Help:    "How long delivery attempts took, from the start of the request to the end of the response.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		webhookFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pathhook_webhook_failed_attempts_total",
			Help: "Failed delivery attempts per webhook.",
		}, []string{"webhook_id"}),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pathhook_results_recorded_total",
			Help: "Attempt results written to the store.",
		}),
		recordErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pathhook_result_write_errors_total",
			Help: "Failed writes of attempt results to the store (they are retried).",
		}),
		recordLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pathhook_result_write_duration_seconds",
			Help:    "How long each batched write of attempt results took.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10),
		}),
	}
	reg.MustRegister(attempts, m.latency, m.webhookFailures, m.recorded, m.recordErrors, m.recordLatency,
		&queueCollector{q: q, clock: clock, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Attempted counts one attempt by its outcome and times it.
func (m *Metrics) Attempted(r *pathhook.Result, took time.Duration) {
	m.latency.Observe(took.Seconds())
	switch r.Status {
	case pathhook.DeliverySucceeded:
		m.succeeded.Inc()
		return
	case pathhook.DeliveryPending:
		m.retried.Inc()
	default:
		m.failed.Inc()
	}
	m.webhookFailures.WithLabelValues(r.WebhookID).Inc()
}

// Recorded counts one batched write of n results.
func (m *Metrics) Recorded(n int, took time.Duration, err error) {
	m.recordLatency.Observe(took.Seconds())
	if err != nil {
		m.recordErrors.Inc()
		return
	}
	m.recorded.Add(float64(n))
}

// queueCollector asks the store for the queue's state once per scrape.
type queueCollector struct {
	q     queue
	clock pathhook.Clock
	log   *slog.Logger
}

var (
	depthDesc = prometheus.NewDesc("pathhook_queue_pending_deliveries",
		"Deliveries waiting for their next attempt.", nil, nil)
	oldestDesc = prometheus.NewDesc("pathhook_queue_oldest_pending_age_seconds",
		"Age of the oldest pending delivery (0 when none is pending).", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- oldestDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pending, oldest, err := c.q.QueueStats(ctx)
	if err != nil {
		c.log.Warn("metrics: cannot read queue stats", "err", err)
		return
	}
	age := 0.0
	if pending > 0 && !oldest.IsZero() {
		age = max(c.clock().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
